//! What the book names that the code may have lost, which mdBook cannot see: anchors that no
//! chapter includes (a listing dropped from the book, or renamed on one side only), and
//! backticked test or function names (`like_this`) that no longer exist in any source file.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::anchors::{anchor_on_line, START};

/// Where the sources the book can include or name live, relative to the repository root.
const SOURCE_DIRS: &[&str] = &[
    "src",
    "core/src",
    "core/tests",
    "figures/src",
    "wasm/src",
    "xtask/src",
    "tests",
    "web",
    "scripts",
    "examples",
    ".ci",
];
const SOURCE_EXTENSIONS: &[&str] = &["rs", "js", "mjs", "py", "html", "css", "toml"];
/// Not sources: the checker's own tests hold sample anchors in string literals; npm's packages.
const SKIPPED: &[&str] = &["xtask/src/book", "tests/browser/node_modules"];
/// Names the book gives to say the code does *not* use them: NEON's fused multiply-add and its
/// min/max, whose NaN and signed-zero rules differ from the reference's.
const NOT_IN_SOURCES: &[&str] = &["vfmaq_f64", "vminq_f64", "vmaxq_f64"];

/// Every source file under [`SOURCE_DIRS`] (plus the root `Cargo.toml` and `.ci/run`), with its
/// text, in path order.
pub(super) fn source_files(root: &Path) -> Vec<(PathBuf, String)> {
    let mut paths = vec![root.join("Cargo.toml"), root.join(".ci/run")];
    for dir in SOURCE_DIRS {
        walk(root, &root.join(dir), &mut paths);
    }
    paths.sort();
    paths.dedup();
    paths.into_iter().filter_map(|p| fs::read_to_string(&p).ok().map(|text| (p, text))).collect()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for path in entries.flatten().map(|e| e.path()) {
        let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        if SKIPPED.iter().any(|s| relative == *s || relative.starts_with(&format!("{s}/"))) {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| SOURCE_EXTENSIONS.iter().any(|x| e == *x)) {
            out.push(path);
        }
    }
}

/// `file:line: anchor `name` …` for every anchor in `files` that no include of the book uses.
pub(super) fn unused_anchors(
    files: &[(PathBuf, String)],
    used: &BTreeSet<(PathBuf, String)>,
    show: impl Fn(&Path) -> String,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, text) in files {
        for (i, line) in text.lines().enumerate() {
            if let Some(name) = anchor_on_line(line, START) {
                if !used.contains(&(path.clone(), name.to_string())) {
                    problems.push(format!(
                        "{}:{}: anchor `{name}` is never included by the book; include it in a chapter or remove its markers",
                        show(path),
                        i + 1
                    ));
                }
            }
        }
    }
    problems
}

/// Every identifier that occurs in `files`: a name the book mentions must be one of them.
pub(super) fn identifiers(files: &[(PathBuf, String)]) -> HashSet<String> {
    files
        .iter()
        .flat_map(|(_, text)| text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `line: `name`` for each backticked snake_case name in a chapter's prose (outside fenced code)
/// that is not in `known`: `fn_name`, `fn_name()` or `module::fn_name`. A one-word name is
/// never checked (`exp` is also English), nor anything with capitals, spaces or punctuation.
pub(super) fn stale_names(chapter: &str, known: &HashSet<String>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in chapter.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for (k, span) in line.split('`').enumerate() {
            // Odd pieces are inside backticks.
            if k % 2 == 1 {
                if let Some(name) = checked_name(span) {
                    if !known.contains(name) && !NOT_IN_SOURCES.contains(&name) {
                        out.push((i + 1, span.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// The name a backticked span claims exists, if it looks like a Rust function or test name.
fn checked_name(span: &str) -> Option<&str> {
    let span = span.strip_suffix("()").unwrap_or(span);
    let name = span.rsplit("::").next()?;
    let path_ok = span.split("::").all(|part| !part.is_empty() && part.bytes().all(is_snake));
    let snake = name.contains('_') && name.starts_with(|c: char| c.is_ascii_lowercase()) && !name.ends_with('_');
    (path_ok && snake).then_some(name)
}

fn is_snake(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_prose_are_checked_and_code_blocks_are_not() {
        let known: HashSet<String> = ["real_test", "load"].iter().map(|s| s.to_string()).collect();
        let chapter = "`real_test` and `gone_test()` and `io::weights::gone_fn`\n\
                       `exp`, `Some_Type`, `a b_c`, `--flag_x`, `x_`\n```rust\nfn `in_code`\n```\n`also_gone`\n";
        assert_eq!(
            stale_names(chapter, &known),
            vec![(1, "gone_test()".to_string()), (1, "io::weights::gone_fn".to_string()), (6, "also_gone".to_string())]
        );
    }

    #[test]
    fn an_anchor_no_include_uses_is_reported_with_its_line() {
        let files = vec![(PathBuf::from("x.rs"), "// ANCHOR: used\n\n// ANCHOR_END: used\n// ANCHOR: spare\n".into())];
        let used: BTreeSet<_> = [(PathBuf::from("x.rs"), "used".to_string())].into();
        let problems = unused_anchors(&files, &used, |p| p.display().to_string());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("x.rs:4: anchor `spare` is never included"), "{}", problems[0]);
    }
}
