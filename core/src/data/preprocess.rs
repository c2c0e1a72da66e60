//! Digits as people draw them: MNIST's own preprocessing, for any greyscale image.
//!
//! MNIST's digits were not simply shrunk to 28×28. Each was size-normalised to fit a 20×20 box
//! (aspect ratio kept, anti-aliased) and then placed in the 28×28 field so that its centre of
//! mass sits at the middle. The network has only ever seen digits made that way, so a drawing,
//! a photo or a scan must be made the same way before it is classified: a digit drawn small, in
//! a corner, or dark on white paper is otherwise read as a "1" or an "8".
//!
//! [`preprocess`] is that recipe, in five steps:
//!
//! 1. **Background and polarity** ([`background`]): the median of the border pixels is the
//!    paper. Light paper (median ≥ 128) means dark ink, and the image is inverted, so ink is
//!    always bright on black as in MNIST.
//! 2. **Ink** ([`ink_levels`]): each pixel's distance from the paper level. An image whose
//!    strongest ink is within [`MIN_CONTRAST`] of the paper has no digit: [`Seen::Empty`], not a
//!    guess. Ink from [`NOISE_FRACTION`] of the strongest up is the digit; weaker ink counts only
//!    where it touches the digit (a stroke's grey edge), so a faint speck or smudge neither
//!    widens the crop nor pulls the centre of mass, and an MNIST digit keeps every grey pixel.
//! 3. **Crop** to the ink's bounding box; a box under [`MIN_EXTENT`] of the image is a tap or a
//!    speck: [`Seen::TooSmall`].
//! 4. **Resize to fit 20×20** keeping the aspect ratio exactly, by area averaging
//!    ([`resize_area_by`]): each output pixel is the mean of the input area it covers — MNIST's
//!    anti-aliasing, for shrinking and enlarging alike; a crop already 20 long is copied. The
//!    result is stretched so its brightest pixel is 255 (a thin pen on a large canvas would
//!    otherwise come out faint grey).
//! 5. **Place in 28×28 by centre of mass**: the box is put where its intensity-weighted centre
//!    lands nearest [`CENTRE`] (14, 14), as MNIST's did, never so far that ink would fall off
//!    the edge.
//!
//! Everything is integer or plain f64 arithmetic in a fixed order (no FMA, no parallel sums),
//! so the same image gives the same 784 bytes on every machine — the server, the command line
//! and the tests all call this one function.

use super::images::{PIXELS as INPUTS, SIDE};
/// The side of the box MNIST fitted each digit into.
pub const BOX: usize = 20;
/// Where MNIST put each digit's centre of mass, in pixel-centre coordinates (pixel `x` is at
/// `x`): (14, 14), not the geometric middle of pixels 0..=27 (13.5). Measured on the training
/// set, the centres of mass average (14.00, 14.00) and 90% lie within 13.55–14.45: MNIST moved
/// each digit by whole pixels to bring its centre of mass to pixel 14. Centring on 13.5 instead
/// moved about half of MNIST's own digits by one pixel.
pub const CENTRE: f64 = 14.0;
/// The least difference, in grey levels, between the strongest ink and the paper for an image
/// to count as having a digit at all. Below it (a blank canvas, a uniformly grey photo, JPEG-ish
/// noise) the answer is [`Seen::Empty`].
pub const MIN_CONTRAST: u8 = 48;
/// Ink weaker than this fraction of the strongest ink is treated as paper.
pub const NOISE_FRACTION: f64 = 0.2;

/// The least share of the image's shorter side the ink's bounding box must span (on its longer
/// side) to be read as a digit: a tap of the old 20-pixel pen on a 280-pixel canvas (7%) or a
/// stray pixel is not a digit; a digit drawn at 15% of the canvas is.
pub const MIN_EXTENT: f64 = 0.1;

/// [`MIN_EXTENT`] of the shorter side, in whole pixels (at least 2: one pixel is a speck).
pub fn min_extent(width: usize, height: usize) -> usize {
    ((MIN_EXTENT * width.min(height) as f64).ceil() as usize).max(2)
}

