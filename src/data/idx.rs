//! MNIST's IDX files: a big-endian header, then raw bytes.
//!
//! ```text
//! images (magic 2051 = 0x00000803): u32 magic, u32 count, u32 rows (28), u32 cols (28), count·rows·cols u8
//! labels (magic 2049 = 0x00000801): u32 magic, u32 count, count u8 (0..=9)
//! ```
//!
//! Files may be raw or gzipped (recognised by the gzip magic bytes, whatever the name). The
//! original converted every pixel to a double up front (376 MB); we keep the pixels as `u8`, and
//! only the non-zero ones (about 19% of MNIST's pixels), with their positions. The network skips
//! zero inputs anyway (see `math::dot`), so this is also the layout the forward pass wants.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

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
    #[error("{}: unexpected bytes after the {expected_bytes} bytes the header describes", path.display())]
    TrailingBytes { path: PathBuf, expected_bytes: u64 },
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
pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
// ANCHOR_END: idx_constants

// ANCHOR: images
/// A set of 28×28 images, stored sparsely: for image `i`, the positions and values of its
/// non-zero pixels are `index[offsets[i]..offsets[i+1]]` and `value[..]`, positions ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Images {
    offsets: Vec<u32>,
    index: Vec<u16>,
    value: Vec<u8>,
}

/// One image's non-zero pixels, positions (0..784, row-major) ascending.
#[derive(Clone, Copy, Debug)]
pub struct SparseImage<'a> {
    pub index: &'a [u16],
    pub value: &'a [u8],
}
// ANCHOR_END: images

impl Images {
    pub fn new() -> Images {
        Images { offsets: vec![0], index: Vec::new(), value: Vec::new() }
    }

    // ANCHOR: push_dense
    /// Appends one dense image of 784 bytes.
    pub fn push_dense(&mut self, pixels: &[u8]) {
        assert_eq!(pixels.len(), PIXELS, "an image has 784 pixels");
        for (k, &p) in pixels.iter().enumerate() {
            if p != 0 {
                self.index.push(k as u16);
                self.value.push(p);
            }
        }
        self.offsets.push(self.index.len() as u32);
    }
    // ANCHOR_END: push_dense

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> SparseImage<'_> {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        SparseImage { index: &self.index[a..b], value: &self.value[a..b] }
    }

    /// Hints the CPU to start loading image `i`'s pixels: the shuffle makes every image a cache
    /// (and TLB) miss, and the trainer knows which one comes next. A hint only; it changes no
    /// result. Image `i`'s offsets should already be cached: see [`Images::prefetch_offsets`].
    #[inline(always)]
    pub fn prefetch_pixels(&self, i: usize) {
        let image = self.get(i);
        prefetch_bytes(image.index.as_ptr() as *const u8, std::mem::size_of_val(image.index));
        prefetch_bytes(image.value.as_ptr(), image.value.len());
    }

    /// Hints the CPU to start loading where image `i` is stored.
    #[inline(always)]
    pub fn prefetch_offsets(&self, i: usize) {
        if let Some(offset) = self.offsets.get(i) {
            prefetch_bytes(offset as *const u32 as *const u8, 8);
        }
    }

    /// Image `i` as 784 dense bytes.
    pub fn dense(&self, i: usize) -> Vec<u8> {
        let mut out = vec![0u8; PIXELS];
        let image = self.get(i);
        for (&k, &v) in image.index.iter().zip(image.value) {
            out[k as usize] = v;
        }
        out
    }

    /// How often each of the 784 pixel positions is non-zero (used to balance thread work).
    pub fn pixel_histogram(&self) -> Vec<u64> {
        let mut counts = vec![0u64; PIXELS];
        self.index.iter().for_each(|&k| counts[k as usize] += 1);
        counts
    }

    fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.index.shrink_to_fit();
        self.value.shrink_to_fit();
    }
}

