//! Hardening, second round, on the command line: what an unlucky user's files do — a log
//! emptied before anything was checked, FIFOs that hang, a save that changes a file's mode, a
//! full disk found after training, a file name that forges output lines, `predict --json`
//! holding every answer, and `--threads` far above the cores.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use crate::common::fixture_dir;
use crate::harden::{limited, mkfifo, names, one_line_error, os, train_cmd};

fn run(cmd: std::process::Command) -> std::process::Output {
    assert_cmd::Command::from_std(cmd).timeout(Duration::from_secs(60)).output().unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A 28×28 binary PGM with a vertical stroke: a digit-like image.
fn stroke_pgm() -> Vec<u8> {
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend((0..784).map(|i| if (12..16).contains(&(i % 28)) && (4..24).contains(&(i / 28)) { 255 } else { 0 }));
    pgm
}

// Failed before the fix: the log was created (emptied) before the data was read.
#[test]
fn a_failed_run_leaves_an_existing_log_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    fs::write(&log, "the last good run\n").unwrap();
    let mut cmd = train_cmd(&dir.path().join("no-such-data"), &dir.path().join("w.bin"));
    cmd.arg("--log").arg(&log);
    one_line_error(cmd, &["no-such-data"]);
    assert_eq!(fs::read_to_string(&log).unwrap(), "the last good run\n");
    assert_eq!(names(dir.path()), ["log.jsonl"], "no temporary file left behind");
}

// Failed before the fix: `--log X --out X` ran, and the weights replaced the log.
#[test]
fn log_and_out_naming_one_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    for (log, out) in [("sub/w.bin", "sub/w.bin"), ("./sub/w.bin", "sub/../sub/w.bin")] {
        let mut cmd = train_cmd(&fixture_dir(), Path::new(out));
        cmd.current_dir(dir.path()).args(["--log", log]);
        let output = run(cmd);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--log {log} --out {out}: {stderr}");
        assert!(stderr.contains("--log and --out name the same file"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    assert!(names(&dir.path().join("sub")).is_empty());
}

// Failed before the fix: opening the FIFO for writing waited for a reader, forever.
#[test]
fn a_fifo_as_log_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.fifo");
    mkfifo(&fifo);
    let mut cmd = train_cmd(&fixture_dir(), &dir.path().join("w.bin"));
    cmd.arg("--log").arg(&fifo);
    one_line_error(cmd, &["log.fifo", "is a FIFO"]);
    assert!(!dir.path().join("w.bin").exists());
}

// Failed before the fix: `predict FIFO` waited for a writer, forever.
#[test]
fn predict_refuses_a_fifo_and_a_device_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("digit.fifo");
    mkfifo(&fifo);
    let weights = crate::harden::some_weights(dir.path());
    for (input, kind) in [(fifo.as_os_str(), "is a FIFO"), (os("/dev/zero"), "is a character device")] {
        let cmd = limited(&[os("predict"), os("--weights"), weights.as_os_str(), input]);
        one_line_error(cmd, &[kind, "expected a PNG or PGM image file"]);
    }
}

// Failed before the fix: the temporary file's 0600 replaced a 0644 file's mode, and a new file
// was 0600 whatever the umask.
#[test]
fn a_save_keeps_the_replaced_files_mode_and_a_new_file_follows_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.bin"), dir.path().join("new.bin"));
    fs::write(&old, b"old").unwrap();
    fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(run(train_cmd(&fixture_dir(), &old)).status.success());
    assert_eq!(mode(&old), 0o644, "replaced: the old mode");
    let mut cmd = train_cmd(&fixture_dir(), &new);
    let log = dir.path().join("new.jsonl");
    cmd.arg("--log").arg(&log);
    // SAFETY: umask is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o027);
            Ok(())
        });
    }
    assert!(run(cmd).status.success());
    assert_eq!(mode(&new), 0o640, "new: 0666 & !umask");
    assert_eq!(mode(&log), 0o640, "the log too");
}

// Failed before the fix: the pre-check created an empty file, the run trained to the end and
// only the save failed (the epoch lines were on stdout).
#[test]
fn no_room_for_the_weights_is_found_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = train_cmd(&fixture_dir(), &dir.path().join("w.bin"));
    // A file-size limit below the weights file's 203,600 bytes stands in for a full disk.
    // SAFETY: setrlimit and signal are async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: 100_000, rlim_max: 100_000 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // one_line_error: nothing on stdout, so training never started.
    one_line_error(cmd, &["w.bin", "cannot reserve 203600 bytes"]);
    assert!(names(dir.path()).is_empty());
}

// Failed before the fix: the name's newline started a line of its own, a forged answer.
#[test]
fn a_file_name_cannot_forge_predict_lines() {
    let dir = tempfile::tempdir().unwrap();
    let weights = crate::harden::some_weights(dir.path());
    let evil = dir.path().join("a.pgm\nb.pgm: 7 (100.0%)\u{1b}[2J");
    fs::write(&evil, stroke_pgm()).unwrap();
    let output = run(limited(&[os("predict"), os("--weights"), weights.as_os_str(), evil.as_os_str()]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.contains(r"a.pgm\nb.pgm: 7 (100.0%)\u{1b}[2J: "), "{stdout:?}");
}

// Failed before the fix: 20,000 answers with `--show` (each a JSON tree of 784 numbers) were
// kept until the end, past the 384 MiB address-space limit.
#[test]
fn predict_json_streams_its_answers() {
    let dir = tempfile::tempdir().unwrap();
    let weights = crate::harden::some_weights(dir.path());
    fs::write(dir.path().join("d.pgm"), stroke_pgm()).unwrap();
    let mut args = vec![os("predict"), os("--json"), os("--show"), os("--weights"), weights.as_os_str()];
    args.extend(std::iter::repeat_n(os("d.pgm"), 20_000));
    let mut cmd = limited(&args);
    cmd.current_dir(dir.path());
    let output = run(cmd);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answers: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 20_000);
    assert_eq!(answers[0], answers[19_999]);
    assert_eq!(answers[0]["seen"].as_array().unwrap().len(), 784);
}
