// End-to-end test of the training page (/train) in headless Chromium: the browser trains in
// WebAssembly and must end on the command line's exact bytes.
//
// `cargo xtask browser` runs it with these (each test is skipped without its variables):
//   MNISTLEARN_TRAIN_URL   a server whose --data is the committed fixture (2,000 training images)
//   MNISTLEARN_CLI_DIR     the CLI's runs on that fixture for the same flags: NAME.bin (weights)
//                          and NAME.log (stdout), --limit 2000 and NAME = e1 (--epochs 1) or h301 (--epochs 20
//                          --hidden 301 --batch 20)
//   MNISTLEARN_NODATA_URL  a server whose --data directory is empty
//   MNISTLEARN_URL + MNISTLEARN_FULL_RUN=1
//                          a server with the real MNIST: the default 30-epoch run, whose hash must
//                          be golden/full_run.txt's; MNISTLEARN_SERVER_PID to report its memory
// Screenshots go to target/browser/: train-running.png, train-done.png, train-invalid.png,
// train-phone-done.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOT_DIR = path.join(REPO_ROOT, 'target', 'browser');
const GOLDEN = readFileSync(path.join(REPO_ROOT, 'golden', 'full_run.txt'), 'utf8').match(/sha256: ([0-9a-f]{64})/)[1];
const env = process.env;
const trim = (url) => url && url.replace(/\/+$/, '');
const TRAIN_URL = trim(env.MNISTLEARN_TRAIN_URL);
const NODATA_URL = trim(env.MNISTLEARN_NODATA_URL);
const FULL_URL = env.MNISTLEARN_FULL_RUN === '1' ? trim(env.MNISTLEARN_URL) : null;

let browser;
before(async () => {
  mkdirSync(SHOT_DIR, { recursive: true });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

/** A page on `url`, failing the test on any page error or failed request. */
async function open(url, viewport = { width: 1280, height: 1000 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text());
  });
  const requests = [];
  page.on('request', (req) => requests.push(`${req.method()} ${new URL(req.url()).pathname}`));
  await page.goto(url);
  return { page, errors, requests };
}

async function fill(page, settings) {
  for (const [name, value] of Object.entries(settings)) await page.fill(`#${name}`, String(value));
}

function cliRun(name) {
  const dir = env.MNISTLEARN_CLI_DIR;
  const sha256 = createHash('sha256').update(readFileSync(path.join(dir, `${name}.bin`))).digest('hex');
  // The log as the CLI printed it, minus its one nondeterministic line.
  const log = readFileSync(path.join(dir, `${name}.log`), 'utf8').trim().split('\n')
    .filter((l) => !l.startsWith('Training time:'));
  return { sha256, log };
}

/** The page's log, minus the time line, as lines. */
async function pageLog(page) {
  return (await page.textContent('#log')).trim().split('\n')
    .filter((l) => !l.startsWith('Training time:') && !l.startsWith('weights.bin sha256'));
}

const startButton = (page) => page.getByRole('button', { name: /Start training|Train/ });

test('an invalid setting gets a message beside its field and nothing starts', { skip: !TRAIN_URL }, async () => {
  const { page, errors, requests } = await open(`${TRAIN_URL}/train`);
  await fill(page, { hidden: '0', lr: '-1', batch: 'abc', seed: '18446744073709551616' });
  await startButton(page).click();
  assert.match(await page.textContent('#hidden-msg'), /from 1 to 4096/);
  assert.match(await page.textContent('#lr-msg'), /above 0/);
  assert.match(await page.textContent('#batch-msg'), /whole number from 1 to 65536/);
  assert.match(await page.textContent('#seed-msg'), /64-bit/);
  assert.equal(await page.getAttribute('#hidden', 'aria-invalid'), 'true');
  assert.equal(await page.textContent('#epochs-msg'), '');
  await page.screenshot({ path: path.join(SHOT_DIR, 'train-invalid.png') });
  await page.waitForTimeout(300);
  // Only the page's HEAD checks for the data files: no download, no worker, no module.
  assert.ok(!requests.some((r) => /^GET \/data\/|\.wasm$|train-worker/.test(r)), `requests: ${requests}`);
  assert.equal(await page.textContent('#log'), '');
  // Fixed, it starts.
  await page.click('#defaults');
  assert.equal(await page.textContent('#hidden-msg'), '');
  assert.deepEqual(errors, []);
  await page.close();
});

