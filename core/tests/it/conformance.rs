//! The bit-for-bit conformance checks: every SIMD kernel against its scalar reference, on
//! seeded random inputs (edge values, awkward lengths and widths), the fixed kernel table, and
//! the fast trainer against the reference trainer. Each check returns the first difference as
//! an `Err` instead of panicking, so that one source serves two drivers: the tests of this
//! crate (`kernels.rs`, `trainer.rs`: x86-64 natively, aarch64 under qemu) and the wasm module's
//! conformance exports (`wasm/src/check.rs` includes this file; Node runs them), where a panic
//! would be a trap without a message.
//!
//! A check takes the levels to run (the scalar reference among them is harmless: it is compared
//! with itself).

// Inputs near 1/√2 are deliberate: ln's mantissa range reduction switches there.
#![allow(clippy::approx_constant, clippy::assign_op_pattern, clippy::manual_is_multiple_of, dead_code)]

use mnistlearn_core::data::Dataset;
use mnistlearn_core::math::dot::{weighted_sums, weighted_sums_scalar};
use mnistlearn_core::math::exp::{exp, exp_in_place};
use mnistlearn_core::math::ln::{ln, ln_in_place};
use mnistlearn_core::math::sigmoid::{sigmoid, sigmoid_in_place};
use mnistlearn_core::math::softmax::softmax_in_place;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::reference::train_reference;
use mnistlearn_core::nn::train::{train, EpochReport, TrainConfig};
use mnistlearn_core::nn::update::{sgd_step, sgd_step_scalar, BatchScale};

/// `assert!` that returns the message as an `Err` instead of panicking.
macro_rules! ensure {
    ($cond:expr $(,)?) => {{
        let holds: bool = $cond;
        if !holds {
            return Err(format!("{}:{}: {}", file!(), line!(), stringify!($cond)));
        }
    }};
    ($cond:expr, $($fmt:tt)+) => {{
        let holds: bool = $cond;
        if !holds {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    }};
}

/// `assert_eq!` that returns the message as an `Err` instead of panicking.
macro_rules! ensure_eq {
    ($a:expr, $b:expr $(,)?) => {
        ensure_eq!($a, $b, "{}", stringify!($a))
    };
    ($a:expr, $b:expr, $($fmt:tt)+) => {
        match (&$a, &$b) {
            (a, b) => ensure!(a == b, "{}: {:?} != {:?}", format!($($fmt)+), a, b),
        }
    };
}

/// A check of the kernels at the given levels: the first difference as an `Err`.
pub type KernelCheck = fn(&[SimdLevel]) -> Result<(), String>;

/// Every check of the kernels, by name, for a driver that runs them all.
pub const KERNEL_CHECKS: [(&str, KernelCheck); 10] = [
    ("exp, ln, sigmoid", elementwise_kernels_match_scalar_bits_on_every_level),
    ("softmax", softmax_matches_scalar_bits_and_sums_to_one),
    ("weighted sums", weighted_sums_match_scalar_bits_for_every_width),
    ("weighted sums continued", a_sum_continued_in_stretches_equals_the_whole_sum),
    ("pixel sums", pixel_sums_equal_the_gather_of_converted_pixels),
    ("SGD step", sgd_step_matches_scalar_bits_for_power_of_two_and_other_batches),
    ("bias sums", bias_sums_match_the_rows_added_one_by_one),
    ("hidden step", hidden_step_matches_scalar_bits_and_the_unfused_definition),
    ("output step", output_step_matches_scalar_bits_and_the_definition),
    ("finish samples", finishing_samples_in_groups_matches_the_per_sample_scalar_code),
];

/// A tiny deterministic generator so the tests need no extra crates.
pub struct Gen(pub u64);
impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let x = self.0;
        (x ^ (x >> 33)).wrapping_mul(0xff51afd7ed558ccd) ^ (x >> 29)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

pub fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub const EDGE: [f64; 24] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    709.78,
    709.79,
    709.8,
    710.0,
    -708.4,
    -708.5,
    -744.4,
    -745.1,
    -745.2,
    -746.0,
    1e-300,
    -1e-300,
    5e-324,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MAX,
];

