//! The command line: `mnistlearn train | test | serve`. Thin by design — parsing and printing
//! only; the work lives in the library.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use crate::data::idx::{load_test, load_train};
use crate::io::{report, weights};
use crate::math::SimdLevel;
use crate::nn::evaluate::evaluate;
use crate::nn::train::{train, TrainConfig};
use crate::nn::MAX_HIDDEN;
use crate::Error;

// ANCHOR: usage
pub const USAGE: &str = "\
mnistlearn — a 784-32-10 digit network, bit-exact, reproducing a NASM original

Usage:
  mnistlearn train [--data DIR] [--out FILE] [--epochs 30] [--batch 32] [--lr 0.1]
                   [--hidden 32] [--seed 1] [--threads N] [--limit N] [--simd LEVEL]
  mnistlearn test  [--data DIR] [--weights FILE] [--threads N] [--simd LEVEL]
  mnistlearn serve [--addr 127.0.0.1:8080] [--weights FILE] [--simd LEVEL]
  mnistlearn time-forward [--data DIR] [--weights FILE] [--repeat 5] [--simd LEVEL]
  mnistlearn help | --help | --version

Defaults: --data data, --out/--weights data/weights.bin, --threads = number of CPUs,
--simd auto (or the MNISTLEARN_SIMD environment variable): auto, scalar, sse2 or avx2.
Every --simd level and every --threads count gives bit-identical results.
";
// ANCHOR_END: usage

/// Parsed `--flag value` pairs of one subcommand.
struct Flags {
    command: &'static str,
    pairs: Vec<(String, String)>,
}

impl Flags {
    fn parse(command: &'static str, args: &[OsString], allowed: &[&str]) -> Result<Flags, Error> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let arg = arg
                .to_str()
                .ok_or_else(|| usage(command, format!("argument {arg:?} is not valid UTF-8")))?;
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (arg, None),
            };
            if !name.starts_with("--") {
                return Err(usage(command, format!("unexpected argument '{arg}'")));
            }
            if !allowed.contains(&name) {
                return Err(usage(command, format!("unknown flag '{name}'")));
            }
            if pairs.iter().any(|(n, _)| n == name) {
                return Err(usage(command, format!("flag '{name}' given twice")));
            }
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .and_then(|v| v.to_str())
                    .ok_or_else(|| usage(command, format!("flag '{name}' needs a value")))?
                    .to_string(),
            };
            pairs.push((name.to_string(), value));
        }
        Ok(Flags { command, pairs })
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn path(&self, name: &str, default: &str) -> PathBuf {
        PathBuf::from(self.raw(name).unwrap_or(default))
    }

    /// A number in `range`, or the default.
    fn number<T>(&self, name: &str, default: T, what: &str, ok: impl Fn(&T) -> bool) -> Result<T, Error>
    where
        T: FromStr,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(text) => match text.parse::<T>() {
                Ok(v) if ok(&v) => Ok(v),
                _ => Err(usage(self.command, format!("{name}: expected {what}, got '{text}'"))),
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
        let level = SimdLevel::from_str(&text).map_err(|m| usage(self.command, format!("{source}: {m}")))?;
        if !level.is_supported() {
            return Err(usage(self.command, format!("{source}: this CPU does not support {level}")));
        }
        Ok(level)
    }
}

fn usage(command: &str, message: String) -> Error {
    Error::Usage(format!("{command}: {message} (see 'mnistlearn --help')"))
}

/// Runs the command line `args` (without the program name).
pub fn run(args: &[OsString]) -> Result<(), Error> {
    let Some(first) = args.first() else {
        return Err(Error::Usage("no command given: expected train, test or serve (see 'mnistlearn --help')".into()));
    };
    let rest = &args[1..];
    let wants_help = rest.iter().any(|a| a == "--help" || a == "-h");
    match first.to_str().unwrap_or("") {
        "help" | "--help" | "-h" => print_lines(&[USAGE.trim_end().to_string()]),
        "--version" | "-V" => print_lines(&[format!("mnistlearn {}", env!("CARGO_PKG_VERSION"))]),
        _ if wants_help => print_lines(&[USAGE.trim_end().to_string()]),
        "train" => run_train(rest),
        "test" => run_test(rest),
        "serve" => run_serve(rest),
        "time-forward" => run_time_forward(rest),
        other => Err(Error::Usage(format!(
            "unknown command '{}': expected train, test or serve (see 'mnistlearn --help')",
            if other.is_empty() { first.to_string_lossy().into_owned() } else { other.to_string() }
        ))),
    }
}

