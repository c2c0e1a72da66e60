//! `cargo xtask figures [--check]`: the book's figures, drawn from the default seed-1 run.
//!
//! Inputs: `data/weights.bin` and `data/train-log.jsonl`, which `cargo xtask verify` leaves
//! (`mnistlearn train --log`), and the MNIST test set in `data/`. The weights must be the golden
//! run's (their SHA-256 is checked against `golden/full_run.txt`), and the log's loss and
//! training accuracy must print as the golden log prints them, so the figures always show the
//! one deterministic run the book talks about.
//!
//! Output: SVG files in `book/src/figures/` (committed, so `mdbook serve book` shows them with
//! no build step). They are golden files: `--check` draws them again in memory and fails if a
//! byte differs from the committed ones (`verify` runs it after training); the fresh drawings
//! of a failed check are left in `target/figures-check/` to look at.
//!
//! Vector parts are drawn with plotters' SVG backend; pixel images (weights, digits) are PNGs
//! written by the `png` crate and embedded as data URIs. Nothing time- or machine-dependent goes
//! in: no date, no path, and text is `<text>` with a generic font family that the reader's
//! browser renders.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use base64::Engine as _;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use mnistlearn::io::dataset::load_test;
use mnistlearn_core::data::Dataset;
use mnistlearn_core::nn::evaluate::{evaluate, TestReport};
use mnistlearn_core::nn::{Network, INPUTS, OUTPUTS};

type Res<T> = Result<T, Box<dyn Error>>;

use crate::paths::{FIGURES_DIR, GOLDEN, TRAIN_LOG, WEIGHTS};

/// The book's width: every figure is drawn at this width so that 1 SVG pixel is 1 CSS pixel.
const WIDTH: u32 = 750;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(33, 33, 33);
const GRID: RGBColor = RGBColor(225, 225, 225);
const FRAME: RGBColor = RGBColor(190, 190, 190);
const LOSS_COLOUR: RGBColor = RGBColor(31, 119, 180);
const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const TEST_COLOUR: RGBColor = RGBColor(214, 39, 40);
const ORIGINAL_COLOUR: RGBColor = RGBColor(0, 0, 0);

/// The original NASM program's published log (its README): epoch 1 and epoch 30.
const ORIGINAL_EPOCH_1: (f64, f64) = (0.6105, 85.26);
const ORIGINAL_EPOCH_30: (f64, f64) = (0.0788, 97.78);

pub fn run(args: &[String]) -> Result<(), String> {
    let check = crate::util::optional_flag("figures", args, "--check")?;
    let root = crate::paths::project_root();
    let inputs = Inputs::load(&root)?;
    let figures = render_all(&inputs).map_err(|e| format!("figures: drawing failed: {e}"))?;
    let dir = root.join(FIGURES_DIR);
    if check {
        let differing = compare(&dir, &figures);
        if differing.is_empty() {
            println!("figures: the {} figures in {FIGURES_DIR} match the run byte for byte", figures.len());
            return Ok(());
        }
        let fresh = root.join("target/figures-check");
        write_all(&fresh, &figures)?;
        return Err(format!(
            "figures: {} differ from the committed ones: {}\n  fresh drawings are in {}; if the change is meant, \
             run `cargo xtask figures` and commit the figures with the reason",
            differing.len(),
            differing.join(", "),
            fresh.display()
        ));
    }
    write_all(&dir, &figures)?;
    println!("figures: wrote {} figures to {FIGURES_DIR}", figures.len());
    Ok(())
}

// ANCHOR: compare
/// The names of the figures whose committed bytes differ from `figures` (or are missing).
pub fn compare(dir: &Path, figures: &[(String, Vec<u8>)]) -> Vec<String> {
    figures
        .iter()
        .filter(|(name, bytes)| fs::read(dir.join(name)).map_or(true, |old| &old != bytes))
        .map(|(name, _)| name.clone())
        .collect()
}
// ANCHOR_END: compare

fn write_all(dir: &Path, figures: &[(String, Vec<u8>)]) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("figures: {}: {e}", dir.display()))?;
    for (name, bytes) in figures {
        let path = dir.join(name);
        fs::write(&path, bytes).map_err(|e| format!("figures: {}: {e}", path.display()))?;
    }
    Ok(())
}

/// One line of `train --log`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

/// Everything the figures are drawn from.
pub struct Inputs {
    pub net: Network,
    pub log: Vec<EpochRecord>,
    pub test: Dataset,
    pub report: TestReport,
}

