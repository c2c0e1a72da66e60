//! End-to-end tests of the command line with assert_cmd: every subcommand, and every documented
//! error — a non-zero exit and one line on stderr naming the file or flag and what was expected.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::common::fixture_dir;
use assert_cmd::Command;
use predicates::prelude::*;

fn mnistlearn() -> Command {
    Command::cargo_bin("mnistlearn").unwrap()
}

/// Asserts a failure with exactly one stderr line that contains every one of `needles`.
fn fails_with(cmd: &mut Command, code: i32, needles: &[&str]) {
    let assert = cmd.assert().failure().code(code);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "expected one line, got:\n{stderr}");
    assert!(stderr.starts_with("mnistlearn: error: "), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}:\n{stderr}");
    }
}

/// A copy of the fixture directory in a temp dir, raw (un-gzipped), so tests can damage files.
fn raw_fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    {
        let gz = fs::File::open(fixture_dir().join(format!("{name}.gz"))).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut raw).unwrap();
        fs::write(dir.path().join(name), raw).unwrap();
    }
    dir
}

fn train_in(data: &Path, out: &Path) -> Command {
    let mut cmd = mnistlearn();
    cmd.arg("train").arg("--data").arg(data).arg("--out").arg(out).args(["--epochs", "1"]);
    cmd
}

fn patch(path: &Path, offset: usize, bytes: &[u8]) {
    let mut data = fs::read(path).unwrap();
    data[offset..offset + bytes.len()].copy_from_slice(bytes);
    fs::write(path, data).unwrap();
}

#[test]
fn help_and_version() {
    // The overview names every command of the table, with its summary.
    for args in [&["--help"][..], &["help"], &["-h"]] {
        let out = mnistlearn().args(args).assert().success().get_output().stdout.clone();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("Usage: mnistlearn COMMAND"), "{out}");
        for command in mnistlearn::cli::COMMANDS {
            assert!(
                out.contains(&format!("  {:12}  {}", command.name, command.summary)),
                "{} missing:\n{out}",
                command.name
            );
        }
    }
    // Each command's own help lists each of its flags with its help line, however it is asked for.
    for command in mnistlearn::cli::COMMANDS {
        for args in [
            vec![command.name, "--help"],
            vec![command.name, "-h"],
            vec!["help", command.name],
            vec![command.name, "--epochs", "--help"],
        ] {
            let out = mnistlearn().args(&args).assert().success().get_output().stdout.clone();
            let out = String::from_utf8(out).unwrap();
            assert!(out.starts_with(&format!("mnistlearn {} — ", command.name)), "{args:?}:\n{out}");
            assert!(out.contains(&format!("Usage: mnistlearn {} [FLAGS]", command.name)), "{out}");
            for flag in command.flags {
                let label = flag.value.map_or(flag.name.to_string(), |v| format!("{} {v}", flag.name));
                let line = out
                    .lines()
                    .find(|l| l.trim_start().starts_with(&label))
                    .unwrap_or_else(|| panic!("{label} missing:\n{out}"));
                assert!(line.ends_with(flag.help), "{line}");
            }
        }
    }
    mnistlearn().arg("--version").assert().success().stdout(predicate::str::starts_with("mnistlearn "));
    mnistlearn().arg("-V").assert().success().stdout(predicate::str::starts_with("mnistlearn "));
    // It takes nothing after it: a word there is a usage error, not ignored.
    mnistlearn()
        .args(["--version", "extra"])
        .assert()
        .code(2)
        .stdout("")
        .stderr("mnistlearn: error: --version takes no arguments, got 'extra' (see 'mnistlearn --help')\n");
    mnistlearn().args(["-V", "--verbose"]).assert().code(2).stderr(predicate::str::contains("-V takes no arguments"));
    // The overview names what no command's table can: --version and the '=' form of a value.
    mnistlearn()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--version").and(predicate::str::contains("--flag=VALUE")));
}

