// End-to-end test of the drawing page in headless Chromium.
//
// Needs a running server (the real one: `mnistlearn serve --addr 127.0.0.1:PORT --weights FILE`)
// at $MNISTLEARN_URL (default http://127.0.0.1:8080) and a Chromium at $CHROMIUM (default
// /usr/bin/chromium; playwright-core never downloads a browser). Run from this directory:
//
//   npm ci && MNISTLEARN_URL=http://127.0.0.1:8080 node --test draw.test.mjs
//
// Screenshots of the two drawings go to target/browser/draw-1.png and draw-0.png at the repo root.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.MNISTLEARN_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
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
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

/**
 * A fresh page on the app, with a log of its /predict requests: each request's body size and
 * content type, and the largest number that were ever in flight at once. Page errors fail the
 * test that opened the page, and so do failed HTTP requests (both checked by `done`).
 */
async function openApp() {
  const page = await browser.newPage({ viewport: { width: 860, height: 720 } });
  const log = { requests: [], inFlight: 0, maxInFlight: 0, pageErrors: [], httpErrors: [] };
  page.on('pageerror', (err) => log.pageErrors.push(String(err)));
  page.on('console', (msg) => {
    // Failed HTTP requests are checked through `httpErrors` instead.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      log.pageErrors.push(`console: ${msg.text()}`);
    }
  });
  page.on('response', (res) => {
    if (res.status() >= 400) log.httpErrors.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  const isPredict = (req) => new URL(req.url()).pathname === '/predict';
  page.on('request', (req) => {
    if (!isPredict(req)) return;
    log.inFlight += 1;
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
    log.requests.push({
      method: req.method(),
      contentType: req.headers()['content-type'],
      body: req.postDataBuffer(),
    });
  });
  const finished = (req) => { if (isPredict(req)) log.inFlight -= 1; };
  page.on('requestfinished', finished);
  page.on('requestfailed', finished);
  await page.goto(`${BASE_URL}/`);
  await page.waitForFunction(() => typeof window.mnist === 'object');
  // `expectedHttpErrors`: a test that makes requests fail on purpose names their status.
  const done = async ({ expectedHttpErrors = [] } = {}) => {
    await page.close();
    assert.deepEqual(log.pageErrors, [], 'the page logged errors');
    const unexpected = log.httpErrors.filter((e) => !expectedHttpErrors.some((x) => e.startsWith(x)));
    assert.deepEqual(unexpected, [], 'some requests failed');
  };
  return { page, log, done };
}

/** Draws one stroke through `points` (canvas pixel coordinates) with the mouse, in small steps. */
async function drawStroke(page, points) {
  const box = await page.locator('#canvas').boundingBox();
  const toPage = ([x, y]) => [box.x + (x * box.width) / CANVAS, box.y + (y * box.height) / CANVAS];
  await page.mouse.move(...toPage(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...toPage(p));
  await page.mouse.up();
}

/** A "1": a slightly slanted stroke about 200 px tall, centred, in many 5 px steps. */
function onePoints() {
  const pts = [];
  const n = 40;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    pts.push([150 - 16 * t, 38 + 204 * t]);
  }
  return pts;
}

/** A "0": an upright ellipse about 200 px tall, drawn anticlockwise from the top and closed. */
function zeroPoints() {
  const pts = [];
  const n = 72;
  const [cx, cy, rx, ry] = [140, 140, 62, 100];
  for (let i = 0; i <= n + 3; i++) { // a little past the start, as a hand would
    const a = -Math.PI / 2 - (2 * Math.PI * i) / n;
    pts.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return pts;
}

/**
 * Waits until the page shows a prediction for the drawing now on the canvas (not for an
 * earlier, half-drawn version of it) and returns what it shows.
 */
async function settledPrediction(page) {
  await page.waitForFunction(() => {
    const p = document.getElementById('prediction');
    const c = document.getElementById('canvas');
    return p.dataset.digit !== undefined && p.dataset.for === c.dataset.version;
  }, null, { timeout: WAIT_MS });
  return page.evaluate(() => {
    const p = document.getElementById('prediction');
    const bars = [...document.querySelectorAll('#bars .bar')];
    return {
      text: p.textContent,
      digit: p.dataset.digit,
      winners: bars.filter((b) => b.classList.contains('winner')).map((b) => b.dataset.digit),
      percents: bars.map((b) => parseFloat(b.querySelector('.pct').textContent)),
      status: document.getElementById('status').textContent,
    };
  });
}

function checkRequests(log) {
  assert.ok(log.requests.length >= 1, 'no /predict request was sent');
  for (const r of log.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.contentType, 'application/octet-stream');
    assert.equal(r.body?.length, 784, 'a /predict body is not 784 bytes');
  }
  assert.equal(log.maxInFlight, 1, 'more than one /predict request was in flight at once');
}

for (const [expected, points] of [['1', onePoints], ['0', zeroPoints]]) {
  test(`drawing a ${expected} is predicted as ${expected}`, TEST_TIMEOUT, async () => {
    const { page, log, done } = await openApp();
    await page.click('#clear');
    await drawStroke(page, points());
    const shown = await settledPrediction(page);
    await page.screenshot({ path: path.join(SHOT_DIR, `draw-${expected}.png`), fullPage: true });

    assert.equal(shown.digit, expected, `predicted ${shown.digit}, bars ${shown.percents}`);
    assert.equal(shown.text, expected);
    assert.deepEqual(shown.winners, [expected], 'exactly the predicted digit\'s bar is highlighted');
    const total = shown.percents.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 100) < 1, `percentages add up to ${total}`);
    assert.equal(Math.max(...shown.percents), shown.percents[Number(expected)]);
    checkRequests(log);
    await done();
  });
}

