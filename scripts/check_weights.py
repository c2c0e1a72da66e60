#!/usr/bin/env python3
"""Independent checker for a mnistlearn weights.bin file.

This script knows nothing about the Rust code; it relies only on the
documented weights.bin layout:

    raw little-endian float64 values, in this order
        w_hidden   H rows of 784  (row-major, one row per hidden unit)
        b_hidden   H
        w_output   10 rows of H   (row-major, one row per output unit)
        b_output   10
    total size: 8 * (795*H + 10) bytes   (203,600 bytes for H = 32)

H is inferred from the file size; any other size is rejected. The weights
are then evaluated on the MNIST test set (t10k) with plain NumPy
(sigmoid hidden layer, softmax output), and the result is printed in the
same format as the training binary:

    Overall accuracy: 96.52% (9652/10000)
    Per-digit accuracy:
    0: 98.98%
    ...

Usage:
    python3 scripts/check_weights.py --weights FILE [--data DIR]

Any bad input (missing / wrongly sized weights, missing or malformed MNIST
files, non-finite weights) ends the script with a one-line error message on
stderr and exit status 1.
"""

import argparse
import os
import sys

from reference_numpy import DataError, load_split, print_test_results, use_numpy

np = use_numpy()

INPUTS = 28 * 28
OUTPUTS = 10
FLOAT_BYTES = 8

# Per hidden unit: 784 input weights, 1 bias, 10 output weights.
PER_HIDDEN = INPUTS + 1 + OUTPUTS  # 795



class CheckError(Exception):
    """A bad input, reported as a one-line message."""


# ---------------------------------------------------------------------------
# weights.bin
# ---------------------------------------------------------------------------

def hidden_size_from_bytes(size):
    """Infer H from the file size 8*(795*H + 10), or raise CheckError."""
    expected_for_32 = FLOAT_BYTES * (PER_HIDDEN * 32 + OUTPUTS)
    floats, remainder = divmod(size, FLOAT_BYTES)
    hidden, leftover = divmod(floats - OUTPUTS, PER_HIDDEN) if floats > OUTPUTS else (0, 1)
    if remainder or leftover or hidden < 1:
        raise CheckError(
            f"weights file has {size} bytes, which is not 8*(795*H+10) for any H >= 1 "
            f"(expected {expected_for_32} for H=32)")
    return hidden


def load_weights(path):
    """Read weights.bin and split it into (w_hidden, b_hidden, w_output, b_output)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckError(f"cannot read weights file {path}: {e.strerror or e}")
    hidden = hidden_size_from_bytes(len(raw))
    values = np.frombuffer(raw, dtype="<f8")  # explicit little-endian float64

    # Walk through the flat array in the documented order.
    sections = (
        ("w_hidden", (hidden, INPUTS)),
        ("b_hidden", (hidden,)),
        ("w_output", (OUTPUTS, hidden)),
        ("b_output", (OUTPUTS,)),
    )
    params = []
    offset = 0
    for name, shape in sections:
        count = int(np.prod(shape))
        block = values[offset:offset + count].reshape(shape).astype(np.float64)
        if not np.all(np.isfinite(block)):
            raise CheckError(f"{path}: {name} contains NaN or infinite values")
        params.append(block)
        offset += count
    assert offset == len(values)
    return hidden, tuple(params)


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def predict(params, images):
    """Forward pass: sigmoid hidden layer, softmax output; returns argmax digits."""
    w_hidden, b_hidden, w_output, b_output = params
    hidden = 1.0 / (1.0 + np.exp(-(images @ w_hidden.T + b_hidden)))
    logits = hidden @ w_output.T + b_output
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    return probs.argmax(axis=1)


def main(argv):
    parser = argparse.ArgumentParser(
        description="Evaluate a mnistlearn weights.bin on the MNIST test set.")
    parser.add_argument("--weights", required=True, metavar="FILE",
                        help="weights.bin written by mnistlearn")
    parser.add_argument("--data", default="data", metavar="DIR",
                        help="directory holding the MNIST IDX files, raw or .gz (default: data)")
    args = parser.parse_args(argv)

    _hidden, params = load_weights(args.weights)
    # The IDX reader is the reference's: this script's independence is about weights.bin.
    try:
        images, labels = load_split(args.data, "t10k")
    except DataError as e:
        raise CheckError(str(e))

    with np.errstate(over="ignore"):  # exp overflow in sigmoid saturates to 0, harmlessly
        hits = predict(params, images) == labels
    correct, total = int(hits.sum()), len(labels)

    per_digit = [(int(hits[labels == d].sum()), int((labels == d).sum())) for d in range(OUTPUTS)]
    print_test_results(correct, total, per_digit)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except CheckError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # last resort: still one line, no traceback
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