/// A greyscale image: `width × height` bytes, row-major, 0 = black, 255 = white.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GreyImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl GreyImage {
    /// Checks that `pixels` holds exactly `width × height` bytes and that neither side is 0.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<GreyImage, String> {
        if width == 0 || height == 0 {
            return Err(format!("an image needs at least one pixel, got {width}×{height}"));
        }
        match width.checked_mul(height) {
            Some(n) if n == pixels.len() => Ok(GreyImage { width, height, pixels }),
            _ => Err(format!(
                "a {width}×{height} image has {} pixels, got {} bytes",
                width.saturating_mul(height),
                pixels.len()
            )),
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// Row-major grey levels.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

/// What the network will see of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// No ink: nothing to classify.
    Empty,
    /// Some ink, but too little to be a digit (a tap, a dot, a speck): its bounding box's longer
    /// side is `extent` pixels where at least `least` are needed.
    TooSmall { extent: usize, least: usize },
    /// The 28×28 input, and how it was found (boxed: 800 bytes against nothing for `Empty`).
    Digit(Box<Digit>),
}

/// A preprocessed digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digit {
    /// The network input: 784 bytes, row-major, white ink on black.
    pub pixels: [u8; INPUTS],
    /// Whether the image was dark ink on light paper (and so was inverted).
    pub inverted: bool,
    /// The paper's grey level as found, before any inversion.
    pub background: u8,
    /// The ink's bounding box in the original image: `(x, y, width, height)`.
    pub crop: (usize, usize, usize, usize),
    /// The size of the resized digit inside the 28×28 field: `(width, height)`, at most 20×20.
    pub fitted: (usize, usize),
}

// ANCHOR: preprocess
/// MNIST's preprocessing for a greyscale image of any size (see the module documentation).
pub fn preprocess(image: &GreyImage) -> Seen {
    let (width, height) = (image.width, image.height);
    let background = background(image);
    let inverted = background >= 128;
    let Some(ink) = ink_levels(image, background, inverted) else {
        return Seen::Empty;
    };
    let Some((x0, y0, x1, y1)) = bounding_box(&ink, width, height) else {
        return Seen::Empty;
    };
    let (crop_w, crop_h) = (x1 - x0 + 1, y1 - y0 + 1);
    let least = min_extent(width, height);
    if crop_w.max(crop_h) < least {
        return Seen::TooSmall { extent: crop_w.max(crop_h), least };
    }
    let row = |y: usize| ink[y * width + x0..=y * width + x1].iter().map(|&v| v as f64);
    let crop: Vec<f64> = (y0..=y1).flat_map(row).collect();

    // Fit the longer side to exactly BOX pixels and scale the shorter by the same factor; its
    // last pixel is then partly covered, and is as grey as the share it covers. (Rounding the
    // shorter side to whole pixels instead would stretch the digit by up to half a pixel.) A
    // crop that already is BOX pixels long is copied as it is: an MNIST digit passes unchanged.
    let step = crop_w.max(crop_h) as f64 / BOX as f64;
    let fit = |side: usize| ((side as f64 / step - 1e-9).ceil() as usize).clamp(1, BOX);
    let (fit_w, fit_h) = (fit(crop_w), fit(crop_h));
    let fitted = stretch_to_white(&resize_area_by(&crop, crop_w, crop_h, fit_w, fit_h, step));

    let pixels = place_by_centre_of_mass(&fitted, fit_w, fit_h);
    Seen::Digit(Box::new(Digit {
        pixels,
        inverted,
        background,
        crop: (x0, y0, crop_w, crop_h),
        fitted: (fit_w, fit_h),
    }))
}
// ANCHOR_END: preprocess

// ANCHOR: background
/// The paper's grey level: the median of the pixels on the image's four edges. A stroke that
/// touches an edge cannot move the median unless it covers half the border.
pub fn background(image: &GreyImage) -> u8 {
    let (w, h, p) = (image.width, image.height, &image.pixels);
    // A histogram rather than a sort: the border of a 4096×4096 image is 16K pixels, and the
    // median of bytes is the first level where the running count passes half.
    let mut histogram = [0u64; 256];
    let mut count = 0u64;
    let mut add = |v: u8| {
        histogram[v as usize] += 1;
        count += 1;
    };
    for x in 0..w {
        add(p[x]);
        if h > 1 {
            add(p[(h - 1) * w + x]);
        }
    }
    for y in 1..h.saturating_sub(1) {
        add(p[y * w]);
        if w > 1 {
            add(p[y * w + w - 1]);
        }
    }
    let mut seen = 0;
    for (level, &n) in histogram.iter().enumerate() {
        seen += n;
        if 2 * seen >= count {
            return level as u8;
        }
    }
    255
}
// ANCHOR_END: background

