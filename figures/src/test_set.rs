//! How the network does on the test set: the confusion heat map and the gallery of mistakes.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use mnistlearn_core::data::Dataset;
use mnistlearn_core::nn::evaluate::TestReport;
use mnistlearn_core::nn::OUTPUTS;

use super::style::*;

/// The 10×10 counts of (true digit, predicted digit), right ones green, wrong ones red.
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
