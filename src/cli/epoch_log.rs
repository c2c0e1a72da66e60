//! `train --log FILE`: one JSON line per epoch (see [`mnistlearn_core::report::epoch_record`]), with
//! the test accuracy of the network as it stands after the epoch.
//!
//! Measuring it costs 10,000 forward passes per epoch (a few milliseconds). The trainer's clock
//! is stopped while it runs, so it is not in the logged `elapsed_s` nor in the printed training
//! time: a run with `--log` reports the same training time as one without. It reads a copy of the weights the
//! trainer hands out between epochs, so it cannot change a bit of them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mnistlearn_core::data::Dataset;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::train::EpochReport;
use mnistlearn_core::nn::Network;
use mnistlearn_core::report;

use crate::Error;

pub struct EpochLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EpochLog {
    /// Creates (or truncates) the log file before any training, so a bad path fails at once.
    pub fn create(path: &Path) -> Result<EpochLog, Error> {
        let file =
            File::create(path).map_err(|e| Error::io(format!("--log: cannot create '{}'", path.display()), e))?;
        Ok(EpochLog { path: path.to_path_buf(), out: BufWriter::new(file) })
    }

    /// Measures `net` on `test` and writes the epoch's line (flushed, so a long run can be
    /// watched with `tail -f`).
    pub fn record(
        &mut self,
        level: SimdLevel,
        threads: usize,
        epoch: &EpochReport,
        net: &Network,
        test: &Dataset,
    ) -> Result<(), Error> {
        let test_report = evaluate(level, net, test, threads);
        let line = report::epoch_record(epoch, &test_report, epoch.elapsed.as_secs_f64(), level, threads);
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(format!("--log: writing '{}'", self.path.display()), e))
    }
}
