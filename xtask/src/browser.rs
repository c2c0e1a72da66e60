//! `cargo xtask browser [--weights FILE]`: the real-browser test of the drawing app.
//!
//! Starts `mnistlearn serve` on a free loopback port with trained weights (default
//! `data/weights.bin`, as `cargo xtask verify` leaves it), installs the test's one npm package
//! (`playwright-core`, no browser download) and runs `node --test tests/browser/draw.test.mjs`
//! against Debian's Chromium. Screenshots land in `target/browser/`: the digits drawn (a small
//! "3" in a corner among them) with the hidden layer lit, the blank canvas's prompt, and the
//! page on a 390×844 phone.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{build_release, run_checked, Server};

pub fn run(args: &[String]) -> Result<(), String> {
    let root = crate::paths::project_root();
    let weights = match args {
        [] => root.join("data/weights.bin"),
        [flag, path] if flag == "--weights" => PathBuf::from(path),
        _ => return Err("browser: expected no arguments or --weights FILE (see `cargo xtask browser --help`)".into()),
    };
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
    let server = Server::start(&bin, &weights)?;
    let url = format!("http://{}", server.addr);
    println!("browser: server at {url}");
    let mut node = Command::new("node");
    node.args(["--test", "draw.test.mjs"]).current_dir(&test_dir).env("MNISTLEARN_URL", &url);
    run_checked(node, "node --test tests/browser/draw.test.mjs")
}
