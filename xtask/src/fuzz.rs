//! `cargo xtask fuzz [--count N] [--seed S]`: the release binary against seeded mutations of the
//! committed fixture's IDX files and of a weights file, one process per case.
//!
//! Each case writes one damaged file beside intact copies of the others and runs `mnistlearn
//! train` (a training file damaged) or `mnistlearn test` (a test file or the weights damaged)
//! under an address-space limit of 1 GiB, with a 20 s wall-clock limit. A case passes when the
//! process exits 0, or exits 1 with exactly one stderr line `mnistlearn: error: …`. A panic
//! (exit 101 or "panicked"), a signal (abort, segfault — also what an allocation beyond the
//! limit becomes), a hang, or any other outcome is a failure. The run also reports the peak RSS
//! over all cases (from `wait4`) and the slowest case, and fails if the peak passes 100 MiB.
//!
//! The mutations (a fixed PCG seed, so every run tries the same cases): bit flips (half of them
//! in the header), truncations, huge counts (2³⁰, 2³¹, 0xFFFFFFFE, 0xFFFFFFFF, random), zero
//! counts and dimensions, huge dimensions, wrong type and dimension-count bytes, trailing data,
//! and, on gzipped output, flipped and truncated deflate streams, garbage after the stream,
//! split multi-member streams, and small "bombs" (a huge count followed by megabytes of zeros
//! that compress to kilobytes). Weights: bit flips, every size class (other hidden sizes,
//! off-by-one, 0, 2 GiB sparse), NaN/±∞/±10³⁰⁸/just past the ±10⁶ bound in random slots, and
//! non-files (a directory, a FIFO, /dev/zero).

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg32;

use crate::util::build_release;

const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
const RSS_LIMIT_MIB: f64 = 100.0;
const AS_LIMIT: u64 = 1 << 30;
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

struct Options {
    count: usize,
    seed: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options { count: 2000, seed: 0x5eed_f022 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("fuzz: {flag} needs a value"))?;
        match flag.as_str() {
            "--count" => {
                options.count = value.parse().ok().filter(|&n| n > 0).ok_or("fuzz: --count needs a positive number")?
            }
            "--seed" => options.seed = value.parse().map_err(|_| "fuzz: --seed needs an unsigned integer")?,
            other => return Err(format!("fuzz: unknown flag '{other}' (expected --count N, --seed S)")),
        }
    }
    Ok(options)
}

/// What one run of the binary did.
struct Outcome {
    /// `Ok(code)` for an exit, `Err(description)` for a signal or a hang.
    exit: Result<i32, String>,
    stderr: String,
    seconds: f64,
    rss_mib: f64,
}

/// The tally of a whole run.
#[derive(Default)]
struct Tally {
    cases: usize,
    ok: usize,
    errors: usize,
    failures: Vec<String>,
    peak_rss: (f64, String),
    slowest: (f64, String),
}

