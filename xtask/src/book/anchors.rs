//! `ANCHOR: name` … `ANCHOR_END: name` markers, found and paired the way mdBook pairs them.

use std::collections::{BTreeMap, BTreeSet};

pub(super) fn is_anchor_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The anchor name a line declares after `marker` (`ANCHOR:` or `ANCHOR_END:`), as mdBook's
/// regex `MARKER\s*([\w_-]+)` finds it.
pub(super) fn anchor_on_line<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(offset) = line[from..].find(marker) {
        let after = &line[from + offset + marker.len()..];
        let name_start = after.trim_start();
        let len = name_start.find(|c: char| !is_anchor_char(c)).unwrap_or(name_start.len());
        if len > 0 {
            return Some(&name_start[..len]);
        }
        from += offset + marker.len();
    }
    None
}

pub(super) const START: &str = "ANCHOR:";
pub(super) const END: &str = "ANCHOR_END:";

#[derive(Debug, PartialEq, Eq)]
pub(super) enum AnchorError {
    /// No `ANCHOR: name` line; the anchors the file does have, and where an orphan
    /// `ANCHOR_END: name` sits, if there is one.
    NoStart { available: Vec<String>, end_line: Option<usize> },
    /// `ANCHOR: name` at this line, but no `ANCHOR_END: name` after it.
    NoEnd { start_line: usize },
    /// `ANCHOR: name` twice.
    Duplicate { first: usize, second: usize },
    /// The two markers enclose no lines.
    Empty { start_line: usize },
}

impl AnchorError {
    pub(super) fn describe(&self, name: &str, file: &str) -> String {
        match self {
            AnchorError::NoStart { available, end_line } => {
                let mut s = format!("anchor `{name}` not found: {file} has no line containing `ANCHOR: {name}`");
                if let Some(l) = end_line {
                    s.push_str(&format!(" (only an `ANCHOR_END: {name}` at line {l})"));
                }
                if available.is_empty() {
                    s.push_str("; the file has no anchors at all");
                } else {
                    s.push_str(&format!("; its anchors are: {}", available.join(", ")));
                }
                s
            }
            AnchorError::NoEnd { start_line } => format!(
                "anchor `{name}`: {file}:{start_line} has `ANCHOR: {name}` but no `ANCHOR_END: {name}` after it"
            ),
            AnchorError::Duplicate { first, second } => {
                format!("anchor `{name}` is declared twice in {file} (lines {first} and {second}); expected once")
            }
            AnchorError::Empty { start_line } => {
                format!("anchor `{name}` at {file}:{start_line} encloses no lines; expected code between the markers")
            }
        }
    }
}

/// The 1-based lines of `ANCHOR: name` and its `ANCHOR_END: name`, checked as mdBook uses them:
/// the first start, then the first matching end after it.
pub(super) fn find_anchor(text: &str, name: &str) -> Result<(usize, usize), AnchorError> {
    let mut start = None;
    let mut end = None;
    let mut orphan_end = None;
    let mut content = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if anchor_on_line(line, START) == Some(name) {
            match start {
                None => start = Some(n),
                Some(first) => return Err(AnchorError::Duplicate { first, second: n }),
            }
            continue;
        }
        if anchor_on_line(line, END) == Some(name) {
            match (start, end) {
                (Some(_), None) => end = Some(n),
                (None, _) => orphan_end = orphan_end.or(Some(n)),
                _ => {}
            }
            continue;
        }
        if start.is_some()
            && end.is_none()
            && anchor_on_line(line, START).is_none()
            && anchor_on_line(line, END).is_none()
        {
            content += 1;
        }
    }
    match (start, end) {
        (None, _) => {
            let available: BTreeSet<String> =
                text.lines().filter_map(|l| anchor_on_line(l, START)).map(str::to_string).collect();
            Err(AnchorError::NoStart { available: available.into_iter().collect(), end_line: orphan_end })
        }
        (Some(s), None) => Err(AnchorError::NoEnd { start_line: s }),
        (Some(s), Some(_)) if content == 0 => Err(AnchorError::Empty { start_line: s }),
        (Some(s), Some(e)) => Ok((s, e)),
    }
}

