//! `cargo xtask flood [--binary FILE]`: the release server against three hostile crowds on
//! loopback, each bounded in time, with the figures the server is held to:
//!
//! 1. **Slow bodies**: 520 connections (more than the 512 the server serves at once) that each
//!    send a `/predict` head and one byte of its body, reopening whenever the server closes
//!    them. Meanwhile 60 real requests, each on a new connection, 100 ms apart: their round
//!    trip's p50 must stay at or under 1 s.
//! 2. **Parked uploads**: 400 connections that each send a `/classify` head declaring 1 MiB and
//!    1 MiB − 1 B of the body, then wait; five rounds. The server's peak RSS (`VmHWM`) must stay
//!    at or under 256 MiB, and its RSS once they are gone at most 48 MiB above its start.
//! 3. **Unread answers**: a network of 4,096 hidden units (an 11.5 MB `/hidden-weights`
//!    answer) and 100 clients that ask for it and never read: the server's RSS must stay at or
//!    under 64 MiB.
//!
//! Not in CI (it takes the machine for about a minute); the figures belong in a commit message
//! or a report, not in a test with a threshold.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::util::{build_release, proc_status_mib, Server};

const SLOW_CONNECTIONS: usize = 520;
const REAL_REQUESTS: usize = 60;
const P50_LIMIT: Duration = Duration::from_secs(1);
const PARKED: usize = 400;
const ROUNDS: usize = 5;
const PEAK_LIMIT_MIB: f64 = 256.0;
const AFTER_LIMIT_MIB: f64 = 48.0;
const WIDE_HIDDEN: usize = 4096;
const UNREAD_CLIENTS: usize = 100;
const UNREAD_LIMIT_MIB: f64 = 64.0;

pub fn run(args: &[String]) -> Result<(), String> {
    let bin = match args {
        [] => build_release()?,
        [flag, path] if flag == "--binary" => path.into(),
        _ => return Err(format!("flood: unexpected arguments {args:?} (only --binary FILE)")),
    };
    let root = crate::paths::project_root();
    let work = crate::paths::target_dir().join("flood");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let weights = work.join("weights.bin");
    let mut train = Command::new(&bin);
    train.arg("train").arg("--data").arg(root.join("tests/fixtures/mnist-small")).arg("--out").arg(&weights);
    train.args(["--epochs", "1"]).stdout(Stdio::null());
    crate::util::run_checked(train, "mnistlearn train (the flood's model)")?;
    let wide = work.join("wide.bin");
    let net = mnistlearn_core::nn::Network::init(WIDE_HIDDEN, &mut mnistlearn_core::data::shuffle::Rng::from_seed(1));
    mnistlearn::io::weights::save(&wide, &net).map_err(|e| e.to_string())?;

    let mut failures = Vec::new();
    println!("| crowd | measure | result | bound |\n|---|---|---|---|");

    let (p50, p99, errors, reopened) = slow_bodies(&bin, &weights)?;
    println!(
        "| {SLOW_CONNECTIONS} slow bodies | /predict p50 / p99 ({REAL_REQUESTS} requests, {errors} errors; \
         {reopened} slow connections closed by the server) | {:.0} ms / {:.0} ms | p50 ≤ {} ms |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        P50_LIMIT.as_millis()
    );
    if p50 > P50_LIMIT || errors > 0 {
        failures.push(format!("slow bodies: p50 {p50:?}, {errors} errors"));
    }

    let (start, peak, after, busy) = parked_uploads(&bin, &weights)?;
    println!(
        "| {PARKED} parked 1 MiB uploads × {ROUNDS} | RSS at start / peak / after each round (503s) | \
         {start:.1} / {peak:.1} / {} MiB ({busy}) | peak ≤ {PEAK_LIMIT_MIB}, after ≤ start + {AFTER_LIMIT_MIB} |",
        after.iter().map(|a| format!("{a:.1}")).collect::<Vec<_>>().join(", ")
    );
    let worst_after = after.iter().copied().fold(0.0, f64::max);
    if peak > PEAK_LIMIT_MIB || worst_after - start > AFTER_LIMIT_MIB {
        failures.push(format!("parked uploads: peak {peak:.1} MiB, after {worst_after:.1} MiB (start {start:.1})"));
    }

    let (before, during, peak) = unread_answers(&bin, &wide)?;
    println!(
        "| {UNREAD_CLIENTS} unread /hidden-weights, H = {WIDE_HIDDEN} | RSS before / with them / peak | \
         {before:.1} / {during:.1} / {peak:.1} MiB | ≤ {UNREAD_LIMIT_MIB} |"
    );
    if during > UNREAD_LIMIT_MIB {
        failures.push(format!("unread answers: {during:.1} MiB"));
    }

    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("flood: {}", failures.join("; ")))
    }
}

fn predict_request() -> Vec<u8> {
    let mut request = b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 784\r\n\r\n".to_vec();
    request.extend_from_slice(&[0; 784]);
    request
}

