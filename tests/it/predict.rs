//! Digits as people draw them: the redrawn fixture test set through MNIST's preprocessing vs a
//! naive resize, `mnistlearn predict` end to end, and `POST /classify` / `GET /hidden-weights`.
//!
//! The network is trained here on the committed fixture (2,000 images, the default recipe,
//! well under a second), so no data/ and no committed weights are needed. The same measurement
//! on the real test set with the real weights is `cargo xtask redrawn` (README: Results).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use assert_cmd::Command;
use mnistlearn::io::dataset::load_test;
use mnistlearn::serve::{classify_json, routes, CLASSIFY_BODY_LIMIT};
use mnistlearn_core::data::preprocess::{preprocess, GreyImage, Seen};
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::train::{train, TrainConfig};
use mnistlearn_core::nn::{argmax, Network};

use crate::common::{self, fixture_dir};
use crate::redraw::{self, Format, Tally};

/// The default recipe on the fixture's 2,000 training images, trained once per test binary.
fn fixture_net() -> &'static Network {
    static NET: OnceLock<Network> = OnceLock::new();
    NET.get_or_init(|| {
        let data = mnistlearn::io::dataset::load_train(&fixture_dir(), None).unwrap();
        train(&TrainConfig { threads: 2, ..TrainConfig::default() }, &data, |_| {})
    })
}

fn fixture_digits() -> Vec<(Vec<u8>, u8)> {
    let test = load_test(&fixture_dir()).unwrap();
    (0..test.len()).map(|i| (test.images.dense(i), test.labels[i])).collect()
}

// ---- the redrawn test set -----------------------------------------------------------------

#[test]
fn redrawn_fixture_digits_are_read_almost_as_well_as_the_originals_and_far_better_than_a_naive_resize() {
    let digits = fixture_digits();
    let dir = tempfile::tempdir().unwrap();
    let tally = redraw::measure(fixture_net(), SimdLevel::detect(), &digits, dir.path(), 1);
    let n = tally.total;
    let (direct, ours, naive) =
        (Tally::percent(tally.direct, n), Tally::percent(tally.ours, n), Tally::percent(tally.naive, n));
    println!("{}\noriginals {direct:.1}%, redrawn {ours:.1}%, naive {naive:.1}%", tally.table());
    assert_eq!(n, 500);
    assert_eq!(tally.empty, 0, "no redrawn digit may be called empty");
    // The fixture network (2,000 training images) reads its 500 originals at 88.4% and the
    // redrawn ones at 86.8% (82.4% before the crop kept the strokes' grey edges and the centre
    // of mass went to MNIST's (14, 14)). With the real weights the gap is under half a point,
    // and `cargo xtask redrawn` holds it to 1; here, to 4.
    assert!(ours >= direct - 4.0, "redrawn {ours:.1}% vs originals {direct:.1}%\n{}", tally.table());
    assert!(naive <= 30.0, "the naive resize got {naive:.1}%: the redrawn set is too easy to show anything");
    // Every kind of redrawing is read, not just the easy ones.
    for (label, count, right, _) in &tally.groups {
        assert!(Tally::percent(*right, *count) >= direct - 15.0, "{label}: {right}/{count}\n{}", tally.table());
    }
}

#[test]
fn the_redrawings_cover_the_promised_range() {
    let digits = fixture_digits();
    let mut shapes = std::collections::BTreeSet::new();
    let (mut low, mut high, mut dark, mut formats) = (1.0f64, 0.0f64, 0, std::collections::BTreeSet::new());
    for (i, (digit, _)) in digits.iter().enumerate().take(120) {
        let r = redraw::redraw(digit, i, &mut Rng::from_seed(1 + i as u64));
        assert!(r.fraction <= 0.85 + 1e-9, "{}", r.fraction);
        low = low.min(r.fraction);
        high = high.max(r.fraction);
        shapes.insert((r.width, r.height));
        dark += r.dark_on_light as usize;
        formats.insert(r.format.name());
        // The digit is wholly on the canvas: some ink, none of it cut at the border.
        let g = r.grey_image();
        assert!(matches!(preprocess(&g), Seen::Digit(_)));
    }
    assert!(low < 0.3 && high > 0.8, "heights {low}–{high}");
    assert_eq!(shapes.len(), redraw::CANVASES.len());
    assert!((30..=90).contains(&dark), "{dark} of 120 dark on light");
    assert_eq!(formats.len(), Format::ALL.len());
}