pub fn exp_inputs() -> Vec<f64> {
    let mut g = Gen(1);
    let mut xs: Vec<f64> = EDGE.to_vec();
    xs.extend((0..200_000).map(|_| g.range(-746.0, 711.0)));
    xs.extend((0..50_000).map(|_| g.range(-1.0, 1.0)));
    xs.extend((0..20_000).map(|_| g.range(-40.0, 40.0)));
    xs
}

pub fn ln_inputs() -> Vec<f64> {
    let mut g = Gen(2);
    let mut xs: Vec<f64> = EDGE.to_vec();
    // Every exponent, subnormals included: random bit patterns of positive doubles.
    xs.extend((0..200_000).map(|_| f64::from_bits(g.next() >> 1)).filter(|x| x.is_finite()));
    xs.extend((0..20_000).map(|_| f64::from_bits(g.next() >> 12))); // subnormals
    xs.extend((0..50_000).map(|_| g.range(0.5, 2.0)));
    xs.extend((0..20_000).map(|_| 1.0 + g.range(-1e-6, 1e-6)));
    xs.extend([-2.0, -1e-300, 2.0f64.sqrt(), 0.7071067811865476, 0.7071067811865475]);
    xs
}

/// Random sparse inputs (with zeros, duplicates of magnitude, negative values) for the sums. The
/// padding of each matrix row (columns `width..stride`) is NaN: a kernel that reads it, or steps
/// by `width` instead of `stride`, puts a NaN in its output.
pub fn sparse_case(g: &mut Gen, rows: usize, width: usize, stride: usize) -> (Vec<f64>, Vec<u16>, Vec<f64>) {
    let matrix: Vec<f64> = (0..rows * stride)
        .map(|k| match k % stride < width {
            true => g.range(-1.0, 1.0) * [1.0, 1e-3, 1e3][(g.next() % 3) as usize],
            false => f64::NAN,
        })
        .collect();
    let mut idx: Vec<u16> = (0..rows as u16).filter(|_| g.next() % 3 == 0).collect();
    if g.next() % 4 == 0 {
        idx.reverse(); // order matters: the kernels must follow idx, whatever it is
    }
    let val: Vec<f64> = idx.iter().map(|_| g.range(-2.0, 2.0)).collect();
    (matrix, idx, val)
}

pub fn elementwise_kernels_match_scalar_bits_on_every_level(levels: &[SimdLevel]) -> Result<(), String> {
    let xs = exp_inputs();
    let ys = ln_inputs();
    for &level in levels {
        for len in [0usize, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 33] {
            // odd lengths exercise the remainder lanes, ≥ 16 the four-register groups
            let mut v = xs[..len].to_vec();
            exp_in_place(level, &mut v);
            ensure!(v.iter().zip(&xs).all(|(&a, &x)| same_bits(a, exp(x))), "{level} exp len {len}");
            let mut v = xs[..len].to_vec();
            sigmoid_in_place(level, &mut v);
            ensure!(v.iter().zip(&xs).all(|(&a, &x)| same_bits(a, sigmoid(x))), "{level} sigmoid len {len}");
        }
        let mut v = xs.clone();
        exp_in_place(level, &mut v);
        for (a, &x) in v.iter().zip(&xs) {
            ensure!(same_bits(*a, exp(x)), "{level}: exp({x:e}) = {a:e}, scalar {:e}", exp(x));
        }
        let mut v = ys.clone();
        ln_in_place(level, &mut v);
        for (a, &x) in v.iter().zip(&ys) {
            ensure!(same_bits(*a, ln(x)), "{level}: ln({x:e}) = {a:e}, scalar {:e}", ln(x));
        }
        let mut v = xs.clone();
        sigmoid_in_place(level, &mut v);
        for (a, &x) in v.iter().zip(&xs) {
            ensure!(same_bits(*a, sigmoid(x)), "{level}: sigmoid({x:e}) = {a:e}, scalar {:e}", sigmoid(x));
        }
    }
    Ok(())
}

