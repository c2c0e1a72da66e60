//! The command line: `mnistlearn train | test | serve | predict | time-forward`. Thin by design — parsing
//! and printing only; the work lives in the library.
//!
//! Every command and every flag is declared once, in [`COMMANDS`]: the parser accepts exactly
//! the flags a command declares, and both the overview (`mnistlearn --help`) and each command's
//! own help (`mnistlearn train --help`) are generated from the same table, so the help cannot
//! drift from what is parsed. (A hand-rolled table rather than clap: the whole grammar is
//! `--flag value`, `--flag=value`, switches and, for some commands, positional arguments; clap
//! would roughly double the binary's compile time for it.)

use std::ffi::OsString;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

mod epoch_log;

use crate::io::dataset::{load_test, load_train};
use crate::io::weights;
use crate::Error;
use epoch_log::EpochLog;
use mnistlearn_core::data::preprocess::{ascii_art, preprocess, Seen};
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::evaluate::{evaluate, TestReport};
use mnistlearn_core::nn::train::{train_observed, TrainConfig};
use mnistlearn_core::nn::{argmax, MAX_HIDDEN};
use mnistlearn_core::report;

// ANCHOR: flag_table
/// One flag of one command, as the parser accepts it and the help shows it.
pub struct Flag {
    /// `--name`, with the two dashes.
    pub name: &'static str,
    /// The placeholder of its value (`DIR`, `N`…), or `None` for a switch that takes no value.
    pub value: Option<&'static str>,
    /// What the flag does, including its default; one line.
    pub help: &'static str,
}

/// One subcommand: its name, the positional arguments it takes, what it does, its flags.
pub struct Command {
    pub name: &'static str,
    /// Positional arguments as shown in the synopsis (e.g. `IMAGE...`), or `None` if it takes none.
    pub positional: Option<&'static str>,
    /// One line for the overview.
    pub summary: &'static str,
    /// More lines for the command's own `--help`.
    pub details: &'static str,
    pub flags: &'static [Flag],
    pub run: fn(&Args) -> Result<(), Error>,
}

const DATA: Flag = Flag {
    name: "--data",
    value: Some("DIR"),
    help: "directory holding the four MNIST files, raw or .gz [default: data]",
};
const WEIGHTS: Flag =
    Flag { name: "--weights", value: Some("FILE"), help: "weights file to load [default: data/weights.bin]" };
const THREADS: Flag = Flag {
    name: "--threads",
    value: Some("N"),
    help: "worker threads, 1-256 [default: number of CPUs]; never changes a bit of the result",
};
const SIMD: Flag = Flag {
    name: "--simd",
    value: Some("LEVEL"),
    help: "auto, scalar, sse2 or avx2 [default: auto, or $MNISTLEARN_SIMD]; never changes a bit of the result",
};

