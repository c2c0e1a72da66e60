//! The `mnistlearn` binary: parse, run, and print any error once, as one line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match mnistlearn::cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mnistlearn: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
