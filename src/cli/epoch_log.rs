//! `train --log FILE`: one JSON line per epoch (see [`mnistlearn_core::report::epoch_record`]), with
//! the test accuracy of the network as it stands after the epoch.
//!
//! The file is written beside its target and moved into place when training ends.
//!
//! Measuring it costs 10,000 forward passes per epoch (a few milliseconds). The trainer's clock
//! is stopped while it runs, so it is not in the logged `elapsed_s` nor in the printed training
//! time: a run with `--log` reports the same training time as one without. It reads a copy of the weights the
//! trainer hands out between epochs, so it cannot change a bit of them.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mnistlearn_core::data::Dataset;
use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::train::{EpochReport, TrainConfig};
use mnistlearn_core::nn::Network;
use mnistlearn_core::report;

use crate::io::atomic::AtomicFile;
use crate::Error;

/// The log being written: beside its target, moved into place by [`EpochLog::finish`] when
/// training ends, so a run that fails (or is interrupted) leaves an earlier log as it was.
pub struct EpochLog {
    path: PathBuf,
    out: BufWriter<AtomicFile>,
}

impl EpochLog {
    /// Starts the log. `train` calls it once its inputs and `--out` have been checked, so a bad
    /// data path never costs the user an existing log; a directory, FIFO or device at `path`
    /// is refused without opening it.
    pub fn create(path: &Path) -> Result<EpochLog, Error> {
        let file = AtomicFile::create(path)?;
        Ok(EpochLog { path: path.to_path_buf(), out: BufWriter::new(file) })
    }

    /// Measures `net` on `test` and writes the epoch's line.
    pub fn record(
        &mut self,
        config: &TrainConfig,
        epoch: &EpochReport,
        net: &Network,
        test: &Dataset,
    ) -> Result<(), Error> {
        let test_report = evaluate(config.level, net, test, config.threads);
        let line = report::epoch_record(epoch, &test_report, epoch.elapsed.as_secs_f64(), config);
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(format!("--log: writing '{}'", self.path.display()), e))
    }

    /// Moves the finished log into place.
    pub fn finish(self) -> Result<(), Error> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(format!("--log: writing '{}'", self.path.display()), e.into_error()))?;
        Ok(file.commit()?)
    }
}
