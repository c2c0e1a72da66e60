//! Strokes from real handwriting: each MNIST digit thinned to its skeleton and traced into
//! polylines, then replayed as a person would draw it — at some size, somewhere on a canvas,
//! with the pointer's whole-pixel positions.
//!
//! Shared by the integration tests (`tests/it/strokes.rs`, on the fixture) and by
//! `examples/redrawn.rs` (the real test set, `cargo xtask redrawn`), which also uses it to
//! measure MNIST's pen width.
#![allow(dead_code)]

use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::data::strokes::Point;

const SIDE: usize = 28;

/// A pixel is ink for the skeleton when it is at least half covered.
pub const INK: u8 = 128;

/// Zhang–Suen thinning of the digit's ink (pixels ≥ [`INK`]): peels boundary pixels in two
/// alternating sub-passes until nothing changes, keeping the 8-connected centre line.
pub fn skeleton(digit: &[u8]) -> Vec<bool> {
    let mut on: Vec<bool> = digit.iter().map(|&v| v >= INK).collect();
    let at = |on: &[bool], x: isize, y: isize| -> bool {
        (0..SIDE as isize).contains(&x) && (0..SIDE as isize).contains(&y) && on[y as usize * SIDE + x as usize]
    };
    loop {
        let mut changed = false;
        for pass in 0..2 {
            let mut remove = Vec::new();
            for y in 0..SIDE as isize {
                for x in 0..SIDE as isize {
                    if !at(&on, x, y) {
                        continue;
                    }
                    // P2..P9 clockwise from north.
                    let n = [
                        at(&on, x, y - 1),
                        at(&on, x + 1, y - 1),
                        at(&on, x + 1, y),
                        at(&on, x + 1, y + 1),
                        at(&on, x, y + 1),
                        at(&on, x - 1, y + 1),
                        at(&on, x - 1, y),
                        at(&on, x - 1, y - 1),
                    ];
                    let b = n.iter().filter(|&&v| v).count();
                    let a = (0..8).filter(|&i| !n[i] && n[(i + 1) % 8]).count();
                    let (p2, p4, p6, p8) = (n[0], n[2], n[4], n[6]);
                    // Zhang and Suen's conditions as their paper writes them (P2·P4·P6 = 0 and
                    // P4·P6·P8 = 0), not the merged form clippy would prefer.
                    #[allow(clippy::nonminimal_bool)]
                    let cond = if pass == 0 {
                        !(p2 && p4 && p6) && !(p4 && p6 && p8)
                    } else {
                        !(p2 && p4 && p8) && !(p2 && p6 && p8)
                    };
                    if (2..=6).contains(&b) && a == 1 && cond {
                        remove.push(y as usize * SIDE + x as usize);
                    }
                }
            }
            changed |= !remove.is_empty();
            for i in remove {
                on[i] = false;
            }
        }
        if !changed {
            return on;
        }
    }
}

/// The skeleton's neighbours of pixel `i`: 4-neighbours, and diagonal ones only where no
/// 4-neighbour already links the two (so a staircase is one path, not a ring of triangles).
fn neighbours(on: &[bool], i: usize) -> Vec<usize> {
    let (x, y) = ((i % SIDE) as isize, (i / SIDE) as isize);
    let at = |x: isize, y: isize| {
        (0..SIDE as isize).contains(&x) && (0..SIDE as isize).contains(&y) && on[y as usize * SIDE + x as usize]
    };
    let mut out = Vec::new();
    for (dx, dy) in [(0, -1), (1, 0), (0, 1), (-1, 0), (1, -1), (1, 1), (-1, 1), (-1, -1)] {
        if !at(x + dx, y + dy) {
            continue;
        }
        if dx != 0 && dy != 0 && (at(x + dx, y) || at(x, y + dy)) {
            continue;
        }
        out.push(((y + dy) as usize) * SIDE + (x + dx) as usize);
    }
    out
}

