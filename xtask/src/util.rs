//! Small helpers shared by the xtask commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `cargo` as invoked us (so `cargo +toolchain xtask` keeps its toolchain).
pub fn cargo() -> Command {
    Command::new(cargo_path())
}

/// The path of [`cargo`].
pub fn cargo_path() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from)
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a command to completion; fails with its name if it fails.
pub fn run_checked(mut cmd: Command, what: &str) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !status.success() {
        return Err(format!("{what}: failed ({status})"));
    }
    Ok(())
}

/// Announces a step of a long command on stdout, so a silent minute is never a mystery.
pub fn step(command: &str, what: &str) {
    println!("{command}: {what}");
}

/// Builds the release binary and returns its path. Cargo's own progress (its `Compiling …`
/// lines, or the progress bar on a terminal) stays visible: a clean build takes minutes.
pub fn build_release() -> Result<PathBuf, String> {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "mnistlearn", "--bin", "mnistlearn"])
        .current_dir(crate::paths::project_root());
    run_checked(cmd, "cargo build --release")?;
    Ok(crate::paths::release_binary())
}

/// Runs `cmd`, echoing its stdout line by line as it arrives, and returns those lines.
pub fn run_echo(mut cmd: Command, what: &str) -> Result<Vec<String>, String> {
    let mut child = cmd.stdout(Stdio::piped()).spawn().map_err(|e| format!("{what}: cannot start: {e}"))?;
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.map_err(|e| format!("{what}: reading output: {e}"))?;
        println!("{line}");
        lines.push(line);
    }
    let status = child.wait().map_err(|e| format!("{what}: {e}"))?;
    if !status.success() {
        return Err(format!("{what}: failed ({status})"));
    }
    Ok(lines)
}

