//! The link check of `cargo xtask book`, on the rendered book: after `mdbook build`, every
//! relative `href`/`src` of every page in `book/build/` must resolve to a file of the built book,
//! and a `#fragment` to an element of the target page with that `id` (or an `<a name>`). Every
//! chapter in `book/src/` must have been rendered (mdBook silently skips a chapter that
//! `SUMMARY.md` does not list).
//!
//! Why the HTML and not the Markdown: the Markdown side would have to re-implement Markdown's
//! link syntax and mdBook's heading-id rules, and follow them through every mdBook release. The
//! HTML is what a reader's browser gets, so this check is exact by construction — it also sees
//! the ids mdBook makes for footnotes and repeated headings, the links it rewrites (`x.md` →
//! `x.html`, and every link of `print.html`), the sidebar (`toc.html`) and the theme's assets.
//! Pages are read with html5gum, a WHATWG-conformant tokenizer without dependencies of its own
//! (the one lychee uses); attributes are all we need, so no tree is built. Links are resolved by
//! oxiri (RFC 3986 reference resolution, no dependencies) rather than the `url` crate, whose
//! internationalised domain names brought 26 crates (idna, ICU4X, five derive macros) and 95 s of
//! CPU to a clean `cargo test`, for host names this check never looks at.
//!
//! Not checked: absolute URLs (`https:`, `mailto:`, …), which need the network.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use html5gum::{DefaultEmitter, Token, Tokenizer};
use oxiri::{Iri, IriParseError, IriRef};
use percent_encoding::percent_decode_str;

/// What the check needs of one HTML page.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    /// Every `id` (and `<a name>`) on the page: where a `#fragment` may point.
    ids: BTreeSet<String>,
    /// The ids of its headings, to suggest when a fragment is wrong.
    heading_ids: Vec<String>,
    /// Every `href`, `src` and `<object data>`, entities decoded, in document order.
    links: Vec<String>,
    /// `<base href>`, if the page has one: relative links resolve against it.
    base: Option<String>,
}

