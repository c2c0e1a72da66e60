//! `cargo xtask book [--no-build]`: check the mdBook in `book/`, build it, check the result.
//!
//! mdBook is lenient where a literate book cannot afford to be: an include of an anchor that no
//! longer exists renders as an empty listing, a line range past the end of a file renders short,
//! a link to a renamed chapter or heading renders as a dead link, and a chapter missing from
//! `SUMMARY.md` is silently left out — all without an error. So:
//!
//! 1. **Includes**, before building, on the Markdown (no tool checks these). Every
//!    `{{#include PATH}}`, `{{#include PATH:ANCHOR}}`, `{{#include PATH:FIRST:LAST}}` (and the
//!    same for `rustdoc_include`, plus `playground`) in `book/src/**/*.md`: the file exists
//!    (relative to the chapter, as mdBook resolves it); an anchor has an `ANCHOR: name` line, a
//!    later `ANCHOR_END: name` line, and lines between them; a line range lies inside the file.
//!    Every file the book includes must also have balanced anchors throughout, and every anchor
//!    in the sources must be included somewhere (`drift.rs`). And a backticked
//!    `snake_case_name` in a chapter's prose must still occur in the sources: the book names
//!    tests and functions, and renames leave it behind (`drift.rs`). And every equation's
//!    delimiters carry the two backslashes Markdown needs to leave one for MathJax (`math.rs`).
//! 2. **The build.** `mdbook build book` succeeds and prints no `ERROR` or `WARN` line.
//! 3. **Links**, after building, on the rendered HTML (`links.rs`): every relative link and
//!    `#fragment` of every page resolves to a file and an element id, and every chapter was
//!    rendered.
//! 4. **Offline.** Every chapter, opened in headless Chromium with the network refused, shows
//!    its equations typeset (no raw `\(` or `\[`), and no built page names a CDN
//!    ([`crate::mathjax`]).
//!
//! Each problem is reported as `file:line: what was found, and what was expected`.

mod anchors;
mod directives;
mod drift;
mod math;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anchors::{find_anchor, unbalanced_anchors};
use directives::{check_range, find_directives, Selector};

pub fn run(args: &[String]) -> Result<(), String> {
    let build = !crate::util::optional_flag("book", args, "--no-build")?;
    let root = crate::paths::project_root();
    let book = root.join("book");
    let src = book.join("src");
    let report = check_book(&root, &src)?;
    if !report.problems.is_empty() {
        for problem in &report.problems {
            eprintln!("{problem}");
        }
        return Err(format!(
            "book: {} problem(s) in the book's includes, anchors, names or equations (listed above)",
            report.problems.len()
        ));
    }
    println!(
        "book: {} chapters, {} includes ({} anchors): all resolve",
        report.chapters, report.includes, report.anchors
    );
    if build {
        crate::mathjax::install(&root)?;
        build_book(&root, &book)?;
        let links = crate::links::check(&root, &src, &book.join("build"))?;
        if !links.problems.is_empty() {
            for problem in &links.problems {
                eprintln!("{problem}");
            }
            return Err(format!(
                "book: {} broken link(s) or unrendered chapter(s) in the built book (listed above)",
                links.problems.len()
            ));
        }
        println!("book: {} pages, {} relative links and fragments: all resolve", links.pages, links.links);
        crate::mathjax::check_offline(&root)?;
    }
    Ok(())
}

// ---- The checks ------------------------------------------------------------------------------

/// What a check of the whole book found.
#[derive(Debug, Default)]
struct Report {
    chapters: usize,
    includes: usize,
    anchors: usize,
    problems: Vec<String>,
}

