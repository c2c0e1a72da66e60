//! The pictures of one training run (`mnistlearn figures`), as SVG — the training curves (from
//! `train --log`), what each hidden unit looks for (any number of them), the network reading a
//! test image, the confusion heat map and the most confident mistakes on the test set.
//!
//! The book's figures are these, drawn for the default seed-1 run: `cargo xtask figures --check`
//! runs this command on the golden run and compares the files byte for byte, so the drawing is
//! deterministic — no date, no path, no font file, the same bytes on every machine.

mod curves;
pub mod style;
mod test_set;
mod units;

pub use curves::{parse_log, training_curves, EpochRecord};
pub use test_set::{confusion_matrix, misclassified_gallery};
pub use units::{hidden_units, network_diagram};

use mnistlearn_core::data::Dataset;
use mnistlearn_core::nn::evaluate::TestReport;
use mnistlearn_core::nn::Network;

/// One run, as the figures see it.
pub struct Run<'a> {
    pub net: &'a Network,
    /// `train --log`'s records; without them there are no training curves.
    pub log: Option<&'a [EpochRecord]>,
    pub test: &'a Dataset,
    /// `net` evaluated on `test`.
    pub report: &'a TestReport,
}

/// Every figure of `run`, as (file name, SVG bytes), in a fixed order.
pub fn draw(run: &Run) -> style::Res<Vec<(String, Vec<u8>)>> {
    let mut figures = vec![("network.svg", network_diagram(run.net, run.test)?)];
    if let Some(log) = run.log {
        figures.push(("training-curves.svg", training_curves(log, run.net.hidden())?));
    }
    figures.push(("hidden-units.svg", hidden_units(run.net)?));
    figures.push(("confusion.svg", confusion_matrix(run.report)?));
    figures.push(("misclassified.svg", misclassified_gallery(run.report, run.test)?));
    Ok(figures.into_iter().map(|(n, s)| (n.to_string(), s.into_bytes())).collect())
}

#[cfg(test)]
mod tests {
    use super::style::*;
    use super::*;
    use mnistlearn_core::data::shuffle::Rng;
    use mnistlearn_core::nn::INPUTS;

    fn net(hidden: usize) -> Network {
        Network::init(hidden, &mut Rng::from_seed(7))
    }

    #[test]
    fn the_hidden_unit_grid_is_the_same_bytes_twice_and_changes_with_one_weight() {
        let net = net(32);
        let first = hidden_units(&net).unwrap();
        assert_eq!(first, hidden_units(&net).unwrap());
        let mut values = net.to_file_order();
        values[5 * INPUTS + 400] += 0.01; // unit 5, pixel (14, 8)
        let changed = Network::from_file_order(32, &values);
        assert_ne!(first, hidden_units(&changed).unwrap());
    }

    #[test]
    fn figures_carry_no_path_or_time_and_embed_their_pixels() {
        for hidden in [1, 32, 64, 65, 300] {
            let svg = hidden_units(&net(hidden)).unwrap();
            assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
            assert_eq!(svg.matches("<image ").count(), hidden);
            assert_eq!(svg.matches("data:image/png;base64,").count(), hidden);
            let labels = svg.lines().filter(|l| l.starts_with("unit ")).count();
            assert_eq!(labels, if hidden <= 64 { hidden } else { 0 }, "H = {hidden}");
            assert!(
                !svg.contains("/work") && !svg.contains("/home") && !svg.contains("/root") && !svg.contains(".ttf")
            );
        }
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
    fn the_log_is_read_and_bad_lines_are_named() {
        let line = |epoch: u32, extra: &str| {
            format!("{{\"epoch\":{epoch},\"loss\":0.60634,\"train_accuracy\":85.4,\"test_total\":500,\"test_accuracy\":90.0{extra}}}\n")
        };
        let records = parse_log(&(line(1, ",\"seed\":3") + &line(2, ""))).unwrap();
        assert_eq!(
            records[0],
            EpochRecord {
                epoch: 1,
                loss: 0.60634,
                train_accuracy: 85.4,
                test_accuracy: 90.0,
                test_total: 500,
                seed: Some(3)
            }
        );
        assert_eq!(records[1].seed, None);
        assert!(parse_log("").unwrap_err().contains("no epochs"));
        assert!(parse_log("{\"epoch\":1}").unwrap_err().contains("expected a number"));
        assert!(parse_log(&line(2, "")).unwrap_err().contains("expected epoch 1"));
        assert!(parse_log(&line(1, "").replace("90.0", "190.0")).unwrap_err().contains("0 to 100"));
        assert!(parse_log("not json").unwrap_err().starts_with("line 1: "));
    }

    #[test]
    fn the_curves_name_the_run_and_mark_the_original_only_for_its_shape() {
        let log: Vec<EpochRecord> = (1..=30)
            .map(|epoch| EpochRecord {
                epoch,
                loss: 1.0 / epoch as f64,
                train_accuracy: 90.0,
                test_accuracy: 91.0,
                test_total: 10_000,
                seed: Some(1),
            })
            .collect();
        let default_shape = training_curves(&log, 32).unwrap();
        assert!(default_shape.contains("Training the 784-32-10 network (seed 1, 30 epochs)"));
        assert!(default_shape.contains("original (NASM)") && default_shape.contains("10,000 unseen"));
        let wide = training_curves(&log[..5], 64).unwrap();
        assert!(wide.contains("Training the 784-64-10 network (seed 1, 5 epochs)"));
        assert!(!wide.contains("original (NASM)"));
    }
}
