//! `cargo xtask figures [--check]`: the book's figures, drawn from the default seed-1 run.
//!
//! Inputs: `data/weights.bin` and `data/train-log.jsonl`, which `cargo xtask verify` leaves
//! (`mnistlearn train --log`), and the MNIST test set in `data/`. The weights must be the golden
//! run's (their SHA-256 is checked against `golden/full_run.txt`), and the log's loss and
//! training accuracy must print as the golden log prints them, so the figures always show the
//! one deterministic run the book talks about.
//!
//! The run's figures are the release binary's: `mnistlearn figures` draws them, as it does for
//! anyone's run. Only the two that need the correctly rounded reference (`exact.rs`), exp's and
//! ln's ulps, are drawn here, in the same house style (`mnistlearn_figures::style`).
//!
//! Output: SVG files in `book/src/figures/` (committed, so `mdbook serve book` shows them with
//! no build step). They are golden files: `--check` draws them again and fails if a byte differs
//! from the committed ones (`verify` runs it after training); the fresh drawings of a failed check
//! are left in `target/figures-check/` to look at.

use std::fs;
use std::path::Path;
use std::process::Command;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use mnistlearn_figures::parse_log;
use mnistlearn_figures::style::*;

use crate::paths::{FIGURES_DIR, GOLDEN, TRAIN_LOG, WEIGHTS};
use crate::util::{build_release, run_checked};

pub fn run(args: &[String]) -> Result<(), String> {
    let check = crate::util::optional_flag("figures", args, "--check")?;
    let root = crate::paths::project_root();
    check_golden_run(&root)?;
    let mut figures = draw_run(&root)?;
    for (name, f) in [("exp-ulps.svg", Function::Exp), ("ln-ulps.svg", Function::Ln)] {
        let svg = ulp_figure(f).map_err(|e| format!("figures: drawing {name} failed: {e}"))?;
        figures.push((name.to_string(), svg.into_bytes()));
    }
    let dir = root.join(FIGURES_DIR);
    if check {
        let differing = compare(&dir, &figures);
        if differing.is_empty() {
            println!("figures: the {} figures in {FIGURES_DIR} match the run byte for byte", figures.len());
            return Ok(());
        }
        let fresh = root.join("target/figures-check");
        write_all(&fresh, &figures)?;
        return Err(format!(
            "figures: {} differ from the committed ones: {}\n  fresh drawings are in {}; if the change is meant, \
             run `cargo xtask figures` and commit the figures with the reason",
            differing.len(),
            differing.join(", "),
            fresh.display()
        ));
    }
    write_all(&dir, &figures)?;
    println!("figures: wrote {} figures to {FIGURES_DIR}", figures.len());
    Ok(())
}

/// The weights and the log in `data/` must be the golden run's.
fn check_golden_run(root: &Path) -> Result<(), String> {
    let weights = root.join(WEIGHTS);
    let log_path = root.join(TRAIN_LOG);
    let golden_path = root.join(GOLDEN);
    let hint = "run `cargo xtask verify` first (it trains the default run and writes both)";
    for path in [&weights, &log_path] {
        if !path.exists() {
            return Err(format!("figures: {} not found; {hint}", path.display()));
        }
    }
    let golden = fs::read_to_string(&golden_path).map_err(|e| format!("figures: {}: {e}", golden_path.display()))?;
    let golden_sha = golden
        .lines()
        .find_map(|l| l.strip_prefix("weights.bin sha256: "))
        .ok_or_else(|| format!("figures: {} has no 'weights.bin sha256:' line", golden_path.display()))?;
    let sha = crate::fetch::content_sha256(&weights).map_err(|e| format!("figures: {}: {e}", weights.display()))?;
    if sha != golden_sha {
        return Err(format!(
            "figures: {} is not the default seed-1 run's (sha256 {sha}, {GOLDEN} expects {golden_sha}); {hint}",
            weights.display()
        ));
    }
    let log_text = fs::read_to_string(&log_path).map_err(|e| format!("figures: {}: {e}", log_path.display()))?;
    let log = parse_log(&log_text).map_err(|e| format!("figures: {}: {e}", log_path.display()))?;
    check_log_against_golden(&log, &golden).map_err(|e| format!("figures: {}: {e}; {hint}", log_path.display()))
}

