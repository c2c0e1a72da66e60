//! `cargo xtask ci`: everything CI checks after `cargo test --workspace`, in order — the full
//! reproduction (`verify`), the redrawn test set with the weights it trained (`redrawn`), the
//! book (`book`), and the drawing app in a real browser (`browser`).

pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("ci: unexpected arguments {args:?}"));
    }
    for (name, step) in [
        ("verify", crate::verify::run as fn(&[String]) -> Result<(), String>),
        ("redrawn", crate::redrawn::run),
        ("book", crate::book::run),
        ("browser", crate::browser::run),
    ] {
        println!("\n==> cargo xtask {name}");
        step(&[]).map_err(|e| format!("{name}: {e}"))?;
    }
    println!("\nci: all steps passed");
    Ok(())
}
