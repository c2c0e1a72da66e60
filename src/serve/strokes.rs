//! `POST /strokes`: the page's pen strokes, drawn as MNIST's digits were made and classified.
//!
//! The body is JSON: `{"width": W, "height": H, "strokes": [[[x, y], …], …]}` — the canvas size
//! and each stroke's points in canvas pixels. Everything a client can make the server hold or
//! do is bounded before any drawing: the body by [`STROKES_BODY_LIMIT`] bytes (the route's
//! capped body), the strokes and points by [`MAX_STROKES`] and [`MAX_POINTS`] (413 naming the
//! limit), every number finite and within ±[`MAX_CANVAS`] (400). Drawing is then at most
//! `MAX_POINTS` segments on a 224×224 sample grid, twice.

use mnistlearn_core::data::preprocess::Seen;
use mnistlearn_core::data::strokes::{check, render, Point, MAX_CANVAS, MAX_POINTS, MAX_STROKES};
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::Network;
use serde_json::Value;

use super::routes::{digit_json, error_json, too_small_json};

/// The largest `/strokes` body: [`MAX_POINTS`] points written as `[123.4,567.8],` (about 16
/// bytes each) with room to spare for spaces and longer decimals.
pub const STROKES_BODY_LIMIT: u64 = 128 * 1024;

// ANCHOR: strokes_json
/// The whole of `POST /strokes`, minus HTTP: the JSON body in, the JSON answer out — the same
/// answer as `/classify` (`digit`, `probabilities`, `seen`, `hidden`), `{"empty": true}` for no
/// strokes, or `{"too_small": true, "message"}` for a tap or a dot.
pub fn strokes_json(net: &Network, level: SimdLevel, body: &[u8]) -> Result<String, (u16, String)> {
    let (width, height, strokes) = parse(body)?;
    check(&strokes, width, height).map_err(|e| (400, error_json(&e)))?;
    match render(&strokes, width, height) {
        Seen::Empty => Ok(serde_json::json!({ "empty": true }).to_string()),
        Seen::TooSmall { extent, least } => Ok(too_small_json(extent, least)),
        Seen::Digit(digit) => Ok(digit_json(net, level, &digit)),
    }
}
// ANCHOR_END: strokes_json

const SHAPE: &str = r#"expected {"width": W, "height": H, "strokes": [[[x, y], ...], ...]}"#;

/// A request's canvas width and height, and its strokes.
type Drawing = (f64, f64, Vec<Vec<Point>>);

/// The body's canvas size and strokes; the counts are checked before the points are copied.
fn parse(body: &[u8]) -> Result<Drawing, (u16, String)> {
    let bad = |message: String| (400, error_json(&message));
    let value: Value = serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON ({e}): {SHAPE}")))?;
    let number = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_f64)
            .ok_or_else(|| bad(format!("missing or non-numeric \"{name}\": {SHAPE}")))
    };
    let (width, height) = (number("width")?, number("height")?);
    let Some(list) = value.get("strokes").and_then(Value::as_array) else {
        return Err(bad(format!("missing \"strokes\" array: {SHAPE}")));
    };
    if list.len() > MAX_STROKES {
        return Err((413, error_json(&format!("too many strokes: at most {MAX_STROKES}, got {}", list.len()))));
    }
    let mut points = 0usize;
    for stroke in list {
        points += stroke.as_array().map_or(0, Vec::len);
    }
    if points > MAX_POINTS {
        return Err((413, error_json(&format!("too many points: at most {MAX_POINTS} in all strokes, got {points}"))));
    }
    let mut strokes = Vec::with_capacity(list.len());
    for (i, stroke) in list.iter().enumerate() {
        let Some(stroke) = stroke.as_array() else {
            return Err(bad(format!("stroke {i} is not an array of [x, y] points: {SHAPE}")));
        };
        let mut line = Vec::with_capacity(stroke.len());
        for (j, point) in stroke.iter().enumerate() {
            match point.as_array().map(Vec::as_slice) {
                Some([x, y]) if x.is_number() && y.is_number() => {
                    line.push([x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN)])
                }
                _ => {
                    return Err(bad(format!(
                        "stroke {i}, point {j}: expected [x, y], two numbers within ±{MAX_CANVAS}"
                    )))
                }
            }
        }
        strokes.push(line);
    }
    Ok((width, height, strokes))
}
