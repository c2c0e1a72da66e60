//! `mnistlearn figures`: a run's pictures as SVG files, drawn by the `mnistlearn-figures` crate.

use std::io::Write;
use std::path::{Path, PathBuf};

use mnistlearn_core::nn::evaluate::evaluate;

use super::args::Args;
use super::print_lines;
use crate::io::atomic::AtomicFile;
use crate::io::dataset::load_test;
use crate::io::weights;
use crate::Error;
use mnistlearn_figures::{self as figures, EpochRecord, Run};

/// A `--log` larger than this is not one of ours (10,000 epochs take about 3 MB).
const MAX_LOG_BYTES: u64 = 64 << 20;

pub(super) fn run_figures(args: &Args) -> Result<(), Error> {
    let (threads, level) = (args.threads()?, args.simd()?);
    let weights_path = args
        .raw("--weights")
        .map(PathBuf::from)
        .ok_or_else(|| args.usage("expected --weights FILE, the weights of the run to draw".into()))?;
    let out = args
        .raw("--out")
        .map(PathBuf::from)
        .ok_or_else(|| args.usage("expected --out DIR, the directory to write the SVG files into".into()))?;
    if out.exists() && !out.is_dir() {
        return Err(args.usage(format!("--out: '{}' is not a directory; expected a directory", out.display())));
    }
    // Read before the long part (the test set), so a bad log fails at once.
    let log = args.raw("--log").map(|path| read_log(Path::new(path))).transpose()?;
    let net = weights::load(&weights_path)?;
    let test = load_test(&args.path("--data", "data"))?;
    let report = evaluate(level, &net, &test, threads);
    let run = Run { net: &net, log: log.as_deref(), test: &test, report: &report };
    let drawn =
        figures::draw(&run).map_err(|e| Error::io("drawing the figures", std::io::Error::other(e.to_string())))?;
    std::fs::create_dir_all(&out).map_err(|e| Error::io(format!("--out: cannot create '{}'", out.display()), e))?;
    for (name, bytes) in &drawn {
        write_atomic(&out.join(name), bytes)?;
    }
    let names: Vec<&str> = drawn.iter().map(|(n, _)| n.as_str()).collect();
    print_lines(&[format!("Wrote {} figures to {}: {}", drawn.len(), out.display(), names.join(", "))])
}

fn read_log(path: &Path) -> Result<Vec<EpochRecord>, Error> {
    let context = || format!("--log: '{}'", path.display());
    let size = std::fs::metadata(path).map_err(|e| Error::io(context(), e))?.len();
    if size > MAX_LOG_BYTES {
        let message = format!("{size} bytes; expected a `train --log` file (at most {MAX_LOG_BYTES} bytes)");
        return Err(Error::io(context(), std::io::Error::other(message)));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(context(), e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::io(context(), std::io::Error::other("not UTF-8; expected `train --log`'s JSON lines")))?;
    figures::parse_log(&text).map_err(|m| Error::io(context(), std::io::Error::other(m)))
}

/// The file appears whole or not at all, with the mode a new file gets (see [`AtomicFile`]).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|e| file.error("writing the temporary file", e))?;
    Ok(file.commit()?)
}