/// Every command, in the order the overview lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "train",
        positional: None,
        summary: "train the network on MNIST, save the weights, then test them",
        details: "Prints the original's log (one line per epoch), saves the weights atomically, then prints\n\
                  the test-set report. The same seed gives the same log and the same weights bytes on any\n\
                  --threads and --simd.\n\
                  \n\
                  --out is checked before training: a directory, FIFO or device there is an error, and\n\
                  so is a directory that cannot be created or written. A symbolic link at --out is\n\
                  replaced by the new file, like `mv` does; the file it pointed to is never written.",
        flags: &[
            DATA,
            Flag {
                name: "--out",
                value: Some("FILE"),
                help: "where to save the weights, checked before training [default: data/weights.bin]",
            },
            Flag { name: "--epochs", value: Some("N"), help: "passes over the training set, 1-10000 [default: 30]" },
            Flag { name: "--batch", value: Some("N"), help: "mini-batch size, 1-65536 [default: 32]" },
            Flag { name: "--lr", value: Some("RATE"), help: "learning rate, a positive number [default: 0.1]" },
            Flag { name: "--hidden", value: Some("N"), help: "hidden units, 1-4096 [default: 32]" },
            Flag {
                name: "--seed",
                value: Some("N"),
                help: "seed of the initial weights and the shuffles, a u64 [default: 1]",
            },
            THREADS,
            Flag {
                name: "--limit",
                value: Some("N"),
                help: "train on the first N training images only (N larger than the set uses the whole set)",
            },
            SIMD,
            Flag {
                name: "--log",
                value: Some("FILE"),
                help: "also write one JSON line per epoch: loss, train and test accuracy, elapsed seconds",
            },
        ],
        run: run_train,
    },
    Command {
        name: "test",
        positional: None,
        summary: "report a weights file's accuracy on the MNIST test set",
        details: "Prints the overall accuracy and the accuracy per digit; on request, the confusion matrix\n\
                  and the misclassified images.",
        flags: &[
            DATA,
            WEIGHTS,
            THREADS,
            SIMD,
            Flag {
                name: "--confusion",
                value: None,
                help: "also print the 10x10 confusion matrix (rows: true digit, columns: predicted)",
            },
            Flag {
                name: "--errors",
                value: Some("DIR"),
                help: "write each misclassified test image to DIR as INDEX-trueT-predP.png (DIR: new or empty)",
            },
        ],
        run: run_test,
    },
    Command {
        name: "serve",
        positional: None,
        summary: "serve the drawing app: draw a digit in the browser, see what the network reads",
        details: "Loads the weights once, then answers GET / (the page), POST /predict (784 raw pixel\n\
                  bytes in, JSON out) and POST /classify?width=W&height=H (a whole canvas, preprocessed as\n\
                  MNIST was, as `predict` does). Ctrl-C stops it gracefully. A connection that overstays\n\
                  a timeout is closed; at the connection cap, idle connections are closed to make room.",
        flags: &[
            Flag { name: "--addr", value: Some("HOST:PORT"), help: "address to listen on [default: 127.0.0.1:8080]" },
            WEIGHTS,
            SIMD,
            Flag {
                name: "--header-timeout",
                value: Some("SECS"),
                help: "time to send a request's head, from connecting or its first byte [default: 5]",
            },
            Flag {
                name: "--body-timeout",
                value: Some("SECS"),
                help: "time to send a request's body once its head is in [default: 10]",
            },
            Flag {
                name: "--idle-timeout",
                value: Some("SECS"),
                help: "time a keep-alive connection may wait for its next request [default: 30]",
            },
            Flag {
                name: "--max-connections",
                value: Some("N"),
                help: "connections served at once, 1-65536 [default: 512, below the usual 1024 open files]",
            },
        ],
        run: run_serve,
    },
    Command {
        name: "predict",
        positional: Some("IMAGE..."),
        summary: "read digits from image files (PNG or PGM), any size, either polarity",
        details: "Each image is prepared as MNIST's digits were: the paper found from the border (dark ink on\n\
                  light paper is inverted), cropped to the ink, scaled to fit 20×20 keeping its aspect ratio,\n\
                  and placed in 28×28 by its centre of mass. Prints one line per image, 'PATH: D (P%)', or\n\
                  'PATH: no digit' for an image without ink. PNG: grey, RGB, RGBA, palette, 1-16 bits; PGM:\n\
                  P5 and P2. Images up to 4096×4096 pixels. An unreadable image is reported on stderr after\n\
                  the others are answered, and the exit code is then 1.",
        flags: &[
            WEIGHTS,
            Flag {
                name: "--json",
                value: None,
                help: "print one JSON array of {\"path\", \"digit\", \"probabilities\"} instead",
            },
            Flag {
                name: "--show",
                value: None,
                help: "also show the 28×28 the network saw: ASCII art under each line (with --json: a \"seen\" array)",
            },
            SIMD,
        ],
        run: run_predict,
    },
    Command {
        name: "time-forward",
        positional: None,
        summary: "time the bare forward pass over the test set (used by `cargo xtask bench`)",
        details: "One thread, one sample at a time, from raw bytes to probabilities, as the server runs it;\n\
                  prints the best per-sample time over the repeats.",
        flags: &[
            DATA,
            WEIGHTS,
            Flag {
                name: "--repeat",
                value: Some("N"),
                help: "passes over the test set, best one reported, 1-1000 [default: 5]",
            },
            SIMD,
        ],
        run: run_time_forward,
    },
];
// ANCHOR_END: flag_table