/// A Python interpreter that can `import numpy`: `$PYTHON`, then `python3`, then a venv in
/// `target/venv` that we create and install NumPy into. CI can do that: it reaches the package
/// registries (PyPI among them), only not MNIST's hosts, which is why `.ci/run` points
/// `MNIST_MIRROR` at a local copy.
pub fn python_with_numpy() -> Result<PathBuf, String> {
    let has_numpy = |python: &Path| {
        Command::new(python)
            .args(["-c", "import numpy"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let venv_python = crate::paths::project_root().join("target/venv/bin/python");
    let candidates: Vec<PathBuf> = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([venv_python.clone(), PathBuf::from("python3")])
        .collect();
    if let Some(found) = candidates.iter().find(|p| has_numpy(p)) {
        return Ok(found.clone());
    }
    println!("xtask: no Python with NumPy found; creating target/venv and installing numpy");
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv"]).arg(crate::paths::project_root().join("target/venv"));
    run_checked(venv, "python3 -m venv target/venv")?;
    let mut pip = Command::new(&venv_python);
    pip.args(["-m", "pip", "install", "--quiet", "numpy"]);
    run_checked(pip, "pip install numpy")?;
    if has_numpy(&venv_python) {
        Ok(venv_python)
    } else {
        Err("target/venv: numpy still not importable after pip install".into())
    }
}

/// Parses `Overall accuracy: 96.54% (9654/10000)` into (percent, correct, total).
pub fn parse_overall(lines: &[String]) -> Option<(f64, usize, usize)> {
    let line = lines.iter().find(|l| l.starts_with("Overall accuracy: "))?;
    let rest = line.strip_prefix("Overall accuracy: ")?;
    let (percent, counts) = rest.split_once("% (")?;
    let (correct, total) = counts.trim_end_matches(')').split_once('/')?;
    Some((percent.parse().ok()?, correct.parse().ok()?, total.parse().ok()?))
}

/// Parses `Epoch 1/30 | Loss: 0.6063 | Accuracy: 85.40%` lines into (loss, accuracy).
pub fn parse_epochs(lines: &[String]) -> Vec<(f64, f64)> {
    lines
        .iter()
        .filter(|l| l.starts_with("Epoch "))
        .filter_map(|l| {
            let loss = l.split("Loss: ").nth(1)?.split(' ').next()?.parse().ok()?;
            let acc = l.split("Accuracy: ").nth(1)?.trim_end_matches('%').parse().ok()?;
            Some((loss, acc))
        })
        .collect()
}

/// Parses `Training time: 4.59 s`.
pub fn parse_training_seconds(lines: &[String]) -> Option<f64> {
    lines.iter().find_map(|l| l.strip_prefix("Training time: ")?.strip_suffix(" s")?.parse().ok())
}

/// The arguments of a command whose only argument is one optional flag: whether it was given.
pub fn optional_flag(command: &str, args: &[String], flag: &str) -> Result<bool, String> {
    match args {
        [] => Ok(false),
        [given] if given == flag => Ok(true),
        _ => Err(format!("{command}: unexpected arguments {args:?} (only {flag}; see `cargo xtask {command} --help`)")),
    }
}

/// `mnistlearn serve` on a free loopback port, for `bench`, `soak` and `browser`. The server is
/// stopped (killed and reaped) when this is dropped, on every way out of the caller.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `BIN serve --addr 127.0.0.1:0 --weights WEIGHTS` and takes the address from the
    /// line it prints once it listens: `Serving http://ADDR (weights: …)`.
    pub fn start(bin: &Path, weights: &Path) -> Result<Server, String> {
        Server::start_with_data(bin, weights, &crate::paths::project_root().join("data"))
    }

    /// [`Server::start`], with the training page's MNIST files from `data` (`--data`).
    pub fn start_with_data(bin: &Path, weights: &Path, data: &Path) -> Result<Server, String> {
        let child = Command::new(bin)
            .args(["serve", "--addr", "127.0.0.1:0", "--weights"])
            .arg(weights)
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("mnistlearn serve: cannot start: {e}"))?;
        let mut server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let mut line = String::new();
        BufReader::new(server.child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .map_err(|e| format!("mnistlearn serve: {e}"))?;
        server.addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.trim_end_matches('/').parse().ok())
            .ok_or_else(|| format!("mnistlearn serve: cannot find the address in {line:?}"))?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/PID/status` given in kB (`VmRSS`, the resident set; `VmHWM`, its peak),
/// in MiB.
pub fn proc_status_mib(pid: u32, field: &str) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| format!("/proc/{pid}/status: no {field} line"))
}

/// A minimal HTTP/1.1 keep-alive client for `POST /predict` and `/classify`: enough for `bench`
/// to time the server and for `soak` to load it, without an HTTP library.
pub struct HttpClient {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl HttpClient {
    pub fn connect(addr: SocketAddr) -> Result<HttpClient, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
        Ok(HttpClient { reader: BufReader::new(stream.try_clone().map_err(|e| e.to_string())?), stream })
    }

    pub fn predict(&mut self, body: &[u8]) -> Result<(), String> {
        self.post("/predict", body)
    }

    /// `POST PATH` (with its query) with `body`; fails on any answer but 200.
    pub fn post(&mut self, path: &str, body: &[u8]) -> Result<(), String> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).map_err(|e| format!("send: {e}"))?;
        let mut status = String::new();
        self.reader.read_line(&mut status).map_err(|e| format!("receive: {e}"))?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("serve answered {status:?}"));
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).map_err(|e| format!("receive: {e}"))?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().map_err(|_| format!("bad content-length {line:?}"))?;
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).map_err(|e| format!("receive body: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_flag_is_absent_present_or_an_error_naming_it() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(optional_flag("verify", &args(&[]), "--bless"), Ok(false));
        assert_eq!(optional_flag("verify", &args(&["--bless"]), "--bless"), Ok(true));
        for wrong in [&["--blessed"][..], &["--bless", "--bless"], &["bless"]] {
            let e = optional_flag("verify", &args(wrong), "--bless").unwrap_err();
            assert!(e.starts_with("verify: unexpected arguments") && e.contains("only --bless"), "{e}");
        }
    }
}