/// Every anchor of a file that does not pair up: a start without a later end, an end without an
/// earlier start, or a name declared twice. Messages start with the 1-based line.
pub(super) fn unbalanced_anchors(text: &str) -> Vec<String> {
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    let mut closed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(name) = anchor_on_line(line, START) {
            if let Some(first) = open.get(name).or(closed.get(name)) {
                problems
                    .push(format!("{n}: `ANCHOR: {name}` again (first at line {first}); expected each anchor once"));
            } else {
                open.insert(name, n);
            }
        } else if let Some(name) = anchor_on_line(line, END) {
            match open.remove(name) {
                Some(s) => {
                    closed.insert(name, s);
                }
                None => problems.push(format!("{n}: `ANCHOR_END: {name}` without an `ANCHOR: {name}` before it")),
            }
        }
    }
    for (name, n) in open {
        problems.push(format!("{n}: `ANCHOR: {name}` without an `ANCHOR_END: {name}` after it"));
    }
    problems.sort_by_key(|p| p.split(':').next().and_then(|n| n.parse::<usize>().ok()));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
fn a() {}
// ANCHOR: exp
fn exp() {}
    // ANCHOR: exp_scalar
    fn exp_scalar() {}
    // ANCHOR_END: exp_scalar
// ANCHOR_END: exp
# ANCHOR: python-style
x = 1
# ANCHOR_END: python-style
// ANCHOR: empty
// ANCHOR_END: empty
// ANCHOR_END: orphan
// ANCHOR: open
fn b() {}
";

    #[test]
    fn finds_anchors_and_tells_nested_and_prefixed_names_apart() {
        assert_eq!(find_anchor(SOURCE, "exp"), Ok((2, 7)));
        assert_eq!(find_anchor(SOURCE, "exp_scalar"), Ok((4, 6)));
        assert_eq!(find_anchor(SOURCE, "python-style"), Ok((8, 10)));
    }

    #[test]
    fn reports_each_way_an_anchor_can_be_broken() {
        match find_anchor(SOURCE, "ex") {
            Err(AnchorError::NoStart { available, end_line: None }) => {
                assert_eq!(available, ["empty", "exp", "exp_scalar", "open", "python-style"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            find_anchor(SOURCE, "orphan"),
            Err(AnchorError::NoStart {
                available: vec![
                    "empty".into(),
                    "exp".into(),
                    "exp_scalar".into(),
                    "open".into(),
                    "python-style".into()
                ],
                end_line: Some(13)
            })
        );
        assert_eq!(find_anchor(SOURCE, "open"), Err(AnchorError::NoEnd { start_line: 14 }));
        assert_eq!(find_anchor(SOURCE, "empty"), Err(AnchorError::Empty { start_line: 11 }));
        let twice = "// ANCHOR: a\nx\n// ANCHOR_END: a\n// ANCHOR: a\ny\n// ANCHOR_END: a\n";
        assert_eq!(find_anchor(twice, "a"), Err(AnchorError::Duplicate { first: 1, second: 4 }));
        // An end before the start does not count.
        assert_eq!(find_anchor("// ANCHOR_END: a\n// ANCHOR: a\nx\n", "a"), Err(AnchorError::NoEnd { start_line: 2 }));
        let message = AnchorError::NoEnd { start_line: 14 }.describe("open", "src/x.rs");
        assert_eq!(message, "anchor `open`: src/x.rs:14 has `ANCHOR: open` but no `ANCHOR_END: open` after it");
    }

    #[test]
    fn anchor_names_are_read_like_mdbook_reads_them() {
        assert_eq!(anchor_on_line("    // ANCHOR: name_1-x trailing", START), Some("name_1-x"));
        assert_eq!(anchor_on_line("//ANCHOR:tight", START), Some("tight"));
        assert_eq!(anchor_on_line("// ANCHOR_END: name", START), None);
        assert_eq!(anchor_on_line("// ANCHOR_END: name", END), Some("name"));
        assert_eq!(anchor_on_line("// ANCHOR: ", START), None);
    }

    #[test]
    fn unbalanced_anchors_are_listed_by_line() {
        assert_eq!(
            unbalanced_anchors(SOURCE),
            vec![
                "13: `ANCHOR_END: orphan` without an `ANCHOR: orphan` before it".to_string(),
                "14: `ANCHOR: open` without an `ANCHOR_END: open` after it".to_string(),
            ]
        );
        assert!(unbalanced_anchors("// ANCHOR: a\n// ANCHOR_END: a\n").is_empty());
    }
}