pub fn softmax_matches_scalar_bits_and_sums_to_one(levels: &[SimdLevel]) -> Result<(), String> {
    let mut g = Gen(3);
    for trial in 0..2_000 {
        let n = 1 + trial % 13;
        let scale = [1.0, 10.0, 300.0, 1000.0][trial % 4];
        let z: Vec<f64> = (0..n).map(|_| g.range(-scale, scale)).collect();
        let mut reference = z.clone();
        softmax_in_place(SimdLevel::SCALAR, &mut reference);
        let sum: f64 = reference.iter().sum();
        ensure!((sum - 1.0).abs() < 1e-12, "{z:?} sums to {sum}");
        ensure!(reference.iter().all(|p| p.is_finite() && *p >= 0.0));
        for &level in levels {
            let mut p = z.clone();
            softmax_in_place(level, &mut p);
            ensure!(p.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()), "{level} softmax {z:?}");
        }
    }
    Ok(())
}

pub fn weighted_sums_match_scalar_bits_for_every_width(levels: &[SimdLevel]) -> Result<(), String> {
    let mut g = Gen(4);
    for width in [1usize, 2, 3, 4, 5, 7, 8, 10, 15, 16, 17, 31, 32, 33, 40, 64, 100, 111, 128, 200] {
        for rows in [0usize, 1, 10, 784] {
            let stride = width + (g.next() % 3) as usize;
            let (matrix, idx, val) = sparse_case(&mut g, rows, width, stride);
            let mut reference = vec![f64::NAN; width];
            weighted_sums_scalar(&mut reference, &matrix, stride, &idx, &val);
            ensure!(reference.iter().all(|v| v.is_finite()), "scalar width {width} rows {rows} read the padding");
            for &level in levels {
                let mut out = vec![f64::NAN; width];
                weighted_sums(level, &mut out, &matrix, stride, &idx, &val);
                ensure!(
                    out.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{level} width {width} rows {rows}"
                );
            }
        }
    }
    Ok(())
}

/// `pixel_sums` (the forward pass straight from an image's pixels, in a band of rows) equals the
/// scalar gather of the converted values over the renumbered rows, started or continued, at every
/// level: widths around each block size, pixel lists longer than one conversion stretch. So does
/// the trainer's `pixel_sums_in_rows`, which also shows it every pixel, once, in order.
pub fn pixel_sums_equal_the_gather_of_converted_pixels(levels: &[SimdLevel]) -> Result<(), String> {
    use mnistlearn_core::math::dot::{pixel_sums, pixel_sums_in_rows, weighted_sums_continue_scalar};
    use mnistlearn_core::nn::PIXEL_VALUE;
    let mut g = Gen(11);
    for width in [1usize, 3, 7, 8, 9, 31, 32, 33, 64, 65, 100, 128, 200] {
        for (first_row, rows) in [(0usize, 0usize), (0, 1), (5, 40), (300, 484), (0, 784)] {
            let stride = width + (g.next() % 3) as usize;
            let matrix: Vec<f64> = (0..rows * stride).map(|_| g.range(-0.5, 0.5)).collect();
            let idx: Vec<u16> = (0..rows).filter(|_| g.next() % 3 != 0).map(|k| (first_row + k) as u16).collect();
            let bytes: Vec<u8> = idx.iter().map(|_| 1 + (g.next() % 255) as u8).collect();
            let local: Vec<u16> = idx.iter().map(|&k| k - first_row as u16).collect();
            let val: Vec<f64> = bytes.iter().map(|&b| PIXEL_VALUE[b as usize]).collect();
            let start: Vec<f64> = (0..width).map(|_| g.range(-1.0, 1.0)).collect();
            for carry in [false, true] {
                let mut reference = if carry { start.clone() } else { vec![0.0; width] };
                weighted_sums_continue_scalar(&mut reference, &matrix, stride, &local, &val);
                for &level in levels {
                    let mut out = if carry { start.clone() } else { vec![f64::NAN; width] };
                    pixel_sums(level, &mut out, &matrix, first_row, stride, &idx, &bytes, &PIXEL_VALUE, carry);
                    ensure!(
                        out.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{level} width {width} rows {first_row}+{rows} carry {carry}"
                    );
                    let mut out = if carry { start.clone() } else { vec![f64::NAN; width] };
                    let mut seen = Vec::new();
                    // SAFETY: every index lies in rows `first_row..first_row + rows` of `matrix`,
                    // whose rows hold `stride >= width` values.
                    unsafe {
                        pixel_sums_in_rows(
                            level,
                            &mut out,
                            &matrix,
                            first_row,
                            stride,
                            &idx,
                            &bytes,
                            &PIXEL_VALUE,
                            carry,
                            |k, b| seen.push((k as u16, b)),
                        )
                    };
                    ensure!(
                        out.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "in rows: {level} width {width} rows {first_row}+{rows} carry {carry}"
                    );
                    ensure!(
                        seen.iter().copied().eq(idx.iter().copied().zip(bytes.iter().copied())),
                        "in rows: {level} width {width}: the pixels shown"
                    );
                }
            }
        }
    }
    Ok(())
}

