//! `cargo xtask wasm`: the WebAssembly modules in `web/wasm/`, built reproducibly.
//!
//! rustup's toolchain here has no wasm32 standard library and cannot download one, so the
//! modules are built with Debian's compiler (`rustc-web`) and its std source (`rust-web-src`),
//! with `-Zbuild-std`. Users with only rustup's toolchain get them from the repository: they are
//! committed, beside `TOOLCHAIN` (the compiler that made them), and the binary serves them.
//!
//! Reproducible: the same compiler builds the same bytes from any checkout path and any `$HOME`
//! (`--remap-path-prefix` for the checkout and cargo's home, one codegen unit, stripped).
//! `--check` rebuilds in `target/` and compares byte for byte; if the compiler is no longer the
//! one in `TOOLCHAIN`, it says so and skips the byte comparison, and `cargo xtask cross` checks
//! the behaviour instead (the weights hash of the full run in Node).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{run_checked, step};

/// The committed modules: file name and the extra target feature.
pub const MODULES: [(&str, Option<&str>); 2] =
    [("mnistlearn.wasm", None), ("mnistlearn-simd128.wasm", Some("+simd128"))];

/// Debian's compiler, paired with its std source.
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library/Cargo.lock";
const TARGET: &str = "wasm32-unknown-unknown";

/// What to install, as one line (`scripts/install-cross-toolchain.sh` does all of it).
pub const INSTALL_HINT: &str = "install Debian's cross toolchain as root: bash scripts/install-cross-toolchain.sh \
     (= apt-get install -y --no-install-recommends rustc-web cargo-web rust-web-src rust-web-llvm lld-22 \
     gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; dpkg --add-architecture arm64; apt-get update; \
     apt-get install -y libstd-rust-web-dev:arm64)";

/// `Some(what is missing)` if the wasm toolchain is not installed.
pub fn missing() -> Option<String> {
    let lld = ["/usr/bin/rust-lld", "/usr/bin/lld-22", "/usr/lib/llvm-22/bin/lld"];
    if !Path::new(DEBIAN_RUSTC).exists() {
        Some(format!("no {DEBIAN_RUSTC} (rustc-web)"))
    } else if !Path::new(STD_SOURCE).exists() {
        Some(format!("no std source {STD_SOURCE} (rust-web-src)"))
    } else if !lld.iter().any(|p| Path::new(p).exists()) {
        Some("no lld (lld-22)".to_string())
    } else {
        None
    }
}

