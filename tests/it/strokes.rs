//! Digits from strokes: MNIST's fixture digits thinned and traced into strokes, replayed at
//! several sizes and places through `POST /strokes`; MNIST's pen width measured; the endpoint's
//! limits; the strokes the browser test draws.
//!
//! The same measurement on the real test set with the real weights is `cargo xtask redrawn`.

use std::sync::Arc;

use mnistlearn::io::dataset::{load_test, load_train};
use mnistlearn::serve::{routes, strokes_json, STROKES_BODY_LIMIT};
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::data::strokes::{draw, Point, PEN_WIDTH};
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::train::{train, TrainConfig};
use mnistlearn_core::nn::{argmax, Network};
use serde_json::{json, Value};

use crate::common::{self, fixture_dir};
use crate::skeleton;

/// The sizes the strokes are replayed at, as fractions of the canvas height.
const SIZES: [f64; 3] = [1.0, 0.4, 0.15];

fn fixture_net() -> Network {
    let data = load_train(&fixture_dir(), None).unwrap();
    train(&TrainConfig { threads: 2, ..TrainConfig::default() }, &data, |_| {})
}

fn answer(net: &Network, strokes: &[Vec<Point>], width: f64, height: f64) -> Value {
    let body = json!({ "width": width, "height": height, "strokes": strokes }).to_string();
    serde_json::from_str(&strokes_json(net, SimdLevel::detect(), body.as_bytes()).expect("a valid body")).unwrap()
}

#[test]
fn fixture_digits_as_strokes_are_read_as_well_at_15_percent_of_the_canvas_as_at_full_size() {
    let net = fixture_net();
    let test = load_test(&fixture_dir()).unwrap();
    let mut right = [0usize; SIZES.len()];
    let mut direct = 0;
    for i in 0..test.len() {
        let digit = test.images.dense(i);
        let label = test.labels[i] as u64;
        direct += (argmax(&net.predict(SimdLevel::detect(), &digit)) as u64 == label) as usize;
        let strokes = skeleton::strokes_of(&digit);
        for (k, &size) in SIZES.iter().enumerate() {
            let placed = skeleton::replay(&strokes, 280.0, 280.0, size, &mut Rng::from_seed(i as u64));
            let a = answer(&net, &placed, 280.0, 280.0);
            assert!(a["too_small"].is_null() && a["empty"].is_null(), "digit {i} at {size}: {a}");
            right[k] += (a["digit"] == label) as usize;
        }
    }
    let percent = |n: usize| 100.0 * n as f64 / test.len() as f64;
    println!(
        "originals {:.1}%; strokes at 100% {:.1}%, 40% {:.1}%, 15% {:.1}%",
        percent(direct),
        percent(right[0]),
        percent(right[1]),
        percent(right[2])
    );
    // The fixture network reads the originals at 88.4% and the traced strokes at 100%, 40% and
    // 15% of the canvas at 85.6%, 86.6% and 85.2%: the size a digit is drawn at is gone.
    assert!(percent(right[2]) >= percent(right[0]) - 2.0, "15%: {right:?}");
    assert!(percent(right[1]) >= percent(right[0]) - 2.0, "40%: {right:?}");
    assert!(percent(right[0]) >= percent(direct) - 5.0, "strokes {right:?} vs originals {direct}");
}

#[test]
fn the_pen_is_as_wide_as_mnists_strokes() {
    // A digit's stroke width: the pen that, drawn along its traced skeleton, puts down the
    // digit's own ink (`skeleton::pen_width`). Over the fixture's first 400 training digits
    // the median is 2.46 pixels (2.375 over the full training set, every 6th digit: `cargo
    // xtask redrawn`). The skeleton is shorter than the line a pen drew (thinning eats
    // half a pen at each end), so the measure reads a drawn pen a little wide; the pen that
    // measures like MNIST's strokes is PEN_WIDTH.
    let train = load_train(&fixture_dir(), Some(400)).unwrap();
    let median = |widths: &mut Vec<f64>| {
        widths.sort_by(f64::total_cmp);
        widths[widths.len() / 2]
    };
    let digits: Vec<Vec<u8>> = (0..train.len()).map(|i| train.images.dense(i)).collect();
    let mnist = median(&mut digits.iter().map(|d| skeleton::pen_width(d)).collect());
    let drawn_with = |pen: f64| {
        median(
            &mut digits.iter().map(|d| skeleton::pen_width(&draw(&skeleton::strokes_of(d), (0.0, 0.0), pen))).collect(),
        )
    };
    let ours = drawn_with(PEN_WIDTH);
    println!("MNIST's strokes measure {mnist:.3}, our pen's {ours:.3}");
    assert!((ours - mnist).abs() <= 0.15, "MNIST's strokes measure {mnist:.3}, the pen's {ours:.3}");
    // And the measure can tell pens apart: one twice as wide measures far wider.
    let thick = drawn_with(2.0 * PEN_WIDTH);
    assert!(thick > mnist + 1.5, "a pen of {} measures {thick:.3}", 2.0 * PEN_WIDTH);
}