/// Traces a skeleton into polylines (pixel centres, in 28×28 pixels): from every end point,
/// then every junction, then whatever is left (closed loops), walking each unvisited link until
/// an end or a junction. A lone pixel is a one-point stroke.
pub fn trace(on: &[bool]) -> Vec<Vec<Point>> {
    let pixels: Vec<usize> = (0..SIDE * SIDE).filter(|&i| on[i]).collect();
    let links: Vec<Vec<usize>> = (0..SIDE * SIDE).map(|i| if on[i] { neighbours(on, i) } else { vec![] }).collect();
    let mut used = std::collections::BTreeSet::new();
    let key = |a: usize, b: usize| (a.min(b), a.max(b));
    let centre = |i: usize| [(i % SIDE) as f64 + 0.5, (i / SIDE) as f64 + 0.5];
    let mut lines = Vec::new();
    let ends = pixels.iter().copied().filter(|&i| links[i].len() == 1);
    let junctions = pixels.iter().copied().filter(|&i| links[i].len() >= 3);
    let rest = pixels.iter().copied().filter(|&i| links[i].len() == 2);
    for start in ends.chain(junctions).chain(rest) {
        for &next in &links[start] {
            if used.contains(&key(start, next)) {
                continue;
            }
            let mut line = vec![centre(start)];
            let (mut prev, mut here) = (start, next);
            used.insert(key(prev, here));
            loop {
                line.push(centre(here));
                if links[here].len() != 2 {
                    break;
                }
                let Some(&after) = links[here].iter().find(|&&n| n != prev && !used.contains(&key(here, n))) else {
                    break;
                };
                used.insert(key(here, after));
                (prev, here) = (here, after);
            }
            lines.push(line);
        }
    }
    for &i in &pixels {
        if links[i].is_empty() {
            lines.push(vec![centre(i)]);
        }
    }
    lines
}

/// A digit's strokes: its skeleton traced (see [`skeleton`], [`trace`]).
pub fn strokes_of(digit: &[u8]) -> Vec<Vec<Point>> {
    trace(&skeleton(digit))
}

/// The strokes' bounding box `(x0, y0, x1, y1)`.
pub fn bounds(strokes: &[Vec<Point>]) -> (f64, f64, f64, f64) {
    let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &[x, y] in strokes.iter().flatten() {
        b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
    }
    b
}

/// The strokes replayed on a `width × height` canvas: scaled so the digit is `fraction` of the
/// canvas height (less if it would not fit the width), at a random place where it fits, every
/// point rounded to a whole canvas pixel as a mouse reports it.
pub fn replay(strokes: &[Vec<Point>], width: f64, height: f64, fraction: f64, rng: &mut Rng) -> Vec<Vec<Point>> {
    let (x0, y0, x1, y1) = bounds(strokes);
    let (bw, bh) = ((x1 - x0).max(1e-9), (y1 - y0).max(1e-9));
    let scale = (fraction * height / bh).min(0.95 * width / bw);
    let ox = rng.next_unit() * (width - bw * scale);
    let oy = rng.next_unit() * (height - bh * scale);
    strokes
        .iter()
        .map(|s| s.iter().map(|&[x, y]| [((x - x0) * scale + ox).round(), ((y - y0) * scale + oy).round()]).collect())
        .collect()
}

/// The width of a round pen that, drawn along the digit's traced skeleton, puts down as much ink
/// as the digit has: the digit's stroke width, in its own pixels (bisection to 0.001 pixel).
pub fn pen_width(digit: &[u8]) -> f64 {
    let strokes = strokes_of(digit);
    let mass = |p: &[u8]| p.iter().map(|&v| v as u64).sum::<u64>();
    let target = mass(digit);
    let (mut lo, mut hi) = (0.0f64, 8.0f64);
    while hi - lo > 0.001 {
        let mid = 0.5 * (lo + hi);
        if mass(&mnistlearn_core::data::strokes::draw(&strokes, (0.0, 0.0), mid)) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}
