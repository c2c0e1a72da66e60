//! Hardening, end to end, as an attacker would try it: crafted IDX and weights files run under an
//! address-space limit (so an allocation the input does not justify fails the test instead of
//! passing slowly), output paths that try to redirect the save, and a real server on a real
//! socket with silent, half-sent and idle clients.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use mnistlearn::io::weights;
use mnistlearn::serve::predict_json;
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::Network;

use crate::common::fixture_dir;

/// The address space a crafted-input run may use. A normal `test` or `train --threads 1` on the
/// fixture fits in it with room to spare; the old readers' allocations (a gigabyte of labels
/// for a header's say-so, a 2 GB weights file read whole) do not.
const AS_LIMIT: u64 = 384 << 20;

/// `mnistlearn ARGS…` under [`AS_LIMIT`], as a std command.
pub(crate) fn limited(args: &[&std::ffi::OsStr]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mnistlearn"));
    cmd.args(args).env_remove("MNISTLEARN_SIMD").stdin(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: AS_LIMIT, rlim_max: AS_LIMIT };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Runs `cmd` (bounded to a minute, so a hang fails rather than blocks the suite) and expects
/// exit 1 with one stderr line containing every needle, and nothing on stdout.
pub(crate) fn one_line_error(cmd: std::process::Command, needles: &[&str]) -> String {
    let out = assert_cmd::Command::from_std(cmd).timeout(Duration::from_secs(60)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "status {:?}, stderr: {stderr}", out.status);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("mnistlearn: error: "), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    assert!(out.stdout.is_empty(), "nothing printed before the error: {}", String::from_utf8_lossy(&out.stdout));
    stderr
}

pub(crate) fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// A copy of the fixture (gzipped, as committed) in a temp dir.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(fixture_dir()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub(crate) fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

fn test_cmd(data: &Path, weights: &Path) -> std::process::Command {
    limited(&[
        os("test"),
        os("--threads"),
        os("1"),
        os("--data"),
        data.as_os_str(),
        os("--weights"),
        weights.as_os_str(),
    ])
}

pub(crate) fn train_cmd(data: &Path, out: &Path) -> std::process::Command {
    let mut cmd =
        limited(&[os("train"), os("--epochs"), os("1"), os("--threads"), os("1"), os("--data"), data.as_os_str()]);
    cmd.arg("--out").arg(out);
    cmd
}

/// A weights file of a seeded network, for runs that need one.
pub(crate) fn some_weights(dir: &Path) -> PathBuf {
    let path = dir.join("weights.bin");
    weights::save(&path, &Network::init(32, &mut Rng::from_seed(3))).unwrap();
    path
}

// ---- IDX readers: bounded by the input -----------------------------------------------------

#[test]
fn a_label_count_of_four_billion_is_one_line_in_bounded_memory() {
    for gz in [false, true] {
        let data = fixture_copy();
        let path = data.path().join("t10k-labels-idx1-ubyte.gz");
        fs::remove_file(&path).unwrap();
        // The header claims 0xFFFFFFFF labels; 16 MiB of zeros follow (16 KiB once gzipped).
        let mut bytes = vec![0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF];
        bytes.resize(8 + (16 << 20), 0);
        if gz {
            fs::write(&path, gzip(&bytes)).unwrap();
        } else {
            fs::write(data.path().join("t10k-labels-idx1-ubyte"), &bytes).unwrap();
        }
        let weights = some_weights(data.path());
        // Raw: the size on disk gives it away; gzipped: the count disagrees with the images'.
        let needles: &[&str] = if gz {
            &["has 4294967295 labels, expected 500"]
        } else {
            &["truncated", "promises 4294967303 bytes", "has 16777224"]
        };
        one_line_error(test_cmd(data.path(), &weights), needles);
    }
}

#[test]
fn huge_image_counts_are_one_line_in_bounded_memory() {
    for (count, gz) in [(0xFFFF_FFFFu32, false), (1 << 30, true), (0xFFFF_FFFE, true)] {
        let data = fixture_copy();
        let path = data.path().join("train-images-idx3-ubyte.gz");
        let mut bytes = gunzip(&path);
        bytes[4..8].copy_from_slice(&count.to_be_bytes());
        fs::remove_file(&path).unwrap();
        if gz {
            fs::write(&path, gzip(&bytes)).unwrap();
        } else {
            fs::write(data.path().join("train-images-idx3-ubyte"), &bytes).unwrap();
        }
        // Raw: the size on disk disagrees with the header before anything is read. Gzipped:
        // both headers are read before any data, so the labels' count (2,000) disagrees first.
        let out = data.path().join("w.bin");
        if gz {
            one_line_error(train_cmd(data.path(), &out), &["has 2000 labels", &format!("expected {count}")]);
        } else {
            let promised = format!("promises {} bytes, the file has 1568016", 16 + count as u64 * 784);
            one_line_error(train_cmd(data.path(), &out), &["train-images-idx3-ubyte", "truncated", &promised]);
        }
    }
    // The images alone (a limit below the count still validates a raw file's size up front).
    let data = fixture_copy();
    let path = data.path().join("train-images-idx3-ubyte.gz");
    let mut bytes = gunzip(&path);
    bytes[4..8].copy_from_slice(&(1u32 << 31).to_be_bytes());
    fs::remove_file(&path).unwrap();
    fs::write(data.path().join("train-images-idx3-ubyte"), &bytes).unwrap();
    let mut labels = gunzip(&data.path().join("train-labels-idx1-ubyte.gz"));
    labels[4..8].copy_from_slice(&(1u32 << 31).to_be_bytes());
    fs::remove_file(data.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    fs::write(data.path().join("train-labels-idx1-ubyte"), &labels).unwrap();
    let mut cmd = train_cmd(data.path(), &data.path().join("w.bin"));
    cmd.args(["--limit", "10"]);
    one_line_error(
        cmd,
        &["train-images-idx3-ubyte", "truncated", &format!("promises {} bytes", 16 + (1u64 << 31) * 784)],
    );
}

#[test]
fn a_multi_member_gzip_reads_like_the_single_stream() {
    let data = fixture_copy();
    let path = data.path().join("train-images-idx3-ubyte.gz");
    let bytes = gunzip(&path);
    // `cat a.gz b.gz`, split in the middle of an image.
    let mut two = gzip(&bytes[..100_001]);
    two.extend(gzip(&bytes[100_001..]));
    fs::write(&path, two).unwrap();
    let (a, b) = (data.path().join("a.bin"), data.path().join("b.bin"));
    let cmd = train_cmd(&fixture_dir(), &a);
    assert_cmd::Command::from_std(cmd).args(["--limit", "300"]).assert().success();
    let cmd = train_cmd(data.path(), &b);
    assert_cmd::Command::from_std(cmd).args(["--limit", "300"]).assert().success();
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "the same images, so the same weights");

    // Data after the last member's end is still trailing data.
    let mut long = bytes.clone();
    long.push(0);
    fs::write(&path, gzip(&long)).unwrap();
    one_line_error(
        train_cmd(data.path(), &b),
        &["train-images-idx3-ubyte.gz", "the gzip stream holds more than the 1568016 bytes the header describes"],
    );
}

/// Replaces the images and labels of set `stem` ("train" or "t10k") in `dir` by raw files whose
/// headers declare no samples.
fn empty_set(dir: &Path, stem: &str) {
    for (kind, header) in [
        ("images-idx3", &[0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28][..]),
        ("labels-idx1", &[0, 0, 8, 1, 0, 0, 0, 0]),
    ] {
        let name = format!("{stem}-{kind}-ubyte");
        fs::remove_file(dir.join(format!("{name}.gz"))).unwrap();
        fs::write(dir.join(name), header).unwrap();
    }
}

// Failed before the fix: train and time-phases panicked on the trainer's assertion; test,
// time-forward and train printed 0.00% (0/0) as a result; figures panicked on an index.
#[test]
fn a_set_without_images_is_one_line_for_every_command() {
    let data = fixture_copy();
    empty_set(data.path(), "train");
    let out = data.path().join("w.bin");
    one_line_error(
        train_cmd(data.path(), &out),
        &["train-images-idx3-ubyte:", "holds no images, expected at least one"],
    );
    assert!(!out.exists(), "nothing written");
    let cmd = limited(&[os("time-phases"), os("--epochs"), os("1"), os("--data"), data.path().as_os_str()]);
    one_line_error(cmd, &["train-images-idx3-ubyte:", "holds no images"]);

    let data = fixture_copy();
    empty_set(data.path(), "t10k");
    let weights = some_weights(data.path());
    one_line_error(train_cmd(data.path(), &out), &["t10k-images-idx3-ubyte:", "holds no images"]);
    assert!(!out.exists(), "the test set is checked before training");
    one_line_error(test_cmd(data.path(), &weights), &["t10k-images-idx3-ubyte:", "holds no images"]);
    let mut cmd = limited(&[os("time-forward"), os("--data"), data.path().as_os_str()]);
    cmd.arg("--weights").arg(&weights);
    one_line_error(cmd, &["t10k-images-idx3-ubyte:", "holds no images"]);
    let mut cmd = limited(&[os("figures"), os("--data"), data.path().as_os_str()]);
    cmd.arg("--weights").arg(&weights).arg("--out").arg(data.path().join("figs"));
    one_line_error(cmd, &["t10k-images-idx3-ubyte:", "holds no images"]);
    assert!(!data.path().join("figs").exists());
}

// Before: bytes overwritten inside a gzipped file's deflate data made the stream run long, and
// the message blamed the IDX contents ("unexpected bytes after ...") as if the file were sound.
#[test]
fn bytes_overwritten_inside_a_gzip_file_are_named_as_possible_corruption() {
    let data = fixture_copy();
    let path = data.path().join("t10k-images-idx3-ubyte.gz");
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    // (This damage makes the deflate data decode to more bytes than the header declares; other
    // damage fails the gzip checksum, which already said "corrupt".)
    bytes[middle..middle + 100].fill(0xff);
    fs::write(&path, bytes).unwrap();
    let weights = some_weights(data.path());
    one_line_error(
        test_cmd(data.path(), &weights),
        &["t10k-images-idx3-ubyte.gz: the gzip stream holds more than the 392016 bytes", "a corrupt file"],
    );
}

#[test]
fn a_fifo_or_a_directory_as_a_data_file_is_one_line() {
    let data = fixture_copy();
    fs::remove_file(data.path().join("t10k-images-idx3-ubyte.gz")).unwrap();
    mkfifo(&data.path().join("t10k-images-idx3-ubyte"));
    let weights = some_weights(data.path());
    // Nobody ever writes to the FIFO: opening it must not wait for a writer.
    one_line_error(
        test_cmd(data.path(), &weights),
        &["t10k-images-idx3-ubyte", "is a FIFO", "expected a regular file"],
    );

    let data = fixture_copy();
    fs::remove_file(data.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    fs::create_dir(data.path().join("t10k-labels-idx1-ubyte")).unwrap();
    one_line_error(test_cmd(data.path(), &weights), &["t10k-labels-idx1-ubyte", "is a directory"]);
}

// ---- weights.bin: size before reading, values bounded ---------------------------------------

#[test]
fn a_2_gib_sparse_weights_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    fs::File::create(&path).unwrap().set_len(2 << 30).unwrap();
    one_line_error(test_cmd(&fixture_dir(), &path), &["big.bin", "2147483648 bytes is not a weights file"]);
}

#[test]
fn devices_fifos_and_directories_are_not_weights_files() {
    let dir = tempfile::tempdir().unwrap();
    one_line_error(test_cmd(&fixture_dir(), Path::new("/dev/zero")), &["/dev/zero", "is a character device"]);
    let fifo = dir.path().join("fifo.bin");
    mkfifo(&fifo);
    one_line_error(test_cmd(&fixture_dir(), &fifo), &["fifo.bin", "is a FIFO"]);
    one_line_error(test_cmd(&fixture_dir(), dir.path()), &["is a directory"]);
}

/// A weights file with every value `value_at(i)`.
fn crafted_weights(dir: &Path, value_at: impl Fn(usize) -> f64) -> PathBuf {
    let path = dir.join("crafted.bin");
    let bytes: Vec<u8> = (0..25_450).flat_map(|i| value_at(i).to_le_bytes()).collect();
    fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn values_beyond_the_bound_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = crafted_weights(dir.path(), |_| 1e308);
    one_line_error(test_cmd(&fixture_dir(), &path), &["crafted.bin", "value 0 (in w_hidden) is 1e308", "at most 1e6"]);
    // Just past the bound, in b_output.
    let path = crafted_weights(dir.path(), |i| if i == 25_445 { -1.000_000_1e6 } else { 0.5 });
    one_line_error(test_cmd(&fixture_dir(), &path), &["value 25445 (in b_output)", "at most 1e6"]);
}

/// Probabilities from a /predict answer, `None` for a non-number (serde_json writes a
/// non-finite f64 as `null`).
fn probabilities(json: &str) -> Vec<Option<f64>> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64()).collect()
}

