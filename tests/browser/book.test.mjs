// The built book, offline, in headless Chromium: every chapter's equations are typeset by the
// MathJax the book carries (no raw \( or \[ left in the text), no page asks for anything that is
// not a local file, and no built page names a CDN. Screenshots of the figures on the light and
// the dark (navy) theme go to target/browser/book-*.png.
//
// Run by `cargo xtask book` after `mdbook build book`; by hand, from this directory:
//
//   npm ci && MNISTLEARN_BOOK=../../book/build node --test book.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchChromium } from './chromium.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BOOK = path.resolve(process.env.MNISTLEARN_BOOK || path.join(REPO_ROOT, 'book', 'build'));
const SRC = path.join(REPO_ROOT, 'book', 'src');
const SHOT_DIR = path.join(REPO_ROOT, 'target', 'browser');
// Generous: a guard against a hang on a loaded machine, not a speed requirement.
const TEST_TIMEOUT = { timeout: 600_000 };

// The chapters, in SUMMARY.md's order.
const CHAPTERS = [...readFileSync(path.join(SRC, 'SUMMARY.md'), 'utf8').matchAll(/\]\(([^)]+)\.md\)/g)].map((m) => m[1]);

let browser;

before(async () => {
  assert.ok(existsSync(path.join(BOOK, 'index.html')), `no built book at ${BOOK}: run \`mdbook build book\` first`);
  mkdirSync(SHOT_DIR, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A browser context that refuses every request that is not a local file, and lists them. */
async function offlineContext(theme) {
  const context = await browser.newContext({ offline: true, viewport: { width: 1100, height: 900 } });
  const refused = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    refused.push(url);
    return route.abort();
  });
  if (theme) await context.addInitScript((t) => localStorage.setItem('mdbook-theme', t), theme);
  return { context, refused };
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

test('no built page names a CDN or loads a remote script, style or image', () => {
  const cdn = /cdnjs|jsdelivr|unpkg\.com|googleapis|gstatic|cdn\.mathjax|mathjax\.org\/|polyfill\.io/i;
  const remote = /<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["'](https?:)?\/\//i;
  const pages = walk(BOOK).filter((f) => f.endsWith('.html'));
  assert.ok(pages.length >= CHAPTERS.length, `${pages.length} HTML files for ${CHAPTERS.length} chapters`);
  for (const file of pages) {
    const html = readFileSync(file, 'utf8');
    const where = path.relative(BOOK, file);
    assert.doesNotMatch(html, cdn, `${where} names a CDN`);
    assert.doesNotMatch(html, remote, `${where} loads something from another host`);
  }
});

test('every chapter typesets its equations with the network off', TEST_TIMEOUT, async () => {
  const { context, refused } = await offlineContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  let typeset = 0;
  for (const chapter of CHAPTERS) {
    const source = readFileSync(path.join(SRC, `${chapter}.md`), 'utf8');
    await page.goto(pathToFileURL(path.join(BOOK, `${chapter}.html`)).href);
    await page.waitForFunction(() => window.MathJax?.startup?.promise, null, { timeout: 60_000 }).catch(() => {
      throw new Error(`${chapter}.html: MathJax did not load from the book (is book/src/mathjax/ installed?)`);
    });
    await page.evaluate(() => window.MathJax.startup.promise);
    const found = await page.evaluate(() => {
      const main = document.querySelector('main').cloneNode(true);
      const math = main.querySelectorAll('mjx-container').length;
      const errors = [...main.querySelectorAll('mjx-merror')].map((e) => e.getAttribute('data-mjx-error') || e.textContent);
      // Code is shown as written; what matters is the prose.
      main.querySelectorAll('pre, code, mjx-container, script, style').forEach((e) => e.remove());
      const text = main.textContent;
      const raw = [];
      for (const re of [/\\\(/g, /\\\[/g]) {
        for (const m of text.matchAll(re)) raw.push(text.slice(Math.max(0, m.index - 30), m.index + 30).replace(/\s+/g, ' '));
      }
      return { math, errors, raw };
    });
    assert.deepEqual(found.raw, [], `${chapter}.html shows raw TeX`);
    assert.deepEqual(found.errors, [], `${chapter}.html has TeX errors`);
    if (/\\\\\(|\\\\\[/.test(source)) {
      assert.ok(found.math > 0, `${chapter}.md has equations but ${chapter}.html typeset none`);
    }
    typeset += found.math;
  }
  assert.ok(typeset > 100, `only ${typeset} equations typeset in the whole book`);
  assert.deepEqual(refused, [], 'pages asked for something off the machine');
  assert.deepEqual(errors, [], 'page errors');
  await context.close();
});

test('the figures load and are screenshot on the light and the dark theme', TEST_TIMEOUT, async () => {
  const figures = readdirSync(path.join(SRC, 'figures')).filter((f) => f.endsWith('.svg'));
  for (const theme of ['light', 'navy']) {
    const { context, refused } = await offlineContext(theme);
    const page = await context.newPage();
    const seen = new Set();
    for (const chapter of CHAPTERS) {
      await page.goto(pathToFileURL(path.join(BOOK, `${chapter}.html`)).href);
      // mdBook 0.5 keeps a second, hidden copy of each image for its zoomed view.
      const images = page.locator('main img[src*="figures/"]:visible');
      for (let i = 0; i < (await images.count()); i += 1) {
        const image = images.nth(i);
        await image.scrollIntoViewIfNeeded();
        const { src, width, natural } = await image.evaluate(async (img) => {
          await img.decode();
          return { src: img.getAttribute('src'), width: img.getBoundingClientRect().width, natural: img.naturalWidth };
        });
        assert.ok(natural > 0, `${chapter}.html: ${src} did not load`);
        assert.ok(width >= 500, `${chapter}.html: ${src} is shown only ${width}px wide`);
        const name = path.basename(src, '.svg');
        seen.add(`${name}.svg`);
        const box = await image.boundingBox();
        await page.screenshot({
          path: path.join(SHOT_DIR, `book-${theme}-${name}.png`),
          clip: { x: Math.max(0, box.x - 24), y: Math.max(0, box.y - 24), width: box.width + 48, height: box.height + 48 },
        });
      }
    }
    if (theme === 'navy') {
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(background, 'rgb(255, 255, 255)', 'the navy theme was not applied');
    }
    assert.deepEqual([...seen].sort(), [...figures].sort(), 'every figure is embedded in some chapter');
    assert.deepEqual(refused, []);
    await context.close();
  }
});