/// Reads the ids and links of an HTML page.
pub fn read_page(html: &str) -> Page {
    let mut emitter = DefaultEmitter::default();
    // `<script>` and `<style>` bodies are text, not markup: `if (a <b)` is not a tag.
    emitter.naively_switch_states(true);
    let mut page = Page::default();
    for token in Tokenizer::new_with_emitter(html, emitter) {
        let Ok(Token::StartTag(tag)) = token else { continue };
        let name = String::from_utf8_lossy(&tag.name);
        let attribute = |key: &str| tag.attributes.get(key.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned());
        if let Some(id) = attribute("id") {
            if matches!(name.as_ref(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                page.heading_ids.push(id.clone());
            }
            page.ids.insert(id);
        }
        if name == "a" {
            page.ids.extend(attribute("name"));
        }
        if name == "base" {
            page.base = page.base.take().or(attribute("href"));
            continue;
        }
        let keys: &[&str] = if name == "object" { &["data"] } else { &["href", "src"] };
        page.links.extend(keys.iter().filter_map(|k| attribute(k)));
    }
    page
}

/// A built site: every file, and the pages among them.
#[derive(Debug, Default)]
pub struct Site {
    /// Every file, as a `/`-separated path relative to the site root.
    pub files: BTreeSet<String>,
    pub pages: BTreeMap<String, Page>,
}

/// One broken link.
#[derive(Debug, PartialEq)]
pub struct Broken {
    pub page: String,
    pub link: String,
    pub why: String,
}

/// Every link of every page that does not resolve; also returns how many links were checked.
/// Links resolve as a browser resolves them (RFC 3986), on a site served from `/`.
pub fn check_site(site: &Site) -> (usize, Vec<Broken>) {
    let root = Iri::parse("file:///".to_string()).expect("a valid IRI");
    let mut checked = 0;
    let mut broken = Vec::new();
    for (path, page) in &site.pages {
        let here = join(&root, path).expect("a site path is a valid IRI path");
        let base = page.base.as_ref().and_then(|b| join(&here, b).ok()).unwrap_or_else(|| here.clone());
        for link in &page.links {
            // A bare `#fragment` means this page, as its author meant it, even under a `<base>`
            // (mdBook's 404 page has `<base href="/">` and links its own heading that way).
            let against = if link.starts_with('#') { &here } else { &base };
            let why = match join(against, link) {
                // Another scheme (https:, mailto:, data:…) or another host (`//cdn/…`): not ours.
                Ok(url) if url.scheme() != "file" || url.authority().is_some_and(|host| !host.is_empty()) => continue,
                Ok(url) => resolve(site, &url),
                Err(e) => Some(format!("not a valid URL: {e}")),
            };
            checked += 1;
            if let Some(why) = why {
                broken.push(Broken { page: path.clone(), link: link.clone(), why });
            }
        }
    }
    (checked, broken)
}

/// `link` resolved against `base`, if it is a valid IRI reference.
fn join(base: &Iri<String>, link: &str) -> Result<Iri<String>, IriParseError> {
    base.resolve(&IriRef::parse(link)?)
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Why `url` (a `file:///…` URL inside the site) does not resolve, if it does not.
fn resolve(site: &Site, url: &Iri<String>) -> Option<String> {
    let mut target = decode(url.path().trim_start_matches('/'));
    if target.is_empty()
        || target.ends_with('/')
        || (!site.files.contains(&target) && site.files.contains(&format!("{target}/index.html")))
    {
        target = format!("{}{}index.html", target.trim_end_matches('/'), if target.is_empty() { "" } else { "/" });
    }
    if !site.files.contains(&target) {
        return Some(format!("{target} does not exist in the built book"));
    }
    let fragment = url.fragment().filter(|f| !f.is_empty())?;
    let page = site.pages.get(&target)?;
    let id = decode(fragment);
    if page.ids.contains(&id) {
        return None;
    }
    Some(format!("{target} has no element with id `{id}` ({})", suggest(&page.heading_ids, &id)))
}

/// Some heading ids of the target page to choose from: those sharing the wrong id's first word,
/// else the first few (print.html has a hundred).
fn suggest(headings: &[String], id: &str) -> String {
    const SHOWN: usize = 12;
    let first_word = id.split('-').next().unwrap_or(id);
    let related: Vec<&str> =
        headings.iter().filter(|h| h.split('-').any(|w| w == first_word)).map(String::as_str).collect();
    let (label, list) = if related.is_empty() {
        ("its headings", headings.iter().map(String::as_str).collect())
    } else {
        ("headings like it", related)
    };
    if list.is_empty() {
        return "it has no headings with ids".into();
    }
    let more = if list.len() > SHOWN { ", …" } else { "" };
    format!("{label}: {}{more}", list[..list.len().min(SHOWN)].join(", "))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let (mut files, mut stack) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| format!("book: reading {}: {e}", d.display()))? {
            let path = entry.map_err(|e| format!("book: reading {}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path)
            } else {
                files.push(path)
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `dir/a/b.html` → `a/b.html`.
fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// Reads the built site in `build` (`book/build`).
pub fn read_site(build: &Path) -> Result<Site, String> {
    let mut site = Site::default();
    for path in files_under(build)? {
        if path.extension().is_some_and(|e| e == "html" || e == "htm") {
            let html = fs::read_to_string(&path).map_err(|e| format!("book: reading {}: {e}", path.display()))?;
            site.pages.insert(relative(build, &path), read_page(&html));
        }
        site.files.insert(relative(build, &path));
    }
    Ok(site)
}

/// The report of `cargo xtask book`'s link check.
pub struct Report {
    pub pages: usize,
    pub links: usize,
    /// `file[:line]: what is wrong` for each broken link and each chapter missing from the build.
    pub problems: Vec<String>,
}

/// Checks the built book in `build` against its sources in `src`; `root` shortens paths.
pub fn check(root: &Path, src: &Path, build: &Path) -> Result<Report, String> {
    let site = read_site(build)?;
    if site.pages.is_empty() {
        return Err(format!("book: no HTML pages in {}: did `mdbook build` run?", build.display()));
    }
    let show = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut problems = Vec::new();

    // Every chapter was rendered: `x.md` → `x.html`.
    for chapter in files_under(src)?.into_iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
        let name = relative(src, &chapter);
        if name != "SUMMARY.md" && !site.files.contains(&format!("{}.html", name.trim_end_matches(".md"))) {
            problems.push(format!(
                "{}: not in the built book: list it in {} (mdBook renders only the chapters listed there) or delete it",
                show(&chapter),
                show(&src.join("SUMMARY.md"))
            ));
        }
    }

    let (links, broken) = check_site(&site);
    for Broken { page, link, why } in broken {
        // Point at the Markdown line that wrote the link, when the page is a chapter.
        let chapter = src.join(format!("{}.md", page.trim_end_matches(".html")));
        let line = fs::read_to_string(&chapter).ok().and_then(|text| source_line(&text, &link));
        let at = match line {
            Some(n) => format!("{}:{n} (rendered as {})", show(&chapter), show(&build.join(&page))),
            None => show(&build.join(&page)),
        };
        problems.push(format!("{at}: link `{link}`: {why}"));
    }
    Ok(Report { pages: site.pages.len(), links, problems })
}

/// The first line of a chapter that contains `link` as written in the HTML, or as the Markdown
/// wrote it before mdBook turned `.md` into `.html`.
fn source_line(markdown: &str, link: &str) -> Option<usize> {
    let (file, fragment) = link.split_once('#').map_or((link, None), |(f, r)| (f, Some(r)));
    let as_markdown = match file.strip_suffix(".html") {
        Some(stem) => format!("{stem}.md{}", fragment.map(|f| format!("#{f}")).unwrap_or_default()),
        None => link.to_string(),
    };
    markdown
        .lines()
        .position(|l| l.contains(&format!("({as_markdown}")) || l.contains(&format!("({link}")))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_links_come_from_attributes_not_from_text_or_scripts() {
        let page = read_page(
            r##"<!DOCTYPE html><html><head><link rel="stylesheet" href="css/a.css">
            <script>if (a <b href="nope.html">) {}</script><style>x{}</style></head>
            <body><h2 id="step-1"><a class="header" href="#step-1">Step 1</a></h2>
            <p id="x">see <a href="ln.html#pad&eacute;">ln</a>, <a name="old">·</a>
            <img src="fig.svg"> <object data="plot.svg"></object>
            <!-- <a href="commented.html"> --> <code>&lt;a href="code.html"&gt;</code>
            <a href="https://example.com">web</a></p></body></html>"##,
        );
        assert_eq!(page.ids, ["old", "step-1", "x"].map(String::from).into());
        assert_eq!(page.heading_ids, ["step-1"]);
        assert_eq!(page.links, ["css/a.css", "#step-1", "ln.html#padé", "fig.svg", "plot.svg", "https://example.com"]);
        assert_eq!(page.base, None);
    }

    fn site(pages: &[(&str, &str)], other_files: &[&str]) -> Site {
        let mut site = Site::default();
        for (path, html) in pages {
            site.files.insert(path.to_string());
            site.pages.insert(path.to_string(), read_page(html));
        }
        site.files.extend(other_files.iter().map(|f| f.to_string()));
        site
    }

    #[test]
    fn good_links_pass_and_each_kind_of_break_is_named() {
        let site = site(
            &[
                (
                    "index.html",
                    r##"<a href="exp.html">e</a><a href="exp.html#step-1">s</a><a href="#top">t</a><h1 id="top">T</h1><link href="css/a.css"><a href="sub/">sub</a><a href="https://x.org/#nothing">x</a>"##,
                ),
                (
                    "exp.html",
                    r##"<h2 id="step-1">S</h2><h2 id="padé">P</h2><a href="exp.html#pad%C3%A9">p</a><a href="#">top</a><a href="">self</a><a href="ln.html">missing</a><a href="exp.html#step-2">bad fragment</a><a href="#gone">bad local</a><img src="../../src/x.rs"><a href="index.html?x=1#top">q</a>"##,
                ),
                ("sub/index.html", r#"<a href="../exp.html#step-1">up</a><script src="../js/a.js"></script>"#),
                (
                    "404.html",
                    r##"<base href="/"><h1 id="here">404</h1><a href="#here">ok</a><a href="exp.html#step-1">ok</a><a href="nope.html">bad</a>"##,
                ),
            ],
            &["css/a.css", "js/a.js"],
        );
        let (checked, broken) = check_site(&site);
        let got: Vec<(&str, &str)> = broken.iter().map(|b| (b.page.as_str(), b.link.as_str())).collect();
        assert_eq!(
            got,
            [
                ("404.html", "nope.html"),
                ("exp.html", "ln.html"),
                ("exp.html", "exp.html#step-2"),
                ("exp.html", "#gone"),
                ("exp.html", "../../src/x.rs")
            ]
        );
        assert_eq!(broken[1].why, "ln.html does not exist in the built book");
        assert_eq!(broken[2].why, "exp.html has no element with id `step-2` (headings like it: step-1)");
        assert_eq!(broken[3].why, "exp.html has no element with id `gone` (its headings: step-1, padé)");
        // `..` stops at the root, as in a browser: the file is looked for in the book and not found.
        assert_eq!(broken[4].why, "src/x.rs does not exist in the built book");
        assert_eq!(checked, 18);
    }

    #[test]
    fn the_markdown_line_of_a_link_is_found() {
        let md = "# T\n\nSee [exp](exp.md#step-2) and\n[here](#gone).\n";
        assert_eq!(source_line(md, "exp.html#step-2"), Some(3));
        assert_eq!(source_line(md, "#gone"), Some(4));
        assert_eq!(source_line(md, "other.html"), None);
    }
}
