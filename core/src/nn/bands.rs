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
/// `parts` contiguous ranges of pixel rows with about equal non-zero counts over the training
/// set (the stretches of the bands' grid, below). Only a division of work: it changes no result.
pub(super) fn balanced_bands(histogram: &[u64], parts: usize) -> Vec<Range<usize>> {
    let weights: Vec<u64> = histogram.iter().map(|&c| c + 1).collect();
    let total: u64 = weights.iter().sum();
    let (mut bands, mut start, mut acc) = (Vec::with_capacity(parts), 0, 0u64);
    for t in 0..parts {
        let target = total * (t as u64 + 1) / parts as u64;
        let mut end = start;
        while end < INPUTS && acc + weights[end] <= target {
            acc += weights[end];
            end += 1;
        }
        if t + 1 == parts {
            end = INPUTS;
        }
        bands.push(start..end);
        start = end;
    }
    bands
}
// ANCHOR_END: balanced_bands

// ANCHOR: band_grid
/// The pixel rows cut into `quanta` stretches of about equal non-zero counts over the training
/// set (`cuts[0] = 0`, `cuts[quanta] = INPUTS`; a stretch may be empty): the grid that bands are
/// made of. A thread's band is a run of whole stretches, so moving a band's edge by one stretch
/// moves about `1/quanta` of the hidden layer's work from one thread to its neighbour.
pub(super) fn grid_cuts(histogram: &[u64], quanta: usize) -> Vec<usize> {
    let bands = balanced_bands(histogram, quanta);
    bands.iter().map(|b| b.start).chain([INPUTS]).collect()
}

/// How many stretches the grid of a team of `threads` has: 32 (one 64-byte line of splits per
/// image, below), or more, in whole lines, for teams of more than 32 threads.
pub(super) fn grid_quanta(threads: usize) -> usize {
    threads.max(1).next_multiple_of(32)
}
// ANCHOR_END: band_grid

/// One image's splits: 32 of the `u16` positions of [`BandSplits`], a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct SplitLine([u16; 32]);

/// Where each image's (ascending) pixel list crosses each cut of the band grid, computed once
/// per run so the per-sample loop needs no search: entry `q − 1` of image `i`'s splits is the
/// number of its pixels before `cuts[q]` (`q = 1..=quanta`; the last is the list's length, and
/// before `cuts[0] = 0` there are none). So the pixels of the band of stretches `q0..q1` are
/// positions `split(q0)..split(q1)` of its list, wherever the band's edges stand.
///
/// **Invariant** (phase 1 relies on it for memory safety: its gather reads weight rows
/// unchecked): every pixel in image `i`'s range for stretches `q0..q1` lies in rows
/// `cuts[q0]..cuts[q1]`. `new` checks that each list ascends strictly, which makes its partition
/// points exact; `Images` only ever stores ascending lists, so the check never fails.
pub(super) struct BandSplits {
    cuts: Vec<usize>,
    /// `quanta / 32` lines per image.
    lines: usize,
    at: Vec<SplitLine>,
}

impl BandSplits {
    pub(super) fn new(data: &Dataset, cuts: &[usize]) -> BandSplits {
        let quanta = cuts.len() - 1;
        assert!(quanta % 32 == 0 && cuts[0] == 0 && cuts[quanta] == INPUTS, "a grid of whole lines over every row");
        assert!(cuts.windows(2).all(|w| w[0] <= w[1]), "grid cuts in order");
        let lines = quanta / 32;
        let mut at = Vec::with_capacity(data.len() * lines);
        for i in 0..data.len() {
            let index = data.images.get(i).index;
            assert!(index.windows(2).all(|w| w[0] < w[1]), "image {i}: pixel list not ascending");
            for line in cuts[1..].chunks_exact(32) {
                at.push(SplitLine(std::array::from_fn(|e| index.partition_point(|&k| (k as usize) < line[e]) as u16)));
            }
        }
        BandSplits { cuts: cuts.to_vec(), lines, at }
    }

    /// The pixel rows of the band of stretches `q0..q1`.
    pub(super) fn rows(&self, (q0, q1): (usize, usize)) -> Range<usize> {
        self.cuts[q0]..self.cuts[q1]
    }

    /// Hints the CPU to start loading image `image`'s splits (a hint; no result changes).
    #[inline(always)]
    pub(super) fn prefetch(&self, image: usize) {
        if let Some(at) = self.at.get(image * self.lines..(image + 1) * self.lines) {
            crate::data::images::prefetch_lines(at);
        }
    }

