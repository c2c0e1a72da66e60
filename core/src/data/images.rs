//! The in-memory store the trainer reads: images kept sparsely (only the non-zero pixels, about
//! 19% of MNIST's, with their positions) and their labels. The original converted every pixel to
//! a double up front (376 MB); we keep the pixels as `u8`. The network skips zero inputs anyway
//! (see `math::dot`), so this is also the layout the forward pass wants.

/// An MNIST image is `SIDE × SIDE` pixels.
pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;

// ANCHOR: images
/// A set of 28×28 images, stored sparsely: for image `i`, the positions and values of its
/// non-zero pixels are `index[offsets[i]..offsets[i+1]]` and `value[..]`, positions ascending.
#[derive(Clone, Debug, PartialEq)]
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

/// Not derived: an empty set still has its leading offset 0, which `len` and `push_dense` rely on.
impl Default for Images {
    fn default() -> Images {
        Images::new()
    }
}

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

    /// Hints the CPU to start loading image `i`'s pixels `range` (by position in its list) into
    /// its L2 cache: the shuffle makes every image a cache miss, and the trainer knows which one
    /// comes next, and which of its pixels each thread will read (asking for only those was 2%
    /// faster at h = 32 on two threads than asking both for the whole image). L2, not L1: the
    /// trainer asks 8 samples ahead, and lines asked into L1 that early are gone again under the
    /// weight rows the gather streams, while the gather's own loads find them in L2 in time. (A
    /// batch took 7–12% fewer cycles in alternated runs than with the pixels asked into L1 two
    /// samples ahead, all of it in phase 1.) A hint only; it changes no result. Image `i`'s
    /// offsets should already be cached: see [`Images::prefetch_offsets`].
    #[inline(always)]
    pub fn prefetch_pixels(&self, i: usize, range: std::ops::Range<usize>) {
        let image = self.get(i);
        if let (Some(index), Some(value)) = (image.index.get(range.clone()), image.value.get(range)) {
            prefetch_lines_l2(index);
            prefetch_lines_l2(value);
        }
    }

    /// Hints the CPU to start loading where image `i` is stored.
    #[inline(always)]
    pub fn prefetch_offsets(&self, i: usize) {
        if let Some(offset) = self.offsets.get(i) {
            prefetch_bytes::<T0>(offset as *const u32 as *const u8, 8);
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

    /// How many non-zero pixels are stored, over all images.
    pub(crate) fn stored_pixels(&self) -> usize {
        self.index.len()
    }

    // ANCHOR: reserve_dense
    /// Makes room for `count` more images at their densest (784 stored pixels each) before they
    /// are read, on Linux only, where that room is address space, not memory, until pixels are
    /// stored in it — and asks for it to be backed by 2 MB pages ([`advise_large_pages`]).
    ///
    /// Why: the trainer visits the images in a new random order every epoch, so with 4 KB pages
    /// nearly every sample's pixels sit on a page the TLB does not hold. MNIST's 9 million lit
    /// pixels (27 MB) span 6,600 such pages and 14 large ones; on large pages the hidden sums of a
    /// batch took 6-9% less time at h = 32 (the batch 3%). A hint only: nothing is read or
    /// computed differently.
    ///
    /// Nothing is reserved if the system refuses (a gzipped file's header can claim four
    /// billion images); the images then grow as they arrive, as everywhere else.
    pub(crate) fn reserve_dense(&mut self, count: usize) {
        #[cfg(target_os = "linux")]
        {
            let most = count.saturating_mul(PIXELS);
            if self.index.try_reserve_exact(most).is_ok() && self.value.try_reserve_exact(most).is_ok() {
                advise_large_pages(&mut self.index);
                advise_large_pages(&mut self.value);
            } else {
                // Half the room helps nobody, and under an address-space limit it could leave
                // too little for the rest of the run: give it all back.
                self.index.shrink_to_fit();
                self.value.shrink_to_fit();
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = count;
    }
    // ANCHOR_END: reserve_dense

    pub(crate) fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.index.shrink_to_fit();
        self.value.shrink_to_fit();
    }
}

/// Asks Linux to back the part of `values`' allocation (its whole capacity) that covers whole
/// 2 MB pages with such pages: `madvise(MADV_HUGEPAGE)`, for memory not yet touched (pages
/// already in use stay as they are). A hint: it changes how memory is mapped, never what it
/// holds, and a kernel without large pages refuses it harmlessly (the result is ignored).
#[cfg(target_os = "linux")]
fn advise_large_pages<T>(values: &mut Vec<T>) {
    const LARGE_PAGE: usize = 2 << 20;
    let start = values.as_mut_ptr() as usize;
    let end = start + values.capacity() * std::mem::size_of::<T>();
    let (first, last) = (start.next_multiple_of(LARGE_PAGE), end / LARGE_PAGE * LARGE_PAGE);
    if first < last {
        // SAFETY: `first..last` lies inside the vector's allocation, which it owns; the advice
        // changes no byte of it and no other memory.
        unsafe { libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE) };
    }
}

/// Prefetches the cache lines of `len` bytes at `p` (x86-64 only; elsewhere a no-op).
#[inline(always)]
fn prefetch_bytes<const HINT: i32>(p: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        // Every line the bytes touch: from the one holding the first byte to the one holding
        // the last (stepping by 64 from `p` itself would miss the last when `p` is mid-line).
        let first = p as usize & !63;
        let end = p as usize + len;
        for line in (first..end).step_by(64) {
            // SAFETY: prefetch never faults, whatever the address.
            unsafe { std::arch::x86_64::_mm_prefetch::<HINT>(line as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

/// Prefetches the cache lines of `values`: a hint only, which changes no result.
#[inline(always)]
pub(crate) fn prefetch_lines<T>(values: &[T]) {
    prefetch_bytes::<T0>(values.as_ptr() as *const u8, std::mem::size_of_val(values));
}

/// [`prefetch_lines`] into L2 only.
#[inline(always)]
fn prefetch_lines_l2<T>(values: &[T]) {
    prefetch_bytes::<T1>(values.as_ptr() as *const u8, std::mem::size_of_val(values));
}

/// `_mm_prefetch`'s hints: T0 into every cache level, T1 into L2 and the levels beyond it.
#[cfg(target_arch = "x86_64")]
const T0: i32 = std::arch::x86_64::_MM_HINT_T0;
#[cfg(target_arch = "x86_64")]
const T1: i32 = std::arch::x86_64::_MM_HINT_T1;
#[cfg(not(target_arch = "x86_64"))]
const T0: i32 = 0;
#[cfg(not(target_arch = "x86_64"))]
const T1: i32 = 1;

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

    /// The first `n` samples (all of them if there are fewer): what reading with `--limit n`
    /// keeps. The browser loads the training set once and trains on any limit from it.
    pub fn first(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        let pixels = self.images.offsets[n] as usize;
        let images = Images {
            offsets: self.images.offsets[..=n].to_vec(),
            index: self.images.index[..pixels].to_vec(),
            value: self.images.value[..pixels].to_vec(),
        };
        Dataset { images, labels: self.labels[..n].to_vec() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sets_are_empty_and_grow() {
        assert_eq!(Images::default(), Images::new());
        assert_eq!(Images::default().len(), 0);
        let mut data = Dataset::default();
        assert!(data.is_empty() && data.images.is_empty());
        data.images.push_dense(&[7; PIXELS]);
        data.labels.push(3);
        assert_eq!((data.len(), data.images.len()), (1, 1));
        assert_eq!(data.images.dense(0), vec![7; PIXELS]);
    }

    #[test]
    fn room_made_before_reading_is_given_back_and_changes_no_pixel() {
        let images: Vec<Vec<u8>> = (0..3u8).map(|i| (0..PIXELS).map(|k| (k as u8 ^ i) % 5 * 60).collect()).collect();
        // Room for ten images, and for four billion (which a system may refuse, harmlessly).
        for room in [10, u32::MAX as usize] {
            let (mut plain, mut roomy) = (Images::new(), Images::new());
            roomy.reserve_dense(room);
            for image in &images {
                plain.push_dense(image);
                roomy.push_dense(image);
            }
            roomy.shrink_to_fit();
            assert_eq!(roomy, plain);
            assert_eq!(roomy.index.capacity(), roomy.index.len(), "the room is given back");
            assert_eq!(roomy.value.capacity(), roomy.value.len(), "the room is given back");
        }
    }
}