#[test]
fn weights_at_the_bound_give_finite_probabilities_for_any_image() {
    let dir = tempfile::tempdir().unwrap();
    let images: Vec<Vec<u8>> = vec![
        vec![255; 784],
        vec![0; 784],
        (0..784).map(|i| (i * 37 % 256) as u8).collect(),
        (0..784).map(|i| if i % 2 == 0 { 255 } else { 0 }).collect(),
    ];
    // Every sign pattern that pushes the sums to their extremes, and one that cancels.
    type Pattern = (&'static str, fn(usize) -> f64);
    let patterns: [Pattern; 4] = [
        ("+1e6", |_| 1e6),
        ("-1e6", |_| -1e6),
        ("±1e6 alternating", |i| if i % 2 == 0 { 1e6 } else { -1e6 }),
        ("+1e6 hidden, -1e6 output", |i| if i < 25_120 { 1e6 } else { -1e6 }),
    ];
    for (name, pattern) in patterns {
        let path = crafted_weights(dir.path(), pattern);
        let net = weights::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        for level in SimdLevel::available() {
            for image in &images {
                let json = predict_json(&net, level, image).unwrap();
                let p = probabilities(&json);
                assert!(
                    p.iter().all(|v| v.is_some_and(|v| v.is_finite() && (0.0..=1.0).contains(&v))),
                    "{name}, {level}: {json}"
                );
                let sum: f64 = p.iter().map(|v| v.unwrap()).sum();
                assert!((sum - 1.0).abs() < 1e-9, "{name}, {level}: sum {sum}");
            }
        }
    }
    // And the binary's `test` runs on such a file (exit 0, a report).
    let path = crafted_weights(dir.path(), |i| if i % 3 == 0 { 1e6 } else { -1e6 });
    let cmd = test_cmd(&fixture_dir(), &path);
    assert_cmd::Command::from_std(cmd).assert().success().stdout(predicates::str::contains("Overall accuracy: "));
}

// ---- the save: not redirected, nothing left behind, checked before training ---------------

/// Every entry of `dir`, by name.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_symlink_out_is_replaced_and_its_target_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious.txt");
    fs::write(&precious, b"do not overwrite").unwrap();
    let out = dir.path().join("w.bin");
    std::os::unix::fs::symlink(&precious, &out).unwrap();
    let cmd = train_cmd(&fixture_dir(), &out);
    assert_cmd::Command::from_std(cmd).args(["--limit", "100"]).assert().success();
    assert_eq!(fs::read(&precious).unwrap(), b"do not overwrite");
    let meta = fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file(), "the link itself was replaced by a regular file");
    assert_eq!(meta.len(), 203_600);
    assert_eq!(names(dir.path()), ["precious.txt", "w.bin"], "no temporary file left");
}