/// The compiler's identity, as recorded in `web/wasm/TOOLCHAIN`.
pub fn toolchain() -> Result<String, String> {
    let out = Command::new(DEBIAN_RUSTC).arg("-vV").output().map_err(|e| format!("{DEBIAN_RUSTC} -vV: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pick = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).unwrap_or("?").trim().to_string();
    Ok(format!(
        "{}\ncommit-hash: {}\nLLVM version: {}\n",
        text.lines().next().unwrap_or("rustc ?"),
        pick("commit-hash:"),
        pick("LLVM version:")
    ))
}

/// Builds one module and returns the path of the `.wasm` cargo wrote.
pub fn build(feature: Option<&str>) -> Result<PathBuf, String> {
    let root = crate::paths::project_root();
    let flavour = if feature.is_some() { "simd128" } else { "scalar" };
    let target_dir = root.join("target/wasm").join(flavour);
    debug_assert_eq!(built_path(feature), target_dir.join(TARGET).join("wasm/mnistlearn_wasm.wasm"));
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    // Paths that rustc writes into the module (panic locations) must not depend on where the
    // checkout or cargo's home is: remap both to fixed names.
    let mut flags = vec![
        format!("--remap-path-prefix={}=/mnistlearn", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ];
    // Nor the line numbers: panic locations (a panic is a trap here, its message unread) would
    // tie the bytes to every comment added above a `[]` in core.
    flags.push("-Zlocation-detail=none".to_string());
    if let Some(feature) = feature {
        flags.push(format!("-Ctarget-feature={feature}"));
    }
    let cargo = if Path::new(DEBIAN_CARGO).exists() { DEBIAN_CARGO.into() } else { crate::util::cargo_path() };
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--profile", "wasm", "-p", "mnistlearn-wasm", "--target", TARGET])
        .arg("-Zbuild-std=std,panic_abort")
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root)
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    run_checked(cmd, &format!("cargo build (wasm32, {flavour})"))?;
    Ok(built_path(feature))
}

/// Where [`build`] leaves the module with `feature`.
pub fn built_path(feature: Option<&str>) -> PathBuf {
    let flavour = if feature.is_some() { "simd128" } else { "scalar" };
    crate::paths::project_root().join("target/wasm").join(flavour).join(TARGET).join("wasm/mnistlearn_wasm.wasm")
}

pub fn run(args: &[String]) -> Result<(), String> {
    if crate::util::optional_flag("wasm", args, "--check")? {
        check().map(|_| ())
    } else {
        write()
    }
}

/// Builds both modules into `web/wasm/` with `TOOLCHAIN`.
fn write() -> Result<(), String> {
    let dir = crate::paths::project_root().join("web/wasm");
    let toolchain = toolchain()?;
    for (name, feature) in MODULES {
        let bytes = build_module(name, feature)?;
        let committed = dir.join(name);
        std::fs::write(&committed, &bytes).map_err(|e| format!("{}: {e}", committed.display()))?;
    }
    std::fs::write(dir.join("TOOLCHAIN"), &toolchain).map_err(|e| format!("web/wasm/TOOLCHAIN: {e}"))?;
    println!("wasm: wrote web/wasm/ (commit it)");
    Ok(())
}

fn build_module(name: &str, feature: Option<&str>) -> Result<Vec<u8>, String> {
    if let Some(what) = missing() {
        return Err(format!("wasm: {what}: {INSTALL_HINT}"));
    }
    step("wasm", &format!("building {name}"));
    let built = build(feature)?;
    let bytes = std::fs::read(&built).map_err(|e| format!("{}: {e}", built.display()))?;
    println!("wasm: {name}: {} bytes, sha256 {}", bytes.len(), crate::util::sha256_hex(&bytes));
    Ok(bytes)
}

/// Rebuilds both modules in `target/wasm/` and compares them with `web/wasm/`. `Ok(true)`: they
/// differ, but the compiler is not the one `TOOLCHAIN` names (said on stdout); `Ok(false)`:
/// the same bytes; `Err`: different bytes from the same compiler.
pub fn check() -> Result<bool, String> {
    let dir = crate::paths::project_root().join("web/wasm");
    let toolchain = toolchain()?;
    let recorded = std::fs::read_to_string(dir.join("TOOLCHAIN")).unwrap_or_default();
    let mut differ = Vec::new();
    for (name, feature) in MODULES {
        let bytes = build_module(name, feature)?;
        if std::fs::read(dir.join(name)).ok().as_deref() != Some(&bytes[..]) {
            differ.push(name);
        }
    }
    match (differ.is_empty(), recorded == toolchain) {
        (true, _) => {
            println!("wasm: the committed modules are the bytes this source builds");
            Ok(false)
        }
        (false, true) => Err(format!(
            "wasm: {} differ from what this source builds with the same compiler: run `cargo xtask wasm` and \
             commit web/wasm/",
            differ.join(", ")
        )),
        (false, false) => {
            println!(
                "wasm: NOTE: the compiler moved (web/wasm/TOOLCHAIN says {:?}, this machine has {:?}), so {} \
                 differ in bytes; the behaviour (the weights hash) is what `cargo xtask cross` checks",
                recorded.lines().next().unwrap_or("nothing"),
                toolchain.lines().next().unwrap_or("?"),
                differ.join(", ")
            );
            Ok(true)
        }
    }
}
