//! Digits from pen strokes, drawn the way MNIST's digits were made.
//!
//! The drawing page sends the points of each stroke rather than its pixels, so the size the
//! digit was drawn at, and the width of the page's pen, do not reach the network: a digit drawn
//! 40 pixels tall in a corner gives the same 28×28 as the same digit drawn across the canvas.
//!
//! [`render`] follows MNIST's recipe with a pen of MNIST's width, on the part of the strokes
//! that lies on the canvas ([`clip`]: a pointer dragged past the edge still reports points,
//! which the page does not draw):
//!
//! 1. The strokes' **bounding box** (of the points, i.e. the pen's centre line) is scaled so that
//!    its longer side plus one pen width is [`BOX`] pixels: the *ink* then fits 20×20, as each
//!    MNIST digit's ink did, with the aspect ratio kept.
//! 2. Every stroke is drawn with a **round pen [`PEN_WIDTH`] pixels wide** — fixed relative to
//!    that box, so thickness does not depend on how large the digit was drawn. The width is
//!    MNIST's own typical stroke width, measured on the training set (`cargo xtask redrawn`,
//!    `examples/redrawn.rs --pen`).
//! 3. **Anti-aliasing** by coverage: each pixel is sampled on a [`SUB`]×[`SUB`] grid, and its grey
//!    level is the share of samples the pen covers.
//! 4. The result is **placed by centre of mass**: it is drawn once to find its centre of mass,
//!    then again shifted by the whole pixels that bring that centre nearest the middle, as in
//!    [`super::preprocess::place_by_centre_of_mass`].
//!
//! A drawing whose box is under [`MIN_EXTENT`] of the canvas's shorter side is a tap, a dot or a
//! speck, not a digit: [`Seen::TooSmall`], never a guess.
//!
//! Everything is plain f64 arithmetic in a fixed order (squared distances: no square root, no
//! exp, ln or trigonometry) and integer counting, so the same strokes give the same 784 bytes on
//! every machine.

use super::images::{PIXELS, SIDE};
use super::preprocess::{centre_of_mass, Digit, Seen, BOX, CENTRE};

/// The pen's width in pixels of the 28×28 field, for a digit whose ink fits 20×20: MNIST's own.
/// A digit's stroke width is measured as the width of the pen that, drawn along the digit's
/// traced skeleton, puts down the digit's ink; over the training set (every 6th digit) the
/// median is 2.375 pixels. Digits drawn with a 2.2-pixel pen measure the same (the skeleton is
/// shorter than the pen's path, so the measure reads a drawn pen a little wide). Measured in
/// `tests/it/strokes.rs` (fixture) and `cargo xtask redrawn` (full set).
pub const PEN_WIDTH: f64 = 2.2;
/// Samples per pixel side for the anti-aliasing (SUB² per pixel: 64 grey steps).
pub const SUB: usize = 8;
/// The least extent of a drawing's bounding box, as a fraction of the canvas's shorter side. A
/// tap or a dot (a few pixels of jitter) is under it; a digit drawn at 15% of the canvas height
/// is well over it.
pub const MIN_EXTENT: f64 = 0.04;
/// At most this many strokes…
pub const MAX_STROKES: usize = 64;
/// …and this many points in all (a digit drawn slowly with a mouse has a few hundred).
pub const MAX_POINTS: usize = 4096;
/// The largest canvas side, and the largest coordinate magnitude, accepted.
pub const MAX_CANVAS: f64 = 16_384.0;

/// A point of a stroke in canvas pixels, `[x, y]`, y downwards.
pub type Point = [f64; 2];