impl Inputs {
    fn load(root: &Path) -> Result<Inputs, String> {
        let weights = root.join(WEIGHTS);
        let log_path = root.join(TRAIN_LOG);
        let golden_path = root.join(GOLDEN);
        let hint = "run `cargo xtask verify` first (it trains the default run and writes both)";
        for path in [&weights, &log_path] {
            if !path.exists() {
                return Err(format!("figures: {} not found; {hint}", path.display()));
            }
        }
        let golden =
            fs::read_to_string(&golden_path).map_err(|e| format!("figures: {}: {e}", golden_path.display()))?;
        let golden_sha = golden
            .lines()
            .find_map(|l| l.strip_prefix("weights.bin sha256: "))
            .ok_or_else(|| format!("figures: {} has no 'weights.bin sha256:' line", golden_path.display()))?;
        let sha = crate::fetch::content_sha256(&weights).map_err(|e| format!("figures: {}: {e}", weights.display()))?;
        if sha != golden_sha {
            return Err(format!(
                "figures: {} is not the default seed-1 run's (sha256 {sha}, {} expects {golden_sha}); {hint}",
                weights.display(),
                GOLDEN
            ));
        }
        let log_text = fs::read_to_string(&log_path).map_err(|e| format!("figures: {}: {e}", log_path.display()))?;
        let log = parse_log(&log_text).map_err(|e| format!("figures: {}: {e}", log_path.display()))?;
        check_log_against_golden(&log, &golden).map_err(|e| format!("figures: {}: {e}; {hint}", log_path.display()))?;
        let net = mnistlearn::io::weights::load(&weights).map_err(|e| format!("figures: {e}"))?;
        let test = load_test(&root.join("data")).map_err(|e| format!("figures: {e}"))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let report = evaluate(mnistlearn_core::math::SimdLevel::detect(), &net, &test, threads);
        Ok(Inputs { net, log, test, report })
    }
}

/// Reads `train --log` JSON Lines.
pub fn parse_log(text: &str) -> Result<Vec<EpochRecord>, String> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let number =
            |key: &str| v.get(key).and_then(|x| x.as_f64()).ok_or_else(|| format!("line {}: no number '{key}'", i + 1));
        records.push(EpochRecord {
            epoch: number("epoch")? as usize,
            loss: number("loss")?,
            train_accuracy: number("train_accuracy")?,
            test_accuracy: number("test_accuracy")?,
        });
    }
    if records.is_empty() {
        return Err("no epochs in the log".into());
    }
    Ok(records)
}

/// The log must be the golden run's: each epoch's loss and accuracy print as the golden log does.
fn check_log_against_golden(log: &[EpochRecord], golden: &str) -> Result<(), String> {
    let epochs = crate::util::parse_epochs(&golden.lines().map(str::to_string).collect::<Vec<_>>());
    if epochs.len() != log.len() {
        return Err(format!("{} epochs, the golden run has {}", log.len(), epochs.len()));
    }
    for (r, golden_line) in log.iter().zip(golden.lines().filter(|l| l.starts_with("Epoch "))) {
        let printed = format!("Loss: {:.4} | Accuracy: {:.2}%", r.loss, r.train_accuracy);
        if !golden_line.ends_with(&printed) {
            return Err(format!("epoch {} reads '{printed}', the golden log '{golden_line}'", r.epoch));
        }
    }
    Ok(())
}

