//! Hardening, second round: what a crowd of hostile clients does to a real server on a real
//! socket — slow bodies, parked uploads, answers nobody reads, eviction in the middle of an
//! answer, foreign `Host` names and cross-site `POST`s. Each test is an assertion about what
//! is answered, never about how fast: the flags make the difference between "answered" and
//! "never" (timeouts of minutes where only the fix can help).

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use mnistlearn::io::weights;
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::nn::Network;

use crate::harden::{connect, predict_request, read_answer, read_until_closed, start, Server, GRACE};

/// Timeouts of two minutes: nothing in these tests may be rescued by a timeout.
const PATIENT: [&str; 6] = ["--header-timeout", "120", "--idle-timeout", "120", "--body-timeout", "120"];

fn serve(extra: &[&str]) -> Server {
    let mut args = vec!["--addr", "127.0.0.1:0"];
    args.extend(PATIENT);
    args.extend(extra);
    start(&args)
}

/// A server whose network has `hidden` units, so that `/hidden-weights` is large.
fn serve_hidden(hidden: usize, extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.bin");
    weights::save(&path, &Network::init(hidden, &mut Rng::from_seed(5))).unwrap();
    let mut args = vec!["--weights", path.to_str().unwrap(), "--addr", "127.0.0.1:0"];
    args.extend(PATIENT);
    args.extend(extra);
    let server = start(&args);
    (server, dir)
}

/// The server's resident set, in MiB (`VmRSS` of `/proc/PID/status`).
fn rss_mib(server: &Server) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// One request on a fresh connection; the status and body of its answer.
fn ask(server: &Server, request: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let mut stream = connect(server.addr, Duration::from_secs(60));
    stream.write_all(request).unwrap();
    let (status, headers, body) = read_answer(&mut BufReader::new(stream));
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// A `/predict` head that promises 784 bytes, and one of them.
fn slow_body(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr, GRACE);
    let request = predict_request(&[0; 784]);
    stream.write_all(&request[..request.len() - 783]).unwrap();
    stream
}

