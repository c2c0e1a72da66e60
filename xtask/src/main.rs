//! Project automation, matklad's xtask pattern: `cargo xtask <command>`.
//!
//! Every command is one row of [`COMMANDS`]: its name, a one-line summary, its flags and the
//! function that runs it. `cargo xtask --help` (also `-h`, `help` and a bare `cargo xtask`)
//! and `cargo xtask CMD --help` are printed from that table, so adding a command is adding a
//! row (and its module).

mod bench;
mod book;
mod browser;
mod ci;
mod cross;
mod exact;
mod fetch;
mod figures;
mod flood;
mod fuzz;
mod links;
mod mathjax;
mod pairs;
mod paths;
mod phases;
mod redrawn;
mod seeds;
mod soak;
mod util;
mod verify;
mod wasm;

use std::process::ExitCode;

/// One `cargo xtask` command.
pub struct Command {
    pub name: &'static str,
    /// One line, for the list of commands.
    pub summary: &'static str,
    /// A few sentences more, for `cargo xtask NAME --help` (may be empty).
    pub details: &'static str,
    /// `(usage, meaning)` of each flag or argument, e.g. `("--runs N", "best of N runs (3)")`.
    pub flags: &'static [(&'static str, &'static str)],
    pub run: fn(&[String]) -> Result<(), String>,
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "fetch",
        summary: "download MNIST into data/ (or copy a local mirror), check its SHA-256",
        details: "Files already present with the right contents are kept. Without a mirror, the public \
                  mirrors are tried in order; offline, point MNIST_MIRROR or --mirror at a local copy.",
        flags: &[
            ("--mirror M", "a copy to use: directory, file:// or http(s):// URL (default: $MNIST_MIRROR)"),
            ("--dest DIR", "where to put them (default: data/)"),
        ],
        run: fetch::run,
    },
    Command {
        name: "verify",
        summary: "fetch, build, train the default run, check ≥ 96.5% and the golden log",
        details: "The default run is 30 epochs; its log and weights hash must equal golden/full_run.txt, \
                  and the book's figures drawn from it the committed ones (figures --check). Then an \
                  independent NumPy reader (scripts/check_weights.py) must get the same test accuracy from \
                  the weights.bin (target/venv is made if no Python has NumPy).",
        flags: &[("--bless", "rewrite golden/full_run.txt from this run instead of comparing (say why in the commit)")],
        run: verify::run,
    },
    Command {
        name: "figures",
        summary: "draw the book's figures (book/src/figures/*.svg) from the default run",
        details: "Reads data/weights.bin and data/train-log.jsonl, as verify leaves them (the weights must \
                  be the golden run's). The figures are golden files: commit them when they change on purpose.",
        flags: &[("--check", "draw them in memory and fail if one differs by a byte from the committed file")],
        run: figures::run,
    },
    Command {
        name: "seeds",
        summary: "the default run under several seeds, as the README's table",
        details: "",
        flags: &[("[SEED …]", "the seeds to run (default: 1 2 3 4 5)")],
        run: seeds::run,
    },
    Command {
        name: "bench",
        summary: "training vs the NumPy peer, per phase, forward pass, server → book/src/measurements.md",
        details: "Our 30-epoch training alternates with the shared NumPy peer (../shared/bench/numpy_peer.py, or \
                  scripts/reference_numpy.py without it), N pairs: each side's median and the median of the \
                  per-pair ratios; the same at h = 128 and 512 (3 epochs) against scripts/reference_numpy.py. \
                  Also the scalar single-thread path (same bytes?), cycles per batch of each training phase \
                  beside its floor (mnistlearn time-phases), the forward pass per sample and the server's \
                  p50/p99 and requests/s. The machine is shared and noisy: check `uptime` first.",
        flags: &[
            ("--runs N", "alternated pairs of each comparison, medians reported (default: 3)"),
            ("--skip-numpy", "leave out NumPy: our training alone, N runs, no ratios"),
            ("--serve-only", "measure only the server's round trip and throughput"),
        ],
        run: bench::run,
    },
    Command {
        name: "book",
        summary: "check includes and anchors, build the book, check every link and #fragment",
        details: "Includes and anchors are checked on the Markdown (mdBook renders a missing anchor as \
                  nothing), links and fragments on the built HTML in book/build/. Needs mdbook on PATH or \
                  in ~/.cargo/bin (cargo install mdbook --locked --version 0.5.4).",
        flags: &[("--no-build", "check the includes and anchors only: no mdbook build, no link check")],
        run: book::run,
    },
    Command {
        name: "browser",
        summary: "the drawing and training pages in headless Chromium; screenshots in target/browser/",
        details: "Starts `mnistlearn serve` on free ports and runs tests/browser/draw.test.mjs and train.test.mjs\n\
                  with node: the page's training must end on the CLI's bytes (fixture runs; then the default\n\
                  30-epoch run on data/, whose hash must be golden/full_run.txt's, with its time).",
        flags: &[
            ("--weights FILE", "the model to serve (default: data/weights.bin, as verify leaves it)"),
            ("--quick", "skip the 30-epoch run in the page"),
        ],
        run: browser::run,
    },
    Command {
        name: "redrawn",
        summary: "the test set redrawn as images and as strokes: MNIST preprocessing vs a naive resize",
        details: "Digits redrawn small, large, off-centre and dark on light (examples/redrawn.rs), classified \
                  through MNIST's preprocessing and through a naive resize; the digits traced into strokes and \
                  replayed at 100%, 40% and 15% of the canvas; MNIST's stroke width. Fails if the redrawn \
                  accuracy is more than 1 point below the accuracy on the original images, or the strokes at \
                  15% more than 2 points below full size. Needs data/ and the weights verify trains.",
        flags: &[("--weights FILE", "the model (default: data/weights.bin)")],
        run: redrawn::run,
    },
    Command {
        name: "fuzz",
        summary: "the binary against seeded mutations of the fixture's IDX files and a weights file",
        details: "One process per case under a 1 GiB address-space limit and a 20 s wall-clock limit; a \
                  case passes on exit 0 or on exit 1 with one `mnistlearn: error:` line. Reports panics, \
                  signals, hangs, the peak RSS and the slowest case. The same seed tries the same cases.",
        flags: &[
            ("--count N", "how many cases (default: 2000; ci runs 150)"),
            ("--seed S", "the mutation generator's seed (default: 1592651810)"),
        ],
        run: fuzz::run,
    },
    Command {
        name: "soak",
        summary: "the server under keep-alive load: requests/s, p50/p99, errors, RSS before/after",
        details: "Trains a small model on the fixture, serves it, and runs keep-alive clients (/predict, one in four /classify) for a fixed \
                  time. Fails on any error or an RSS growth over 5 MiB. Not in CI: it takes the machine.",
        flags: &[
            ("--seconds N", "how long (default: 30)"),
            ("--connections N", "client connections (default: 64)"),
            ("--binary FILE", "the mnistlearn binary to serve (default: build the release binary)"),
        ],
        run: soak::run,
    },
    Command {
        name: "flood",
        summary: "the server against hostile crowds: slow bodies, parked uploads, unread answers",
        details: "520 slow-body connections (the real requests' p50 must stay ≤ 1 s), 400 parked 1 MiB \
                  uploads × 5 (peak RSS ≤ 256 MiB, ≤ 48 MiB above the start after each round), 100 \
                  clients not reading an H = 4096 /hidden-weights (RSS ≤ 64 MiB). Not in CI.",
        flags: &[("--binary FILE", "the mnistlearn binary to serve (default: build the release binary)")],
        run: flood::run,
    },
    Command {
        name: "wasm",
        summary: "build web/wasm/ (scalar and simd128 modules) with Debian's compiler",
        details: "Reproducible: the same compiler gives the same bytes from any checkout path. The modules \
                  are committed with the compiler's version (web/wasm/TOOLCHAIN), so a user with only \
                  rustup's toolchain needs no Debian compiler. Needs rustc-web, rust-web-src and lld-22 \
                  (scripts/install-cross-toolchain.sh).",
        flags: &[("--check", "rebuild in target/wasm/ and compare with web/wasm/ (or say the compiler moved)")],
        run: wasm::run,
    },
    Command {
        name: "cross",
        summary: "the same bits on aarch64 (qemu, neon) and wasm32 (Node, simd128) as on x86-64",
        details: "Rebuilds the wasm modules and compares them with web/wasm/, runs the core crate's kernel, \
                  trainer and golden tests for aarch64 under qemu and the same checks in Node, then trains the \
                  default 30-epoch run natively, under qemu and in Node, and prints one weights hash per \
                  architecture; each log and hash must equal golden/full_run.txt. Needs Debian's cross \
                  toolchain (scripts/install-cross-toolchain.sh) and node.",
        flags: &[],
        run: cross::run,
    },
    Command {
        name: "ci",
        summary: "CI after the tests: verify, redrawn, download_mnist.sh, book, browser, fuzz, cross",
        details: "",
        flags: &[],
        run: ci::run,
    },
];

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