/// Prefetches the cache lines of `len` bytes at `p` (x86-64 only; elsewhere a no-op).
#[inline(always)]
fn prefetch_bytes(p: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..len).step_by(64) {
        // SAFETY: prefetch never faults; the addresses are inside the given range anyway.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.add(offset) as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

/// Images with their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub images: Images,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

// ANCHOR: open_idx
/// An opened IDX file: its chosen path, a stream of its (decompressed) bytes, and, for a raw
/// file, its length on disk — which lets a header be checked before anything is read.
struct Opened {
    path: PathBuf,
    stream: Box<dyn Read>,
    raw_len: Option<u64>,
}

/// Opens `path`, or `path.gz` if `path` does not exist, transparently un-gzipping either.
///
/// Only regular files are read: a FIFO would block forever waiting for a writer, and a device
/// such as `/dev/zero` never ends. The file is opened with `O_NONBLOCK` (so opening a FIFO
/// cannot block either) and then checked with `fstat` on the open descriptor, so what is
/// checked is what is read.
fn open_idx(path: &Path) -> Result<Opened, IdxError> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let chosen = if path.exists() {
        path.to_path_buf()
    } else if gz.exists() {
        gz
    } else {
        return Err(IdxError::Missing { path: path.to_path_buf() });
    };
    let io_err = |e: io::Error| IdxError::Io { path: chosen.clone(), source: e };
    let file = open_regular(&chosen).map_err(|e| match e {
        OpenError::Io(e) => io_err(e),
        OpenError::NotRegular(kind) => IdxError::NotRegular { path: chosen.clone(), kind },
    })?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut file = BufReader::with_capacity(1 << 16, file);
    let mut magic = [0u8; 2];
    let peeked = read_full(&mut file, &mut magic).map_err(io_err)?;
    let head = io::Cursor::new(magic[..peeked].to_vec());
    let opened = if peeked == 2 && magic == [0x1f, 0x8b] {
        // MultiGzDecoder: `cat a.gz b.gz` is one valid gzip file whose members decompress to
        // the concatenation (RFC 1952 §2.2), and several tools write files that way.
        let stream = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(head.chain(file)));
        Opened { path: chosen, stream: Box::new(stream), raw_len: None }
    } else {
        Opened { path: chosen, stream: Box::new(head.chain(file)), raw_len: Some(len) }
    };
    Ok(opened)
}
// ANCHOR_END: open_idx

/// Why [`open_regular`] failed.
pub(crate) enum OpenError {
    Io(io::Error),
    /// The path names something other than a regular file; the payload says what.
    NotRegular(&'static str),
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed), without
/// blocking on a FIFO. Shared with the weights reader.
pub(crate) fn open_regular(path: &Path) -> Result<File, OpenError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading waits for a writer unless O_NONBLOCK is given. On a regular
        // file the flag changes nothing (regular files never block on read).
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(OpenError::Io)?;
    let kind = file.metadata().map_err(OpenError::Io)?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(OpenError::NotRegular(describe_file_type(&kind)))
}

/// "a directory", "a FIFO", … for messages.
pub(crate) fn describe_file_type(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

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
    consumed: u64,
    expected: u64,
}

impl IdxReader {
    fn new(opened: Opened, header_bytes: u64) -> IdxReader {
        IdxReader { path: opened.path, stream: opened.stream, raw_len: opened.raw_len, consumed: 0, expected: header_bytes }
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
            Some(len) if len > total => Err(IdxError::TrailingBytes { path: self.path.clone(), expected_bytes: total }),
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
            return Err(IdxError::TrailingBytes { path: self.path.clone(), expected_bytes: self.expected });
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
pub fn read_images(path: &Path, limit: Option<usize>) -> Result<Images, IdxError> {
    read_images_body(images_header(path)?, limit)
}

fn images_header(path: &Path) -> Result<Header, IdxError> {
    let mut reader = IdxReader::new(open_idx(path)?, 16);
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
    // Images are stored as they arrive, so memory follows the bytes actually read.
    let mut images = Images::new();
    let mut pixels = [0u8; PIXELS];
    for _ in 0..wanted {
        reader.exact(&mut pixels)?;
        if images.index.len() + PIXELS > MAX_NONZERO {
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
pub fn read_labels(path: &Path, limit: Option<usize>) -> Result<Vec<u8>, IdxError> {
    read_labels_body(labels_header(path)?, limit)
}

fn labels_header(path: &Path) -> Result<Header, IdxError> {
    let mut reader = IdxReader::new(open_idx(path)?, 8);
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
pub fn read_dataset(images_path: &Path, labels_path: &Path, limit: Option<usize>) -> Result<Dataset, IdxError> {
    let images = images_header(images_path)?;
    let labels = labels_header(labels_path)?;
    if images.count != labels.count {
        return Err(IdxError::CountMismatch {
            images: images_path.to_path_buf(),
            image_count: images.count,
            labels: labels_path.to_path_buf(),
            label_count: labels.count,
        });
    }
    Ok(Dataset { images: read_images_body(images, limit)?, labels: read_labels_body(labels, limit)? })
}
// ANCHOR_END: read_dataset
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The training set from `dir` (the first `limit` samples if given).
pub fn load_train(dir: &Path, limit: Option<usize>) -> Result<Dataset, IdxError> {
    read_dataset(&dir.join(TRAIN_IMAGES), &dir.join(TRAIN_LABELS), limit)
}

/// The test set from `dir`.
pub fn load_test(dir: &Path) -> Result<Dataset, IdxError> {
    read_dataset(&dir.join(TEST_IMAGES), &dir.join(TEST_LABELS), None)
}