// ANCHOR: ink_levels
/// Each pixel's ink: how far it is from the paper towards the ink's side (0 for paper and for
/// anything on the far side of it). `None` when the strongest ink is under [`MIN_CONTRAST`]: the
/// image is empty.
///
/// Ink at or above [`NOISE_FRACTION`] of the strongest is the digit; weaker ink is kept only
/// where it touches the digit (8-connected, through other weak ink): the grey anti-aliased edge
/// of a stroke stays, so an MNIST digit keeps every pixel, while a faint speck or smudge apart
/// from the strokes is paper. "Weak" starts above the paper's own noise, taken from the border:
/// twice its 95th-percentile ink level (0 for a clean image, so any ink counts).
pub fn ink_levels(image: &GreyImage, background: u8, inverted: bool) -> Option<Vec<u8>> {
    let ink_of = |v: u8| if inverted { background.saturating_sub(v) } else { v.saturating_sub(background) };
    let ink: Vec<u8> = image.pixels.iter().map(|&v| ink_of(v)).collect();
    let strongest = ink.iter().copied().max().unwrap_or(0);
    if strongest < MIN_CONTRAST {
        return None;
    }
    let strong = (strongest as f64 * NOISE_FRACTION).ceil() as u8;
    let weak = border_noise(&ink, image.width, image.height).saturating_mul(2).saturating_add(1).min(strong);
    // The strong ink (`out`, 0 elsewhere), then a flood fill from it through weak ink: a pixel
    // is kept once `out` holds its ink. Weak pixels are few (a stroke's rim), so they are listed
    // in one cheap pass, and only they are looked at closely.
    let (w, h) = (image.width, image.height);
    let mut out: Vec<u8> = ink.iter().map(|&v| if v >= strong { v } else { 0 }).collect();
    let weak_ink = |v: u8| v >= weak && v > 0;
    // `v` is weak but not strong iff v − lowest (wrapping) < span: branch-free, so the pass
    // over 64-pixel chunks that skips the (mostly) empty ones is vectorised.
    let lowest = weak.max(1);
    let span = strong.saturating_sub(lowest);
    let rim = |v: u8| v.wrapping_sub(lowest) < span;
    let mut stack: Vec<usize> = Vec::new();
    for (c, chunk) in ink.chunks(64).enumerate() {
        if chunk.iter().fold(false, |any, &v| any | rim(v)) {
            stack.extend(chunk.iter().enumerate().filter(|&(_, &v)| rim(v)).map(|(k, _)| c * 64 + k));
        }
    }
    // Seeds: weak pixels next to strong ones.
    stack.retain(|&i| {
        let (x, y) = (i % w, i / w);
        let (x0, x1) = (x.saturating_sub(1), (x + 2).min(w));
        (y.saturating_sub(1)..(y + 2).min(h)).any(|ny| ink[ny * w + x0..ny * w + x1].iter().any(|&v| v >= strong))
    });
    for &i in &stack {
        out[i] = ink[i];
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for n in ny * w + x.saturating_sub(1)..ny * w + (x + 2).min(w) {
                if out[n] == 0 && weak_ink(ink[n]) {
                    out[n] = ink[n];
                    stack.push(n);
                }
            }
        }
    }
    Some(out)
}

/// The 95th percentile of the ink levels on the image's border: the paper's noise.
fn border_noise(ink: &[u8], w: usize, h: usize) -> u8 {
    let mut histogram = [0u64; 256];
    let rows = [0, h - 1];
    let top_and_bottom = rows[..if h > 1 { 2 } else { 1 }].iter().flat_map(|&y| &ink[y * w..(y + 1) * w]);
    let columns = [0, w - 1];
    let sides = (1..h.saturating_sub(1))
        .flat_map(|y| columns[..if w > 1 { 2 } else { 1 }].iter().map(move |&x| &ink[y * w + x]));
    for &v in top_and_bottom.chain(sides) {
        histogram[v as usize] += 1;
    }
    let count: u64 = histogram.iter().sum();
    let mut seen = 0;
    for (level, &n) in histogram.iter().enumerate() {
        seen += n;
        if 20 * seen >= 19 * count {
            return level as u8;
        }
    }
    255
}
// ANCHOR_END: ink_levels

