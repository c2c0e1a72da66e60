//! `cargo xtask cross`: the same bits on x86-64, aarch64 and wasm32.
//!
//! 1. The wasm modules: rebuilt and compared byte for byte with the committed `web/wasm/`
//!    (`cargo xtask wasm --check`; if Debian's compiler moved, it says so and the behaviour
//!    below is what counts).
//! 2. The kernel and trainer tests on both: the core crate's tests (`core/tests/it/`) built
//!    for aarch64 and run under qemu-user (NEON against scalar), and `tests/wasm/check.mjs` in
//!    Node on both committed modules (SIMD128 against scalar, and the fixture's golden files).
//! 3. The default 30-epoch run on each: natively, with the aarch64 binary under qemu, and with
//!    the SIMD128 module in Node; one line per architecture, each log and weights hash checked
//!    against `golden/full_run.txt`.
//!
//! The toolchain is Debian's (`scripts/install-cross-toolchain.sh`); without it, one line says
//! what to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::fetch::{self, content_sha256, FetchOptions};
use crate::paths::GOLDEN;
use crate::util::{build_release, run_checked, step};
use crate::verify::golden_text;
use crate::wasm;

const AARCH64: &str = "aarch64-unknown-linux-gnu";
const QEMU: &str = "qemu-aarch64";
/// The linker's sysroot (libc6-dev-arm64-cross). Programs run against the arm64 C library of
/// Debian's multiarch (libc6:arm64, which libstd-rust-web-dev:arm64 brings), found at its usual
/// `/lib/ld-linux-aarch64.so.1`, *not* with `qemu-aarch64 -L` this sysroot: under qemu 7.2 a
/// program run with the cross package's libc hangs in its first `pthread_create` (spinning, no
/// system call), so every test harness and every trainer with two threads would hang.
const SYSROOT: &str = "/usr/aarch64-linux-gnu";
const LOADER: &str = "/lib/ld-linux-aarch64.so.1";
const LINKER: &str = "aarch64-linux-gnu-gcc";

