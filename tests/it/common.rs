//! Helpers shared by the integration tests.

use std::convert::Infallible;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::Service;
use hyper_util::service::TowerToHyperService;
use sha2::{Digest, Sha256};
use warp::Filter;

/// The committed MNIST fixture: 2,000 training and 500 test images.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist-small")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// insta settings that store snapshots in `golden/`.
pub fn golden() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../golden");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// Replaces the one non-deterministic line of a training log.
pub fn redact_time(log: &str) -> String {
    log.lines()
        .map(|l| if l.starts_with("Training time: ") { "Training time: [redacted]" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts `mnistlearn serve ARGS…` and waits (at most a minute) for the line it prints once it
/// listens, `Serving http://ADDR (weights: …)`; returns the child and that line. Panics with the
/// server's stderr if the line never comes.
pub fn spawn_serve<S: AsRef<OsStr>>(args: &[S]) -> (Child, String) {
    let (child, line, _rest) = spawn_serve_lines(args);
    (child, line)
}

/// [`spawn_serve`], also handing over the lines the server prints after the first, as they come.
pub fn spawn_serve_lines<S: AsRef<OsStr>>(args: &[S]) -> (Child, String, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mnistlearn"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => (child, line, rx),
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("no 'Serving' line; stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// One HTTP/1.1 response, read by hand.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one response (status line, headers, `Content-Length` or chunked body).
pub fn read_answer(reader: &mut impl BufRead) -> Answer {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut answer = Answer { status, headers, body: Vec::new() };
    if let Some(len) = answer.header("content-length") {
        let mut body = vec![0u8; len.parse().unwrap()];
        reader.read_exact(&mut body).unwrap();
        answer.body = body;
    } else if answer.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            answer.body.extend_from_slice(&chunk[..size]);
        }
    }
    answer
}

/// A request to the app's routes without a socket, built like `warp::test::request()`: `GET /`
/// unless told otherwise, and `body` sets `content-length` as a client would. It goes through
/// `warp::service`, the service the server itself runs. (warp's own `test` feature would also
/// build warp's server and with it HTTP/2, h2, which the app does not use.)
pub struct RouteRequest(warp::http::Request<Full<Bytes>>);

pub fn request() -> RouteRequest {
    RouteRequest(warp::http::Request::new(Full::default()))
}

impl RouteRequest {
    pub fn method(mut self, method: &str) -> Self {
        *self.0.method_mut() = method.parse().expect("a valid method");
        self
    }

    pub fn path(mut self, path: &str) -> Self {
        *self.0.uri_mut() = path.parse().expect("a valid request path");
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.0.headers_mut().insert(name, value.parse().expect("a valid header value"));
        self
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        let body = Bytes::copy_from_slice(body.as_ref());
        let length = body.len().to_string();
        *self.0.body_mut() = Full::new(body);
        self.header("content-length", &length)
    }

    /// The routes' answer, its body read whole.
    pub async fn reply<F>(self, routes: &F) -> warp::http::Response<Bytes>
    where
        F: Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone + Send + Sync + 'static,
        F::Future: Send,
    {
        let service = TowerToHyperService::new(warp::service(routes.clone()));
        let Ok(response) = service.call(self.0).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("the routes' body reads whole").to_bytes();
        warp::http::Response::from_parts(parts, body)
    }
}
