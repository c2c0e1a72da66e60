//! MNIST's IDX files: a big-endian header, then raw bytes.
//!
//! ```text
//! images (magic 2051 = 0x00000803): u32 magic, u32 count, u32 rows (28), u32 cols (28), count·rows·cols u8
//! labels (magic 2049 = 0x00000801): u32 magic, u32 count, count u8 (0..=9)
//! ```
//!
//! Files may be raw or gzipped (recognised by the gzip magic bytes, whatever the name). The parser
//! reads from any byte stream ([`IdxSource`]) into the sparse store of [`super::images`]; opening
//! files is the binary's job.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::images::{Dataset, Images, PIXELS, SIDE};

/// Everything that can be wrong with an MNIST file. Each message names the file and what was
/// expected; an OS or gzip failure keeps its `io::Error` as the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// Neither `name` nor `name.gz` exists in the data directory.
    #[error("{}: file not found (also tried {}.gz); run `cargo xtask fetch` or pass --data DIR", path.display(), path.display())]
    Missing { path: PathBuf },
    /// The OS could not open or read the file, or the gzip stream is corrupt.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{}: bad magic number {found} (0x{found:08x}), expected {expected} (0x{expected:08x}) for an IDX {} file",
        path.display(),
        if *expected == IMAGES_MAGIC { "image" } else { "label" }
    )]
    BadMagic { path: PathBuf, expected: u32, found: u32 },
    #[error("{}: images are {rows}×{cols}, expected 28×28", path.display())]
    BadDimensions { path: PathBuf, rows: u32, cols: u32 },
    #[error("{}: truncated: the header promises {expected_bytes} bytes, the file has {found_bytes}", path.display())]
    Truncated { path: PathBuf, expected_bytes: u64, found_bytes: u64 },
    /// More data than the header describes. In a gzipped file (`gzip`) that is as likely a
    /// corrupt stream as an honest file with a wrong count: the stream is cut one byte past the
    /// declared size (see `declare_size`), so its checksum is never reached to tell which.
    #[error(
        "{}: {}",
        path.display(),
        if *gzip {
            format!("the gzip stream holds more than the {expected_bytes} bytes the header describes (a corrupt file, or a wrong count in the header)")
        } else {
            format!("unexpected bytes after the {expected_bytes} bytes the header describes")
        }
    )]
    TrailingBytes { path: PathBuf, expected_bytes: u64, gzip: bool },
    /// A header that declares no images: nothing to train on or test.
    #[error("{}: holds no images, expected at least one", path.display())]
    NoImages { path: PathBuf },
    #[error("{}: has {label_count} labels, expected {image_count} to match {}", labels.display(), images.display())]
    CountMismatch { images: PathBuf, image_count: usize, labels: PathBuf, label_count: usize },
    /// A FIFO, device, directory… where a data file should be.
    #[error("{}: is {kind}, expected a regular file (raw or gzipped IDX)", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    /// More non-zero pixels than the sparse store can index.
    #[error("{}: too large: after {images} images the non-zero pixels exceed {MAX_NONZERO}, the most this reader indexes", path.display())]
    TooLarge { path: PathBuf, images: usize },
    #[error("{}: label {index} is {label}, expected a digit 0-9", path.display())]
    BadLabel { path: PathBuf, index: usize, label: u8 },
}

// ANCHOR: idx_constants
pub const IMAGES_MAGIC: u32 = 2051;
pub const LABELS_MAGIC: u32 = 2049;
// ANCHOR_END: idx_constants

// ANCHOR: open_idx
/// An IDX file ready to be parsed: a name for messages, a stream of its (decompressed) bytes,
/// and, for a raw file whose length is known (a file on disk, bytes in memory), that length —
/// which lets a header be checked before anything is read.
///
/// Where the bytes come from is the caller's business: the binary opens files (only regular
/// ones, see `mnistlearn`'s `io::dataset`), the browser hands over what it fetched.
pub struct IdxSource {
    path: PathBuf,
    stream: Box<dyn Read>,
    raw_len: Option<u64>,
    /// Whether `stream` decompresses a gzip file.
    gzip: bool,
}

