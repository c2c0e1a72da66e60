// Runs mnistlearn's WebAssembly module in Node and holds it to the native build bit for bit
// (`cargo xtask cross` runs it; wasm/src/check.rs has the exports).
//
//   node tests/wasm/check.mjs MODULE.wasm fixture    the core crate's kernel checks (scalar
//        against the module's best level), the kernel table against golden/kernel_table.snap,
//        the fast trainer against the reference trainer, and the fixture run (5 epochs on
//        tests/fixtures/mnist-small): log and weights hash against golden/fixture_*.snap
//   node tests/wasm/check.mjs MODULE.wasm full DIR [OUT]   the default 30-epoch run on MNIST in
//        DIR: the log on stdout, exactly as `mnistlearn train` prints it, the weights.bin bytes
//        to OUT if given, the hash and times on stderr (cross checks log and hash against
//        golden/full_run.txt)
//
// Prints one line per check; exits 1 on any failure.

import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { load } from "../../web/wasm/glue.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const [modulePath, mode, dataDir, outPath] = process.argv.slice(2);
if (!modulePath || !["fixture", "full"].includes(mode) || (mode === "full" && !dataDir)) {
  console.error("usage: node tests/wasm/check.mjs MODULE.wasm fixture | full DATA_DIR [OUT]");
  process.exit(2);
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
/** The body of an insta snapshot: what follows its header's closing `---` line. */
const snapshot = (name) => readFileSync(join(root, "golden", `${name}.snap`), "utf8").split("\n---\n")[1].trim();
const redactTime = (log) => log.replace(/^Training time: .*$/m, "Training time: [redacted]");

let failures = 0;
function check(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
  if (!ok) failures += 1;
}

const wasm = await load(readFileSync(modulePath));
const best = wasm.levelName(1);
// In full mode stdout is the training log alone.
const info = mode === "full" ? console.error : console.log;
info(`module ${modulePath}: best SIMD level ${best}`);

function loadData(dir, limit = 0) {
  const file = (name) => {
    for (const candidate of [name, `${name}.gz`]) {
      try {
        return readFileSync(join(dir, candidate));
      } catch {}
    }
    throw new Error(`${join(dir, name)}(.gz): not found`);
  };
  const n = wasm.setData(0, file("train-images-idx3-ubyte"), file("train-labels-idx1-ubyte"), limit);
  const m = wasm.setData(1, file("t10k-images-idx3-ubyte"), file("t10k-labels-idx1-ubyte"));
  return [n, m];
}

/** Trains with the recipe at `level`; the log and the weights.bin bytes. */
function run(epochs, level, { batch = 32, hidden = 32, lr = 0.1, seed = 1n } = {}) {
  const log = wasm.call("run", epochs, batch, hidden, lr, seed, level).resultText();
  const weights = wasm.call("weights").resultBytes();
  return { log, weights };
}

if (mode === "fixture") {
  const fixture = join(root, "tests/fixtures/mnist-small");
  const failed = wasm.exports.check_kernels();
  process.stdout.write(wasm.resultText());
  failures += failed;
  const table = wasm.call("kernel_table").resultText().trim();
  check("kernel table = golden/kernel_table.snap", table === snapshot("kernel_table"));
  // The core tests' trainer check runs on the fixture's first 1,000 images.
  loadData(fixture, 1000);
  const status = wasm.exports.check_trainer();
  check(`trainer = reference trainer (scalar and ${best}, 3 shapes)`, status === 0, status === 0 ? "" : wasm.resultText());
  loadData(fixture);
  for (const level of [...new Set([0, 1])].filter((l, i) => i === 0 || best !== "scalar")) {
    const name = wasm.levelName(level);
    const t0 = performance.now();
    const { log, weights } = run(5, level);
    const ms = (performance.now() - t0).toFixed(0);
    check(`fixture run (${name}): log = golden/fixture_train_log.snap`, redactTime(log).trim() === snapshot("fixture_train_log"));
    const hash = sha256(weights);
    check(`fixture run (${name}): weights sha256 = golden/fixture_weights_sha256.snap`, hash === snapshot("fixture_weights_sha256"), `${hash} (${ms} ms)`);
    check(`fixture run (${name}): test block = golden/fixture_test_output.snap`, log.trim().endsWith(snapshot("fixture_test_output")));
  }
} else {
  const [n, m] = loadData(dataDir);
  const t0 = performance.now();
  const { log, weights } = run(30, 1);
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(log);
  if (outPath) writeFileSync(outPath, weights);
  info(`${n} training and ${m} test images, ${best}, ${seconds} s in all`);
  info(`weights sha256 ${sha256(weights)}`);
}

info(`${failures === 0 ? "wasm check: all passed" : `wasm check: ${failures} failed`}`);
process.exit(failures === 0 ? 0 : 1);