pub fn sgd_step_matches_scalar_bits_for_power_of_two_and_other_batches(levels: &[SimdLevel]) -> Result<(), String> {
    let mut g = Gen(6);
    for n in [1usize, 3, 7, 32, 33, 100, 1 << 20] {
        for len in [1usize, 2, 5, 32, 33] {
            let w: Vec<f64> = (0..len).map(|_| g.range(-1.0, 1.0)).collect();
            let grads: Vec<f64> =
                (0..len).map(|_| g.range(-50.0, 50.0) * [1.0, 1e-310][(g.next() % 2) as usize]).collect();
            let (mut w_ref, mut g_ref) = (w.clone(), grads.clone());
            sgd_step_scalar(&mut w_ref, &mut g_ref, 0.1, BatchScale::new(n));
            // The canonical definition is a division.
            for i in 0..len {
                ensure_eq!(w_ref[i].to_bits(), (w[i] - 0.1 * (grads[i] / n as f64)).to_bits());
            }
            ensure!(g_ref.iter().all(|&v| v == 0.0));
            for &level in levels {
                let (mut w2, mut g2) = (w.clone(), grads.clone());
                sgd_step(level, &mut w2, &mut g2, 0.1, BatchScale::new(n));
                ensure!(w2.iter().zip(&w_ref).all(|(a, b)| a.to_bits() == b.to_bits()), "{level} n {n} len {len}");
                ensure!(g2.iter().all(|&v| v == 0.0));
            }
        }
    }
    Ok(())
}

pub fn bias_sums_match_the_rows_added_one_by_one(levels: &[SimdLevel]) -> Result<(), String> {
    use mnistlearn_core::nn::backward::{add_assign, bias_sums};
    let mut g = Gen(12);
    // A thread's lanes of h = 32, all of them, lanes past the last block of eight, a block
    // that starts mid-line, no rows at all, one lane.
    for (h, rows, lanes) in [
        (32usize, 32usize, 0..16),
        (32, 32, 16..32),
        (32, 32, 0..32),
        (40, 33, 3..37),
        (128, 5, 64..128),
        (7, 3, 0..7),
        (10, 0, 2..9),
        (1, 4, 0..1),
    ] {
        // Signed zeros, subnormals and large values, so that any other order of adds would show.
        let delta: Vec<f64> = (0..rows * h)
            .map(|_| match g.next() % 6 {
                0 => -0.0,
                1 => g.range(-1.0, 1.0) * 1e-310,
                2 => g.range(-1e16, 1e16),
                _ => g.range(-1.0, 1.0),
            })
            .collect();
        let mut expected = vec![0.0; lanes.len()];
        for row in delta.chunks_exact(h) {
            add_assign(&mut expected, &row[lanes.clone()]);
        }
        for &level in levels {
            let mut got = vec![f64::NAN; lanes.len()];
            bias_sums(level, &mut got, &delta, h, lanes.clone());
            ensure!(
                got.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{level} h {h} rows {rows} lanes {lanes:?}: {got:?} != {expected:?}"
            );
        }
    }
    Ok(())
}

