//! `cargo xtask bench [--runs N] [--skip-numpy] [--serve-only]`: speed, measured, never assumed.
//!
//! In one run, on the same data and machine:
//! * our default 30-epoch training (best of `--runs`, default 3), its wall time and peak RSS;
//! * the scalar single-thread reference path, to confirm the fast path wrote the same bytes;
//! * the NumPy reference of the same recipe (`scripts/reference_numpy.py`), and the ratio;
//! * the bare forward pass per sample (`mnistlearn time-forward`);
//! * the drawing server's round trip over loopback: p50/p99 for one client, and requests/s
//!   with several concurrent clients.
//!
//! Prints a table, writes `target/bench.json`, and writes the one page where the project keeps
//! its figures, `book/src/measurements.md`: the table with the date, the machine and the commit
//! it was measured on. README and book link to that page instead of quoting numbers that age.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::fetch::{self, content_sha256, FetchOptions};
use crate::util::{build_release, parse_overall, parse_training_seconds, python_with_numpy, HttpClient, Server};

/// Runs a command, returning stdout, wall seconds and peak RSS in MiB (from `wait4`).
fn run_measured(cmd: &mut Command, what: &str) -> Result<(String, f64, f64), String> {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).spawn().map_err(|e| format!("{what}: cannot start: {e}"))?;
    let mut stdout = String::new();
    child.stdout.take().expect("piped").read_to_string(&mut stdout).map_err(|e| format!("{what}: {e}"))?;
    let (status, rss_kib) = wait_with_rusage(&mut child).map_err(|e| format!("{what}: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    if status != 0 {
        return Err(format!("{what}: exited with status {status}"));
    }
    Ok((stdout, wall, rss_kib as f64 / 1024.0))
}

/// `wait4` on the child: its exit status and its peak resident set size (KiB on Linux).
fn wait_with_rusage(child: &mut Child) -> std::io::Result<(i32, i64)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: plain FFI with valid out-pointers; rusage is a C struct for which zero is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((code, usage.ru_maxrss))
}

