//! MNIST digits redrawn as people draw them: small or large, anywhere on a canvas of some other
//! shape, light on dark or dark on light, saved as PNG or PGM.
//!
//! Shared by the integration test `tests/it/predict.rs` (on the committed fixture) and by
//! `examples/redrawn.rs` (on the real test set, run by `cargo xtask redrawn`), so the figure in
//! the README and the test measure the same thing.
//!
//! Each redrawing is a pure function of the digit and a seed: the canvas is one of
//! [`CANVASES`] (square and not), the digit's ink is scaled to 25–85% of the canvas height
//! (less if it would not fit the width) with bilinear interpolation, placed at a uniformly random
//! position, and painted with random paper and ink levels in one of the two polarities. The
//! file format cycles through 8-bit grey, 16-bit grey, RGB and RGBA PNG (the RGBA one with a
//! transparent background: the ink is in the alpha channel), binary PGM and plain PGM.
#![allow(dead_code)]

use mnistlearn_core::data::preprocess::GreyImage;
use mnistlearn_core::data::shuffle::Rng;

/// Canvas sizes, width × height: two square, three not.
pub const CANVASES: [(usize, usize); 5] = [(280, 280), (512, 512), (400, 240), (240, 400), (640, 480)];

/// The smallest and largest ink height, as a fraction of the canvas height.
pub const HEIGHT_RANGE: (f64, f64) = (0.25, 0.85);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    PngGrey8,
    PngGrey16,
    PngRgb,
    /// Ink colour everywhere, the digit in the alpha channel (a transparent background).
    PngRgba,
    PgmBinary,
    PgmPlain,
}

impl Format {
    pub const ALL: [Format; 6] =
        [Format::PngGrey8, Format::PngGrey16, Format::PngRgb, Format::PngRgba, Format::PgmBinary, Format::PgmPlain];

    pub fn extension(self) -> &'static str {
        match self {
            Format::PgmBinary | Format::PgmPlain => "pgm",
            _ => "png",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::PngGrey8 => "PNG grey 8-bit",
            Format::PngGrey16 => "PNG grey 16-bit",
            Format::PngRgb => "PNG RGB",
            Format::PngRgba => "PNG RGBA (transparent)",
            Format::PgmBinary => "PGM P5",
            Format::PgmPlain => "PGM P2",
        }
    }
}

/// One redrawn digit: the canvas as grey levels, and how it was made.
pub struct Redrawn {
    pub width: usize,
    pub height: usize,
    /// The digit's coverage of each canvas pixel, 0–1 (before paper and ink are applied).
    pub coverage: Vec<f64>,
    pub paper: u8,
    pub ink: u8,
    /// Dark ink on light paper.
    pub dark_on_light: bool,
    /// Ink height / canvas height.
    pub fraction: f64,
    pub format: Format,
}

impl Redrawn {
    /// The grey level of each pixel: paper where there is no ink, ink where it covers fully.
    pub fn grey(&self) -> Vec<u8> {
        let (p, i) = (self.paper as f64, self.ink as f64);
        self.coverage.iter().map(|&c| (p + (i - p) * c).round() as u8).collect()
    }

    pub fn grey_image(&self) -> GreyImage {
        GreyImage::new(self.width, self.height, self.grey()).expect("a consistent canvas")
    }

    /// The file's bytes in [`Redrawn::format`].
    pub fn encode(&self) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let grey = self.grey();
        match self.format {
            Format::PgmBinary => {
                let mut out = format!("P5\n# redrawn MNIST digit\n{w} {h}\n255\n").into_bytes();
                out.extend_from_slice(&grey);
                out
            }
            Format::PgmPlain => {
                let mut out = format!("P2\n{w} {h}\n255\n");
                for row in grey.chunks(w) {
                    let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                    out.push_str(&line.join(" "));
                    out.push('\n');
                }
                out.into_bytes()
            }
            Format::PngGrey8 => png(w, h, png::ColorType::Grayscale, png::BitDepth::Eight, &grey),
            Format::PngGrey16 => {
                // v·257 maps 0–255 onto 0–65535 exactly; the decoder keeps the high byte, v.
                let data: Vec<u8> = grey.iter().flat_map(|&v| (v as u16 * 257).to_be_bytes()).collect();
                png(w, h, png::ColorType::Grayscale, png::BitDepth::Sixteen, &data)
            }
            Format::PngRgb => {
                // A tinted ink and paper whose luma is the grey level: R = G = B = v would not
                // exercise the colour weights.
                let data: Vec<u8> = grey.iter().flat_map(|&v| tint(v)).collect();
                png(w, h, png::ColorType::Rgb, png::BitDepth::Eight, &data)
            }
            Format::PngRgba => {
                let data: Vec<u8> = self
                    .coverage
                    .iter()
                    .flat_map(|&c| [self.ink, self.ink, self.ink, (c * 255.0).round() as u8])
                    .collect();
                png(w, h, png::ColorType::Rgba, png::BitDepth::Eight, &data)
            }
        }
    }
}