pub fn hidden_step_matches_scalar_bits_and_the_unfused_definition(levels: &[SimdLevel]) -> Result<(), String> {
    use mnistlearn_core::nn::hidden_step::{hidden_step, hidden_step_scalar, LitPixels};
    use mnistlearn_core::nn::PIXEL_VALUE;
    let mut g = Gen(8);
    // Also an odd number of rows, lanes past the last 32-lane block, and two blocks per row.
    for (h, batch, rows) in [
        (32usize, 32usize, 50usize),
        (32, 32, 51),
        // Rows across several 64-row blocks of the mask builders.
        (32, 32, 130),
        (40, 64, 33),
        (64, 20, 9),
        (7, 5, 20),
        (33, 70, 30),
        (16, 1, 10),
        (10, 64, 12),
        // AVX-512's blocks: 64 lanes, 32, 8, then the AVX2 and SSE2 tails and a single lane.
        (111, 33, 14),
        (128, 32, 11),
        // AVX-512's lane blocks of 128 with their deltas side by side: two blocks and 44 lanes
        // more (halved: one block and 22), two mask words, a batch of one.
        (300, 33, 13),
        (256, 70, 9),
        (128, 1, 5),
    ] {
        let weights: Vec<f64> = (0..rows * h).map(|_| g.range(-0.1, 0.1)).collect();
        let mut delta: Vec<f64> = (0..batch * h).map(|_| g.range(-0.01, 0.01)).collect();
        if rows == 51 {
            // Infinite deltas: a step that added a sample's product at a row it does not light
            // (∞·0 = NaN, where `block_pair_avx512` adds 0's products of finite deltas) would
            // put NaN where the definition keeps the weight.
            delta[3 * h + 5] = f64::INFINITY;
            delta[17 * h + 30] = f64::NEG_INFINITY;
        }
        // pixels[s][row]: about a third lit.
        let pixels: Vec<Vec<u8>> = (0..batch)
            .map(|_| (0..rows).map(|_| if g.next() % 3 == 0 { (1 + g.next() % 255) as u8 } else { 0 }).collect())
            .collect();
        for n in [batch, batch.saturating_sub(1).max(1)] {
            // The last batch of an epoch may be short: only its first n samples have deltas.
            let record = |first_row: usize| {
                let mut lit = LitPixels::new(first_row..first_row + rows, batch);
                for (s, px) in pixels.iter().enumerate().take(n) {
                    let index: Vec<u16> = (0..rows).filter(|&k| px[k] != 0).map(|k| (first_row + k) as u16).collect();
                    let bytes: Vec<u8> = px.iter().copied().filter(|&b| b != 0).collect();
                    lit.record(s, &index, &bytes);
                }
                lit
            };
            let scale = BatchScale::new(n);
            // The definition, unfused: gradient sums in sample order, then w − lr·(g/n).
            let mut expected = weights.clone();
            for row in 0..rows {
                for j in 0..h {
                    let mut acc = 0.0;
                    let mut any = false;
                    for (s, px) in pixels.iter().enumerate().take(n) {
                        let p = px[row];
                        if p != 0 {
                            acc = acc + delta[s * h + j] * PIXEL_VALUE[p as usize];
                            any = true;
                        }
                    }
                    if any {
                        expected[row * h + j] = expected[row * h + j] - 0.1 * (acc / n as f64);
                    }
                }
            }
            let mut reference = weights.clone();
            let mut lit = record(0);
            hidden_step_scalar(&mut reference, h, 0..h, &mut lit, &delta[..n * h], 0.1, scale);
            ensure!(
                reference.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()),
                "scalar h {h} batch {batch} n {n}"
            );
            ensure!(lit.is_clear(), "the step leaves the masks clear for the next batch");
            for &level in levels {
                // Whole rows, and the rows split into lane bands as threads split them; the
                // rows may be a band that starts past pixel 0.
                for bands in [vec![0..h, h..h], vec![0..h / 2, h / 2..h]] {
                    let mut w = weights.clone();
                    for band in bands {
                        let mut lit = record(100);
                        hidden_step(level, &mut w, h, band, &mut lit, &delta[..n * h], 0.1, scale);
                        ensure!(lit.is_clear());
                    }
                    ensure!(
                        w.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{level} h {h} batch {batch} n {n}"
                    );
                }
            }
        }
    }
    Ok(())
}

