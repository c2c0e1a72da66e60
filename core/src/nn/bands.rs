//! Who computes what: the division of the trainer's work between its threads — pixel bands for
//! the hidden layer, ranges of samples, hidden lanes and output units. Nothing here touches a
//! value of the network: a division of work can make a run faster or slower, never different.

use std::ops::Range;

use super::INPUTS;
use crate::data::Dataset;

/// Splits `0..n` into `parts` contiguous ranges of near-equal size; returns range `i`.
pub(super) fn split_evenly(n: usize, parts: usize, i: usize) -> (usize, usize) {
    (n * i / parts, n * (i + 1) / parts)
}

// ANCHOR: balanced_bands
/// Pixel-row bands with about equal non-zero counts over the training set, so the threads
/// of phases 1 and 3 see about the same work. Only a division of work: it changes no result.
pub(super) fn balanced_bands(histogram: &[u64], threads: usize) -> Vec<Range<usize>> {
    let weights: Vec<u64> = histogram.iter().map(|&c| c + 1).collect();
    let total: u64 = weights.iter().sum();
    let (mut bands, mut start, mut acc) = (Vec::with_capacity(threads), 0, 0u64);
    for t in 0..threads {
        let target = total * (t as u64 + 1) / threads as u64;
        let mut end = start;
        while end < INPUTS && acc + weights[end] <= target {
            acc += weights[end];
            end += 1;
        }
        if t + 1 == threads {
            end = INPUTS;
        }
        bands.push(start..end);
        start = end;
    }
    bands
}
// ANCHOR_END: balanced_bands

/// Where each image's (ascending) pixel list crosses from one band to the next, computed once
/// per run so the per-sample loop needs no search: image `i`'s pixels in band `t` are positions
/// `at[i·(T+1) + t] .. at[i·(T+1) + t + 1]` of its list.
///
/// **Invariant** (phase 1 relies on it for memory safety: its gather reads weight rows
/// unchecked): every pixel in image `i`'s range for band `t` lies in `bands[t]`. `new` checks
/// that each list ascends strictly, which makes its partition points exact; `Images` only ever
/// stores ascending lists, so the check never fails.
pub(super) struct BandSplits {
    bands: usize,
    at: Vec<u16>,
}

impl BandSplits {
    pub(super) fn new(data: &Dataset, bands: &[Range<usize>]) -> BandSplits {
        assert!(
            bands.first().is_none_or(|b| b.start == 0) && bands.windows(2).all(|w| w[0].end == w[1].start),
            "bands cover the rows from 0 without gaps"
        );
        let mut at = Vec::with_capacity(data.len() * (bands.len() + 1));
        for i in 0..data.len() {
            let index = data.images.get(i).index;
            assert!(index.windows(2).all(|w| w[0] < w[1]), "image {i}: pixel list not ascending");
            assert!(
                index.last().is_none_or(|&k| bands.last().is_some_and(|b| (k as usize) < b.end)),
                "image {i}: pixel past the last band"
            );
            at.push(0);
            for band in bands {
                at.push(index.partition_point(|&k| (k as usize) < band.end) as u16);
            }
        }
        BandSplits { bands: bands.len(), at }
    }

    /// Hints the CPU to start loading image `image`'s splits (a hint; no result changes).
    #[inline(always)]
    pub(super) fn prefetch(&self, image: usize) {
        let base = image * (self.bands + 1);
        if let Some(at) = self.at.get(base..base + self.bands + 1) {
            crate::data::images::prefetch_lines(at);
        }
    }

    #[inline(always)]
    pub(super) fn range(&self, image: usize, band: usize) -> (usize, usize) {
        let base = image * (self.bands + 1) + band;
        (self.at[base] as usize, self.at[base + 1] as usize)
    }
}

// ANCHOR: phase2_split
/// Which samples of a full batch each thread finishes in phase 2: thread `t` takes
/// `bounds[t]..bounds[t + 1]`. The split starts even and follows the run: the thread that
/// arrives last at the barrier before phase 3 gives one of its samples to a neighbour (thread 0
/// to thread 1, thread `t` to thread `t − 1`). The pipeline's first stages finish phase 1
/// early, so they come to take more (at h = 32 on two threads, about 23 of 32, where an even
/// split left thread 0 waiting at the barrier for 10k cycles a batch). Only a division of work:
/// a sample's phase 2 is the same operations whichever thread performs it.
///
/// The last thread keeps at least 5/8 of an even share (10 of 32 on two threads). Below that
/// the split has a second balance point: the last thread keeps a sample or two, and thread 0,
/// whose last group becomes ready only as the last stage ends phase 1, finishes it after that,
/// so both arrive late. A run of one epoch spent 13% of its batches there, at ~54k TSC cycles
/// against ~49.6k at the usual ~11 samples (h = 32); with the floor, 10 alternated pairs gave
/// 55.8k against 57.2k a batch.
///
/// Every thread keeps its own copy and moves the same bound after each barrier, which tells
/// every thread who arrived last ([`SpinBarrier::wait`](super::barrier::SpinBarrier::wait)), so
/// the copies always agree without being shared.
#[derive(Clone, Debug)]
pub(super) struct Phase2Split {
    batch: usize,
    bounds: Vec<usize>,
    /// The fewest samples the last thread gives away down to.
    last_floor: usize,
}

