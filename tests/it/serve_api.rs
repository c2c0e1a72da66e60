//! `mnistlearn serve`: the routes through `warp::service` (no sockets), then the real binary on a
//! real socket — parallel clients, bad requests, chunked bodies, startup failures and Ctrl-C.
//!
//! No data files are needed: the network is a seeded random initialisation, written to a
//! temporary weights.bin when the binary needs one.

use std::ffi::OsStr;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mnistlearn::io::weights;
use mnistlearn::serve::{predict_json, routes, BODY_LIMIT};
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::{argmax, Network};

use crate::common::{self, read_answer, Answer};

// ---- helpers ------------------------------------------------------------------------------

fn network(hidden: usize) -> Network {
    Network::init(hidden, &mut Rng::from_seed(1))
}

/// A deterministic MNIST-like image: mostly background, some strokes of varying intensity.
fn image(seed: u64) -> Vec<u8> {
    let mut rng = Rng::from_seed(seed);
    (0..784)
        .map(|_| match rng.below(10) {
            0..=6 => 0,
            7 => 255,
            _ => rng.below(256) as u8,
        })
        .collect()
}

/// The `probabilities` array of a /predict answer, each number parsed by Rust's correctly
/// rounded `str::parse` (serde_json's default float parser is fast but not guaranteed to be
/// correctly rounded, and this test is about bits).
fn probabilities_exact(json: &str) -> Vec<f64> {
    let start = json.find("\"probabilities\":[").expect("probabilities key") + "\"probabilities\":[".len();
    let end = start + json[start..].find(']').expect("closing bracket");
    json[start..end].split(',').map(|t| t.trim().parse::<f64>().expect("a number")).collect()
}

/// Checks one 200 answer against `Network::predict`, bit for bit.
fn check_prediction(json: &str, net: &Network, level: SimdLevel, pixels: &[u8]) {
    let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let digit = value["digit"].as_u64().expect("digit is a whole number") as usize;
    assert!(digit < 10, "digit {digit}");
    let got = probabilities_exact(json);
    assert_eq!(got.len(), 10, "{json}");
    let sum: f64 = got.iter().sum();
    assert!((sum - 1.0).abs() <= 1e-12, "probabilities sum to {sum}");
    let expected = net.predict(level, pixels);
    for (i, (g, e)) in got.iter().zip(expected.iter()).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "probability {i}: got {g:e}, expected {e:e}");
    }
    assert_eq!(digit, argmax(&expected));
}

fn error_text(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    value["error"].as_str().expect("an \"error\" string").to_string()
}

// ---- routes, without sockets --------------------------------------------------------------

#[tokio::test]
async fn predict_answers_bit_exactly_at_every_simd_level() {
    let net = Arc::new(network(32));
    for level in SimdLevel::available() {
        let api = routes(net.clone(), level);
        for seed in [1, 2, 3, 99] {
            let pixels = image(seed);
            let res = common::request().method("POST").path("/predict").body(&pixels).reply(&api).await;
            assert_eq!(res.status(), 200, "{level}");
            assert_eq!(res.headers()["content-type"], "application/json");
            let json = std::str::from_utf8(res.body()).unwrap();
            check_prediction(json, &net, level, &pixels);
            // The handler is `predict_json` and nothing else.
            assert_eq!(json, predict_json(&net, level, &pixels).unwrap());
        }
        // Blank and saturated images are legal inputs too.
        for pixels in [vec![0u8; 784], vec![255u8; 784]] {
            let res = common::request().method("POST").path("/predict").body(&pixels).reply(&api).await;
            assert_eq!(res.status(), 200);
            check_prediction(std::str::from_utf8(res.body()).unwrap(), &net, level, &pixels);
        }
    }
}