impl Tally {
    fn record(&mut self, what: &str, outcome: Outcome) {
        self.cases += 1;
        if outcome.rss_mib > self.peak_rss.0 {
            self.peak_rss = (outcome.rss_mib, what.to_string());
        }
        if outcome.seconds > self.slowest.0 {
            self.slowest = (outcome.seconds, what.to_string());
        }
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        let problem = match outcome.exit {
            Ok(0) if !outcome.stderr.contains("panicked") => {
                self.ok += 1;
                None
            }
            Ok(1) if lines.len() == 1 && lines[0].starts_with("mnistlearn: error: ") => {
                self.errors += 1;
                None
            }
            Ok(101) => Some("panic".to_string()),
            Ok(code) => Some(format!("exit {code}")),
            Err(e) => Some(e),
        };
        if let Some(problem) = problem {
            let first = lines.first().copied().unwrap_or("");
            self.failures.push(format!("{what}: {problem}; stderr: {first}"));
        }
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let bin = build_release()?;
    let root = crate::paths::project_root();
    let fixture = root.join("tests/fixtures/mnist-small");
    let originals: Vec<Vec<u8>> =
        FILES.iter().map(|name| gunzip_file(&fixture.join(format!("{name}.gz")))).collect::<Result<_, _>>()?;
    let work = crate::paths::target_dir().join("fuzz");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;

    // A valid weights file to mutate, and to test the IDX mutations of the test set with.
    let weights = work.join("weights.bin");
    let mut train = Command::new(&bin);
    train.arg("train").arg("--data").arg(&fixture).arg("--out").arg(&weights).args(["--epochs", "1", "--threads", "1"]);
    let outcome = run_case(&mut train)?;
    if outcome.exit != Ok(0) {
        return Err(format!("fuzz: training the base weights failed: {}", outcome.stderr));
    }
    let base_weights = fs::read(&weights).map_err(|e| e.to_string())?;

    let mut rng = Pcg32::seed_from_u64(options.seed);
    let started = Instant::now();
    let mut idx = Tally::default();
    for case in 0..options.count {
        let dir = work.join("idx");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = rng.next_u32() as usize % FILES.len();
        let (bytes, gz, what) = mutate_idx(&mut rng, &originals[file], file);
        for (i, name) in FILES.iter().enumerate() {
            if i != file {
                fs::write(dir.join(name), &originals[i]).map_err(|e| e.to_string())?;
            }
        }
        let name = if gz { format!("{}.gz", FILES[file]) } else { FILES[file].to_string() };
        fs::write(dir.join(&name), &bytes).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&bin);
        if file < 2 {
            cmd.arg("train").arg("--data").arg(&dir).arg("--out").arg(dir.join("w.bin")).args([
                "--epochs",
                "1",
                "--threads",
                "1",
            ]);
        } else {
            cmd.arg("test").arg("--data").arg(&dir).arg("--weights").arg(&weights).args(["--threads", "1"]);
        }
        idx.record(&format!("idx case {case} ({name}: {what})"), run_case(&mut cmd)?);
    }
    let idx_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut wts = Tally::default();
    for case in 0..options.count {
        let dir = work.join("weights");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join("w.bin");
        let what = mutate_weights(&mut rng, &base_weights, &path)?;
        let mut cmd = Command::new(&bin);
        cmd.arg("test").arg("--data").arg(&fixture).arg("--weights").arg(&path).args(["--threads", "1"]);
        wts.record(&format!("weights case {case} ({what})"), run_case(&mut cmd)?);
    }
    let weights_seconds = started.elapsed().as_secs_f64();
    let _ = fs::remove_dir_all(&work);

    let floor = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().to_string()))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0);
    println!("(peak RSS below counts at least this process's own resident set, now {floor:.1} MiB)");
    let mut failed = false;
    for (name, tally, seconds) in [("IDX files", &idx, idx_seconds), ("weights files", &wts, weights_seconds)] {
        println!(
            "fuzz {name}: {} cases in {seconds:.1} s: {} ran, {} one-line errors, {} failures (panics, signals, hangs, other output)",
            tally.cases,
            tally.ok,
            tally.errors,
            tally.failures.len()
        );
        println!("  peak RSS {:.1} MiB ({})", tally.peak_rss.0, tally.peak_rss.1);
        println!("  slowest {:.2} s ({})", tally.slowest.0, tally.slowest.1);
        for failure in tally.failures.iter().take(20) {
            println!("  FAILED {failure}");
        }
        failed |= !tally.failures.is_empty() || tally.peak_rss.0 > RSS_LIMIT_MIB;
    }
    if failed {
        return Err(format!("fuzz: failures above (or a peak RSS over {RSS_LIMIT_MIB} MiB)"));
    }
    Ok(())
}

