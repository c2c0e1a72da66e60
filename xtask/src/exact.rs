//! Correctly rounded `exp` and `ln`, the reference of the book's ulp figures.
//!
//! Why not `f64::exp`: std calls the platform's libm, and libms differ in the last bit — glibc
//! alone picks an FMA or a non-FMA `exp` at run time, by CPU — so figures drawn against it would
//! be different bytes on another machine and `verify` would fail there. The correctly rounded
//! result is one double for every input, on every machine, and it is the honest reference: the
//! figure then shows how far our functions are from the truth, not from another approximation.
//!
//! How: double-double arithmetic (a value is the unevaluated sum `hi + lo` of two doubles, about
//! 106 significant bits) built from `+`, `-`, `*` and `/` alone, which IEEE 754 rounds the same
//! everywhere, with no libm call and no FMA. exp and ln are computed to a relative error below
//! 2^-96, then rounded to the nearest double. When the exact value lies so close to a midpoint
//! between two doubles that this error could decide the rounding, the answer is `None` rather
//! than a guess (for random inputs, about one in 10^10).

/// An unevaluated sum `hi + lo` with `|lo| ≤ ulp(hi) / 2`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Dd {
    hi: f64,
    lo: f64,
}

/// ln 2 to 106 bits: the double nearest ln 2 (0x3FE62E42FEFA39EF), and the double nearest the
/// remainder (0x3C7ABC9E3B39803F).
const LN2: Dd = Dd { hi: std::f64::consts::LN_2, lo: 2.3190468138462996e-17 };

impl Dd {
    const ONE: Dd = Dd { hi: 1.0, lo: 0.0 };

    fn new(x: f64) -> Dd {
        Dd { hi: x, lo: 0.0 }
    }

    fn neg(self) -> Dd {
        Dd { hi: -self.hi, lo: -self.lo }
    }

    fn add(self, b: Dd) -> Dd {
        let s = two_sum(self.hi, b.hi);
        let t = two_sum(self.lo, b.lo);
        let s = quick_two_sum(s.hi, s.lo + t.hi);
        quick_two_sum(s.hi, s.lo + t.lo)
    }

    fn sub(self, b: Dd) -> Dd {
        self.add(b.neg())
    }

    fn mul(self, b: Dd) -> Dd {
        let p = two_prod(self.hi, b.hi);
        quick_two_sum(p.hi, p.lo + (self.hi * b.lo + self.lo * b.hi))
    }

    fn mul_f64(self, b: f64) -> Dd {
        let p = two_prod(self.hi, b);
        quick_two_sum(p.hi, p.lo + self.lo * b)
    }

    /// Long division: three quotient digits, each the double quotient of what is left.
    fn div(self, b: Dd) -> Dd {
        let q1 = self.hi / b.hi;
        let r = self.sub(b.mul_f64(q1));
        let q2 = r.hi / b.hi;
        let r = r.sub(b.mul_f64(q2));
        let q3 = r.hi / b.hi;
        quick_two_sum(q1, q2).add(Dd::new(q3))
    }
}

/// `a + b` exactly, as the rounded sum and its error (Knuth).
fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let b_virtual = s - a;
    let a_virtual = s - b_virtual;
    Dd { hi: s, lo: (a - a_virtual) + (b - b_virtual) }
}

/// `a + b` exactly when `|a| ≥ |b|` (Dekker).
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd { hi: s, lo: b - (s - a) }
}

/// `a` as the sum of two 26-bit halves (Veltkamp), so their products are exact.
fn split(a: f64) -> (f64, f64) {
    let t = 134_217_729.0 * a; // 2^27 + 1
    let hi = t - (t - a);
    (hi, a - hi)
}

/// `a · b` exactly, as the rounded product and its error (Dekker); no FMA, so no libm `fma`.
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    Dd { hi: p, lo: ((ah * bh - p) + ah * bl + al * bh) + al * bl }
}