pub fn output_step_matches_scalar_bits_and_the_definition(levels: &[SimdLevel]) -> Result<(), String> {
    use mnistlearn_core::nn::output_step::{output_step_scalar, OutputStep};
    use mnistlearn_core::nn::OUTPUTS;
    let mut g = Gen(10);
    // AVX-512's blocks of eight hidden units, and the units past the last block (7, 13, 33).
    for (h, batch) in [(32usize, 32usize), (8, 5), (7, 3), (13, 33), (33, 64), (128, 10), (1, 1)] {
        let w: Vec<f64> = (0..OUTPUTS * h).map(|_| g.range(-0.4, 0.4)).collect();
        let b: Vec<f64> = (0..OUTPUTS).map(|_| g.range(-0.1, 0.1)).collect();
        let hidden: Vec<f64> = (0..batch * h).map(|_| g.range(0.0, 1.0)).collect();
        // delta_out rows as softmax leaves them: one entry p − 1, the rest p (some tiny).
        let delta: Vec<[f64; OUTPUTS]> = (0..batch)
            .map(|_| std::array::from_fn(|o| g.range(-1.0, 1.0) * [1.0, 1e-300][(o % 7 == 3) as usize]))
            .collect();
        for n in [batch, batch.saturating_sub(1).max(1)] {
            let scale = BatchScale::new(n);
            let (hidden, delta) = (&hidden[..n * h], &delta[..n]);
            // The definition: each gradient a sum over the samples in order, then w − lr·(g/n).
            let (mut w_def, mut b_def) = (w.clone(), b.clone());
            for o in 0..OUTPUTS {
                for j in 0..h {
                    let mut acc = 0.0;
                    for s in 0..n {
                        acc = acc + hidden[s * h + j] * delta[s][o];
                    }
                    w_def[o * h + j] = w_def[o * h + j] - 0.1 * (acc / n as f64);
                }
                let mut acc = 0.0;
                for d in delta {
                    acc = acc + d[o];
                }
                b_def[o] = b_def[o] - 0.1 * (acc / n as f64);
            }
            let (mut w_ref, mut b_ref) = (w.clone(), b.clone());
            output_step_scalar(&mut w_ref, &mut b_ref, hidden, delta, 0.1, scale);
            ensure!(
                w_ref.iter().chain(&b_ref).zip(w_def.iter().chain(&b_def)).all(|(a, b)| a.to_bits() == b.to_bits()),
                "scalar h {h} n {n}"
            );
            for &level in levels {
                let mut step = OutputStep::new(h, batch);
                let (mut w2, mut b2) = (w.clone(), b.clone());
                // Twice over the same scratch: a second batch must not see the first.
                for _ in 0..2 {
                    step.step(level, &mut w2, &mut b2, hidden, delta, 0.1, scale);
                }
                let (mut w_twice, mut b_twice) = (w_ref.clone(), b_ref.clone());
                output_step_scalar(&mut w_twice, &mut b_twice, hidden, delta, 0.1, scale);
                ensure!(
                    w2.iter().chain(&b2).zip(w_twice.iter().chain(&b_twice)).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{level} h {h} batch {batch} n {n}"
                );
            }
        }
    }
    Ok(())
}

pub fn a_sum_continued_in_stretches_equals_the_whole_sum(levels: &[SimdLevel]) -> Result<(), String> {
    // The trainer's pipeline hands a partial sum from one band of rows to the next.
    use mnistlearn_core::math::dot::weighted_sums_continue;
    let mut g = Gen(9);
    for width in [1usize, 2, 5, 10, 17, 32, 33] {
        let stride = width;
        let (matrix, idx, val) = sparse_case(&mut g, 784, width, stride);
        let mut whole = vec![0.0; width];
        weighted_sums_scalar(&mut whole, &matrix, stride, &idx, &val);
        for &level in levels {
            for cuts in [vec![], vec![idx.len() / 2], vec![1, idx.len() / 3, idx.len() / 2], vec![0, idx.len()]] {
                let mut out = vec![f64::NAN; width];
                let mut from = 0;
                let mut first = true;
                for &cut in cuts.iter().chain(std::iter::once(&idx.len())) {
                    let cut = cut.min(idx.len()).max(from);
                    if first {
                        weighted_sums(level, &mut out, &matrix, stride, &idx[from..cut], &val[from..cut]);
                        first = false;
                    } else {
                        weighted_sums_continue(level, &mut out, &matrix, stride, &idx[from..cut], &val[from..cut]);
                    }
                    from = cut;
                }
                ensure!(
                    out.iter().zip(&whole).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{level} width {width} cuts {cuts:?}"
                );
            }
        }
    }
    Ok(())
}

