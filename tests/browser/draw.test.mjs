// End-to-end test of the drawing page in headless Chromium.
//
// Needs a running server (the real one: `mnistlearn serve --addr 127.0.0.1:PORT --weights FILE`)
// at $MNISTLEARN_URL (default http://127.0.0.1:8080) and a Chromium at $CHROMIUM (default
// /usr/bin/chromium; playwright-core never downloads a browser). Run from this directory:
//
//   npm ci && MNISTLEARN_URL=http://127.0.0.1:8080 node --test draw.test.mjs
//
// Screenshots go to target/browser/ at the repo root: draw-1.png, draw-0.png, draw-small-3.png,
// draw-7.png, draw-tiny-*.png (each with the hidden layer lit), mnist-corners.png (the last of
// ten MNIST test digits drawn under 60 px tall in the corners), tap.png, blank.png, error.png,
// tablet-3.png (768×1024) and phone-3.png (390×844).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

const BASE_URL = (process.env.MNISTLEARN_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOT_DIR = path.join(REPO_ROOT, 'target', 'browser');
const CANVAS = 280;
const WAIT_MS = 15_000;
const TEST_TIMEOUT = { timeout: 60_000 };

let browser;

before(async () => {
  // Fail with a clear message, not a browser timeout, when the server is not up.
  try {
    const res = await fetch(`${BASE_URL}/`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200, `GET ${BASE_URL}/ answered ${res.status}`);
  } catch (err) {
    throw new Error(
      `no mnistlearn server at ${BASE_URL} (${err.message}); start one with ` +
      '`mnistlearn serve --addr 127.0.0.1:PORT --weights FILE` and set MNISTLEARN_URL');
  }
  mkdirSync(SHOT_DIR, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/**
 * A fresh page on the app, with a log of its /strokes requests (method, content type, body) and
 * answers, and the largest number that were ever in flight at once. Page errors
 * fail the test that opened the page, and so do failed HTTP requests (both checked by `done`).
 */
async function openApp({ viewport = { width: 1024, height: 800 }, mobile = false } = {}) {
  const page = await browser.newPage({ viewport, isMobile: mobile, hasTouch: mobile });
  const log = { requests: [], answers: [], inFlight: 0, maxInFlight: 0, pageErrors: [], httpErrors: [] };
  page.on('pageerror', (err) => log.pageErrors.push(String(err)));
  page.on('console', (msg) => {
    // Failed HTTP requests are checked through `httpErrors` instead.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      log.pageErrors.push(`console: ${msg.text()}`);
    }
  });
  page.on('response', async (res) => {
    if (res.status() >= 400) log.httpErrors.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  const isClassify = (req) => new URL(req.url()).pathname === '/strokes';
  page.on('request', (req) => {
    if (!isClassify(req)) return;
    log.inFlight += 1;
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
    log.requests.push({
      method: req.method(),
      contentType: req.headers()['content-type'],
      body: req.postData(),
    });
  });
  const finished = async (req) => {
    if (!isClassify(req)) return;
    log.inFlight -= 1;
    const res = await req.response();
    if (res && res.ok()) log.answers.push(await res.json());
  };
  page.on('requestfinished', finished);
  page.on('requestfailed', (req) => { if (isClassify(req)) log.inFlight -= 1; });
  // The page must work under the strictest policy the server may send (no inline scripts or
  // styles, nothing from elsewhere): every answer gets it here, whatever the server sends, and a
  // violation is a console error, which fails the test.
  await page.route('**/*', async (route) => {
    const response = await route.fetch();
    await route.fulfill({
      response,
      headers: { ...response.headers(), 'content-security-policy': "default-src 'self'" },
    });
  });
  await page.goto(`${BASE_URL}/`);
  await page.waitForFunction(() => typeof window.mnist === 'object');
  // The hidden layer's pictures arrive with GET /hidden-weights.
  await page.waitForFunction(() => document.querySelectorAll('#hidden canvas.unit').length > 0, null, { timeout: WAIT_MS });
  // `expectedHttpErrors`: a test that makes requests fail on purpose names their status.
  const done = async ({ expectedHttpErrors = [] } = {}) => {
    await page.close();
    assert.deepEqual(log.pageErrors, [], 'the page logged errors');
    const unexpected = log.httpErrors.filter((e) => !expectedHttpErrors.some((x) => e.startsWith(x)));
    assert.deepEqual(unexpected, [], 'some requests failed');
  };
  return { page, log, done };
}

/** Draws strokes (each a list of canvas pixel coordinates) with the mouse, in small steps. */
async function draw(page, strokes) {
  const box = await page.locator('#canvas').boundingBox();
  const toPage = ([x, y]) => [box.x + (x * box.width) / CANVAS, box.y + (y * box.height) / CANVAS];
  for (const points of strokes) {
    await page.mouse.move(...toPage(points[0]));
    await page.mouse.down();
    for (const p of points.slice(1)) await page.mouse.move(...toPage(p));
    await page.mouse.up();
  }
}

/** Maps strokes drawn in a unit box (0–1 each way) into the canvas box [x, y, w, h]. */
function inBox(strokes, [x, y, w, h]) {
  return strokes.map((s) => s.map(([u, v]) => [x + u * w, y + v * h]));
}

function arc(cx, cy, rx, ry, from, to, n = 30) {
  return Array.from({ length: n + 1 }, (_, i) => {
    const a = from + ((to - from) * i) / n;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
}

/** Digits as one or two strokes in a unit box, written the way a hand writes them. */
const DIGITS = {
  // A slightly slanted stroke.
  1: [Array.from({ length: 41 }, (_, i) => [0.6 - 0.1 * (i / 40), 0.02 + 0.96 * (i / 40)])],
  // An upright ellipse, anticlockwise from the top, closed a little past the start.
  0: [arc(0.5, 0.5, 0.42, 0.48, -Math.PI / 2, -Math.PI / 2 - 2 * Math.PI * (75 / 72), 75)],
  // Two bowls in one stroke: the upper from the left over the top to the middle, then the lower.
  3: [[...arc(0.45, 0.26, 0.38, 0.24, -0.9 * Math.PI, 0.5 * Math.PI), ...arc(0.45, 0.74, 0.42, 0.25, -0.5 * Math.PI, 0.9 * Math.PI).slice(1)]],
  // A bar, then the downstroke.
  7: [[[0.05, 0.05], [0.35, 0.05], [0.65, 0.05], [0.95, 0.05], [0.8, 0.3], [0.65, 0.55], [0.5, 0.8], [0.42, 0.98]]],
};

/**
 * Waits until the page shows an answer for the drawing now on the canvas (not for an earlier,
 * half-drawn version of it) and returns what it shows.
 */
async function settledAnswer(page) {
  await page.waitForFunction(() => {
    const p = document.getElementById('prediction');
    const c = document.getElementById('canvas');
    return p.dataset.for === c.dataset.version;
  }, null, { timeout: WAIT_MS });
  return page.evaluate(() => {
    const p = document.getElementById('prediction');
    const bars = [...document.querySelectorAll('#bars .bar')];
    const preview = document.getElementById('preview').getContext('2d').getImageData(0, 0, 28, 28).data;
    return {
      text: p.textContent,
      digit: p.dataset.digit,
      empty: p.dataset.empty === 'true',
      winners: bars.filter((b) => b.classList.contains('winner')).map((b) => b.dataset.digit),
      percents: bars.map((b) => parseFloat(b.querySelector('.pct').textContent)),
      status: document.getElementById('status').textContent,
      preview: Array.from({ length: 784 }, (_, i) => preview[4 * i]),
      units: [...document.querySelectorAll('#hidden canvas.unit')].map((u) => ({
        activation: u.dataset.activation === undefined ? null : Number(u.dataset.activation),
        opacity: Number(u.style.opacity), // the set value, not one mid-transition
      })),
    };
  });
}

function checkRequests(log) {
  assert.ok(log.requests.length >= 1, 'no /strokes request was sent');
  for (const r of log.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.contentType, 'application/json');
    const body = JSON.parse(r.body);
    assert.equal(body.width, CANVAS);
    assert.equal(body.height, CANVAS);
    assert.ok(Array.isArray(body.strokes) && body.strokes.every((s) => Array.isArray(s) && s.length >= 1 &&
      s.every((p) => p.length === 2 && p.every(Number.isFinite))), 'a /strokes body is not strokes of [x, y] points');
  }
  assert.equal(log.maxInFlight, 1, 'more than one /strokes request was in flight at once');
}

/** "a 3", "an 8". */
const article = (digit) => `${String(digit) === '8' ? 'an' : 'a'} ${digit}`;

/** What a digit answer must look like on the page, checked against the server's last answer. */
function checkShown(shown, expected, log) {
  assert.equal(shown.digit, expected, `predicted ${shown.digit}, bars ${shown.percents}`);
  assert.equal(shown.text, expected);
  assert.deepEqual(shown.winners, [expected], 'exactly the predicted digit\'s bar is highlighted');
  const total = shown.percents.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 100) < 1, `percentages add up to ${total}`);
  assert.equal(Math.max(...shown.percents), shown.percents[Number(expected)]);
  assert.match(shown.status, new RegExp(`^Looks like ${article(expected)} \\(`));
  const answer = log.answers.at(-1);
  // The preview is exactly the 28×28 the server says the network saw...
  assert.deepEqual(shown.preview, answer.seen, 'the preview is not the image the server classified');
  assert.ok(answer.seen.filter((v) => v > 0).length >= 20, 'the network saw almost nothing');
  // ...and every hidden unit is lit by its activation for this drawing.
  assert.equal(shown.units.length, answer.hidden.length);
  shown.units.forEach((u, j) => {
    assert.ok(Math.abs(u.activation - answer.hidden[j]) < 1e-4, `unit ${j}: shows ${u.activation}, activation ${answer.hidden[j]}`);
    assert.ok(Math.abs(u.opacity - (0.12 + 0.88 * answer.hidden[j])) < 1e-3, `unit ${j}: opacity ${u.opacity}`);
  });
  const opacities = shown.units.map((u) => u.opacity);
  assert.ok(Math.max(...opacities) - Math.min(...opacities) > 0.3, 'the hidden units are not lit differently');
}

const CASES = [
  // [name, digit, box on the 280 canvas [x, y, w, h]]
  ['1', '1', [100, 38, 120, 204]],
  ['0', '0', [78, 40, 124, 200]],
  // The failures: a small "3" in the top-left corner, a "7" at 60% of the height.
  ['small-3', '3', [14, 12, 64, 84]],
  ['7', '7', [120, 98, 120, 168]],
  // Tiny digits, under 60 px tall, pressed into the corners (the 40×60 and 20×30).
  ['tiny-1', '1', [254, 222, 20, 52]],
  ['tiny-0', '0', [4, 226, 34, 50]],
  ['tiny-3', '3', [8, 6, 36, 56]],
  ['tiny-7', '7', [246, 4, 30, 40]],
];

for (const [name, expected, box] of CASES) {
  test(`drawing a ${name} is predicted as ${expected}, with the hidden layer lit`, TEST_TIMEOUT, async () => {
    const { page, log, done } = await openApp();
    await page.click('#clear');
    await draw(page, inBox(DIGITS[expected], box));
    const shown = await settledAnswer(page);
    await page.screenshot({ path: path.join(SHOT_DIR, `draw-${name}.png`), fullPage: true });
    checkShown(shown, expected, log);
    checkRequests(log);
    await done();
  });
}

test('a blank canvas shows a prompt, not a digit', TEST_TIMEOUT, async () => {
  const { page, log, done } = await openApp();
  // Before anything is drawn: a prompt, no digit, no bars, the hidden layer dimmed.
  const idle = await page.evaluate(() => ({
    status: document.getElementById('status').textContent,
    prediction: document.getElementById('prediction').textContent,
    winners: document.querySelectorAll('#bars .bar.winner').length,
  }));
  assert.match(idle.status, /^Draw a digit/);
  assert.equal(idle.prediction, '');
  assert.equal(idle.winners, 0);
  // The blank canvas sent anyway: the server says it is empty, and the page prompts again.
  await page.evaluate(() => window.mnist.sendNow());
  const shown = await settledAnswer(page);
  await page.screenshot({ path: path.join(SHOT_DIR, 'blank.png'), fullPage: true });
  assert.deepEqual(log.answers, [{ empty: true }]);
  assert.equal(shown.empty, true);
  assert.equal(shown.digit, undefined);
  assert.equal(shown.text, '');
  assert.deepEqual(shown.winners, []);
  assert.ok(shown.percents.every(Number.isNaN), 'no percentages for a blank canvas');
  assert.match(shown.status, /^No digit yet/);
  assert.ok(shown.units.every((u) => u.activation === null && Math.abs(u.opacity - 0.6) < 1e-3));
  checkRequests(log);
  await done();
});

for (const [name, viewport] of [['phone', { width: 390, height: 844 }], ['tablet', { width: 768, height: 1024 }]]) {
  test(`on a ${viewport.width}×${viewport.height} ${name} the canvas fits, and the prediction, the labelled 28×28 box and all bars stay in view`, TEST_TIMEOUT, async () => {
    const { page, log, done } = await openApp({ viewport, mobile: true });
    const canvasBox = await page.locator('#canvas').boundingBox();
    assert.ok(canvasBox.x >= 0 && canvasBox.x + canvasBox.width <= viewport.width, `canvas ${JSON.stringify(canvasBox)}`);
    assert.ok(canvasBox.width >= (name === 'phone' ? 300 : 280), `the canvas is only ${canvasBox.width} px wide on a ${viewport.width} px screen`);
    await draw(page, inBox(DIGITS[3], [90, 50, 110, 180]));
    const shown = await settledAnswer(page);
    await page.screenshot({ path: path.join(SHOT_DIR, `${name}-3.png`) });
    checkShown(shown, '3', log);
    const inView = async (selector) => {
      const boxes = await page.locator(selector).evaluateAll((els) => els.map((e) => {
        const r = e.getBoundingClientRect();
        return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
      }));
      assert.ok(boxes.length > 0, `${selector}: none`);
      for (const b of boxes) {
        assert.ok(b.width > 0 && b.height > 0, `${selector} is not shown`);
        assert.ok(b.top >= 0 && b.bottom <= viewport.height && b.left >= 0 && b.right <= viewport.width,
          `${selector} at ${JSON.stringify(b)} is outside the ${viewport.width}×${viewport.height} screen`);
      }
    };
    await inView('#prediction');
    await inView('#preview');
    await inView('.seen figcaption');
    await inView('#bars .bar');
    const scrollX = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollX <= viewport.width, `the page scrolls sideways (${scrollX} px wide)`);
    await done();
  });
}

test('the preview and the hidden layer are reset by Clear', TEST_TIMEOUT, async () => {
  const { page, log, done } = await openApp();
  await draw(page, inBox(DIGITS[1], [100, 38, 120, 204]));
  await settledAnswer(page);
  assert.ok(log.answers.length >= 1);

  await page.click('#clear');
  const after = await page.evaluate(() => {
    const p = document.getElementById('prediction');
    const canvasData = document.getElementById('canvas').getContext('2d').getImageData(0, 0, 280, 280).data;
    const previewData = document.getElementById('preview').getContext('2d').getImageData(0, 0, 28, 28).data;
    const lit = (data) => { let n = 0; for (let i = 0; i < data.length; i += 4) if (data[i]) n++; return n; };
    return {
      text: p.textContent,
      hasDigit: p.hasAttribute('data-digit'),
      winners: document.querySelectorAll('#bars .bar.winner').length,
      canvasLit: lit(canvasData),
      previewLit: lit(previewData),
      unitsLit: document.querySelectorAll('#hidden canvas.unit[data-activation]').length,
      status: document.getElementById('status').textContent,
    };
  });
  assert.deepEqual(after, {
    text: '', hasDigit: false, winners: 0, canvasLit: 0, previewLit: 0, unitsLit: 0,
    status: 'Draw a digit in the black square — any size, anywhere.',
  });
  await done();
});

test('a server error is shown in the status line, and the old answer is cleared', TEST_TIMEOUT, async () => {
  const { page, log, done } = await openApp();
  await draw(page, inBox(DIGITS[1], [100, 38, 120, 204]));
  await settledAnswer(page);
  assert.equal(log.answers.length >= 1, true);
  await page.route('**/strokes*', (route) => route.fulfill({
    status: 413,
    contentType: 'application/json',
    body: JSON.stringify({ error: 'too many points: at most 4096 in all strokes, got 5000' }),
  }));
  await draw(page, inBox(DIGITS[7], [20, 20, 100, 160]));
  const status = page.locator('#status.error');
  await status.waitFor({ timeout: WAIT_MS });
  assert.match(await status.textContent(), /413.*at most 4096/);
  const shown = await settledAnswer(page);
  await page.screenshot({ path: path.join(SHOT_DIR, 'error.png'), fullPage: true });
  assert.equal(shown.text, '', 'the old prediction stayed beside the new drawing');
  assert.deepEqual(shown.winners, []);
  assert.ok(shown.percents.every(Number.isNaN), `old bars stayed: ${shown.percents}`);
  assert.ok(shown.preview.every((v) => v === 0), 'the old preview stayed');
  await done({ expectedHttpErrors: ['413 /strokes'] });
});

test('a tap is too small to read: no digit, no bars', TEST_TIMEOUT, async () => {
  const { page, log, done } = await openApp();
  await draw(page, [[[140, 140]]]);
  const shown = await settledAnswer(page);
  await page.screenshot({ path: path.join(SHOT_DIR, 'tap.png'), fullPage: true });
  assert.equal(log.answers.at(-1).too_small, true);
  assert.equal(shown.text, '');
  assert.equal(shown.digit, undefined);
  assert.ok(shown.percents.every(Number.isNaN), 'no percentages for a tap');
  assert.match(shown.status, /^Too small to read/);
  await done();
});

// MNIST test digits (the first of each class in the fixture), thinned and traced into strokes
// by tests/support/skeleton.rs and kept in mnist-strokes.json (checked by tests/it/strokes.rs).
const MNIST = JSON.parse(readFileSync(new URL('./mnist-strokes.json', import.meta.url), 'utf8')).digits;

test('ten MNIST digits drawn under 60 px tall in the corners: at least 9 read right', { timeout: 240_000 }, async () => {
  const { page, log, done } = await openApp();
  const results = [];
  for (const [k, { label, strokes }] of MNIST.entries()) {
    const xs = strokes.flat().map((p) => p[0]);
    const ys = strokes.flat().map((p) => p[1]);
    const [x0, y0] = [Math.min(...xs), Math.min(...ys)];
    const [w, h] = [Math.max(...xs) - x0, Math.max(...ys) - y0];
    const scale = 52 / Math.max(h, w);               // at most 52 px of centre line, ≤ 60 px of ink
    const corner = k % 4;                             // top-left, top-right, bottom-left, bottom-right
    const left = corner % 2 === 0 ? 6 : CANVAS - 6 - w * scale;
    const top = corner < 2 ? 6 : CANVAS - 6 - h * scale;
    await page.click('#clear');
    await draw(page, strokes.map((s) => s.map(([x, y]) => [left + (x - x0) * scale, top + (y - y0) * scale])));
    const shown = await settledAnswer(page);
    results.push(`${label}→${shown.digit ?? (shown.status.slice(0, 20))}`);
    if (k === MNIST.length - 1) await page.screenshot({ path: path.join(SHOT_DIR, 'mnist-corners.png'), fullPage: true });
  }
  const right = results.filter((r) => r.split('→')[0] === r.split('→')[1]).length;
  console.log(`MNIST digits in the corners: ${right}/10 (${results.join(', ')})`);
  assert.ok(right >= 9, `only ${right}/10: ${results.join(', ')}`);
  checkRequests(log);
  await done();
});

test('the hidden layer shows one weight picture per hidden unit', TEST_TIMEOUT, async () => {
  const { page, done } = await openApp();
  const r = await page.evaluate(async () => {
    const served = await (await fetch('/hidden-weights')).json();
    const units = [...document.querySelectorAll('#hidden canvas.unit')];
    // Each picture's pixels are the served weights through the page's colour map.
    const mismatches = units.filter((u, j) => {
      const data = u.getContext('2d').getImageData(0, 0, 28, 28).data;
      return served.weights[j].some((w, k) => {
        const [r, g, b] = window.mnist.weightColour(w);
        return data[4 * k] !== r || data[4 * k + 1] !== g || data[4 * k + 2] !== b;
      });
    }).length;
    return { hidden: served.hidden, count: units.length, mismatches, note: document.getElementById('hidden-note').textContent };
  });
  assert.equal(r.count, r.hidden);
  assert.equal(r.mismatches, 0);
  assert.match(r.note, new RegExp(`^${r.hidden} hidden units`));
  await done();
});
