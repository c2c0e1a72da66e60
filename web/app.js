// mnistlearn drawing app: draw a digit, see what the network makes of it.
//
// The page has no build step and no dependencies; the Rust binary embeds this file as is.
//
// Flow: pointer strokes paint white on a black 280×280 canvas, and their points are recorded →
// the strokes (points in canvas pixels) are POSTed as JSON to /strokes → the server draws them
// the way MNIST's digits were made (core/src/data/strokes.rs: the box of their part on the
// canvas fitted to 20×20, MNIST's pen width, anti-aliased, centred by centre of mass) and
// classifies the result → the page shows the 28×28 image the network saw, its hidden units lit
// by their activations, and the ten probabilities as bars. The pen on the page is only for the
// eye: a digit drawn small reaches the network as thin as one drawn large.
//
// There is deliberately no drawing for the network here: one implementation, in Rust, serves
// the page and the tests, so the page cannot drift from what was measured.
'use strict';

(function () {
  // ---- Constants --------------------------------------------------------------------------

  const CANVAS_SIZE = 280;         // drawing canvas side, in canvas pixels (CSS may scale it)
  const SIDE = 28;                 // network input side (MNIST)
  const LINE_WIDTH = 14;           // stroke width on the 280 canvas (what you see only)
  const MAX_STROKES = 64;          // the server's limits on a drawing (src/serve/strokes.rs)
  const MAX_POINTS = 4096;
  const MIN_STEP = 0.5;            // a point closer than this to the last one adds nothing
  const THROTTLE_MS = 120;         // at most one prediction per this while a stroke goes on
  const IDLE_LIGHT = 0.6;          // hidden-unit picture opacity before anything is drawn

  // ANCHOR: weight_colour
  /**
   * The colour of one hidden-unit weight, scaled to −127…127: positive weights (ink there
   * excites the unit) in orange, negative ones (ink there inhibits it) in blue, zero black.
   * @param {number} w  −127…127
   * @returns {number[]} [r, g, b]
   */
  function weightColour(w) {
    const t = Math.min(1, Math.abs(w) / 127);
    return w >= 0
      ? [Math.round(255 * t), Math.round(150 * t), Math.round(40 * t)]
      : [Math.round(50 * t), Math.round(130 * t), Math.round(255 * t)];
  }
  // ANCHOR_END: weight_colour

  // ---- Page elements ----------------------------------------------------------------------

  const canvas = document.getElementById('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const preview = document.getElementById('preview');
  const previewCtx = preview.getContext('2d');
  const prediction = document.getElementById('prediction');
  const statusLine = document.getElementById('status');
  const barsList = document.getElementById('bars');
  const hiddenGrid = document.getElementById('hidden');
  const hiddenNote = document.getElementById('hidden-note');
  const clearButton = document.getElementById('clear');

  const IDLE_STATUS = 'Draw a digit in the black square — any size, anywhere.';
  const EMPTY_STATUS = 'No digit yet: the square is blank. Draw a digit, any size, anywhere.';
  const FULL_STATUS = 'That is a lot of ink for one digit: press Clear to start again.';

  // One row per digit: label, track with a fill, percentage.
  const bars = [];
  for (let d = 0; d < 10; d++) {
    const li = document.createElement('li');
    li.className = 'bar';
    li.dataset.digit = String(d);
    li.innerHTML =
      `<span class="digit">${d}</span>` +
      '<span class="track"><span class="fill"></span></span>' +
      '<span class="pct">–</span>';
    barsList.appendChild(li);
    bars.push({ li, fill: li.querySelector('.fill'), pct: li.querySelector('.pct') });
  }

  // One picture per hidden unit, filled in when /hidden-weights arrives.
  const tiles = [];

  // ---- State ------------------------------------------------------------------------------

  // Every change to the canvas bumps `version`; it is mirrored in canvas[data-version], and
  // the version a shown answer was computed from goes to prediction[data-for], so anyone (a
  // test, too) can tell whether the answer on screen is for the drawing on screen.
  let version = 0;
  let clearedAt = 0;        // the version Clear left; answers for drawings before it are dropped
  let lastSent = 0;         // the version last sent to the server
  let lastSentAt = -Infinity;
  let inFlight = false;     // at most one request at a time...
  let queued = false;       // ...and at most one waiting behind it (always for the newest drawing)
  let stroke = null;        // {id, x, y} while a pointer is down
  let strokes = [];         // every stroke's points, [[x, y], …], in canvas pixels: what is sent
  let points = 0;           // points in `strokes`

  function bumpVersion() {
    version += 1;
    canvas.dataset.version = String(version);
  }

  function setStatus(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle('error', isError);
  }

  // ---- Drawing ----------------------------------------------------------------------------

  function paintBlack(context, size) {
    context.fillStyle = '#000';
    context.fillRect(0, 0, size, size);
  }

  /** Canvas pixel coordinates of a pointer event (the canvas may be scaled by CSS). */
  function canvasPoint(e) {
    const r = canvas.getBoundingClientRect();
    return {
      x: (e.clientX - r.left) * (canvas.width / r.width),
      y: (e.clientY - r.top) * (canvas.height / r.height),
    };
  }

  function dot(p) {
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(p.x, p.y, LINE_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function segment(a, b) {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = LINE_WIDTH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }

  // ANCHOR: record_point
  /**
   * Records a point of the current stroke (a new stroke when `start`), to a tenth of a canvas
   * pixel, within the server's limits. Returns false once the drawing is full.
   */
  function record(p, start) {
    const point = [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10];
    if (points >= MAX_POINTS || (start && strokes.length >= MAX_STROKES)) {
      setStatus(FULL_STATUS, true);
      return false;
    }
    if (start) {
      strokes.push([point]);
    } else {
      const line = strokes[strokes.length - 1];
      const last = line[line.length - 1];
      if (Math.hypot(point[0] - last[0], point[1] - last[1]) < MIN_STEP) return true;
      line.push(point);
    }
    points += 1;
    return true;
  }
  // ANCHOR_END: record_point

  canvas.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (stroke) return; // a second finger does not start a second stroke
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const p = canvasPoint(e);
    if (!record(p, true)) return;
    stroke = { id: e.pointerId, x: p.x, y: p.y };
    dot(p);
    bumpVersion();
  });

  canvas.addEventListener('pointermove', (e) => {
    if (!stroke || e.pointerId !== stroke.id) return;
    e.preventDefault();
    // Coalesced events keep fast strokes smooth where the browser batches moves.
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = canvasPoint(ev);
      if (!record(p, false)) break;
      segment(stroke, p);
      stroke.x = p.x;
      stroke.y = p.y;
    }
    bumpVersion();
    if (performance.now() - lastSentAt >= THROTTLE_MS) requestPrediction();
  });

  function endStroke(e) {
    if (!stroke || e.pointerId !== stroke.id) return;
    stroke = null;
    requestPrediction(); // the final drawing is always sent (queued if one is in flight)
  }
  canvas.addEventListener('pointerup', endStroke);
  canvas.addEventListener('pointercancel', endStroke);

  // ---- Showing an answer ------------------------------------------------------------------

  function drawPreview(img28) {
    const image = previewCtx.createImageData(SIDE, SIDE);
    for (let i = 0; i < img28.length; i++) {
      const v = img28[i];
      image.data[4 * i] = v;
      image.data[4 * i + 1] = v;
      image.data[4 * i + 2] = v;
      image.data[4 * i + 3] = 255;
    }
    previewCtx.putImageData(image, 0, 0);
  }

  /** Lights hidden unit j's picture by its activation (0–1), or dims them all (null). */
  function lightHidden(activations) {
    tiles.forEach((tile, j) => {
      const a = activations ? activations[j] : null;
      tile.style.opacity = String(a === null ? IDLE_LIGHT : 0.12 + 0.88 * a);
      tile.classList.toggle('on', a !== null && a >= 0.5);
      if (a === null) {
        delete tile.dataset.activation;
        tile.title = `hidden unit ${j}`;
      } else {
        tile.dataset.activation = a.toFixed(4);
        tile.title = `hidden unit ${j}: activation ${a.toFixed(3)}`;
      }
    });
  }

  function resetBars() {
    for (const b of bars) {
      b.fill.style.setProperty('--p', '0%');
      b.pct.textContent = '–';
      b.li.classList.remove('winner');
      b.li.removeAttribute('aria-label');
    }
  }

  /**
   * The server's answer, checked: {empty: true}, or {digit: 0–9, probabilities: 10 numbers,
   * seen: 784 bytes, hidden: numbers in 0–1}.
   */
  function checkAnswer(body) {
    if (body && body.empty === true) return body;
    if (body && body.too_small === true && typeof body.message === 'string') return body;
    const ok = body && Number.isInteger(body.digit) && body.digit >= 0 && body.digit <= 9 &&
      Array.isArray(body.probabilities) && body.probabilities.length === 10 &&
      body.probabilities.every((p) => typeof p === 'number' && Number.isFinite(p)) &&
      Array.isArray(body.seen) && body.seen.length === SIDE * SIDE &&
      Array.isArray(body.hidden) && body.hidden.every((h) => typeof h === 'number' && h >= 0 && h <= 1);
    if (!ok) throw new Error('the server sent an answer this page does not understand');
    return body;
  }

  /** No digit on screen: no prediction, no bars, a black preview, the hidden layer dimmed. */
  function showNothing() {
    prediction.textContent = '';
    delete prediction.dataset.digit;
    delete prediction.dataset.empty;
    delete prediction.dataset.tooSmall;
    paintBlack(previewCtx, SIDE);
    resetBars();
    lightHidden(null);
  }

  function showEmpty(forVersion) {
    showNothing();
    prediction.dataset.empty = 'true';
    prediction.dataset.for = String(forVersion);
    setStatus(EMPTY_STATUS);
  }

  /** A tap or a dot: too little ink to be a digit, so no digit and no probabilities. */
  function showTooSmall(forVersion) {
    showNothing();
    prediction.dataset.tooSmall = 'true';
    prediction.dataset.for = String(forVersion);
    setStatus('Too small to read: draw the digit larger than a dot.');
  }

  /** "a 3", but "an 8". */
  function withArticle(digit) {
    return `${digit === 8 ? 'an' : 'a'} ${digit}`;
  }

  function showAnswer(answer, forVersion) {
    if (answer.empty) {
      showEmpty(forVersion);
      return;
    }
    if (answer.too_small) {
      showTooSmall(forVersion);
      return;
    }
    const { digit, probabilities, seen, hidden } = answer;
    prediction.textContent = String(digit);
    prediction.dataset.digit = String(digit);
    delete prediction.dataset.empty;
    delete prediction.dataset.tooSmall;
    prediction.dataset.for = String(forVersion);
    drawPreview(seen);
    lightHidden(hidden);
    probabilities.forEach((p, d) => {
      const percent = Math.min(100, Math.max(0, p * 100));
      // The style sheet makes --p a width (bars, wide screens) or a height (columns, phones).
      bars[d].fill.style.setProperty('--p', `${percent}%`);
      bars[d].pct.textContent = `${percent.toFixed(1)}%`;
      bars[d].li.classList.toggle('winner', d === digit);
      bars[d].li.setAttribute('aria-label', `${d}: ${percent.toFixed(1)} percent`);
    });
    setStatus(`Looks like ${withArticle(digit)} (${(probabilities[digit] * 100).toFixed(1)}% sure).`);
  }

  // ---- Asking the server ------------------------------------------------------------------

  /**
   * Sends the current drawing, unless a request is in flight (then it is sent right after).
   * `force` sends even a drawing that was already sent or cleared (used by tests).
   */
  function requestPrediction(force = false) {
    if (inFlight) {
      queued = true;
      return;
    }
    const sentVersion = version;
    if (!force && (sentVersion <= clearedAt || sentVersion === lastSent)) return;
    // ANCHOR: send_prediction
    const body = JSON.stringify({ width: CANVAS_SIZE, height: CANVAS_SIZE, strokes });
    inFlight = true;
    lastSent = sentVersion;
    lastSentAt = performance.now();

    (window.mnistlearnFetch || fetch)('/strokes', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    })
    // ANCHOR_END: send_prediction
      .then(async (res) => {
        let body = null;
        try { body = await res.json(); } catch (_) { /* not JSON: reported below */ }
        if (!res.ok) {
          const why = body && typeof body.error === 'string' ? body.error : res.statusText;
          throw new Error(`server error ${res.status}: ${why || 'no details'}`);
        }
        return checkAnswer(body);
      })
      .then((answer) => {
        if (force || sentVersion > clearedAt) showAnswer(answer, sentVersion);
      })
      .catch((err) => {
        if (!force && sentVersion <= clearedAt) return;
        const message = err instanceof TypeError
          ? `could not reach the server (${err.message})` : err.message;
        // The old answer was for another drawing: it must not stay beside this one.
        showNothing();
        prediction.dataset.for = String(sentVersion);
        setStatus(`Error: ${message}`, true);
      })
      .finally(() => {
        inFlight = false;
        if (queued) {
          queued = false;
          requestPrediction();
        }
      });
  }

  /** Fetches the hidden units' weights once and draws one 28×28 picture per unit. */
  function loadHiddenWeights() {
    (window.mnistlearnFetch || fetch)('/hidden-weights')
      .then((res) => {
        if (!res.ok) throw new Error(`GET /hidden-weights answered ${res.status}`);
        return res.json();
      })
      .then(({ hidden, weights }) => {
        if (!Number.isInteger(hidden) || !Array.isArray(weights) || weights.length !== hidden) {
          throw new Error('GET /hidden-weights sent an answer this page does not understand');
        }
        weights.forEach((w, j) => {
          const tile = document.createElement('canvas');
          tile.width = SIDE;
          tile.height = SIDE;
          tile.className = 'unit';
          tile.dataset.unit = String(j);
          const tctx = tile.getContext('2d');
          const image = tctx.createImageData(SIDE, SIDE);
          for (let k = 0; k < SIDE * SIDE; k++) {
            const [r, g, b] = weightColour(w[k]);
            image.data.set([r, g, b, 255], 4 * k);
          }
          tctx.putImageData(image, 0, 0);
          hiddenGrid.appendChild(tile);
          tiles.push(tile);
        });
        hiddenGrid.dataset.units = String(hidden);
        hiddenNote.textContent = `${hidden} hidden units: each picture is one unit's weights ` +
          '(orange: ink there excites it, blue: inhibits it), lit by how strongly your drawing ' +
          'activates it.';
        lightHidden(null);
      })
      .catch((err) => {
        hiddenNote.textContent = `The hidden layer could not be shown: ${err.message}`;
      });
  }

  // ---- Clear ------------------------------------------------------------------------------

  function clearAll() {
    stroke = null;
    strokes = [];
    points = 0;
    paintBlack(ctx, CANVAS_SIZE);
    paintBlack(previewCtx, SIDE);
    bumpVersion();
    clearedAt = version; // an answer still in flight is for the old drawing: it will be dropped
    queued = false;
    showNothing();
    delete prediction.dataset.for;
    setStatus(IDLE_STATUS);
  }

  clearButton.addEventListener('click', clearAll);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') clearAll();
  });

  window.mnist = {
    CANVAS_SIZE, SIDE, LINE_WIDTH, MAX_STROKES, MAX_POINTS, weightColour, withArticle,
    /** The strokes recorded so far (a copy). */
    strokes: () => strokes.map((s) => s.map((p) => p.slice())),
    /** Sends the canvas as it is now, even blank (for tests). */
    sendNow: () => requestPrediction(true),
  };

  clearAll();
  loadHiddenWeights();
})();
