// "Draw with these weights": the drawing page with the network trained on /train, classified
// in this browser by the WebAssembly module (the same kernels as the trainer and the server),
// with no server round trip. Active on /?weights=trained only; otherwise it does nothing.
//
// It stands in for the server's answers: app.js asks `window.mnistlearnFetch(path, init)`, and
// here /strokes, /classify and /hidden-weights are answered by the module from the weights that
// train.js left in localStorage, as Responses shaped like the server's (same JSON).
(function () {
  'use strict';
  const STORAGE_KEY = 'mnistlearn.trained-weights';
  if (new URLSearchParams(location.search).get('weights') !== 'trained') return;

  const stored = localStorage.getItem(STORAGE_KEY);
  const fail = (message) => new Response(JSON.stringify({ error: message }), { status: 400 });

  const ready = (async () => {
    if (!stored) throw new Error('no trained weights in this browser: train a network on /train first');
    const bytes = Uint8Array.from(atob(stored), (c) => c.charCodeAt(0));
    const glue = await import('/wasm/glue.mjs');
    const file = glue.hasSimd128() ? '/wasm/mnistlearn-simd128.wasm' : '/wasm/mnistlearn.wasm';
    const m = await glue.load(await fetch(file));
    const hidden = Number(m.withBytes([bytes], (p, n) => m.call('net_load', p, n).resultText()));
    const digest = await (crypto.subtle ? crypto.subtle.digest('SHA-256', bytes) : Promise.resolve(null));
    const hex = digest ? [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') : '';
    return { m, hidden, hex };
  })();

  /** The module's JSON answer to `name(...)`, as a server Response would carry it. */
  function answer(m, name, args) {
    const status = m.exports[name](...args);
    const text = m.resultText();
    return status === 0 ? new Response(text, { status: 200 }) : fail(text);
  }

  window.mnistlearnFetch = async (path, init = {}) => {
    let local;
    try {
      local = await ready;
    } catch (err) {
      return fail(err.message);
    }
    const { m } = local;
    const url = new URL(path, location.href);
    if (url.pathname === '/hidden-weights') return answer(m, 'net_hidden_weights', []);
    if (url.pathname === '/strokes') {
      // The page's own JSON, handed over as numbers: points per stroke, then every x, y.
      let drawing;
      try {
        drawing = JSON.parse(init.body);
      } catch (err) {
        return fail(`the drawing is not JSON: ${err.message}`);
      }
      const strokes = Array.isArray(drawing.strokes) ? drawing.strokes : [];
      const counts = new Uint32Array(strokes.map((s) => (Array.isArray(s) ? s.length : 0)));
      const points = new Float64Array(strokes.flat().flatMap((p) => [Number(p[0]), Number(p[1])]));
      return m.withBytes([new Uint8Array(counts.buffer), new Uint8Array(points.buffer)], (cp, _cn, pp, pn) =>
        answer(m, 'net_strokes', [Number(drawing.width), Number(drawing.height), cp, counts.length, pp, pn, 1]));
    }
    if (url.pathname === '/classify') {
      const width = Number(url.searchParams.get('width'));
      const height = Number(url.searchParams.get('height'));
      const grey = new Uint8Array(init.body.buffer || init.body);
      if (grey.length !== width * height) return fail(`body must be width × height = ${width * height} bytes`);
      return m.withBytes([grey], (p) => answer(m, 'net_classify', [p, width, height, 1]));
    }
    return fetch(path, init);
  };

  // Say which network answers, with a way back to the server's.
  document.addEventListener('DOMContentLoaded', () => {
    const note = document.createElement('p');
    note.className = 'trained-note';
    note.id = 'trained-note';
    note.setAttribute('role', 'status');
    note.textContent = 'Using the network you trained on the training page, classified here in your browser…';
    const back = document.createElement('a');
    back.href = '/';
    back.textContent = 'Back to the server\'s network';
    const header = document.querySelector('header') || document.body;
    header.append(note);
    const footer = document.querySelector('footer p');
    if (footer) {
      footer.textContent = 'Your strokes stay in this browser: the WebAssembly module draws them as MNIST\'s ' +
        'digits were made, exactly as the server would, and runs them through the network you trained.';
    }
    ready.then(({ hidden, hex }) => {
      note.textContent = `Using the 784-${hidden}-10 network you trained on the training page` +
        (hex ? ` (weights.bin sha256 ${hex.slice(0, 8)}…${hex.slice(-4)})` : '') +
        ', classified here in your browser by the WebAssembly kernels. ';
      note.dataset.sha256 = hex;
      note.append(back);
    }, (err) => {
      note.textContent = `${err.message}. `;
      note.classList.add('error');
      note.append(back);
    });
  });
}());
