//! `cargo xtask redrawn [--weights FILE]`: the real MNIST test set redrawn as people draw
//! them, read back from PNG and PGM files, classified through MNIST's preprocessing and through
//! a naive whole-canvas resize (`examples/redrawn.rs`), and the test digits as traced strokes
//! replayed at 100%, 40% and 15% of the canvas; MNIST's stroke width. Fails if the redrawn
//! accuracy is more than 1 point below the accuracy on the original 28×28 images, or the
//! strokes at 15% more than 2 points below full size. Needs `data/` and the weights `cargo
//! xtask verify` trains.

use crate::util::{cargo, run_checked};

pub fn run(args: &[String]) -> Result<(), String> {
    let root = crate::paths::project_root();
    let weights = match args {
        [] => root.join("data/weights.bin"),
        [flag, path] if flag == "--weights" => path.into(),
        _ => return Err("redrawn: expected no arguments or --weights FILE".into()),
    };
    if !weights.exists() {
        return Err(format!(
            "{}: not found; run `cargo xtask verify` first (it trains the default model)",
            weights.display()
        ));
    }
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "-p",
        "mnistlearn",
        "--features",
        "redrawn-example",
        "--example",
        "redrawn",
        "--",
        "--data",
    ])
    .arg(root.join("data"))
    .arg("--weights")
    .arg(&weights)
    .args(["--max-gap", "1"])
    .current_dir(&root);
    run_checked(cmd, "cargo run --example redrawn")
}