#[test]
fn the_same_image_gives_the_same_input_in_every_file_format() {
    let digits = fixture_digits();
    let (digit, _) = &digits[7];
    let mut seen = Vec::new();
    for (i, format) in Format::ALL.iter().enumerate() {
        let mut r = redraw::redraw(digit, 0, &mut Rng::from_seed(5));
        r.format = *format;
        let decoded = mnistlearn::io::image::decode(&r.encode()).unwrap();
        let Seen::Digit(d) = preprocess(&decoded) else { panic!("{}: empty", format.name()) };
        seen.push((i, d.pixels));
    }
    // Grey, 16-bit and PGM give the exact grey levels; RGB and RGBA differ by rounding only.
    let (_, reference) = seen[0];
    for (i, pixels) in &seen {
        let worst = pixels.iter().zip(reference.iter()).map(|(&a, &b)| (a as i32 - b as i32).abs()).max().unwrap();
        let exact = !matches!(Format::ALL[*i], Format::PngRgb | Format::PngRgba);
        assert!(if exact { worst == 0 } else { worst <= 8 }, "{}: differs by up to {worst}", Format::ALL[*i].name());
    }
}

// ---- mnistlearn predict -------------------------------------------------------------------

/// Writes the fixture network and a few image files; returns (dir, weights path, files).
fn predict_files() -> (tempfile::TempDir, std::path::PathBuf, Vec<(String, u8)>) {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("weights.bin");
    mnistlearn::io::weights::save(&weights, fixture_net()).unwrap();
    let digits = fixture_digits();
    let mut files = Vec::new();
    // Images the fixture network reads right once redrawn, one per format.
    let mut i = 0;
    while files.len() < Format::ALL.len() {
        let (digit, label) = &digits[i];
        let r = redraw::redraw(digit, files.len(), &mut Rng::from_seed(100 + i as u64));
        i += 1;
        let Seen::Digit(d) = preprocess(&r.grey_image()) else { continue };
        if argmax(&fixture_net().predict(SimdLevel::detect(), &d.pixels)) != *label as usize {
            continue;
        }
        let path = dir.path().join(format!("digit-{}.{}", files.len(), r.format.extension()));
        std::fs::write(&path, r.encode()).unwrap();
        files.push((path.display().to_string(), *label));
    }
    (dir, weights, files)
}

fn mnistlearn() -> Command {
    Command::cargo_bin("mnistlearn").unwrap()
}

#[test]
fn predict_prints_one_line_per_image_and_json_on_request() {
    let (dir, weights, files) = predict_files();
    let blank = dir.path().join("blank.pgm");
    std::fs::write(&blank, b"P5 30 20 255\n".iter().copied().chain(std::iter::repeat_n(255, 600)).collect::<Vec<u8>>())
        .unwrap();
    // One dark pixel on white paper: a speck, not a digit.
    let speck = dir.path().join("speck.pgm");
    let mut pixels = vec![255u8; 600];
    pixels[65] = 0;
    std::fs::write(&speck, [b"P5 30 20 255\n".as_slice(), &pixels].concat()).unwrap();

    let out = mnistlearn()
        .arg("predict")
        .arg("--weights")
        .arg(&weights)
        .args(files.iter().map(|f| &f.0))
        .arg(&blank)
        .arg(&speck)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), files.len() + 2, "{stdout}");
    for ((path, label), line) in files.iter().zip(&lines) {
        let rest =
            line.strip_prefix(&format!("{path}: {label} (")).unwrap_or_else(|| panic!("{line:?} for {path} ({label})"));
        let percent: f64 = rest.strip_suffix("%)").unwrap().parse().unwrap();
        assert!((0.0..=100.0).contains(&percent), "{line}");
    }
    assert_eq!(lines[files.len()], format!("{}: no digit (the image has no ink)", blank.display()));
    assert_eq!(
        lines[files.len() + 1],
        format!("{}: too small to read (the ink is 1 pixel across; a digit needs at least 2)", speck.display())
    );

    let out = mnistlearn()
        .args(["predict", "--json", "--weights"])
        .arg(&weights)
        .arg(&files[0].0)
        .arg(&blank)
        .arg(&speck)
        .assert()
        .success();
    let value: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let answers = value.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["path"], files[0].0.as_str());
    assert_eq!(answers[0]["digit"], files[0].1 as u64);
    let p: Vec<f64> = answers[0]["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(answers[0].get("seen").is_none());
    assert_eq!(answers[1], serde_json::json!({ "path": blank.display().to_string(), "empty": true }));
    assert_eq!(answers[2], serde_json::json!({ "path": speck.display().to_string(), "too_small": true }));
}