/// 2^e for every e a double reaches, subnormal powers included.
pub fn pow2(e: i32) -> f64 {
    assert!((-1074..=1023).contains(&e), "2^{e} is not a finite non-zero double");
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (e + 1074))
    }
}

/// The binary exponent of a normal double: `floor(log2 |x|)`.
fn exponent(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// The double nearest `m · 2^k` (`m` a positive double-double of normal magnitude), or `None`
/// when it lies too close to a midpoint to decide. Works on the integer grid of the result:
/// `m · 2^k = u · 2^e`, with `2^e` the result's ulp, so rounding is rounding `u` to an integer.
fn round_scaled(m: Dd, k: i32) -> Option<f64> {
    let mut e = (exponent(m.hi) + k - 52).max(-1074);
    let mut u = m.mul_f64(pow2(k - e));
    if e > -1074 && u.hi == 4_503_599_627_370_496.0 && u.lo < 0.0 {
        // Just below a power of two: one binade lower, so a finer grid.
        e -= 1;
        u = m.mul_f64(pow2(k - e));
    }
    let whole = u.hi.round();
    let fraction = (u.hi - whole) + u.lo;
    // Measured against mpmath at 400 bits over 30,000 random inputs, the double-doubles' worst
    // relative error is 2^-96.6 for exp and 2^-104 for ln: at most 2^-43.6 of a unit of u
    // (u < 2^53). Two hundred times that is still inside this margin.
    const MARGIN: f64 = 1.0 / (1u64 << 36) as f64;
    if (fraction.abs() - 0.5).abs() < MARGIN {
        return None;
    }
    let n = whole
        + if fraction > 0.5 {
            1.0
        } else if fraction < -0.5 {
            -1.0
        } else {
            0.0
        };
    Some(n * pow2(e))
}

/// Signed distance from `reference` to `ours` in units in the last place (both finite).
pub fn ulp_diff(ours: f64, reference: f64) -> i64 {
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 {
            i64::MIN - bits
        } else {
            bits
        }
    };
    key(ours) - key(reference)
}

/// The double nearest e^t, for t in [−745, 709.7] (finite, non-zero results), or `None` if
/// undecidable at this precision.
pub fn exp(t: f64) -> Option<f64> {
    assert!((-745.0..=709.7).contains(&t), "exact::exp({t}): outside [−745, 709.7]");
    let (m, k) = exp_parts(t);
    round_scaled(m, k)
}

/// e^t as `m · 2^k`, m a double-double in [√½, √2].
fn exp_parts(t: f64) -> (Dd, i32) {
    // t = k·ln 2 + r with |r| ≤ ln 2 / 2, then r = 2^10·s: e^t = 2^k · (e^s)^(2^10).
    let k = (t / LN2.hi).round();
    let r = Dd::new(t).sub(LN2.mul_f64(k));
    let s = r.mul_f64(1.0 / 1024.0);
    // e^s − 1 by its Taylor series, s·(1 + s/2·(1 + s/3·(1 + …))); with |s| < 2^-11, ten terms
    // leave an error below 2^-120.
    let mut p = Dd::ONE;
    for n in (2..=10).rev() {
        p = Dd::ONE.add(s.mul(p).div(Dd::new(n as f64)));
    }
    let mut e_minus_1 = s.mul(p);
    // Squaring as (1 + x)^2 − 1 = 2x + x^2 keeps x's small relative error instead of 1 + x's.
    for _ in 0..10 {
        e_minus_1 = e_minus_1.mul_f64(2.0).add(e_minus_1.mul(e_minus_1));
    }
    (Dd::ONE.add(e_minus_1), k as i32)
}

/// The double nearest ln x, for every positive finite x (subnormals included), or `None` if
/// undecidable at this precision.
pub fn ln(x: f64) -> Option<f64> {
    assert!(x > 0.0 && x.is_finite(), "exact::ln({x}): not a positive finite double");
    if x == 1.0 {
        return Some(0.0);
    }
    let value = ln_dd(x);
    if value.hi < 0.0 {
        round_scaled(value.neg(), 0).map(|r| -r)
    } else {
        round_scaled(value, 0)
    }
}

