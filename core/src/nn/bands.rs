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
pub(super) struct BandSplits {
    bands: usize,
    at: Vec<u16>,
}

impl BandSplits {
    pub(super) fn new(data: &Dataset, bands: &[Range<usize>]) -> BandSplits {
        let mut at = Vec::with_capacity(data.len() * (bands.len() + 1));
        for i in 0..data.len() {
            let index = data.images.get(i).index;
            at.push(0);
            for band in bands {
                at.push(index.partition_point(|&k| (k as usize) < band.end) as u16);
            }
        }
        BandSplits { bands: bands.len(), at }
    }

    #[inline(always)]
    pub(super) fn range(&self, image: usize, band: usize) -> (usize, usize) {
        let base = image * (self.bands + 1) + band;
        (self.at[base] as usize, self.at[base + 1] as usize)
    }
}

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
