// The "Watch it learn" page: the settings form, the worker's messages drawn as they come
// (curves, hidden units, the log), and the end of a run (hash, CLI command, download, "draw
// with these weights"). The training itself runs in web/train-worker.js.

const GOLDEN_SHA256 = '22e7de88dd73ff7898b34832b6a95c1b72339748aab18dc7e2b29b9f91c3d733';
const RECIPE = { seed: '1', hidden: '32', lr: '0.1', batch: '32', epochs: '30', limit: '' };
/** Where "draw with these weights" leaves the network for the drawing page (base64). */
const STORAGE_KEY = 'mnistlearn.trained-weights';

const $ = (id) => document.getElementById(id);
const form = $('settings');
const startButton = $('start');
const pauseButton = $('pause');
const stopButton = $('stop');
const statusLine = $('status');
const logBox = $('log');
const params = new URLSearchParams(location.search);
/** `?live=0`: no curves or unit pictures while training (to measure what they cost). */
const live = params.get('live') !== '0';

// ---- Settings: the CLI's ranges, a message beside each invalid field, nothing starts. ----

const U64_MAX = (1n << 64n) - 1n;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function wholeNumber(text, lo, hi, what) {
  if (!/^\d+$/.test(text)) return [null, `Expected ${what}: a whole number from ${lo} to ${hi}.`];
  const n = Number(text);
  if (n < lo || n > hi) return [null, `Out of range: expected ${what} from ${lo} to ${hi}.`];
  return [n, null];
}

const VALIDATORS = {
  seed(text) {
    if (!/^\d+$/.test(text)) return [null, 'Expected a whole number from 0 to 18446744073709551615.'];
    if (BigInt(text) > U64_MAX) return [null, 'Too large: a seed is a 64-bit number, at most 18446744073709551615.'];
    return [BigInt(text).toString(), null];
  },
  hidden: (t) => wholeNumber(t, 1, 4096, 'hidden units'),
  lr(text) {
    const v = Number(text);
    if (!DECIMAL.test(text) || !Number.isFinite(v)) return [null, 'Expected a positive number such as 0.1.'];
    if (!(v > 0)) return [null, 'The learning rate must be above 0.'];
    return [v, null];
  },
  batch: (t) => wholeNumber(t, 1, 65536, 'a batch size'),
  epochs: (t) => wholeNumber(t, 1, 10000, 'epochs'),
  limit(text) {
    if (text === '') return [0, null];
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      return [null, 'Expected a positive whole number of training images, or empty for all 60000.'];
    }
    return [Math.min(Number(text), 2 ** 32 - 1), null];
  },
};

/** The settings, or null after putting a message beside every invalid field. */
function readSettings() {
  const config = {};
  const text = {};
  let ok = true;
  for (const [name, check] of Object.entries(VALIDATORS)) {
    const input = $(name);
    text[name] = input.value.trim();
    const [value, message] = check(text[name]);
    $(`${name}-msg`).textContent = message || '';
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
    if (message) ok = false;
    else config[name] = value;
  }
  if (!ok) return null;
  config.text = text;
  return config;
}

for (const name of Object.keys(VALIDATORS)) {
  $(name).addEventListener('input', () => {
    if ($(name).getAttribute('aria-invalid') === 'true') readSettings();
  });
}
$('defaults').addEventListener('click', () => {
  for (const [name, value] of Object.entries(RECIPE)) $(name).value = value;
  readSettings();
});

function isRecipe(config) {
  return config.seed === '1' && config.hidden === 32 && config.lr === 0.1 && config.batch === 32 &&
    config.epochs === 30 && config.limit === 0;
}

/** The command that gives the same bytes, flags as the CLI spells them. */
function cliCommand(config) {
  const t = config.text;
  let cmd = `mnistlearn train --seed ${config.seed} --hidden ${config.hidden} --lr ${t.lr} --batch ${config.batch} --epochs ${config.epochs}`;
  if (config.limit) cmd += ` --limit ${config.limit}`;
  return `${cmd} --out weights.bin\nsha256sum weights.bin`;
}

// ---- Charts: plain canvas, redrawn when a point arrives. ----

const series = { loss: [], train: [], test: [] };
let epochsPlanned = 30;