#[test]
fn a_save_removes_temporary_files_that_a_killed_save_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.bin");
    // What `kill -9` during a save leaves: `.w.bin.XXXXXX.tmp`. An old one is a leftover; a
    // fresh one may be another process's save in progress; other names are not ours.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for name in [".w.bin.Ab3dEf.tmp", ".w.bin.fresh1.tmp", ".w.bin.old.tmp", "notes.tmp"] {
        let f = fs::File::create(dir.path().join(name)).unwrap();
        if name != ".w.bin.fresh1.tmp" {
            f.set_modified(hour_ago).unwrap();
        }
    }
    let cmd = train_cmd(&fixture_dir(), &out);
    assert_cmd::Command::from_std(cmd).args(["--limit", "100"]).assert().success();
    assert_eq!(names(dir.path()), [".w.bin.fresh1.tmp", ".w.bin.old.tmp", "notes.tmp", "w.bin"]);
}

#[test]
fn an_out_that_is_a_directory_fifo_or_device_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("weights.bin");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("inside"), b"x").unwrap();
    one_line_error(train_cmd(&fixture_dir(), &sub), &["weights.bin", "is a directory", "nothing was replaced"]);
    assert_eq!(names(&sub), ["inside"]);

    let fifo = dir.path().join("fifo.bin");
    mkfifo(&fifo);
    one_line_error(train_cmd(&fixture_dir(), &fifo), &["fifo.bin", "is a FIFO"]);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");

    one_line_error(train_cmd(&fixture_dir(), Path::new("/dev/null")), &["/dev/null", "is a character device"]);
    assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    assert_eq!(names(dir.path()), ["fifo.bin", "weights.bin"], "no temporary file left");
}