#[tokio::test]
async fn wrong_body_sizes_are_400_naming_784() {
    let net = Arc::new(network(32));
    let api = routes(net.clone(), SimdLevel::SCALAR);
    for size in [0usize, 1, 783, 785, 1568, 10_000, BODY_LIMIT as usize] {
        let res = common::request().method("POST").path("/predict").body(vec![7u8; size]).reply(&api).await;
        assert_eq!(res.status(), 400, "size {size}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let message = error_text(res.body());
        assert_eq!(message, format!("body must be exactly 784 bytes (28×28 pixels, row-major, 0-255), got {size}"));
        assert_eq!(predict_json(&net, SimdLevel::SCALAR, &vec![7u8; size]).unwrap_err().0, 400);
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let api = routes(Arc::new(network(32)), SimdLevel::SCALAR);
    for size in [BODY_LIMIT as usize + 1, 1 << 20] {
        let res = common::request().method("POST").path("/predict").body(vec![0u8; size]).reply(&api).await;
        assert_eq!(res.status(), 413, "size {size}");
        let message = error_text(res.body());
        assert!(message.contains("784"), "{message}");
    }
    // A declared length over the limit is refused before any body is read.
    let res = common::request().method("POST").path("/predict").header("content-length", "1048576").reply(&api).await;
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let api = routes(Arc::new(network(32)), SimdLevel::SCALAR);
    for (method, path, allow) in [
        ("GET", "/predict", "POST"),
        ("PUT", "/predict", "POST"),
        ("DELETE", "/predict", "POST"),
        ("POST", "/", "GET, HEAD"),
        ("POST", "/app.js", "GET, HEAD"),
        ("DELETE", "/style.css", "GET, HEAD"),
    ] {
        let res = common::request().method(method).path(path).reply(&api).await;
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let message = error_text(res.body());
        assert!(message.contains(method) && message.contains(allow), "{message}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let api = routes(Arc::new(network(32)), SimdLevel::SCALAR);
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/predict/extra"),
        ("GET", "/web/index.html"),
        ("GET", "/../Cargo.toml"),
        ("GET", "/src/serve.rs"),
        ("GET", "/index.html"),
    ] {
        let res = common::request().method(method).path(path).reply(&api).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert!(error_text(res.body()).contains("not found"));
    }
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types() {
    let api = routes(Arc::new(network(32)), SimdLevel::SCALAR);
    let res = common::request().path("/").reply(&api).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = std::str::from_utf8(res.body()).unwrap();
    assert!(html.contains("<canvas"), "the page has a canvas to draw on");
    assert_eq!(html, include_str!("../../web/index.html"));

    for (path, content_type, text) in [
        ("/app.js", "text/javascript; charset=utf-8", include_str!("../../web/app.js")),
        ("/style.css", "text/css; charset=utf-8", include_str!("../../web/style.css")),
    ] {
        let res = common::request().path(path).reply(&api).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], content_type);
        assert_eq!(res.body().as_ref(), text.as_bytes());
    }
    let res = common::request().method("HEAD").path("/").reply(&api).await;
    assert_eq!(res.status(), 200);
}

// ---- the real binary on a real socket ---------------------------------------------------------

/// A running `mnistlearn serve`, killed when dropped (even when a test fails).
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    weights: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_weights(dir: &Path, net: &Network) -> PathBuf {
    let path = dir.join("weights.bin");
    weights::save(&path, net).unwrap();
    path
}

/// Starts the binary on port 0 and waits for its "Serving http://ADDR" line.
fn start_server(net: &Network, simd: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let weights = write_weights(dir.path(), net);
    let args = [
        OsStr::new("--addr"),
        OsStr::new("127.0.0.1:0"),
        OsStr::new("--simd"),
        OsStr::new(simd),
        OsStr::new("--weights"),
        weights.as_os_str(),
    ];
    let (child, line) = crate::common::spawn_serve(&args);
    let expected_tail = format!(" (weights: {}, hidden {})", weights.display(), net.hidden());
    assert!(line.starts_with("Serving http://") && line.ends_with(&expected_tail), "{line}");
    let addr: SocketAddr = line["Serving http://".len()..line.len() - expected_tail.len()].parse().unwrap();
    assert_ne!(addr.port(), 0, "the printed address is the bound one");
    Server { child, addr, _dir: dir, weights }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    stream
}

fn post_predict_request(body: &[u8], close: bool) -> Vec<u8> {
    let mut request = format!(
        "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Sends `request` on a fresh connection and reads one answer.
fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    read_answer(&mut BufReader::new(stream))
}

fn simple(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

#[test]
fn fifty_parallel_clients_get_bit_exact_answers() {
    let net = network(32);
    let server = start_server(&net, "scalar");
    let addr = server.addr;
    // The server's network came from the file; it must be this one.
    assert_eq!(weights::load(&server.weights).unwrap(), net);
    let net = Arc::new(net);
    let handles: Vec<_> = (0..50u64)
        .map(|i| {
            let net = net.clone();
            std::thread::spawn(move || {
                let pixels = image(1000 + i);
                let answer = exchange(addr, &post_predict_request(&pixels, true));
                assert_eq!(answer.status, 200, "client {i}: {}", String::from_utf8_lossy(&answer.body));
                assert_eq!(answer.header("content-type"), Some("application/json"));
                check_prediction(std::str::from_utf8(&answer.body).unwrap(), &net, SimdLevel::SCALAR, &pixels);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a client failed");
    }
}

#[test]
fn keep_alive_connections_serve_many_requests() {
    let net = network(7);
    let server = start_server(&net, "auto");
    let stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for i in 0..20u64 {
        let pixels = image(500 + i);
        writer.write_all(&post_predict_request(&pixels, false)).unwrap();
        let answer = read_answer(&mut reader);
        assert_eq!(answer.status, 200);
        // Every level is bit-identical, so the scalar prediction is the reference for `auto`.
        check_prediction(std::str::from_utf8(&answer.body).unwrap(), &net, SimdLevel::SCALAR, &pixels);
    }
}

#[test]
fn bad_requests_do_not_stop_the_server() {
    let net = network(32);
    let server = start_server(&net, "scalar");
    let addr = server.addr;

    let answer = exchange(addr, &post_predict_request(&[1], true));
    assert_eq!(answer.status, 400);
    assert!(error_text(&answer.body).contains("784"));

    let answer = exchange(addr, &post_predict_request(&vec![0; 785], true));
    assert_eq!(answer.status, 400);
    assert!(error_text(&answer.body).contains("got 785"));

    let answer = exchange(addr, &simple("GET", "/predict"));
    assert_eq!((answer.status, answer.header("allow")), (405, Some("POST")));

    let answer = exchange(addr, &simple("GET", "/missing"));
    assert_eq!(answer.status, 404);

    // A huge declared body is refused from its headers alone: nothing is sent after them.
    let answer = exchange(addr, b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n");
    assert_eq!(answer.status, 413);
    assert!(error_text(&answer.body).contains("784"));

    // A chunked body has no length up front; it is cut off once it passes the limit.
    let mut chunked = b"POST /predict HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..(BODY_LIMIT as usize / 4096 + 2) {
        chunked.extend_from_slice(b"1000\r\n");
        chunked.extend_from_slice(&[0u8; 4096]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(addr, &chunked);
    assert_eq!(answer.status, 413);

    // Not HTTP at all.
    let mut stream = connect(addr);
    stream.write_all(b"HELLO THERE\r\n\r\n").unwrap();
    let mut junk = Vec::new();
    let _ = stream.read_to_end(&mut junk);

    // A client that connects and leaves.
    drop(connect(addr));

    // A chunked body of the right size is fine.
    let pixels = image(7);
    let mut request =
        b"POST /predict HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for part in pixels.chunks(300) {
        request.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(addr, &request);
    assert_eq!(answer.status, 200);
    check_prediction(std::str::from_utf8(&answer.body).unwrap(), &net, SimdLevel::SCALAR, &pixels);

    // And the page still loads.
    let answer = exchange(addr, &simple("GET", "/"));
    assert_eq!(answer.status, 200);
    assert!(String::from_utf8_lossy(&answer.body).contains("<canvas"));
}

/// Runs `mnistlearn serve ARGS…` expecting it to fail at once; returns its stderr.
fn serve_fails(args: &[&std::ffi::OsStr]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_mnistlearn")).arg("serve").args(args).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success(), "expected a failure");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing served: {}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    stderr
}

#[test]
fn a_missing_weights_file_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-weights.bin");
    let stderr = serve_fails(&["--addr".as_ref(), "127.0.0.1:0".as_ref(), "--weights".as_ref(), path.as_os_str()]);
    assert!(stderr.contains(&*path.to_string_lossy()), "{stderr}");
}

#[test]
fn a_wrong_size_weights_file_is_one_line_naming_203600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.bin");
    std::fs::write(&path, vec![0u8; 1000]).unwrap();
    let stderr = serve_fails(&["--addr".as_ref(), "127.0.0.1:0".as_ref(), "--weights".as_ref(), path.as_os_str()]);
    assert!(stderr.contains("203600") && stderr.contains(&*path.to_string_lossy()), "{stderr}");
}

#[test]
fn a_busy_port_is_one_line_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let weights = write_weights(dir.path(), &network(32));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = serve_fails(&["--addr".as_ref(), addr.as_ref(), "--weights".as_ref(), weights.as_os_str()]);
    assert!(stderr.contains(&format!("--addr {addr}: ")), "{stderr}");
    // ... and says what to do about it.
    assert!(stderr.contains("another program is listening there"), "{stderr}");
    assert!(stderr.trim_end().ends_with("pass --addr 127.0.0.1:PORT with a free port"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_server_cleanly() {
    let mut server = start_server(&network(32), "scalar");
    // Prove it serves, then interrupt it as a terminal would.
    assert_eq!(exchange(server.addr, &simple("GET", "/")).status, 200);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running 30 s after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(TcpStream::connect(server.addr).is_err(), "the port is closed");
}

/// The lines `serve ARGS…` prints before it is stopped (SIGTERM once it listens; each further
/// line awaited at most a minute).
fn start_lines(args: &[&OsStr]) -> Vec<String> {
    let (mut child, first, rest) = common::spawn_serve_lines(args);
    assert!(first.starts_with("Serving http://"), "{first}");
    // SAFETY: a plain signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let lines = std::iter::once(first).chain(std::iter::from_fn(|| rest.recv_timeout(Duration::from_secs(60)).ok()));
    let lines = lines.collect();
    child.wait().unwrap();
    lines
}

// From the user trial: `serve --data` naming a directory without MNIST's files started silently,
// and the training page found out only when its data requests got 404.
#[test]
fn serve_says_at_once_when_the_training_data_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let weights = write_weights(dir.path(), &network(16));
    let absent = dir.path().join("no-such-dir");
    let addr = [OsStr::new("--addr"), OsStr::new("127.0.0.1:0"), OsStr::new("--weights"), weights.as_os_str()];
    let lines = start_lines(&[&addr[..], &[OsStr::new("--data"), absent.as_os_str()]].concat());
    let note = format!("Note: 4 of MNIST's four files are not in {}", absent.display());
    assert!(lines[1].starts_with(&note) && lines[1].contains("the training page cannot start"), "{lines:?}");
    let lines = start_lines(&[&addr[..], &[OsStr::new("--data"), common::fixture_dir().as_os_str()]].concat());
    assert!(!lines.iter().any(|l| l.starts_with("Note:")), "all four files there: no note: {lines:?}");
}