impl IdxSource {
    /// `reader` yields the file's bytes, raw or gzipped: gzip is recognised by its magic bytes,
    /// not by the name. `raw_len` is the length of the bytes `reader` yields, if known.
    pub fn new(
        path: impl Into<PathBuf>,
        reader: impl Read + 'static,
        raw_len: Option<u64>,
    ) -> Result<IdxSource, IdxError> {
        let path = path.into();
        let mut file = BufReader::with_capacity(1 << 16, reader);
        let mut magic = [0u8; 2];
        let peeked = read_full(&mut file, &mut magic).map_err(|e| IdxError::Io { path: path.clone(), source: e })?;
        let head = io::Cursor::new(magic[..peeked].to_vec());
        Ok(if peeked == 2 && magic == [0x1f, 0x8b] {
            // MultiGzDecoder: `cat a.gz b.gz` is one valid gzip file whose members decompress to
            // the concatenation (RFC 1952 §2.2), and several tools write files that way.
            let stream = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(head.chain(file)));
            IdxSource { path, stream: Box::new(stream), raw_len: None, gzip: true }
        } else {
            IdxSource { path, stream: Box::new(head.chain(file)), raw_len, gzip: false }
        })
    }

    /// A file's bytes already in memory (raw or gzipped).
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<IdxSource, IdxError> {
        let len = bytes.len() as u64;
        IdxSource::new(path, io::Cursor::new(bytes), Some(len))
    }

    /// The name used in messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
// ANCHOR_END: open_idx

/// Reads until `buf` is full or the stream ends; returns how many bytes arrived.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A reader that counts bytes and turns short reads into [`IdxError::Truncated`].
struct IdxReader {
    path: PathBuf,
    stream: Box<dyn Read>,
    raw_len: Option<u64>,
    gzip: bool,
    consumed: u64,
    expected: u64,
}

impl IdxReader {
    fn new(opened: IdxSource, header_bytes: u64) -> IdxReader {
        IdxReader {
            path: opened.path,
            stream: opened.stream,
            raw_len: opened.raw_len,
            gzip: opened.gzip,
            consumed: 0,
            expected: header_bytes,
        }
    }

    fn io_error(&self, e: io::Error) -> IdxError {
        IdxError::Io { path: self.path.clone(), source: e }
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), IdxError> {
        let got = read_full(&mut self.stream, buf).map_err(|e| self.io_error(e))?;
        self.consumed += got as u64;
        if got < buf.len() {
            return Err(IdxError::Truncated {
                path: self.path.clone(),
                expected_bytes: self.expected.max(self.consumed + 1),
                found_bytes: self.consumed,
            });
        }
        Ok(())
    }

    // ANCHOR: u32_be
    fn u32_be(&mut self) -> Result<u32, IdxError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn magic(&mut self, expected: u32) -> Result<(), IdxError> {
        let found = self.u32_be()?;
        if found != expected {
            return Err(IdxError::BadMagic { path: self.path.clone(), expected, found });
        }
        Ok(())
    }
    // ANCHOR_END: u32_be

    // ANCHOR: declare_size
    /// Records the file size the header declares and, for a raw file, checks it against the
    /// length on disk before a byte of data is read: a header's count is a claim, and nothing
    /// is allocated on a claim the file cannot back. (A gzipped stream's length is unknown
    /// until it ends, so there the data are read in bounded pieces instead, and the stream is
    /// cut at the declared size plus one byte, enough to notice trailing data.)
    fn declare_size(&mut self, total: u64) -> Result<(), IdxError> {
        self.expected = total;
        match self.raw_len {
            Some(len) if len < total => {
                Err(IdxError::Truncated { path: self.path.clone(), expected_bytes: total, found_bytes: len })
            }
            Some(len) if len > total => {
                Err(IdxError::TrailingBytes { path: self.path.clone(), expected_bytes: total, gzip: false })
            }
            _ => {
                let rest = std::mem::replace(&mut self.stream, Box::new(io::empty()));
                self.stream = Box::new(rest.take(total - self.consumed + 1));
                Ok(())
            }
        }
    }
    // ANCHOR_END: declare_size

    /// After reading everything the header describes (only when the whole file was read).
    fn expect_end(&mut self) -> Result<(), IdxError> {
        let mut probe = [0u8; 1];
        let got = read_full(&mut self.stream, &mut probe).map_err(|e| self.io_error(e))?;
        if got != 0 {
            return Err(IdxError::TrailingBytes {
                path: self.path.clone(),
                expected_bytes: self.expected,
                gzip: self.gzip,
            });
        }
        Ok(())
    }
}

/// An IDX file whose header has been read and checked, ready for its data.
struct Header {
    reader: IdxReader,
    count: usize,
}