#[test]
fn an_out_under_a_file_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, b"old").unwrap();
    // stdout stays empty: the banner and epoch lines would come first if training had started.
    one_line_error(train_cmd(&fixture_dir(), &file.join("w.bin")), &["plain/w.bin", "cannot create the directory"]);
    assert_eq!(fs::read(&file).unwrap(), b"old");
}

#[test]
fn a_diverged_network_is_not_saved_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.bin");
    fs::write(&out, b"old model").unwrap();
    let mut cmd = train_cmd(&fixture_dir(), &out);
    cmd.args(["--limit", "64", "--lr", "1e300"]);
    let output = assert_cmd::Command::from_std(cmd).timeout(Duration::from_secs(60)).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("w.bin: value") && stderr.lines().count() == 1, "{stderr}");
    assert_eq!(fs::read(&out).unwrap(), b"old model");
    assert_eq!(names(dir.path()), ["w.bin"]);
}

#[test]
fn a_limit_above_the_training_set_is_the_whole_set() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    let cmd = train_cmd(&fixture_dir(), &a);
    assert_cmd::Command::from_std(cmd).args(["--limit", "1000000"]).assert().success();
    let cmd = train_cmd(&fixture_dir(), &b);
    assert_cmd::Command::from_std(cmd).assert().success();
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
}