struct Options {
    runs: usize,
    numpy: bool,
    serve_only: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options { runs: 3, numpy: true, serve_only: false };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--runs" => {
                options.runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("bench: --runs needs a positive number")?
            }
            "--skip-numpy" => options.numpy = false,
            "--serve-only" => options.serve_only = true,
            other => return Err(format!("bench: unknown flag '{other}' (expected --runs N, --skip-numpy or --serve-only; see `cargo xtask bench --help`)")),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let root = crate::paths::project_root();
    let data = root.join("data");
    fetch::fetch(&FetchOptions::parse(&[])?)?;
    let bin = build_release()?;
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut json = serde_json::Map::new();
    let mut table: Vec<(String, String)> = Vec::new();
    if options.serve_only {
        let weights = data.join("weights.bin");
        if !weights.exists() {
            return Err(format!("{}: not found; run `cargo xtask verify` first", weights.display()));
        }
        let serve = bench_serve(&bin, &weights, &data)?;
        println!(
            "serve: p50 {:.0} µs, p99 {:.0} µs, {:.0} requests/s with {} clients",
            serve.p50_us, serve.p99_us, serve.requests_per_s, serve.clients
        );
        return Ok(());
    }

    // (a) Our default training, best of N.
    let fast_weights = out_dir.join("weights-fast.bin");
    let mut best: Option<(f64, f64, f64, String)> = None;
    for run in 1..=options.runs {
        let mut cmd = Command::new(&bin);
        cmd.arg("train").arg("--data").arg(&data).arg("--out").arg(&fast_weights);
        let (stdout, wall, rss) = run_measured(&mut cmd, "mnistlearn train")?;
        let lines: Vec<String> = stdout.lines().map(String::from).collect();
        let train_s = parse_training_seconds(&lines).ok_or("bench: no 'Training time' line")?;
        let test = parse_overall(&lines).map(|(p, _, _)| p).unwrap_or(f64::NAN);
        println!(
            "bench: run {run}: training {train_s:.3} s, process {wall:.3} s, peak RSS {rss:.1} MiB, test {test:.2}%"
        );
        if best.as_ref().is_none_or(|b| train_s < b.0) {
            best = Some((train_s, wall, rss, format!("{test:.2}%")));
        }
    }
    let (train_s, wall_s, rss_mib, test_acc) = best.expect("at least one run");
    let fast_sha = content_sha256(&fast_weights).map_err(|e| e.to_string())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let level = mnistlearn_core::math::SimdLevel::detect();
    table.push((
        format!("mnistlearn train, 30 epochs (training loop, {threads} threads, {level})"),
        format!("{train_s:.3} s"),
    ));
    table.push(("mnistlearn train, whole process (load + train + save + test)".into(), format!("{wall_s:.3} s")));
    table.push(("mnistlearn train, peak RSS".into(), format!("{rss_mib:.1} MiB")));
    table.push(("mnistlearn test accuracy".into(), test_acc));
    json.insert("train_seconds".into(), train_s.into());
    json.insert("process_seconds".into(), wall_s.into());
    json.insert("peak_rss_mib".into(), rss_mib.into());

    // (b) The scalar, single-thread reference path must write the same bytes.
    let scalar_weights = out_dir.join("weights-scalar.bin");
    let mut cmd = Command::new(&bin);
    cmd.arg("train").arg("--data").arg(&data).arg("--out").arg(&scalar_weights).args([
        "--simd",
        "scalar",
        "--threads",
        "1",
    ]);
    let (stdout, _, _) = run_measured(&mut cmd, "mnistlearn train --simd scalar --threads 1")?;
    let scalar_s = parse_training_seconds(&stdout.lines().map(String::from).collect::<Vec<_>>()).unwrap_or(f64::NAN);
    let scalar_sha = content_sha256(&scalar_weights).map_err(|e| e.to_string())?;
    let identical = scalar_sha == fast_sha;
    table.push(("scalar reference path, 1 thread (training loop)".into(), format!("{scalar_s:.3} s")));
    table.push((
        "weights.bin identical to the scalar reference".into(),
        if identical { "yes".into() } else { "NO".into() },
    ));
    json.insert("scalar_train_seconds".into(), scalar_s.into());
    json.insert("identical_to_scalar".into(), identical.into());
    json.insert("weights_sha256".into(), fast_sha.clone().into());

    // (c) The NumPy reference.
    if options.numpy {
        let python = python_with_numpy()?;
        let numpy_json = out_dir.join("numpy.json");
        let mut cmd = Command::new(python);
        cmd.arg(root.join("scripts/reference_numpy.py")).arg("--data").arg(&data).arg("--json").arg(&numpy_json);
        let (_, numpy_wall, numpy_rss) = run_measured(&mut cmd, "scripts/reference_numpy.py")?;
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&numpy_json).map_err(|e| format!("{}: {e}", numpy_json.display()))?,
        )
        .map_err(|e| format!("{}: {e}", numpy_json.display()))?;
        let numpy_s = report["train_seconds"].as_f64().ok_or("numpy.json: no train_seconds")?;
        let ratio = numpy_s / train_s;
        table.push(("NumPy reference, 30 epochs (training loop)".into(), format!("{numpy_s:.3} s")));
        table.push((
            "NumPy reference, whole process / peak RSS".into(),
            format!("{numpy_wall:.3} s / {numpy_rss:.1} MiB"),
        ));
        table.push(("NumPy test accuracy".into(), format!("{}%", report["test_accuracy"])));
        table.push(("speed-up over NumPy (training loop)".into(), format!("{ratio:.1}×")));
        json.insert("numpy_train_seconds".into(), numpy_s.into());
        json.insert("speedup_vs_numpy".into(), ratio.into());
    }

    // (d) The bare forward pass.
    let mut cmd = Command::new(&bin);
    cmd.arg("time-forward").arg("--data").arg(&data).arg("--weights").arg(&fast_weights);
    let (stdout, _, _) = run_measured(&mut cmd, "mnistlearn time-forward")?;
    let forward_ns: f64 = stdout
        .split("forward pass: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .ok_or("bench: cannot parse time-forward output")?;
    table.push(("forward pass per sample (raw bytes → probabilities)".into(), format!("{forward_ns:.0} ns")));
    json.insert("forward_ns_per_sample".into(), forward_ns.into());

    // (e) The server round trip.
    let serve = bench_serve(&bin, &fast_weights, &data)?;
    table.push((
        "serve round trip, 1 client, p50 / p99".into(),
        format!("{:.0} µs / {:.0} µs", serve.p50_us, serve.p99_us),
    ));
    table.push((
        format!("serve throughput, {} concurrent clients", serve.clients),
        format!("{:.0} requests/s", serve.requests_per_s),
    ));
    json.insert("serve_p50_us".into(), serve.p50_us.into());
    json.insert("serve_p99_us".into(), serve.p99_us.into());
    json.insert("serve_requests_per_s".into(), serve.requests_per_s.into());
    json.insert("serve_clients".into(), serve.clients.into());

    let width = table.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!("\n| {:width$} | result |\n|{}|--------|", "measure", "-".repeat(width + 2));
    for (k, v) in &table {
        println!("| {k:width$} | {v} |");
    }
    let page = root.join(MEASUREMENTS);
    std::fs::write(&page, measurements_page(&root, options.runs, &table))
        .map_err(|e| format!("{}: {e}", page.display()))?;
    println!("bench: wrote {MEASUREMENTS}");
    let path = root.join("target/bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&serde_json::Value::Object(json)).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\nbench: wrote {}", path.display());
    if !identical {
        return Err("bench: the fast path's weights differ from the scalar reference".into());
    }
    Ok(())
}

