//! What the network is: its diagram, and what each hidden unit looks for.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use mnistlearn_core::data::Dataset;
use mnistlearn_core::nn::{Network, INPUTS, OUTPUTS};

use super::style::*;

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

/// Each hidden unit's 784 incoming weights as a 28×28 image, on one diverging colour scale.
pub fn hidden_units(net: &Network) -> Res<String> {
    let rows = hidden_rows(net);
    let (scale, largest) = weight_scale(&rows);
    // Two significant digits, printed without binary-fraction noise.
    let decimals = (1 - scale.log10().floor() as i32).max(0) as usize;
    let shown = format!("{scale:.decimals$}");
    // Up to 64 units, 8 labelled tiles a row; more, smaller tiles without labels, so any H fits
    // the book's width (4,096 units make 128 rows of 32).
    let (columns, tile, gap_x, gap_y, labels) = match rows.len() {
        0..=64 => (8usize, 84i32, 8i32, 24i32, true),
        65..=256 => (16, 40, 4, 4, false),
        _ => (32, 20, 2, 2, false),
    };
    let grid_rows = rows.len().div_ceil(columns);
    let top = 62i32;
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
            if labels {
                text(root, &format!("unit {j}"), (x + tile / 2, y + tile + 10), 12, HPos::Center)?;
            }
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

/// The network reading test image #0: a few of its inputs, the hidden units, the ten outputs
/// with their probabilities.
pub fn network_diagram(net: &Network, test: &Dataset) -> Res<String> {
    let sample = 0usize;
    let probabilities = net.predict(mnistlearn_core::math::SimdLevel::detect(), &test.images.dense(sample));
    let hidden = net.hidden();
    // The nodes drawn for the hidden layer: all of them up to 64, then 64 standing for H.
    let drawn = hidden.min(64);
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
            for j in 0..drawn {
                root.draw(&PathElement::new(vec![(x_in, *y_i), (x_hidden, spread(drawn, j))], edge))?;
            }
        }
        for j in 0..drawn {
            for o in 0..OUTPUTS {
                root.draw(&PathElement::new(vec![(x_hidden, spread(drawn, j)), (x_out, spread(OUTPUTS, o))], edge))?;
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
        for j in 0..drawn {
            root.draw(&Circle::new((x_hidden, spread(drawn, j)), 4, RGBColor(255, 237, 160).filled()))?;
            root.draw(&Circle::new((x_hidden, spread(drawn, j)), 4, INK.stroke_width(1)))?;
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
            (x_in, [format!("{INPUTS} inputs"), "pixel / 255".to_string()]),
            (x_hidden, [format!("{hidden} hidden units"), "σ(W_h·x + b_h)".to_string()]),
            (x_out, [format!("{OUTPUTS} outputs"), "softmax(W_o·h + b_o)".to_string()]),
        ] {
            text(root, &lines[0], (x, label_y), 14, HPos::Center)?;
            text(root, &lines[1], (x, label_y + 18), 13, HPos::Center)?;
        }
        text(root, &format!("W_h: {hidden}×{INPUTS}"), ((x_in + x_hidden) / 2, y0 - 14), 13, HPos::Center)?;
        text(root, &format!("W_o: {OUTPUTS}×{hidden}"), ((x_hidden + x_out) / 2, y0 - 14), 13, HPos::Center)?;
        text(root, "probability", (x_out + 60, y0 - 14), 13, HPos::Center)?;
        Ok(vec![Image { x: img_x, y: img_y, width: img as u32, height: img as u32, png: digit_png(test, sample)? }])
    })
}