#[test]
fn predict_show_draws_the_28x28_the_network_saw() {
    let (_dir, weights, files) = predict_files();
    let out = mnistlearn().args(["predict", "--show", "--weights"]).arg(&weights).arg(&files[0].0).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 28, "{stdout}");
    let image = mnistlearn::io::image::load(Path::new(&files[0].0)).unwrap();
    let Seen::Digit(d) = preprocess(&image) else { panic!("empty") };
    assert_eq!(lines[1..].join("\n") + "\n", mnistlearn_core::data::preprocess::ascii_art(&d.pixels));
    assert!(lines[1..].iter().all(|l| l.chars().count() == 56));

    let out = mnistlearn()
        .args(["predict", "--json", "--show", "--weights"])
        .arg(&weights)
        .arg(&files[0].0)
        .assert()
        .success();
    let value: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let seen: Vec<u8> = value[0]["seen"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(seen, d.pixels.to_vec());
}

/// README's `predict` examples run on the images in examples/digits/: each is the test image the
/// README says it is, drawn as it says, and `predict` reads the two digits and calls the blank
/// one empty.
#[test]
fn the_readme_example_images_are_the_test_digits_it_names() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits");
    let digits = fixture_digits();
    let load = |name: &str| mnistlearn::io::image::load(&examples.join(name)).unwrap();
    // three-small.pgm: test image 18 (a 3), each pixel 3×3, inverted, at (16, 12) on 400×240 white.
    let three = load("three-small.pgm");
    assert_eq!((three.width(), three.height(), digits[18].1), (400, 240, 3));
    for y in 0..240 {
        for x in 0..400 {
            let inside = (12..12 + 84).contains(&y) && (16..16 + 84).contains(&x);
            let want = if inside { 255 - digits[18].0[(y - 12) / 3 * 28 + (x - 16) / 3] } else { 255 };
            assert_eq!(three.pixels()[y * 400 + x], want, "three-small.pgm at ({x}, {y})");
        }
    }
    // seven.pgm: test image 0 (a 7), each pixel 4×4, light on dark.
    let seven = load("seven.pgm");
    assert_eq!((seven.width(), seven.height(), digits[0].1), (112, 112, 7));
    for (i, &p) in seven.pixels().iter().enumerate() {
        assert_eq!(p, digits[0].0[i / 112 / 4 * 28 + i % 112 / 4], "seven.pgm at pixel {i}");
    }
    assert!(load("blank.pgm").pixels().iter().all(|&p| p == 255));

    let (_dir, weights, _) = predict_files();
    let out = mnistlearn()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["predict", "--weights"])
        .arg(&weights)
        .args(["examples/digits/blank.pgm", "examples/digits/seven.pgm", "examples/digits/three-small.pgm"])
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "examples/digits/blank.pgm: no digit (the image has no ink)", "{stdout}");
    assert!(lines[1].starts_with("examples/digits/seven.pgm: 7 ("), "{stdout}");
    assert!(lines[2].starts_with("examples/digits/three-small.pgm: 3 ("), "{stdout}");
}

