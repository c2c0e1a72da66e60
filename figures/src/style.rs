//! The house style every figure shares, the binary's and xtask's alike: a white card of the
//! book's width with a thin frame, one font family, one palette, the same grid, axes and legend,
//! and pixel images embedded as PNG data URIs.
//!
//! Vector parts are drawn with plotters' SVG backend; pixel images (weights, digits) are PNGs
//! written by the `png` crate and embedded as data URIs. Nothing time- or machine-dependent goes
//! in: no date, no path, and text is `<text>` with a generic font family that the reader's
//! browser renders.

use std::error::Error;
use std::fmt::Write as _;

use base64::Engine as _;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use mnistlearn_core::data::Dataset;

pub type Res<T> = Result<T, Box<dyn Error>>;

/// The book's width: every figure is drawn at this width so that 1 SVG pixel is 1 CSS pixel.
pub const WIDTH: u32 = 750;
pub const FONT: &str = "sans-serif";
pub const INK: RGBColor = RGBColor(33, 33, 33);
pub const GRID: RGBColor = RGBColor(225, 225, 225);
pub const FRAME: RGBColor = RGBColor(190, 190, 190);
pub const LOSS_COLOUR: RGBColor = RGBColor(31, 119, 180);
pub const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
pub const TEST_COLOUR: RGBColor = RGBColor(214, 39, 40);
pub const ORIGINAL_COLOUR: RGBColor = RGBColor(0, 0, 0);

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// An SVG of `WIDTH × height` on an opaque white card with a thin grey frame, so it reads the
/// same on mdBook's light and dark themes. `images` are placed after plotters' drawing.
pub fn card(height: u32, draw: impl FnOnce(&Area) -> Res<Vec<Image>>) -> Res<String> {
    let mut out = String::new();
    let images;
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        images = draw(&root)?;
        root.draw(&Rectangle::new([(0, 0), (WIDTH as i32 - 1, height as i32 - 1)], FRAME.stroke_width(1)))?;
        root.present()?;
    }
    let end = out.rfind("</svg>").ok_or("plotters wrote no </svg>")?;
    let mut tail = String::new();
    for image in &images {
        image.write(&mut tail);
    }
    out.insert_str(end, &tail);
    Ok(out)
}

/// A pixel image to embed: plotters' own bitmap element would need the `image` crate (and its
/// decoders); we already write PNGs with `png`, so we place them as `<image>` data URIs.
pub struct Image {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
}

impl Image {
    fn write(&self, out: &mut String) {
        let data = base64::engine::general_purpose::STANDARD.encode(&self.png);
        // Drawn bigger than its pixels: keep them square blocks, not a blur.
        let _ = writeln!(
            out,
            r#"<image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated" href="data:image/png;base64,{data}"/>"#,
            self.x, self.y, self.width, self.height
        );
    }
}

/// An 8-bit PNG (grey or RGB by `colour`) of `width × height` pixels.
pub fn png_bytes(width: u32, height: u32, colour: png::ColorType, pixels: &[u8]) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(colour);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

/// A digit as dark ink on white paper (MNIST stores white ink on black).
pub fn digit_png(data: &Dataset, index: usize) -> Res<Vec<u8>> {
    let ink: Vec<u8> = data.images.dense(index).iter().map(|&p| 255 - p).collect();
    png_bytes(28, 28, png::ColorType::Grayscale, &ink)
}

pub fn text_style(size: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour).pos(Pos::new(h, v))
}

pub fn text(area: &Area, s: &str, at: (i32, i32), size: u32, h: HPos) -> Res<()> {
    area.draw(&Text::new(s.to_string(), at, text_style(size, INK, h, VPos::Center)))?;
    Ok(())
}

pub fn title(area: &Area, s: &str) -> Res<()> {
    area.draw(&Text::new(s.to_string(), (WIDTH as i32 / 2, 20), text_style(17, INK, HPos::Center, VPos::Center)))?;
    Ok(())
}

/// A diverging colour map (ColorBrewer's RdBu, reversed): −1 dark blue, 0 near-white, +1 dark
/// red. Plotters ships sequential maps only; this is five stops and a linear blend.
pub fn diverging(t: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 5] =
        [[5.0, 48.0, 97.0], [67.0, 147.0, 195.0], [247.0, 247.0, 247.0], [214.0, 96.0, 77.0], [103.0, 0.0, 31.0]];
    let u = (t.clamp(-1.0, 1.0) + 1.0) * 2.0; // 0..4
    let i = (u.floor() as usize).min(3);
    let f = u - i as f64;
    let mut rgb = [0u8; 3];
    for (c, out) in rgb.iter_mut().enumerate() {
        *out = (STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f).round() as u8;
    }
    rgb
}

/// Every chart's grid and axes: no minor lines, light major lines, dark axes and labels.
pub fn house_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK)
        .label_style((FONT, 13).into_font().color(&INK))
        .axis_desc_style((FONT, 14).into_font().color(&INK))
}

/// Every chart's legend: the labelled series in a framed white box at `position`.
pub fn draw_legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Res<()> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .label_font((FONT, 14).into_font().color(&INK))
        .background_style(WHITE)
        .border_style(FRAME)
        .draw()?;
    Ok(())
}

pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first].to_string();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}
