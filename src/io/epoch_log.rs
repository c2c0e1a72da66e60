//! `train --log FILE`: one JSON line per epoch (see [`crate::io::report::epoch_record`]), with
//! the test accuracy of the network as it stands after the epoch.
//!
//! Measuring it costs 10,000 forward passes per epoch (a few milliseconds). That time is kept
//! apart and left out of the logged `elapsed_s` and of the printed training time, so a run with
//! `--log` reports the same training time as one without. It reads a copy of the weights the
//! trainer hands out between epochs, so it cannot change a bit of them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::data::Dataset;
use crate::io::report;
use crate::math::SimdLevel;
use crate::nn::evaluate::evaluate;
use crate::nn::train::EpochReport;
use crate::nn::Network;
use crate::Error;

pub struct EpochLog {
    path: PathBuf,
    out: BufWriter<File>,
    measuring: Duration,
}

impl EpochLog {
    /// Creates (or truncates) the log file before any training, so a bad path fails at once.
    pub fn create(path: &Path) -> Result<EpochLog, Error> {
        let file = File::create(path).map_err(|e| Error::io(format!("--log: cannot create '{}'", path.display()), e))?;
        Ok(EpochLog { path: path.to_path_buf(), out: BufWriter::new(file), measuring: Duration::ZERO })
    }

    /// Measures `net` on `test` and writes the epoch's line (flushed, so a long run can be
    /// watched with `tail -f`).
    pub fn record(&mut self, level: SimdLevel, threads: usize, epoch: &EpochReport, net: &Network, test: &Dataset) -> Result<(), Error> {
        let training = epoch.elapsed.saturating_sub(self.measuring);
        let started = Instant::now();
        let test_report = evaluate(level, net, test, threads);
        self.measuring += started.elapsed();
        let line = report::epoch_record(epoch, &test_report, training.as_secs_f64());
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(format!("--log: writing '{}'", self.path.display()), e))
    }

    /// The time spent measuring test accuracy so far (to subtract from wall-clock training time).
    pub fn measuring_time(&self) -> Duration {
        self.measuring
    }
}