fn is_help(arg: &str) -> bool {
    matches!(arg, "--help" | "-h" | "help")
}

/// `fetch [--mirror M] [--dest DIR]`
fn synopsis(command: &Command) -> String {
    let mut line = command.name.to_string();
    for (usage, _) in command.flags {
        if usage.starts_with('[') {
            line.push_str(&format!(" {usage}"));
        } else {
            line.push_str(&format!(" [{usage}]"));
        }
    }
    line
}

/// The list of commands: `cargo xtask --help`.
pub fn overview() -> String {
    let mut out = String::from("cargo xtask <command> [flags] — mnistlearn's automation (xtask/src/)\n\nCommands:\n");
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for command in COMMANDS {
        out.push_str(&format!("  {:width$}  {}\n", command.name, command.summary));
        out.push_str(&format!("  {:width$}    cargo xtask {}\n", "", synopsis(command)));
    }
    out.push_str("\n`cargo xtask <command> --help` explains a command's flags.\n");
    out
}

/// One command's help: `cargo xtask NAME --help`.
pub fn command_help(command: &Command) -> String {
    let mut text = format!("{}.", capitalise(command.summary));
    if !command.details.is_empty() {
        text.push(' ');
        text.push_str(command.details);
    }
    let mut out = format!("cargo xtask {}\n\n{}", synopsis(command), wrap(&text, 96));
    if command.flags.is_empty() {
        out.push_str("\nNo flags.\n");
    } else {
        out.push_str("\nFlags:\n");
        let width = command.flags.iter().map(|(u, _)| u.chars().count()).max().unwrap_or(0);
        for (usage, meaning) in command.flags {
            out.push_str(&format!("  {usage:width$}  {meaning}\n"));
        }
    }
    out
}