fn check_book(root: &Path, src: &Path) -> Result<Report, String> {
    let mut report = Report::default();
    let mut chapters = Vec::new();
    collect_markdown(src, &mut chapters).map_err(|e| format!("book: reading {}: {e}", src.display()))?;
    chapters.sort();
    if chapters.is_empty() {
        return Err(format!("book: no Markdown files in {}", src.display()));
    }
    let show = |p: &Path| display_path(root, p);
    let mut files = FileCache::default();
    let mut included: BTreeSet<PathBuf> = BTreeSet::new();
    let mut used_anchors: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    let sources = drift::source_files(root);
    let known = drift::identifiers(&sources);

    for chapter in &chapters {
        let text = files.markdown(chapter)?;
        for (line, name) in drift::stale_names(&text, &known) {
            report.problems.push(format!(
                "{}:{line}: `{name}` names no function, test or field in the sources; rename it or drop it",
                show(chapter)
            ));
        }
        for (line, problem) in math::unescaped_math(&text) {
            report.problems.push(format!("{}:{line}: {problem}", show(chapter)));
        }
        // 1. Includes.
        for found in find_directives(&text) {
            let directive = match found {
                Ok(d) => d,
                Err((line, message)) => {
                    report.problems.push(format!("{}:{line}: {message}", show(chapter)));
                    continue;
                }
            };
            let Some(target) = &directive.target else { continue };
            report.includes += 1;
            let file = normalize(&chapter.parent().expect("a chapter is in a directory").join(&target.path));
            let at = format!("{}:{}: {}", show(chapter), directive.line, directive.text);
            let Some(contents) = files.text(&file) else {
                report
                    .problems
                    .push(format!("{at}: file {} does not exist (paths are relative to the chapter)", show(&file)));
                continue;
            };
            included.insert(file.clone());
            let lines = contents.lines().count();
            match &target.selector {
                Selector::All => {}
                Selector::Lines { first, last } => {
                    if let Some(problem) = check_range(*first, *last, lines) {
                        report.problems.push(format!("{at}: {problem} of {} ({lines} lines)", show(&file)));
                    }
                }
                Selector::Anchor(name) => {
                    report.anchors += 1;
                    used_anchors.insert((file.clone(), name.clone()));
                    if let Err(problem) = find_anchor(&contents, name) {
                        report.problems.push(format!("{at}: {}", problem.describe(name, &show(&file))));
                    }
                }
            }
        }
    }

    // Every included file keeps its anchors balanced, whether or not the book uses them all.
    for file in &included {
        let contents = files.text(file).expect("read above");
        for problem in unbalanced_anchors(&contents) {
            report.problems.push(format!("{}:{}", show(file), problem));
        }
    }

    // Every anchor is there for the book: one no chapter includes is a listing lost on one side.
    report.problems.extend(drift::unused_anchors(&sources, &used_anchors, show));

    // Whether each chapter is listed in SUMMARY.md is checked on the build (`links.rs`).
    report.chapters = chapters.iter().filter(|c| c.file_name().is_some_and(|n| n != "SUMMARY.md")).count();
    Ok(report)
}

/// All `*.md` files under `dir`.
fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_markdown(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(normalize(&path));
        }
    }
    Ok(())
}

/// Reads each file once. `text` is `None` for a missing or unreadable file.
#[derive(Default)]
struct FileCache {
    texts: HashMap<PathBuf, Option<String>>,
}

impl FileCache {
    fn text(&mut self, path: &Path) -> Option<String> {
        self.texts.entry(path.to_path_buf()).or_insert_with(|| fs::read_to_string(path).ok()).clone()
    }

    fn markdown(&mut self, path: &Path) -> Result<String, String> {
        self.text(path).ok_or_else(|| format!("book: cannot read {} as UTF-8 text", path.display()))
    }
}

/// `a/b/../c` → `a/c`, without touching the file system (so missing files still get a name).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to the repository root when it is inside it.
fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

// ---- The build -------------------------------------------------------------------------------

/// `mdbook` on `PATH`, else in Cargo's bin directory.
fn find_mdbook() -> Option<PathBuf> {
    let name = if cfg!(windows) { "mdbook.exe" } else { "mdbook" };
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path.chain(cargo_home.map(|c| c.join("bin"))).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Whether an mdBook log line is a warning or an error (`ERROR …`, ` WARN …`, possibly after a
/// timestamp and colour codes).
fn is_problem_line(line: &str) -> bool {
    let plain = strip_ansi(line);
    plain
        .split_whitespace()
        .take(3)
        .any(|word| word == "ERROR" || word == "WARN" || word == "[ERROR]" || word == "[WARN]")
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            if chars.next() == Some('[') {
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn build_book(root: &Path, book: &Path) -> Result<(), String> {
    let mdbook = find_mdbook()
        .ok_or("book: mdbook not found on PATH or in ~/.cargo/bin: install it with `cargo install mdbook --locked`")?;
    let output = Command::new(&mdbook)
        .arg("build")
        .arg(book)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("book: cannot run {}: {e}", mdbook.display()))?;
    let mut problems = Vec::new();
    for stream in [&output.stdout, &output.stderr] {
        for line in String::from_utf8_lossy(stream).lines() {
            println!("{line}");
            if is_problem_line(line) {
                problems.push(strip_ansi(line).trim().to_string());
            }
        }
    }
    if !output.status.success() {
        return Err(format!("book: `mdbook build book` failed ({})", output.status));
    }
    if !problems.is_empty() {
        return Err(format!(
            "book: `mdbook build book` reported {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    println!("book: built {}", display_path(root, &book.join("build/index.html")));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_without_the_file_system() {
        assert_eq!(normalize(Path::new("/r/book/src/../../src/x.rs")), PathBuf::from("/r/src/x.rs"));
        assert_eq!(normalize(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
    }

    #[test]
    fn mdbook_warning_lines_are_recognised() {
        assert!(is_problem_line(" WARN Caused By: No such file"));
        assert!(is_problem_line("ERROR Error updating \"{{#include x}}\""));
        assert!(is_problem_line("2025-01-01 12:00:00 [WARN] (mdbook::x): bad"));
        assert!(is_problem_line("\u{1b}[33m WARN\u{1b}[0m something"));
        assert!(!is_problem_line(" INFO Book building has started"));
        assert!(!is_problem_line(" INFO HTML book written to `WARN`"));
    }
}
