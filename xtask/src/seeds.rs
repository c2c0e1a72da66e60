//! `cargo xtask seeds [S …]` (default 1 2 3 4 5): the default recipe under several seeds, as a
//! Markdown table — the README's and the book's seed table come from here.

use std::process::Command;

use crate::fetch::{self, FetchOptions};
use crate::util::{build_release, parse_epochs, parse_overall, run_echo};

pub fn run(args: &[String]) -> Result<(), String> {
    let seeds: Vec<u64> = if args.is_empty() {
        (1..=5).collect()
    } else {
        args.iter()
            .map(|a| {
                a.parse().map_err(|_| {
                    format!("seeds: '{a}' is not a seed (expected whole numbers; see `cargo xtask seeds --help`)")
                })
            })
            .collect::<Result<_, _>>()?
    };
    let root = crate::paths::project_root();
    let data = root.join("data");
    fetch::fetch(&FetchOptions::parse(&[])?)?;
    let bin = build_release()?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for seed in &seeds {
        let out = root.join(format!("target/seeds/weights-{seed}.bin"));
        let mut cmd = Command::new(&bin);
        cmd.arg("train").arg("--data").arg(&data).arg("--out").arg(&out).arg("--seed").arg(seed.to_string());
        let lines = run_echo(cmd, "mnistlearn train")?;
        let epochs = parse_epochs(&lines);
        let (first, last) = (epochs.first().copied().unwrap_or_default(), epochs.last().copied().unwrap_or_default());
        let (test, correct, total) = parse_overall(&lines).ok_or("seeds: no 'Overall accuracy' line")?;
        if test < 96.3 {
            failures.push(format!("seed {seed}: test accuracy {test}% is below 96.3%"));
        }
        rows.push(format!(
            "| {seed} | {:.2}% | {:.4} | {:.2}% | {test:.2}% ({correct}/{total}) |",
            first.1, last.0, last.1
        ));
    }
    println!("\n| seed | epoch 1 train acc. | epoch 30 loss | epoch 30 train acc. | test accuracy |");
    println!("|---|---|---|---|---|");
    rows.iter().for_each(|r| println!("{r}"));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}
