//! `mnistlearn train`: train, print the original's log, save the weights, test them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::train::{train_observed, TrainConfig};
use mnistlearn_core::nn::MAX_HIDDEN;
use mnistlearn_core::report;

use super::args::Args;
use super::epoch_log::EpochLog;
use super::{print_lines, print_text};
use crate::io::dataset::{load_test, load_train};
use crate::io::weights;
use crate::Error;

pub(super) fn run_train(args: &Args) -> Result<(), Error> {
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
    // An output that cannot be written, or a disk without room for it, fails now, not after
    // the training run.
    weights::check_output(&out_path, config.hidden)?;
    let log_path = args.raw("--log").map(PathBuf::from);
    if let Some(log_path) = &log_path {
        if same_target(log_path, &out_path) {
            return Err(args.usage(format!(
                "--log and --out name the same file '{}': expected two files (the log would replace the weights)",
                log_path.display()
            )));
        }
    }

    let train_set = load_train(&data_dir, limit)?;
    let test_set = load_test(&data_dir)?;
    // Started only now that the inputs and --out have been checked: a mistyped --data never
    // costs an existing log. It replaces the old one when training ends.
    let mut log = log_path.as_deref().map(EpochLog::create).transpose()?;
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
            failure = log.record(&config, epoch, net, &test_set).err();
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(log) = log {
        log.finish()?;
    }
    print_lines(&[report::training_time_line(training_time.as_secs_f64())])?;
    print_text("Saving weights... ")?;
    weights::save(&out_path, &net)?;
    print_lines(&["done.".to_string()])?;
    // Where they went, on stderr: stdout is the original's log, byte for byte as the golden
    // files hold it, and a quick experiment must not replace data/weights.bin unnoticed.
    eprintln!("mnistlearn: weights saved to {}", out_path.display());
    let test_report = evaluate(config.level, &net, &test_set, config.threads);
    print_lines(&report::test_block(&test_report))
}

/// Whether two paths name the same file: the same directory (after resolving links) and name.
fn same_target(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some(dir.canonicalize().ok()?.join(p.file_name()?))
    };
    a == b || matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}
