//! The training curves, from `train --log`'s JSON Lines.

use plotters::prelude::*;

use super::style::*;

/// The original NASM program's published log (its README): epoch 1 and epoch 30.
const ORIGINAL_EPOCH_1: (f64, f64) = (0.6105, 85.26);
const ORIGINAL_EPOCH_30: (f64, f64) = (0.0788, 97.78);

/// One line of `train --log`: what the curves need of it.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub test_total: usize,
    /// Logs written before the seed was recorded have none.
    pub seed: Option<u64>,
}

/// Reads `train --log` JSON Lines: epochs 1, 2, … in order, finite losses, accuracies in
/// 0–100. Errors name the line and what was expected there.
pub fn parse_log(text: &str) -> Result<Vec<EpochRecord>, String> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let number = |key: &str| {
            v.get(key).and_then(|x| x.as_f64()).ok_or_else(|| format!("line {}: expected a number '{key}'", i + 1))
        };
        let percent = |key: &str| {
            let p = number(key)?;
            match (0.0..=100.0).contains(&p) {
                true => Ok(p),
                false => Err(format!("line {}: '{key}' is {p}, expected a percentage from 0 to 100", i + 1)),
            }
        };
        let epoch = number("epoch")?;
        if epoch != (records.len() + 1) as f64 {
            return Err(format!("line {}: epoch {epoch}, expected epoch {}", i + 1, records.len() + 1));
        }
        let test_total = number("test_total")?;
        if !(test_total >= 1.0 && test_total.fract() == 0.0) {
            return Err(format!("line {}: 'test_total' is {test_total}, expected a count of images", i + 1));
        }
        records.push(EpochRecord {
            epoch: records.len() + 1,
            loss: number("loss")?,
            train_accuracy: percent("train_accuracy")?,
            test_accuracy: percent("test_accuracy")?,
            test_total: test_total as usize,
            seed: v.get("seed").and_then(|s| s.as_u64()),
        });
    }
    if records.is_empty() {
        return Err("no epochs in the log".into());
    }
    Ok(records)
}

/// The loss above, the training and test accuracy below, one point per epoch. The original's
/// published epochs 1 and 30 are marked when the run is the original's shape (784-32-10, 30
/// epochs), the only runs they are a yardstick for.
pub fn training_curves(log: &[EpochRecord], hidden: usize) -> Res<String> {
    let originals = hidden == 32 && log.len() == 30;
    let run = match log[0].seed {
        Some(seed) => format!("seed {seed}, {} epochs", log.len()),
        None => format!("{} epochs", log.len()),
    };
    let test_images = group_thousands(log[0].test_total);
    card(640, |root| {
        title(root, &format!("Training the 784-{hidden}-10 network ({run})"))?;
        let body = root.margin(36, 6, 8, 16);
        let (top, bottom) = body.split_vertically(290);
        let epochs = log.len() as f64;

        let max_loss = log.iter().map(|r| r.loss).fold(if originals { ORIGINAL_EPOCH_1.0 } else { 0.0 }, f64::max);
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
        if originals {
            loss.draw_series(
                [(1.0, ORIGINAL_EPOCH_1.0), (30.0, ORIGINAL_EPOCH_30.0)]
                    .into_iter()
                    .map(|p| Cross::new(p, 6, ORIGINAL_COLOUR.stroke_width(2))),
            )?
            .label("original (NASM), published epochs 1 and 30")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, ORIGINAL_COLOUR.stroke_width(2)));
        }
        draw_legend(&mut loss, SeriesLabelPosition::UpperRight)?;

        let low = log
            .iter()
            .map(|r| r.train_accuracy.min(r.test_accuracy))
            .fold(if originals { ORIGINAL_EPOCH_1.1 } else { 100.0 }, f64::min);
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
        .label(format!("test accuracy ({test_images} unseen images, after the epoch)"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TEST_COLOUR.stroke_width(2)));
        acc.draw_series(
            log.iter().map(|r| TriangleMarker::new((r.epoch as f64, r.test_accuracy), 4, TEST_COLOUR.filled())),
        )?;
        if originals {
            acc.draw_series(
                [(1.0, ORIGINAL_EPOCH_1.1), (30.0, ORIGINAL_EPOCH_30.1)]
                    .into_iter()
                    .map(|p| Cross::new(p, 6, ORIGINAL_COLOUR.stroke_width(2))),
            )?
            .label("original (NASM), published training accuracy")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, ORIGINAL_COLOUR.stroke_width(2)));
        }
        draw_legend(&mut acc, SeriesLabelPosition::LowerRight)?;
        Ok(vec![])
    })
}