#[test]
fn usage_errors_exit_2() {
    fails_with(&mut mnistlearn(), 2, &["no command"]);
    fails_with(mnistlearn().arg("fly"), 2, &["unknown command 'fly'"]);
    // Before: 'help fly' printed the overview and exited 0.
    fails_with(mnistlearn().args(["help", "fly"]), 2, &["unknown command 'fly'"]);
    fails_with(mnistlearn().args(["train", "--bogus", "1"]), 2, &["unknown flag '--bogus'"]);
    fails_with(mnistlearn().args(["train", "--epochs"]), 2, &["'--epochs' needs a value"]);
    // A flag never swallows the next flag as its value.
    fails_with(
        mnistlearn().args(["train", "--epochs", "1", "--out", "--seed=2"]),
        2,
        &["'--out' needs a value", "'--seed=2'"],
    );
    fails_with(mnistlearn().args(["test", "--weights", "--simd", "avx2"]), 2, &["'--weights' needs a value"]);
    fails_with(mnistlearn().args(["train", "--epochs", "abc"]), 2, &["--epochs", "'abc'"]);
    fails_with(mnistlearn().args(["train", "--epochs", "0"]), 2, &["--epochs"]);
    fails_with(mnistlearn().args(["train", "--lr", "-1"]), 2, &["--lr", "positive"]);
    fails_with(mnistlearn().args(["train", "--lr", "nan"]), 2, &["--lr"]);
    fails_with(mnistlearn().args(["train", "--batch", "0"]), 2, &["--batch"]);
    fails_with(mnistlearn().args(["train", "--hidden", "5000"]), 2, &["--hidden", "4096"]);
    fails_with(mnistlearn().args(["train", "--threads", "0"]), 2, &["--threads"]);
    fails_with(mnistlearn().args(["train", "--seed", "-3"]), 2, &["--seed"]);
    fails_with(mnistlearn().args(["train", "--limit", "0"]), 2, &["--limit"]);
    fails_with(
        mnistlearn().args(["train", "--simd", "mmx"]),
        2,
        &["--simd", "auto, scalar, sse2, avx2, avx512, neon, simd128"],
    );
    fails_with(mnistlearn().args(["train", "--seed", "1", "--seed", "2"]), 2, &["given twice"]);
    fails_with(mnistlearn().args(["test", "extra"]), 2, &["unexpected argument 'extra'"]);
    fails_with(mnistlearn().args(["serve", "--addr", "nowhere"]), 2, &["--addr", "HOST:PORT"]);
    fails_with(mnistlearn().env("MNISTLEARN_SIMD", "neon").arg("test"), 2, &["MNISTLEARN_SIMD"]);
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `Overall accuracy: 88.40% (442/500)`, with the percentage the count gives.
fn is_accuracy_line_of_500(line: &str) -> bool {
    let Some((percent, count)) = line.strip_prefix("Overall accuracy: ").and_then(|r| r.split_once("% (")) else {
        return false;
    };
    let Some(correct) = count.strip_suffix("/500)") else { return false };
    let Some((whole, hundredths)) = percent.split_once('.') else { return false };
    is_digits(whole)
        && is_digits(hundredths)
        && hundredths.len() == 2
        && is_digits(correct)
        && format!("{:.2}", 100.0 * correct.parse::<f64>().unwrap() / 500.0) == percent
}

#[test]
fn train_then_test_on_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/dir/weights.bin");
    train_in(&fixture_dir(), &out)
        .args(["--limit", "500"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Training 784-32-10 network...")
                .and(predicate::str::contains("Epoch 1/1 | Loss: "))
                .and(predicate::str::contains("Saving weights... done."))
                .and(predicate::function(|out: &str| out.lines().any(is_accuracy_line_of_500))),
        )
        .stderr(format!("mnistlearn: weights saved to {}\n", out.display()));
    assert_eq!(fs::metadata(&out).unwrap().len(), 203_600);
    // No temporary file is left beside the weights.
    let leftovers: Vec<PathBuf> = fs::read_dir(out.parent().unwrap()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(leftovers, vec![out.clone()]);
    mnistlearn().args(["test", "--data"]).arg(fixture_dir()).arg("--weights").arg(&out).assert().success().stdout(
        predicate::str::starts_with("--- Test Results ---\nOverall accuracy: ").and(predicate::str::contains("\n9: ")),
    );
}

#[test]
fn hidden_size_other_than_32_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.bin");
    train_in(&fixture_dir(), &out)
        .args(["--hidden", "7", "--limit", "200"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Training 784-7-10 network..."));
    assert_eq!(fs::metadata(&out).unwrap().len(), 8 * (795 * 7 + 10));
    mnistlearn().args(["test", "--data"]).arg(fixture_dir()).arg("--weights").arg(&out).assert().success();
}

#[test]
fn missing_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(
        &mut train_in(&dir.path().join("nope"), &dir.path().join("w.bin")),
        1,
        &["nope/train-images-idx3-ubyte", "not found", ".gz"],
    );
}

#[test]
fn bad_magic() {
    let data = raw_fixture_copy();
    patch(&data.path().join("train-images-idx3-ubyte"), 0, &[0, 0, 8, 1]);
    fails_with(
        &mut train_in(data.path(), &data.path().join("w.bin")),
        1,
        &["train-images-idx3-ubyte", "bad magic", "expected 2051"],
    );
    let data = raw_fixture_copy();
    patch(&data.path().join("t10k-labels-idx1-ubyte"), 0, &[0, 0, 8, 3]);
    fails_with(&mut train_in(data.path(), &data.path().join("w.bin")), 1, &["t10k-labels-idx1-ubyte", "expected 2049"]);
}

#[test]
fn wrong_dimensions() {
    let data = raw_fixture_copy();
    patch(&data.path().join("train-images-idx3-ubyte"), 8, &[0, 0, 0, 27]);
    fails_with(
        &mut train_in(data.path(), &data.path().join("w.bin")),
        1,
        &["train-images-idx3-ubyte", "27×28", "expected 28×28"],
    );
}

#[test]
fn truncated_idx_raw_and_gzipped() {
    let data = raw_fixture_copy();
    let path = data.path().join("train-images-idx3-ubyte");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    fails_with(
        &mut train_in(data.path(), &data.path().join("w.bin")),
        1,
        &["train-images-idx3-ubyte", "truncated", "1568016 bytes", "1567916"],
    );
    // The same file, gzipped after truncation.
    fs::remove_file(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        fs::File::create(data.path().join("train-images-idx3-ubyte.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&bytes[..bytes.len() - 100]).unwrap();
    gz.finish().unwrap();
    fails_with(&mut train_in(data.path(), &data.path().join("w.bin")), 1, &["train-images-idx3-ubyte.gz", "truncated"]);
}

#[test]
fn trailing_bytes() {
    let data = raw_fixture_copy();
    let path = data.path().join("t10k-labels-idx1-ubyte");
    let mut bytes = fs::read(&path).unwrap();
    bytes.push(3);
    fs::write(&path, bytes).unwrap();
    fails_with(
        &mut train_in(data.path(), &data.path().join("w.bin")),
        1,
        &["t10k-labels-idx1-ubyte", "unexpected bytes", "508"],
    );
}

#[test]
fn label_file_for_the_wrong_image_count() {
    let data = raw_fixture_copy();
    // Swap in the test labels (500) for the training labels (2,000).
    fs::copy(data.path().join("t10k-labels-idx1-ubyte"), data.path().join("train-labels-idx1-ubyte")).unwrap();
    fails_with(
        &mut train_in(data.path(), &data.path().join("w.bin")),
        1,
        &["train-labels-idx1-ubyte", "500 labels", "expected 2000"],
    );
}

#[test]
fn label_above_nine() {
    let data = raw_fixture_copy();
    patch(&data.path().join("train-labels-idx1-ubyte"), 8 + 17, &[12]);
    fails_with(
        &mut train_in(data.path(), &data.path().join("w.bin")),
        1,
        &["train-labels-idx1-ubyte", "label 17 is 12", "0-9"],
    );
}

#[test]
fn corrupt_gzip() {
    let data = raw_fixture_copy();
    fs::remove_file(data.path().join("t10k-images-idx3-ubyte")).unwrap();
    fs::write(data.path().join("t10k-images-idx3-ubyte.gz"), [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    fails_with(&mut train_in(data.path(), &data.path().join("w.bin")), 1, &["t10k-images-idx3-ubyte.gz"]);
}

fn test_with_weights(bytes: &[u8]) -> (Command, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.bin");
    fs::write(&path, bytes).unwrap();
    let mut cmd = mnistlearn();
    cmd.args(["test", "--data"]).arg(fixture_dir()).arg("--weights").arg(&path);
    (cmd, dir)
}

#[test]
fn wrong_size_weights() {
    for size in [0usize, 8, 203_592, 203_601, 203_608] {
        let (mut cmd, _dir) = test_with_weights(&vec![0u8; size]);
        fails_with(&mut cmd, 1, &["weights.bin", &format!("{size} bytes"), "203600"]);
    }
}

#[test]
fn nan_in_weights() {
    let mut bytes = vec![0u8; 203_600];
    let index = 25_088 + 32 + 5; // the sixth weight of w_output
    bytes[index * 8..index * 8 + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    let (mut cmd, _dir) = test_with_weights(&bytes);
    fails_with(&mut cmd, 1, &["weights.bin", "value 25125", "w_output", "NaN", "finite"]);
}

#[test]
fn missing_weights_file() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(
        mnistlearn().args(["test", "--data"]).arg(fixture_dir()).arg("--weights").arg(dir.path().join("absent.bin")),
        1,
        &["absent.bin", "no such file", "mnistlearn train", "--weights FILE"],
    );
}

#[test]
fn a_save_that_fails_midway_keeps_the_old_weights_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weights.bin");
    fs::write(&out, b"old model").unwrap();
    // A file-size limit of 100 blocks (≤ 102,400 bytes, under the 203,600 a weights file needs)
    // makes the save's write fail partway through with EFBIG (SIGXFSZ ignored so the write
    // returns the error instead of killing the process). A save that wrote into the target
    // directly would leave it truncated; an atomic one leaves the old file whole.
    let mnistlearn = assert_cmd::cargo::cargo_bin("mnistlearn");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"trap "" XFSZ; ulimit -f 100; exec "$0" "$@""#)
        .arg(&mnistlearn)
        .args(["train", "--epochs", "1", "--limit", "64", "--data"])
        .arg(fixture_dir())
        .arg("--out")
        .arg(&out);
    fails_with(&mut cmd, 1, &["weights.bin"]);
    assert_eq!(fs::read(&out).unwrap(), b"old model");
    let names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["weights.bin".to_string()], "the temporary file was left behind");
}

#[test]
fn time_forward_reports_a_per_sample_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.bin");
    train_in(&fixture_dir(), &out).args(["--limit", "100"]).assert().success();
    mnistlearn()
        .args(["time-forward", "--repeat", "1", "--data"])
        .arg(fixture_dir())
        .arg("--weights")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::function(|out: &str| {
            let Some(rest) =
                out.strip_prefix("forward pass: ").and_then(|r| r.strip_suffix(", from raw bytes to probabilities)\n"))
            else {
                return false;
            };
            let Some((ns, rest)) = rest.split_once(" ns/sample (500 samples, best of 1, ") else { return false };
            is_digits(ns) && ["scalar", "sse2", "avx2", "avx512"].contains(&rest)
        }));
    fails_with(mnistlearn().args(["time-forward", "--repeat", "0"]), 2, &["--repeat"]);
}

#[test]
fn time_phases_prints_each_phase_beside_its_floor() {
    let out = mnistlearn()
        .args(["time-phases", "--epochs", "1", "--hidden", "16", "--threads", "2", "--data"])
        .arg(fixture_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["hidden"], 16);
    assert_eq!(json["threads"], 2);
    // The fixture's 2,000 training images in batches of 32, one epoch.
    assert_eq!(json["batches"], 2000u64.div_ceil(32));
    if cfg!(target_arch = "x86_64") {
        // Floors are converted at the core clock measured beside the time-stamp counter.
        let (core, tsc) = (json["core_ghz"].as_f64().unwrap(), json["tsc_ghz"].as_f64().unwrap());
        assert!(core > 0.1 && tsc > 0.1, "{json}");
    }
    let phases = json["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(names, ["hidden sums", "output and deltas", "gradients and steps", "waiting"]);
    for p in &phases[..3] {
        assert!(p["cycles_per_batch"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["floor_cycles_per_batch"].as_f64().unwrap() > 0.0, "{p}");
    }
    // The waiting, by what it waited for: every thread's parts sum to its "waiting".
    let waits = json["waits"].as_array().unwrap();
    let kinds: Vec<&str> = waits.iter().map(|w| w["wait"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["the stage before", "the last stage", "the barrier", "rows taken", "the epoch's end"]);
    for t in 0..2 {
        let parts: f64 = waits.iter().map(|w| w["per_thread"][t].as_f64().unwrap()).sum();
        let whole = phases[3]["per_thread"][t].as_f64().unwrap();
        assert!((parts - whole).abs() <= 1e-6 * whole.max(1.0), "thread {t}: {parts} of {whole}");
    }
    assert_eq!(json["band_moves"].as_array().unwrap().len(), 2);
    fails_with(mnistlearn().args(["time-phases", "--epochs", "0"]), 2, &["--epochs"]);
}
