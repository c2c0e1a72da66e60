//! `cargo xtask soak [--seconds 30] [--connections 64] [--binary FILE]`: the release server under a steady load
//! of keep-alive clients on loopback, for a fixed time.
//!
//! Trains a small model on the committed fixture (one epoch), starts `mnistlearn serve` on a free
//! port, warms it up, reads its RSS (`/proc/PID/status`), then runs `--connections` client
//! threads, each with one keep-alive connection sending `POST /predict` with a fixture image
//! (one request in four `POST /classify` with it drawn on the page's 280×280 canvas) and
//! reading the answer, for `--seconds`. Reports requests/s, the p50/p99 round trip, errors (any
//! answer other than 200, or a broken connection — the client then reconnects), and the
//! server's RSS before and after. Fails on any error or an RSS growth over 5 MiB. Not run in
//! CI: it is a measurement, and takes the whole machine for its duration. (`cargo xtask flood`
//! is the hostile counterpart.)

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::{build_release, proc_status_mib, HttpClient, Server};

const RSS_GROWTH_LIMIT_MIB: f64 = 5.0;

/// The page's canvas: 280×280 grey bytes.
const CLASSIFY_PATH: &str = "/classify?width=280&height=280";

struct Options {
    seconds: u64,
    connections: usize,
    /// Another build of `mnistlearn` to soak instead of this tree's release build (to compare).
    binary: Option<std::path::PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options { seconds: 30, connections: 64, binary: None };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--binary" {
            options.binary = Some(it.next().ok_or("soak: --binary needs a path")?.into());
            continue;
        }
        let value = it.next().and_then(|v| v.parse::<u64>().ok()).filter(|&n| n > 0);
        match flag.as_str() {
            "--seconds" => options.seconds = value.ok_or("soak: --seconds needs a positive number")?,
            "--connections" => {
                options.connections = value.ok_or("soak: --connections needs a positive number")? as usize
            }
            other => {
                return Err(format!(
                    "soak: unknown flag '{other}' (expected --seconds N, --connections N, --binary FILE)"
                ))
            }
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let bin = match &options.binary {
        Some(path) => path.clone(),
        None => build_release()?,
    };
    let root = crate::paths::project_root();
    let fixture = root.join("tests/fixtures/mnist-small");
    let work = crate::paths::target_dir().join("soak");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let weights = work.join("weights.bin");
    let mut train = Command::new(&bin);
    train
        .arg("train")
        .arg("--data")
        .arg(&fixture)
        .arg("--out")
        .arg(&weights)
        .args(["--epochs", "1"])
        .stdout(Stdio::null());
    crate::util::run_checked(train, "mnistlearn train (the soak's model)")?;
    let images = fixture_images(&fixture.join("t10k-images-idx3-ubyte.gz"))?;

    let server = Server::start(&bin, &weights)?;
    let (addr, pid) = (server.addr, server.pid());
    // Warm-up: the same load for a few seconds, so "before" includes the per-connection state
    // and the allocator's working set of the whole mix (64 canvases in flight at once).
    let images = Arc::new(images);
    load(addr, &images, options.connections, Duration::from_secs(3))?;
    std::thread::sleep(Duration::from_millis(200));
    let rss_before = proc_status_mib(pid, "VmRSS")?;

    let started = Instant::now();
    let (mut latencies, errors) = load(addr, &images, options.connections, Duration::from_secs(options.seconds))?;
    let elapsed = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(200));
    let rss_after = proc_status_mib(pid, "VmRSS")?;
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(0);
    let growth = rss_after - rss_before;
    println!("| measure | result |\n|---|---|");
    println!("| duration, keep-alive connections | {elapsed:.1} s, {} |", options.connections);
    println!("| requests answered 200 | {} |", latencies.len());
    println!("| requests/s | {:.0} |", latencies.len() as f64 / elapsed);
    println!("| round trip p50 / p99 | {} µs / {} µs |", pct(0.5), pct(0.99));
    println!("| errors | {errors} |");
    println!("| server RSS before / after | {rss_before:.1} MiB / {rss_after:.1} MiB ({growth:+.1} MiB) |");
    if errors > 0 || growth > RSS_GROWTH_LIMIT_MIB {
        return Err(format!("soak: {errors} errors, RSS growth {growth:.1} MiB (limit {RSS_GROWTH_LIMIT_MIB} MiB)"));
    }
    Ok(())
}

/// `connections` client threads, each with one keep-alive connection (reopened if it breaks),
/// for `duration`: every round trip's time in µs, and the errors.
fn load(
    addr: std::net::SocketAddr,
    images: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> Result<(Vec<u32>, u64), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..connections)
        .map(|c| {
            let (stop, images) = (stop.clone(), images.clone());
            std::thread::spawn(move || {
                let mut latencies_us: Vec<u32> = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let mut client = None;
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let connected = match client.take() {
                        Some(existing) => Ok(existing),
                        None => HttpClient::connect(addr),
                    };
                    let mut current = match connected {
                        Ok(current) => current,
                        Err(_) => {
                            errors += 1;
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    };
                    let t = Instant::now();
                    // One request in four is the page's: a 280×280 canvas to /classify.
                    let image = &images[i % images.len()];
                    let answered =
                        if i % 4 == 3 { current.post(CLASSIFY_PATH, &canvas(image)) } else { current.predict(image) };
                    match answered {
                        Ok(()) => {
                            latencies_us.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            client = Some(current);
                        }
                        Err(_) => errors += 1,
                    }
                    i += 1;
                }
                (latencies_us, errors)
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().map_err(|_| "soak: a client thread panicked".to_string())?;
        latencies.extend(l);
        errors += e;
    }
    Ok((latencies, errors))
}

/// A 28×28 image drawn ten times larger, as the page's 280×280 canvas sends it.
fn canvas(image: &[u8]) -> Vec<u8> {
    (0..280 * 280).map(|i| image[(i / 280 / 10) * 28 + (i % 280) / 10]).collect()
}

/// The fixture's test images as raw 784-byte bodies.
fn fixture_images(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(raw[16..].chunks_exact(784).map(|c| c.to_vec()).collect())
}
