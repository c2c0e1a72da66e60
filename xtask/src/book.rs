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
//!    Every file the book includes must also have balanced anchors throughout.
//! 2. **The build.** `mdbook build book` succeeds and prints no `ERROR` or `WARN` line.
//! 3. **Links**, after building, on the rendered HTML (`links.rs`): every relative link and
//!    `#fragment` of every page resolves to a file and an element id, and every chapter was
//!    rendered.
//! 4. **Offline.** Every chapter, opened in headless Chromium with the network refused, shows
//!    its equations typeset (no raw `\(` or `\[`), and no built page names a CDN
//!    ([`crate::mathjax`]).
//!
//! Each problem is reported as `file:line: what was found, and what was expected`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

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
            "book: {} problem(s) in the book's includes or anchors (listed above)",
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

    for chapter in &chapters {
        let text = files.markdown(chapter)?;
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

// ---- Include directives ----------------------------------------------------------------------

/// Which part of a file an include takes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Selector {
    All,
    /// 1-based, inclusive; `last: None` means "to the end".
    Lines {
        first: usize,
        last: Option<usize>,
    },
    Anchor(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    path: String,
    selector: Selector,
}

/// One `{{#kind …}}` directive of a chapter.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Directive {
    /// 1-based line of the chapter where it starts.
    line: usize,
    kind: String,
    /// The directive as written, for messages.
    text: String,
    /// The file it includes (`None` for `{{#title …}}`).
    target: Option<Target>,
}

/// Every directive mdBook's `links` preprocessor would expand, in order. Escaped ones
/// (`\{{#include …}}`, which mdBook prints literally) are skipped. A directive mdBook would not
/// understand is an error: it would end up in the page as text.
fn find_directives(text: &str) -> Vec<Result<Directive, (usize, String)>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(offset) = text[at..].find("{{") {
        let start = at + offset;
        let line = 1 + text[..start].matches('\n').count();
        // mdBook: `\{{#…}}` is an escape, up to the last `}}` on that line.
        if start > 0 && bytes[start - 1] == b'\\' && text[start + 2..].starts_with('#') {
            let line_end = text[start..].find('\n').map_or(text.len(), |n| start + n);
            at = text[start..line_end].rfind("}}").map_or(start + 2, |n| start + n + 2);
            continue;
        }
        let mut i = start + 2;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'#' {
            at = start + 2; // not a directive (`{{` in prose or code)
            continue;
        }
        let kind_start = i + 1;
        let mut kind_end = kind_start;
        while kind_end < bytes.len() && (bytes[kind_end].is_ascii_alphanumeric() || bytes[kind_end] == b'_') {
            kind_end += 1;
        }
        let kind = &text[kind_start..kind_end];
        let Some(close) = text[kind_end..].find('}').map(|n| kind_end + n) else {
            out.push(Err((line, format!("`{{{{#{kind}` is never closed with `}}}}`"))));
            break;
        };
        let body = &text[kind_end..close];
        let directive_text = text[start..(close + 2).min(text.len())].to_string();
        if kind.is_empty()
            || !text[close..].starts_with("}}")
            || !body.starts_with(|c: char| c.is_whitespace())
            || body.trim().is_empty()
        {
            out.push(Err((
                line,
                format!(
                    "malformed directive `{}`: expected `{{{{#include PATH}}}}` or `{{{{#include PATH:ANCHOR}}}}`",
                    first_line(&directive_text)
                ),
            )));
            at = close + 1;
            continue;
        }
        at = close + 2;
        let argument = body.split_whitespace().next().unwrap_or_default();
        let target = match kind {
            "include" | "rustdoc_include" => match parse_target(argument) {
                Ok(t) => Some(t),
                Err(message) => {
                    out.push(Err((line, format!("`{directive_text}`: {message}"))));
                    continue;
                }
            },
            "playground" | "playpen" => Some(Target { path: argument.to_string(), selector: Selector::All }),
            "title" => None,
            other => {
                out.push(Err((line, format!("`{directive_text}`: unknown directive `#{other}`: mdBook would print it as text (expected include, rustdoc_include, playground or title)"))));
                continue;
            }
        };
        out.push(Ok(Directive { line, kind: kind.to_string(), text: directive_text, target }));
    }
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// `PATH`, `PATH:ANCHOR`, `PATH:LINE`, `PATH:FIRST:`, `PATH::LAST` or `PATH:FIRST:LAST`, read the
/// way mdBook reads them — but stricter: a line number must be a number, and lines count from 1.
fn parse_target(argument: &str) -> Result<Target, String> {
    let (path, rest) = match argument.split_once(':') {
        Some((p, r)) => (p, Some(r)),
        None => (argument, None),
    };
    if path.is_empty() {
        return Err("no file path before the `:`".into());
    }
    let selector = match rest {
        None => Selector::All,
        Some(rest) => {
            let mut parts = rest.splitn(3, ':');
            let first = parts.next().unwrap_or_default();
            let end = parts.next();
            if !first.is_empty() && !first.bytes().all(|b| b.is_ascii_digit()) {
                // An anchor name. mdBook ignores anything after it.
                if !first.chars().all(is_anchor_char) {
                    return Err(format!(
                        "anchor name `{first}` can never match: anchor names are letters, digits, `_` and `-`"
                    ));
                }
                if end.is_some() {
                    return Err(format!("unexpected `:` after the anchor name `{first}`"));
                }
                Selector::Anchor(first.to_string())
            } else {
                let number = |s: &str| -> Result<usize, String> {
                    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a line number"))?;
                    if n == 0 {
                        return Err("line numbers start at 1".into());
                    }
                    Ok(n)
                };
                let start = if first.is_empty() { None } else { Some(number(first)?) };
                match (start, end) {
                    (None, None) => Selector::All,
                    (Some(n), None) => Selector::Lines { first: n, last: Some(n) },
                    (start, Some("")) => Selector::Lines { first: start.unwrap_or(1), last: None },
                    (start, Some(last)) => Selector::Lines { first: start.unwrap_or(1), last: Some(number(last)?) },
                }
            }
        }
    };
    Ok(Target { path: path.to_string(), selector })
}

