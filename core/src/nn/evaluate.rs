//! Test-set evaluation — the original's "Test Results" block.

use super::{argmax, forward::forward, Network, OUTPUTS, PIXEL_VALUE};
use crate::data::Dataset;
use crate::math::SimdLevel;

/// Correct and total counts, overall and per true digit, the confusion matrix, and every
/// misclassified sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestReport {
    pub correct: usize,
    pub total: usize,
    pub per_digit_correct: [usize; OUTPUTS],
    pub per_digit_total: [usize; OUTPUTS],
    /// `confusion[true digit][predicted digit]`: sample counts. Its diagonal is
    /// `per_digit_correct`, its row sums `per_digit_total`.
    pub confusion: [[usize; OUTPUTS]; OUTPUTS],
    /// The misclassified samples, in ascending index order.
    pub errors: Vec<Misclassified>,
}

/// One test sample the network got wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Misclassified {
    /// Position in the data set (0-based).
    pub index: usize,
    pub label: u8,
    pub predicted: u8,
    /// The probability the network gave its (wrong) prediction.
    pub confidence: f64,
}

impl TestReport {
    pub fn accuracy_percent(&self) -> f64 {
        100.0 * self.correct as f64 / self.total.max(1) as f64
    }

    pub fn digit_accuracy_percent(&self, digit: usize) -> f64 {
        100.0 * self.per_digit_correct[digit] as f64 / self.per_digit_total[digit].max(1) as f64
    }

    fn merge(&mut self, other: &TestReport) {
        self.correct += other.correct;
        self.total += other.total;
        for d in 0..OUTPUTS {
            self.per_digit_correct[d] += other.per_digit_correct[d];
            self.per_digit_total[d] += other.per_digit_total[d];
            for p in 0..OUTPUTS {
                self.confusion[d][p] += other.confusion[d][p];
            }
        }
        self.errors.extend_from_slice(&other.errors);
    }
}

// ANCHOR: evaluate
/// Classifies every sample of `data`; samples are split between `threads` in contiguous chunks
/// merged in order (counts are integers and errors keep index order, so the split cannot change
/// the result).
pub fn evaluate(level: SimdLevel, net: &Network, data: &Dataset, threads: usize) -> TestReport {
    let threads = threads.clamp(1, data.len().max(1));
    let params = net.params();
    let chunk = |range: std::ops::Range<usize>| {
        let mut report = TestReport::default();
        let mut hidden = vec![0.0; net.hidden()];
        let mut probabilities = [0.0; OUTPUTS];
        let mut value = Vec::with_capacity(super::INPUTS);
        for i in range {
            let image = data.images.get(i);
            value.clear();
            value.extend(image.value.iter().map(|&v| PIXEL_VALUE[v as usize]));
            forward(level, &params, image.index, &value, &mut hidden, &mut probabilities);
            let label = data.labels[i] as usize;
            let predicted = argmax(&probabilities);
            let hit = predicted == label;
            report.total += 1;
            report.correct += hit as usize;
            report.per_digit_total[label] += 1;
            report.per_digit_correct[label] += hit as usize;
            report.confusion[label][predicted] += 1;
            if !hit {
                let confidence = probabilities[predicted];
                report.errors.push(Misclassified {
                    index: i,
                    label: label as u8,
                    predicted: predicted as u8,
                    confidence,
                });
            }
        }
        report
    };
    let n = data.len();
    let mut total = TestReport::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            (1..threads).map(|t| scope.spawn(move || chunk(n * t / threads..n * (t + 1) / threads))).collect();
        total.merge(&chunk(0..n / threads));
        for handle in handles {
            total.merge(&handle.join().expect("evaluation thread panicked"));
        }
    });
    total
}
// ANCHOR_END: evaluate

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fixture::{load_test, load_train};
    use crate::nn::train::{train, TrainConfig};

    /// A network trained two epochs on the fixture: good enough to get most test digits right
    /// and some wrong, so every cell kind of the matrix is exercised.
    fn fixture_report(threads: usize) -> (TestReport, Dataset) {
        let train_set = load_train();
        let test_set = load_test();
        let config = TrainConfig { epochs: 2, threads: 1, ..TrainConfig::default() };
        let net = train(&config, &train_set, |_| {});
        (evaluate(config.level, &net, &test_set, threads), test_set)
    }

    #[test]
    fn confusion_matrix_counts_every_sample_once_and_its_diagonal_is_the_correct_count() {
        let (report, test_set) = fixture_report(3);
        let all: usize = report.confusion.iter().flatten().sum();
        assert_eq!(all, test_set.len());
        assert_eq!(report.total, test_set.len());
        let diagonal: usize = (0..OUTPUTS).map(|d| report.confusion[d][d]).sum();
        assert_eq!(diagonal, report.correct);
        for d in 0..OUTPUTS {
            assert_eq!(report.confusion[d][d], report.per_digit_correct[d], "digit {d}");
            assert_eq!(report.confusion[d].iter().sum::<usize>(), report.per_digit_total[d], "digit {d}");
            let labelled = test_set.labels.iter().filter(|&&l| l as usize == d).count();
            assert_eq!(report.per_digit_total[d], labelled, "digit {d}");
        }
        // The off-diagonal cells are exactly the error list.
        assert_eq!(report.errors.len(), all - diagonal);
        assert!(!report.errors.is_empty() && report.correct > report.total / 2, "{} correct", report.correct);
    }

    #[test]
    fn errors_are_the_misclassified_samples_in_index_order_whatever_the_thread_count() {
        let (report, test_set) = fixture_report(1);
        let (split, _) = fixture_report(4);
        assert_eq!(report, split);
        let mut off_diagonal = [[0usize; OUTPUTS]; OUTPUTS];
        for pair in report.errors.windows(2) {
            assert!(pair[0].index < pair[1].index);
        }
        for e in &report.errors {
            assert_eq!(e.label, test_set.labels[e.index]);
            assert_ne!(e.label, e.predicted);
            assert!(e.confidence > 0.0 && e.confidence <= 1.0);
            off_diagonal[e.label as usize][e.predicted as usize] += 1;
        }
        for (t, row) in off_diagonal.iter().enumerate() {
            for p in (0..OUTPUTS).filter(|&p| p != t) {
                assert_eq!(row[p], report.confusion[t][p], "cell {t},{p}");
            }
        }
    }
}
