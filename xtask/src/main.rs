//! Project automation, matklad's xtask pattern: `cargo xtask <command>`.
//!
//! * `fetch`  — download MNIST into `data/` (or copy from a local mirror) and check SHA-256
//! * `verify` — fetch if needed, build release, train the default run, check the golden log
//!   and the book's figures
//! * `figures [--check]` — draw the book's figures from the default run (or check them)
//! * `seeds`  — the default run under seeds 1–5, as a table
//! * `bench`  — time our training against the NumPy reference, in one run
//! * `book`   — build the mdBook, failing on broken includes, anchors or links
//! * `browser` — the drawing app in headless Chromium
//! * `redrawn` — the test set redrawn small, large, off-centre and dark on light, read back from
//!   PNG/PGM files: MNIST's preprocessing vs a naive resize
//! * `ci`     — everything CI runs after `cargo test`, in order

mod bench;
mod book;
mod browser;
mod ci;
mod fetch;
mod figures;
mod mathjax;
mod redrawn;
mod seeds;
mod util;
mod verify;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: cargo xtask <fetch|verify|figures|seeds|bench|book|browser|redrawn|ci> [options]");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "bench" => bench::run(rest),
        "book" => book::run(rest),
        "browser" => browser::run(rest),
        "ci" => ci::run(rest),
        "fetch" => fetch::run(rest),
        "figures" => figures::run(rest),
        "redrawn" => redrawn::run(rest),
        "seeds" => seeds::run(rest),
        "verify" => verify::run(rest),
        other => Err(format!(
            "unknown xtask command '{other}': expected fetch, verify, figures, seeds, bench, book, browser, redrawn or ci"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of `xtask/`).
pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo").to_path_buf()
}
