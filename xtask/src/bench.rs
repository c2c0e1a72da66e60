//! `cargo xtask bench [--runs N] [--skip-numpy] [--serve-only]`: speed, measured, never assumed.
//!
//! In one run, on the same data and machine:
//! * our default 30-epoch training against the shared NumPy peer (`../shared/bench/numpy_peer.py`
//!   beside the project: the same recipe as a careful NumPy programmer writes it;
//!   `scripts/reference_numpy.py` when it is missing, and the table says so), alternated,
//!   `--runs` pairs (default 3): each side's median and the median of the per-pair ratios, so a
//!   load that comes and goes falls on both sides;
//! * the same at widths h = 128 and h = 512 (3 epochs) against `scripts/reference_numpy.py`,
//!   and that reference against the shared peer at h = 32, to show it is as fast;
//! * the scalar single-thread reference path, to confirm the fast path wrote the same bytes;
//! * where a training batch's time goes (`mnistlearn time-phases`), each phase beside its floor,
//!   and at h = 32 one thread against all of them, alternated: what dividing the work costs;
//! * the bare forward pass per sample (`mnistlearn time-forward`);
//! * the drawing server's round trip over loopback: p50/p99 for one client, and requests/s
//!   with several concurrent clients.
//!
//! Prints a table, writes `target/bench.json`, and writes the one page where the project keeps
//! its figures, `book/src/measurements.md`: the table with the date, the machine and the commit
//! it was measured on. README and book link to that page instead of quoting numbers that age.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

use crate::fetch::{self, content_sha256, FetchOptions};
use crate::pairs::{
    alternate, median, run_measured, run_ours, run_peer, run_reference, runs_list, seconds, times, with_runs, Runner,
    Timed,
};
use crate::phases;
use crate::util::{build_release, python_with_numpy, HttpClient, Server};

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