/// The smallest rectangle holding every non-zero pixel, as inclusive `(x0, y0, x1, y1)`.
pub fn bounding_box(pixels: &[u8], width: usize, height: usize) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        let row = &pixels[y * width..(y + 1) * width];
        let Some(first) = row.iter().position(|&v| v != 0) else { continue };
        let last = row.iter().rposition(|&v| v != 0).expect("a non-zero pixel exists");
        x0 = x0.min(first);
        x1 = x1.max(last);
        y0 = y0.min(y);
        y1 = y;
    }
    (x0 != usize::MAX).then_some((x0, y0, x1, y1))
}

// ANCHOR: resize_area
/// Resizes a `width × height` image (row-major values) to `out_w × out_h` by area averaging.
///
/// Think of each input pixel as a uniformly coloured unit square. Output pixel `(x, y)` covers
/// the input rectangle `[x·sx, (x+1)·sx) × [y·sy, (y+1)·sy)` with `sx = width / out_w`,
/// `sy = height / out_h`, and its value is the mean over that rectangle: every input pixel it
/// overlaps weighted by the overlapping area. When shrinking this is the box filter MNIST's
/// anti-aliasing amounts to; when enlarging it is a nearest-neighbour copy with the seams
/// blended. The filter is separable, so rows are resized first, then columns.
pub fn resize_area(pixels: &[f64], width: usize, height: usize, out_w: usize, out_h: usize) -> Vec<f64> {
    let columns = area_weights(width, out_w, width as f64 / out_w as f64);
    let rows = area_weights(height, out_h, height as f64 / out_h as f64);
    resample(pixels, width, height, &columns, &rows)
}

/// Like [`resize_area`], with both axes scaled by the same `step` input pixels per output pixel:
/// an output pixel that the input covers only in part is as bright as the share it covers.
pub fn resize_area_by(pixels: &[f64], width: usize, height: usize, out_w: usize, out_h: usize, step: f64) -> Vec<f64> {
    resample(pixels, width, height, &area_weights(width, out_w, step), &area_weights(height, out_h, step))
}

fn resample(
    pixels: &[f64],
    width: usize,
    height: usize,
    columns: &[Vec<(usize, f64)>],
    rows: &[Vec<(usize, f64)>],
) -> Vec<f64> {
    let (out_w, out_h) = (columns.len(), rows.len());
    assert_eq!(pixels.len(), width * height, "resize_area: pixel count");
    assert!(out_w > 0 && out_h > 0, "resize_area: empty output");
    let mut across = vec![0.0; height * out_w];
    for y in 0..height {
        let row = &pixels[y * width..(y + 1) * width];
        for (x, taps) in columns.iter().enumerate() {
            let mut sum = 0.0;
            for &(i, w) in taps {
                sum = sum + row[i] * w;
            }
            across[y * out_w + x] = sum;
        }
    }
    let mut out = vec![0.0; out_w * out_h];
    for (y, taps) in rows.iter().enumerate() {
        for x in 0..out_w {
            let mut sum = 0.0;
            for &(i, w) in taps {
                sum = sum + across[i * out_w + x] * w;
            }
            out[y * out_w + x] = sum;
        }
    }
    out
}

/// For each of `outputs` output pixels along one axis of `inputs` pixels, each output pixel
/// `scale` input pixels long: the input pixels it overlaps and the fraction of the output pixel
/// each covers (the fractions sum to 1 where the input covers the whole output pixel).
fn area_weights(inputs: usize, outputs: usize, scale: f64) -> Vec<Vec<(usize, f64)>> {
    (0..outputs)
        .map(|o| {
            let (start, end) = (o as f64 * scale, (o + 1) as f64 * scale);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(inputs);
            (first.min(inputs)..last)
                .map(|i| {
                    let covered = end.min((i + 1) as f64) - start.max(i as f64);
                    (i, covered / scale)
                })
                .filter(|&(_, w)| w > 0.0)
                .collect()
        })
        .collect()
}
// ANCHOR_END: resize_area

