//! Where things are in the repository, named once: every command finds the root and the files
//! they share (the golden log, the training log, the figures) here instead of in each other.

use std::path::PathBuf;

/// The full run's golden log (`cargo xtask verify` compares against it).
pub const GOLDEN: &str = "golden/full_run.txt";
/// What `cargo xtask verify` writes with `mnistlearn train --log` (JSON Lines, one per epoch).
pub const TRAIN_LOG: &str = "data/train-log.jsonl";
/// The weights `verify` trains and the other commands read by default.
pub const WEIGHTS: &str = "data/weights.bin";
/// Where the book's figures live.
pub const FIGURES_DIR: &str = "book/src/figures";

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set (relative to the root, where the
/// commands run cargo), else `target/` in the root. The release binary is built there.
pub fn target_dir() -> PathBuf {
    target_dir_from(std::env::var_os("CARGO_TARGET_DIR"))
}

fn target_dir_from(env: Option<std::ffi::OsString>) -> PathBuf {
    match env.filter(|dir| !dir.is_empty()) {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// The release binary `cargo build --release` makes.
pub fn release_binary() -> PathBuf {
    target_dir().join("release").join("mnistlearn")
}

/// The repository root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo").to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_dir_follows_cargo_target_dir() {
        let root = project_root();
        assert_eq!(target_dir_from(None), root.join("target"));
        assert_eq!(target_dir_from(Some("".into())), root.join("target"));
        assert_eq!(target_dir_from(Some("/tmp/elsewhere".into())), PathBuf::from("/tmp/elsewhere"));
        assert_eq!(target_dir_from(Some("build".into())), root.join("build"));
    }
}