/// The widths compared besides the default 32, at this many epochs (short: the ratio is per batch).
const WIDTHS: [u32; 2] = [128, 512];
const WIDTH_EPOCHS: u32 = 3;
/// The widths profiled phase by phase (`mnistlearn time-phases`), at this many epochs.
const PROFILED: [u32; 2] = [32, 512];
const PROFILE_EPOCHS: u32 = 3;

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
    let runs = options.runs;
    let python = if options.numpy { Some(python_with_numpy()?) } else { None };
    let numpy = python.as_ref().and_then(|py| {
        let out = Command::new(py).args(["-c", "import numpy; print(numpy.__version__)"]).output().ok()?;
        Some(format!("NumPy {}", String::from_utf8_lossy(&out.stdout).trim()))
    });
    let load_at_start = load_average();

    // (a) Our default training against the NumPy peer, alternated.
    let fast_weights = out_dir.join("weights-fast.bin");
    let shared_peer = root.join("../shared/bench/numpy_peer.py");
    let peer_found = shared_peer.is_file();
    let peer_name = if peer_found {
        "NumPy peer (`../shared/bench/numpy_peer.py`)".to_string()
    } else {
        "NumPy reference (`scripts/reference_numpy.py`: the shared peer `../shared/bench/numpy_peer.py` was not found)"
            .to_string()
    };
    let mut ours = || run_ours(&bin, &data, &fast_weights, &[]);
    let mut theirs = || match &python {
        Some(py) if peer_found => run_peer(py, &shared_peer, &data, 30),
        Some(py) => run_reference(py, &root, &data, 30, 32),
        None => unreachable!("theirs runs only with NumPy"),
    };
    let headline = alternate(runs, &mut ours, python.as_ref().map(|_| &mut theirs as Runner))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let level = mnistlearn_core::math::SimdLevel::detect();
    let train_s = median(&headline.ours_s());
    table.push((
        format!("mnistlearn train, 30 epochs (training loop, {threads} threads, {level}), median of {runs}"),
        with_runs(&headline.ours_s(), seconds),
    ));
    json.insert("train_seconds".into(), train_s.into());
    json.insert("train_seconds_runs".into(), headline.ours_s().into());
    if !headline.theirs.is_empty() {
        let ratios = headline.ratios();
        table.push((
            format!("{peer_name}, 30 epochs (training loop), median of {runs}"),
            with_runs(&headline.theirs_s(), seconds),
        ));
        table.push((
            format!("**speed-up over the NumPy peer** (training loop, median of the {runs} per-pair ratios)"),
            format!("**{}**{}", times(median(&ratios)), runs_list(&ratios, times)),
        ));
        json.insert(
            "peer".into(),
            if peer_found { "../shared/bench/numpy_peer.py" } else { "scripts/reference_numpy.py" }.into(),
        );
        json.insert("peer_train_seconds".into(), median(&headline.theirs_s()).into());
        json.insert("peer_train_seconds_runs".into(), headline.theirs_s().into());
        json.insert("speedup_vs_peer".into(), median(&ratios).into());
        json.insert("speedup_vs_peer_runs".into(), ratios.into());
    }
    let wall_s = median(&headline.ours.iter().map(|t| t.wall_s).collect::<Vec<_>>());
    let rss_mib = headline.ours.iter().map(|t| t.rss_mib).fold(0.0, f64::max);
    table.push(("mnistlearn train, whole process (load + train + save + test), median".into(), seconds(wall_s)));
    table.push(("mnistlearn train, peak RSS".into(), format!("{rss_mib:.1} MiB")));
    json.insert("process_seconds".into(), wall_s.into());
    json.insert("peak_rss_mib".into(), rss_mib.into());
    if !headline.theirs.is_empty() {
        let peer_wall = median(&headline.theirs.iter().map(|t| t.wall_s).collect::<Vec<_>>());
        let peer_rss = headline.theirs.iter().map(|t| t.rss_mib).fold(0.0, f64::max);
        table.push((
            "NumPy peer, whole process (median) / peak RSS".into(),
            format!("{peer_wall:.3} s / {peer_rss:.1} MiB"),
        ));
    }
    let accuracy = |t: &[Timed]| t.last().and_then(|t| t.test).map_or("?".to_string(), |p| format!("{p:.2}%"));
    if headline.theirs.is_empty() {
        table.push(("mnistlearn test accuracy".into(), accuracy(&headline.ours)));
    } else {
        table.push((
            "test accuracy: mnistlearn / NumPy peer".into(),
            format!("{} / {}", accuracy(&headline.ours), accuracy(&headline.theirs)),
        ));
    }
    let fast_sha = content_sha256(&fast_weights).map_err(|e| e.to_string())?;

    // (b) The scalar, single-thread reference path must write the same bytes.
    let scalar_weights = out_dir.join("weights-scalar.bin");
    let scalar = run_ours(&bin, &data, &scalar_weights, &["--simd", "scalar", "--threads", "1"])?;
    let scalar_sha = content_sha256(&scalar_weights).map_err(|e| e.to_string())?;
    let identical = scalar_sha == fast_sha;
    table.push(("scalar reference path, 1 thread (training loop)".into(), seconds(scalar.train_s)));
    table.push((
        "weights.bin identical to the scalar reference".into(),
        if identical { "yes".into() } else { "NO".into() },
    ));
    json.insert("scalar_train_seconds".into(), scalar.train_s.into());
    json.insert("identical_to_scalar".into(), identical.into());
    json.insert("weights_sha256".into(), fast_sha.clone().into());

    // (c) Wider networks against the NumPy reference at the same width (the shared peer has
    // h = 32 built in). First that reference against the peer, at h = 32 and alternated, so
    // the page shows whether it is as fast: the wider ratios are only as fair as it is.
    if let (Some(py), true) = (&python, peer_found) {
        let mut reference = || run_reference(py, &root, &data, WIDTH_EPOCHS, 32);
        let mut peer = || run_peer(py, &shared_peer, &data, WIDTH_EPOCHS);
        let pairs = alternate(runs, &mut reference, Some(&mut peer))?;
        // The reference's time over the peer's, pair by pair: at most 1 when it is as fast.
        let ratios: Vec<f64> = pairs.ratios().iter().map(|r| 1.0 / r).collect();
        table.push((
            format!(
                "h = 32, {WIDTH_EPOCHS} epochs (training loop): `scripts/reference_numpy.py` / the NumPy peer, \
                 medians of {runs}"
            ),
            format!("{} / {}", seconds(median(&pairs.ours_s())), seconds(median(&pairs.theirs_s()))),
        ));
        table.push((
            format!(
                "`scripts/reference_numpy.py`'s time ÷ the NumPy peer's (median of the {runs} per-pair ratios; \
                 at most 1: as fast)"
            ),
            with_runs(&ratios, |x| format!("{x:.2}")),
        ));
        json.insert(
            "reference_vs_peer".into(),
            json!({"hidden": 32, "epochs": WIDTH_EPOCHS, "reference_train_seconds": pairs.ours_s(),
                "peer_train_seconds": pairs.theirs_s(), "reference_over_peer": median(&ratios),
                "reference_over_peer_runs": ratios}),
        );
    }
    if let Some(py) = &python {
        let mut widths = Vec::new();
        for hidden in WIDTHS {
            let (h, e) = (hidden.to_string(), WIDTH_EPOCHS.to_string());
            let weights = out_dir.join(format!("weights-h{hidden}.bin"));
            let mut ours = || run_ours(&bin, &data, &weights, &["--hidden", &h, "--epochs", &e]);
            let mut theirs = || run_reference(py, &root, &data, WIDTH_EPOCHS, hidden);
            let pairs = alternate(runs, &mut ours, Some(&mut theirs))?;
            let ratios = pairs.ratios();
            table.push((
                format!(
                    "h = {hidden}, {WIDTH_EPOCHS} epochs (training loop): mnistlearn / `scripts/reference_numpy.py \
                     --hidden {hidden}`, medians of {runs}"
                ),
                format!("{} / {}", seconds(median(&pairs.ours_s())), seconds(median(&pairs.theirs_s()))),
            ));
            table.push((
                format!("speed-up at h = {hidden} (median of the {runs} per-pair ratios)"),
                with_runs(&ratios, times),
            ));
            widths.push(json!({"hidden": hidden, "epochs": WIDTH_EPOCHS, "train_seconds": pairs.ours_s(),
                "numpy_train_seconds": pairs.theirs_s(), "speedup": median(&ratios), "speedup_runs": ratios}));
        }
        json.insert("widths".into(), widths.into());
    }

    // (d) Where a batch's time goes, phase by phase.
    let mut profile_page = String::new();
    let mut profiles = Vec::new();
    for hidden in PROFILED {
        match time_phases(&bin, &data, hidden, None) {
            Ok((profile, raw)) => {
                profile_page += &phases::render(&profile);
                profile_page += "\n";
                profiles.push(raw);
            }
            Err(e) => {
                println!("bench: {e}");
                profile_page += &format!("h = {hidden}: not measured ({}).\n\n", e.replace('\n', " "));
            }
        }
    }
    json.insert("phases".into(), profiles.into());
    // (d') The default width on one thread and on all, alternated: what dividing the work costs.
    let team = std::thread::available_parallelism().map_or(1, |n| n.get());
    if team > 1 {
        let mut pairs = Vec::new();
        let mut raw = Vec::new();
        for _ in 0..runs {
            let one = time_phases(&bin, &data, 32, Some(1));
            let all = time_phases(&bin, &data, 32, Some(team));
            match (one, all) {
                (Ok(one), Ok(all)) => {
                    raw.push(json!({"one_thread": one.1, "team": all.1}));
                    pairs.push((one.0, all.0));
                }
                (Err(e), _) | (_, Err(e)) => {
                    println!("bench: {e}");
                    break;
                }
            }
        }
        profile_page += &phases::render_scaling(&pairs);
        json.insert("scaling".into(), raw.into());
    }
    // (e) The bare forward pass.
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

    // (f) The server round trip.
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
    let notes = PageNotes { runs, load_at_start, numpy, profile: profile_page };
    std::fs::write(&page, measurements_page(&root, &table, &notes)).map_err(|e| format!("{}: {e}", page.display()))?;
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