/// Every figure, as (file name, bytes), in a fixed order.
pub fn render_all(inputs: &Inputs) -> Res<Vec<(String, Vec<u8>)>> {
    let figures = vec![
        ("network.svg", network_diagram(&inputs.net, &inputs.test)?),
        ("training-curves.svg", training_curves(&inputs.log)?),
        ("hidden-units.svg", hidden_units(&inputs.net)?),
        ("confusion.svg", confusion_matrix(&inputs.report)?),
        ("misclassified.svg", misclassified_gallery(&inputs.report, &inputs.test)?),
        ("exp-ulps.svg", ulp_figure(Function::Exp)?),
        ("ln-ulps.svg", ulp_figure(Function::Ln)?),
    ];
    Ok(figures.into_iter().map(|(n, s)| (n.to_string(), s.into_bytes())).collect())
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// An SVG of `WIDTH × height` on an opaque white card with a thin grey frame, so it reads the
/// same on mdBook's light and dark themes. `images` are placed after plotters' drawing.
fn card(height: u32, draw: impl FnOnce(&Area) -> Res<Vec<Image>>) -> Res<String> {
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
struct Image {
    x: i32,
    y: i32,
    width: u32,
    height: u32,
    png: Vec<u8>,
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
    Ok(mnistlearn::io::image::encode_png(width, height, colour, png::BitDepth::Eight, pixels)?)
}

/// A digit as dark ink on white paper (MNIST stores white ink on black).
fn digit_png(data: &Dataset, index: usize) -> Res<Vec<u8>> {
    let ink: Vec<u8> = data.images.dense(index).iter().map(|&p| 255 - p).collect();
    png_bytes(28, 28, png::ColorType::Grayscale, &ink)
}

fn text_style(size: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour).pos(Pos::new(h, v))
}

fn text(area: &Area, s: &str, at: (i32, i32), size: u32, h: HPos) -> Res<()> {
    area.draw(&Text::new(s.to_string(), at, text_style(size, INK, h, VPos::Center)))?;
    Ok(())
}

fn title(area: &Area, s: &str) -> Res<()> {
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

// ---------------------------------------------------------------------------------------------
// a. Training curves

pub fn training_curves(log: &[EpochRecord]) -> Res<String> {
    card(640, |root| {
        title(root, "Training the 784-32-10 network (seed 1, 30 epochs)")?;
        let body = root.margin(36, 6, 8, 16);
        let (top, bottom) = body.split_vertically(290);
        let epochs = log.len() as f64;

        let max_loss = log.iter().map(|r| r.loss).fold(ORIGINAL_EPOCH_1.0, f64::max);
        let mut loss = ChartBuilder::on(&top)
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(58)
            .build_cartesian_2d(0.5..epochs + 0.5, 0.0..(max_loss * 1.08))?;
        house_mesh(&mut loss.configure_mesh())
            .x_desc("epoch")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("loss (mean cross-entropy)")
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        loss.draw_series(LineSeries::new(log.iter().map(|r| (r.epoch as f64, r.loss)), LOSS_COLOUR.stroke_width(2)))?
            .label("mnistlearn, training loss")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], LOSS_COLOUR.stroke_width(2)));
        loss.draw_series(log.iter().map(|r| Circle::new((r.epoch as f64, r.loss), 2, LOSS_COLOUR.filled())))?;
        loss.draw_series(
            [(1.0, ORIGINAL_EPOCH_1.0), (30.0, ORIGINAL_EPOCH_30.0)]
                .into_iter()
                .map(|p| Cross::new(p, 6, ORIGINAL_COLOUR.stroke_width(2))),
        )?
        .label("original (NASM), published epochs 1 and 30")
        .legend(|(x, y)| Cross::new((x + 10, y), 5, ORIGINAL_COLOUR.stroke_width(2)));
        draw_legend(&mut loss, SeriesLabelPosition::UpperRight)?;

        let low = log.iter().map(|r| r.train_accuracy.min(r.test_accuracy)).fold(ORIGINAL_EPOCH_1.1, f64::min);
        let mut acc = ChartBuilder::on(&bottom)
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(58)
            .build_cartesian_2d(0.5..epochs + 0.5, (low - 1.0).floor()..100.0)?;
        house_mesh(&mut acc.configure_mesh())
            .x_desc("epoch")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("accuracy (%)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        acc.draw_series(LineSeries::new(
            log.iter().map(|r| (r.epoch as f64, r.train_accuracy)),
            TRAIN_COLOUR.stroke_width(2),
        ))?
        .label("training accuracy (during the epoch)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TRAIN_COLOUR.stroke_width(2)));
        acc.draw_series(log.iter().map(|r| Circle::new((r.epoch as f64, r.train_accuracy), 2, TRAIN_COLOUR.filled())))?;
        acc.draw_series(LineSeries::new(
            log.iter().map(|r| (r.epoch as f64, r.test_accuracy)),
            TEST_COLOUR.stroke_width(2),
        ))?
        .label("test accuracy (10,000 unseen images, after the epoch)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TEST_COLOUR.stroke_width(2)));
        acc.draw_series(
            log.iter().map(|r| TriangleMarker::new((r.epoch as f64, r.test_accuracy), 4, TEST_COLOUR.filled())),
        )?;
        acc.draw_series(
            [(1.0, ORIGINAL_EPOCH_1.1), (30.0, ORIGINAL_EPOCH_30.1)]
                .into_iter()
                .map(|p| Cross::new(p, 6, ORIGINAL_COLOUR.stroke_width(2))),
        )?
        .label("original (NASM), published training accuracy")
        .legend(|(x, y)| Cross::new((x + 10, y), 5, ORIGINAL_COLOUR.stroke_width(2)));
        draw_legend(&mut acc, SeriesLabelPosition::LowerRight)?;
        Ok(vec![])
    })
}

// ---------------------------------------------------------------------------------------------
// b. The hidden units' weights

/// The hidden weights in weights.bin order: row `j` holds unit `j`'s 784 incoming weights.
fn hidden_rows(net: &Network) -> Vec<Vec<f64>> {
    let values = net.to_file_order();
    values[..net.hidden() * INPUTS].chunks_exact(INPUTS).map(|c| c.to_vec()).collect()
}

