// The "Watch it learn" page's trainer, in a Web Worker so the page stays responsive
// (web/train.js is the page's side). It fetches the MNIST files as the server has them on
// disk (gzip), hands them to the wasm module (wasm/src/trainer.rs) and trains in slices:
// between two slices it answers pause, resume and stop, and posts what the page draws.
//
// Messages in:  {type: 'start', config, live}, {type: 'pause'}, {type: 'resume'}, {type: 'stop'}
// Messages out: status, ready, tick, point, epoch, done, stopped, error (see post… below).

import { hasSimd128, load } from '/wasm/glue.mjs';

const DATA_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
/** Curve points per epoch. */
const POINTS_PER_EPOCH = 10;
/** A slice lasts about this long, so pause and stop answer quickly even for a huge network. */
const SLICE_MS = 60;
/** Curve points and unit pictures at most this often. */
const MIN_POINT_MS = 40;
/** Hidden units drawn at most (the page says so when H is larger). */
const MAX_UNITS_SHOWN = 128;

let module = null; // the wasm module's wrapper (glue.mjs), with both data sets loaded
let simd = false;
let state = 'idle'; // idle | running | paused | stopping
let resumeWaiter = null;

const url = new URL(self.location.href);
/** `?gunzip=wasm` lets the module inflate (miniz_oxide); by default the browser does. */
const gunzipInWasm = url.searchParams.get('gunzip') === 'wasm';

self.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'start' && state === 'idle') {
    state = 'running';
    run(message.config, message.live !== false).catch((err) => {
      state = 'idle';
      self.postMessage({ type: 'error', message: String(err && err.message ? err.message : err) });
    });
  } else if (message.type === 'pause' && state === 'running') {
    state = 'paused';
  } else if (message.type === 'resume' && state === 'paused') {
    state = 'running';
    if (resumeWaiter) resumeWaiter();
  } else if (message.type === 'stop' && (state === 'running' || state === 'paused')) {
    state = 'stopping';
    if (resumeWaiter) resumeWaiter();
  }
};

/** Lets queued messages in: a MessageChannel round trip (setTimeout(0) is clamped to 4 ms). */
const channel = new MessageChannel();
let wake = null;
channel.port1.onmessage = () => wake && wake();
function yieldToEvents() {
  return new Promise((resolve) => {
    wake = resolve;
    channel.port2.postMessage(null);
  });
}