pub fn finishing_samples_in_groups_matches_the_per_sample_scalar_code(levels: &[SimdLevel]) -> Result<(), String> {
    use mnistlearn_core::math::softmax::cross_entropy;
    use mnistlearn_core::nn::backward::backward_deltas;
    use mnistlearn_core::nn::finish::{finish_samples, SampleOutputs};
    use mnistlearn_core::nn::forward::forward_output;
    use mnistlearn_core::nn::{argmax, parameter_count, Network};
    let mut g = Gen(9);
    // h = 32 (the default, four-sample groups), 24 (groups on AVX-512 too: three registers),
    // 12 (groups on AVX2 only: h % 8 ≠ 0), 7 (no groups: h % 4 ≠ 0).
    // Each width twice: random weights, then output units 3 and 7 made twins (the same weights
    // and a bias that makes them the likeliest), so that `argmax` meets exact ties, which it
    // must break toward the first.
    for (h, twins) in [32usize, 24, 12, 7].into_iter().flat_map(|h| [(h, false), (h, true)]) {
        let mut values: Vec<f64> = (0..parameter_count(h)).map(|_| g.range(-0.5, 0.5)).collect();
        if twins {
            let (w_output, b_output) = (785 * h, 795 * h);
            values.copy_within(w_output + 3 * h..w_output + 4 * h, w_output + 7 * h);
            (values[b_output + 3], values[b_output + 7]) = (3.0, 3.0);
        }
        let net = Network::from_file_order(h, &values);
        let params = net.params();
        for n in 0..10usize {
            let labels: Vec<u8> = (0..n).map(|_| (g.next() % 10) as u8).collect();
            // Hidden sums as phase 1 leaves them, some large enough to saturate σ.
            let sums: Vec<f64> =
                (0..n * h).map(|i| if i % 11 == 0 { g.range(-40.0, 40.0) } else { g.range(-4.0, 4.0) }).collect();
            // The reference: the per-sample scalar code, written out.
            let mut hidden_ref = sums.clone();
            let mut delta_ref = vec![0.0; n * h];
            let mut out_ref = vec![SampleOutputs::default(); n];
            for s in 0..n {
                let hidden = &mut hidden_ref[s * h..(s + 1) * h];
                // weights.bin order: 784·H hidden weights, then the H hidden biases.
                for (z, b) in hidden.iter_mut().zip(&values[784 * h..785 * h]) {
                    *z = *z + b;
                }
                hidden.iter_mut().for_each(|z| *z = sigmoid(*z));
                let out = &mut out_ref[s];
                forward_output(SimdLevel::SCALAR, &params, hidden, &mut out.probabilities);
                let label = labels[s] as usize;
                out.loss = cross_entropy(&out.probabilities, label);
                out.correct = argmax(&out.probabilities) == label;
                backward_deltas(
                    SimdLevel::SCALAR,
                    &params,
                    hidden,
                    &out.probabilities,
                    label,
                    &mut out.delta_out,
                    &mut delta_ref[s * h..(s + 1) * h],
                );
            }
            for &level in levels {
                let (mut hidden, mut delta, mut out) =
                    (sums.clone(), vec![0.0; n * h], vec![SampleOutputs::default(); n]);
                finish_samples(level, &params, &labels, &mut hidden, &mut delta, &mut out);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                if twins && n > 0 {
                    // The twins tie, and win: a ≥ that should be a > would predict 7.
                    let p = &out_ref[0].probabilities;
                    ensure!(p[3] == p[7] && argmax(p) == 3, "h {h}: twins {} and {} should tie and win", p[3], p[7]);
                }
                ensure_eq!(bits(&hidden), bits(&hidden_ref), "{level} h {h} n {n}: activations");
                ensure_eq!(bits(&delta), bits(&delta_ref), "{level} h {h} n {n}: hidden deltas");
                for (a, b) in out.iter().zip(&out_ref) {
                    ensure_eq!(bits(&a.probabilities), bits(&b.probabilities), "{level} h {h} n {n}: probabilities");
                    ensure_eq!(bits(&a.delta_out), bits(&b.delta_out), "{level} h {h} n {n}: output deltas");
                    ensure_eq!((a.loss.to_bits(), a.correct), (b.loss.to_bits(), b.correct), "{level} h {h} n {n}");
                }
            }
        }
    }
    Ok(())
}