/// The shared colour scale of the grid: the 99.5th percentile of |w| over all hidden weights,
/// rounded up to two significant digits so the stated number is exact. Scaling to the largest
/// |w| instead would let a handful of outliers wash every image out to near-white.
fn weight_scale(rows: &[Vec<f64>]) -> (f64, f64) {
    let mut magnitudes: Vec<f64> = rows.iter().flatten().map(|w| w.abs()).collect();
    magnitudes.sort_by(f64::total_cmp);
    let largest = magnitudes.last().copied().unwrap_or(0.0);
    let at = magnitudes[(magnitudes.len() * 995 / 1000).min(magnitudes.len() - 1)];
    if at <= 0.0 {
        return (1.0, largest);
    }
    let step = 10f64.powf(at.log10().floor() - 1.0);
    ((at / step).ceil() * step, largest)
}

pub fn hidden_units(net: &Network) -> Res<String> {
    let rows = hidden_rows(net);
    let (scale, largest) = weight_scale(&rows);
    // Two significant digits, printed without binary-fraction noise.
    let decimals = (1 - scale.log10().floor() as i32).max(0) as usize;
    let shown = format!("{scale:.decimals$}");
    let columns = 8usize;
    let grid_rows = rows.len().div_ceil(columns);
    let (tile, gap_x, gap_y, top) = (84i32, 8i32, 24i32, 62i32);
    let grid_w = columns as i32 * tile + (columns as i32 - 1) * gap_x;
    let left = (WIDTH as i32 - grid_w) / 2;
    let bar_y = top + grid_rows as i32 * (tile + gap_y) + 14;
    let height = (bar_y + 70) as u32;
    card(height, |root| {
        title(
            root,
            &format!(
                "What the {} hidden units look for: each unit's 784 incoming weights as a 28×28 image",
                rows.len()
            ),
        )?;
        text(
            root,
            "red: a lit pixel raises the unit's sum, blue: lowers it, white: no effect; one colour scale for all units",
            (WIDTH as i32 / 2, 42),
            13,
            HPos::Center,
        )?;
        let mut images = Vec::new();
        for (j, row) in rows.iter().enumerate() {
            let (c, r) = ((j % columns) as i32, (j / columns) as i32);
            let x = left + c * (tile + gap_x);
            let y = top + r * (tile + gap_y);
            let pixels: Vec<u8> = row.iter().flat_map(|&w| diverging(w / scale)).collect();
            images.push(Image {
                x,
                y,
                width: tile as u32,
                height: tile as u32,
                png: png_bytes(28, 28, png::ColorType::Rgb, &pixels)?,
            });
            root.draw(&Rectangle::new([(x - 1, y - 1), (x + tile, y + tile)], FRAME.stroke_width(1)))?;
            text(root, &format!("unit {j}"), (x + tile / 2, y + tile + 10), 12, HPos::Center)?;
        }
        // The colour bar, with the scale stated.
        let (bar_left, bar_w, bar_h) = (WIDTH as i32 / 2 - 200, 400i32, 14i32);
        for i in 0..bar_w {
            let t = (i as f64 + 0.5) / bar_w as f64 * 2.0 - 1.0;
            let [r, g, b] = diverging(t);
            root.draw(&Rectangle::new(
                [(bar_left + i, bar_y), (bar_left + i + 1, bar_y + bar_h)],
                RGBColor(r, g, b).filled(),
            ))?;
        }
        root.draw(&Rectangle::new([(bar_left, bar_y), (bar_left + bar_w, bar_y + bar_h)], FRAME.stroke_width(1)))?;
        for (label, x) in [
            (format!("−{shown}"), bar_left),
            ("0".to_string(), bar_left + bar_w / 2),
            (format!("+{shown}"), bar_left + bar_w),
        ] {
            root.draw(&PathElement::new(vec![(x, bar_y + bar_h), (x, bar_y + bar_h + 4)], INK.stroke_width(1)))?;
            text(root, &label, (x, bar_y + bar_h + 14), 13, HPos::Center)?;
        }
        text(root, "weight", (bar_left - 10, bar_y + bar_h / 2), 13, HPos::Right)?;
        text(
            root,
            &format!(
                "colours saturate at ±{shown}, which holds 99.5% of the weights (the largest |w| is {largest:.2})"
            ),
            (WIDTH as i32 / 2, bar_y + bar_h + 34),
            13,
            HPos::Center,
        )?;
        Ok(images)
    })
}

// ---------------------------------------------------------------------------------------------
// c. The confusion matrix