/// A slow-body connection: the head and one byte of the body.
fn slow_connection(addr: SocketAddr) -> Option<TcpStream> {
    let request = predict_request();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.write_all(&request[..request.len() - 783]).ok()?;
    stream.set_nonblocking(true).ok()?;
    Some(stream)
}

/// Crowd 1: (p50, p99, errors, slow connections the server closed).
fn slow_bodies(bin: &std::path::Path, weights: &std::path::Path) -> Result<(Duration, Duration, usize, u64), String> {
    let server = Server::start(bin, weights)?;
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let reopened = Arc::new(AtomicU64::new(0));
    let threads = 8;
    let flood: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, reopened) = (stop.clone(), reopened.clone());
            std::thread::spawn(move || {
                let mut sockets: Vec<Option<TcpStream>> =
                    (0..SLOW_CONNECTIONS / threads).map(|_| slow_connection(addr)).collect();
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    for socket in sockets.iter_mut() {
                        let closed = match socket {
                            None => true,
                            Some(s) => match s.read(&mut buf) {
                                Ok(_) => true,
                                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                            },
                        };
                        if closed {
                            reopened.fetch_add(1, Ordering::Relaxed);
                            *socket = slow_connection(addr);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let request = predict_request();
    for _ in 0..REAL_REQUESTS {
        // Spread over several seconds, so the requests meet the flood at every stage of its
        // connections' lives (new, past the eviction grace, past the rate grace).
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        let answered = (|| -> std::io::Result<bool> {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30))?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            stream.write_all(&request)?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head)?;
            Ok(&head == b"HTTP/1.1 200")
        })();
        match answered {
            Ok(true) => latencies.push(t.elapsed()),
            _ => errors += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for thread in flood {
        thread.join().map_err(|_| "flood: a slow-body thread panicked".to_string())?;
    }
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or_default();
    Ok((pct(0.5), pct(0.99), errors, reopened.load(Ordering::Relaxed)))
}

/// Crowd 2: (RSS at start, peak RSS, RSS after each round, 503 answers seen), in MiB.
fn parked_uploads(bin: &std::path::Path, weights: &std::path::Path) -> Result<(f64, f64, Vec<f64>, usize), String> {
    let server = Server::start(bin, weights)?;
    let (addr, pid) = (server.addr, server.pid());
    std::thread::sleep(Duration::from_millis(300));
    let start = proc_status_mib(pid, "VmRSS")?;
    let mut after = Vec::new();
    let mut busy = 0;
    let head = "POST /classify?width=1024&height=1024 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n";
    for _ in 0..ROUNDS {
        // Every client parks its upload, then all wait for the measurement before closing.
        let parked = Arc::new(Barrier::new(PARKED + 1));
        let release = Arc::new(Barrier::new(PARKED + 1));
        let clients: Vec<_> = (0..PARKED)
            .map(|_| {
                let (parked, release) = (parked.clone(), release.clone());
                std::thread::spawn(move || {
                    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).ok();
                    if let Some(mut s) = stream.as_ref() {
                        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                        let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(&vec![7u8; (1 << 20) - 1]));
                    }
                    parked.wait();
                    release.wait();
                    // A refused upload has its 503 waiting; a parked one has nothing.
                    let mut status = [0u8; 12];
                    stream.is_some_and(|mut s| {
                        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
                        s.read_exact(&mut status).is_ok() && &status == b"HTTP/1.1 503"
                    })
                })
            })
            .collect();
        parked.wait();
        std::thread::sleep(Duration::from_millis(500));
        release.wait();
        for client in clients {
            busy += client.join().map_err(|_| "flood: an upload thread panicked".to_string())? as usize;
        }
        // The trimmer runs once a second after connections close.
        std::thread::sleep(Duration::from_secs(3));
        after.push(proc_status_mib(pid, "VmRSS")?);
    }
    let peak = proc_status_mib(pid, "VmHWM")?;
    Ok((start, peak, after, busy))
}

/// Crowd 3: (RSS before, RSS with the unread answers, peak RSS), in MiB.
fn unread_answers(bin: &std::path::Path, wide: &std::path::Path) -> Result<(f64, f64, f64), String> {
    let server = Server::start(bin, wide)?;
    let (addr, pid) = (server.addr, server.pid());
    std::thread::sleep(Duration::from_secs(1));
    let before = proc_status_mib(pid, "VmRSS")?;
    let clients: Vec<TcpStream> = (0..UNREAD_CLIENTS)
        .filter_map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).ok()?;
            s.write_all(b"GET /hidden-weights HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
            Some(s)
        })
        .collect();
    if clients.len() < UNREAD_CLIENTS {
        return Err(format!("flood: only {} of {UNREAD_CLIENTS} unread clients connected", clients.len()));
    }
    std::thread::sleep(Duration::from_secs(2));
    let during = proc_status_mib(pid, "VmRSS")?;
    let peak = proc_status_mib(pid, "VmHWM")?;
    drop(clients);
    Ok((before, during, peak))
}