    /// Positions `lo..hi` of image `image`'s pixel list: its pixels in the band of stretches
    /// `q0..q1`.
    #[inline(always)]
    pub(super) fn range(&self, image: usize, (q0, q1): (usize, usize)) -> (usize, usize) {
        let split = |q: usize| {
            if q == 0 {
                0
            } else {
                let line = &self.at[image * self.lines + (q - 1) / 32];
                line.0[(q - 1) % 32] as usize
            }
        };
        (split(q0), split(q1))
    }
}

// ANCHOR: band_balance
/// Where the bands' edges stand on the grid, and where they go next: each thread's band gets a
/// share of the stretches in proportion to the speed at which its core stepped the last batches'
/// hidden weights (lit pixels per cycle, phase 3). On a quiet machine the cores run alike and the
/// bands stay even; on a shared one, where a neighbour's load can slow one core to half speed for
/// seconds, the slower core's band shrinks and the other's grows, instead of the whole team
/// waiting for it. Only a division of work: every weight row is still stepped and gathered by
/// exactly one thread, in the same order.
///
/// Every thread keeps its own copy and feeds it the same measurements in the same order (all
/// threads' after each barrier), so the copies always agree without being shared.
#[derive(Clone, Debug)]
pub(super) struct BandBalance {
    /// Thread `t`'s band is stretches `bounds[t]..bounds[t + 1]`.
    bounds: Vec<usize>,
    /// Each thread's cycles per lit pixel in the step, a running average (0 until measured).
    cost: Vec<f64>,
}

/// The running averages' weight on the newest batch: about the last eight count.
const BALANCE_WEIGHT: f64 = 1.0 / 8.0;

impl BandBalance {
    /// Even bands: about `quanta / threads` stretches each.
    pub(super) fn new(quanta: usize, threads: usize) -> BandBalance {
        BandBalance { bounds: (0..=threads).map(|t| quanta * t / threads).collect(), cost: vec![0.0; threads] }
    }

    /// Thread `id`'s band, in stretches.
    pub(super) fn band(&self, id: usize) -> (usize, usize) {
        (self.bounds[id], self.bounds[id + 1])
    }

    /// Takes each thread `t`'s last step — `step(t)`: cycles, and lit pixels of its band — into
    /// the averages, and moves each edge at most one stretch toward where the threads' speeds
    /// put it. Returns whether an edge moved. A thread keeps one stretch at least. (No
    /// allocation: the trainer calls this every batch.)
    pub(super) fn update(&mut self, step: impl Fn(usize) -> (u64, u64)) -> bool {
        let threads = self.cost.len();
        for (id, cost) in self.cost.iter_mut().enumerate() {
            let (t, p) = step(id);
            if p > 0 && t > 0 {
                let now = t as f64 / p as f64;
                *cost = if *cost == 0.0 { now } else { *cost + BALANCE_WEIGHT * (now - *cost) };
            }
        }
        if threads < 2 || self.cost.contains(&0.0) {
            return false;
        }
        let quanta = self.bounds[threads];
        let total: f64 = self.cost.iter().map(|c| 1.0 / c).sum();
        let mut moved = false;
        let mut before = 0.0;
        for t in 1..threads {
            before += 1.0 / self.cost[t - 1];
            let target = quanta as f64 * before / total;
            let edge = self.bounds[t];
            // Three quarters of a stretch away, or no move: an edge comes to rest within three
            // quarters of its target, and averages that then wander by less than half a stretch
            // (as they do even between equal cores) do not send it back and forth. Each move
            // costs the thread that takes rows one wait.
            if target >= edge as f64 + 0.75 && edge + 1 < self.bounds[t + 1] {
                self.bounds[t] = edge + 1;
                moved = true;
            } else if target <= edge as f64 - 0.75 && edge > self.bounds[t - 1] + 1 {
                self.bounds[t] = edge - 1;
                moved = true;
            }
        }
        moved
    }
}
// ANCHOR_END: band_balance

