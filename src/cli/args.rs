//! The parser: one command's arguments checked against its row of [`super::COMMANDS`] —
//! `--flag value`, `--flag=value`, switches, positional arguments after them or after `--` —
//! and the typed, range-checked accessors the command bodies read them with.

use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;

use mnistlearn_core::math::SimdLevel;

use super::commands::Command;
use crate::Error;

/// The command line of one command, parsed against its [`Command`] entry.
pub struct Args {
    command: &'static Command,
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
    positional: Vec<OsString>,
}

impl Args {
    pub(super) fn parse(command: &'static Command, args: &[OsString]) -> Result<Args, Error> {
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

    pub(super) fn usage(&self, message: String) -> Error {
        usage(self.command.name, message)
    }

    /// The value given for `name`, if any. `name` must be one of the command's flags.
    pub(super) fn raw(&self, name: &str) -> Option<&str> {
        debug_assert!(
            self.command.flags.iter().any(|f| f.name == name),
            "{name} is not a flag of {}",
            self.command.name
        );
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the switch `name` was given.
    pub(super) fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    /// The positional arguments, in order.
    pub(super) fn positional(&self) -> &[OsString] {
        &self.positional
    }

    pub(super) fn path(&self, name: &str, default: &str) -> PathBuf {
        PathBuf::from(self.raw(name).unwrap_or(default))
    }

    /// A number accepted by `ok`, or the default.
    pub(super) fn number<T>(&self, name: &str, default: T, what: &str, ok: impl Fn(&T) -> bool) -> Result<T, Error>
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

    pub(super) fn threads(&self) -> Result<usize, Error> {
        let default = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.number("--threads", default, "a thread count from 1 to 256", |&n| (1..=256).contains(&n))
    }

    pub(super) fn simd(&self) -> Result<SimdLevel, Error> {
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