pub fn confusion_matrix(report: &TestReport) -> Res<String> {
    let cell = 50i32;
    let (left, top) = ((WIDTH as i32 - 10 * cell) / 2 + 20, 96i32);
    let height = (top + 10 * cell + 44) as u32;
    let off_max = (0..OUTPUTS)
        .flat_map(|t| (0..OUTPUTS).filter(move |&p| p != t).map(move |p| (t, p)))
        .map(|(t, p)| report.confusion[t][p])
        .max()
        .unwrap_or(0)
        .max(1);
    let diag_max = (0..OUTPUTS).map(|d| report.confusion[d][d]).max().unwrap_or(0).max(1);
    card(height, |root| {
        title(root, &format!("Confusion matrix on the test set: {} of {} right", report.correct, report.total))?;
        text(
            root,
            &format!("green: right (darker = more), red: wrong, shaded up to the largest mistake count ({off_max})"),
            (WIDTH as i32 / 2, 42),
            13,
            HPos::Center,
        )?;
        text(root, "predicted digit", (left + 5 * cell, top - 34), 14, HPos::Center)?;
        root.draw(&Text::new(
            "true digit".to_string(),
            (left - 40, top + 5 * cell),
            text_style(14, INK, HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
        ))?;
        for d in 0..OUTPUTS as i32 {
            text(root, &d.to_string(), (left + d * cell + cell / 2, top - 14), 14, HPos::Center)?;
            text(root, &d.to_string(), (left - 14, top + d * cell + cell / 2), 14, HPos::Center)?;
        }
        for t in 0..OUTPUTS {
            for p in 0..OUTPUTS {
                let count = report.confusion[t][p];
                let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
                // Shade from white to the full colour; the text turns white on the dark end.
                let (full, share) = if t == p {
                    ((35.0, 139.0, 69.0), count as f64 / diag_max as f64)
                } else {
                    ((203.0, 24.0, 29.0), count as f64 / off_max as f64)
                };
                let mix = |c: f64| (255.0 + (c - 255.0) * share).round() as u8;
                let fill = RGBColor(mix(full.0), mix(full.1), mix(full.2));
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], fill.filled()))?;
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], GRID.stroke_width(1)))?;
                let colour = if share > 0.55 {
                    WHITE
                } else if count == 0 {
                    RGBColor(170, 170, 170)
                } else {
                    INK
                };
                root.draw(&Text::new(
                    count.to_string(),
                    (x + cell / 2, y + cell / 2),
                    text_style(if t == p { 14 } else { 13 }, colour, HPos::Center, VPos::Center),
                ))?;
            }
        }
        root.draw(&Rectangle::new([(left, top), (left + 10 * cell, top + 10 * cell)], INK.stroke_width(1)))?;
        text(
            root,
            "rows sum to each digit's count in the test set; the diagonal is the correct count",
            (WIDTH as i32 / 2, top + 10 * cell + 24),
            13,
            HPos::Center,
        )?;
        Ok(vec![])
    })
}

// ---------------------------------------------------------------------------------------------
// d. A gallery of mistakes

/// How many mistakes the gallery shows: the most confident ones.
const GALLERY: usize = 32;

pub fn misclassified_gallery(report: &TestReport, test: &Dataset) -> Res<String> {
    let mut errors = report.errors.clone();
    // Most confident first; ties (there are none in practice) by index, so the order is total.
    errors.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.index.cmp(&b.index)));
    errors.truncate(GALLERY);
    let columns = 8i32;
    let (tile_w, tile_h, image, top) = (90i32, 112i32, 56i32, 60i32);
    let left = (WIDTH as i32 - columns * tile_w) / 2;
    let rows = (errors.len() as i32 + columns - 1) / columns;
    let height = (top + rows * tile_h + 12) as u32;
    card(height, |root| {
        title(
            root,
            &format!("The {} most confident mistakes on the test set (of {})", errors.len(), report.errors.len()),
        )?;
        text(
            root,
            "true digit → predicted digit, the probability the network gave its answer, and the test image's index",
            (WIDTH as i32 / 2, 42),
            13,
            HPos::Center,
        )?;
        let mut images = Vec::new();
        for (i, e) in errors.iter().enumerate() {
            let (c, r) = (i as i32 % columns, i as i32 / columns);
            let x = left + c * tile_w + (tile_w - image) / 2;
            let y = top + r * tile_h;
            images.push(Image { x, y, width: image as u32, height: image as u32, png: digit_png(test, e.index)? });
            root.draw(&Rectangle::new([(x - 1, y - 1), (x + image, y + image)], FRAME.stroke_width(1)))?;
            let centre = left + c * tile_w + tile_w / 2;
            root.draw(&Text::new(
                format!("{} → {}", e.label, e.predicted),
                (centre, y + image + 13),
                text_style(15, INK, HPos::Center, VPos::Center),
            ))?;
            text(
                root,
                &format!("{:.1}% · #{}", e.confidence * 100.0, e.index),
                (centre, y + image + 31),
                12,
                HPos::Center,
            )?;
        }
        Ok(images)
    })
}

// ---------------------------------------------------------------------------------------------
// e. exp and ln against the correctly rounded result, in ulps

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Exp,
    Ln,
}

