//! `mnistlearn train`: train, print the original's log, save the weights, test them.

use std::path::Path;
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
    // Where they went, on stderr: stdout is the original's log, byte for byte as the golden
    // files hold it, and a quick experiment must not replace data/weights.bin unnoticed.
    eprintln!("mnistlearn: weights saved to {}", out_path.display());
    let test_report = evaluate(config.level, &net, &test_set, config.threads);
    print_lines(&report::test_block(&test_report))
}