/** MNIST file `name` as the server has it (gzipped, or raw if only that is there), unpacked. */
async function fetchBytes(name) {
  let res = await fetch(`/data/${name}.gz`);
  if (res.status === 404) res = await fetch(`/data/${name}`);
  if (res.status === 404) {
    const err = new Error(`the server has no ${name}.gz`);
    err.missingData = true;
    throw err;
  }
  if (!res.ok) throw new Error(`GET /data/${name} answered ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (!gzipped || gunzipInWasm || typeof DecompressionStream === 'undefined') return bytes;
  const raw = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(raw).arrayBuffer());
}

async function ensureModule() {
  if (module) return;
  simd = hasSimd128() && url.searchParams.get('simd') !== 'off';
  const file = simd ? '/wasm/mnistlearn-simd128.wasm' : '/wasm/mnistlearn.wasm';
  self.postMessage({ type: 'status', text: `Loading the trainer (${file})…` });
  const started = performance.now();
  const wasm = fetch(file).then((res) => {
    if (!res.ok) throw new Error(`GET ${file} answered ${res.status}`);
    return load(res);
  });
  wasm.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
  self.postMessage({ type: 'status', text: 'Downloading MNIST (11 MB gzipped) and unpacking it…' });
  let files;
  try {
    files = await Promise.all(DATA_FILES.map(fetchBytes));
  } catch (err) {
    if (err.missingData) {
      self.postMessage({ type: 'nodata', message: err.message });
      return;
    }
    throw err;
  }
  const fetched = performance.now();
  const m = await wasm;
  m.setData(0, files[0], files[1], 0);
  m.setData(1, files[2], files[3], 0);
  const parsed = performance.now();
  module = m;
  self.postMessage({
    type: 'loaded',
    level: m.levelName(1),
    simd,
    fetchMs: fetched - started,
    parseMs: parsed - fetched,
    gunzip: gunzipInWasm ? 'wasm' : 'browser',
  });
}

/** The session's JSON result after `name(...args)`. */
function callJson(name, ...args) {
  return JSON.parse(module.call(name, ...args).resultText());
}

/** The first `shown` hidden units' weights, unit-major (784 floats per unit), from the
 * trainer's transposed matrix in the module's memory. */
function unitWeights(hidden, shown) {
  const ptr = module.exports.session_hidden_ptr();
  const w = new Float64Array(module.exports.memory.buffer, ptr, 784 * hidden);
  const out = new Float32Array(784 * shown);
  for (let k = 0; k < 784; k++) {
    const row = k * hidden;
    for (let j = 0; j < shown; j++) out[j * 784 + k] = w[row + j];
  }
  return out;
}

async function run(config, live) {
  await ensureModule();
  if (!module) {
    state = 'idle';
    return;
  }
  const info = callJson(
    'session_new', BigInt(config.seed), config.hidden, config.lr, config.batch, config.epochs, config.limit, 1,
  );
  const shown = Math.min(config.hidden, MAX_UNITS_SHOWN);
  self.postMessage({ type: 'ready', ...info, shown });
  const perEpoch = info.batches_per_epoch;
  const pointAt = (i) => Math.ceil((perEpoch * i) / POINTS_PER_EPOCH); // batch index of point i
  let batchInEpoch = 0;
  let nextPoint = 1;
  let last = { samples: 0, loss_sum: 0, correct: 0 };
  let sliceBatches = Math.max(1, Math.min(pointAt(1), 8));
  let lastTick = 0;
  let lastPoint = 0;
  if (live) self.postMessage({ type: 'units', epoch: 0, weights: unitWeights(config.hidden, shown) });

  for (;;) {
    await yieldToEvents();
    if (state === 'paused') {
      self.postMessage({ type: 'paused' });
      await new Promise((resolve) => { resumeWaiter = resolve; });
      resumeWaiter = null;
      if (state === 'running') self.postMessage({ type: 'resumed' });
      continue;
    }
    if (state === 'stopping') {
      const weights = module.call('session_weights').resultBytes();
      module.exports.session_free();
      state = 'idle';
      self.postMessage({ type: 'stopped', weights: weights.buffer }, [weights.buffer]);
      return;
    }
    // Up to the next curve point, and no longer than about SLICE_MS.
    const batches = Math.max(1, Math.min(pointAt(nextPoint) - batchInEpoch, sliceBatches));
    const t0 = performance.now();
    const r = callJson('session_step', batches);
    const ms = performance.now() - t0;
    sliceBatches = Math.max(1, Math.round(batches * Math.min(4, SLICE_MS / Math.max(ms, 0.1))));
    batchInEpoch += batches;
    const epochFloat = r.epochs_done + (r.epoch ? 0 : batchInEpoch / perEpoch);
    const samplesDone = r.epochs_done * info.samples + (r.epoch ? 0 : r.samples);
    const now = performance.now();
    if (r.epoch || now - lastTick > 100) {
      lastTick = now;
      self.postMessage({ type: 'tick', epoch: epochFloat, samples: samplesDone, elapsed: r.elapsed_s });
    }
    const atPoint = r.epoch || batchInEpoch >= pointAt(nextPoint);
    // When epochs fly by (a small --limit), points and pictures are spaced in time instead, so
    // the page is never flooded: a skipped point's samples go into the next one.
    const due = now - lastPoint >= MIN_POINT_MS;
    if (atPoint && !due) nextPoint += 1;
    if (atPoint && due) {
      lastPoint = now;
      // The mean loss and accuracy of the batches since the last point.
      const end = r.epoch
        ? { samples: info.samples, loss_sum: r.epoch.loss * info.samples, correct: Math.round(r.epoch.accuracy * info.samples / 100) }
        : r;
      const n = end.samples - last.samples;
      if (live && n > 0) {
        self.postMessage({
          type: 'point',
          epoch: epochFloat,
          loss: (end.loss_sum - last.loss_sum) / n,
          accuracy: (100 * (end.correct - last.correct)) / n,
        });
        self.postMessage({ type: 'units', epoch: epochFloat, weights: unitWeights(config.hidden, shown) });
      }
      last = r.epoch ? { samples: 0, loss_sum: 0, correct: 0 } : { samples: r.samples, loss_sum: r.loss_sum, correct: r.correct };
      nextPoint += 1;
    } else if (r.epoch) {
      last = { samples: 0, loss_sum: 0, correct: 0 };
    }
    if (r.epoch) {
      self.postMessage({ type: 'epoch', epochs_done: r.epochs_done, elapsed: r.elapsed_s, ...r.epoch });
      batchInEpoch = 0;
      nextPoint = 1;
    }
    if (r.finished) {
      const weights = module.call('session_weights').resultBytes();
      module.exports.session_free();
      state = 'idle';
      self.postMessage(
        { type: 'done', tail: r.tail, sha256: r.sha256, elapsed: r.elapsed_s, weights: weights.buffer },
        [weights.buffer],
      );
      return;
    }
  }
}
