// The hand-written glue of mnistlearn's WebAssembly modules (wasm/src/lib.rs says the
// conventions): memory through the exported alloc/free, bytes out through the result buffer,
// a status (0 = success, else a message in the result buffer) from every call that can fail.
// One ES module for the browser and for Node (tests/wasm/check.mjs).

/** The module's import object: the trainer's clock, `env.now_ms` (milliseconds, monotonic). */
export function imports(nowMs = () => performance.now()) {
  return { env: { now_ms: nowMs } };
}

/** Instantiates a module from its bytes (or a fetch Response) and wraps its exports. */
export async function load(source, nowMs) {
  const { instance } =
    source instanceof Response
      ? await WebAssembly.instantiateStreaming(source, imports(nowMs))
      : await WebAssembly.instantiate(source, imports(nowMs));
  return new Mnistlearn(instance.exports);
}

/** Whether this engine runs WebAssembly SIMD (the mnistlearn-simd128.wasm module). */
export function hasSimd128() {
  // The smallest module using a v128 value: (func (result v128) i32.const 0 i8x16.splat).
  const probe = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
  ]);
  return WebAssembly.validate(probe);
}

export class Mnistlearn {
  constructor(exports) {
    this.exports = exports;
  }

  /** A copy of the result buffer's bytes. */
  resultBytes() {
    const { result_ptr, result_len, memory } = this.exports;
    return new Uint8Array(memory.buffer, result_ptr(), result_len()).slice();
  }

  /** The result buffer as UTF-8 text. */
  resultText() {
    return new TextDecoder().decode(this.resultBytes());
  }

  /** Calls export `name`; throws its message if it returns a non-zero status. */
  call(name, ...args) {
    const status = this.exports[name](...args);
    if (status !== 0) throw new Error(`${name}: ${this.resultText()}`);
    return this;
  }

  /** Copies each byte array into the module's memory, runs `f(ptr, len, ptr, len, …)`, frees. */
  withBytes(arrays, f) {
    const { alloc, free, memory } = this.exports;
    const blocks = arrays.map((a) => {
      const ptr = alloc(a.length);
      if (ptr === 0) throw new Error(`alloc(${a.length}): out of memory`);
      // After alloc: a grown memory has a new buffer.
      new Uint8Array(memory.buffer, ptr, a.length).set(a);
      return [ptr, a.length];
    });
    try {
      return f(...blocks.flat());
    } finally {
      blocks.forEach(([ptr, len]) => free(ptr, len));
    }
  }

  /** Data set slot 0 (training) or 1 (test) from IDX files' bytes (raw or gzipped). */
  setData(slot, images, labels, limit = 0) {
    this.withBytes([images, labels], (ip, il, lp, ll) => this.call("set_data", slot, ip, il, lp, ll, limit));
    return Number(this.resultText());
  }

  /** The name of SIMD level `code` (0: scalar, 1: the module's best). */
  levelName(code) {
    return this.call("level_name", code).resultText();
  }
}