/// The command line of one command, parsed against its [`Command`] entry.
pub struct Args {
    command: &'static Command,
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
    positional: Vec<OsString>,
}

impl Args {
    fn parse(command: &'static Command, args: &[OsString]) -> Result<Args, Error> {
        let mut parsed = Args { command, values: Vec::new(), switches: Vec::new(), positional: Vec::new() };
        let mut iter = args.iter();
        let mut only_positional = false;
        while let Some(arg) = iter.next() {
            if only_positional || !arg.to_string_lossy().starts_with("--") {
                if command.positional.is_none() {
                    return Err(parsed.usage(format!("unexpected argument '{}'", arg.to_string_lossy())));
                }
                parsed.positional.push(arg.clone());
                continue;
            }
            let text = arg.to_str().ok_or_else(|| parsed.usage(format!("argument {arg:?} is not valid UTF-8")))?;
            if text == "--" {
                only_positional = true;
                continue;
            }
            let (name, inline) = match text.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (text, None),
            };
            let flag = command
                .flags
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| parsed.usage(format!("unknown flag '{name}'")))?;
            if parsed.values.iter().any(|(n, _)| *n == flag.name) || parsed.switches.contains(&flag.name) {
                return Err(parsed.usage(format!("flag '{name}' given twice")));
            }
            let Some(placeholder) = flag.value else {
                if inline.is_some() {
                    return Err(parsed.usage(format!("flag '{name}' takes no value")));
                }
                parsed.switches.push(flag.name);
                continue;
            };
            let value = match inline {
                Some(v) => v,
                None => {
                    let next = iter
                        .next()
                        .ok_or_else(|| parsed.usage(format!("flag '{name}' needs a value ({placeholder})")))?;
                    let next = next
                        .to_str()
                        .ok_or_else(|| parsed.usage(format!("{name}: value {next:?} is not valid UTF-8")))?;
                    // `--out --seed=2` is a forgotten value, not a file named "--seed=2". A value
                    // that really starts with "--" can still be given as `--out=--odd-name`.
                    if next.starts_with("--") {
                        return Err(parsed.usage(format!(
                            "flag '{name}' needs a value ({placeholder}), got the flag '{next}' (write {name}={next} if you mean it)"
                        )));
                    }
                    next.to_string()
                }
            };
            parsed.values.push((flag.name, value));
        }
        Ok(parsed)
    }

    fn usage(&self, message: String) -> Error {
        usage(self.command.name, message)
    }

    /// The value given for `name`, if any. `name` must be one of the command's flags.
    pub fn raw(&self, name: &str) -> Option<&str> {
        debug_assert!(
            self.command.flags.iter().any(|f| f.name == name),
            "{name} is not a flag of {}",
            self.command.name
        );
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the switch `name` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    /// The positional arguments, in order.
    pub fn positional(&self) -> &[OsString] {
        &self.positional
    }

    fn path(&self, name: &str, default: &str) -> PathBuf {
        PathBuf::from(self.raw(name).unwrap_or(default))
    }

    /// A number accepted by `ok`, or the default.
    fn number<T>(&self, name: &str, default: T, what: &str, ok: impl Fn(&T) -> bool) -> Result<T, Error>
    where
        T: FromStr,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(text) => match text.parse::<T>() {
                Ok(v) if ok(&v) => Ok(v),
                _ => Err(self.usage(format!("{name}: expected {what}, got '{text}'"))),
            },
        }
    }

    fn threads(&self) -> Result<usize, Error> {
        let default = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.number("--threads", default, "a thread count from 1 to 256", |&n| (1..=256).contains(&n))
    }

    fn simd(&self) -> Result<SimdLevel, Error> {
        let (source, text) = match self.raw("--simd") {
            Some(t) => ("--simd", t.to_string()),
            None => match std::env::var("MNISTLEARN_SIMD") {
                Ok(t) if !t.is_empty() => ("MNISTLEARN_SIMD", t),
                _ => return Ok(SimdLevel::detect()),
            },
        };
        if text == "auto" {
            return Ok(SimdLevel::detect());
        }
        // Parsing asks the CPU: "this CPU does not support avx2" is one of its errors.
        SimdLevel::from_str(&text).map_err(|m| self.usage(format!("{source}: {m}")))
    }
}

