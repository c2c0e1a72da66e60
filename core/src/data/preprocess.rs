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
//!    guess. Ink below [`NOISE_FRACTION`] of the strongest is treated as paper (scanner noise,
//!    a grey smudge), so it neither widens the crop nor pulls the centre of mass.
//! 3. **Crop** to the ink's bounding box.
//! 4. **Resize to fit 20×20** keeping the aspect ratio, by area averaging ([`resize_area`]):
//!    each output pixel is the mean of the input area it covers, fractional pixels weighted by
//!    their covered fraction — MNIST's anti-aliasing, and well defined for shrinking and
//!    enlarging alike. The result is stretched so its brightest pixel is 255 (a thin pen on a
//!    large canvas would otherwise come out faint grey).
//! 5. **Place in 28×28 by centre of mass**: the box is put where its intensity-weighted centre
//!    lands nearest the middle (13.5, 13.5), never so far that ink would fall off the edge.
//!
//! Everything is integer or plain f64 arithmetic in a fixed order (no FMA, no parallel sums),
//! so the same image gives the same 784 bytes on every machine — the server, the command line
//! and the tests all call this one function.

use super::images::{PIXELS as INPUTS, SIDE};
/// The side of the box MNIST fitted each digit into.
pub const BOX: usize = 20;
/// The middle of the field in pixel-centre coordinates (pixel `x` is at `x`, so the middle of
/// pixels 0..=27 is 13.5). The drawing page's old centring used the same convention.
pub const CENTRE: f64 = (SIDE as f64 - 1.0) / 2.0;
/// The least difference, in grey levels, between the strongest ink and the paper for an image
/// to count as having a digit at all. Below it (a blank canvas, a uniformly grey photo, JPEG-ish
/// noise) the answer is [`Seen::Empty`].
pub const MIN_CONTRAST: u8 = 48;
/// Ink weaker than this fraction of the strongest ink is treated as paper.
pub const NOISE_FRACTION: f64 = 0.2;

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
    let row = |y: usize| ink[y * width + x0..=y * width + x1].iter().map(|&v| v as f64);
    let crop: Vec<f64> = (y0..=y1).flat_map(row).collect();

    // Fit the longer side to BOX pixels; the shorter keeps the aspect ratio (at least 1 pixel).
    let longer = crop_w.max(crop_h) as f64;
    let fit = |side: usize| (((side as f64) * BOX as f64 / longer).round() as usize).clamp(1, BOX);
    let (fit_w, fit_h) = (fit(crop_w), fit(crop_h));
    let fitted = stretch_to_white(&resize_area(&crop, crop_w, crop_h, fit_w, fit_h));

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
/// anything on the far side of it), with ink under [`NOISE_FRACTION`] of the strongest set to 0.
/// `None` when the strongest ink is under [`MIN_CONTRAST`]: the image is empty.
pub fn ink_levels(image: &GreyImage, background: u8, inverted: bool) -> Option<Vec<u8>> {
    let ink_of = |v: u8| if inverted { background.saturating_sub(v) } else { v.saturating_sub(background) };
    let strongest = image.pixels.iter().map(|&v| ink_of(v)).max().unwrap_or(0);
    if strongest < MIN_CONTRAST {
        return None;
    }
    let floor = (strongest as f64 * NOISE_FRACTION).ceil() as u8;
    let ink = image
        .pixels
        .iter()
        .map(|&v| {
            let i = ink_of(v);
            if i < floor {
                0
            } else {
                i
            }
        })
        .collect();
    Some(ink)
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
    assert_eq!(pixels.len(), width * height, "resize_area: pixel count");
    assert!(out_w > 0 && out_h > 0, "resize_area: empty output");
    let columns = area_weights(width, out_w);
    let rows = area_weights(height, out_h);
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

/// For each of `outputs` output pixels along one axis of `inputs` pixels: the input pixels it
/// overlaps and the fraction of the output pixel each covers (the fractions sum to 1).
fn area_weights(inputs: usize, outputs: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = inputs as f64 / outputs as f64;
    (0..outputs)
        .map(|o| {
            let (start, end) = (o as f64 * scale, (o + 1) as f64 * scale);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(inputs);
            (first..last)
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
            Seen::Empty => panic!("expected a digit, got Empty"),
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
        // A 4 × 12 white bar in the top-left corner of a 300 × 200 black canvas.
        let mut img = image(300, 200, 0);
        paint(&mut img, 5, 7, 4, 12, 255);
        let d = digit(preprocess(&img));
        assert!(!d.inverted);
        assert_eq!(d.crop, (5, 7, 4, 12));
        // 12 → 20 tall; 4 → round(4·20/12) = 7 wide.
        assert_eq!(d.fitted, (7, 20));
        let (cx, cy) = centre_of_mass(&d.pixels, SIDE, SIDE).unwrap();
        assert!((cx - CENTRE).abs() <= 0.5 && (cy - CENTRE).abs() <= 0.5, "centre of mass ({cx}, {cy})");
        // Exactly the 7 × 20 box is lit, at full strength.
        let lit: Vec<usize> = (0..INPUTS).filter(|&i| d.pixels[i] != 0).collect();
        assert_eq!(lit.len(), 7 * 20);
        assert!(lit.iter().all(|&i| d.pixels[i] == 255));
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
            for taps in area_weights(inputs, outputs) {
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
        // of 13.5 pixels right, which would push the box's right part off; it stops at 8.
        let mut fitted = vec![0u8; 20 * 20];
        for y in 0..20 {
            fitted[y * 20] = 255;
            fitted[y * 20 + 19] = 1;
        }
        let out = place_by_centre_of_mass(&fitted, 20, 20);
        let total_in: u64 = fitted.iter().map(|&v| v as u64).sum();
        let total_out: u64 = out.iter().map(|&v| v as u64).sum();
        assert_eq!(total_in, total_out);
        assert_eq!(out[4 * SIDE + 8], 255);
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