/// Writes lines to stdout; a closed pipe (`| head`) ends the output quietly.
fn print_lines(lines: &[String]) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::Other(format!("writing to stdout: {e}"))),
        }
    }
    out.flush().or_else(|e| if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(Error::Other(format!("writing to stdout: {e}"))) })
}

fn run_train(args: &[OsString]) -> Result<(), Error> {
    let flags = Flags::parse(
        "train",
        args,
        &["--data", "--out", "--epochs", "--batch", "--lr", "--hidden", "--seed", "--threads", "--limit", "--simd"],
    )?;
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        epochs: flags.number("--epochs", defaults.epochs, "a whole number from 1 to 10000", |&n| (1..=10_000).contains(&n))?,
        batch: flags.number("--batch", defaults.batch, "a batch size from 1 to 65536", |&n| (1..=65_536).contains(&n))?,
        lr: flags.number("--lr", defaults.lr, "a positive finite learning rate", |&v: &f64| v.is_finite() && v > 0.0)?,
        hidden: flags.number("--hidden", defaults.hidden, "a hidden size from 1 to 4096", |&n| (1..=MAX_HIDDEN).contains(&n))?,
        seed: flags.number("--seed", defaults.seed, "an unsigned 64-bit integer", |_| true)?,
        threads: flags.threads()?,
        level: flags.simd()?,
    };
    let limit: Option<usize> = match flags.raw("--limit") {
        None => None,
        Some(_) => Some(flags.number("--limit", 0, "a positive number of training images", |&n| n > 0)?),
    };
    let data_dir = flags.path("--data", "data");
    let out_path = flags.path("--out", "data/weights.bin");

    let train_set = load_train(&data_dir, limit)?;
    let test_set = load_test(&data_dir)?;
    print_lines(&[report::banner(), report::training_header(config.hidden)])?;
    let started = Instant::now();
    let mut failure = None;
    let net = train(&config, &train_set, |epoch| {
        if failure.is_none() {
            failure = print_lines(&[report::epoch_line(epoch)]).err();
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let seconds = started.elapsed().as_secs_f64();
    print_lines(&[report::training_time_line(seconds)])?;
    print_partial("Saving weights... ")?;
    weights::save(&out_path, &net)?;
    print_lines(&["done.".to_string()])?;
    let test_report = evaluate(config.level, &net, &test_set, config.threads);
    print_lines(&report::test_block(&test_report))
}

fn print_partial(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
    let _ = out.flush();
    Ok(())
}

fn run_test(args: &[OsString]) -> Result<(), Error> {
    let flags = Flags::parse("test", args, &["--data", "--weights", "--threads", "--simd"])?;
    let (threads, level) = (flags.threads()?, flags.simd()?);
    let net = weights::load(&flags.path("--weights", "data/weights.bin"))?;
    let test_set = load_test(&flags.path("--data", "data"))?;
    print_lines(&report::test_block(&evaluate(level, &net, &test_set, threads)))
}

fn run_serve(args: &[OsString]) -> Result<(), Error> {
    let flags = Flags::parse("serve", args, &["--addr", "--weights", "--simd"])?;
    let level = flags.simd()?;
    let addr_text = flags.raw("--addr").unwrap_or("127.0.0.1:8080");
    let addr: SocketAddr = addr_text
        .parse()
        .map_err(|_| usage("serve", format!("--addr: expected HOST:PORT such as 127.0.0.1:8080, got '{addr_text}'")))?;
    let weights_path = flags.path("--weights", "data/weights.bin");
    crate::serve::run(addr, Path::new(&weights_path), level)
}

/// Times the bare forward pass (one thread, one sample at a time, as the server runs it) over
/// the test set; used by `cargo xtask bench`.
fn run_time_forward(args: &[OsString]) -> Result<(), Error> {
    let flags = Flags::parse("time-forward", args, &["--data", "--weights", "--repeat", "--simd"])?;
    let level = flags.simd()?;
    let repeat = flags.number("--repeat", 5usize, "a repeat count from 1 to 1000", |&n| (1..=1000).contains(&n))?;
    let net = weights::load(&flags.path("--weights", "data/weights.bin"))?;
    let test_set = load_test(&flags.path("--data", "data"))?;
    let images: Vec<Vec<u8>> = (0..test_set.len()).map(|i| test_set.images.dense(i)).collect();
    let mut best = f64::INFINITY;
    let mut checksum = 0usize;
    for _ in 0..repeat {
        let started = Instant::now();
        for image in &images {
            checksum += crate::nn::argmax(&net.predict(level, image));
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