/// Why a line range does not fit a file of `lines` lines, if it does not.
fn check_range(first: usize, last: Option<usize>, lines: usize) -> Option<String> {
    let shown = match last {
        Some(l) => format!("lines {first}–{l}"),
        None => format!("lines {first}–end"),
    };
    if let Some(l) = last {
        if l < first {
            return Some(format!("{shown} is an empty range: expected FIRST ≤ LAST"));
        }
        if l > lines {
            return Some(format!("{shown} run past the end"));
        }
    }
    if first > lines {
        return Some(format!("{shown} start past the end"));
    }
    None
}

// ---- Anchors ---------------------------------------------------------------------------------

fn is_anchor_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The anchor name a line declares after `marker` (`ANCHOR:` or `ANCHOR_END:`), as mdBook's
/// regex `MARKER\s*([\w_-]+)` finds it.
fn anchor_on_line<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
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

const START: &str = "ANCHOR:";
const END: &str = "ANCHOR_END:";

#[derive(Debug, PartialEq, Eq)]
enum AnchorError {
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
    fn describe(&self, name: &str, file: &str) -> String {
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
fn find_anchor(text: &str, name: &str) -> Result<(usize, usize), AnchorError> {
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
fn unbalanced_anchors(text: &str) -> Vec<String> {
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

    fn ok(text: &str) -> Vec<Directive> {
        find_directives(text).into_iter().map(|d| d.expect("a valid directive")).collect()
    }

    fn target(d: &Directive) -> (&str, &Selector) {
        let t = d.target.as_ref().expect("has a target");
        (t.path.as_str(), &t.selector)
    }

    #[test]
    fn parses_every_include_form() {
        let text = "a\n{{#include ../../src/x.rs:name}}\n{{#include f.rs}}\n{{#include f.rs:10}}\n{{#include f.rs:10:}}\n{{#include f.rs::20}}\n{{#include f.rs:3:7}}\n{{#include f.rs::}}\n";
        let d = ok(text);
        assert_eq!(d.len(), 7);
        assert_eq!(target(&d[0]), ("../../src/x.rs", &Selector::Anchor("name".into())));
        assert_eq!(d[0].line, 2);
        assert_eq!(d[0].text, "{{#include ../../src/x.rs:name}}");
        assert_eq!(target(&d[1]).1, &Selector::All);
        assert_eq!(target(&d[2]).1, &Selector::Lines { first: 10, last: Some(10) });
        assert_eq!(target(&d[3]).1, &Selector::Lines { first: 10, last: None });
        assert_eq!(target(&d[4]).1, &Selector::Lines { first: 1, last: Some(20) });
        assert_eq!(target(&d[5]).1, &Selector::Lines { first: 3, last: Some(7) });
        assert_eq!(target(&d[6]).1, &Selector::Lines { first: 1, last: None });
        assert_eq!(d[6].line, 8);
    }

    #[test]
    fn whitespace_rustdoc_include_playground_and_title() {
        let d =
            ok("{{ #include  a.rs:x-y_1 }} {{#rustdoc_include b.rs:2:3}}\n{{#playground c.rs editable}}{{#title T}}");
        assert_eq!(d.len(), 4);
        assert_eq!(target(&d[0]), ("a.rs", &Selector::Anchor("x-y_1".into())));
        assert_eq!(d[1].kind, "rustdoc_include");
        assert_eq!(target(&d[1]).1, &Selector::Lines { first: 2, last: Some(3) });
        assert_eq!(target(&d[2]), ("c.rs", &Selector::All));
        assert_eq!(d[2].line, 2);
        assert_eq!(d[3].kind, "title");
        assert!(d[3].target.is_none());
    }

    #[test]
    fn escaped_directives_and_plain_braces_are_not_includes() {
        let d = find_directives("write `\\{{#include x.rs:a}}` to include\n{{ not a directive }} {{}}\n");
        assert!(d.is_empty(), "{d:?}");
        // The escape only covers its own directive.
        let d = ok("\\{{#include x.rs:a}}\n{{#include y.rs:b}}");
        assert_eq!(d.len(), 1);
        assert_eq!(target(&d[0]).0, "y.rs");
        assert_eq!(d[0].line, 2);
    }

    #[test]
    fn bad_directives_are_errors_with_their_line() {
        let d = find_directives("\n{{#inlcude a.rs:x}}\n");
        assert!(matches!(&d[..], [Err((2, m))] if m.contains("unknown directive `#inlcude`")), "{d:?}");
        let d = find_directives("{{#include a.rs:x");
        assert!(matches!(&d[..], [Err((1, m))] if m.contains("never closed")), "{d:?}");
        let d = find_directives("{{#include a.rs:0:3}}");
        assert!(matches!(&d[..], [Err((1, m))] if m.contains("start at 1")), "{d:?}");
        let d = find_directives("{{#include a.rs:3:x}}");
        assert!(matches!(&d[..], [Err((1, m))] if m.contains("not a line number")), "{d:?}");
        let d = find_directives("{{#include a.rs:na.me}}");
        assert!(matches!(&d[..], [Err((1, m))] if m.contains("can never match")), "{d:?}");
        let d = find_directives("{{#include}}");
        assert!(matches!(&d[..], [Err((1, m))] if m.contains("malformed")), "{d:?}");
    }

    #[test]
    fn ranges_must_fit_the_file() {
        assert_eq!(check_range(1, Some(10), 10), None);
        assert_eq!(check_range(10, None, 10), None);
        assert!(check_range(11, None, 10).unwrap().contains("start past the end"));
        assert!(check_range(5, Some(11), 10).unwrap().contains("run past the end"));
        assert!(check_range(7, Some(3), 10).unwrap().contains("empty range"));
    }

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