/** Round-numbered ticks from `lo` to `hi` (1, 2 or 5 times a power of ten apart). */
function niceTicks(lo, hi) {
  const raw = (hi - lo) / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

function chart(canvas, lines, yFrom, yTo, yLabel) {
  const ctx = canvas.getContext('2d');
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = Math.round(w / 2);
  if (canvas.width !== Math.round(w * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 46, r: 10, t: 10, b: 26 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const x = (e) => pad.l + (pw * e) / epochsPlanned;
  const y = (v) => pad.t + ph * (1 - (v - yFrom) / (yTo - yFrom));
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#5d6470';
  ctx.strokeStyle = '#eceef1';
  ctx.lineWidth = 1;
  const ticks = niceTicks(yFrom, yTo);
  for (const v of ticks) {
    ctx.beginPath();
    ctx.moveTo(pad.l, y(v));
    ctx.lineTo(w - pad.r, y(v));
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText(yLabel(v), pad.l - 6, y(v) + 4);
  }
  const step = Math.max(1, Math.ceil(epochsPlanned / 6));
  ctx.textAlign = 'center';
  for (let e = 0; e <= epochsPlanned; e += step) ctx.fillText(String(e), x(e), h - 8);
  ctx.textAlign = 'right';
  ctx.fillText('epoch', pad.l - 6, h - 8);
  for (const { points, colour, dots } of lines) {
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    // At most about two points per horizontal pixel are drawn.
    const every = Math.max(1, Math.floor(points.length / (2 * pw)));
    const drawn = points.filter((_, i) => i % every === 0 || i === points.length - 1);
    drawn.forEach(([e, v], i) => {
      const py = y(Math.min(yTo, Math.max(yFrom, v)));
      if (i === 0) ctx.moveTo(x(e), py);
      else ctx.lineTo(x(e), py);
    });
    ctx.stroke();
    if (dots) {
      for (const [e, v] of drawn) {
        ctx.beginPath();
        ctx.arc(x(e), y(Math.min(yTo, Math.max(yFrom, v))), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
}

let drawPending = false;
function drawCharts() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    const finite = series.loss.map(([, v]) => v).filter(Number.isFinite);
    const top = Math.max(0.5, Math.ceil(Math.max(0, ...finite) * 2) / 2);
    chart($('loss-chart'), [{ points: series.loss, colour: '#2f6fed' }], 0, top, (v) => (top > 2 ? v.toFixed(1) : v.toFixed(2)));
    const all = [...series.train, ...series.test].map(([, v]) => v).filter(Number.isFinite);
    const low = all.length ? Math.max(0, Math.min(90, Math.floor(Math.min(...all) / 10) * 10)) : 80;
    chart($('acc-chart'), [
      { points: series.train, colour: '#2f6fed' },
      { points: series.test, colour: '#e8590c', dots: true },
    ], low, 100, (v) => `${v.toFixed(0)}%`);
  });
}

// ---- Hidden units: one 28×28 picture per unit, red positive, blue negative. ----

let unitCanvases = [];
let pendingUnits = null;
function makeUnits(shown, hidden) {
  const box = $('units');
  box.textContent = '';
  unitCanvases = [];
  for (let j = 0; j < shown; j++) {
    const c = document.createElement('canvas');
    c.width = 28;
    c.height = 28;
    c.title = `hidden unit ${j}`;
    box.append(c);
    unitCanvases.push(c.getContext('2d'));
  }
  $('units-note').textContent = shown < hidden ? `Showing the first ${shown} of ${hidden} hidden units.` : '';
}

function drawUnits(weights) {
  unitCanvases.forEach((ctx, j) => {
    const w = weights.subarray(j * 784, (j + 1) * 784);
    let largest = 0;
    for (const v of w) largest = Math.max(largest, Math.abs(v));
    const scale = largest > 0 ? 1 / largest : 0;
    const image = ctx.createImageData(28, 28);
    for (let k = 0; k < 784; k++) {
      const t = Math.max(-1, Math.min(1, w[k] * scale));
      const a = Math.abs(t);
      // White at zero, towards red (positive) or blue (negative).
      const [r, g, b] = t >= 0 ? [214, 69, 61] : [61, 123, 214];
      image.data[4 * k] = Math.round(255 + (r - 255) * a);
      image.data[4 * k + 1] = Math.round(255 + (g - 255) * a);
      image.data[4 * k + 2] = Math.round(255 + (b - 255) * a);
      image.data[4 * k + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  });
}

// ---- The run. ----

let worker = null;
let current = null; // { config, started, lines }

/** Shows epoch `n` of the run, never going back: an epoch's report (with its test accuracy)
 * can arrive after the next epoch's first ticks, which already show that next epoch. */
function showEpoch(n) {
  current.epochShown = Math.max(current.epochShown || 0, n);
  $('stat-epoch').textContent = `${current.epochShown} / ${current.config.epochs}`;
}
let state = 'idle';

function setState(next) {
  state = next;
  const busy = next === 'running' || next === 'paused' || next === 'loading';
  startButton.disabled = busy;
  pauseButton.disabled = !(next === 'running' || next === 'paused');
  pauseButton.textContent = next === 'paused' ? 'Resume' : 'Pause';
  stopButton.disabled = !busy || next === 'loading';
  for (const name of Object.keys(VALIDATORS)) $(name).disabled = busy;
  document.body.dataset.state = next;
}

function setStatus(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', error);
}

function appendLog(lines) {
  // Appended, never rewritten: a run of thousands of epochs stays cheap to show.
  logBox.append(`${current.lines.length ? '\n' : ''}${lines.join('\n')}`);
  current.lines.push(...lines);
  logBox.scrollTop = logBox.scrollHeight;
}

function fmtSeconds(s) {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${(s % 60).toFixed(0)} s`;
}

function startWorker() {
  worker = new Worker(`/train-worker.js${location.search}`, { type: 'module' });
  worker.onmessage = (event) => onWorkerMessage(event.data);
  worker.onerror = (event) => {
    setStatus(`The trainer failed to start: ${event.message || 'see the console'}`, true);
    setState('idle');
  };
}

function onWorkerMessage(m) {
  switch (m.type) {
    case 'status':
      setStatus(m.text);
      break;
    case 'nodata':
      setState('idle');
      noData(m.message.replace('the server has no ', ''));
      checkData(); // names every missing file, not only the first the worker met
      break;
    case 'loaded':
      $('engine').textContent = (m.simd
        ? `WebAssembly SIMD: the ${m.level} module.`
        : `This browser has no WebAssembly SIMD: using the scalar module (${m.level}); same bytes, slower.`) +
        ` MNIST downloaded and unpacked (by the ${m.gunzip}) in ${(m.fetchMs / 1000).toFixed(2)} s, parsed in ${(m.parseMs / 1000).toFixed(2)} s.`;
      document.body.dataset.level = m.level;
      break;
    case 'ready':
      setState('running');
      current.samples = m.samples;
      appendLog(m.header);
      makeUnits(m.shown, current.config.hidden);
      setStatus(`Training on ${m.samples} images, ${m.batches_per_epoch} batches per epoch…`);
      current.started = performance.now();
      break;
    case 'tick': {
      const wall = (performance.now() - current.started) / 1000;
      showEpoch(Math.min(current.config.epochs, Math.floor(m.epoch) + 1));
      $('stat-rate').textContent = m.elapsed > 0 ? Math.round(m.samples / m.elapsed).toLocaleString('en') : '–';
      $('stat-elapsed').textContent = fmtSeconds(wall);
      break;
    }
    case 'point':
      series.loss.push([m.epoch, m.loss]);
      series.train.push([m.epoch, m.accuracy]);
      drawCharts();
      break;
    case 'units':
      // Drawn at the next frame, the latest only.
      if (!pendingUnits) requestAnimationFrame(() => { drawUnits(pendingUnits); pendingUnits = null; });
      pendingUnits = m.weights;
      break;
    case 'epoch':
      appendLog([m.line]);
      series.test.push([m.epochs_done, m.test_accuracy]);
      $('stat-test').textContent = `${m.test_accuracy.toFixed(2)}%`;
      showEpoch(m.epochs_done);
      if (live) drawCharts();
      break;
    case 'paused':
      setState('paused');
      setStatus('Paused. Resume to go on from exactly where it stopped (the bytes do not change).');
      break;
    case 'resumed':
      setState('running');
      setStatus('Training…');
      break;
    case 'stopped':
      setState('idle');
      setStatus('Stopped. A shortened run ends on different bytes than its recipe; start again to train it fully.');
      break;
    case 'done':
      finish(m);
      break;
    case 'error':
      setState('idle');
      setStatus(`Error: ${m.message}`, true);
      break;
    default:
      break;
  }
}

function finish(m) {
  const wall = (performance.now() - current.started) / 1000;
  appendLog(m.tail);
  $('stat-elapsed').textContent = fmtSeconds(wall);
  $('sha256').textContent = m.sha256;
  const golden = $('golden');
  if (m.sha256 === GOLDEN_SHA256) {
    golden.textContent = '✓ This equals the book\'s golden run (golden/full_run.txt): the same bytes as the command line gives.';
    golden.classList.remove('differs');
  } else {
    golden.textContent = isRecipe(current.config)
      ? 'This differs from the book\'s golden run, which it should equal: please report it.'
      : 'Not the book\'s golden run (other settings); the command below gives these bytes.';
    golden.classList.add('differs');
  }
  $('cli').textContent = cliCommand(current.config);
  const blob = new Blob([m.weights], { type: 'application/octet-stream' });
  const link = $('download');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  current.weights = new Uint8Array(m.weights);
  $('result').hidden = false;
  document.body.dataset.sha256 = m.sha256;
  document.body.dataset.wallSeconds = wall.toFixed(2);
  setState('idle');
  setStatus(`Done: ${current.config.epochs} epoch${current.config.epochs === 1 ? '' : 's'} in ${fmtSeconds(wall)} (the trainer's own time ${m.elapsed.toFixed(2)} s).`);
}

$('draw').addEventListener('click', (event) => {
  if (!current || !current.weights) return;
  try {
    let text = '';
    for (let i = 0; i < current.weights.length; i += 0x8000) {
      text += String.fromCharCode(...current.weights.subarray(i, i + 0x8000));
    }
    localStorage.setItem(STORAGE_KEY, btoa(text));
  } catch (err) {
    event.preventDefault();
    setStatus(`Could not hand the weights to the drawing page: ${err.message}`, true);
  }
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (state !== 'idle') return;
  const config = readSettings();
  if (!config) {
    setStatus('Fix the highlighted settings first.', true);
    const firstBad = form.querySelector('[aria-invalid="true"]');
    if (firstBad) firstBad.focus();
    return;
  }
  if (!worker) startWorker();
  current = { config, lines: [], started: performance.now() };
  series.loss = [];
  series.train = [];
  series.test = [];
  epochsPlanned = config.epochs;
  $('result').hidden = true;
  delete document.body.dataset.sha256;
  ['stat-epoch', 'stat-rate', 'stat-elapsed', 'stat-test'].forEach((id) => { $(id).textContent = '–'; });
  logBox.textContent = '';
  drawCharts();
  setState('loading');
  setStatus('Starting…');
  const { text, ...plain } = config;
  worker.postMessage({ type: 'start', config: plain, live });
});

pauseButton.addEventListener('click', () => {
  worker.postMessage({ type: state === 'paused' ? 'resume' : 'pause' });
});
stopButton.addEventListener('click', () => worker.postMessage({ type: 'stop' }));

/** Says at once, before anyone presses Start, when the server has no MNIST files. */
async function checkData() {
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const has = async (name) => (await fetch(`/data/${name}.gz`, { method: 'HEAD' })).ok ||
    (await fetch(`/data/${name}`, { method: 'HEAD' })).ok;
  try {
    const missing = [];
    for (const name of names) if (!(await has(name))) missing.push(`${name}.gz`);
    if (missing.length && state === 'idle') noData(missing.join(', '));
  } catch (err) {
    setStatus(`Could not reach the server: ${err.message}`, true);
  }
}

function noData(what) {
  setStatus(`The server has no MNIST files (missing: ${what}). Get them with \`cargo xtask fetch\`, ` +
    'then restart `mnistlearn serve` (or start it with --data DIR where they are).', true);
}

setState('idle');
drawCharts();
checkData();
if (!live) $('units-note').textContent = 'Live pictures and curves are off (?live=0).';