/// `mnistlearn time-phases` at width `hidden`: the parsed profile and its JSON as printed.
/// On `threads` threads if given, else `time-phases`' default (every CPU).
fn time_phases(
    bin: &Path,
    data: &Path,
    hidden: u32,
    threads: Option<usize>,
) -> Result<(phases::Profile, serde_json::Value), String> {
    let mut cmd = Command::new(bin);
    cmd.arg("time-phases").arg("--data").arg(data).args([
        "--hidden",
        &hidden.to_string(),
        "--epochs",
        &PROFILE_EPOCHS.to_string(),
    ]);
    if let Some(threads) = threads {
        cmd.args(["--threads", &threads.to_string()]);
    }
    let output = cmd.output().map_err(|e| format!("mnistlearn time-phases: cannot start: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("no message");
        return Err(format!("`mnistlearn time-phases` failed: {first}"));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let profile = phases::parse(&stdout)?;
    println!(
        "bench: time-phases --hidden {hidden} ({} threads): {} phases, training {:.3} s",
        profile.threads,
        profile.phases.len(),
        profile.train_seconds
    );
    Ok((profile, serde_json::from_str(stdout.trim()).map_err(|e| e.to_string())?))
}

/// The generated page of measurements (commit it after a `bench` run on purpose).
const MEASUREMENTS: &str = "book/src/measurements.md";

/// The first field of /proc/loadavg: the 1-minute load average.
fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split(' ').next().map(str::to_string))
}

