//! Test-set evaluation — the original's "Test Results" block.

use super::{argmax, forward::forward, Network, OUTPUTS, PIXEL_VALUE};
use crate::data::Dataset;
use crate::math::SimdLevel;

/// Correct and total counts, overall and per true digit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestReport {
    pub correct: usize,
    pub total: usize,
    pub per_digit_correct: [usize; OUTPUTS],
    pub per_digit_total: [usize; OUTPUTS],
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
        }
    }
}

// ANCHOR: evaluate
/// Classifies every sample of `data`; samples are split between `threads` (counts are integers,
/// so the split cannot change the result).
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
            let hit = argmax(&probabilities) == label;
            report.total += 1;
            report.correct += hit as usize;
            report.per_digit_total[label] += 1;
            report.per_digit_correct[label] += hit as usize;
        }
        report
    };
    let n = data.len();
    let mut total = TestReport::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|t| scope.spawn(move || chunk(n * t / threads..n * (t + 1) / threads)))
            .collect();
        total.merge(&chunk(0..n / threads));
        for handle in handles {
            total.merge(&handle.join().expect("evaluation thread panicked"));
        }
    });
    total
}
// ANCHOR_END: evaluate