fn usage(command: &str, message: String) -> Error {
    Error::Usage(format!("{command}: {message} (see 'mnistlearn {command} --help')"))
}

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
    text += "  help          this text; 'mnistlearn COMMAND --help' explains a command's flags\n";
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
            // `mnistlearn help train` is `mnistlearn train --help`.
            match rest.first().and_then(|n| find_command(&n.to_string_lossy())) {
                Some(command) => print_text(&command_help(command)),
                None => print_text(&overview()),
            }
        }
        "--version" | "-V" => print_text(&format!("mnistlearn {}\n", env!("CARGO_PKG_VERSION"))),
        other => {
            let command = find_command(other).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown command '{other}': expected one of {} (see 'mnistlearn --help')",
                    command_names()
                ))
            })?;
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

fn command_names() -> String {
    COMMANDS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Writes text to stdout; a closed pipe (`| head`) ends the output quietly.
fn print_text(text: &str) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("writing to stdout", e)),
        _ => Ok(()),
    }
}

fn print_lines(lines: &[String]) -> Result<(), Error> {
    let mut text = lines.join("\n");
    text.push('\n');
    print_text(&text)
}

fn run_train(args: &Args) -> Result<(), Error> {
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        epochs: args
            .number("--epochs", defaults.epochs, "a whole number from 1 to 10000", |&n| (1..=10_000).contains(&n))?,
        batch: args
            .number("--batch", defaults.batch, "a batch size from 1 to 65536", |&n| (1..=65_536).contains(&n))?,
        lr: args.number("--lr", defaults.lr, "a positive finite learning rate", |&v: &f64| v.is_finite() && v > 0.0)?,
        hidden: args
            .number("--hidden", defaults.hidden, "a hidden size from 1 to 4096", |&n| (1..=MAX_HIDDEN).contains(&n))?,
        seed: args.number("--seed", defaults.seed, "an unsigned 64-bit integer", |_| true)?,
        threads: args.threads()?,
        level: args.simd()?,
    };
    let limit: Option<usize> = match args.raw("--limit") {
        None => None,
        Some(_) => Some(args.number("--limit", 0, "a positive number of training images", |&n| n > 0)?),
    };
    let data_dir = args.path("--data", "data");
    let out_path = args.path("--out", "data/weights.bin");
    // An output that cannot be written fails now, not after the training run.
    weights::check_output(&out_path)?;

    // Created before the data is read, so a bad path fails before any work.
    let mut log = args.raw("--log").map(|path| EpochLog::create(Path::new(path))).transpose()?;

    let train_set = load_train(&data_dir, limit)?;
    let test_set = load_test(&data_dir)?;
    print_lines(&[report::banner(), report::training_header(config.hidden)])?;
    let mut failure = None;
    // The trainer's own clock: it stops while this callback prints and measures.
    let mut training_time = Duration::ZERO;
    let net = train_observed(&config, &train_set, |epoch, net| {
        training_time = epoch.elapsed;
        if failure.is_none() {
            failure = print_lines(&[report::epoch_line(epoch)]).err();
        }
        if let (Some(log), None) = (log.as_mut(), &failure) {
            failure = log.record(config.level, config.threads, epoch, net, &test_set).err();
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    print_lines(&[report::training_time_line(training_time.as_secs_f64())])?;
    print_text("Saving weights... ")?;
    weights::save(&out_path, &net)?;
    print_lines(&["done.".to_string()])?;
    let test_report = evaluate(config.level, &net, &test_set, config.threads);
    print_lines(&report::test_block(&test_report))
}

fn run_test(args: &Args) -> Result<(), Error> {
    let (threads, level) = (args.threads()?, args.simd()?);
    let errors_dir = args.raw("--errors").map(PathBuf::from);
    if let Some(dir) = &errors_dir {
        check_errors_dir(args, dir)?;
    }
    let net = weights::load(&args.path("--weights", "data/weights.bin"))?;
    let test_set = load_test(&args.path("--data", "data"))?;
    let test_report = evaluate(level, &net, &test_set, threads);
    print_lines(&report::test_block(&test_report))?;
    if args.switch("--confusion") {
        print_lines(&report::confusion_block(&test_report))?;
    }
    if let Some(dir) = &errors_dir {
        write_errors(dir, &test_report, &test_set)?;
        print_lines(&[format!("Wrote {} misclassified images to {}", test_report.errors.len(), dir.display())])?;
    }
    Ok(())
}

/// `--errors DIR` must be a new or empty directory: the images of an earlier run (of other
/// weights) would otherwise mix with these, and nothing already there is overwritten.
fn check_errors_dir(args: &Args, dir: &Path) -> Result<(), Error> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            match entries.next() {
                None => Ok(()),
                Some(_) => Err(args
                    .usage(format!("--errors: '{}' is not empty; expected a new or empty directory", dir.display()))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(args.usage(format!("--errors: '{}' is a file; expected a new or empty directory", dir.display())))
        }
        Err(e) => Err(Error::io(format!("--errors: cannot read '{}'", dir.display()), e)),
    }
}

/// Each misclassified test image as an 8-bit greyscale PNG, as MNIST stores it (white ink on
/// black), named by [`report::error_file_name`].
fn write_errors(dir: &Path, test_report: &TestReport, test_set: &mnistlearn_core::data::Dataset) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("--errors: cannot create '{}'", dir.display()), e))?;
    for e in &test_report.errors {
        let path = dir.join(report::error_file_name(e));
        let pixels = test_set.images.dense(e.index);
        let io_error = |err: std::io::Error| Error::io(format!("--errors: writing '{}'", path.display()), err);
        let bytes = crate::io::image::encode_png(28, 28, png::ColorType::Grayscale, png::BitDepth::Eight, &pixels)
            .map_err(|err| io_error(std::io::Error::other(err)))?;
        std::fs::write(&path, bytes).map_err(io_error)?;
    }
    Ok(())
}