/// Per bin of the domain: (bin centre, share of samples at −1, share at +1 ulp, worst |ulps|).
struct UlpBins {
    centres: Vec<f64>,
    below: Vec<f64>,
    above: Vec<f64>,
    worst: i64,
    samples: usize,
}

/// Samples each bin evenly. For exp the axis is x over its whole finite, non-zero range; for ln
/// it is log2(x) over every binade, normal and subnormal.
fn ulp_bins(f: Function, bins: usize, per_bin: usize) -> Res<UlpBins> {
    let (lo, hi) = match f {
        Function::Exp => (-745.0, 709.7),
        Function::Ln => (-1074.0, 1024.0),
    };
    let mut out = UlpBins { centres: vec![], below: vec![], above: vec![], worst: 0, samples: 0 };
    for b in 0..bins {
        let (a, z) = (lo + (hi - lo) * b as f64 / bins as f64, lo + (hi - lo) * (b + 1) as f64 / bins as f64);
        let (mut below, mut above) = (0usize, 0usize);
        for s in 0..per_bin {
            let t = a + (z - a) * (s as f64 + 0.5) / per_bin as f64;
            let (ours, reference, input) = match f {
                Function::Exp => (mnistlearn_core::math::exp::exp(t), crate::exact::exp(t), t),
                Function::Ln => {
                    // x = (1 + frac t) · 2^floor(t): every binade, without libm's exp2.
                    let x = (1.0 + (t - t.floor())) * crate::exact::pow2(t.floor() as i32);
                    (mnistlearn_core::math::ln::ln(x), crate::exact::ln(x), x)
                }
            };
            let reference = reference
                .ok_or_else(|| format!("{f:?}({input:e}) is too close to a rounding midpoint for crate::exact"))?;
            let d = crate::exact::ulp_diff(ours, reference);
            out.worst = out.worst.max(d.abs());
            below += (d < 0) as usize;
            above += (d > 0) as usize;
        }
        out.centres.push((a + z) / 2.0);
        out.below.push(100.0 * below as f64 / per_bin as f64);
        out.above.push(100.0 * above as f64 / per_bin as f64);
        out.samples += per_bin;
    }
    Ok(out)
}

pub fn ulp_figure(f: Function) -> Res<String> {
    let (name, x_desc, bins, per_bin) = match f {
        Function::Exp => ("exp", "x", 300, 2000),
        Function::Ln => ("ln", "log₂ x (x from the smallest subnormal to the largest double)", 300, 2000),
    };
    let data = ulp_bins(f, bins, per_bin)?;
    let peak = data.below.iter().chain(&data.above).fold(0.0f64, |m, &v| m.max(v));
    let y_max = ((peak * 1.3) / 2.0).ceil().max(1.0) * 2.0;
    card(420, |root| {
        title(root, &format!("Our {name} against the correctly rounded result, in ulps"))?;
        text(
            root,
            &format!(
                "{} inputs in {} bins; worst difference: {} ulp; the rest of each bin is exactly equal",
                group_thousands(data.samples),
                bins,
                data.worst
            ),
            (WIDTH as i32 / 2, 42),
            13,
            HPos::Center,
        )?;
        let body = root.margin(52, 6, 8, 16);
        let half = (data.centres[1] - data.centres[0]) / 2.0;
        let (lo, hi) = (data.centres[0] - half, data.centres[data.centres.len() - 1] + half);
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(58)
            .build_cartesian_2d(lo..hi, -y_max..y_max)?;
        house_mesh(&mut chart.configure_mesh())
            .x_desc(x_desc)
            .y_desc("share of the bin's inputs (%)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            // Both directions are shares: the axis counts up from zero each way.
            .y_label_formatter(&|v| format!("{:.0}", v.abs()))
            .draw()?;
        // Mirrored bars, one per bin: above the correctly rounded result upwards, below downwards.
        for (values, sign, colour) in [(&data.above, 1.0, TEST_COLOUR), (&data.below, -1.0, TRAIN_COLOUR)] {
            chart.draw_series(
                data.centres
                    .iter()
                    .zip(values.iter())
                    .filter(|(_, &v)| v > 0.0)
                    .map(|(&c, &v)| Rectangle::new([(c - half, 0.0), (c + half, sign * v)], colour.filled())),
            )?;
        }
        chart.draw_series(LineSeries::new([(lo, 0.0), (hi, 0.0)], INK.stroke_width(1)))?;
        let area = chart.plotting_area();
        let at = lo + (hi - lo) * 0.02;
        area.draw(&Text::new(
            "↑ ours 1 ulp above",
            (at, y_max * 0.9),
            text_style(14, TEST_COLOUR, HPos::Left, VPos::Center),
        ))?;
        area.draw(&Text::new(
            "↓ ours 1 ulp below",
            (at, -y_max * 0.9),
            text_style(14, TRAIN_COLOUR, HPos::Left, VPos::Center),
        ))?;
        Ok(vec![])
    })
}

/// Every chart's grid and axes: no minor lines, light major lines, dark axes and labels.
fn house_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK)
        .label_style((FONT, 13).into_font().color(&INK))
        .axis_desc_style((FONT, 14).into_font().color(&INK))
}

