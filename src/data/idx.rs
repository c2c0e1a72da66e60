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

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

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
/// Opens `path`, or `path.gz` if `path` does not exist, transparently un-gzipping either.
fn open_idx(path: &Path) -> Result<(PathBuf, Box<dyn Read>), IdxError> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let chosen = if path.exists() {
        path.to_path_buf()
    } else if gz.exists() {
        gz
    } else {
        return Err(IdxError::Missing { path: path.to_path_buf() });
    };
    let io_err = |e: io::Error| IdxError::Io { path: chosen.clone(), source: e };
    let mut file = BufReader::with_capacity(1 << 16, File::open(&chosen).map_err(io_err)?);
    let mut magic = [0u8; 2];
    let peeked = read_full(&mut file, &mut magic).map_err(io_err)?;
    let head = io::Cursor::new(magic[..peeked].to_vec());
    let stream: Box<dyn Read> = if peeked == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(1 << 16, GzDecoder::new(head.chain(file))))
    } else {
        Box::new(head.chain(file))
    };
    Ok((chosen, stream))
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
    consumed: u64,
    expected: u64,
}

impl IdxReader {
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), IdxError> {
        let got = read_full(&mut self.stream, buf)
            .map_err(|e| IdxError::Io { path: self.path.clone(), source: e })?;
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

    /// After reading everything the header describes (only when the whole file was read).
    fn expect_end(&mut self) -> Result<(), IdxError> {
        let mut probe = [0u8; 1];
        let got = read_full(&mut self.stream, &mut probe)
            .map_err(|e| IdxError::Io { path: self.path.clone(), source: e })?;
        if got != 0 {
            return Err(IdxError::TrailingBytes { path: self.path.clone(), expected_bytes: self.expected });
        }
        Ok(())
    }
}

// ANCHOR: read_images
/// Reads an IDX image file (raw or gzipped): at most `limit` images if given.
pub fn read_images(path: &Path, limit: Option<usize>) -> Result<Images, IdxError> {
    read_images_counted(path, limit).map(|(images, _)| images)
}

/// [`read_images`], also returning the count the header declares.
fn read_images_counted(path: &Path, limit: Option<usize>) -> Result<(Images, usize), IdxError> {
    let (path, stream) = open_idx(path)?;
    let mut reader = IdxReader { path, stream, consumed: 0, expected: 16 };
    reader.magic(IMAGES_MAGIC)?;
    let count = reader.u32_be()? as usize;
    let (rows, cols) = (reader.u32_be()?, reader.u32_be()?);
    if (rows as usize, cols as usize) != (SIDE, SIDE) {
        return Err(IdxError::BadDimensions { path: reader.path, rows, cols });
    }
    reader.expected = 16 + (count * PIXELS) as u64;
    let wanted = limit.map_or(count, |l| l.min(count));
    let mut images = Images::new();
    let mut pixels = [0u8; PIXELS];
    for _ in 0..wanted {
        reader.exact(&mut pixels)?;
        images.push_dense(&pixels);
    }
    if wanted == count {
        reader.expect_end()?;
    }
    images.shrink_to_fit();
    Ok((images, count))
}
// ANCHOR_END: read_images

// ANCHOR: read_labels
/// Reads an IDX label file (raw or gzipped): at most `limit` labels if given.
pub fn read_labels(path: &Path, limit: Option<usize>) -> Result<Vec<u8>, IdxError> {
    read_labels_counted(path, limit).map(|(labels, _)| labels)
}

fn read_labels_counted(path: &Path, limit: Option<usize>) -> Result<(Vec<u8>, usize), IdxError> {
    let (path, stream) = open_idx(path)?;
    let mut reader = IdxReader { path, stream, consumed: 0, expected: 8 };
    reader.magic(LABELS_MAGIC)?;
    let count = reader.u32_be()? as usize;
    reader.expected = 8 + count as u64;
    let wanted = limit.map_or(count, |l| l.min(count));
    let mut labels = vec![0u8; wanted];
    reader.exact(&mut labels)?;
    if wanted == count {
        reader.expect_end()?;
    }
    if let Some(index) = labels.iter().position(|&l| l > 9) {
        return Err(IdxError::BadLabel { path: reader.path, index, label: labels[index] });
    }
    Ok((labels, count))
}
// ANCHOR_END: read_labels

/// Reads an image file and its label file and checks that they describe the same samples.
pub fn read_dataset(images_path: &Path, labels_path: &Path, limit: Option<usize>) -> Result<Dataset, IdxError> {
    let (images, image_count) = read_images_counted(images_path, limit)?;
    let (labels, label_count) = read_labels_counted(labels_path, limit)?;
    if image_count != label_count {
        return Err(IdxError::CountMismatch {
            images: images_path.to_path_buf(),
            image_count,
            labels: labels_path.to_path_buf(),
            label_count,
        });
    }
    Ok(Dataset { images, labels })
}

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