fn run_serve(args: &Args) -> Result<(), Error> {
    let level = args.simd()?;
    let addr_text = args.raw("--addr").unwrap_or("127.0.0.1:8080");
    // Host names resolve (`localhost:8080`); the first address the resolver gives is used.
    let expected = || args.usage(format!("--addr: expected HOST:PORT such as 127.0.0.1:8080, got '{addr_text}'"));
    let addr: SocketAddr = addr_text.to_socket_addrs().map_err(|_| expected())?.next().ok_or_else(expected)?;
    let weights_path = args.path("--weights", "data/weights.bin");
    let defaults = crate::serve::Limits::default();
    let seconds = |name: &str, default: std::time::Duration| -> Result<std::time::Duration, Error> {
        let ok = |v: &f64| v.is_finite() && (0.001..=86_400.0).contains(v);
        let value = args.number(name, default.as_secs_f64(), "a number of seconds from 0.001 to 86400", ok)?;
        Ok(std::time::Duration::from_secs_f64(value))
    };
    let limits = crate::serve::Limits {
        header_timeout: seconds("--header-timeout", defaults.header_timeout)?,
        idle_timeout: seconds("--idle-timeout", defaults.idle_timeout)?,
        body_timeout: seconds("--body-timeout", defaults.body_timeout)?,
        max_connections: args.number(
            "--max-connections",
            defaults.max_connections,
            "a connection count from 1 to 65536",
            |&n| (1..=65_536).contains(&n),
        )?,
    };
    crate::serve::run_with_limits(addr, Path::new(&weights_path), level, limits)
}

