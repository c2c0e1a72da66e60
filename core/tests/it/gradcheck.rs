//! Gradient check: backprop's analytic gradient against central finite differences of the loss,
//! on a tiny network, for every parameter tensor; and the trainer's SGD step equals `w − lr·g`.

use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::data::{Dataset, Images};
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::backward::batch_gradients;
use mnistlearn_core::nn::train::{train, TrainConfig};
use mnistlearn_core::nn::{Network, INPUTS};

fn samples(count: usize, seed: u64) -> Vec<(Vec<u8>, u8)> {
    let mut rng = Rng::from_seed(seed);
    (0..count)
        .map(|i| {
            let pixels = (0..INPUTS).map(|_| if rng.below(4) == 0 { rng.below(256) as u8 } else { 0 }).collect();
            (pixels, (i % 10) as u8)
        })
        .collect()
}

fn loss(net: &Network, data: &[(Vec<u8>, u8)]) -> f64 {
    let refs: Vec<(&[u8], u8)> = data.iter().map(|(p, l)| (p.as_slice(), *l)).collect();
    batch_gradients(SimdLevel::SCALAR, net, &refs).0
}

#[test]
fn backprop_matches_finite_differences_for_every_tensor() {
    let hidden = 5;
    let mut rng = Rng::from_seed(11);
    let mut net = Network::init(hidden, &mut rng);
    // Non-zero biases so their gradients are exercised away from the init point.
    let mut values = net.to_file_order();
    let bias_start = hidden * INPUTS;
    for v in &mut values[bias_start..bias_start + hidden] {
        *v = rng.next_symmetric(0.5);
    }
    let len = values.len();
    for v in &mut values[len - 10..] {
        *v = rng.next_symmetric(0.5);
    }
    net = Network::from_file_order(hidden, &values);
    let data = samples(4, 12);
    let refs: Vec<(&[u8], u8)> = data.iter().map(|(p, l)| (p.as_slice(), *l)).collect();
    let analytic = batch_gradients(SimdLevel::SCALAR, &net, &refs).1.to_file_order();

    let tensors = [
        ("w_hidden", 0, hidden * INPUTS),
        ("b_hidden", hidden * INPUTS, hidden * (INPUTS + 1)),
        ("w_output", hidden * (INPUTS + 1), hidden * (INPUTS + 11)),
        ("b_output", hidden * (INPUTS + 11), len),
    ];
    for (name, start, end) in tensors {
        // Relative error of the whole tensor's gradient: ‖g − g_fd‖ / max(‖g‖, ‖g_fd‖).
        let (mut diff2, mut a2, mut n2) = (0.0f64, 0.0f64, 0.0f64);
        // Every parameter of every tensor (those of w_hidden that no non-zero pixel touches have a
        // zero gradient both ways).
        for i in start..end {
            let eps = 1e-5;
            let mut plus = values.clone();
            plus[i] += eps;
            let mut minus = values.clone();
            minus[i] -= eps;
            let fd = (loss(&Network::from_file_order(hidden, &plus), &data)
                - loss(&Network::from_file_order(hidden, &minus), &data))
                / (2.0 * eps);
            diff2 += (analytic[i] - fd).powi(2);
            a2 += analytic[i].powi(2);
            n2 += fd.powi(2);
        }
        let rel = diff2.sqrt() / a2.sqrt().max(n2.sqrt());
        println!("{name}: relative error {rel:.3e}");
        assert!(a2 > 0.0, "{name}: gradient is all zero");
        assert!(rel < 1e-6, "{name}: relative error {rel:e}");
    }
}

#[test]
fn one_training_step_is_w_minus_lr_times_the_gradient() {
    // One sample, batch 1, one epoch: the shuffle cannot reorder anything.
    let data = samples(1, 13);
    let mut images = Images::new();
    images.push_dense(&data[0].0);
    let set = Dataset { images, labels: vec![data[0].1] };
    for level in SimdLevel::available() {
        let config = TrainConfig { epochs: 1, batch: 1, lr: 0.1, hidden: 8, seed: 99, threads: 2, level };
        let trained = train(&config, &set, |_| {});
        let start = Network::init(8, &mut Rng::from_seed(99));
        let refs = [(data[0].0.as_slice(), data[0].1)];
        let g = batch_gradients(SimdLevel::SCALAR, &start, &refs).1.to_file_order();
        let expected: Vec<f64> = start.to_file_order().iter().zip(&g).map(|(w, g)| w - 0.1 * g).collect();
        let got = trained.to_file_order();
        assert!(got.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()), "{level}");
    }
}

#[test]
fn predict_on_dense_bytes_equals_the_forward_pass_on_the_sparse_image() {
    use mnistlearn_core::nn::forward::forward;
    use mnistlearn_core::nn::PIXEL_VALUE;
    let net = Network::init(32, &mut Rng::from_seed(21));
    let data = samples(50, 22);
    for (pixels, _) in &data {
        let mut images = Images::new();
        images.push_dense(pixels);
        let image = images.get(0);
        let value: Vec<f64> = image.value.iter().map(|&v| PIXEL_VALUE[v as usize]).collect();
        for level in SimdLevel::available() {
            let (mut hidden, mut p) = (vec![0.0; 32], [0.0; 10]);
            forward(level, &net.params(), image.index, &value, &mut hidden, &mut p);
            let q = net.predict(level, pixels);
            assert!(p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits()), "{level}");
        }
    }
}
