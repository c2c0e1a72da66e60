//! Timed training runs for `cargo xtask bench`, alternated in pairs: ours, theirs, ours, theirs,
//! … so that a load which comes and goes on a shared machine falls on both sides; each side's
//! median and the median of the per-pair ratios are what the measurements page reports.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::util::{parse_overall, parse_training_seconds};

/// Runs a command, returning stdout, wall seconds and peak RSS in MiB (from `wait4`).
pub fn run_measured(cmd: &mut Command, what: &str) -> Result<(String, f64, f64), String> {
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

/// One timed training run: the training loop's seconds as the program reports them, and the
/// whole process as the harness sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed {
    pub train_s: f64,
    pub wall_s: f64,
    pub rss_mib: f64,
    /// Test accuracy in percent, when the program printed one.
    pub test: Option<f64>,
}

/// Timed runs of two programs, alternated: ours, theirs, ours, theirs, …
#[derive(Debug, Default)]
pub struct Pairs {
    pub ours: Vec<Timed>,
    pub theirs: Vec<Timed>,
}

pub type Runner<'a> = &'a mut dyn FnMut() -> Result<Timed, String>;

/// `pairs` alternated runs of `ours` and (when given) `theirs`, ours first in each pair.
pub fn alternate(pairs: usize, ours: Runner, mut theirs: Option<Runner>) -> Result<Pairs, String> {
    let mut out = Pairs::default();
    for _ in 0..pairs {
        out.ours.push(ours()?);
        if let Some(theirs) = theirs.as_mut() {
            out.theirs.push(theirs()?);
        }
    }
    Ok(out)
}

impl Pairs {
    pub fn ours_s(&self) -> Vec<f64> {
        self.ours.iter().map(|t| t.train_s).collect()
    }
    pub fn theirs_s(&self) -> Vec<f64> {
        self.theirs.iter().map(|t| t.train_s).collect()
    }
    /// Their time over ours, pair by pair: how many times faster we were in each pair.
    pub fn ratios(&self) -> Vec<f64> {
        self.ours.iter().zip(&self.theirs).map(|(o, t)| t.train_s / o.train_s).collect()
    }
}

/// The median (the mean of the middle two for an even count); NaN for none.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `median (a, b, c)` with each value formatted by `f`: the runs beside their median.
pub fn with_runs(xs: &[f64], f: impl Fn(f64) -> String) -> String {
    format!("{}{}", f(median(xs)), runs_list(xs, f))
}

/// ` (a, b, c)`, or nothing for a single run.
pub fn runs_list(xs: &[f64], f: impl Fn(f64) -> String) -> String {
    if xs.len() < 2 {
        return String::new();
    }
    format!(" ({})", xs.iter().map(|&x| f(x)).collect::<Vec<_>>().join(", "))
}

pub fn seconds(x: f64) -> String {
    format!("{x:.3} s")
}

pub fn times(x: f64) -> String {
    format!("{x:.1}×")
}

/// `mnistlearn train` with `extra` flags, writing `out`.
pub fn run_ours(bin: &Path, data: &Path, out: &Path, extra: &[&str]) -> Result<Timed, String> {
    let mut cmd = Command::new(bin);
    cmd.arg("train").arg("--data").arg(data).arg("--out").arg(out).args(extra);
    let what = format!("mnistlearn train {}", extra.join(" "));
    let (stdout, wall_s, rss_mib) = run_measured(&mut cmd, what.trim_end())?;
    let lines: Vec<String> = stdout.lines().map(String::from).collect();
    let train_s = parse_training_seconds(&lines).ok_or_else(|| format!("{what}: no 'Training time' line"))?;
    let test = parse_overall(&lines).map(|(p, _, _)| p);
    println!("bench: {what}: training {train_s:.3} s, process {wall_s:.3} s, peak RSS {rss_mib:.1} MiB");
    Ok(Timed { train_s, wall_s, rss_mib, test })
}

/// The shared peer, `python3 numpy_peer.py DATA_DIR EPOCHS SEED` (seed 1), which prints
/// `train_seconds S` and `Overall accuracy: P% (…)`.
pub fn run_peer(python: &Path, peer: &Path, data: &Path, epochs: u32) -> Result<Timed, String> {
    let mut cmd = Command::new(python);
    cmd.arg(peer).arg(data).args([&epochs.to_string(), "1"]);
    let (stdout, wall_s, rss_mib) = run_measured(&mut cmd, &peer.display().to_string())?;
    let lines: Vec<String> = stdout.lines().map(String::from).collect();
    let train_s = parse_peer_seconds(&lines).ok_or_else(|| format!("{}: no 'train_seconds' line", peer.display()))?;
    println!(
        "bench: NumPy peer, {epochs} epochs: training {train_s:.3} s, process {wall_s:.3} s, peak RSS {rss_mib:.1} MiB"
    );
    Ok(Timed { train_s, wall_s, rss_mib, test: parse_overall(&lines).map(|(p, _, _)| p) })
}

