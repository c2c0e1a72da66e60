//! `cargo xtask browser [--weights FILE] [--quick]`: the real-browser tests of the two pages.
//!
//! Starts `mnistlearn serve` on a free loopback port with trained weights (default
//! `data/weights.bin`, as `cargo xtask verify` leaves it), installs the tests' one npm package
//! (`playwright-core`, no browser download) and runs, against Debian's Chromium:
//!
//! * `tests/browser/draw.test.mjs`, the drawing app. Screenshots in `target/browser/`: the
//!   digits drawn (small and tiny ones in the corners among them) with the hidden layer lit, ten
//!   MNIST test digits traced into strokes and drawn under 60 px tall in the corners, a tap, an
//!   error, the blank canvas's prompt, and the page on a 768×1024 tablet and a 390×844 phone.
//! * `tests/browser/train.test.mjs`, the training page: on a second server whose `--data` is the
//!   committed fixture, 1 epoch with `--limit 2000` (SIMD module and scalar) and 20 epochs of
//!   hidden 301, batch 20, paused and resumed, must end on the bytes and the log of
//!   `mnistlearn train` with the same flags (run here first); a third server with an empty
//!   `--data` must make the page say how to get MNIST. Then, unless `--quick` or without the
//!   MNIST files in `data/`, the default 30-epoch run in the page on the first server: its hash
//!   must be `golden/full_run.txt`'s; the time and the server's memory before and after are
//!   printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{build_release, run_checked, Server};

pub fn run(args: &[String]) -> Result<(), String> {
    let root = crate::paths::project_root();
    let mut weights = root.join("data/weights.bin");
    let mut quick = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--weights" => weights = PathBuf::from(rest.next().ok_or("browser: --weights needs a FILE")?),
            other => {
                return Err(format!(
                    "browser: unexpected argument '{other}': expected --weights FILE or --quick (see `cargo xtask browser --help`)"
                ))
            }
        }
    }
    if !weights.exists() {
        return Err(format!(
            "{}: not found; run `cargo xtask verify` first (it trains the default model)",
            weights.display()
        ));
    }
    let bin = build_release()?;
    let test_dir = root.join("tests/browser");
    if !test_dir.join("node_modules/playwright-core").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(&test_dir);
        run_checked(npm, "npm ci (tests/browser)")?;
    }
    let data = root.join("data");
    let server = Server::start_with_data(&bin, &weights, &data)?;
    let url = format!("http://{}", server.addr);
    println!("browser: server at {url}");
    let mut node = Command::new("node");
    node.args(["--test", "draw.test.mjs"]).current_dir(&test_dir).env("MNISTLEARN_URL", &url);
    run_checked(node, "node --test tests/browser/draw.test.mjs")?;

    // The training page: the CLI's runs on the fixture first, for the page to match.
    let fixture = root.join("tests/fixtures/mnist-small");
    let out = root.join("target/browser/cli");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, flags) in
        [("e1", &["--epochs", "1"][..]), ("h301", &["--epochs", "20", "--hidden", "301", "--batch", "20"])]
    {
        cli_train(&bin, &fixture, flags, &out.join(format!("{name}.bin")), &out.join(format!("{name}.log")))?;
    }
    let empty = root.join("target/browser/no-data");
    std::fs::create_dir_all(&empty).map_err(|e| format!("{}: {e}", empty.display()))?;
    let on_fixture = Server::start_with_data(&bin, &weights, &fixture)?;
    let without_data = Server::start_with_data(&bin, &weights, &empty)?;
    let full = !quick && has_mnist(&data);
    if !full {
        println!(
            "browser: the 30-epoch run in the page is skipped ({})",
            if quick { "--quick" } else { "no MNIST in data/: cargo xtask fetch" }
        );
    }
    let mut node = Command::new("node");
    node.args(["--test", "train.test.mjs"])
        .current_dir(&test_dir)
        .env("MNISTLEARN_TRAIN_URL", format!("http://{}", on_fixture.addr))
        .env("MNISTLEARN_NODATA_URL", format!("http://{}", without_data.addr))
        .env("MNISTLEARN_CLI_DIR", &out)
        .env("MNISTLEARN_URL", &url)
        .env("MNISTLEARN_SERVER_PID", server.pid().to_string())
        .env("MNISTLEARN_FULL_RUN", if full { "1" } else { "0" });
    run_checked(node, "node --test tests/browser/train.test.mjs")
}

/// `mnistlearn train --data DIR --limit 2000 FLAGS`, its weights to `weights` and its stdout to `log`.
fn cli_train(bin: &Path, data: &Path, flags: &[&str], weights: &Path, log: &Path) -> Result<(), String> {
    let output = Command::new(bin)
        .arg("train")
        .args(flags)
        .args(["--limit", "2000", "--data"])
        .arg(data)
        .arg("--out")
        .arg(weights)
        .output()
        .map_err(|e| format!("mnistlearn train: cannot start: {e}"))?;
    if !output.status.success() {
        return Err(format!("mnistlearn train {}: {}", flags.join(" "), String::from_utf8_lossy(&output.stderr)));
    }
    std::fs::write(log, &output.stdout).map_err(|e| format!("{}: {e}", log.display()))
}

/// Whether `dir` holds the four MNIST files (gzipped or raw).
fn has_mnist(dir: &Path) -> bool {
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        .iter()
        .all(|name| dir.join(name).exists() || dir.join(format!("{name}.gz")).exists())
}
