//! The pictures from the command line: `train --log`, `test --confusion`, `test --errors DIR`
//! and `figures`, on the committed fixture through the real binary.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

use crate::common::{fixture_dir, redact_time, sha256_hex};

fn mnistlearn() -> Command {
    Command::cargo_bin("mnistlearn").unwrap()
}

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

/// Trains three epochs on the fixture (two threads, so the copy the log reads is taken while a
/// second thread waits), with or without `--log`; returns stdout and the weights' SHA-256.
fn train_fixture(dir: &Path, log: Option<&Path>) -> (String, String) {
    let out = dir.join(if log.is_some() { "logged.bin" } else { "plain.bin" });
    let mut cmd = mnistlearn();
    cmd.arg("train").arg("--data").arg(fixture_dir()).arg("--out").arg(&out).args(["--epochs", "3", "--threads", "2"]);
    if let Some(log) = log {
        cmd.arg("--log").arg(log);
    }
    let stdout = stdout_of(&mut cmd);
    (stdout, sha256_hex(&fs::read(&out).unwrap()))
}

/// `(correct, total)` from `Overall accuracy: 96.54% (9654/10000)`.
fn overall(stdout: &str) -> (usize, usize) {
    let line = stdout.lines().find(|l| l.starts_with("Overall accuracy: ")).expect("an overall line");
    let inside = line.rsplit('(').next().unwrap().trim_end_matches(')');
    let (c, t) = inside.split_once('/').unwrap();
    (c.parse().unwrap(), t.parse().unwrap())
}

#[test]
fn the_log_changes_neither_stdout_nor_a_bit_of_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let (plain_stdout, plain_sha) = train_fixture(dir.path(), None);
    let (logged_stdout, logged_sha) = train_fixture(dir.path(), Some(&log));
    assert_eq!(logged_sha, plain_sha);
    assert_eq!(redact_time(&logged_stdout), redact_time(&plain_stdout));

    // One record per epoch, agreeing with the printed log line for line.
    let text = fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let printed: Vec<&str> = plain_stdout.lines().filter(|l| l.starts_with("Epoch ")).collect();
    assert_eq!(records.len(), 3);
    let mut last_elapsed = 0.0;
    for (i, (r, line)) in records.iter().zip(&printed).enumerate() {
        assert_eq!(r["epoch"], i + 1);
        let expected = format!(
            "Epoch {}/3 | Loss: {:.4} | Accuracy: {:.2}%",
            i + 1,
            r["loss"].as_f64().unwrap(),
            r["train_accuracy"].as_f64().unwrap()
        );
        assert_eq!(&expected, line);
        assert_eq!(r["train_total"], 2000);
        assert_eq!(r["test_total"], 500);
        let (correct, total) = (r["test_correct"].as_u64().unwrap(), r["test_total"].as_u64().unwrap());
        assert_eq!(r["test_accuracy"].as_f64().unwrap(), 100.0 * correct as f64 / total as f64);
        let elapsed = r["elapsed_s"].as_f64().unwrap();
        assert!(elapsed >= last_elapsed, "elapsed went back: {elapsed} < {last_elapsed}");
        last_elapsed = elapsed;
    }
    // The last epoch's test accuracy is the network that was saved: what `train` then prints.
    let (correct, total) = overall(&plain_stdout);
    assert_eq!((records[2]["test_correct"].as_u64().unwrap() as usize, total), (correct, 500));
}

#[test]
fn the_confusion_matrix_counts_every_test_image_and_its_diagonal_is_the_correct_count() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("w.bin");
    train_fixture(dir.path(), None);
    fs::rename(dir.path().join("plain.bin"), &weights).unwrap();
    let stdout = stdout_of(
        mnistlearn().arg("test").arg("--data").arg(fixture_dir()).arg("--weights").arg(&weights).arg("--confusion"),
    );
    let (correct, total) = overall(&stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("--- Confusion matrix")).expect("a confusion block");
    assert!(lines[at + 1].starts_with("true\\pred"), "{}", lines[at + 1]);
    let rows: Vec<Vec<usize>> =
        lines[at + 2..at + 12].iter().map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect()).collect();
    let mut sum = 0;
    let mut diagonal = 0;
    for (t, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 11, "row {t}: the digit then ten counts");
        assert_eq!(row[0], t);
        sum += row[1..].iter().sum::<usize>();
        diagonal += row[1 + t];
    }
    assert_eq!(lines.len(), at + 12, "nothing after the matrix");
    assert_eq!((sum, diagonal), (total, correct));
    assert_eq!(total, 500);
    assert!(correct < total, "a fixture run this short makes mistakes; the test needs some");
    // Without the switch, no matrix.
    let plain = stdout_of(mnistlearn().arg("test").arg("--data").arg(fixture_dir()).arg("--weights").arg(&weights));
    assert!(!plain.contains("Confusion"));
}