for (const simd of ['on', 'off']) {
  test(`1 epoch, --limit 2000 (SIMD ${simd}): the page's log and hash are the CLI's`, { skip: !TRAIN_URL }, async () => {
    const cli = cliRun('e1');
    const { page, errors, requests } = await open(`${TRAIN_URL}/train${simd === 'off' ? '?simd=off' : ''}`);
    await fill(page, { epochs: 1, limit: 2000 });
    await startButton(page).click();
    await page.waitForSelector('body[data-sha256]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('body', 'data-sha256'), cli.sha256);
    assert.deepEqual(await pageLog(page), cli.log);
    assert.equal(await page.textContent('#sha256'), cli.sha256);
    assert.match(await page.textContent('#cli'), /mnistlearn train --seed 1 --hidden 32 --lr 0.1 --batch 32 --epochs 1 --limit 2000/);
    assert.match(await page.textContent('#golden'), /Not the book's golden run/);
    if (simd === 'off') {
      assert.equal(await page.getAttribute('body', 'data-level'), 'scalar');
      assert.match(await page.textContent('#engine'), /no WebAssembly SIMD: using the scalar module/);
    }
    const download = await page.getAttribute('#download', 'href');
    assert.match(download, /^blob:/);
    if (simd === 'on') await drawWithTheseWeights(page, requests, cli.sha256);
    assert.deepEqual(errors, []);
    await page.close();
  });
}

/** "Draw with these weights": the drawing page answers with the new network, in the browser. */
async function drawWithTheseWeights(page, requests, sha256) {
  await page.click('#draw');
  await page.waitForURL(/\?weights=trained/);
  await page.waitForSelector('#trained-note[data-sha256]', { timeout: 20_000 });
  assert.equal(await page.getAttribute('#trained-note', 'data-sha256'), sha256);
  assert.match(await page.textContent('footer'), /Your strokes stay in this browser/);
  assert.doesNotMatch(await page.textContent('footer'), /sent to the server/);
  const box = await (await page.$('#canvas')).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.2 + 0.03 * i));
  await page.mouse.up();
  await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('#prediction').textContent), null, { timeout: 20_000 });
  await page.screenshot({ path: path.join(SHOT_DIR, 'draw-trained.png') });
  const posts = requests.filter((r) => /^POST /.test(r));
  assert.deepEqual(posts, [], 'classified in the browser: nothing is sent to the server');
}

test('on a phone (390×844) the finished run fits the screen and "Draw with these weights" works', { skip: !TRAIN_URL }, async () => {
  const { page, errors } = await open(`${TRAIN_URL}/train`, { width: 390, height: 844 });
  await fill(page, { epochs: 1, limit: 2000 });
  await startButton(page).click();
  await page.waitForSelector('body[data-sha256]', { timeout: 60_000 });
  const width = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(width[0] <= width[1], `the page is ${width[0]} px wide on a ${width[1]} px screen`);
  await page.screenshot({ path: path.join(SHOT_DIR, 'train-phone-done.png'), fullPage: true });
  await page.click('#draw', { timeout: 5_000 });
  await page.waitForSelector('#trained-note[data-sha256]');
  assert.deepEqual(errors, []);
  await page.close();
});