/// Rounds to bytes, scaled so the brightest pixel is 255.
fn stretch_to_white(values: &[f64]) -> Vec<u8> {
    let brightest = values.iter().copied().fold(0.0, f64::max);
    if brightest <= 0.0 {
        return vec![0; values.len()];
    }
    values.iter().map(|&v| (v * 255.0 / brightest).round().clamp(0.0, 255.0) as u8).collect()
}

// ANCHOR: place
/// Puts a `w × h` image (at most 28×28) into the 28×28 field so that its centre of mass lands
/// as near the middle as whole pixels allow, clamped so that no ink falls off an edge.
pub fn place_by_centre_of_mass(fitted: &[u8], w: usize, h: usize) -> [u8; INPUTS] {
    assert!(w <= SIDE && h <= SIDE && fitted.len() == w * h, "place_by_centre_of_mass: size");
    let (cx, cy) = centre_of_mass(fitted, w, h).unwrap_or(((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0));
    let offset = |centre: f64, size: usize| ((CENTRE - centre).round().max(0.0) as usize).min(SIDE - size);
    let (dx, dy) = (offset(cx, w), offset(cy, h));
    let mut out = [0u8; INPUTS];
    for y in 0..h {
        out[(y + dy) * SIDE + dx..(y + dy) * SIDE + dx + w].copy_from_slice(&fitted[y * w..(y + 1) * w]);
    }
    out
}

/// The intensity-weighted centre of mass `(x̄, ȳ)` in pixel-centre coordinates, `None` if all 0.
pub fn centre_of_mass(pixels: &[u8], w: usize, h: usize) -> Option<(f64, f64)> {
    let (mut mass, mut sx, mut sy) = (0u64, 0u64, 0u64);
    for y in 0..h {
        for x in 0..w {
            let v = pixels[y * w + x] as u64;
            mass += v;
            sx += v * x as u64;
            sy += v * y as u64;
        }
    }
    (mass > 0).then(|| (sx as f64 / mass as f64, sy as f64 / mass as f64))
}
// ANCHOR_END: place

/// The naive alternative, kept as the baseline the tests measure against: the whole image
/// area-averaged to 28×28 (stretched if it is not square), with no inversion, crop or centring.
pub fn naive_resize(image: &GreyImage) -> [u8; INPUTS] {
    let values: Vec<f64> = image.pixels.iter().map(|&v| v as f64).collect();
    let small = resize_area(&values, image.width, image.height, SIDE, SIDE);
    let mut out = [0u8; INPUTS];
    for (o, v) in out.iter_mut().zip(small) {
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// The 28×28 input as ASCII art, one line per row: ` .:-=+*#%@` from black to white.
pub fn ascii_art(pixels: &[u8; INPUTS]) -> String {
    const RAMP: &[u8] = b" .:-=+*#%@";
    let mut out = String::with_capacity(SIDE * (2 * SIDE + 1));
    for row in pixels.chunks_exact(SIDE) {
        for &v in row {
            let c = RAMP[(v as usize * (RAMP.len() - 1) + 127) / 255] as char;
            // Two characters per pixel: a terminal cell is about twice as tall as it is wide.
            out.push(c);
            out.push(c);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: usize, height: usize, fill: u8) -> GreyImage {
        GreyImage::new(width, height, vec![fill; width * height]).unwrap()
    }

    fn paint(img: &mut GreyImage, x0: usize, y0: usize, w: usize, h: usize, v: u8) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                img.pixels[y * img.width + x] = v;
            }
        }
    }

    fn digit(seen: Seen) -> Digit {
        match seen {
            Seen::Digit(d) => *d,
            other => panic!("expected a digit, got {other:?}"),
        }
    }

    #[test]
    fn new_checks_the_size() {
        assert!(GreyImage::new(3, 2, vec![0; 6]).is_ok());
        assert_eq!(GreyImage::new(3, 2, vec![0; 5]).unwrap_err(), "a 3×2 image has 6 pixels, got 5 bytes");
        assert!(GreyImage::new(0, 2, vec![]).is_err());
    }

    #[test]
    fn blank_and_nearly_blank_images_are_empty() {
        assert_eq!(preprocess(&image(280, 280, 0)), Seen::Empty);
        assert_eq!(preprocess(&image(100, 50, 255)), Seen::Empty);
        assert_eq!(preprocess(&image(1, 1, 128)), Seen::Empty);
        // A faint mark, under MIN_CONTRAST above the paper, is not a digit.
        let mut faint = image(64, 64, 200);
        paint(&mut faint, 20, 20, 10, 10, 200 - (MIN_CONTRAST - 1));
        assert_eq!(preprocess(&faint), Seen::Empty);
        paint(&mut faint, 20, 20, 10, 10, 200 - MIN_CONTRAST);
        assert!(matches!(preprocess(&faint), Seen::Digit(_)));
    }

    #[test]
    fn background_is_the_border_median() {
        let mut img = image(10, 10, 30);
        paint(&mut img, 0, 0, 10, 1, 250); // the whole top edge: 10 of 36 border pixels
        assert_eq!(background(&img), 30);
        paint(&mut img, 0, 0, 1, 10, 250); // and the left edge: 19 of 36, now the majority
        assert_eq!(background(&img), 250);
    }

    #[test]
    fn a_small_off_centre_bar_is_enlarged_to_20_pixels_and_centred() {
        // A 10 × 30 white bar in the top-left corner of a 300 × 200 black canvas.
        let mut img = image(300, 200, 0);
        paint(&mut img, 5, 7, 10, 30, 255);
        let d = digit(preprocess(&img));
        assert!(!d.inverted);
        assert_eq!(d.crop, (5, 7, 10, 30));
        // 30 → 20 tall, so 1.5 input pixels per output pixel; 10 wide → 6⅔: 7 columns, the last
        // two-thirds covered.
        assert_eq!(d.fitted, (7, 20));
        let (cx, cy) = centre_of_mass(&d.pixels, SIDE, SIDE).unwrap();
        assert!((cx - CENTRE).abs() <= 0.5 && (cy - CENTRE).abs() <= 0.5, "centre of mass ({cx}, {cy})");
        // Exactly the 7 × 20 box is lit: six columns at full strength, the seventh at ⅔.
        let lit: Vec<usize> = (0..INPUTS).filter(|&i| d.pixels[i] != 0).collect();
        assert_eq!(lit.len(), 7 * 20);
        let last = lit.iter().map(|&i| i % SIDE).max().unwrap();
        for &i in &lit {
            assert_eq!(d.pixels[i], if i % SIDE == last { 170 } else { 255 }, "pixel {i}");
        }
    }

    #[test]
    fn an_mnist_digit_passes_through_unchanged() {
        // MNIST's digits are already fitted to 20×20 and centred by centre of mass: the recipe
        // must give them back as they are (those whose brightest pixel is 255; the others are
        // only stretched to 255).
        let test = super::super::fixture::load_test();
        let mut unchanged = 0;
        for i in 0..test.len() {
            let original = test.images.dense(i);
            let d = digit(preprocess(&GreyImage::new(SIDE, SIDE, original.clone()).unwrap()));
            if original.iter().max() == Some(&255) {
                assert_eq!(d.pixels.to_vec(), original, "test digit {i}");
                unchanged += 1;
            }
        }
        assert!(unchanged >= test.len() * 8 / 10, "only {unchanged} of {} digits checked", test.len());
    }

    #[test]
    fn a_tap_a_dot_or_a_speck_is_too_small_to_read() {
        // The old page's pen (20 pixels) tapped once on the 280×280 canvas: 7% of the side.
        let mut tap = image(280, 280, 0);
        paint(&mut tap, 100, 100, 20, 20, 255);
        assert_eq!(preprocess(&tap), Seen::TooSmall { extent: 20, least: 28 });
        // One stray pixel on a 28×28 image.
        let mut speck = image(28, 28, 0);
        paint(&mut speck, 3, 4, 1, 1, 255);
        assert_eq!(preprocess(&speck), Seen::TooSmall { extent: 1, least: 3 });
        // A stroke one threshold long is read.
        paint(&mut tap, 100, 100, 2, 28, 255);
        assert!(matches!(preprocess(&tap), Seen::Digit(_)));
    }

    #[test]
    fn the_grey_edge_of_a_stroke_is_kept_and_a_faint_speck_apart_from_it_is_not() {
        let mut img = image(100, 100, 0);
        paint(&mut img, 40, 20, 10, 60, 255);
        paint(&mut img, 39, 20, 1, 60, 20); // a faint anti-aliased edge, touching the stroke
        paint(&mut img, 80, 90, 1, 1, 20); // the same grey, apart
        let d = digit(preprocess(&img));
        assert_eq!(d.crop, (39, 20, 11, 60));
    }

    #[test]
    fn dark_ink_on_light_paper_gives_the_same_input_as_light_on_dark() {
        let mut dark = image(120, 90, 0);
        paint(&mut dark, 40, 10, 30, 60, 255);
        paint(&mut dark, 50, 20, 10, 40, 0); // a hollow rectangle, a "0"
        let mut light = image(120, 90, 0);
        for (l, &d) in light.pixels.iter_mut().zip(&dark.pixels) {
            *l = 255 - d;
        }
        let (a, b) = (digit(preprocess(&dark)), digit(preprocess(&light)));
        assert!(!a.inverted && b.inverted);
        assert_eq!(b.background, 255);
        assert_eq!(a.pixels, b.pixels);
    }

    #[test]
    fn grey_paper_and_noise_are_removed() {
        // Grey paper (180) with grey ink (60) and a speck of noise far away.
        let mut img = image(200, 200, 180);
        paint(&mut img, 80, 50, 20, 100, 60);
        paint(&mut img, 190, 190, 1, 1, 170); // 10 levels off the paper: under the noise floor
        let d = digit(preprocess(&img));
        assert!(d.inverted);
        assert_eq!(d.crop, (80, 50, 20, 100), "the speck must not widen the crop");
        assert_eq!(*d.pixels.iter().max().unwrap(), 255, "the ink is stretched to full strength");
    }

    #[test]
    fn area_weights_sum_to_one_and_a_uniform_image_stays_uniform() {
        for (inputs, outputs) in [(280, 20), (3, 20), (7, 3), (20, 20), (1, 5), (97, 13)] {
            for taps in area_weights(inputs, outputs, inputs as f64 / outputs as f64) {
                let sum: f64 = taps.iter().map(|&(_, w)| w).sum();
                assert!((sum - 1.0).abs() < 1e-12, "{inputs}→{outputs}: {sum}");
            }
        }
        let flat = resize_area(&vec![201.0; 37 * 23], 37, 23, 20, 12);
        assert!(flat.iter().all(|&v| (v - 201.0).abs() < 1e-9));
    }

    #[test]
    fn resize_area_averages_blocks() {
        // 4×2 → 2×1: each output pixel is the mean of a 2×2 block.
        let out = resize_area(&[0.0, 4.0, 8.0, 8.0, 4.0, 0.0, 8.0, 0.0], 4, 2, 2, 1);
        assert_eq!(out, vec![2.0, 6.0]);
        // 3 → 2 along x: the middle pixel is split half and half.
        let out = resize_area(&[3.0, 6.0, 9.0], 3, 1, 2, 1);
        assert_eq!(out, vec![(3.0 + 0.5 * 6.0) / 1.5, (0.5 * 6.0 + 9.0) / 1.5]);
    }

    #[test]
    fn placement_never_pushes_ink_off_the_field() {
        // All the mass in the first column of a 20-wide box: the centre of mass asks for a shift
        // of 14 pixels right, which would push the box's right part off; it stops at 8 (and 5
        // down: the centre of mass is at row 9.5).
        let mut fitted = vec![0u8; 20 * 20];
        for y in 0..20 {
            fitted[y * 20] = 255;
            fitted[y * 20 + 19] = 1;
        }
        let out = place_by_centre_of_mass(&fitted, 20, 20);
        let total_in: u64 = fitted.iter().map(|&v| v as u64).sum();
        let total_out: u64 = out.iter().map(|&v| v as u64).sum();
        assert_eq!(total_in, total_out);
        assert_eq!(out[5 * SIDE + 8], 255);
    }

    #[test]
    fn naive_resize_and_ascii_art() {
        let mut img = image(280, 280, 0);
        paint(&mut img, 0, 0, 10, 10, 255);
        let small = naive_resize(&img);
        assert_eq!(small[0], 255);
        assert_eq!(small.iter().filter(|&&v| v != 0).count(), 1);
        let art = ascii_art(&small);
        assert_eq!(art.lines().count(), 28);
        assert!(art.starts_with("@@  "));
    }
}