impl Phase2Split {
    pub(super) fn new(batch: usize, threads: usize) -> Phase2Split {
        let mut bounds = (0..=threads).map(|t| split_evenly(batch, threads, t.min(threads - 1)).0).collect::<Vec<_>>();
        bounds[threads] = batch;
        Phase2Split { batch, bounds, last_floor: batch * 5 / 8 / threads }
    }

    /// Thread `id`'s samples of a batch of `len` (a shorter last batch is split evenly).
    pub(super) fn range(&self, len: usize, id: usize) -> (usize, usize) {
        let threads = self.bounds.len() - 1;
        if len != self.batch {
            return split_evenly(len, threads, id);
        }
        (self.bounds[id], self.bounds[id + 1])
    }

    /// Thread `id` arrived last at the barrier: it gives one of its samples away, if it has one.
    /// Every thread calls this on its own copy, after every barrier before phase 3.
    pub(super) fn give_away(&mut self, id: usize) {
        let threads = self.bounds.len() - 1;
        let (lo, hi) = (self.bounds[id], self.bounds[id + 1]);
        if threads < 2 || lo == hi || (id == threads - 1 && hi - lo <= self.last_floor) {
            return;
        }
        if id == 0 {
            self.bounds[1] = hi - 1;
        } else {
            self.bounds[id] = lo + 1;
        }
    }
}
// ANCHOR_END: phase2_split

/// Thread `id`'s hidden units: whole groups of eight lanes (a 64-byte line of a weight row), so
/// no two threads ever write the same cache line.
pub(super) fn lane_range(hidden: usize, threads: usize, id: usize) -> Range<usize> {
    let groups = hidden.div_ceil(8);
    let (g0, g1) = split_evenly(groups, threads, id);
    (g0 * 8).min(hidden)..(g1 * 8).min(hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_every_row_once() {
        let hist: Vec<u64> = (0..INPUTS as u64).map(|k| (k * 7919) % 100).collect();
        for threads in 1..=6 {
            let bands = balanced_bands(&hist, threads);
            assert_eq!(bands.len(), threads);
            assert_eq!(bands[0].start, 0);
            assert_eq!(bands[threads - 1].end, INPUTS);
            for w in bands.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
        }
    }

    #[test]
    fn lane_ranges_cover_every_unit_once_in_whole_lines() {
        for hidden in [1usize, 7, 8, 10, 32, 33, 100] {
            for threads in 1..=6 {
                let mut next = 0;
                for id in 0..threads {
                    let r = lane_range(hidden, threads, id);
                    assert_eq!(r.start, next);
                    assert!(r.start % 8 == 0 || r.is_empty());
                    next = r.end;
                }
                assert_eq!(next, hidden);
            }
        }
    }

    #[test]
    fn phase2_split_moves_one_sample_from_the_last_to_arrive() {
        let ranges = |split: &Phase2Split, len| (0..3).map(|t| split.range(len, t)).collect::<Vec<_>>();
        let mut split = Phase2Split::new(32, 3);
        assert_eq!(ranges(&split, 32), [(0, 10), (10, 21), (21, 32)]);
        split.give_away(2);
        assert_eq!(ranges(&split, 32), [(0, 10), (10, 22), (22, 32)], "thread 2 gives to thread 1");
        split.give_away(0);
        assert_eq!(ranges(&split, 32), [(0, 9), (9, 22), (22, 32)], "thread 0 gives to thread 1");
        assert_eq!(ranges(&split, 7), [(0, 2), (2, 4), (4, 7)], "a short last batch is split evenly");
        for _ in 0..20 {
            split.give_away(0);
        }
        assert_eq!(split.range(32, 0), (0, 0), "down to no samples, and no further");
        for _ in 0..20 {
            split.give_away(2);
        }
        assert_eq!(split.range(32, 2), (26, 32), "the last thread keeps 5/8 of an even share (6 of 32 on three)");
        let mut pair = Phase2Split::new(32, 2);
        for _ in 0..20 {
            pair.give_away(1);
        }
        assert_eq!([pair.range(32, 0), pair.range(32, 1)], [(0, 22), (22, 32)], "10 of 32 on two threads");
        let mut single = Phase2Split::new(32, 1);
        single.give_away(0);
        assert_eq!(single.range(32, 0), (0, 32));
    }

    #[test]
    fn split_evenly_covers_range() {
        for parts in 1..5 {
            let mut next = 0;
            for i in 0..parts {
                let (a, b) = split_evenly(32, parts, i);
                assert_eq!(a, next);
                next = b;
            }
            assert_eq!(next, 32);
        }
    }
}