/// Checks what a client sent before anything is drawn: the counts against [`MAX_STROKES`] and
/// [`MAX_POINTS`], the canvas size, and every coordinate finite and within ±[`MAX_CANVAS`]. The
/// error is one line naming the limit.
pub fn check(strokes: &[Vec<Point>], width: f64, height: f64) -> Result<(), String> {
    let canvas_ok = |v: f64| v.is_finite() && (1.0..=MAX_CANVAS).contains(&v);
    if !canvas_ok(width) || !canvas_ok(height) {
        return Err(format!(
            "the canvas must be 1 to {MAX_CANVAS} pixels on each side, got {}×{}",
            compact(width),
            compact(height)
        ));
    }
    if strokes.len() > MAX_STROKES {
        return Err(format!("at most {MAX_STROKES} strokes, got {}", strokes.len()));
    }
    let points: usize = strokes.iter().map(Vec::len).sum();
    if points > MAX_POINTS {
        return Err(format!("at most {MAX_POINTS} points in all strokes, got {points}"));
    }
    for (i, stroke) in strokes.iter().enumerate() {
        if stroke.is_empty() {
            return Err(format!("stroke {i} has no points: each stroke needs at least one"));
        }
        if let Some(p) = stroke.iter().find(|p| !p.iter().all(|v| v.is_finite() && v.abs() <= MAX_CANVAS)) {
            return Err(format!(
                "stroke {i} has the point [{}, {}]: coordinates must be finite and within ±{MAX_CANVAS}",
                compact(p[0]),
                compact(p[1])
            ));
        }
    }
    Ok(())
}

/// A number as a message shows it, in at most 24 characters: the shortest digits that read
/// back to the same f64, positional from 0.0001 up to 10¹⁶ (`20000.5`), in scientific notation
/// beyond (`1e308`, `-2.5e-300`) — where `{}` alone would print up to 300 zeros.
fn compact(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e16).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// The parts of the strokes that lie on the `width × height` canvas: each segment clipped to
/// `[0, width] × [0, height]` (Liang–Barsky), a stroke that leaves the canvas and comes back
/// split in two there, a dot off the canvas dropped. A pointer held down keeps reporting
/// positions past the canvas's edge, where the page draws nothing: without this, ink nobody
/// sees would widen the digit's box. Strokes that stay on the canvas come back unchanged, bit
/// for bit.
pub fn clip(strokes: &[Vec<Point>], width: f64, height: f64) -> Vec<Vec<Point>> {
    let on_canvas = |p: Point| (0.0..=width).contains(&p[0]) && (0.0..=height).contains(&p[1]);
    let mut out: Vec<Vec<Point>> = Vec::new();
    for stroke in strokes {
        if let [dot] = stroke[..] {
            if on_canvas(dot) {
                out.push(vec![dot]);
            }
            continue;
        }
        let mut piece: Vec<Point> = Vec::new();
        for pair in stroke.windows(2) {
            match clip_segment(pair[0], pair[1], width, height) {
                Some((a, b)) => {
                    if piece.last() != Some(&a) {
                        if !piece.is_empty() {
                            out.push(std::mem::take(&mut piece));
                        }
                        piece.push(a);
                    }
                    piece.push(b);
                }
                None if !piece.is_empty() => out.push(std::mem::take(&mut piece)),
                None => {}
            }
        }
        if !piece.is_empty() {
            out.push(piece);
        }
    }
    out
}