/// ln x as a double-double, x positive, finite and not 1.
fn ln_dd(x: f64) -> Dd {
    // x = m · 2^k with m in [√½, √2).
    let (scaled, mut k) = if x < pow2(-1022) { (x * pow2(54), -54) } else { (x, 0) };
    k += exponent(scaled);
    let mut m = f64::from_bits((scaled.to_bits() & ((1 << 52) - 1)) | (1023 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        k += 1;
    }
    // ln m = 2·atanh(z) = 2·(z + z³/3 + z⁵/5 + …), z = (m − 1)/(m + 1), |z| < 0.1716: 25 terms
    // leave an error below 2^-120.
    let z = Dd::new(m - 1.0).div(two_sum(m, 1.0));
    let z2 = z.mul(z);
    let mut p = Dd::ONE.div(Dd::new(49.0));
    for j in (0..24).rev() {
        p = Dd::ONE.div(Dd::new((2 * j + 1) as f64)).add(z2.mul(p));
    }
    let ln_m = z.mul(p).mul_f64(2.0);
    LN2.mul_f64(k as f64).add(ln_m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulp_diff_counts_representable_doubles_between() {
        assert_eq!(ulp_diff(1.0, 1.0), 0);
        assert_eq!(ulp_diff(f64::from_bits(1.0f64.to_bits() + 1), 1.0), 1);
        assert_eq!(ulp_diff(1.0, f64::from_bits(1.0f64.to_bits() + 2)), -2);
        assert_eq!(ulp_diff(f64::from_bits(1), -0.0), 1);
    }

    /// Inputs and their correctly rounded results, as bit patterns, from mpmath at 300 bits:
    /// both ends of the domains, subnormal results and arguments, a result just below a power of
    /// two, and ln near 1.
    #[test]
    fn known_values_bit_for_bit() {
        for (t, expected) in EXP_CASES {
            let got = exp(f64::from_bits(*t)).expect("decidable");
            assert_eq!(
                got.to_bits(),
                *expected,
                "exp({:e}) = {got:e}, expected {:e}",
                f64::from_bits(*t),
                f64::from_bits(*expected)
            );
        }
        for (x, expected) in LN_CASES {
            let got = ln(f64::from_bits(*x)).expect("decidable");
            assert_eq!(
                got.to_bits(),
                *expected,
                "ln({:e}) = {got:e}, expected {:e}",
                f64::from_bits(*x),
                f64::from_bits(*expected)
            );
        }
    }

    /// A libm is not correctly rounded but is within an ulp everywhere; glibc's, musl's and
    /// every other serious one agree with the correctly rounded result almost always.
    #[test]
    fn std_is_within_one_ulp_and_almost_always_equal() {
        let (mut equal, mut total) = (0, 0);
        for i in 0..20_000 {
            let t = -745.0 + 1454.7 * (i as f64 + 0.5) / 20_000.0;
            let x = (1.0 + (i as f64 * 0.618_033_988_749_894_9).fract()) * pow2(i % 2098 - 1074);
            for (name, input, exact, std) in [("exp", t, exp(t), t.exp()), ("ln", x, ln(x), x.ln())] {
                let exact = exact.expect("decidable");
                assert!(ulp_diff(exact, std).abs() <= 1, "{name}({input:e}): {exact:e} vs std {std:e}");
                equal += (exact == std) as usize;
                total += 1;
            }
        }
        assert!(equal * 100 >= total * 99, "{equal} of {total} equal to std");
    }

    /// e^a · e^b = e^(a+b) and ln x + ln y = ln(xy), on the double-doubles before rounding, to
    /// 2^-90: a slip anywhere (a dropped low part, a short series, a wrong constant) costs far more.
    #[test]
    fn the_double_doubles_keep_exp_and_ln_identities_to_90_bits() {
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let relative = |a: Dd, b: Dd| a.sub(b).hi.abs() / b.hi.abs();
        for _ in 0..5_000 {
            // Multiples of 2^-30 below 2^9 in size: a + b is exact.
            let a = (next() % (700 << 30)) as f64 / (1u64 << 30) as f64 - 350.0;
            let b = (next() % (700 << 30)) as f64 / (1u64 << 30) as f64 - 350.0;
            let ((ma, ka), (mb, kb), (mab, kab)) = (exp_parts(a), exp_parts(b), exp_parts(a + b));
            let product = ma.mul(mb).mul_f64(pow2(ka + kb - kab));
            assert!(relative(product, mab) < pow2(-90), "exp({a}) · exp({b}) vs exp({})", a + b);
            // 26-bit significands: x · y is exact.
            let x = ((next() >> 38) | 1 << 25) as f64 * pow2((next() % 900) as i32 - 475);
            let y = ((next() >> 38) | 1 << 25) as f64 * pow2((next() % 900) as i32 - 475);
            if x * y == 1.0 || x == 1.0 || y == 1.0 {
                continue;
            }
            let (lx, ly, lxy) = (ln_dd(x), ln_dd(y), ln_dd(x * y));
            let scale = lx.hi.abs() + ly.hi.abs();
            assert!(lx.add(ly).sub(lxy).hi.abs() / scale < pow2(-90), "ln {x:e} + ln {y:e} vs ln {:e}", x * y);
        }
    }

    #[test]
    fn pow2_covers_every_binade() {
        assert_eq!(pow2(-1074), f64::from_bits(1));
        assert_eq!(pow2(-1023), f64::MIN_POSITIVE / 2.0);
        assert_eq!(pow2(0), 1.0);
        assert_eq!(pow2(1023), f64::MAX / (2.0 - f64::EPSILON));
    }

    const EXP_CASES: &[(u64, u64)] = &[
        (0xc087480000000000, 0x0000000000000001), // -745.0
        (0xc08743851eb851ec, 0x0000000000000001), // -744.44
        (0xc0862c0000000000, 0x00054e90c99fb878), // -709.5
        (0xc086232bdd7abcd2, 0x001000000000007c), // -708.3964185322641
        (0x81a56e1fc2f8f359, 0x3ff0000000000000), // -1e-300
        (0x3cd203af9ee75616, 0x3ff0000000000005), // 1e-15
        (0x3fe0000000000000, 0x3ffa61298e1e069c), // 0.5
        (0x3fe62e42fefa39ef, 0x4000000000000000), // 0.6931471805599453
        (0x3ff0000000000000, 0x4005bf0a8b145769), // 1.0
        (0x4059000000000000, 0x48f3494a9b171bf5), // 100.0
        (0x40862d999999999a, 0x7fed75ae7a50ee14), // 709.7
    ];
    const LN_CASES: &[(u64, u64)] = &[
        (0x0000000000000001, 0xc0874385446d71c3), // 5e-324
        (0x000123456789abcd, 0xc0863851c6ee5d29), // 1.58227474382734e-309
        (0x0010000000000000, 0xc086232bdd7abcd2), // 2.2250738585072014e-308
        (0x3fe0000000000000, 0xbfe62e42fefa39ef), // 0.5
        (0x3fe6a09e667f3bcd, 0xbfd62e42fefa39ee), // 0.7071067811865476
        (0x3ff6a09e667f3bcd, 0x3fd62e42fefa39f0), // 1.4142135623730951
        (0x3fefffffffffffff, 0xbca0000000000000), // 0.9999999999999999
        (0x3ff0000000000001, 0x3cafffffffffffff), // 1.0000000000000002
        (0x4000000000000000, 0x3fe62e42fefa39ef), // 2.0
        (0x4024000000000000, 0x40026bb1bbb55516), // 10.0
        (0x7e37e43c8800759c, 0x4085963447f87fb5), // 1e+300
        (0x7fefffffffffffff, 0x40862e42fefa39ef), // 1.7976931348623157e+308
    ];
}
