//! The command line: `mnistlearn train | test | serve | predict | figures | time-forward | time-phases`. Thin by design — parsing
//! and printing only; the work lives in the library.
//!
//! Every command and every flag is declared once, in [`COMMANDS`]: the parser accepts exactly
//! the flags a command declares, and both the overview (`mnistlearn --help`) and each command's
//! own help (`mnistlearn train --help`) are generated from the same table, so the help cannot
//! drift from what is parsed. (A hand-rolled table rather than clap: the whole grammar is
//! `--flag value`, `--flag=value`, switches and, for some commands, positional arguments; clap
//! would roughly double the binary's compile time for it.)
//!
//! | file              | its one job                                           |
//! |-------------------|-------------------------------------------------------|
//! | `mod.rs`          | [`run`]: find the command, hand it its parsed flags   |
//! | `commands.rs`     | [`COMMANDS`]: every command and flag, declared once   |
//! | `args.rs`         | [`Args`]: the parser and its typed accessors          |
//! | `help.rs`         | the help texts, generated from the table              |
//! | `train.rs`, `test.rs`, `predict.rs`, `serve.rs`, `time_forward.rs`, `time_phases.rs`, `figures.rs` | one command's body each |
//! | `epoch_log.rs`    | `train --log`'s JSON lines                            |

use std::ffi::OsString;
use std::io::Write;

mod args;
mod commands;
mod epoch_log;
mod figures;
mod help;
mod predict;
mod serve;
mod test;
mod time_forward;
mod time_phases;
mod train;

pub use args::Args;
pub use commands::{Command, Flag, COMMANDS};
use help::{command_help, overview};

use crate::Error;

/// Runs the command line `args` (without the program name).
pub fn run(args: &[OsString]) -> Result<(), Error> {
    let Some(first) = args.first() else {
        return Err(Error::Usage(format!(
            "no command given: expected one of {} (see 'mnistlearn --help')",
            command_names()
        )));
    };
    let rest = &args[1..];
    let name = first.to_string_lossy();
    match name.as_ref() {
        "help" | "--help" | "-h" => {
            // `mnistlearn help train` is `mnistlearn train --help`; a name that is no command is
            // the same error as `mnistlearn bogus`.
            match rest.first().map(|n| n.to_string_lossy()) {
                None => print_text(&overview()),
                Some(name) => match find_command(&name) {
                    Some(command) => print_text(&command_help(command)),
                    None => Err(unknown_command(&name)),
                },
            }
        }
        "--version" | "-V" => match rest.first() {
            None => print_text(&format!("mnistlearn {}\n", env!("CARGO_PKG_VERSION"))),
            Some(extra) => Err(Error::Usage(format!(
                "{name} takes no arguments, got '{}' (see 'mnistlearn --help')",
                extra.to_string_lossy()
            ))),
        },
        other => {
            let command = find_command(other).ok_or_else(|| unknown_command(other))?;
            // `--help` anywhere before a lone `--` asks for help, whatever else is on the line.
            let before_dashes = rest.iter().take_while(|a| *a != "--");
            if before_dashes.into_iter().any(|a| a == "--help" || a == "-h") {
                return print_text(&command_help(command));
            }
            (command.run)(&Args::parse(command, rest)?)
        }
    }
}

fn find_command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `mnistlearn NAME` and `mnistlearn help NAME` for a NAME that is no command.
fn unknown_command(name: &str) -> Error {
    Error::Usage(format!("unknown command '{name}': expected one of {} (see 'mnistlearn --help')", command_names()))
}

fn command_names() -> String {
    COMMANDS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Writes text to stdout; a closed pipe (`| head`) ends the output quietly.
pub(super) fn print_text(text: &str) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("writing to stdout", e)),
        _ => Ok(()),
    }
}

pub(super) fn print_lines(lines: &[String]) -> Result<(), Error> {
    let mut text = lines.join("\n");
    text.push('\n');
    print_text(&text)
}