#[test]
fn predict_answers_the_good_images_then_names_the_bad_ones_on_one_line() {
    let (dir, weights, files) = predict_files();
    let missing = dir.path().join("missing.png");
    let corrupt = dir.path().join("corrupt.png");
    let mut bytes = std::fs::read(files.iter().find(|f| f.0.ends_with(".png")).unwrap().0.clone()).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&corrupt, bytes).unwrap();

    // One bad file among good ones: the good ones are answered, one error line, exit 1.
    let out = mnistlearn()
        .arg("predict")
        .arg("--weights")
        .arg(&weights)
        .arg(&files[0].0)
        .arg(&missing)
        .arg(&files[1].0)
        .assert()
        .failure()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.starts_with(&format!("{}: {} (", files[0].0, files[0].1)));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("mnistlearn: error: {}: cannot open:", missing.display())), "{stderr}");

    // Two bad files: both named, still one line; --json keeps them in the array too.
    let out = mnistlearn()
        .args(["predict", "--json", "--weights"])
        .arg(&weights)
        .arg(&corrupt)
        .arg(&files[0].0)
        .arg(&missing)
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("2 of 3 images could not be read"), "{stderr}");
    assert!(stderr.contains(&format!("{}: truncated PNG", corrupt.display())), "{stderr}");
    assert!(stderr.contains(&format!("{}: cannot open", missing.display())), "{stderr}");
    let value: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(value[0]["error"].as_str().unwrap().starts_with("truncated PNG"));
    assert_eq!(value[1]["digit"], files[0].1 as u64);
    assert!(value[2]["error"].as_str().unwrap().starts_with("cannot open"));
}

#[test]
fn predict_names_an_oversized_pgm_and_a_damaged_png_header_in_plain_words() {
    let (dir, weights, _files) = predict_files();
    // A width that is a decimal number, just too large for any image (and for a u32).
    let huge = dir.path().join("huge.pgm");
    std::fs::write(&huge, b"P5\n4000000000 1\n255\n\x00\x00").unwrap();
    // A PNG whose IHDR chunk's CRC (bytes 29..33) is off by one bit.
    let mut png =
        mnistlearn::io::image::encode_png(2, 2, png::ColorType::Grayscale, png::BitDepth::Eight, &[0; 4]).unwrap();
    png[30] ^= 1;
    let bad_crc = dir.path().join("bad-crc.png");
    std::fs::write(&bad_crc, png).unwrap();
    let out =
        mnistlearn().arg("predict").arg("--weights").arg(&weights).arg(&huge).arg(&bad_crc).assert().failure().code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr,
        format!(
            "mnistlearn: error: 2 of 2 images could not be read: \
             {}: the image is 4000000000×1 pixels, larger than the 4096×4096 limit; \
             {}: corrupt PNG: the IHDR chunk's checksum does not match its contents\n",
            huge.display(),
            bad_crc.display()
        )
    );
}

