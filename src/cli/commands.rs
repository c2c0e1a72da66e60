//! The command table: every command and every flag, declared once. The parser ([`super::args`])
//! accepts exactly the flags a command declares and the help ([`super::help`]) is generated from
//! the same rows, so the help cannot drift from what is parsed.

use super::args::Args;
use super::{figures, predict, serve, test, time_forward, time_phases, train};
use crate::Error;

// ANCHOR: flag_table
/// One flag of one command, as the parser accepts it and the help shows it.
pub struct Flag {
    /// `--name`, with the two dashes.
    pub name: &'static str,
    /// The placeholder of its value (`DIR`, `N`…), or `None` for a switch that takes no value.
    pub value: Option<&'static str>,
    /// What the flag does, including its default; one line.
    pub help: &'static str,
}

/// One subcommand: its name, the positional arguments it takes, what it does, its flags.
pub struct Command {
    pub name: &'static str,
    /// Positional arguments as shown in the synopsis (e.g. `IMAGE...`), or `None` if it takes none.
    pub positional: Option<&'static str>,
    /// One line for the overview.
    pub summary: &'static str,
    /// More lines for the command's own `--help`.
    pub details: &'static str,
    pub flags: &'static [Flag],
    pub run: fn(&Args) -> Result<(), Error>,
}

const DATA: Flag = Flag {
    name: "--data",
    value: Some("DIR"),
    help: "directory holding the four MNIST files, raw or .gz [default: data]",
};
const WEIGHTS: Flag =
    Flag { name: "--weights", value: Some("FILE"), help: "weights file to load [default: data/weights.bin]" };
const THREADS: Flag = Flag {
    name: "--threads",
    value: Some("N"),
    help: "worker threads, 1-256 [default: number of CPUs]; never changes a bit of the result",
};
const SIMD: Flag = Flag {
    name: "--simd",
    value: Some("LEVEL"),
    help: "auto, scalar, sse2, avx2, avx512 (x86-64) or neon (aarch64); simd128 is the browser trainer's (wasm32) [default: auto, or $MNISTLEARN_SIMD]; never changes a bit of the result",
};