/// An RGB colour with the given Rec. 601 luma, slightly blue (as a ballpoint on paper is).
fn tint(v: u8) -> [u8; 3] {
    let b = v.saturating_add(20).max(v);
    // Solve 0.299 r + 0.587 g + 0.114 b = v with r = g.
    let rg = ((v as f64 - 0.114 * b as f64) / 0.886).round().clamp(0.0, 255.0) as u8;
    [rg, rg, b]
}

fn png(w: usize, h: usize, colour: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().expect("PNG header");
    writer.write_image_data(data).expect("PNG data");
    writer.finish().expect("PNG end");
    out
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.next_unit()
}

/// The 28×28 digit's pixel (x, y) in 0–1, 0 outside the image.
fn pixel(digit: &[u8], x: isize, y: isize) -> f64 {
    if (0..28).contains(&x) && (0..28).contains(&y) {
        digit[y as usize * 28 + x as usize] as f64 / 255.0
    } else {
        0.0
    }
}

/// Redraws one 28×28 MNIST digit (784 bytes) as described in the module documentation; the
/// `index`-th image of a set cycles through the formats.
pub fn redraw(digit: &[u8], index: usize, rng: &mut Rng) -> Redrawn {
    assert_eq!(digit.len(), 784);
    let (width, height) = CANVASES[rng.below(CANVASES.len() as u64) as usize];
    let format = Format::ALL[index % Format::ALL.len()];
    let dark_on_light = rng.below(2) == 1;
    let (paper, ink) = if dark_on_light {
        (200 + rng.below(56) as u8, rng.below(60) as u8)
    } else {
        (rng.below(40) as u8, 200 + rng.below(56) as u8)
    };

    // The ink's bounding box in the 28×28 image.
    let lit = |i: usize| digit[i] != 0;
    let xs: Vec<usize> = (0..784).filter(|&i| lit(i)).map(|i| i % 28).collect();
    let ys: Vec<usize> = (0..784).filter(|&i| lit(i)).map(|i| i / 28).collect();
    let (x0, x1) = (*xs.iter().min().expect("ink"), *xs.iter().max().unwrap());
    let (y0, y1) = (*ys.iter().min().unwrap(), *ys.iter().max().unwrap());
    let (bw, bh) = ((x1 - x0 + 1) as f64, (y1 - y0 + 1) as f64);

    let wanted = uniform(rng, HEIGHT_RANGE.0, HEIGHT_RANGE.1);
    let scale = (wanted * height as f64 / bh).min(0.95 * width as f64 / bw);
    let fraction = bh * scale / height as f64;
    let (sw, sh) = (bw * scale, bh * scale);
    let ox = uniform(rng, 0.0, width as f64 - sw);
    let oy = uniform(rng, 0.0, height as f64 - sh);

    // Each canvas pixel centre maps back into the digit; bilinear between pixel centres.
    let mut coverage = vec![0.0; width * height];
    let (cx0, cx1) = ((ox - scale).floor().max(0.0) as usize, ((ox + sw + scale).ceil() as usize).min(width));
    let (cy0, cy1) = ((oy - scale).floor().max(0.0) as usize, ((oy + sh + scale).ceil() as usize).min(height));
    for y in cy0..cy1 {
        let sy = y0 as f64 + (y as f64 + 0.5 - oy) / scale - 0.5;
        let (fy, ty) = (sy.floor(), sy - sy.floor());
        for x in cx0..cx1 {
            let sx = x0 as f64 + (x as f64 + 0.5 - ox) / scale - 0.5;
            let (fx, tx) = (sx.floor(), sx - sx.floor());
            let (ix, iy) = (fx as isize, fy as isize);
            let top = pixel(digit, ix, iy) * (1.0 - tx) + pixel(digit, ix + 1, iy) * tx;
            let bottom = pixel(digit, ix, iy + 1) * (1.0 - tx) + pixel(digit, ix + 1, iy + 1) * tx;
            coverage[y * width + x] = top * (1.0 - ty) + bottom * ty;
        }
    }
    Redrawn { width, height, coverage, paper, ink, dark_on_light, fraction, format }
}