/// What the measurements page says besides the table.
struct PageNotes {
    runs: usize,
    load_at_start: Option<String>,
    /// `NumPy 2.4.6`, when NumPy ran.
    numpy: Option<String>,
    /// The per-phase profile's Markdown (may be empty).
    profile: String,
}

/// The measurements page: when, on what and at which commit, then the table, then the profile.
fn measurements_page(root: &Path, table: &[(String, String)], notes: &PageNotes) -> String {
    let runs = notes.runs;
    let s = if runs == 1 { "" } else { "s" };
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
    let load = match (&notes.load_at_start, load_average()) {
        (Some(start), Some(end)) => format!("; load average {start} as it started, {end} as it finished"),
        (None, Some(end)) => format!("; load average {end} as it finished"),
        _ => String::new(),
    };
    let mut page = String::from(
        "# Measurements\n\n<!-- Written by `cargo xtask bench`: run it again rather than editing this page. -->\n\n",
    );
    page += &format!(
        "Measured by `cargo xtask bench --runs {runs}` on {} at commit `{commit}`{}, on {cpu} ({cpus} logical CPUs, {} {}{kernel}, {}{}){load}.\n\n",
        utc_now(),
        if dirty { " with uncommitted changes" } else { "" },
        std::env::consts::OS,
        std::env::consts::ARCH,
        output("rustc", &["--version"]),
        notes.numpy.as_ref().map_or(String::new(), |v| format!(", {v}")),
    );
    page += &format!(
        "Each comparison alternates the two programs, {runs} pair{s} in a row (mnistlearn first in each pair), and \
         gives each side's median (its runs in brackets) and the median of the per-pair ratios, so that a \
         load which comes and goes falls on both sides. All times are the training loop only, as each program \
         reports it (data loading and testing excluded). Timings are not golden: they change with the machine and \
         its load, so compare two builds only on one machine, in one session, alternating them. What never \
         changes is the weights: the fast path's `weights.bin` must be the scalar reference's, byte for byte (the \
         command fails otherwise).\n\n| measure | result |\n|---|---|\n"
    );
    for (k, v) in table {
        page += &format!("| {k} | {v} |\n");
    }
    page += "\nFor comparison, the original (NASM) reported 60–135 s for its 30 epochs, \"hardware dependent\", and \
             about 700 µs per round trip of its drawing app.\n";
    if !notes.profile.is_empty() {
        page += &format!(
            "\n## Where a training batch's time goes\n\n`mnistlearn time-phases` trains {PROFILE_EPOCHS} epochs and \
             counts the cycles each phase of a batch takes, beside the phase's floor: the fewest cycles its arithmetic \
             or its memory traffic allows on this machine, counted as the last column says.\n\n{}",
            notes.profile
        );
    }
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