// Failed before the fix: files over 100,667,392 bytes (the largest P2) were refused as "file too
// large: no PNG or PGM image within 4096×4096 pixels is over" that, but a 4096×4096 16-bit RGBA
// PNG stored without compression (as some encoders do at level 0) is 134 MB.
#[test]
fn the_largest_png_within_the_limits_stored_uncompressed_is_read_within_the_memory_bound() {
    use std::io::Write;
    let (dir, weights, _files) = predict_files();
    let path = dir.path().join("rgba16-stored.png");
    let side = mnistlearn::io::image::MAX_SIDE;
    {
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut encoder = png::Encoder::new(file, side as u32, side as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
        encoder.set_compression(png::Compression::NoCompression);
        encoder.set_filter(png::Filter::NoFilter);
        let mut writer = encoder.write_header().unwrap().into_stream_writer().unwrap();
        // White paper, opaque, and a black bar down the middle third: a "1".
        let (white, black) = ([0xffu8; 8], [0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        for y in 0..side {
            let row: Vec<u8> = (0..side)
                .flat_map(
                    |x| if (side / 4..side * 3 / 4).contains(&y) && (x * 20 / side) == 10 { black } else { white },
                )
                .collect();
            writer.write_all(&row).unwrap();
        }
        writer.finish().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 134_000_000, "{size} bytes: the test needs an uncompressed file");
    let out = crate::harden::limited(&[
        crate::harden::os("predict"),
        crate::harden::os("--weights"),
        weights.as_os_str(),
        path.as_os_str(),
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with(&format!("{}: 1 (", path.display())) && stdout.ends_with("%)\n"), "{stdout}");
}

#[test]
fn predict_usage_errors() {
    let (_dir, weights, _files) = predict_files();
    let out = mnistlearn().arg("predict").arg("--weights").arg(&weights).assert().failure().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("expected at least one IMAGE"), "{stderr}");
    let out = mnistlearn().args(["predict", "--json=yes", "x.png"]).assert().failure().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("takes no value"));
    let out = mnistlearn().args(["predict", "--help"]).assert().success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        help.contains("Usage: mnistlearn predict [FLAGS] IMAGE...")
            && help.contains("--json")
            && help.contains("--show"),
        "{help}"
    );
}

// ---- POST /classify and GET /hidden-weights -----------------------------------------------

/// A 280×280 canvas, white strokes on black: a thick vertical bar, drawn small and off-centre.
fn canvas_with_bar() -> Vec<u8> {
    let mut canvas = vec![0u8; 280 * 280];
    for y in 20..110 {
        for x in 30..44 {
            canvas[y * 280 + x] = 255;
        }
    }
    canvas
}

#[tokio::test]
async fn classify_preprocesses_in_rust_and_answers_digit_seen_and_hidden() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net.clone(), SimdLevel::detect());
    let canvas = canvas_with_bar();
    let res = common::request().method("POST").path("/classify?width=280&height=280").body(&canvas).reply(&api).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let value: serde_json::Value = serde_json::from_slice(res.body()).unwrap();

    let Seen::Digit(d) = preprocess(&GreyImage::new(280, 280, canvas.clone()).unwrap()) else { panic!("empty") };
    let (probabilities, hidden) = net.predict_with_hidden(SimdLevel::detect(), &d.pixels);
    let seen: Vec<u8> = value["seen"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(seen, d.pixels.to_vec());
    assert_eq!(value["digit"], argmax(&probabilities) as u64);
    let got_p: Vec<f64> = value["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let got_h: Vec<f64> = value["hidden"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got_h.len(), 32);
    for (g, e) in got_p.iter().zip(&probabilities).chain(got_h.iter().zip(&hidden)) {
        assert!((g - e).abs() <= 1e-15 * e.abs().max(1.0), "{g} vs {e}");
    }
    assert_eq!(value["inverted"], false);
    // The same drawing, dark on white paper, gives the same answer.
    let inverted: Vec<u8> = canvas.iter().map(|v| 255 - v).collect();
    let json = classify_json(&net, SimdLevel::detect(), "width=280&height=280", &inverted).unwrap();
    let value2: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value2["seen"], value["seen"]);
    assert_eq!(value2["inverted"], true);
    // predict_with_hidden's probabilities are predict's, bit for bit.
    assert_eq!(probabilities.map(f64::to_bits), net.predict(SimdLevel::detect(), &d.pixels).map(f64::to_bits));
}

#[tokio::test]
async fn classify_calls_a_blank_canvas_empty() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net, SimdLevel::detect());
    for fill in [0u8, 255, 130] {
        let res = common::request()
            .method("POST")
            .path("/classify?width=100&height=60")
            .body(vec![fill; 6000])
            .reply(&api)
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.body().as_ref(), br#"{"empty":true}"#);
    }
}