/// Counts of right answers, overall and by kind of redrawing.
#[derive(Default, Debug)]
pub struct Tally {
    pub total: usize,
    /// The original 28×28 images, classified as they are.
    pub direct: usize,
    /// The redrawn files through `io::image::load` and `preprocess`.
    pub ours: usize,
    /// The redrawn canvases resized whole to 28×28 ([`naive_resize`]).
    pub naive: usize,
    /// Redrawn images `preprocess` called empty (each counts as wrong).
    pub empty: usize,
    /// (label, total, ours right, naive right) by polarity, format, canvas shape and size.
    pub groups: Vec<(String, usize, usize, usize)>,
}

impl Tally {
    pub fn percent(count: usize, total: usize) -> f64 {
        100.0 * count as f64 / total.max(1) as f64
    }

    fn count(&mut self, label: String, ours: bool, naive: bool) {
        let i = match self.groups.iter().position(|g| g.0 == label) {
            Some(i) => i,
            None => {
                self.groups.push((label, 0, 0, 0));
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[i];
        g.1 += 1;
        g.2 += ours as usize;
        g.3 += naive as usize;
    }

    /// A Markdown table of every group.
    pub fn table(&self) -> String {
        let mut out =
            String::from("| redrawn images | count | MNIST preprocessing | naive resize |\n|---|---|---|---|\n");
        let row = |label: &str, n: usize, ours: usize, naive: usize| {
            format!(
                "| {label} | {n} | {:.2}% ({ours}) | {:.2}% ({naive}) |\n",
                Tally::percent(ours, n),
                Tally::percent(naive, n)
            )
        };
        out += &row("**all**", self.total, self.ours, self.naive);
        let mut groups: Vec<_> = self.groups.iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        for (label, n, ours, naive) in groups {
            out += &row(label, *n, *ours, *naive);
        }
        out
    }
}

/// Redraws each `(digit, label)`, writes it to a file in `dir`, reads it back with
/// `mnistlearn::io::image::load`, and classifies it through `preprocess` and through the naive
/// whole-canvas resize; the originals are classified too. Image `i` uses seed `seed + i`.
pub fn measure(
    net: &mnistlearn_core::nn::Network,
    level: mnistlearn_core::math::SimdLevel,
    digits: &[(Vec<u8>, u8)],
    dir: &std::path::Path,
    seed: u64,
) -> Tally {
    use mnistlearn_core::data::preprocess::{naive_resize, preprocess, Seen};
    use mnistlearn_core::nn::argmax;
    let mut tally = Tally::default();
    for (i, (digit, label)) in digits.iter().enumerate() {
        let label = *label as usize;
        let redrawn = redraw(digit, i, &mut Rng::from_seed(seed + i as u64));
        let path = dir.join(format!("{i:05}-{label}.{}", redrawn.format.extension()));
        std::fs::write(&path, redrawn.encode()).expect("write a redrawn image");
        let image = mnistlearn::io::image::load(&path).unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_file(&path).expect("remove a redrawn image");
        assert_eq!((image.width(), image.height()), (redrawn.width, redrawn.height));

        let ours = match preprocess(&image) {
            Seen::Digit(d) => argmax(&net.predict(level, &d.pixels)) == label,
            Seen::Empty | Seen::TooSmall { .. } => {
                tally.empty += 1;
                false
            }
        };
        let naive = argmax(&net.predict(level, &naive_resize(&image))) == label;
        tally.total += 1;
        tally.direct += (argmax(&net.predict(level, digit)) == label) as usize;
        tally.ours += ours as usize;
        tally.naive += naive as usize;
        let polarity = if redrawn.dark_on_light { "dark on light" } else { "light on dark" };
        let shape = if redrawn.width == redrawn.height { "square canvas" } else { "non-square canvas" };
        let size = match redrawn.fraction {
            f if f < 0.45 => "height 25–45%",
            f if f < 0.65 => "height 45–65%",
            _ => "height 65–85%",
        };
        for group in [polarity, shape, size, redrawn.format.name()] {
            tally.count(group.to_string(), ours, naive);
        }
    }
    tally
}