/// The largest number of non-zero pixels [`Images`] can index (its offsets are `u32`).
const MAX_NONZERO: usize = u32::MAX as usize;

// ANCHOR: read_images
/// Reads an IDX image file (raw or gzipped): at most `limit` images if given.
pub fn read_images(source: IdxSource, limit: Option<usize>) -> Result<Images, IdxError> {
    read_images_body(images_header(source)?, limit)
}

fn images_header(source: IdxSource) -> Result<Header, IdxError> {
    let mut reader = IdxReader::new(source, 16);
    reader.magic(IMAGES_MAGIC)?;
    let count = reader.u32_be()?;
    let (rows, cols) = (reader.u32_be()?, reader.u32_be()?);
    if (rows as usize, cols as usize) != (SIDE, SIDE) {
        return Err(IdxError::BadDimensions { path: reader.path, rows, cols });
    }
    reader.declare_size(16 + count as u64 * PIXELS as u64)?;
    Ok(Header { reader, count: count as usize })
}

fn read_images_body(header: Header, limit: Option<usize>) -> Result<Images, IdxError> {
    let Header { mut reader, count } = header;
    let wanted = limit.map_or(count, |l| l.min(count));
    // Images are stored as they arrive, so memory follows the bytes actually read (the room
    // `reserve_dense` makes is address space until then).
    let mut images = Images::new();
    images.reserve_dense(wanted);
    let mut pixels = [0u8; PIXELS];
    for _ in 0..wanted {
        reader.exact(&mut pixels)?;
        if images.stored_pixels() + PIXELS > MAX_NONZERO {
            return Err(IdxError::TooLarge { path: reader.path, images: images.len() });
        }
        images.push_dense(&pixels);
    }
    if wanted == count {
        reader.expect_end()?;
    }
    images.shrink_to_fit();
    Ok(images)
}
// ANCHOR_END: read_images

// ANCHOR: read_labels
/// Reads an IDX label file (raw or gzipped): at most `limit` labels if given.
pub fn read_labels(source: IdxSource, limit: Option<usize>) -> Result<Vec<u8>, IdxError> {
    read_labels_body(labels_header(source)?, limit)
}

fn labels_header(source: IdxSource) -> Result<Header, IdxError> {
    let mut reader = IdxReader::new(source, 8);
    reader.magic(LABELS_MAGIC)?;
    let count = reader.u32_be()?;
    reader.declare_size(8 + count as u64)?;
    Ok(Header { reader, count: count as usize })
}

fn read_labels_body(header: Header, limit: Option<usize>) -> Result<Vec<u8>, IdxError> {
    let Header { mut reader, count } = header;
    let wanted = limit.map_or(count, |l| l.min(count));
    // In pieces of 64 KiB: the vector grows with the bytes that really arrive, never to the
    // size a (possibly lying) header names.
    let mut labels = Vec::new();
    let mut piece = vec![0u8; 1 << 16];
    while labels.len() < wanted {
        let n = piece.len().min(wanted - labels.len());
        reader.exact(&mut piece[..n])?;
        labels.extend_from_slice(&piece[..n]);
    }
    if wanted == count {
        reader.expect_end()?;
    }
    if let Some(index) = labels.iter().position(|&l| l > 9) {
        return Err(IdxError::BadLabel { path: reader.path, index, label: labels[index] });
    }
    Ok(labels)
}
// ANCHOR_END: read_labels

// ANCHOR: read_dataset
/// Reads an image file and its label file and checks that they describe the same samples.
///
/// Both headers are read before either file's data, so a label file for the wrong image count
/// fails at once, whatever size it claims, instead of after reading (or allocating for) it.
pub fn read_dataset(images: IdxSource, labels: IdxSource, limit: Option<usize>) -> Result<Dataset, IdxError> {
    let images = images_header(images)?;
    if images.count == 0 {
        return Err(IdxError::NoImages { path: images.reader.path });
    }
    let labels = labels_header(labels)?;
    if images.count != labels.count {
        return Err(IdxError::CountMismatch {
            images: images.reader.path.clone(),
            image_count: images.count,
            labels: labels.reader.path.clone(),
            label_count: labels.count,
        });
    }
    Ok(Dataset { images: read_images_body(images, limit)?, labels: read_labels_body(labels, limit)? })
}
// ANCHOR_END: read_dataset
/// The official file names (each may also be gzipped, with `.gz` appended).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