#[tokio::test]
async fn classify_refuses_bad_sizes_with_one_line_errors() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net, SimdLevel::detect());
    let error = |body: &[u8]| -> String {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["error"].as_str().unwrap().to_string()
    };
    let cases: [(&str, usize, u16, &str); 7] = [
        ("/classify", 10, 400, "missing width or height"),
        ("/classify?width=10", 10, 400, "missing width or height"),
        ("/classify?width=0&height=5", 0, 400, "width=0: expected ?width=W&height=H with whole numbers from 1 to 1024"),
        ("/classify?width=2000&height=5", 10, 400, "width=2000: expected"),
        ("/classify?width=4&height=x", 10, 400, "height=x: expected"),
        ("/classify?width=4&height=4&depth=8", 16, 400, "unknown query parameter 'depth'"),
        (
            "/classify?width=4&height=4",
            15,
            400,
            "body must be exactly width × height = 4 × 4 = 16 bytes (one grey byte per pixel, row-major), got 15",
        ),
    ];
    for (path, len, status, message) in cases {
        let res = common::request().method("POST").path(path).body(vec![0u8; len]).reply(&api).await;
        assert_eq!(res.status(), status, "{path}");
        let text = error(res.body());
        assert!(text.contains(message), "{path}: {text}");
    }
    // The query is decoded as a URL's: `%32%38` is 28, and an escaped bad value is named decoded.
    for (query, status, message) in [
        ("width=%32&height=%32", 200, ""),
        ("%77idth=2&height=2", 200, ""),
        ("width=2&height=%78", 400, "height=x: expected"),
    ] {
        let res =
            common::request().method("POST").path(&format!("/classify?{query}")).body(vec![0u8; 4]).reply(&api).await;
        assert_eq!(res.status(), status, "{query}: {:?}", res.body());
        if status != 200 {
            assert!(error(res.body()).contains(message), "{query}: {:?}", res.body());
        }
    }
    // A value or name of any length is echoed in at most 40 characters.
    let (nines, ws) = ("9".repeat(5000), "w".repeat(5000));
    let long = [
        (format!("width={nines}&height=4"), format!("width={}…: expected", &nines[..40])),
        (format!("{ws}=4"), format!("unknown query parameter '{}…'", &ws[..40])),
    ];
    for (query, shown) in long {
        let res =
            common::request().method("POST").path(&format!("/classify?{query}")).body(vec![0u8; 4]).reply(&api).await;
        assert_eq!(res.status(), 400, "{}", &query[..50]);
        let text = error(res.body());
        assert!(text.len() < 200 && text.contains(&shown), "{text}");
    }
    // One byte over the limit: 413, not a 400 about the size.
    let res = common::request()
        .method("POST")
        .path("/classify?width=1024&height=1024")
        .body(vec![0u8; CLASSIFY_BODY_LIMIT as usize + 1])
        .reply(&api)
        .await;
    assert_eq!(res.status(), 413);
    assert!(error(res.body()).contains("at most 1024 × 1024"), "{}", error(res.body()));
    let res = common::request().method("GET").path("/classify?width=4&height=4").reply(&api).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
}

#[tokio::test]
async fn hidden_weights_are_each_units_weights_scaled_to_127() {
    let net = Arc::new(Network::init(32, &mut Rng::from_seed(3)));
    let api = routes(net.clone(), SimdLevel::detect());
    let res = common::request().method("GET").path("/hidden-weights").reply(&api).await;
    assert_eq!(res.status(), 200);
    let value: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(value["hidden"], 32);
    let units = value["weights"].as_array().unwrap();
    assert_eq!(units.len(), 32);
    for (j, unit) in units.iter().enumerate() {
        let w = net.hidden_unit_weights(j);
        let largest = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let got: Vec<i64> = unit.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(got.len(), 784);
        assert_eq!(got.iter().map(|v| v.abs()).max(), Some(127), "unit {j}");
        for (k, (&g, &x)) in got.iter().zip(&w).enumerate() {
            assert_eq!(g, (x * (127.0 / largest)).round() as i64, "unit {j}, pixel {k}");
        }
    }
    // The unit weights are the rows of weights.bin's w_hidden.
    let file_order = net.to_file_order();
    assert_eq!(net.hidden_unit_weights(5), file_order[5 * 784..6 * 784].to_vec());
}