fn gunzip_file(path: &Path) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?)
        .read_to_end(&mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn below(rng: &mut Pcg32, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One damaged IDX file: (bytes, whether they are gzipped, what was done).
fn mutate_idx(rng: &mut Pcg32, original: &[u8], file: usize) -> (Vec<u8>, bool, String) {
    let mut bytes = original.to_vec();
    let header = if FILES[file].contains("images") { 16 } else { 8 };
    let huge = [1u32 << 30, 1 << 31, 0xFFFF_FFFE, 0xFFFF_FFFF, rng.next_u32()];
    let what = match below(rng, 10) {
        0 | 1 => {
            let flips = 1 + below(rng, 8);
            for _ in 0..flips {
                let at = if rng.next_u32() & 1 == 0 { below(rng, header) } else { below(rng, bytes.len()) };
                bytes[at] ^= 1 << below(rng, 8);
            }
            format!("{flips} bit flips")
        }
        2 => {
            let len = below(rng, bytes.len());
            bytes.truncate(len);
            format!("truncated to {len} bytes")
        }
        3 => {
            let count = huge[below(rng, huge.len())];
            bytes[4..8].copy_from_slice(&count.to_be_bytes());
            format!("count {count}")
        }
        4 => {
            let field = 4 * (1 + below(rng, header / 4 - 1));
            bytes[field..field + 4].copy_from_slice(&0u32.to_be_bytes());
            format!("zero in header field at {field}")
        }
        5 if header == 16 => {
            let value = [29u32, 0xFFFF, 1 << 31, 0xFFFF_FFFF][below(rng, 4)];
            let field = 8 + 4 * below(rng, 2);
            bytes[field..field + 4].copy_from_slice(&value.to_be_bytes());
            format!("dimension {value} at {field}")
        }
        6 => {
            let at = 2 + below(rng, 2);
            bytes[at] = rng.next_u32() as u8;
            format!("type/dimension byte {at} = {}", bytes[at])
        }
        7 => {
            let extra = 1 + below(rng, 5000);
            bytes.extend((0..extra).map(|_| rng.next_u32() as u8));
            format!("{extra} trailing bytes")
        }
        8 => {
            // A small bomb: a huge count, then megabytes of zeros (kilobytes once gzipped).
            let count = huge[below(rng, 4)];
            bytes.truncate(header);
            bytes[4..8].copy_from_slice(&count.to_be_bytes());
            let zeros = (1 + below(rng, 64)) << 20;
            bytes.resize(header + zeros, 0);
            return (gzip(&bytes), true, format!("gzip bomb: count {count}, {} MiB of zeros", zeros >> 20));
        }
        _ => {
            // Damage the gzip stream itself.
            let mut gz = gzip(&bytes);
            let what = match below(rng, 4) {
                0 => {
                    for _ in 0..1 + below(rng, 4) {
                        let at = below(rng, gz.len());
                        gz[at] ^= 1 << below(rng, 8);
                    }
                    "gzip with flipped bits".to_string()
                }
                1 => {
                    let len = below(rng, gz.len());
                    gz.truncate(len);
                    format!("gzip truncated to {len} bytes")
                }
                2 => {
                    gz.extend((0..1 + below(rng, 100)).map(|_| rng.next_u32() as u8));
                    "garbage after the gzip stream".to_string()
                }
                _ => {
                    let split = below(rng, bytes.len());
                    let mut two = gzip(&bytes[..split]);
                    two.extend(gzip(&bytes[split..]));
                    gz = two;
                    format!("two gzip members split at {split}")
                }
            };
            return (gz, true, what);
        }
    };
    if rng.next_u32() & 1 == 0 {
        (gzip(&bytes), true, format!("{what}, gzipped"))
    } else {
        (bytes, false, what)
    }
}

/// Writes one damaged weights file (or non-file) at `path`; says what was done.
fn mutate_weights(rng: &mut Pcg32, original: &[u8], path: &Path) -> Result<String, String> {
    let mut bytes = original.to_vec();
    let values = bytes.len() / 8;
    let what = match below(rng, 8) {
        0 | 1 => {
            let flips = 1 + below(rng, 16);
            for _ in 0..flips {
                let at = below(rng, bytes.len());
                bytes[at] ^= 1 << below(rng, 8);
            }
            format!("{flips} bit flips")
        }
        2 => {
            let size = match below(rng, 5) {
                0 => 8 * (795 * (1 + below(rng, 64)) + 10),
                1 => bytes.len() + 1,
                2 => bytes.len() - 1 - below(rng, 100),
                3 => 0,
                _ => below(rng, 2 * bytes.len()),
            };
            bytes.resize(size, 0);
            format!("{size} bytes")
        }
        3 | 4 => {
            let special = [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1e308,
                -1e308,
                1.000001e6,
                -1.000001e6,
                f64::MIN_POSITIVE / 3.0,
            ];
            let value = special[below(rng, special.len())];
            let slots = 1 + below(rng, 3);
            for _ in 0..slots {
                let at = 8 * below(rng, values);
                bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            }
            format!("{value:e} in {slots} slot(s)")
        }
        5 => {
            // Every value at the bound, with random signs: legal, and must stay finite.
            for slot in bytes.chunks_exact_mut(8) {
                let v = if rng.next_u32() & 1 == 0 { 1e6 } else { -1e6 };
                slot.copy_from_slice(&f64::to_le_bytes(v));
            }
            "every value ±1e6".to_string()
        }
        6 => {
            let f = fs::File::create(path).map_err(|e| e.to_string())?;
            f.set_len(1 << 31).map_err(|e| e.to_string())?;
            return Ok("2 GiB sparse file".into());
        }
        _ => {
            let kind = below(rng, 3);
            match kind {
                0 => fs::create_dir(path).map_err(|e| e.to_string())?,
                1 => crate::util::run_checked(
                    {
                        let mut c = Command::new("mkfifo");
                        c.arg(path);
                        c
                    },
                    "mkfifo",
                )?,
                _ => std::os::unix::fs::symlink("/dev/zero", path).map_err(|e| e.to_string())?,
            }
            return Ok(["a directory", "a FIFO", "a link to /dev/zero"][kind].into());
        }
    };
    fs::write(path, bytes).map_err(|e| e.to_string())?;
    Ok(what)
}

/// Runs one case under the address-space limit and the time limit.
///
/// The limit is set by `sh -c 'ulimit -v …; exec …'`. The peak RSS is the child's `ru_maxrss`
/// from `wait4`; Linux carries the high-water mark of the image a process replaces across
/// `exec` into it, and a spawned child starts from this process's memory, so this process's own
/// high-water mark is first brought down to its current RSS (freed heap returned to the OS with
/// `malloc_trim`, then `/proc/self/clear_refs` "5"): the figure is then the binary's peak, or
/// this process's few MiB if that is larger (printed as the floor).
fn run_case(original: &mut Command) -> Result<Outcome, String> {
    // SAFETY: malloc_trim only releases free memory.
    unsafe { libc::malloc_trim(0) };
    let _ = fs::write("/proc/self/clear_refs", "5");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", AS_LIMIT / 1024))
        .arg(original.get_program())
        .args(original.get_args());
    let started = Instant::now();
    let mut child = cmd
        .env_remove("MNISTLEARN_SIMD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("fuzz: cannot start the binary: {e}"))?;
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr_pipe.by_ref().take(1 << 16).read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let pid = child.id() as libc::pid_t;
    let mut hung = false;
    let (status, usage) = loop {
        let mut status: libc::c_int = 0;
        // SAFETY: FFI with valid out-pointers; zero is a valid rusage.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        if r < 0 {
            return Err(format!("fuzz: wait4: {}", std::io::Error::last_os_error()));
        }
        if !hung && started.elapsed() > CASE_TIMEOUT {
            hung = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let seconds = started.elapsed().as_secs_f64();
    let stderr = reader.join().unwrap_or_default();
    let exit = if hung {
        Err(format!("hang: killed after {} s", CASE_TIMEOUT.as_secs()))
    } else if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(format!("killed by signal {}", libc::WTERMSIG(status)))
    };
    Ok(Outcome { exit, stderr, seconds, rss_mib: usage.ru_maxrss as f64 / 1024.0 })
}