#[tokio::test]
async fn strokes_are_bounded_and_bad_ones_get_a_4xx_naming_the_limit() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net, SimdLevel::detect());
    let post = |body: String| common::request().method("POST").path("/strokes").body(body);
    let error = |body: &[u8]| -> String {
        let v: Value = serde_json::from_slice(body).unwrap();
        v["error"].as_str().unwrap_or_else(|| panic!("no error in {v}")).to_string()
    };
    let point = json!([[10.5, 20.0]]);
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 400, "the body is not JSON"),
        (json!({ "height": 280, "strokes": [] }).to_string(), 400, "missing or non-numeric \"width\""),
        (json!({ "width": 280, "height": 280 }).to_string(), 400, "missing \"strokes\" array"),
        (json!({ "width": 0, "height": 280, "strokes": [point] }).to_string(), 400, "the canvas must be 1 to 16384"),
        (json!({ "width": 280, "height": 280, "strokes": [[[1, "x"]]] }).to_string(), 400, "stroke 0, point 0"),
        (json!({ "width": 280, "height": 280, "strokes": [[[1, 2, 3]]] }).to_string(), 400, "expected [x, y]"),
        (json!({ "width": 280, "height": 280, "strokes": [[[1, 1e300]]] }).to_string(), 400, "within ±16384"),
        (json!({ "width": 280, "height": 280, "strokes": [[]] }).to_string(), 400, "stroke 0 has no points"),
        (
            json!({ "width": 280, "height": 280, "strokes": vec![point.clone(); 65] }).to_string(),
            413,
            "at most 64, got 65",
        ),
        (
            json!({ "width": 280, "height": 280, "strokes": [vec![[1, 1]; 4097]] }).to_string(),
            413,
            "at most 4096 in all strokes, got 4097",
        ),
        (" ".repeat(STROKES_BODY_LIMIT as usize + 1), 413, "strokes are read up to 131072 bytes"),
    ];
    for (body, status, message) in cases {
        let res = post(body.clone()).reply(&api).await;
        let shown = &body[..body.len().min(80)];
        assert_eq!(res.status(), status, "{shown}: {:?}", res.body());
        assert!(error(res.body()).contains(message), "{shown}: {}", error(res.body()));
    }
    // GET is a 405 naming POST; the 404 lists the route.
    let res = common::request().path("/strokes").reply(&api).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let res = common::request().path("/nope").reply(&api).await;
    assert!(error(res.body()).contains("POST /strokes"));
}

#[tokio::test]
async fn a_huge_coordinate_or_canvas_is_named_in_a_short_message() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net, SimdLevel::detect());
    let cases = [
        (r#"{"width": 280, "height": 280, "strokes": [[[5, 5], [1e308, -1e308]]]}"#, "[1e308, -1e308]"),
        (r#"{"width": 1e308, "height": 1e-300, "strokes": [[[5, 5]]]}"#, "got 1e308×1e-300"),
    ];
    for (body, named) in cases {
        let res = common::request().method("POST").path("/strokes").body(body).reply(&api).await;
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = serde_json::from_slice(res.body()).unwrap();
        let message = v["error"].as_str().unwrap();
        // The whole answer, not just the message, is one short line.
        assert!(res.body().len() < 200, "{} bytes: {message}", res.body().len());
        assert!(message.contains(named), "{message}");
    }
}

#[tokio::test]
async fn no_strokes_are_empty_a_tap_is_too_small_and_a_digit_is_answered_like_classify() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net.clone(), SimdLevel::detect());
    let post = |v: Value| common::request().method("POST").path("/strokes").body(v.to_string());
    let res = post(json!({ "width": 280, "height": 280, "strokes": [] })).reply(&api).await;
    assert_eq!((res.status().as_u16(), res.body().as_ref()), (200, br#"{"empty":true}"#.as_ref()));
    // A tap: one point, or a few pixels of jitter.
    for tap in [json!([[[140, 140]]]), json!([[[140, 140], [142, 141], [141, 143]]])] {
        let res = post(json!({ "width": 280, "height": 280, "strokes": tap })).reply(&api).await;
        assert_eq!(res.status(), 200);
        let v: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(v["too_small"], true, "{v}");
        assert!(v["message"].as_str().unwrap().starts_with("too small to read"));
        assert!(v.get("digit").is_none() && v.get("probabilities").is_none(), "{v}");
    }
    // A digit: the answer carries what the network saw and the hidden activations.
    let res = post(json!({ "width": 280, "height": 280, "strokes": [[[100, 40], [104, 240]]] })).reply(&api).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let v: Value = serde_json::from_slice(res.body()).unwrap();
    let seen: Vec<u8> = v["seen"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u8).collect();
    assert_eq!(seen.len(), 784);
    let probabilities = net.predict(SimdLevel::detect(), &seen);
    assert_eq!(v["digit"], argmax(&probabilities) as u64);
    assert_eq!(v["hidden"].as_array().unwrap().len(), 32);
}

/// The strokes `tests/browser/draw.test.mjs` draws: the first test digit of each class in the
/// fixture, traced. Regenerated with `UPDATE_STROKES=1 cargo test strokes_for_the_browser`.
#[test]
fn the_strokes_for_the_browser_test_are_the_fixtures_traced_digits() {
    let test = load_test(&fixture_dir()).unwrap();
    let mut digits = Vec::new();
    for label in 0..10u8 {
        let i = (0..test.len()).find(|&i| test.labels[i] == label).unwrap();
        let strokes = skeleton::strokes_of(&test.images.dense(i));
        digits.push(json!({ "label": label, "index": i, "strokes": strokes }));
    }
    let text = serde_json::to_string(&json!({
        "about": "MNIST test digits traced into strokes (tests/support/skeleton.rs), in 28x28 pixels",
        "digits": digits,
    }))
    .unwrap()
        + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/mnist-strokes.json");
    if std::env::var_os("UPDATE_STROKES").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == text, "{} is stale: run UPDATE_STROKES=1 cargo test strokes_for_the_browser", path.display());
}