// ANCHOR: run_predict
/// `mnistlearn predict`: every image is answered, in order; the unreadable ones are collected
/// and reported together at the end (exit 1), so one bad file does not hide the others' answers.
fn run_predict(args: &Args) -> Result<(), Error> {
    let (json, show) = (args.switch("--json"), args.switch("--show"));
    let level = args.simd()?;
    let paths = args.positional();
    if paths.is_empty() {
        return Err(args.usage("expected at least one IMAGE (a PNG or PGM file)".into()));
    }
    let net = weights::load(&args.path("--weights", "data/weights.bin"))?;
    let mut failed = Vec::new();
    let mut answers = Vec::new();
    for path in paths.iter().map(PathBuf::from) {
        let name = path.display().to_string();
        let seen = match crate::io::image::load(&path) {
            Ok(image) => preprocess(&image),
            Err(e) => {
                if json {
                    answers.push(serde_json::json!({ "path": name, "error": e.message }));
                }
                failed.push(e);
                continue;
            }
        };
        let digit = match seen {
            Seen::Digit(digit) => digit,
            Seen::Empty if json => {
                answers.push(serde_json::json!({ "path": name, "empty": true }));
                continue;
            }
            Seen::Empty => {
                print_lines(&[format!("{name}: no digit (the image has no ink)")])?;
                continue;
            }
            Seen::TooSmall { .. } if json => {
                answers.push(serde_json::json!({ "path": name, "too_small": true }));
                continue;
            }
            Seen::TooSmall { extent, least } => {
                print_lines(&[format!(
                    "{name}: too small to read (the ink is {extent} pixels across; a digit needs at least {least})"
                )])?;
                continue;
            }
        };
        let probabilities = net.predict(level, &digit.pixels);
        let best = argmax(&probabilities);
        if json {
            let mut answer = serde_json::json!({ "path": name, "digit": best, "probabilities": probabilities });
            if show {
                answer["seen"] = serde_json::json!(digit.pixels.to_vec());
            }
            answers.push(answer);
        } else {
            print_lines(&[format!("{name}: {best} ({:.1}%)", probabilities[best] * 100.0)])?;
            if show {
                print_text(&ascii_art(&digit.pixels))?;
            }
        }
    }
    if json {
        print_lines(&[serde_json::Value::Array(answers).to_string()])?;
    }
    match failed.len() {
        0 => Ok(()),
        1 => Err(Error::Image(failed.pop().expect("one failure"))),
        _ => Err(Error::Images { failed, total: paths.len() }),
    }
}
// ANCHOR_END: run_predict

/// Times the bare forward pass (one thread, one sample at a time, as the server runs it) over
/// the test set; used by `cargo xtask bench`.
fn run_time_forward(args: &Args) -> Result<(), Error> {
    let level = args.simd()?;
    let repeat = args.number("--repeat", 5usize, "a repeat count from 1 to 1000", |&n| (1..=1000).contains(&n))?;
    let net = weights::load(&args.path("--weights", "data/weights.bin"))?;
    let test_set = load_test(&args.path("--data", "data"))?;
    let images: Vec<Vec<u8>> = (0..test_set.len()).map(|i| test_set.images.dense(i)).collect();
    let mut best = f64::INFINITY;
    let mut checksum = 0usize;
    for _ in 0..repeat {
        let started = Instant::now();
        for image in &images {
            checksum += mnistlearn_core::nn::argmax(&net.predict(level, image));
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    std::hint::black_box(checksum);
    let per_sample_ns = best * 1e9 / images.len() as f64;
    print_lines(&[format!(
        "forward pass: {per_sample_ns:.0} ns/sample ({} samples, best of {repeat}, {level}, from raw bytes to probabilities)",
        images.len()
    )])
}