/// `train_seconds 8.950` → 8.95.
pub fn parse_peer_seconds(lines: &[String]) -> Option<f64> {
    lines.iter().find_map(|l| l.strip_prefix("train_seconds ")?.trim().parse().ok())
}

/// `scripts/reference_numpy.py --epochs E --hidden H`, its figures read from its `--json` report.
pub fn run_reference(python: &Path, root: &Path, data: &Path, epochs: u32, hidden: u32) -> Result<Timed, String> {
    let report_path = root.join("target/bench/numpy.json");
    let mut cmd = Command::new(python);
    cmd.arg(root.join("scripts/reference_numpy.py"))
        .arg("--data")
        .arg(data)
        .args(["--epochs", &epochs.to_string(), "--hidden", &hidden.to_string()])
        .arg("--json")
        .arg(&report_path);
    let (_, wall_s, rss_mib) = run_measured(&mut cmd, "scripts/reference_numpy.py")?;
    let read = |e: String| format!("{}: {e}", report_path.display());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).map_err(|e| read(e.to_string()))?)
            .map_err(|e| read(e.to_string()))?;
    let train_s = report["train_seconds"].as_f64().ok_or_else(|| read("no train_seconds".into()))?;
    println!(
        "bench: reference_numpy.py --hidden {hidden} --epochs {epochs}: training {train_s:.3} s, process {wall_s:.3} s"
    );
    Ok(Timed { train_s, wall_s, rss_mib, test: report["test_accuracy"].as_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(train_s: f64) -> Timed {
        Timed { train_s, wall_s: train_s + 0.5, rss_mib: 1.0, test: None }
    }

    #[test]
    fn medians_take_the_middle_run() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn pairs_alternate_and_ratios_are_per_pair() {
        let log = std::cell::RefCell::new(Vec::new());
        let mut ours_times = [1.0, 2.0, 4.0].into_iter();
        let mut theirs_times = [5.0, 8.0, 20.0].into_iter();
        let mut ours = || {
            log.borrow_mut().push("ours");
            Ok(timed(ours_times.next().unwrap()))
        };
        let mut theirs = || {
            log.borrow_mut().push("theirs");
            Ok(timed(theirs_times.next().unwrap()))
        };
        let pairs = alternate(3, &mut ours, Some(&mut theirs)).unwrap();
        assert_eq!(*log.borrow(), ["ours", "theirs", "ours", "theirs", "ours", "theirs"]);
        assert_eq!(pairs.ratios(), [5.0, 4.0, 5.0]);
        // The median of the per-pair ratios (5), not the ratio of the medians (8 / 2 = 4).
        assert_eq!(median(&pairs.ratios()), 5.0);
        assert_eq!(with_runs(&pairs.ratios(), times), "5.0× (5.0×, 4.0×, 5.0×)");
        assert_eq!(with_runs(&pairs.ours_s(), seconds), "2.000 s (1.000 s, 2.000 s, 4.000 s)");
    }

    #[test]
    fn without_a_peer_only_ours_runs() {
        let mut n = 0;
        let mut ours = || {
            n += 1;
            Ok(timed(n as f64))
        };
        let pairs = alternate(2, &mut ours, None).unwrap();
        assert_eq!((pairs.ours.len(), pairs.theirs.len()), (2, 0));
        assert!(pairs.ratios().is_empty());
        assert_eq!(with_runs(&[1.5], seconds), "1.500 s");
    }

    #[test]
    fn a_failed_run_stops_the_comparison() {
        let mut ours = || Ok(timed(1.0));
        let mut theirs = || Err("peer: exited with status 1".to_string());
        assert_eq!(alternate(3, &mut ours, Some(&mut theirs)).unwrap_err(), "peer: exited with status 1");
    }

    #[test]
    fn reads_the_peers_train_seconds() {
        let lines: Vec<String> =
            ["Epoch 30/30 | Loss: 0.0812", "Overall accuracy: 96.59% (9659/10000)", "train_seconds 8.950"]
                .map(String::from)
                .to_vec();
        assert_eq!(parse_peer_seconds(&lines), Some(8.95));
        assert_eq!(parse_overall(&lines).map(|o| o.0), Some(96.59));
        assert_eq!(parse_peer_seconds(&lines[..2]), None);
    }
}