/// The generated page of measurements (commit it after a `bench` run on purpose).
const MEASUREMENTS: &str = "book/src/measurements.md";

/// The measurements page: when, on what and at which commit, then the table.
fn measurements_page(root: &Path, runs: usize, table: &[(String, String)]) -> String {
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"]);
    let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "".into(), |k| format!(" {}", k.trim()));
    let load = std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split(' ').next().map(str::to_string));
    let mut page = String::from(
        "# Measurements\n\n<!-- Written by `cargo xtask bench`: run it again rather than editing this page. -->\n\n",
    );
    page += &format!(
        "Measured by `cargo xtask bench --runs {runs}` on {} at commit `{commit}`{}, on {cpu} ({cpus} logical CPUs, {} {}{kernel}, {}){}.\n\n",
        utc_now(),
        if dirty { " with uncommitted changes" } else { "" },
        std::env::consts::OS,
        std::env::consts::ARCH,
        output("rustc", &["--version"]),
        load.map_or(String::new(), |l| format!("; load average {l} as it finished")),
    );
    page += "Our training is the best of the runs; the references run once. Timings are not golden: they change with \
             the machine and its load, so compare two builds only on one machine, in one session, alternating them. \
             What never changes is the weights: the fast path's `weights.bin` must be the scalar reference's, byte \
             for byte (the command fails otherwise).\n\n| measure | result |\n|---|---|\n";
    for (k, v) in table {
        page += &format!("| {k} | {v} |\n");
    }
    page += "\nFor comparison, the original (NASM) reported 60–135 s for its 30 epochs, \"hardware dependent\", and \
             about 700 µs per round trip of its drawing app.\n";
    page
}

fn utc_now() -> String {
    utc(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64)
}

/// Seconds since 1970 as `YYYY-MM-DD HH:MM UTC` (days to a civil date: Howard Hinnant's algorithm).
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

struct ServeBench {
    p50_us: f64,
    p99_us: f64,
    requests_per_s: f64,
    clients: usize,
}

/// Starts `mnistlearn serve` on a free loopback port and measures it with keep-alive clients.
fn bench_serve(bin: &Path, weights: &Path, data: &Path) -> Result<ServeBench, String> {
    let server = Server::start(bin, weights)?;
    let addr = server.addr;
    let images = test_images(data, 200)?;
    // One client: latency distribution.
    let mut client = HttpClient::connect(addr)?;
    for image in images.iter().take(50) {
        client.predict(image)?; // warm-up
    }
    let mut samples: Vec<f64> = Vec::with_capacity(2000);
    for i in 0..2000 {
        let t = Instant::now();
        client.predict(&images[i % images.len()])?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    // Several clients: throughput over a fixed number of requests each.
    let clients = 4;
    let per_client = 2000;
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let images = images.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let mut client = HttpClient::connect(addr)?;
                for i in 0..per_client {
                    client.predict(&images[(i + c) % images.len()])?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "bench client thread panicked".to_string())??;
    }
    let requests_per_s = (clients * per_client) as f64 / started.elapsed().as_secs_f64();
    Ok(ServeBench { p50_us: pct(0.5), p99_us: pct(0.99), requests_per_s, clients })
}

/// The first `n` test images as raw 784-byte bodies.
fn test_images(data: &Path, n: usize) -> Result<Vec<Vec<u8>>, String> {
    let path = data.join("t10k-images-idx3-ubyte.gz");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut raw).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(raw[16..].chunks_exact(784).take(n).map(|c| c.to_vec()).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13 UTC");
    }
}
