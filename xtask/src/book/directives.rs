//! The include directives of a chapter, read the way mdBook's `links` preprocessor reads them
//! (but stricter), and the line ranges they select.

use super::anchors::is_anchor_char;

/// Which part of a file an include takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Selector {
    All,
    /// 1-based, inclusive; `last: None` means "to the end".
    Lines {
        first: usize,
        last: Option<usize>,
    },
    Anchor(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) path: String,
    pub(super) selector: Selector,
}

/// One `{{#kind …}}` directive of a chapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Directive {
    /// 1-based line of the chapter where it starts.
    pub(super) line: usize,
    pub(super) kind: String,
    /// The directive as written, for messages.
    pub(super) text: String,
    /// The file it includes (`None` for `{{#title …}}`).
    pub(super) target: Option<Target>,
}

/// Every directive mdBook's `links` preprocessor would expand, in order. Escaped ones
/// (`\{{#include …}}`, which mdBook prints literally) are skipped. A directive mdBook would not
/// understand is an error: it would end up in the page as text.
pub(super) fn find_directives(text: &str) -> Vec<Result<Directive, (usize, String)>> {
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

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// `PATH`, `PATH:ANCHOR`, `PATH:LINE`, `PATH:FIRST:`, `PATH::LAST` or `PATH:FIRST:LAST`, read the
/// way mdBook reads them — but stricter: a line number must be a number, and lines count from 1.
pub(super) fn parse_target(argument: &str) -> Result<Target, String> {
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
pub(super) fn check_range(first: usize, last: Option<usize>, lines: usize) -> Option<String> {
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
}
