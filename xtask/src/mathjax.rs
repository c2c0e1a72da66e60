//! The book's equations without the network.
//!
//! * [`install`] puts MathJax into `book/src/mathjax/` (gitignored) from the npm package pinned
//!   in `book/package-lock.json`: the script (`tex-chtml.js`) and the fonts it loads relative to
//!   itself. `book/theme/head.hbs` loads it from there, so a built book — and `mdbook serve book`
//!   once this has run — reads no CDN. (Committing the 1.5 MB of minified MathJax instead was
//!   the other choice; mdbook-katex, which pre-renders, does not run under mdBook 0.5.)
//! * [`check_offline`] opens every chapter of the built book in headless Chromium with every
//!   non-`file:` request refused, and fails if a chapter still shows a raw `\(` or `\[` (math
//!   MathJax did not typeset), if a page asked for anything off the machine, or if any built
//!   HTML file names a CDN. The test is `tests/browser/book.test.mjs`.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::run_checked;

/// What `book/src/mathjax/` gets from the package: (path in the package, path in the book).
const FILES: &[(&str, &str)] = &[("es5/tex-chtml.js", "tex-chtml.js"), ("LICENSE", "LICENSE")];
const FONTS: &str = "es5/output/chtml/fonts/woff-v2";

pub fn install(root: &Path) -> Result<(), String> {
    let book = root.join("book");
    let lock =
        fs::read_to_string(book.join("package-lock.json")).map_err(|e| format!("book/package-lock.json: {e}"))?;
    let version = serde_json::from_str::<serde_json::Value>(&lock)
        .ok()
        .and_then(|v| v["packages"]["node_modules/mathjax"]["version"].as_str().map(str::to_string))
        .ok_or("book/package-lock.json: no version of node_modules/mathjax")?;
    let target = book.join("src/mathjax");
    let stamp = target.join("VERSION");
    if fs::read_to_string(&stamp).is_ok_and(|v| v.trim() == version) {
        return Ok(());
    }
    let package = book.join("node_modules/mathjax");
    let installed = fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string));
    if installed.as_deref() != Some(version.as_str()) {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(&book);
        run_checked(npm, "npm ci (book/, MathJax)")?;
    }
    let _ = fs::remove_dir_all(&target);
    let copy = |from: &Path, to: &Path| -> Result<(), String> {
        fs::create_dir_all(to.parent().expect("a file in a directory"))
            .map_err(|e| format!("{}: {e}", to.display()))?;
        fs::copy(from, to).map(|_| ()).map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
    };
    for (from, to) in FILES {
        copy(&package.join(from), &target.join(to))?;
    }
    let fonts = fs::read_dir(package.join(FONTS)).map_err(|e| format!("{}: {e}", package.join(FONTS).display()))?;
    for entry in fonts {
        let entry = entry.map_err(|e| e.to_string())?;
        copy(&entry.path(), &target.join("output/chtml/fonts/woff-v2").join(entry.file_name()))?;
    }
    fs::write(&stamp, format!("{version}\n")).map_err(|e| format!("{}: {e}", stamp.display()))?;
    println!("book: MathJax {version} installed into book/src/mathjax/");
    Ok(())
}

pub fn check_offline(root: &Path) -> Result<(), String> {
    let test_dir = root.join("tests/browser");
    if !test_dir.join("node_modules/playwright-core").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(&test_dir);
        run_checked(npm, "npm ci (tests/browser)")?;
    }
    let mut node = Command::new("node");
    node.args(["--test", "book.test.mjs"]).current_dir(&test_dir).env("MNISTLEARN_BOOK", root.join("book/build"));
    run_checked(node, "node --test tests/browser/book.test.mjs (the book offline)")
}
