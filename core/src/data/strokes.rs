//! Digits from pen strokes, drawn the way MNIST's digits were made.
//!
//! The drawing page sends the points of each stroke rather than its pixels, so the size the
//! digit was drawn at, and the width of the page's pen, do not reach the network: a digit drawn
//! 40 pixels tall in a corner gives the same 28×28 as the same digit drawn across the canvas.
//!
//! [`render`] follows MNIST's recipe with a pen of MNIST's width:
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

/// The pen's width in pixels of the 28×28 field, for a digit whose ink fits 20×20: the median
/// stroke width of MNIST's training digits (2.16 px measured by matching each digit's ink with
/// its traced skeleton drawn at that width; see `examples/redrawn.rs --pen`).
pub const PEN_WIDTH: f64 = 2.5;
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
        return Err(format!("the canvas must be 1 to {MAX_CANVAS} pixels on each side, got {width}×{height}"));
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
                p[0], p[1]
            ));
        }
    }
    Ok(())
}

// ANCHOR: render
/// Draws checked strokes (see [`check`]) on a `width × height` canvas as an MNIST digit.
pub fn render(strokes: &[Vec<Point>], width: f64, height: f64) -> Seen {
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
