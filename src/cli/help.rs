//! The help texts, generated from [`super::COMMANDS`]: the overview and each command's own.

use super::commands::{Command, Flag, COMMANDS};

// ANCHOR: usage
/// `mnistlearn --help`: every command with its synopsis and one line of what it does.
pub fn overview() -> String {
    let mut text = String::from(
        "mnistlearn — a 784-32-10 digit network, bit-exact, reproducing a NASM original\n\nUsage: mnistlearn COMMAND [FLAGS]\n\nCommands:\n",
    );
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for command in COMMANDS {
        text += &format!("  {:width$}  {}\n", command.name, command.summary);
    }
    text += &format!(
        "  {:width$}  this text; 'mnistlearn help COMMAND' or 'mnistlearn COMMAND --help' explains a command's flags\n",
        "help"
    );
    text += "\nFlags take their value as '--flag VALUE' or '--flag=VALUE'. 'mnistlearn --version' (-V) prints the version.\n";
    text += "\nEvery --simd level and every --threads count gives bit-identical results.\n";
    text
}

/// `mnistlearn COMMAND --help`: the synopsis, what the command does, and every flag.
pub fn command_help(command: &Command) -> String {
    let positional = command.positional.map_or(String::new(), |p| format!(" {p}"));
    let mut text = format!(
        "mnistlearn {} — {}\n\nUsage: mnistlearn {} [FLAGS]{positional}\n\n{}\n\nFlags:\n",
        command.name, command.summary, command.name, command.details
    );
    let label = |f: &Flag| f.value.map_or(f.name.to_string(), |v| format!("{} {v}", f.name));
    let width = command.flags.iter().map(|f| label(f).len()).max().unwrap_or(0).max("-h, --help".len());
    for flag in command.flags {
        text += &format!("  {:width$}  {}\n", label(flag), flag.help);
    }
    text += &format!("  {:width$}  print this help\n", "-h, --help");
    text
}
// ANCHOR_END: usage
