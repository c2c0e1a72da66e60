//! `cargo xtask ci`: everything CI checks after `cargo test --workspace`, in order — the full
//! reproduction (`verify`), the book (`book`), and the drawing app in a real browser (`browser`).

pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err(format!("ci: unexpected arguments {args:?}: ci takes none"));
    }
    for (name, step) in [
        ("verify", crate::verify::run as fn(&[String]) -> Result<(), String>),
        ("book", crate::book::run),
        ("browser", crate::browser::run),
    ] {
        println!("\n==> cargo xtask {name}");
        step(&[]).map_err(|e| format!("{name}: {e}"))?;
    }
    println!("\nci: all steps passed");
    Ok(())
}