// Failed before the fix: a body-phase connection was never evicted, so with the cap full of
// them the request waited for the body timeout (two minutes here), past its minute of patience.
#[test]
fn slow_bodies_at_the_cap_do_not_lock_out_a_request() {
    let server = serve(&["--max-connections", "8"]);
    let slow: Vec<TcpStream> = (0..8).map(|_| slow_body(&server)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let (status, _, body) = ask(&server, &predict_request(&[0; 784]));
    assert_eq!(status, 200, "{body}");
    drop(slow);
}

// Failed before the fix: the connection stayed open for the whole two-minute body timeout.
#[test]
fn a_body_slower_than_the_minimum_rate_is_closed() {
    let server = serve(&[]);
    let mut slow = slow_body(&server);
    let got = read_until_closed(&mut slow, "a body dripping slower than the minimum rate");
    assert!(!String::from_utf8_lossy(&got).contains("probabilities"));
}

// Failed before the fix: there was no budget, every upload was buffered, and the request past
// it was answered 200 (and 64 × 1 MiB became 64 buffers grown by doubling to 1.5 MiB).
#[test]
fn uploads_past_the_body_budget_are_answered_503_until_they_go() {
    let server = serve(&[]);
    let budget_mib = mnistlearn::serve::BODY_BUDGET >> 20;
    // Each declares 1 MiB and sends 64 KiB: fast enough to stay above the minimum rate for
    // the whole test, and it holds a 1 MiB share of the budget.
    let head = "POST /classify?width=1024&height=1024 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n";
    let parked: Vec<TcpStream> = (0..budget_mib)
        .map(|_| {
            let mut stream = connect(server.addr, GRACE);
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&[0; 64 * 1024]).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (status, headers, body) = ask(&server, &predict_request(&[0; 784]));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("server busy"), "{body}");
    assert_eq!(header(&headers, "retry-after"), "1");
    drop(parked);
    // The shares come back as the server sees the uploads go.
    let mut status = 0;
    for _ in 0..100 {
        status = ask(&server, &predict_request(&[0; 784])).0;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "the budget came back");
}

/// `GET /hidden-weights` on a connection that then reads nothing.
fn unread_hidden_weights(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr, Duration::from_secs(60));
    stream.write_all(b"GET /hidden-weights HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    stream
}

// Failed before the fix: each answer was its own 5.7 MB copy, held until written: 20 clients
// that do not read grew the server by over 100 MiB.
#[test]
fn unread_hidden_weights_answers_share_one_buffer() {
    let (server, _dir) = serve_hidden(2048, &[]);
    // The first answer builds nothing new (the body is made at start); warm the paths up.
    let (status, _, _) = ask(&server, b"GET /hidden-weights HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_mib(&server);
    let clients: Vec<TcpStream> = (0..20).map(|_| unread_hidden_weights(&server)).collect();
    std::thread::sleep(Duration::from_millis(1500));
    let growth = rss_mib(&server) - before;
    assert!(growth < 40.0, "20 unread answers of 5.7 MB grew the server by {growth:.1} MiB");
    drop(clients);
}

// Failed before the fix: the connection counted as idle once its answer was ready, so at the
// cap it was evicted with most of the answer unwritten.
#[test]
fn eviction_never_cuts_an_answer_short() {
    let (server, _dir) = serve_hidden(2048, &["--max-connections", "2"]);
    let unread = unread_hidden_weights(&server);
    std::thread::sleep(Duration::from_millis(500));
    // An idle keep-alive connection takes the second slot; a third request forces an eviction.
    let idle = connect(server.addr, GRACE);
    (&idle).write_all(&predict_request(&[0; 784])).unwrap();
    assert_eq!(read_answer(&mut BufReader::new(&idle)).0, 200);
    std::thread::sleep(Duration::from_millis(500));
    let (status, _, body) = ask(&server, &predict_request(&[0; 784]));
    assert_eq!(status, 200, "{body}");
    // The slow reader's answer is whole: read_answer reads exactly Content-Length bytes.
    let (status, headers, body) = read_answer(&mut BufReader::new(unread));
    assert_eq!(status, 200);
    assert_eq!(body.len().to_string(), header(&headers, "content-length"));
    assert!(body.ends_with(b"]]}"), "the JSON is complete");
}

fn get(host: Option<&str>, origin: Option<&str>, method_path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!("{method_path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(host) = host {
        request += &format!("Host: {host}\r\n");
    }
    if let Some(origin) = origin {
        request += &format!("Origin: {origin}\r\n");
    }
    let mut request = (request + "\r\n").into_bytes();
    request.extend_from_slice(body);
    request
}

// Failed before the fix: every Host was served (a DNS-rebound name reads the answers).
#[test]
fn only_this_servers_host_names_are_served() {
    let server = serve(&[]);
    let port = server.addr.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), "[::1]".into(), "LOCALHOST".into()] {
        let (status, _, body) = ask(&server, &get(Some(&host), None, "GET /", b""));
        assert_eq!(status, 200, "Host {host}: {body}");
    }
    for host in [Some("evil.example"), Some("evil.example:80"), Some("127.0.0.1.evil.example"), Some(""), None] {
        let (status, headers, body) = ask(&server, &get(host, None, "GET /", b""));
        assert_eq!(status, 421, "Host {host:?}: {body}");
        assert!(body.contains("--allow-host"), "{body}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "refusals carry the headers too");
    }
}

// Failed before the fix: a page on any site could POST to the local server.
#[test]
fn a_cross_origin_post_is_refused() {
    let server = serve(&[]);
    let host = format!("127.0.0.1:{}", server.addr.port());
    let own = format!("http://{host}");
    let post = |origin: Option<&str>| ask(&server, &get(Some(&host), origin, "POST /predict", &[0; 784]));
    assert_eq!(post(Some(&own)).0, 200, "the app's own origin");
    assert_eq!(post(None).0, 200, "no Origin: not a browser");
    for origin in ["http://evil.example", "null", "https://127.0.0.1", "http://localhost"] {
        let (status, _, body) = post(Some(origin));
        assert_eq!(status, 403, "Origin {origin}: {body}");
        assert!(body.contains("cross-origin POST refused"), "{body}");
    }
    // A foreign page reading the page itself is the browser's business (CORS), not ours.
    assert_eq!(ask(&server, &get(Some(&host), Some("http://evil.example"), "GET /", b"")).0, 200);
}

// Failed before the fix: there was no --allow-host (a usage error).
#[test]
fn allow_host_adds_names() {
    let server = serve(&["--allow-host", "my-box.lan,[fe80::1]"]);
    let port = server.addr.port();
    for host in [format!("my-box.lan:{port}"), "MY-BOX.LAN".into(), "[fe80::1]:80".into(), "localhost".into()] {
        let own = format!("http://{host}");
        let (status, _, body) = ask(&server, &get(Some(&host), Some(&own), "POST /predict", &[0; 784]));
        assert_eq!(status, 200, "Host {host}: {body}");
    }
    assert_eq!(ask(&server, &get(Some("other.lan"), None, "GET /", b"")).0, 421);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mnistlearn"))
        .args(["serve", "--allow-host", "evil.example:80"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-host") && stderr.contains("without a port"), "{stderr}");
}

// Failed before the fix: hyper's own answers to requests it cannot parse had none of the headers.
#[test]
fn hypers_own_error_answers_carry_the_security_headers() {
    let server = serve(&[]);
    let huge = format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n", "a".repeat(500 * 1024));
    for (request, expected) in [
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n".to_vec(), 400),
        (b"GET /\x01 HTTP/1.1\r\n\r\n".to_vec(), 400),
        (huge.into_bytes(), 431),
    ] {
        let mut stream = connect(server.addr, Duration::from_secs(60));
        let _ = stream.write_all(&request);
        let (status, headers, _) = read_answer(&mut BufReader::new(stream));
        assert_eq!(status, expected);
        let csp = header(&headers, "content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{status}: {headers:?}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    }
}
