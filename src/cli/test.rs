//! `mnistlearn test`: a weights file's accuracy on the test set, the confusion matrix, and the
//! misclassified images written as PNGs.

use std::path::{Path, PathBuf};

use mnistlearn_core::nn::evaluate::{evaluate, TestReport};
use mnistlearn_core::report;

use super::args::Args;
use super::print_lines;
use crate::io::dataset::load_test;
use crate::io::weights;
use crate::Error;

pub(super) fn run_test(args: &Args) -> Result<(), Error> {
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