/// The part of the segment `a`–`b` inside `[0, width] × [0, height]`, if any (Liang–Barsky). An
/// end on the canvas is returned as it is, not recomputed.
fn clip_segment(a: Point, b: Point, width: f64, height: f64) -> Option<(Point, Point)> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a[0]), (dx, width - a[0]), (-dy, a[1]), (dy, height - a[1])] {
        if p == 0.0 {
            if q < 0.0 {
                return None; // parallel to this edge and outside it
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| match t {
        0.0 => a,
        1.0 => b,
        _ => [a[0] + t * dx, a[1] + t * dy],
    };
    Some((at(t0), at(t1)))
}

// ANCHOR: render
/// Draws checked strokes (see [`check`]) on a `width × height` canvas as an MNIST digit; only
/// what lies on the canvas counts ([`clip`]).
pub fn render(strokes: &[Vec<Point>], width: f64, height: f64) -> Seen {
    let strokes = &clip(strokes, width, height);
    let mut points = strokes.iter().flatten();
    let Some(&[fx, fy]) = points.next() else { return Seen::Empty };
    let (mut x0, mut y0, mut x1, mut y1) = (fx, fy, fx, fy);
    for &[x, y] in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let extent = (x1 - x0).max(y1 - y0);
    let least = MIN_EXTENT * width.min(height);
    if extent < least {
        return Seen::TooSmall { extent: extent.round() as usize, least: least.ceil() as usize };
    }
    // The centre line's box scaled to BOX − PEN_WIDTH, so the ink's box (half a pen more on
    // each side) is BOX on its longer side.
    let scale = (BOX as f64 - PEN_WIDTH) / extent;
    let ink = ((x1 - x0) * scale + PEN_WIDTH, (y1 - y0) * scale + PEN_WIDTH);
    let lines: Vec<Vec<Point>> = strokes
        .iter()
        .map(|s| {
            s.iter().map(|&[x, y]| [(x - x0) * scale + PEN_WIDTH / 2.0, (y - y0) * scale + PEN_WIDTH / 2.0]).collect()
        })
        .collect();
    // First drawn with the ink's box centred, to find the centre of mass…
    let centred = |size: f64| ((SIDE as f64 - size) / 2.0).floor();
    let first = (centred(ink.0), centred(ink.1));
    let pixels = draw(&lines, first, PEN_WIDTH);
    let (cx, cy) = centre_of_mass(&pixels, SIDE, SIDE).unwrap_or((CENTRE, CENTRE));
    // …then shifted by whole pixels to bring it to the middle, never pushing ink off the field.
    let shift = |offset: f64, centre: f64, size: f64| {
        (offset + (CENTRE - centre).round()).clamp(0.0, (SIDE as f64 - size.ceil()).max(0.0))
    };
    let placed = (shift(first.0, cx, ink.0), shift(first.1, cy, ink.1));
    let pixels = if placed == first { pixels } else { draw(&lines, placed, PEN_WIDTH) };
    Seen::Digit(Box::new(Digit {
        pixels,
        inverted: false,
        background: 0,
        crop: (
            x0.floor().max(0.0) as usize,
            y0.floor().max(0.0) as usize,
            (x1 - x0).ceil() as usize,
            (y1 - y0).ceil() as usize,
        ),
        fitted: (ink.0.ceil() as usize, ink.1.ceil() as usize),
    }))
}
// ANCHOR_END: render

// ANCHOR: draw
/// Draws the lines (in field pixels, offset by `origin`) with a round pen `pen` pixels wide:
/// a sample at a pixel's sub-grid point is ink if it lies within half a pen of any segment, and
/// the pixel's grey level is the share of its SUB² samples that are ink.
pub fn draw(lines: &[Vec<Point>], origin: (f64, f64), pen: f64) -> [u8; PIXELS] {
    const N: usize = SIDE * SUB;
    let mut ink = vec![false; N * N];
    let r = pen / 2.0;
    let r2 = r * r;
    let step = 1.0 / SUB as f64;
    for line in lines {
        let shifted: Vec<Point> = line.iter().map(|&[x, y]| [x + origin.0, y + origin.1]).collect();
        // A one-point stroke is a dot: a segment from the point to itself.
        let segments =
            shifted.windows(2).map(|w| (w[0], w[1])).chain((shifted.len() == 1).then(|| (shifted[0], shifted[0])));
        for (a, b) in segments {
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let length2 = dx * dx + dy * dy;
            // The samples in the segment's box grown by the pen's radius (sample i is at (i + ½)/SUB).
            let range = |lo: f64, hi: f64| {
                let first = ((lo - r) * SUB as f64 - 0.5).ceil().max(0.0) as usize;
                let last = (((hi + r) * SUB as f64 - 0.5).floor().min(N as f64 - 1.0)).max(-1.0);
                first..(last + 1.0) as usize
            };
            for sy in range(a[1].min(b[1]), a[1].max(b[1])) {
                let py = (sy as f64 + 0.5) * step;
                for sx in range(a[0].min(b[0]), a[0].max(b[0])) {
                    let px = (sx as f64 + 0.5) * step;
                    let (ax, ay) = (px - a[0], py - a[1]);
                    let t = if length2 > 0.0 { ((ax * dx + ay * dy) / length2).clamp(0.0, 1.0) } else { 0.0 };
                    let (ex, ey) = (ax - t * dx, ay - t * dy);
                    if ex * ex + ey * ey <= r2 {
                        ink[sy * N + sx] = true;
                    }
                }
            }
        }
    }
    let mut out = [0u8; PIXELS];
    for (i, o) in out.iter_mut().enumerate() {
        let (x, y) = (i % SIDE, i / SIDE);
        let mut count = 0u32;
        for sy in y * SUB..(y + 1) * SUB {
            count += ink[sy * N + x * SUB..sy * N + (x + 1) * SUB].iter().filter(|&&v| v).count() as u32;
        }
        // Rounded to the nearest grey level, in integers: 64 samples → 0–255.
        *o = ((count * 255 + (SUB * SUB) as u32 / 2) / (SUB * SUB) as u32) as u8;
    }
    out
}
// ANCHOR_END: draw

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(seen: Seen) -> [u8; PIXELS] {
        match seen {
            Seen::Digit(d) => d.pixels,
            other => panic!("expected a digit, got {other:?}"),
        }
    }

    /// A "4"-like drawing: a slanted stroke, a bar and a long downstroke, 200 units tall.
    fn four() -> Vec<Vec<Point>> {
        vec![
            vec![[60.0, 0.0], [40.0, 60.0], [20.0, 120.0], [130.0, 118.0]],
            vec![[100.0, 40.0], [98.0, 120.0], [96.0, 200.0]],
        ]
    }

    fn moved(strokes: &[Vec<Point>], scale: f64, dx: f64, dy: f64) -> Vec<Vec<Point>> {
        strokes.iter().map(|s| s.iter().map(|&[x, y]| [x * scale + dx, y * scale + dy]).collect()).collect()
    }

    #[test]
    fn the_same_strokes_at_any_size_and_place_give_the_same_digit() {
        let big = pixels(render(&four(), 280.0, 280.0));
        for (scale, dx, dy) in [(0.4, 150.0, 3.0), (0.15, 0.0, 240.0), (0.15, 251.0, 1.0), (1.0, 60.0, 70.0)] {
            let small = pixels(render(&moved(&four(), scale, dx, dy), 280.0, 280.0));
            let differ = big.iter().zip(&small).filter(|(a, b)| a.abs_diff(**b) > 4).count();
            assert!(differ <= 2, "scale {scale}: {differ} pixels differ");
        }
    }

    #[test]
    fn the_ink_fits_20_by_20_and_its_centre_of_mass_is_at_the_centre() {
        let p = pixels(render(&four(), 280.0, 280.0));
        let rows: Vec<usize> = (0..PIXELS).filter(|&i| p[i] > 0).map(|i| i / SIDE).collect();
        let height = rows.iter().max().unwrap() - rows.iter().min().unwrap() + 1;
        // 20 pixels of ink, which straddle 21 rows unless they fall on the grid.
        assert!((20..=21).contains(&height), "{height} rows");
        let (cx, cy) = centre_of_mass(&p, SIDE, SIDE).unwrap();
        assert!((cx - CENTRE).abs() <= 0.5 && (cy - CENTRE).abs() <= 0.5, "({cx}, {cy})");
    }

    #[test]
    fn the_pen_is_as_wide_as_mnists_whatever_the_drawings_size() {
        // A vertical stroke: each row it crosses away from the ends holds PEN_WIDTH pixels of ink.
        for length in [30.0, 300.0] {
            let p = pixels(render(&[vec![[10.0, 10.0], [10.0, 10.0 + length]]], 400.0, 400.0));
            let row: u32 = p[14 * SIDE..15 * SIDE].iter().map(|&v| v as u32).sum();
            assert!(
                (row as f64 / 255.0 - PEN_WIDTH).abs() < 0.1,
                "length {length}: {} pixels of ink",
                row as f64 / 255.0
            );
        }
    }

    #[test]
    fn no_strokes_are_empty_and_a_tap_is_too_small() {
        assert_eq!(render(&[], 280.0, 280.0), Seen::Empty);
        assert_eq!(render(&[vec![[100.0, 100.0]]], 280.0, 280.0), Seen::TooSmall { extent: 0, least: 12 });
        // A jittery tap and a small scribble: under 4% of the canvas.
        let tap = vec![vec![[100.0, 100.0], [103.0, 101.0], [101.0, 104.0]]];
        assert_eq!(render(&tap, 280.0, 280.0), Seen::TooSmall { extent: 4, least: 12 });
        let scribble = vec![vec![[100.0, 100.0], [110.0, 100.0]], vec![[100.0, 105.0]]];
        assert!(matches!(render(&scribble, 280.0, 280.0), Seen::TooSmall { .. }));
        // Just over the threshold it is a digit (a short "1").
        assert!(matches!(render(&[vec![[5.0, 5.0], [5.0, 17.0]]], 280.0, 280.0), Seen::Digit(_)));
    }

    #[test]
    fn only_what_lies_on_the_canvas_is_drawn() {
        // A "7" whose bar runs far past the right edge and comes back: what the canvas shows is
        // a bar to the edge and a diagonal from the edge, and that is what is read.
        let wild = vec![vec![[60.0, 60.0], [2000.0, 60.0], [100.0, 250.0]]];
        let clipped = clip(&wild, 280.0, 280.0);
        assert_eq!(clipped.len(), 2, "{clipped:?}");
        assert_eq!(clipped[0], vec![[60.0, 60.0], [280.0, 60.0]]);
        assert_eq!(clipped[1][1], [100.0, 250.0]);
        assert_eq!(clipped[1][0][0], 280.0);
        assert!((clipped[1][0][1] - (60.0 + 190.0 * 1720.0 / 1900.0)).abs() < 1e-9, "{clipped:?}");
        assert_eq!(render(&wild, 280.0, 280.0), render(&clipped, 280.0, 280.0));
        match render(&wild, 280.0, 280.0) {
            Seen::Digit(d) => assert_eq!((d.crop.0, d.crop.2), (60, 220), "the box ends at the canvas's edge"),
            other => panic!("expected a digit, got {other:?}"),
        }
        // Strokes on the canvas are unchanged, bit for bit, edges and repeated points included.
        let on = vec![vec![[0.0, 0.0], [0.1, 0.7], [0.1, 0.7], [280.0, 280.0]], vec![[3.0, 4.0]]];
        assert_eq!(clip(&on, 280.0, 280.0), on);
        assert_eq!(clip(&four(), 280.0, 280.0), four());
        // Off the canvas entirely: nothing was drawn.
        let outside = vec![vec![[-100.0, -100.0], [-50.0, -300.0]], vec![[500.0, 10.0]]];
        assert_eq!(render(&outside, 280.0, 280.0), Seen::Empty);
        // A stroke crossing the canvas from outside to outside keeps its middle.
        assert_eq!(
            clip(&[vec![[-10.0, 140.0], [290.0, 140.0]]], 280.0, 280.0),
            vec![vec![[0.0, 140.0], [280.0, 140.0]]]
        );
    }

    #[test]
    fn check_names_each_limit() {
        let ok = vec![vec![[1.0, 2.0]]];
        assert_eq!(check(&ok, 280.0, 280.0), Ok(()));
        let many = vec![vec![[1.0, 2.0]]; MAX_STROKES + 1];
        assert_eq!(check(&many, 280.0, 280.0).unwrap_err(), "at most 64 strokes, got 65");
        let long = vec![vec![[1.0, 2.0]; MAX_POINTS + 1]];
        assert_eq!(check(&long, 280.0, 280.0).unwrap_err(), "at most 4096 points in all strokes, got 4097");
        assert!(check(&[vec![]], 280.0, 280.0).unwrap_err().contains("stroke 0 has no points"));
        assert!(check(&[vec![[f64::NAN, 1.0]]], 280.0, 280.0).unwrap_err().contains("finite"));
        assert!(check(&[vec![[1.0, 1e9]]], 280.0, 280.0).unwrap_err().contains("±16384"));
        assert!(check(&ok, 0.0, 280.0).unwrap_err().contains("canvas"));
    }

    #[test]
    fn values_in_messages_are_short() {
        assert_eq!(
            check(&[vec![[1e308, -1e308]]], 280.0, 280.0).unwrap_err(),
            "stroke 0 has the point [1e308, -1e308]: coordinates must be finite and within ±16384"
        );
        assert_eq!(
            check(&[vec![[1.0, 2.0]]], 1e-300, 1.7976931348623157e308).unwrap_err(),
            "the canvas must be 1 to 16384 pixels on each side, got 1e-300×1.7976931348623157e308"
        );
        assert_eq!(
            check(&[vec![[-20000.5, 0.5]]], 280.0, 280.0).unwrap_err(),
            "stroke 0 has the point [-20000.5, 0.5]: coordinates must be finite and within ±16384"
        );
        // The longest a number can be shown: 17 significant digits, a sign, a point, an exponent.
        for v in [-1.2345678901234567e-300, 1234567890123456.7, -0.00012345678901234567, f64::MIN_POSITIVE] {
            assert!(compact(v).len() <= 24 && compact(v).parse::<f64>() == Ok(v), "{}", compact(v));
        }
    }
}