/// Every chart's legend: the labelled series in a framed white box at `position`.
fn draw_legend<'a, CT: CoordTranslate>(
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

fn group_thousands(n: usize) -> String {
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

// ---------------------------------------------------------------------------------------------
// f. The network

pub fn network_diagram(net: &Network, test: &Dataset) -> Res<String> {
    let sample = 0usize;
    let probabilities = net.predict(mnistlearn_core::math::SimdLevel::detect(), &test.images.dense(sample));
    let hidden = net.hidden();
    let height = 470u32;
    let (x_in, x_hidden, x_out) = (250i32, 430i32, 600i32);
    let (y0, y1) = (70i32, 400i32);
    let spread = |count: usize, i: usize| y0 + ((y1 - y0) as f64 * (i as f64 + 0.5) / count as f64).round() as i32;
    // The inputs: a few nodes and a gap, standing for 784.
    let shown_inputs: Vec<(i32, String)> = {
        let picks = [0usize, 1, 2, 3, 4, 5, 778, 779, 780, 781, 782, 783];
        picks
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let slot = if i < 6 { i } else { i + 3 };
                (spread(15, slot), format!("x{k}"))
            })
            .collect()
    };
    card(height, |root| {
        title(root, &format!("The {INPUTS}-{hidden}-{OUTPUTS} network, reading test image #{sample}"))?;
        let edge = RGBColor(200, 200, 200).stroke_width(1);
        for (y_i, _) in &shown_inputs {
            for j in 0..hidden {
                root.draw(&PathElement::new(vec![(x_in, *y_i), (x_hidden, spread(hidden, j))], edge))?;
            }
        }
        for j in 0..hidden {
            for o in 0..OUTPUTS {
                root.draw(&PathElement::new(vec![(x_hidden, spread(hidden, j)), (x_out, spread(OUTPUTS, o))], edge))?;
            }
        }
        // The image, and where its pixels go.
        let (img_x, img_y, img) = (30i32, 170i32, 140i32);
        root.draw(&Rectangle::new([(img_x - 1, img_y - 1), (img_x + img, img_y + img)], FRAME.stroke_width(1)))?;
        text(root, "28×28 pixels, row by row", (img_x + img / 2, img_y + img + 16), 13, HPos::Center)?;
        root.draw(&PathElement::new(
            vec![(img_x + img + 8, img_y + img / 2), (x_in - 40, img_y + img / 2)],
            INK.stroke_width(2),
        ))?;
        root.draw(&PathElement::new(
            vec![(x_in - 48, img_y + img / 2 - 5), (x_in - 40, img_y + img / 2), (x_in - 48, img_y + img / 2 + 5)],
            INK.stroke_width(2),
        ))?;
        for (y, label) in &shown_inputs {
            root.draw(&Circle::new((x_in, *y), 6, WHITE.filled()))?;
            root.draw(&Circle::new((x_in, *y), 6, INK.stroke_width(1)))?;
            text(root, label, (x_in - 12, *y), 12, HPos::Right)?;
        }
        for dot in 0..3 {
            root.draw(&Circle::new((x_in, spread(15, 6) + 14 + dot * 12), 2, INK.filled()))?;
        }
        for j in 0..hidden {
            root.draw(&Circle::new((x_hidden, spread(hidden, j)), 4, RGBColor(255, 237, 160).filled()))?;
            root.draw(&Circle::new((x_hidden, spread(hidden, j)), 4, INK.stroke_width(1)))?;
        }
        let predicted = mnistlearn_core::nn::argmax(&probabilities);
        for (o, &p) in probabilities.iter().enumerate() {
            let y = spread(OUTPUTS, o);
            let fill = if o == predicted { TEST_COLOUR } else { WHITE };
            root.draw(&Circle::new((x_out, y), 9, fill.filled()))?;
            root.draw(&Circle::new((x_out, y), 9, INK.stroke_width(1)))?;
            root.draw(&Text::new(
                o.to_string(),
                (x_out, y),
                text_style(12, if o == predicted { WHITE } else { INK }, HPos::Center, VPos::Center),
            ))?;
            // The probability as a bar and a number.
            let bar = (p * 70.0).round() as i32;
            root.draw(&Rectangle::new(
                [(x_out + 16, y - 5), (x_out + 16 + bar.max(1), y + 5)],
                TEST_COLOUR.mix(0.8).filled(),
            ))?;
            text(root, &format!("{:.3}", p), (x_out + 92, y), 12, HPos::Left)?;
        }
        let label_y = y1 + 22;
        for (x, lines) in [
            (x_in, ["784 inputs", "pixel / 255"]),
            (x_hidden, ["32 hidden units", "σ(W_h·x + b_h)"]),
            (x_out, ["10 outputs", "softmax(W_o·h + b_o)"]),
        ] {
            text(root, lines[0], (x, label_y), 14, HPos::Center)?;
            text(root, lines[1], (x, label_y + 18), 13, HPos::Center)?;
        }
        text(root, "W_h: 32×784", ((x_in + x_hidden) / 2, y0 - 14), 13, HPos::Center)?;
        text(root, "W_o: 10×32", ((x_hidden + x_out) / 2, y0 - 14), 13, HPos::Center)?;
        text(root, "probability", (x_out + 60, y0 - 14), 13, HPos::Center)?;
        Ok(vec![Image { x: img_x, y: img_y, width: img as u32, height: img as u32, png: digit_png(test, sample)? }])
    })
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use mnistlearn_core::data::shuffle::Rng;

    fn small_net() -> Network {
        Network::init(32, &mut Rng::from_seed(7))
    }

    #[test]
    fn the_hidden_unit_grid_is_the_same_bytes_twice_and_changes_with_one_weight() {
        let net = small_net();
        let first = hidden_units(&net).unwrap();
        assert_eq!(first, hidden_units(&net).unwrap());
        let mut values = net.to_file_order();
        values[5 * INPUTS + 400] += 0.01; // unit 5, pixel (14, 8)
        let changed = Network::from_file_order(32, &values);
        assert_ne!(first, hidden_units(&changed).unwrap());
    }

    #[test]
    fn a_check_reports_exactly_the_figures_whose_bytes_differ() {
        let dir = tempfile::tempdir().unwrap();
        let figures = vec![("a.svg".to_string(), b"<svg/>".to_vec()), ("b.svg".to_string(), b"<svg></svg>".to_vec())];
        write_all(dir.path(), &figures).unwrap();
        assert!(compare(dir.path(), &figures).is_empty());
        let mut changed = figures.clone();
        changed[1].1[1] = b'S';
        assert_eq!(compare(dir.path(), &changed), vec!["b.svg".to_string()]);
        fs::remove_file(dir.path().join("a.svg")).unwrap();
        assert_eq!(compare(dir.path(), &figures), vec!["a.svg".to_string()]);
    }

    #[test]
    fn figures_carry_no_path_or_time_and_embed_their_pixels() {
        let svg = hidden_units(&small_net()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert_eq!(svg.matches("<image ").count(), 32);
        assert_eq!(svg.matches("data:image/png;base64,").count(), 32);
        assert!(!svg.contains("/work") && !svg.contains("/home") && !svg.contains("/root") && !svg.contains(".ttf"));
    }

    #[test]
    fn the_colour_map_is_blue_below_white_at_zero_red_above_and_saturates() {
        assert_eq!(diverging(0.0), [247, 247, 247]);
        assert_eq!(diverging(-1.0), [5, 48, 97]);
        assert_eq!(diverging(1.0), [103, 0, 31]);
        assert_eq!(diverging(7.0), diverging(1.0));
        let [r, _, b] = diverging(-0.3);
        assert!(b > r);
        let [r, _, b] = diverging(0.3);
        assert!(r > b);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(7), "7");
        assert_eq!(group_thousands(600), "600");
        assert_eq!(group_thousands(6000), "6,000");
        assert_eq!(group_thousands(600000), "600,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
    }

    #[test]
    fn the_log_is_read_and_must_match_the_golden_run() {
        let log = "{\"epoch\":1,\"loss\":0.60634,\"train_correct\":51240,\"train_total\":60000,\"train_accuracy\":85.4,\"test_correct\":9000,\"test_total\":10000,\"test_accuracy\":90.0,\"elapsed_s\":0.1}\n";
        let records = parse_log(log).unwrap();
        assert_eq!(records, vec![EpochRecord { epoch: 1, loss: 0.60634, train_accuracy: 85.4, test_accuracy: 90.0 }]);
        let golden = "Epoch 1/1 | Loss: 0.6063 | Accuracy: 85.40%\n";
        assert!(check_log_against_golden(&records, golden).is_ok());
        let other = "Epoch 1/1 | Loss: 0.6064 | Accuracy: 85.40%\n";
        assert!(check_log_against_golden(&records, other).unwrap_err().contains("epoch 1"));
        assert!(parse_log("").is_err());
        assert!(parse_log("{\"epoch\":1}").unwrap_err().contains("loss"));
    }
}
