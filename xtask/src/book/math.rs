//! Equations that would reach the page as plain text, which the rendered book cannot show.
//!
//! The book writes inline math as `\\( … \\)` and display math as `\\[ … \\]`: Markdown turns
//! `\\` into the one backslash MathJax looks for. A delimiter written with one backslash, `\(`,
//! is a Markdown escape instead: the page shows a bare `(`, MathJax finds nothing to typeset,
//! and the formula stays raw TeX in parentheses. The offline check on the built pages
//! (`crate::mathjax`) cannot see that, since no `\(` is left there, so this reads the source.
//! It also refuses control characters other than tab and newline (a carriage return, say,
//! left in a chapter by a tool that read `\r` in `\rfloor` as an escape).

/// Each line of a chapter with a delimiter written with an odd number of backslashes, or with
/// a control character, outside code blocks and inline code: `(line, what was found and what
/// was expected)`.
pub(super) fn unescaped_math(text: &str) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    let mut fenced = false;
    for (n, line) in text.split('\n').enumerate() {
        let line_no = n + 1;
        if let Some(c) = line.chars().find(|&c| c.is_control() && c != '\t') {
            problems.push((
                line_no,
                format!("control character U+{:04X} in the text; only tabs and newlines belong", c as u32),
            ));
        }
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let bytes = line.as_bytes();
        let mut in_code = false;
        let mut backslashes = 0;
        for &b in bytes {
            if b == b'`' {
                in_code = !in_code;
                backslashes = 0;
                continue;
            }
            if in_code {
                continue;
            }
            if matches!(b, b'(' | b')' | b'[' | b']') && backslashes % 2 == 1 {
                let d = b as char;
                problems.push((
                    line_no,
                    format!("`\\{d}` with one backslash: Markdown drops it and MathJax never sees the formula; write `\\\\{d}`"),
                ));
            }
            backslashes = if b == b'\\' { backslashes + 1 } else { 0 };
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_need_two_backslashes_outside_code() {
        let chapter = "fine \\\\( x \\\\) and \\\\[ y \\\\]\n\
                       bad \\( +0.0 \\) here\n\
                       `\\(` in inline code is fine\n\
                       ```text\n\\[ in a code block \\]\n```\n\
                       a link [text](url) and \\\\\\( three\n";
        let found: Vec<usize> = unescaped_math(chapter).into_iter().map(|(line, _)| line).collect();
        assert_eq!(found, vec![2, 2, 7]);
        let (_, message) = &unescaped_math("a \\( b")[0];
        assert!(message.contains("`\\(` with one backslash") && message.contains("write `\\\\(`"), "{message}");
    }

    #[test]
    fn control_characters_are_refused_but_tabs_are_not() {
        assert_eq!(unescaped_math("a\tb\nc"), vec![]);
        let found = unescaped_math("x\n2^{\\lfloor k \rfloor}\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 2);
        assert!(found[0].1.contains("U+000D"), "{}", found[0].1);
    }
}