/// `mnistlearn figures` on the golden run, into a fresh `target/figures-run/`: its files, by name.
fn draw_run(root: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let bin = build_release()?;
    let out = root.join("target/figures-run");
    let _ = fs::remove_dir_all(&out);
    let mut cmd = Command::new(bin);
    cmd.arg("figures")
        .arg("--weights")
        .arg(root.join(WEIGHTS))
        .arg("--log")
        .arg(root.join(TRAIN_LOG))
        .arg("--data")
        .arg(root.join("data"))
        .arg("--out")
        .arg(&out);
    run_checked(cmd, "mnistlearn figures")?;
    let mut names: Vec<String> = fs::read_dir(&out)
        .map_err(|e| format!("figures: {}: {e}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| fs::read(out.join(&name)).map(|bytes| (name, bytes)).map_err(|e| format!("figures: {e}")))
        .collect()
}

// ANCHOR: compare
/// The names of the figures whose committed bytes differ from `figures` (or are missing).
pub fn compare(dir: &Path, figures: &[(String, Vec<u8>)]) -> Vec<String> {
    figures
        .iter()
        .filter(|(name, bytes)| fs::read(dir.join(name)).map_or(true, |old| &old != bytes))
        .map(|(name, _)| name.clone())
        .collect()
}
// ANCHOR_END: compare

fn write_all(dir: &Path, figures: &[(String, Vec<u8>)]) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("figures: {}: {e}", dir.display()))?;
    for (name, bytes) in figures {
        let path = dir.join(name);
        fs::write(&path, bytes).map_err(|e| format!("figures: {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The log must be the golden run's: each epoch's loss and accuracy print as the golden log does.
fn check_log_against_golden(log: &[mnistlearn_figures::EpochRecord], golden: &str) -> Result<(), String> {
    let epochs = crate::util::parse_epochs(&golden.lines().map(str::to_string).collect::<Vec<_>>());
    if epochs.len() != log.len() {
        return Err(format!("{} epochs, the golden run has {}", log.len(), epochs.len()));
    }
    for (r, golden_line) in log.iter().zip(golden.lines().filter(|l| l.starts_with("Epoch "))) {
        let printed = format!("Loss: {:.4} | Accuracy: {:.2}%", r.loss, r.train_accuracy);
        if !golden_line.ends_with(&printed) {
            return Err(format!("epoch {} reads '{printed}', the golden log '{golden_line}'", r.epoch));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// exp and ln against the correctly rounded result, in ulps

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Exp,
    Ln,
}

/// Per bin of the domain: (bin centre, share of samples at −1, share at +1 ulp, worst |ulps|).
struct UlpBins {
    centres: Vec<f64>,
    below: Vec<f64>,
    above: Vec<f64>,
    worst: i64,
    samples: usize,
}

/// Samples each bin evenly. For exp the axis is x over its whole finite, non-zero range; for ln
/// it is log2(x) over every binade, normal and subnormal.
fn ulp_bins(f: Function, bins: usize, per_bin: usize) -> Res<UlpBins> {
    let (lo, hi) = match f {
        Function::Exp => (-745.0, 709.7),
        Function::Ln => (-1074.0, 1024.0),
    };
    let mut out = UlpBins { centres: vec![], below: vec![], above: vec![], worst: 0, samples: 0 };
    for b in 0..bins {
        let (a, z) = (lo + (hi - lo) * b as f64 / bins as f64, lo + (hi - lo) * (b + 1) as f64 / bins as f64);
        let (mut below, mut above) = (0usize, 0usize);
        for s in 0..per_bin {
            let t = a + (z - a) * (s as f64 + 0.5) / per_bin as f64;
            let (ours, reference, input) = match f {
                Function::Exp => (mnistlearn_core::math::exp::exp(t), crate::exact::exp(t), t),
                Function::Ln => {
                    // x = (1 + frac t) · 2^floor(t): every binade, without libm's exp2.
                    let x = (1.0 + (t - t.floor())) * crate::exact::pow2(t.floor() as i32);
                    (mnistlearn_core::math::ln::ln(x), crate::exact::ln(x), x)
                }
            };
            let reference = reference
                .ok_or_else(|| format!("{f:?}({input:e}) is too close to a rounding midpoint for crate::exact"))?;
            let d = crate::exact::ulp_diff(ours, reference);
            out.worst = out.worst.max(d.abs());
            below += (d < 0) as usize;
            above += (d > 0) as usize;
        }
        out.centres.push((a + z) / 2.0);
        out.below.push(100.0 * below as f64 / per_bin as f64);
        out.above.push(100.0 * above as f64 / per_bin as f64);
        out.samples += per_bin;
    }
    Ok(out)
}

pub fn ulp_figure(f: Function) -> Res<String> {
    let (name, x_desc, bins, per_bin) = match f {
        Function::Exp => ("exp", "x", 300, 2000),
        Function::Ln => ("ln", "log₂ x (x from the smallest subnormal to the largest double)", 300, 2000),
    };
    let data = ulp_bins(f, bins, per_bin)?;
    let peak = data.below.iter().chain(&data.above).fold(0.0f64, |m, &v| m.max(v));
    let y_max = ((peak * 1.3) / 2.0).ceil().max(1.0) * 2.0;
    card(420, |root| {
        title(root, &format!("Our {name} against the correctly rounded result, in ulps"))?;
        text(
            root,
            &format!(
                "{} inputs in {} bins; worst difference: {} ulp; the rest of each bin is exactly equal",
                group_thousands(data.samples),
                bins,
                data.worst
            ),
            (WIDTH as i32 / 2, 42),
            13,
            HPos::Center,
        )?;
        let body = root.margin(52, 6, 8, 16);
        let half = (data.centres[1] - data.centres[0]) / 2.0;
        let (lo, hi) = (data.centres[0] - half, data.centres[data.centres.len() - 1] + half);
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(58)
            .build_cartesian_2d(lo..hi, -y_max..y_max)?;
        house_mesh(&mut chart.configure_mesh())
            .x_desc(x_desc)
            .y_desc("share of the bin's inputs (%)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            // Both directions are shares: the axis counts up from zero each way.
            .y_label_formatter(&|v| format!("{:.0}", v.abs()))
            .draw()?;
        // Mirrored bars, one per bin: above the correctly rounded result upwards, below downwards.
        for (values, sign, colour) in [(&data.above, 1.0, TEST_COLOUR), (&data.below, -1.0, TRAIN_COLOUR)] {
            chart.draw_series(
                data.centres
                    .iter()
                    .zip(values.iter())
                    .filter(|(_, &v)| v > 0.0)
                    .map(|(&c, &v)| Rectangle::new([(c - half, 0.0), (c + half, sign * v)], colour.filled())),
            )?;
        }
        chart.draw_series(LineSeries::new([(lo, 0.0), (hi, 0.0)], INK.stroke_width(1)))?;
        let area = chart.plotting_area();
        let at = lo + (hi - lo) * 0.02;
        area.draw(&Text::new(
            "↑ ours 1 ulp above",
            (at, y_max * 0.9),
            text_style(14, TEST_COLOUR, HPos::Left, VPos::Center),
        ))?;
        area.draw(&Text::new(
            "↓ ours 1 ulp below",
            (at, -y_max * 0.9),
            text_style(14, TRAIN_COLOUR, HPos::Left, VPos::Center),
        ))?;
        Ok(vec![])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_reports_exactly_the_figures_whose_bytes_differ() {
        let dir = tempfile::tempdir().unwrap();
        let figures = vec![("a.svg".to_string(), b"<svg/>".to_vec()), ("b.svg".to_string(), b"<svg></svg>".to_vec())];
        write_all(dir.path(), &figures).unwrap();
        assert!(compare(dir.path(), &figures).is_empty());
        let mut changed = figures.clone();
        changed[1].1[1] = b'S';
        assert_eq!(compare(dir.path(), &changed), vec!["b.svg".to_string()]);
        fs::remove_file(dir.path().join("a.svg")).unwrap();
        assert_eq!(compare(dir.path(), &figures), vec!["a.svg".to_string()]);
    }

    #[test]
    fn the_log_is_read_and_must_match_the_golden_run() {
        let log = "{\"epoch\":1,\"loss\":0.60634,\"train_correct\":51240,\"train_total\":60000,\"train_accuracy\":85.4,\"test_correct\":9000,\"test_total\":10000,\"test_accuracy\":90.0,\"elapsed_s\":0.1}\n";
        let records = parse_log(log).unwrap();
        let golden = "Epoch 1/1 | Loss: 0.6063 | Accuracy: 85.40%\n";
        assert!(check_log_against_golden(&records, golden).is_ok());
        let other = "Epoch 1/1 | Loss: 0.6064 | Accuracy: 85.40%\n";
        assert!(check_log_against_golden(&records, other).unwrap_err().contains("epoch 1"));
    }
}
