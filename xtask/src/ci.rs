//! `cargo xtask ci`: everything CI checks after `cargo test --workspace`, in order — the full
//! reproduction (`verify`), the redrawn test set with the weights it trained (`redrawn`), the
//! cargo-free download script on the files `verify` fetched (offline, through a `file://` URL), the
//! book (`book`), the drawing app in a real browser (`browser`), a short seeded fuzz run
//! (`fuzz --count 150`: the same first 150 cases every time), and the same bits on aarch64 and
//! wasm32 (`cross`: the committed wasm modules rebuilt byte for byte, the kernel and trainer
//! tests under qemu and in Node, the full run's hash on each).

pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("ci: unexpected arguments {args:?}: ci takes none"));
    }
    for (name, step) in [
        ("cargo xtask verify", crate::verify::run as fn(&[String]) -> Result<(), String>),
        ("cargo xtask redrawn", crate::redrawn::run),
        ("scripts/download_mnist.sh, offline through a file:// URL", crate::fetch::check_download_script),
        ("cargo xtask book", crate::book::run),
        ("cargo xtask browser", crate::browser::run),
        ("cargo xtask fuzz --count 150", |_| crate::fuzz::run(&["--count".into(), "150".into()])),
        ("cargo xtask cross", crate::cross::run),
    ] {
        println!("\n==> {name}");
        step(&[]).map_err(|e| format!("{name}: {e}"))?;
    }
    println!("\nci: all steps passed");
    Ok(())
}