/// `Some(what is missing)` if a piece of the cross toolchain is not installed.
fn missing() -> Option<String> {
    if let Some(what) = wasm::missing() {
        return Some(what);
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    if !Path::new("/usr/lib/rustlib").join(AARCH64).join("lib").is_dir() {
        Some(format!("no arm64 std in /usr/lib/rustlib/{AARCH64} (libstd-rust-web-dev:arm64)"))
    } else if !on_path(LINKER) {
        Some(format!("no {LINKER} (gcc-aarch64-linux-gnu)"))
    } else if !Path::new(SYSROOT).join("lib").is_dir() {
        Some(format!("no {SYSROOT} (libc6-dev-arm64-cross)"))
    } else if !Path::new(LOADER).exists() {
        Some(format!("no {LOADER} (libc6:arm64)"))
    } else if !on_path(QEMU) {
        Some(format!("no {QEMU} (qemu-user)"))
    } else if !on_path("node") {
        Some("no node (Node.js ≥ 16 runs the wasm checks)".to_string())
    } else {
        None
    }
}

/// Debian's cargo with its compiler, for aarch64, linked by gcc and run by qemu.
fn aarch64_cargo(root: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/cargo");
    cmd.current_dir(root)
        .env("RUSTC", wasm::DEBIAN_RUSTC)
        .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", LINKER)
        .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER", QEMU)
        // insta looks for the workspace with `cargo metadata` otherwise.
        .env("INSTA_WORKSPACE_ROOT", root)
        .env("INSTA_UPDATE", "no")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

/// One architecture's full run: its log lines and weights file.
struct Run {
    arch: &'static str,
    how: String,
    lines: Vec<String>,
    weights: PathBuf,
    seconds: f64,
}

fn timed(
    arch: &'static str,
    how: String,
    weights: PathBuf,
    f: impl FnOnce() -> Result<Vec<String>, String>,
) -> Result<Run, String> {
    let start = Instant::now();
    let lines = f()?;
    Ok(Run { arch, how, lines, weights, seconds: start.elapsed().as_secs_f64() })
}

pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("cross: unexpected arguments {args:?}: cross takes none"));
    }
    if let Some(what) = missing() {
        return Err(format!("cross: {what}: {}", wasm::INSTALL_HINT));
    }
    let root = crate::paths::project_root();
    let out = root.join("target/cross");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;

    step("cross", "the wasm modules: rebuilt and compared with web/wasm/");
    let compiler_moved = wasm::check()?;
    let mut modules: Vec<PathBuf> = wasm::MODULES.iter().map(|(name, _)| root.join("web/wasm").join(name)).collect();
    if compiler_moved {
        // The committed modules are what users get; the rebuilt ones what this compiler makes.
        modules.extend(wasm::MODULES.iter().map(|(_, feature)| wasm::built_path(*feature)));
    }
    let check_mjs = root.join("tests/wasm/check.mjs");
    for module in &modules {
        step("cross", &format!("wasm32 in Node: kernel, trainer and fixture checks of {}", module.display()));
        let start = Instant::now();
        let mut node = Command::new("node");
        node.arg(&check_mjs).arg(module).arg("fixture").current_dir(&root);
        run_checked(node, "node tests/wasm/check.mjs fixture")?;
        println!("cross: ({:.1} s)", start.elapsed().as_secs_f64());
    }

    step("cross", "aarch64: the core crate's tests (kernels, trainers, fixture golden files) under qemu");
    let start = Instant::now();
    let mut test = aarch64_cargo(&root);
    test.args(["test", "-p", "mnistlearn-core", "--target", AARCH64]);
    run_checked(test, "cargo test -p mnistlearn-core --target aarch64 (qemu)")?;
    println!("cross: aarch64 tests took {:.0} s (build and qemu)", start.elapsed().as_secs_f64());

    step("cross", "aarch64: building target/aarch64-unknown-linux-gnu/release/mnistlearn");
    let mut build = aarch64_cargo(&root);
    build.args(["build", "--release", "-p", "mnistlearn", "--bin", "mnistlearn", "--target", AARCH64]);
    run_checked(build, "cargo build --release --target aarch64")?;
    let a64_bin = root.join("target").join(AARCH64).join("release/mnistlearn");

    step("cross", "MNIST in data/ (fetching what is missing)");
    fetch::fetch(&FetchOptions::parse(&[])?)?;
    let data = root.join("data");
    let native_bin = build_release()?;

    // One after the other, each with the whole machine: qemu's two threads on two cores take
    // about half the time of one, which beat running qemu and Node side by side on one core each.
    step("cross", "the default 30-epoch run: natively, then aarch64 under qemu, then wasm32 in Node");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let native_weights = out.join("weights-x86_64.bin");
    let native = timed("x86-64", "native, best level, all threads".into(), native_weights.clone(), || {
        let mut cmd = Command::new(&native_bin);
        cmd.arg("train").arg("--data").arg(&data).arg("--out").arg(&native_weights);
        run_quiet(cmd, "mnistlearn train")
    });
    // By hand, as a user on an ARM machine would: `mnistlearn train --data DIR --out F`.
    let a64_weights = out.join("weights-aarch64.bin");
    let a64 = timed("aarch64", format!("qemu-aarch64, neon (auto), {threads} threads"), a64_weights.clone(), || {
        let mut cmd = Command::new(QEMU);
        cmd.arg(&a64_bin).arg("train").arg("--data").arg(&data).arg("--out").arg(&a64_weights);
        run_quiet(cmd, "qemu-aarch64 mnistlearn train")
    });
    let wasm_weights = out.join("weights-wasm32.bin");
    let wasm32 = timed("wasm32", "Node, simd128".into(), wasm_weights.clone(), || {
        let mut node = Command::new("node");
        node.arg(&check_mjs).arg(&modules[1]).arg("full").arg(&data).arg(&wasm_weights).current_dir(&root);
        run_quiet(node, "node tests/wasm/check.mjs full")
    });

    let golden = std::fs::read_to_string(root.join(GOLDEN)).map_err(|e| format!("{GOLDEN}: {e}"))?;
    let golden_hash = golden.lines().find_map(|l| l.strip_prefix("weights.bin sha256: ")).unwrap_or("?").to_string();
    let mut failures = Vec::new();
    println!();
    for run in [native, a64, wasm32] {
        let run = run?;
        let hash = content_sha256(&run.weights).map_err(|e| format!("{}: {e}", run.weights.display()))?;
        let log = &run.lines;
        println!("{} ({}): weights sha256 {hash}   [{:.0} s]", run.arch, run.how, run.seconds);
        if hash != golden_hash {
            failures.push(format!("{}: weights sha256 {hash}, golden {golden_hash}", run.arch));
        } else if golden_text(log, &hash) != golden {
            failures.push(format!("{}: the log differs from {GOLDEN}", run.arch));
        }
    }
    if !failures.is_empty() {
        return Err(format!("cross: {}", failures.join("; ")));
    }
    println!("cross: all three equal {GOLDEN} (log and weights hash)");
    Ok(())
}

/// Runs `cmd`, keeping its stdout lines (printed only if it fails: two runs share the terminal).
fn run_quiet(mut cmd: Command, what: &str) -> Result<Vec<String>, String> {
    let output = cmd.output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{what}: failed ({}): {}{}",
            output.status,
            text.lines().last().unwrap_or(""),
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
        ));
    }
    Ok(text.lines().map(str::to_string).collect())
}