// ANCHOR: phase2_split
/// Which samples of a full batch each thread finishes in phase 2: thread `t` takes
/// `bounds[t]..bounds[t + 1]`. The split starts even and follows the run: the thread that
/// arrives last at the barrier before phase 3 gives one of its samples to a neighbour (thread 0
/// to thread 1, thread `t` to thread `t − 1`). The pipeline's first stages finish phase 1
/// early, so they come to take more (at h = 32 on two threads, about 23 of 32, where an even
/// split left thread 0 waiting at the barrier for 10k cycles a batch). Only a division of work:
/// a sample's phase 2 is the same operations whichever thread performs it.
///
/// The last thread keeps at least half an even share: 8 of 32 on two threads, one whole
/// eight-sample pass of `finish_samples` (a pass costs nearly as much for one sample as for
/// eight). Below that the split has a second balance point: the last thread keeps a sample or
/// two, and thread 0, whose last group becomes ready only as the last stage ends phase 1,
/// finishes it after that, so both arrive late. (A run of one epoch spent 13% of its batches
/// there, at ~54k TSC cycles against ~49.6k, h = 32.) The floor was 5/8 (10 of 32) until phase 1
/// got its pixels from L2: the last thread then kept 10, two passes of 8 and 2, and arrived last
/// with no sample it could give away. With 8, 40 alternated pairs of 1-epoch runs took 57.6k
/// against 61.2k a batch, 30 of 40 faster.
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
        Phase2Split { batch, bounds, last_floor: batch / 2 / threads }
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
    fn grid_splits_are_each_bands_pixels() {
        let data = crate::data::fixture::load_train();
        for quanta in [32, 64] {
            let cuts = grid_cuts(&data.images.pixel_histogram(), quanta);
            assert_eq!((cuts.len(), cuts[0], cuts[quanta]), (quanta + 1, 0, INPUTS));
            let splits = BandSplits::new(&data, &cuts);
            for band in [(0, quanta), (0, 1), (3, 17), (quanta / 2, quanta), (quanta - 1, quanta), (5, 5)] {
                let rows = splits.rows(band);
                for i in (0..data.len()).step_by(97) {
                    let index = data.images.get(i).index;
                    let (lo, hi) = splits.range(i, band);
                    let expected = (
                        index.partition_point(|&k| (k as usize) < rows.start),
                        index.partition_point(|&k| (k as usize) < rows.end),
                    );
                    assert_eq!((lo, hi), expected, "image {i}, stretches {band:?} of {quanta}");
                }
            }
        }
    }

    #[test]
    fn bands_follow_the_threads_speeds_one_stretch_a_batch() {
        let mut balance = BandBalance::new(32, 2);
        assert_eq!([balance.band(0), balance.band(1)], [(0, 16), (16, 32)]);
        assert!(!balance.update(|t| ([100, 0][t], [50, 0][t])), "no move until every thread has measured");
        // Equal speeds: the bands stay where they are.
        for _ in 0..50 {
            assert!(!balance.update(|t| ([1000, 1000][t], [500, 500][t])));
        }
        // Thread 1 at half speed: thread 0's share goes to 2/3 (21.3 stretches), one a batch at
        // most, as the running average follows.
        let mut edges = Vec::new();
        for _ in 0..60 {
            balance.update(|t| ([1000, 2000][t], [500, 500][t]));
            edges.push(balance.band(0).1);
        }
        assert!(edges.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1), "one stretch a batch: {edges:?}");
        assert_eq!(balance.band(0), (0, 21));
        assert_eq!(balance.band(1), (21, 32));
        // A thread ever so slow still keeps one stretch; and the edge comes back when it recovers.
        for _ in 0..200 {
            balance.update(|t| ([1000, 1_000_000][t], [500, 500][t]));
        }
        assert_eq!(balance.band(1), (31, 32));
        for _ in 0..200 {
            balance.update(|t| ([1000, 1000][t], [500, 500][t]));
        }
        assert_eq!(balance.band(0), (0, 16));
        // Three threads, the middle one slow: both of its edges move in.
        let mut three = BandBalance::new(32, 3);
        for _ in 0..100 {
            three.update(|t| ([1000, 3000, 1000][t], [500, 500, 500][t]));
        }
        let (a, b) = three.band(1);
        assert!(
            (b - a) < 32 / 3 && three.band(0).1 == a && three.band(2).0 == b,
            "{:?}",
            (three.band(0), (a, b), three.band(2))
        );
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
        assert_eq!(split.range(32, 2), (27, 32), "the last thread keeps half an even share (5 of 32 on three)");
        let mut pair = Phase2Split::new(32, 2);
        for _ in 0..20 {
            pair.give_away(1);
        }
        assert_eq!([pair.range(32, 0), pair.range(32, 1)], [(0, 24), (24, 32)], "8 of 32 on two threads");
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
