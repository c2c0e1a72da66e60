//! Project automation, matklad's xtask pattern: `cargo xtask <command>`.
//!
//! * `fetch`  — download MNIST into `data/` (or copy from a local mirror) and check SHA-256
//! * `verify` — fetch if needed, build release, train the default run, check the golden log
//! * `bench`  — time our training against the NumPy reference, in one run
//! * `book`   — build the mdBook, failing on broken includes, anchors or links
//! * `ci`     — everything CI runs, in order

mod bench;
mod book;
mod fetch;
mod util;
mod verify;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: cargo xtask <fetch|verify|bench|book|ci> [options]");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "bench" => bench::run(rest),
        "book" => book::run(rest),
        "fetch" => fetch::run(rest),
        "verify" => verify::run(rest),
        other => Err(format!("unknown xtask command '{other}': expected fetch, verify, bench, book or ci")),
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