/// Every command, in the order the overview lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "train",
        positional: None,
        summary: "train the network on MNIST, save the weights, then test them",
        details: "Prints the original's log (one line per epoch), saves the weights atomically, then prints\n\
                  the test-set report. The same seed gives the same log and the same weights bytes on any\n\
                  --threads and --simd.\n\
                  \n\
                  --out is checked before training: a directory, FIFO or device there is an error, and\n\
                  so is a directory that cannot be created or written. A symbolic link at --out is\n\
                  replaced by the new file, like `mv` does; the file it pointed to is never written.",
        flags: &[
            DATA,
            Flag {
                name: "--out",
                value: Some("FILE"),
                help: "where to save the weights, checked before training [default: data/weights.bin]",
            },
            Flag { name: "--epochs", value: Some("N"), help: "passes over the training set, 1-10000 [default: 30]" },
            Flag { name: "--batch", value: Some("N"), help: "mini-batch size, 1-65536 [default: 32]" },
            Flag { name: "--lr", value: Some("RATE"), help: "learning rate, a positive number [default: 0.1]" },
            Flag { name: "--hidden", value: Some("N"), help: "hidden units, 1-4096 [default: 32]" },
            Flag {
                name: "--seed",
                value: Some("N"),
                help: "seed of the initial weights and the shuffles, a u64 [default: 1]",
            },
            THREADS,
            Flag {
                name: "--limit",
                value: Some("N"),
                help: "train on the first N training images only (N larger than the set uses the whole set) [default: the whole set]",
            },
            SIMD,
            Flag {
                name: "--log",
                value: Some("FILE"),
                help: "also write one JSON line per epoch: loss, train and test accuracy, elapsed seconds, seed, SIMD level, threads",
            },
        ],
        run: train::run_train,
    },
    Command {
        name: "test",
        positional: None,
        summary: "report a weights file's accuracy on the MNIST test set",
        details: "Prints the overall accuracy and the accuracy per digit; on request, the confusion matrix\n\
                  and the misclassified images.",
        flags: &[
            DATA,
            WEIGHTS,
            THREADS,
            SIMD,
            Flag {
                name: "--confusion",
                value: None,
                help: "also print the 10x10 confusion matrix (rows: true digit, columns: predicted)",
            },
            Flag {
                name: "--errors",
                value: Some("DIR"),
                help: "write each misclassified test image to DIR as INDEX-trueT-predP.png (DIR: new or empty)",
            },
        ],
        run: test::run_test,
    },
    Command {
        name: "serve",
        positional: None,
        summary: "serve the drawing app and the training page: draw a digit, or watch the network learn",
        details: "Loads the weights once, then answers GET / (the drawing page), POST /strokes (the\n\
                  page's pen strokes as JSON, drawn as MNIST's digits were made, then classified),\n\
                  POST /classify?width=W&height=H (a whole canvas, preprocessed as MNIST was, as\n\
                  `predict` does), POST /predict (784 raw pixel bytes in, JSON out) and\n\
                  GET /hidden-weights. GET /train is the training page: the browser trains in\n\
                  WebAssembly on the MNIST files of --data, sent as they are; the server does no training.\n\
                  Ctrl-C stops it gracefully. A connection that overstays\n\
                  a timeout is closed, and so is a body arriving slower than 8 KiB/s after 2 s; at the\n\
                  connection cap, idle and slow connections are closed to make room, never one that is\n\
                  being answered. Only requests whose Host names this server are answered (the bound\n\
                  address, localhost, 127.0.0.1, [::1], or --allow-host), and a browser's POST only from\n\
                  the page's own origin: other web sites cannot use the server through your browser.",
        flags: &[
            Flag { name: "--addr", value: Some("HOST:PORT"), help: "address to listen on [default: 127.0.0.1:8080]" },
            WEIGHTS,
            Flag {
                name: "--data",
                value: Some("DIR"),
                help: "directory of the MNIST .gz files the training page downloads [default: data]",
            },
            SIMD,
            Flag {
                name: "--header-timeout",
                value: Some("SECS"),
                help: "time to send a request's head, from connecting or its first byte [default: 5]",
            },
            Flag {
                name: "--body-timeout",
                value: Some("SECS"),
                help: "time to send a request's body once its head is in [default: 10]",
            },
            Flag {
                name: "--idle-timeout",
                value: Some("SECS"),
                help: "time a keep-alive connection may wait for its next request [default: 30]",
            },
            Flag {
                name: "--max-connections",
                value: Some("N"),
                help: "connections served at once, 1-65536 [default: 512, below the usual 1024 open files]",
            },
            Flag {
                name: "--allow-host",
                value: Some("NAMES"),
                help: "more host names to answer to, comma-separated (e.g. this machine's name on the LAN)",
            },
        ],
        run: serve::run_serve,
    },
    Command {
        name: "predict",
        positional: Some("IMAGE..."),
        summary: "read digits from image files (PNG or PGM), any size, either polarity",
        details: "Each image is prepared as MNIST's digits were: the paper found from the border (dark ink on\n\
                  light paper is inverted), cropped to the ink, scaled to fit 20×20 keeping its aspect ratio,\n\
                  and placed in 28×28 by its centre of mass. Prints one line per image, 'PATH: D (P%)', or\n\
                  'PATH: no digit' for an image without ink. PNG: grey, RGB, RGBA, palette, 1-16 bits; PGM:\n\
                  P5 and P2. Images up to 4096×4096 pixels. An unreadable image is reported on stderr after\n\
                  the others are answered, and the exit code is then 1.",
        flags: &[
            WEIGHTS,
            Flag {
                name: "--json",
                value: None,
                help: "print one JSON array of {\"path\", \"digit\", \"probabilities\"} instead",
            },
            Flag {
                name: "--show",
                value: None,
                help: "also show the 28×28 the network saw: ASCII art under each line (with --json: a \"seen\" array)",
            },
            SIMD,
        ],
        run: predict::run_predict,
    },
    Command {
        name: "figures",
        positional: None,
        summary: "draw a run's figures as SVG: training curves, hidden units, confusion, mistakes",
        details: "Evaluates the weights on the test set and writes into --out: network.svg (the network\n\
                  reading a test image), hidden-units.svg (each hidden unit's 784 weights as an image, for\n\
                  any number of units), confusion.svg (the confusion heat map), misclassified.svg (the most\n\
                  confident mistakes) and, given --log (from `train --log`), training-curves.svg. Each file\n\
                  is written whole or not at all; the same inputs give the same bytes on any machine.",
        flags: &[
            Flag { name: "--weights", value: Some("FILE"), help: "the weights of the run to draw (required)" },
            Flag {
                name: "--log",
                value: Some("FILE"),
                help: "the run's `train --log` file; without it, no training curves",
            },
            DATA,
            Flag { name: "--out", value: Some("DIR"), help: "directory to write the SVG files into (required)" },
            THREADS,
            SIMD,
        ],
        run: figures::run_figures,
    },
    Command {
        name: "time-forward",
        positional: None,
        summary: "time the bare forward pass over the test set (used by `cargo xtask bench`)",
        details: "One thread, one sample at a time, from raw bytes to probabilities, as the server runs it;\n\
                  prints the best per-sample time over the repeats.",
        flags: &[
            DATA,
            WEIGHTS,
            Flag {
                name: "--repeat",
                value: Some("N"),
                help: "passes over the test set, best one reported, 1-1000 [default: 5]",
            },
            SIMD,
        ],
        run: time_forward::run_time_forward,
    },
    Command {
        name: "time-phases",
        positional: None,
        summary: "train with a clock on each phase of every batch (used by `cargo xtask bench`)",
        details: "Runs the trainer as `train` does (the default recipe; --epochs, --hidden, --threads and\n\
                  --simd as given), timing each thread's hidden sums, output and deltas, gradients and steps,\n\
                  and waits, and prints one JSON object: cycles per batch for each phase (time-stamp counter\n\
                  cycles on x86-64, nanoseconds elsewhere) beside a floor counted from the run's work,\n\
                  what each thread's waiting waited for, and how often each thread's band of pixel rows\n\
                  moved and where it ended. Saves nothing.",
        flags: &[
            DATA,
            Flag { name: "--epochs", value: Some("N"), help: "passes over the training set, 1-10000 [default: 3]" },
            Flag { name: "--hidden", value: Some("N"), help: "hidden units, 1-4096 [default: 32]" },
            THREADS,
            SIMD,
        ],
        run: time_phases::run_time_phases,
    },
];
// ANCHOR_END: flag_table