#[test]
fn errors_dir_gets_one_png_per_mistake_holding_that_test_image() {
    let dir = tempfile::tempdir().unwrap();
    train_fixture(dir.path(), None);
    let weights = dir.path().join("plain.bin");
    let errors = dir.path().join("errors/nested");
    let stdout = stdout_of(
        mnistlearn()
            .arg("test")
            .arg("--data")
            .arg(fixture_dir())
            .arg("--weights")
            .arg(&weights)
            .arg("--errors")
            .arg(&errors),
    );
    let (correct, total) = overall(&stdout);
    assert!(stdout.contains(&format!("Wrote {} misclassified images to ", total - correct)), "{stdout}");
    let mut names: Vec<String> =
        fs::read_dir(&errors).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names.len(), total - correct);
    let test_set = mnistlearn::io::dataset::load_test(&fixture_dir()).unwrap();
    for name in &names {
        // 00247-true4-pred6.png
        let stem = name.strip_suffix(".png").unwrap();
        let parts: Vec<&str> = stem.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        let index: usize = parts[0].parse().unwrap();
        let label: u8 = parts[1].strip_prefix("true").unwrap().parse().unwrap();
        let predicted: u8 = parts[2].strip_prefix("pred").unwrap().parse().unwrap();
        assert_eq!(label, test_set.labels[index], "{name}");
        assert_ne!(label, predicted, "{name}");
        let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(errors.join(name)).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height, info.color_type), (28, 28, png::ColorType::Grayscale));
        assert_eq!(&pixels[..784], &test_set.images.dense(index)[..], "{name}");
    }
}

#[test]
fn a_used_errors_dir_or_bad_log_path_is_refused_before_any_work_and_keeps_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("mine.txt");
    fs::write(&keep, "precious").unwrap();
    for (target, needle) in [(dir.path().to_path_buf(), "is not empty"), (keep.clone(), "is a file")] {
        let assert = mnistlearn()
            .arg("test")
            .arg("--data")
            .arg(fixture_dir())
            .arg("--weights")
            .arg(dir.path().join("no-such-weights.bin"))
            .arg("--errors")
            .arg(&target)
            .assert()
            .failure()
            .code(2);
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--errors") && stderr.contains(needle) && stderr.contains("new or empty directory"),
            "{stderr}"
        );
    }
    assert_eq!(fs::read_to_string(&keep).unwrap(), "precious");

    let assert = mnistlearn()
        .arg("train")
        .arg("--data")
        .arg(fixture_dir())
        .arg("--out")
        .arg(dir.path().join("w.bin"))
        .arg("--log")
        .arg(keep.join("log.jsonl"))
        .assert()
        .failure()
        .code(1);
    // A missing directory is created, as for --out; one under a file cannot be.
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("cannot create the directory") && stderr.contains("log.jsonl"), "{stderr}");
    assert!(assert.get_output().stdout.is_empty(), "no training happened");
    assert!(!dir.path().join("w.bin").exists(), "no training happened");
}

#[test]
fn figures_draws_any_run_with_its_own_hidden_size_and_refuses_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (weights, log, out) = (dir.path().join("h64.bin"), dir.path().join("log.jsonl"), dir.path().join("figs"));
    mnistlearn()
        .args(["train", "--hidden", "64", "--epochs", "2", "--data"])
        .arg(fixture_dir())
        .arg("--out")
        .arg(&weights)
        .arg("--log")
        .arg(&log)
        .assert()
        .success();
    let figures = |extra: &[&str]| {
        let mut cmd = mnistlearn();
        cmd.arg("figures").arg("--data").arg(fixture_dir()).arg("--weights").arg(&weights).args(extra);
        cmd
    };
    let printed =
        stdout_of(figures(&["--out", out.to_str().unwrap(), "--log", log.to_str().unwrap()]).arg("--threads=1"));
    assert!(printed.starts_with("Wrote 5 figures to "), "{printed}");
    let names = ["confusion.svg", "hidden-units.svg", "misclassified.svg", "network.svg", "training-curves.svg"];
    let mut written: Vec<String> =
        fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    written.sort();
    assert_eq!(written, names);
    let read = |name: &str| fs::read_to_string(out.join(name)).unwrap();
    assert_eq!(read("hidden-units.svg").matches("<image ").count(), 64);
    assert!(read("network.svg").contains("64 hidden units"));
    assert!(read("training-curves.svg").contains("Training the 784-64-10 network (seed 1, 2 epochs)"));
    assert!(read("confusion.svg").contains(" of 500 right"));
    // The same inputs, the same bytes, whatever the thread count; without --log, no curves.
    let again = dir.path().join("again");
    stdout_of(&mut figures(&["--out", again.to_str().unwrap(), "--threads", "2"]));
    for name in names.iter().filter(|n| **n != "training-curves.svg") {
        assert_eq!(read(name), fs::read_to_string(again.join(name)).unwrap(), "{name}");
    }
    assert!(!again.join("training-curves.svg").exists());

    let one_line_error = |cmd: &mut Command, code: i32, words: &[&str]| {
        let output = cmd.assert().code(code).get_output().clone();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        for word in words {
            assert!(stderr.contains(word), "{word:?} not in {stderr}");
        }
    };
    one_line_error(&mut figures(&[]), 2, &["--out DIR"]);
    one_line_error(mnistlearn().args(["figures", "--out", "x"]), 2, &["--weights FILE"]);
    fs::write(dir.path().join("bad.jsonl"), "{\"epoch\":2}\n").unwrap();
    let bad = dir.path().join("bad.jsonl");
    one_line_error(
        &mut figures(&["--out", out.to_str().unwrap(), "--log", bad.to_str().unwrap()]),
        1,
        &["bad.jsonl", "line 1"],
    );
    one_line_error(&mut figures(&["--out", log.to_str().unwrap()]), 2, &["not a directory"]);
}