/// `text` broken into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if line > 0 && line + 1 + len > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += len;
    }
    out.push('\n');
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// What `main` does with the arguments, kept apart from printing so it can be tested.
#[derive(Debug, PartialEq)]
enum Action {
    /// Print this on stdout, exit 0.
    Help(String),
    /// Print this on stderr, exit 2: the command line itself is wrong.
    Usage(String),
    /// Run this command with these arguments (checked against its flags, `--flag=V` split).
    Run(&'static str, Vec<String>),
}

fn decide(args: &[String]) -> Action {
    let Some((first, rest)) = args.split_first() else {
        return Action::Usage(overview());
    };
    if is_help(first) {
        return match rest.first().map(|n| (n, find(n))) {
            Some((_, Some(command))) => Action::Help(command_help(command)),
            Some((name, None)) => Action::Usage(unknown(name)),
            None => Action::Help(overview()),
        };
    }
    match find(first) {
        Some(command) if rest.iter().any(|a| a == "--help" || a == "-h") => Action::Help(command_help(command)),
        Some(command) => match check_flags(command, rest) {
            Ok(args) => Action::Run(command.name, args),
            Err(message) => Action::Usage(format!("xtask: error: {message}\n")),
        },
        None => Action::Usage(unknown(first)),
    }
}

/// A command's arguments checked against the flags its row of [`COMMANDS`] declares, before it
/// runs, so that every command answers a wrong command line the same way (one line naming the
/// argument and what was expected, exit 2): an unknown flag, a flag without its value, a value
/// given to a switch, a flag given twice, an argument the command does not take. `--flag=VALUE`
/// is split into `--flag VALUE`. The numbers the placeholders promise are checked too
/// ([`check_value`]); other values (paths, URLs) are the command's to check.
fn check_flags(command: &Command, rest: &[String]) -> Result<Vec<String>, String> {
    let name = command.name;
    let see = format!("see `cargo xtask {name} --help`");
    let flags: Vec<&str> = command.flags.iter().map(|(usage, _)| *usage).filter(|u| u.starts_with('-')).collect();
    let expected = match flags.as_slice() {
        [] => "no flags".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    // The placeholder of the arguments the command takes, if any: `SEED` for `[SEED …]`.
    let positional = command.flags.iter().find_map(|(usage, _)| usage.strip_prefix('[')?.split([' ', ']']).next());
    // The usage of a declared flag: `--mirror M` for `--mirror`.
    let usage = |flag: &str| flags.iter().copied().find(|u| u.split(' ').next() == Some(flag));
    let mut out = Vec::new();
    let mut given: Vec<&str> = Vec::new();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        if !arg.starts_with('-') {
            let Some(placeholder) = positional else {
                let takes = if flags.is_empty() { "no arguments".to_string() } else { format!("only {expected}") };
                return Err(format!("{name}: unexpected argument '{arg}': {name} takes {takes} ({see})"));
            };
            check_value(name, placeholder, &format!("a {}", placeholder.to_lowercase()), arg)?;
            out.push(arg.clone());
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (arg.as_str(), None),
        };
        let Some(usage) = usage(flag) else {
            return Err(format!("{name}: unknown flag '{flag}': expected {expected} ({see})"));
        };
        if given.contains(&flag) {
            return Err(format!("{name}: {flag} is given twice: expected it at most once ({see})"));
        }
        given.push(flag);
        out.push(flag.to_string());
        // `--runs N` takes a value, its kind named by the placeholder; `--bless` takes none.
        let placeholder = usage.split_once(' ').map(|(_, p)| p);
        match (placeholder, inline) {
            (Some(placeholder), Some(value)) => {
                check_value(name, placeholder, flag, value)?;
                out.push(value.to_string())
            }
            (Some(placeholder), None) => match it.next() {
                Some(value) if !value.starts_with("--") => {
                    check_value(name, placeholder, flag, value)?;
                    out.push(value.clone())
                }
                _ => return Err(format!("{name}: {flag} needs a value: expected {usage} ({see})")),
            },
            (None, Some(_)) => return Err(format!("{name}: {flag} takes no value: expected {usage} alone ({see})")),
            (None, None) => {}
        }
    }
    Ok(out)
}

/// The numbers [`COMMANDS`]' placeholders promise, checked with the rest of the command line (a
/// usage error, exit 2): `N` a whole number from 1, `S` and `SEED` any unsigned 64-bit integer.
/// Other placeholders (`FILE`, `DIR`, `M`) are the command's to check.
fn check_value(command: &str, placeholder: &str, what: &str, value: &str) -> Result<(), String> {
    let expected = match placeholder {
        "N" if !value.parse::<u64>().is_ok_and(|n| n > 0) => "a whole number from 1",
        "S" | "SEED" if value.parse::<u64>().is_err() => "a whole number from 0 to 18446744073709551615",
        _ => return Ok(()),
    };
    let shown: String = value.chars().take(40).collect();
    let more = if value.chars().count() > 40 { "…" } else { "" };
    Err(format!("{command}: {what} '{shown}{more}': expected {expected} (see `cargo xtask {command} --help`)"))
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    format!("xtask: error: unknown command '{name}': expected one of {} (see `cargo xtask --help`)\n", names.join(", "))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match decide(&args) {
        Action::Help(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Action::Usage(text) => {
            eprint!("{text}");
            ExitCode::from(2)
        }
        Action::Run(name, args) => {
            let command = find(name).expect("decide returns known names");
            match (command.run)(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("xtask: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_overview_lists_every_command_with_its_summary_and_flags() {
        let text = overview();
        for command in COMMANDS {
            assert!(
                text.contains(&format!("  {}  ", command.name)) || text.contains(&format!("  {} ", command.name)),
                "{}",
                command.name
            );
            assert!(text.contains(command.summary), "{}", command.name);
            assert!(text.contains(&format!("cargo xtask {}", synopsis(command))), "{}", command.name);
        }
        assert!(text.contains("--mirror M") && text.contains("--runs N") && text.contains("[SEED …]"));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn help_bare_and_help_words_list_the_commands() {
        for form in [&["--help"][..], &["-h"], &["help"]] {
            assert_eq!(decide(&args(form)), Action::Help(overview()), "{form:?}");
        }
        // Bare `cargo xtask` is a usage error (exit 2), but still shows the list.
        assert_eq!(decide(&[]), Action::Usage(overview()));
    }

    #[test]
    fn a_command_help_explains_each_of_its_flags() {
        for command in COMMANDS {
            let expected = Action::Help(command_help(command));
            assert_eq!(decide(&args(&[command.name, "--help"])), expected);
            assert_eq!(decide(&args(&[command.name, "-h"])), expected);
            assert_eq!(decide(&args(&["help", command.name])), expected);
            let text = command_help(command);
            for (usage, meaning) in command.flags {
                assert!(text.contains(&format!("  {usage}")) && text.contains(meaning), "{} {usage}", command.name);
            }
        }
        let fetch = command_help(find("fetch").unwrap());
        assert!(fetch.starts_with("cargo xtask fetch [--mirror M] [--dest DIR]\n\nDownload MNIST"), "{fetch}");
        for command in COMMANDS {
            assert!(command_help(command).lines().all(|l| l.chars().count() <= 100), "{}", command.name);
        }
        assert!(command_help(find("ci").unwrap()).contains("No flags."));
    }

    #[test]
    fn unknown_commands_are_usage_errors_naming_the_choices() {
        let Action::Usage(text) = decide(&args(&["--verbose"])) else { panic!() };
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("unknown command '--verbose'")
                && text.contains(
                    "fetch, verify, figures, seeds, bench, book, browser, redrawn, fuzz, soak, flood, wasm, cross, ci"
                ),
            "{text}"
        );
        assert!(matches!(decide(&args(&["help", "nope"])), Action::Usage(t) if t.contains("'nope'")));
    }

    #[test]
    fn commands_run_with_their_flags() {
        assert_eq!(decide(&args(&["bench", "--runs", "7"])), Action::Run("bench", args(&["--runs", "7"])));
        assert_eq!(decide(&args(&["seeds", "3", "4"])), Action::Run("seeds", args(&["3", "4"])));
        assert_eq!(
            decide(&args(&["fetch", "--mirror=/srv/a b", "--dest", "d"])),
            Action::Run("fetch", args(&["--mirror", "/srv/a b", "--dest", "d"]))
        );
        assert_eq!(decide(&args(&["verify", "--bless"])), Action::Run("verify", args(&["--bless"])));
    }

    #[test]
    fn a_wrong_command_line_is_a_usage_error_in_the_same_words_for_every_command() {
        let usage = |list: &[&str]| match decide(&args(list)) {
            Action::Usage(text) => {
                assert_eq!(text.lines().count(), 1, "{text}");
                assert!(!text.contains("[\""), "no debug output: {text}");
                text
            }
            other => panic!("{list:?}: expected a usage error, got {other:?}"),
        };
        for command in COMMANDS {
            let text = usage(&[command.name, "--bogus"]);
            assert!(text.contains(&format!("{}: unknown flag '--bogus': expected ", command.name)), "{text}");
            assert!(text.contains(&format!("(see `cargo xtask {} --help`)", command.name)), "{text}");
        }
        assert!(usage(&["fetch", "--bogus"]).contains("expected --mirror M or --dest DIR"));
        assert!(usage(&["bench", "--bogus"]).contains("expected --runs N, --skip-numpy or --serve-only"));
        assert!(usage(&["ci", "--bogus"]).contains("expected no flags"));
        assert!(usage(&["fuzz", "--bogus", "3"]).contains("unknown flag '--bogus'"));
        assert!(usage(&["fuzz", "--count"]).contains("fuzz: --count needs a value: expected --count N"));
        assert!(usage(&["fuzz", "--count", "--seed", "3"]).contains("--count needs a value"));
        assert!(usage(&["verify", "--bless", "--bless"]).contains("verify: --bless is given twice"));
        assert!(usage(&["verify", "--bless=yes"]).contains("--bless takes no value"));
        assert!(usage(&["verify", "now"]).contains("verify: unexpected argument 'now': verify takes only --bless"));
        assert!(usage(&["cross", "x"]).contains("cross takes no arguments"));
        assert!(usage(&["flood", "--binary"]).contains("flood: --binary needs a value: expected --binary FILE"));
        // The numbers the placeholders promise are checked here too, in the same words.
        assert!(usage(&["bench", "--runs", "abc"]).contains("bench: --runs 'abc': expected a whole number from 1"));
        assert!(usage(&["bench", "--runs=0"]).contains("bench: --runs '0': expected a whole number from 1"));
        assert!(usage(&["fuzz", "--count", "-3"]).contains("fuzz: --count '-3': expected a whole number from 1"));
        assert!(usage(&["fuzz", "--seed", "x"]).contains("fuzz: --seed 'x': expected a whole number from 0 to"));
        assert!(usage(&["seeds", "1", "two"]).contains("seeds: a seed 'two': expected a whole number from 0 to"));
        assert!(usage(&["soak", "--seconds", &"9".repeat(99)]).contains(&format!("'{}…'", "9".repeat(40))));
        assert_eq!(
            decide(&args(&["fuzz", "--seed", "0", "--count=7"])),
            Action::Run("fuzz", args(&["--seed", "0", "--count", "7"]))
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }
}