test('the preview shows the centred input, and Clear resets everything', TEST_TIMEOUT, async () => {
  const { page, log, done } = await openApp();
  await drawStroke(page, onePoints());
  await settledPrediction(page);

  const preview = await page.evaluate(() => {
    const c = document.getElementById('preview');
    const data = c.getContext('2d').getImageData(0, 0, 28, 28).data;
    return Array.from({ length: 784 }, (_, i) => data[4 * i]);
  });
  const lit = preview.filter((v) => v > 0).length;
  assert.ok(lit >= 20, `the preview has only ${lit} non-black pixels`);
  // The preview is exactly the last image sent to the network.
  assert.deepEqual(preview, [...log.requests.at(-1).body]);

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
      status: document.getElementById('status').textContent,
    };
  });
  assert.deepEqual(after, {
    text: '', hasDigit: false, winners: 0, canvasLit: 0, previewLit: 0,
    status: 'Draw a digit in the black square.',
  });
  await done();
});

test('a server error is shown in the status line', TEST_TIMEOUT, async () => {
  const { page, done } = await openApp();
  await page.route('**/predict', (route) => route.fulfill({
    status: 400,
    contentType: 'application/json',
    body: JSON.stringify({ error: 'body must be exactly 784 bytes, got 12' }),
  }));
  await drawStroke(page, onePoints());
  const status = page.locator('#status.error');
  await status.waitFor({ timeout: WAIT_MS });
  assert.match(await status.textContent(), /400.*body must be exactly 784 bytes, got 12/);
  assert.equal(await page.locator('#prediction').textContent(), '');
  await done({ expectedHttpErrors: ['400 /predict'] });
});

test('preprocessing: downsample10, centreOfMass, shiftImage, preprocess', TEST_TIMEOUT, async () => {
  const { page, done } = await openApp();
  const r = await page.evaluate(() => {
    const m = window.mnist;
    const W = 280;

    // A uniform 10×10 block aligned to the grid becomes one pixel of exactly its value.
    const block = new Uint8Array(W * W);
    for (let y = 70; y < 80; y++) for (let x = 50; x < 60; x++) block[y * W + x] = 137;
    const small = m.downsample10(block);
    const nonZero = [...small.keys()].filter((i) => small[i] !== 0);

    // A whole uniform image stays uniform.
    const flat = m.downsample10(new Uint8Array(W * W).fill(201));

    // A half-covered block averages: 50 of its 100 pixels at 255 → 127.5 → 128.
    const half = new Uint8Array(W * W);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 10; x++) half[y * W + x] = 255;
    const halfValue = m.downsample10(half)[0];

    // A 255 block drawn far off-centre (top left) ends up centred.
    const off = new Uint8Array(W * W);
    for (let y = 30; y < 130; y++) for (let x = 20; x < 70; x++) off[y * W + x] = 255;
    const before = m.centreOfMass(m.downsample10(off));
    const out = m.preprocess(off);
    const afterCom = m.centreOfMass(out);
    const inkBefore = m.downsample10(off).reduce((a, b) => a + b, 0);
    const inkAfter = out.reduce((a, b) => a + b, 0);

    // shiftImage drops what leaves the image and fills what is vacated with 0.
    const img = new Uint8Array(784);
    img[0] = 9; img[27] = 8; img[5 * 28 + 5] = 7;
    const shifted = m.shiftImage(img, 2, 3);

    return {
      nonZero, value: small[7 * 28 + 5], length: small.length,
      flatAll201: flat.every((v) => v === 201), halfValue,
      before, afterCom, inkBefore, inkAfter, outLength: out.length,
      shiftedNonZero: [...shifted.keys()].filter((i) => shifted[i] !== 0).map((i) => [i, shifted[i]]),
      emptyCom: m.centreOfMass(new Uint8Array(784)),
      emptyOut: Array.from(m.preprocess(new Uint8Array(W * W))).every((v) => v === 0),
    };
  });

  assert.equal(r.length, 784);
  assert.deepEqual(r.nonZero, [7 * 28 + 5]);
  assert.equal(r.value, 137);
  assert.ok(r.flatAll201);
  assert.equal(r.halfValue, 128);

  assert.ok(Math.abs(r.before.x - 13.5) > 5 && Math.abs(r.before.y - 13.5) > 5, 'the block starts off-centre');
  assert.equal(r.outLength, 784);
  assert.ok(Math.abs(r.afterCom.x - 13.5) <= 0.5, `centre of mass x = ${r.afterCom.x}`);
  assert.ok(Math.abs(r.afterCom.y - 13.5) <= 0.5, `centre of mass y = ${r.afterCom.y}`);
  assert.equal(r.inkAfter, r.inkBefore, 'centring a block well inside the image loses no ink');

  // (0,0)→(2,3), (27,0)→(29,3) is dropped, (5,5)→(7,8).
  assert.deepEqual(r.shiftedNonZero, [[3 * 28 + 2, 9], [8 * 28 + 7, 7]]);
  assert.equal(r.emptyCom, null);
  assert.ok(r.emptyOut);
  await done();
});
