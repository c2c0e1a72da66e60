#!/usr/bin/env python3
"""NumPy reference implementation of the mnistlearn training recipe.

This script mirrors, in structure, the network trained by the Rust binary
(and by the original NASM program it reproduces):

    784 inputs -> H hidden units (sigmoid) -> 10 outputs (softmax)
    cross-entropy loss, float64 everywhere

Recipe
------
* Data: the four MNIST IDX files, raw or gzipped, from ``--data DIR``.
  Pixels are scaled to [0, 1] by dividing by 255.
* Init: ``numpy.random.default_rng(seed)``; hidden weights uniform in
  [-0.0815, 0.0815], then output weights uniform in [-0.378, 0.378];
  all biases zero.
* Training: mini-batch SGD (batch 32, learning rate 0.1), gradients
  averaged over the batch (``w -= lr * grad_sum / n``), 30 epochs, a fresh
  permutation of the training set every epoch (drawn from the same
  generator). Each batch is processed with matrix operations.
* Per-epoch loss / accuracy are running averages over the training samples
  as seen by that epoch's forward passes, i.e. computed before each
  batch's weight update (like the original program).

The training loop is written to be at least as fast as a careful NumPy
programmer's version (the benchmark compares against one, ``cargo xtask
bench``): weights stored (inputs, units) so the products are contiguous,
pixels scaled to float64 once, the step folded into the output error once
per batch, and every per-batch array written in place into buffers allocated
once (a fresh (784, H) temporary per batch costs more than its product).

The result is NOT expected to be bit-identical to the Rust binary (different
random numbers, different summation order); it is a sanity check that the
recipe lands in the same place (about 96.5 % test accuracy).

Usage
-----
    python3 scripts/reference_numpy.py [--data DIR] [--epochs N] [--batch N]
        [--lr F] [--hidden N] [--seed S] [--limit N] [--json FILE]
        [--threads N]

``--json FILE`` writes, for the benchmark harness::

    {"train_seconds": 21.3, "test_accuracy": 96.52,
     "test_correct": 9652, "test_total": 10000,
     "epochs": [{"loss": 0.6105, "accuracy": 85.26}, ...], ...}

where accuracies are percentages (as printed) and ``train_seconds`` is the
wall time of the training loop only (data loading and testing excluded).

Only the Python standard library and NumPy are used. NumPy is imported after
the command line is parsed so that ``--threads`` can set the BLAS / OpenMP
thread-count environment variables before the BLAS library is loaded.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

# Architecture constants fixed by the recipe.
INPUTS = 28 * 28
OUTPUTS = 10

# Initialisation ranges of the original program.
HIDDEN_INIT_RANGE = 0.0815
OUTPUT_INIT_RANGE = 0.378

# IDX magic numbers (big-endian u32 at the start of each file).
IDX_MAGIC_IMAGES = 2051  # 0x00000803: unsigned byte, 3 dimensions
IDX_MAGIC_LABELS = 2049  # 0x00000801: unsigned byte, 1 dimension

GZIP_MAGIC = b"\x1f\x8b"

# Environment variables honoured by the common BLAS / threading runtimes.
THREAD_ENV_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

# Filled in by use_numpy() once the thread settings are applied.
np = None


def use_numpy():
    """Import numpy (after any thread settings are in the environment) for this module."""
    global np
    import numpy
    np = numpy
    return numpy


class DataError(Exception):
    """A problem with the input data, reported as a one-line message."""


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def number_type(convert, ok, what):
    """An argparse type: `convert` the text, then require `ok(value)`; else say `what` was expected."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