test('paused and resumed mid-run, hidden 301 and batch 20 end on the CLI\'s bytes; stop ends a run', { skip: !TRAIN_URL }, async () => {
  const cli = cliRun('h301');
  const { page, errors } = await open(`${TRAIN_URL}/train`);
  await fill(page, { epochs: 20, limit: 2000, hidden: 301, batch: 20 });
  // Every value the Epoch counter shows (it once went 2 → 1 → 3: an epoch's report came after
  // the next epoch's ticks).
  await page.evaluate(() => {
    window.epochsShown = [];
    const stat = document.getElementById('stat-epoch');
    new MutationObserver(() => window.epochsShown.push(parseInt(stat.textContent, 10)))
      .observe(stat, { childList: true, characterData: true, subtree: true });
  });
  await startButton(page).click();
  await page.waitForFunction(() => document.body.dataset.state === 'running');
  await page.click('#pause');
  await page.waitForFunction(() => document.body.dataset.state === 'paused');
  const log = await page.textContent('#log');
  const units = await page.$$eval('#units canvas', (c) => c.length);
  assert.equal(units, 128, 'the first 128 of 301 units are drawn');
  assert.match(await page.textContent('#units-note'), /first 128 of 301/);
  await page.waitForTimeout(700);
  assert.equal(await page.textContent('#log'), log, 'nothing trains while paused');
  assert.equal(await page.textContent('#pause'), 'Resume');
  await page.click('#pause');
  await page.waitForSelector('body[data-sha256]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-sha256'), cli.sha256);
  assert.deepEqual(await pageLog(page), cli.log);
  assert.match(await page.textContent('#cli'), /--hidden 301 --lr 0.1 --batch 20 --epochs 20 --limit 2000/);
  const shown = (await page.evaluate(() => window.epochsShown)).filter((n) => !Number.isNaN(n));
  assert.ok(shown.every((n, i) => i === 0 || n >= shown[i - 1]), `the Epoch counter went back: ${shown.join(' ')}`);
  assert.equal(shown.at(-1), 20);

  // Stop: a long run ends at once, without a hash, and the form is usable again.
  await fill(page, { epochs: 10000, hidden: 32, batch: 32 });
  await startButton(page).click();
  await page.waitForFunction(() => document.body.dataset.state === 'running');
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.waitForFunction(() => document.body.dataset.state === 'idle', null, { timeout: 10_000 });
  assert.match(await page.textContent('#status'), /Stopped/);
  assert.equal(await page.getAttribute('body', 'data-sha256'), null);
  assert.equal(await startButton(page).isEnabled(), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('without the MNIST files the page says how to get them', { skip: !NODATA_URL }, async () => {
  const { page } = await open(`${NODATA_URL}/train`);
  await page.waitForFunction(() => /cargo xtask fetch/.test(document.querySelector('#status').textContent));
  await startButton(page).click();
  await page.waitForFunction(() => /cargo xtask fetch/.test(document.querySelector('#status').textContent));
  assert.equal(await page.getAttribute('body', 'data-state'), 'idle');
  await page.screenshot({ path: path.join(SHOT_DIR, 'train-nodata.png') });
  await page.close();
});

/** The server's resident memory in MiB, from /proc (Linux), or null. */
function serverRss() {
  try {
    const status = readFileSync(`/proc/${env.MNISTLEARN_SERVER_PID}/status`, 'utf8');
    return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) / 1024;
  } catch {
    return null;
  }
}

test('the default 30-epoch run in the page ends on the golden hash', { skip: !FULL_URL, timeout: 600_000 }, async (t) => {
  const rssBefore = serverRss();
  const { page, errors } = await open(`${FULL_URL}/train`);
  const started = Date.now();
  await startButton(page).click();
  // Read the page's text as it trains: at least three epoch updates on the way, and a page
  // that answers at once (the work is in the worker).
  const seen = new Set();
  let slowest = 0;
  let shot = false;
  while (!(await page.getAttribute('body', 'data-sha256'))) {
    const asked = Date.now();
    const text = await page.evaluate(() => document.querySelector('#log').textContent);
    slowest = Math.max(slowest, Date.now() - asked);
    for (const m of text.matchAll(/^Epoch (\d+)\/30 /gm)) seen.add(Number(m[1]));
    if (!shot && seen.size >= 12) {
      await page.screenshot({ path: path.join(SHOT_DIR, 'train-running.png') });
      shot = true;
    }
    if (Date.now() - started > 540_000) assert.fail('the run did not end in 9 minutes');
    await page.waitForTimeout(200);
  }
  const wall = (Date.now() - started) / 1000;
  const sha256 = await page.getAttribute('body', 'data-sha256');
  assert.equal(sha256, GOLDEN);
  assert.match(await page.textContent('#golden'), /equals the book's golden run/);
  const during = [...seen].filter((e) => e < 30);
  assert.ok(during.length >= 3, `epoch updates seen while training: ${[...seen]}`);
  await page.screenshot({ path: path.join(SHOT_DIR, 'train-done.png'), fullPage: true });
  const rssAfter = serverRss();
  const engine = await page.textContent('#engine');
  const pageSeconds = await page.getAttribute('body', 'data-wall-seconds');
  const lines = [
    `browser: 30 epochs in ${pageSeconds} s from Start (${wall.toFixed(1)} s as the test saw it); ${engine.trim()} ` +
      `Slowest page answer while training: ${slowest} ms. Hash ${sha256}.`,
  ];
  if (rssBefore !== null) {
    lines.push(`server RSS: ${rssBefore.toFixed(1)} MiB before, ${rssAfter.toFixed(1)} MiB after the browser's training`);
  }
  lines.forEach((line) => t.diagnostic(line));
  writeFileSync(path.join(SHOT_DIR, 'train-full-run.txt'), `${lines.join('\n')}\n`);
  assert.deepEqual(errors, []);
  await page.close();
});