/// Fixed inputs printed at 17 significant digits (golden/kernel_table.snap): any change to a
/// kernel's arithmetic shows up there as a readable diff.
pub fn kernel_table() -> String {
    let mut out = String::new();
    for x in [-745.0, -100.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 1.0, 2.0, 10.0, 100.0, 709.0] {
        out.push_str(&format!("exp({x:e}) = {:.16e}\n", exp(x)));
    }
    for x in [5e-324, 1e-300, 1e-8, 0.5, 0.7071067811865476, 1.0, 1.0000001, 2.0, 10.0, 1e300] {
        out.push_str(&format!("ln({x:e}) = {:.16e}\n", ln(x)));
    }
    for x in [-40.0, -5.0, -1.0, 0.0, 1.0, 5.0, 40.0] {
        out.push_str(&format!("sigmoid({x:e}) = {:.16e}\n", sigmoid(x)));
    }
    let mut p = [1.0, 2.0, 3.0, -1.0, 0.0, 10.0, -10.0, 5.5, 4.25, 0.125];
    softmax_in_place(SimdLevel::SCALAR, &mut p);
    for (i, v) in p.iter().enumerate() {
        out.push_str(&format!("softmax[{i}] = {v:.16e}\n"));
    }
    out
}

/// What a run leaves that must match: the epoch log (loss bits, correct count) and every
/// parameter's bits in weights.bin order.
fn run(config: &TrainConfig, fast: bool, data: &Dataset) -> (Vec<(u64, usize)>, Vec<u64>) {
    let mut log = Vec::new();
    let mut on_epoch = |e: &EpochReport| log.push((e.loss.to_bits(), e.correct));
    let net = if fast { train(config, data, &mut on_epoch) } else { train_reference(config, data, &mut on_epoch) };
    (log, net.to_file_order().iter().map(|v| v.to_bits()).collect())
}

/// The fast trainer equals the reference at every level of `levels` and thread count of
/// `threads`, for the default recipe and for shapes that exercise the awkward paths (a hidden
/// size that is not a multiple of the SIMD width, a batch that is not a power of two and does
/// not divide the set, so the last batch is short).
pub fn the_fast_trainer_equals_the_reference(
    data: &Dataset,
    levels: &[SimdLevel],
    threads: std::ops::RangeInclusive<usize>,
) -> Result<(), String> {
    let shapes = [
        // (epochs, batch, hidden, lr, seed)
        (2, 32, 32, 0.1, 1),
        (1, 7, 12, 0.25, 5),
        (1, 50, 40, 0.05, 9),
        // Wide rows (AVX-512 steps them in blocks of 128 lanes, then the 8 past the last block)
        // and a batch of more than 64 (two words of sample masks).
        (1, 70, 136, 0.1, 3),
    ];
    for (epochs, batch, hidden, lr, seed) in shapes {
        let base = TrainConfig { epochs, batch, hidden, lr, seed, threads: 1, level: SimdLevel::SCALAR };
        let expected = run(&base, false, data);
        ensure!(expected.0.iter().all(|&(loss, correct)| f64::from_bits(loss).is_finite() && correct > 0));
        for &level in levels {
            for threads in threads.clone() {
                let config = TrainConfig { threads, level, ..base.clone() };
                let got = run(&config, true, data);
                ensure!(
                    got.0 == expected.0,
                    "{level}, {threads} threads, batch {batch}, hidden {hidden}: epoch log differs"
                );
                let first = got.1.iter().zip(&expected.1).position(|(a, b)| a != b);
                ensure!(
                    first.is_none(),
                    "{level}, {threads} threads, batch {batch}, hidden {hidden}: parameter {first:?} differs"
                );
            }
        }
    }
    Ok(())
}