positive_int = number_type(int, lambda v: v >= 1, "a positive integer")
positive_float = number_type(float, lambda v: 0.0 < v < float("inf"), "a positive number")
non_negative_int = number_type(int, lambda v: v >= 0, "a non-negative integer")  # the seed


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="NumPy reference of the mnistlearn MNIST training recipe.")
    parser.add_argument("--data", default="data", metavar="DIR",
                        help="directory holding the MNIST IDX files, raw or .gz (default: data)")
    parser.add_argument("--epochs", type=positive_int, default=30, metavar="N",
                        help="number of training epochs (default: 30)")
    parser.add_argument("--batch", type=positive_int, default=32, metavar="N",
                        help="mini-batch size (default: 32)")
    parser.add_argument("--lr", type=positive_float, default=0.1, metavar="F",
                        help="learning rate (default: 0.1)")
    parser.add_argument("--hidden", type=positive_int, default=32, metavar="N",
                        help="number of hidden units (default: 32)")
    parser.add_argument("--seed", type=non_negative_int, default=1, metavar="S",
                        help="seed for numpy.random.default_rng (default: 1)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="use only the first N training images")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="write timings and accuracies as JSON to FILE")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="set OPENBLAS/OMP/MKL thread counts before importing numpy")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# MNIST IDX loading
# ---------------------------------------------------------------------------

def find_idx_file(data_dir, name):
    """Return the path of ``name`` or ``name.gz`` inside ``data_dir``."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.isfile(path):
            return path
    raise DataError(f"cannot find {name} or {name}.gz in {data_dir!r} "
                    f"(run scripts/download_mnist.sh {data_dir})")


def read_maybe_gzip(path):
    """Read a whole file, decompressing it if it is gzip (magic 1f 8b or .gz suffix)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}")
    if raw[:2] == GZIP_MAGIC or path.endswith(".gz"):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise DataError(f"{path}: corrupt gzip data ({e})")
    return raw


def parse_idx_images(path):
    """Parse an IDX3 image file into a (count, rows*cols) uint8 array."""
    data = read_maybe_gzip(path)
    if len(data) < 16:
        raise DataError(f"{path}: too short for an IDX image header ({len(data)} bytes)")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IDX_MAGIC_IMAGES:
        raise DataError(f"{path}: bad magic number {magic} (expected {IDX_MAGIC_IMAGES} for IDX images)")
    if rows * cols != INPUTS:
        raise DataError(f"{path}: images are {rows}x{cols}, expected 28x28")
    expected = 16 + count * rows * cols
    if len(data) != expected:
        raise DataError(f"{path}: size is {len(data)} bytes, header implies {expected}")
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16)
    return pixels.reshape(count, rows * cols)


def parse_idx_labels(path):
    """Parse an IDX1 label file into a (count,) uint8 array of digits 0-9."""
    data = read_maybe_gzip(path)
    if len(data) < 8:
        raise DataError(f"{path}: too short for an IDX label header ({len(data)} bytes)")
    magic, count = struct.unpack(">II", data[:8])
    if magic != IDX_MAGIC_LABELS:
        raise DataError(f"{path}: bad magic number {magic} (expected {IDX_MAGIC_LABELS} for IDX labels)")
    expected = 8 + count
    if len(data) != expected:
        raise DataError(f"{path}: size is {len(data)} bytes, header implies {expected}")
    labels = np.frombuffer(data, dtype=np.uint8, offset=8)
    if count and labels.max() >= OUTPUTS:
        raise DataError(f"{path}: label {int(labels.max())} out of range 0-9")
    return labels


