//! Golden files: a short deterministic training run on the committed fixture, driven through the
//! real binary. The log (wall-clock line redacted), the SHA-256 of the weights.bin it writes and
//! the `test` output are insta snapshots in `golden/`. Review a change with `cargo insta review`;
//! a golden change needs its reason in the commit message.

use crate::common::{fixture_dir, golden, redact_time, sha256_hex};
use assert_cmd::Command;

/// The fixture run: all 2,000 fixture images, 5 epochs, the default recipe otherwise.
const RUN: [&str; 2] = ["--epochs", "5"];

fn train_fixture(dir: &std::path::Path, extra: &[&str]) -> (String, Vec<u8>) {
    train_fixture_with_env(dir, extra, &[])
}

/// [`train_fixture`] with extra environment variables.
fn train_fixture_with_env(dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> (String, Vec<u8>) {
    let out = dir.join("weights.bin");
    let assert = Command::cargo_bin("mnistlearn")
        .unwrap()
        .envs(env.iter().copied())
        .arg("train")
        .arg("--data")
        .arg(fixture_dir())
        .arg("--out")
        .arg(&out)
        .args(RUN)
        .args(extra)
        .assert()
        .success();
    let log = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    (log, std::fs::read(&out).unwrap())
}

#[test]
fn fixture_training_log_weights_hash_and_test_output_are_golden() {
    let dir = tempfile::tempdir().unwrap();
    let (log, weights) = train_fixture(dir.path(), &[]);
    assert_eq!(weights.len(), 203_600);
    let test = Command::cargo_bin("mnistlearn")
        .unwrap()
        .args(["test", "--data"])
        .arg(fixture_dir())
        .arg("--weights")
        .arg(dir.path().join("weights.bin"))
        .assert()
        .success();
    let test_out = String::from_utf8(test.get_output().stdout.clone()).unwrap();
    // The test block of `train` and the output of `test` are the same evaluation.
    assert!(log.ends_with(&test_out), "train's test block differs from `test`:\n{log}\n---\n{test_out}");
    golden().bind(|| {
        insta::assert_snapshot!("fixture_train_log", redact_time(&log));
        insta::assert_snapshot!("fixture_weights_sha256", sha256_hex(&weights));
        insta::assert_snapshot!("fixture_test_output", test_out);
    });
}

/// The `simd` and `threads` every epoch of `train --log` ran with: the proof that a run used
/// the level it was asked for (every level gives the same bytes, so the bytes cannot tell).
fn levels_logged(dir: &std::path::Path) -> Vec<(String, u64)> {
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    log.lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            (record["simd"].as_str().unwrap().to_string(), record["threads"].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_every_thread_count_and_simd_level() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let log = log.to_str().unwrap();
    let (_, reference) = train_fixture(dir.path(), &["--threads", "1", "--simd", "scalar"]);
    let (_, again) = train_fixture(dir.path(), &["--threads", "1", "--simd", "scalar"]);
    assert_eq!(sha256_hex(&reference), sha256_hex(&again), "same seed twice");
    for level in mnistlearn_core::math::SimdLevel::available() {
        for threads in 1..=4 {
            let t = threads.to_string();
            let (_, bytes) = train_fixture(dir.path(), &["--threads", &t, "--simd", level.name(), "--log", log]);
            assert!(bytes == reference, "{level} with {threads} threads differs from scalar with 1 thread");
            let used = levels_logged(dir.path());
            assert_eq!(used, vec![(level.name().to_string(), threads as u64); 5], "the levels the run used");
        }
    }
}

#[test]
fn simd_level_can_be_forced_by_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let (_, reference) = train_fixture(dir.path(), &["--simd", "scalar"]);
    for level in mnistlearn_core::math::SimdLevel::available() {
        let env = [("MNISTLEARN_SIMD", level.name())];
        let (_, bytes) = train_fixture_with_env(dir.path(), &["--log", log.to_str().unwrap()], &env);
        assert!(bytes == reference, "MNISTLEARN_SIMD={level}");
        assert!(levels_logged(dir.path()).iter().all(|(used, _)| used == level.name()), "MNISTLEARN_SIMD={level}");
        // The serving path (`time-forward` runs it) names the level it ran too.
        let timed = Command::cargo_bin("mnistlearn")
            .unwrap()
            .envs(env)
            .args(["time-forward", "--repeat", "1", "--data"])
            .arg(fixture_dir())
            .arg("--weights")
            .arg(dir.path().join("weights.bin"))
            .assert()
            .success();
        let printed = String::from_utf8(timed.get_output().stdout.clone()).unwrap();
        assert!(printed.contains(&format!(", {level}, ")), "MNISTLEARN_SIMD={level}: {printed}");
    }
}

#[test]
fn a_different_seed_gives_different_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (_, one) = train_fixture(dir.path(), &[]);
    let (_, two) = train_fixture(dir.path(), &["--seed", "2"]);
    assert_ne!(one, two);
}
