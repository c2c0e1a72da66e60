// mnistlearn drawing app: draw a digit, see what the network makes of it.
//
// The page has no build step and no dependencies; the Rust binary embeds this file as is.
//
// Flow: pointer strokes paint white on a black 280×280 canvas → the canvas is shrunk to 28×28
// by averaging 10×10 blocks → the 28×28 image is shifted so its centre of mass sits in the
// middle, as MNIST's images were → the 784 bytes are POSTed to /predict → the answer's ten
// probabilities are shown as bars, the winner as a big digit.
'use strict';

(function () {
  // ---- Constants --------------------------------------------------------------------------

  const CANVAS_SIZE = 280;         // drawing canvas side, in canvas pixels
  const FACTOR = 10;               // each network pixel is a FACTOR×FACTOR block of the canvas
  const SIDE = 28;                 // network input side (MNIST)
  const CENTRE = (SIDE - 1) / 2;   // 13.5: the centre of a 28-pixel row, in pixel coordinates
  const LINE_WIDTH = 20;           // stroke width on the 280 canvas: about 2 MNIST pixels
  const THROTTLE_MS = 120;         // at most one prediction per this while a stroke goes on

  // ---- Preprocessing: small pure functions, exposed on window.mnist for tests -------------

  // ANCHOR: canvas_intensity
  /**
   * Grey level of each pixel of an RGBA buffer (such as ImageData.data): the mean of R, G and
   * B, 0 (black) to 255 (white). Alpha is ignored: the canvas is painted opaque.
   * @param {Uint8ClampedArray|Uint8Array|number[]} rgba  4 bytes per pixel
   * @returns {Uint8Array} one byte per pixel
   */
  function canvasIntensity(rgba) {
    const out = new Uint8Array(rgba.length >> 2);
    for (let i = 0, j = 0; i < out.length; i++, j += 4) {
      out[i] = Math.round((rgba[j] + rgba[j + 1] + rgba[j + 2]) / 3);
    }
    return out;
  }
  // ANCHOR_END: canvas_intensity

  // ANCHOR: downsample10
  /**
   * Shrinks a square grey image by 10 in each direction: each output pixel is the mean of a
   * 10×10 block of input pixels, rounded to the nearest integer. A 280×280 canvas gives the
   * 28×28 image MNIST uses; partly inked blocks become grey, which is MNIST's anti-aliasing.
   * A uniform block of value v gives exactly v.
   * @param {ArrayLike<number>} intensity  row-major, width×width values 0–255
   * @param {number} [width=280]           side of the input; a multiple of 10
   * @returns {Uint8Array} row-major, (width/10)² values 0–255
   */
  function downsample10(intensity, width = CANVAS_SIZE) {
    if (width % FACTOR !== 0 || intensity.length !== width * width) {
      throw new Error(`downsample10: expected a square image with a side divisible by ${FACTOR}`);
    }
    const side = width / FACTOR;
    const out = new Uint8Array(side * side);
    for (let by = 0; by < side; by++) {
      for (let bx = 0; bx < side; bx++) {
        let sum = 0;
        for (let y = by * FACTOR; y < (by + 1) * FACTOR; y++) {
          const row = y * width;
          for (let x = bx * FACTOR; x < (bx + 1) * FACTOR; x++) sum += intensity[row + x];
        }
        out[by * side + bx] = Math.round(sum / (FACTOR * FACTOR));
      }
    }
    return out;
  }
  // ANCHOR_END: downsample10

  // ANCHOR: centre_of_mass
  /**
   * The intensity-weighted centre of mass of a square image, in pixel coordinates (pixel
   * (x, y) has its centre at (x, y); the middle of a 28×28 image is (13.5, 13.5)).
   * @param {ArrayLike<number>} img  row-major, side×side values
   * @param {number} [side=28]
   * @returns {{x: number, y: number, mass: number} | null} null for an all-black image
   */
  function centreOfMass(img, side = SIDE) {
    let mass = 0, sx = 0, sy = 0;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = img[y * side + x];
        mass += v;
        sx += v * x;
        sy += v * y;
      }
    }
    return mass > 0 ? { x: sx / mass, y: sy / mass, mass } : null;
  }
  // ANCHOR_END: centre_of_mass

  // ANCHOR: shift_image
  /**
   * Moves a square image by whole pixels: pixel (x, y) goes to (x + dx, y + dy). Pixels moved
   * past an edge are dropped, vacated pixels are 0 (black). The input is not modified.
   * @param {ArrayLike<number>} img  row-major, side×side values
   * @param {number} dx  integer, positive = right
   * @param {number} dy  integer, positive = down
   * @param {number} [side=28]
   * @returns {Uint8Array}
   */
  function shiftImage(img, dx, dy, side = SIDE) {
    const out = new Uint8Array(side * side);
    for (let y = 0; y < side; y++) {
      const ty = y + dy;
      if (ty < 0 || ty >= side) continue;
      for (let x = 0; x < side; x++) {
        const tx = x + dx;
        if (tx < 0 || tx >= side) continue;
        out[ty * side + tx] = img[y * side + x];
      }
    }
    return out;
  }
  // ANCHOR_END: shift_image

  // ANCHOR: centre_and_preprocess
  /**
   * MNIST's centring: shift a 28×28 image by the whole number of pixels (rounded) that brings
   * its centre of mass closest to the middle, (13.5, 13.5). An empty image comes back as is.
   * @param {ArrayLike<number>} img28
   * @returns {Uint8Array}
   */
  function centreImage(img28) {
    const com = centreOfMass(img28, SIDE);
    if (!com) return Uint8Array.from(img28);
    return shiftImage(img28, Math.round(CENTRE - com.x), Math.round(CENTRE - com.y), SIDE);
  }

  /**
   * The whole preprocessing: the 280×280 canvas grey levels in, the network's 784-byte input
   * out (downsample10, then centre by centre of mass).
   * @param {ArrayLike<number>} intensity280  row-major, 280×280 values 0–255
   * @returns {Uint8Array} row-major, 28×28 values 0–255
   */
  function preprocess(intensity280) {
    return centreImage(downsample10(intensity280, CANVAS_SIZE));
  }
  // ANCHOR_END: centre_and_preprocess

  window.mnist = {
    CANVAS_SIZE, SIDE, CENTRE, LINE_WIDTH,
    canvasIntensity, downsample10, centreOfMass, shiftImage, centreImage, preprocess,
  };

  // ---- Page elements ----------------------------------------------------------------------

  const canvas = document.getElementById('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const preview = document.getElementById('preview');
  const previewCtx = preview.getContext('2d');
  const prediction = document.getElementById('prediction');
  const statusLine = document.getElementById('status');
  const barsList = document.getElementById('bars');
  const clearButton = document.getElementById('clear');

  const IDLE_STATUS = 'Draw a digit in the black square.';

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

  // ---- State ------------------------------------------------------------------------------

  // Every change to the canvas bumps `version`; it is mirrored in canvas[data-version], and
  // the version a shown prediction was computed from goes to prediction[data-for], so anyone
  // (a test, too) can tell whether the answer on screen is for the drawing on screen.
  let version = 0;
  let clearedAt = 0;        // the version Clear left; answers for drawings before it are dropped
  let lastSent = 0;         // the version last sent to the server
  let lastSentAt = -Infinity;
  let inFlight = false;     // at most one request at a time...
  let queued = false;       // ...and at most one waiting behind it (always for the newest drawing)
  let stroke = null;        // {id, x, y} while a pointer is down

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

  canvas.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (stroke) return; // a second finger does not start a second stroke
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const p = canvasPoint(e);
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

  // ---- Prediction -------------------------------------------------------------------------

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

  /** The server's answer, checked: {digit: 0–9, probabilities: 10 numbers}. */
  function checkAnswer(body) {
    const ok = body && Number.isInteger(body.digit) && body.digit >= 0 && body.digit <= 9 &&
      Array.isArray(body.probabilities) && body.probabilities.length === 10 &&
      body.probabilities.every((p) => typeof p === 'number' && Number.isFinite(p));
    if (!ok) throw new Error('the server sent an answer this page does not understand');
    return body;
  }

  function showAnswer(answer, forVersion) {
    const { digit, probabilities } = answer;
    prediction.textContent = String(digit);
    prediction.dataset.digit = String(digit);
    prediction.dataset.for = String(forVersion);
    probabilities.forEach((p, d) => {
      const percent = Math.min(100, Math.max(0, p * 100));
      bars[d].fill.style.width = `${percent}%`;
      bars[d].pct.textContent = `${percent.toFixed(1)}%`;
      bars[d].li.classList.toggle('winner', d === digit);
      bars[d].li.setAttribute('aria-label', `${d}: ${percent.toFixed(1)} percent`);
    });
    setStatus(`Looks like a ${digit} (${(probabilities[digit] * 100).toFixed(1)}% sure).`);
  }

  /** Sends the current drawing, unless a request is in flight (then it is sent right after). */
  function requestPrediction() {
    if (inFlight) {
      queued = true;
      return;
    }
    const sentVersion = version;
    if (sentVersion <= clearedAt || sentVersion === lastSent) return; // empty or already sent
    // ANCHOR: send_prediction
    const pixels = canvasIntensity(ctx.getImageData(0, 0, CANVAS_SIZE, CANVAS_SIZE).data);
    const input = preprocess(pixels);
    drawPreview(input);
    inFlight = true;
    lastSent = sentVersion;
    lastSentAt = performance.now();

    fetch('/predict', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: input,
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
        if (sentVersion > clearedAt) showAnswer(answer, sentVersion);
      })
      .catch((err) => {
        if (sentVersion <= clearedAt) return;
        const message = err instanceof TypeError
          ? `could not reach the server (${err.message})` : err.message;
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

  // ---- Clear ------------------------------------------------------------------------------

  function clearAll() {
    stroke = null;
    paintBlack(ctx, CANVAS_SIZE);
    paintBlack(previewCtx, SIDE);
    bumpVersion();
    clearedAt = version; // an answer still in flight is for the old drawing: it will be dropped
    queued = false;
    prediction.textContent = '';
    delete prediction.dataset.digit;
    delete prediction.dataset.for;
    for (const b of bars) {
      b.fill.style.width = '0';
      b.pct.textContent = '–';
      b.li.classList.remove('winner');
      b.li.removeAttribute('aria-label');
    }
    setStatus(IDLE_STATUS);
  }

  clearButton.addEventListener('click', clearAll);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') clearAll();
  });

  clearAll();
})();