def load_split(data_dir, prefix):
    """Load one split ("train" or "t10k"): float64 images in [0, 1] and int labels."""
    images = parse_idx_images(find_idx_file(data_dir, f"{prefix}-images-idx3-ubyte"))
    labels = parse_idx_labels(find_idx_file(data_dir, f"{prefix}-labels-idx1-ubyte"))
    if len(images) != len(labels):
        raise DataError(f"{prefix} split: {len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise DataError(f"{prefix} split is empty")
    return images.astype(np.float64) / 255.0, labels.astype(np.intp)


# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

def init_params(rng, hidden):
    """Uniform weights (hidden layer first, then output layer), zero biases.

    The numbers are drawn one row per neuron, (units, inputs), which is the row
    order of weights.bin; they are then stored transposed, (inputs, units), so
    that every product in the training loop (``x @ w_hidden``,
    ``x.T @ d_hidden``, ...) reads and writes contiguous matrices.
    """
    w_hidden = rng.uniform(-HIDDEN_INIT_RANGE, HIDDEN_INIT_RANGE, size=(hidden, INPUTS))
    w_output = rng.uniform(-OUTPUT_INIT_RANGE, OUTPUT_INIT_RANGE, size=(OUTPUTS, hidden))
    b_hidden = np.zeros(hidden)
    b_output = np.zeros(OUTPUTS)
    return np.ascontiguousarray(w_hidden.T), b_hidden, np.ascontiguousarray(w_output.T), b_output


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(params, x):
    """Forward pass of a batch x (n, 784): the softmax probabilities (n, 10).

    Used for testing; the training loop below does the same arithmetic in
    place, in buffers it allocates once.
    """
    w_hidden, b_hidden, w_output, b_output = params
    logits = sigmoid(x @ w_hidden + b_hidden) @ w_output + b_output
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # avoid overflow in exp
    return exp / exp.sum(axis=1, keepdims=True)


class Batch:
    """Work buffers for one batch of n samples, allocated once per run.

    Allocating a fresh (784, H) temporary every batch (``lr * (x.T @ d)``)
    costs more than the matrix product that fills it, so every step writes
    into these instead (``out=``) and updates the weights in place.
    """

    def __init__(self, n, hidden):
        self.rows = np.arange(n)
        self.hidden = np.empty((n, hidden))
        self.slope = np.empty((n, hidden))          # sigmoid'(z) = h (1 - h)
        self.d_hidden = np.empty((n, hidden))
        self.logits = np.empty((n, OUTPUTS))
        self.probs = np.empty((n, OUTPUTS))
        self.grad_w_hidden = np.empty((INPUTS, hidden))
        self.grad_w_output = np.empty((hidden, OUTPUTS))


def train_batch(params, work, images, labels, idx, step):
    """One SGD step on the samples ``idx``; updates params in place.

    ``step`` is lr / n: gradients are summed over the batch and the step uses
    their average. Returns the summed cross-entropy and the number of correct
    predictions of the forward pass, i.e. measured before the update.
    """
    w_hidden, b_hidden, w_output, b_output = params
    h, z, p, rows = work.hidden, work.logits, work.probs, work.rows
    x = images[idx]  # faster than np.take(..., out=) into a kept buffer (NumPy 2.x: 25 vs 34 µs)
    y = labels[idx]

    # Forward: h = sigmoid(x W1 + b1), p = softmax(h W2 + b2).
    np.matmul(x, w_hidden, out=h)
    h += b_hidden
    np.negative(h, out=h)
    np.exp(h, out=h)
    h += 1.0
    np.reciprocal(h, out=h)
    np.matmul(h, w_output, out=z)
    z += b_output
    z -= z.max(axis=1, keepdims=True)  # avoid overflow in exp
    np.exp(z, out=p)
    sum_exp = p.sum(axis=1, keepdims=True)
    p /= sum_exp
    # Cross-entropy of a sample: -log p_y = log(sum exp) - z_y (stable: no log of a tiny p).
    loss_sum = np.log(sum_exp).sum() - z[rows, y].sum()
    correct = np.count_nonzero(p.argmax(axis=1) == y)

    # Backward. For softmax + cross-entropy, dL/dlogits = p - onehot(y); scaling it
    # by the step once makes every gradient below a step already.
    p[rows, y] -= 1.0
    p *= step
    d_hidden, slope = work.d_hidden, work.slope
    np.matmul(p, w_output.T, out=d_hidden)
    np.subtract(1.0, h, out=slope)
    slope *= h
    d_hidden *= slope

    w_output -= np.matmul(h.T, p, out=work.grad_w_output)
    b_output -= p.sum(axis=0)
    w_hidden -= np.matmul(x.T, d_hidden, out=work.grad_w_hidden)
    b_hidden -= d_hidden.sum(axis=0)
    return loss_sum, correct


def train(params, images, labels, rng, epochs, batch, lr):
    """Run the training loop, printing one line per epoch; returns epoch stats."""
    count = len(labels)
    hidden = len(params[1])
    full = Batch(batch, hidden)
    last = count % batch
    tail = Batch(last, hidden) if last else None
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(count)
        loss_total = 0.0
        correct_total = 0
        for start in range(0, count - last, batch):
            loss_sum, correct = train_batch(params, full, images, labels, order[start:start + batch], lr / batch)
            loss_total += loss_sum
            correct_total += correct
        if tail is not None:
            loss_sum, correct = train_batch(params, tail, images, labels, order[count - last:], lr / last)
            loss_total += loss_sum
            correct_total += correct
        loss = loss_total / count
        accuracy = 100.0 * correct_total / count
        history.append({"loss": loss, "accuracy": accuracy})
        print(f"Epoch {epoch}/{epochs} | Loss: {loss:.4f} | Accuracy: {accuracy:.2f}%", flush=True)
    return history


def evaluate(params, images, labels):
    """Return (correct, total, per-digit [(correct, total)] ) on a dataset."""
    predictions = forward(params, images).argmax(axis=1)
    hits = predictions == labels
    per_digit = []
    for digit in range(OUTPUTS):
        mask = labels == digit
        per_digit.append((int(hits[mask].sum()), int(mask.sum())))
    return int(hits.sum()), len(labels), per_digit


def print_test_results(correct, total, per_digit):
    print("--- Test Results ---")
    print(f"Overall accuracy: {100.0 * correct / total:.2f}% ({correct}/{total})")
    print("Per-digit accuracy:")
    for digit, (hit, seen) in enumerate(per_digit):
        pct = 100.0 * hit / seen if seen else 0.0
        print(f"{digit}: {pct:.2f}%")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main(argv):
    args = parse_args(argv)

    # Thread settings must be in the environment before numpy loads its BLAS.
    if args.threads is not None:
        for var in THREAD_ENV_VARS:
            os.environ[var] = str(args.threads)
    use_numpy()

    # Fail before a long run, not after it, if the JSON cannot be written.
    if args.json is not None:
        json_dir = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(json_dir):
            raise DataError(f"cannot write {args.json}: directory {json_dir} does not exist")

    print("=== mnistlearn NumPy reference — MNIST ===", flush=True)
    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")
    if args.limit is not None:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]

    rng = np.random.default_rng(args.seed)
    params = init_params(rng, args.hidden)

    print(f"Training {INPUTS}-{args.hidden}-{OUTPUTS} network...", flush=True)
    started = time.perf_counter()
    history = train(params, train_x, train_y, rng, args.epochs, args.batch, args.lr)
    train_seconds = time.perf_counter() - started

    correct, total, per_digit = evaluate(params, test_x, test_y)
    print_test_results(correct, total, per_digit)
    print(f"Training time: {train_seconds:.1f} s")

    if args.json is not None:
        report = {
            "implementation": "numpy-reference",
            "hidden": args.hidden,
            "batch": args.batch,
            "lr": args.lr,
            "seed": args.seed,
            "train_samples": len(train_y),
            "train_seconds": train_seconds,
            "test_accuracy": 100.0 * correct / total,
            "test_correct": correct,
            "test_total": total,
            "epochs": history,
        }
        try:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        except OSError as e:
            raise DataError(f"cannot write {args.json}: {e.strerror or e}")
    return 0


if __name__ == "__main__":
    # The banner contains an em dash; do not crash on an ASCII-only stdout.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    try:
        sys.exit(main(sys.argv[1:]))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