// ---- the server: timeouts, the connection cap, headers ---------------------------------------

/// A running `mnistlearn serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<std::ffi::OsString> = extra.iter().map(std::ffi::OsString::from).collect();
    if !extra.contains(&"--weights") {
        args.extend([std::ffi::OsString::from("--weights"), some_weights(dir.path()).into_os_string()]);
    }
    let (child, line) = crate::common::spawn_serve(&args);
    let addr = line["Serving http://".len()..].split(' ').next().unwrap().parse().unwrap();
    Server { child, addr, _dir: dir }
}

pub(crate) fn connect(addr: SocketAddr, read_timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(read_timeout)).unwrap();
    stream
}

/// Reads until the server closes the connection; returns what came. Panics if the connection is
/// still open when the read timeout passes.
pub(crate) fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("{what}: still open ({e}); received {:?}", String::from_utf8_lossy(&got)),
        }
    }
}

pub(crate) fn predict_request(body: &[u8]) -> Vec<u8> {
    let mut r =
        format!("POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

/// Status line, headers (names in lower case) and body of one answer.
pub(crate) fn read_answer(reader: &mut impl BufRead) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let answer = crate::common::read_answer(reader);
    let headers = answer.headers.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
    (answer.status, headers, answer.body)
}

// The timeouts below are 1 s, and each read gives the server 5 s more before calling the
// connection "still open": the assertion is that the server closes it at all, not how fast.
pub(crate) const GRACE: Duration = Duration::from_secs(6);

#[test]
fn silent_and_half_sent_heads_are_closed_by_the_header_timeout() {
    let server =
        start(&["--addr", "127.0.0.1:0", "--header-timeout", "1", "--idle-timeout", "60", "--body-timeout", "60"]);
    let mut silent = connect(server.addr, GRACE);
    let mut half = connect(server.addr, GRACE);
    half.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
    // A client dripping one header byte every 200 ms is cut off too.
    let mut drip = connect(server.addr, GRACE);
    let dripper = {
        let mut drip = drip.try_clone().unwrap();
        std::thread::spawn(move || {
            for b in b"GET / HTTP/1.1\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                if drip.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    assert!(read_until_closed(&mut silent, "a silent connection").is_empty());
    read_until_closed(&mut half, "half a header");
    read_until_closed(&mut drip, "a dripping header");
    dripper.join().unwrap();
    // The server still answers.
    let mut ok = connect(server.addr, GRACE);
    ok.write_all(&predict_request(&[0; 784])).unwrap();
    assert_eq!(read_answer(&mut BufReader::new(ok)).0, 200);
}

#[test]
fn a_short_body_is_closed_by_the_body_timeout() {
    let server =
        start(&["--addr", "127.0.0.1:0", "--header-timeout", "60", "--idle-timeout", "60", "--body-timeout", "1"]);
    let mut slow = connect(server.addr, GRACE);
    // Declares 784 bytes, sends 100.
    slow.write_all(&predict_request(&[0; 784])[..predict_request(&[]).len() + 100]).unwrap();
    let got = read_until_closed(&mut slow, "a body that never completes");
    // Whatever was said before closing, it was not a prediction.
    assert!(!String::from_utf8_lossy(&got).contains("probabilities"));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_by_the_idle_timeout() {
    let server =
        start(&["--addr", "127.0.0.1:0", "--header-timeout", "60", "--idle-timeout", "1", "--body-timeout", "60"]);
    let stream = connect(server.addr, GRACE);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..3 {
        writer.write_all(&predict_request(&[7; 784])).unwrap();
        assert_eq!(read_answer(&mut reader).0, 200);
    }
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the idle connection is still open: {e}"),
    }
}

#[test]
fn more_idle_connections_than_the_cap_do_not_lock_out_a_request() {
    // Long timeouts: only the eviction of idle connections at the cap can make room here.
    let server = start(&[
        "--addr",
        "127.0.0.1:0",
        "--max-connections",
        "4",
        "--header-timeout",
        "120",
        "--idle-timeout",
        "120",
        "--body-timeout",
        "120",
    ]);
    let mut idle: Vec<TcpStream> = (0..12).map(|_| connect(server.addr, GRACE)).collect();
    // Some of them half-sent, one after a finished request (keep-alive idle).
    idle[0].write_all(b"GET / HTTP/1.1\r\n").unwrap();
    idle[1].write_all(&predict_request(&[1; 784])).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut ok = connect(server.addr, GRACE);
    ok.write_all(&predict_request(&[0; 784])).unwrap();
    let (status, _, body) = read_answer(&mut BufReader::new(ok));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    drop(idle);
}

#[test]
fn the_cap_holds_a_new_connection_until_a_slot_frees() {
    // Two connections in the middle of a body occupy both slots, so the third request is
    // answered only after one of them is closed: by the body timeout, or evicted as a body
    // arriving slower than the minimum rate.
    let server =
        start(&["--addr", "127.0.0.1:0", "--max-connections", "2", "--body-timeout", "1", "--header-timeout", "60"]);
    let partial = predict_request(&[0; 784]);
    let partial = &partial[..partial.len() - 300];
    let mut busy: Vec<TcpStream> = (0..2).map(|_| connect(server.addr, GRACE)).collect();
    for b in &mut busy {
        b.write_all(partial).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut ok = connect(server.addr, Duration::from_secs(30));
    ok.write_all(&predict_request(&[0; 784])).unwrap();
    assert_eq!(read_answer(&mut BufReader::new(ok)).0, 200);
    // The server closes a connection before it gives up its slot, and the FIN reaches the
    // client before the new connection is even accepted: when the answer is in, at least one
    // of the stalled connections must already read as closed. (Without the cap the answer
    // would come at once, with both still open.)
    let closed = busy
        .iter()
        .filter(|b| {
            let mut b: &TcpStream = b;
            b.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match b.read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                    Err(_) => return false,
                }
            }
        })
        .count();
    assert!(closed >= 1, "answered while both stalled connections held their slots");
}

#[test]
fn every_answer_carries_the_security_headers() {
    let server = start(&["--addr", "localhost:0"]);
    for request in [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"GET /app.js HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        predict_request(&[0; 784]),
        predict_request(&[0; 10]),
        b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"DELETE / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n".to_vec(),
    ] {
        let mut stream = connect(server.addr, GRACE);
        stream.write_all(&request).unwrap();
        let (status, headers, _) = read_answer(&mut BufReader::new(stream));
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("");
        let what = format!("{} → {status}", String::from_utf8_lossy(&request[..request.len().min(30)]));
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp:?}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    }
}

#[test]
fn serve_limit_flags_are_checked() {
    for (flag, value) in
        [("--header-timeout", "0"), ("--idle-timeout", "-1"), ("--body-timeout", "nan"), ("--max-connections", "0")]
    {
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_mnistlearn")).args(["serve", flag, value]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag) && stderr.lines().count() == 1, "{stderr}");
    }
}
