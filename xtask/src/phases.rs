//! The per-phase profile on the measurements page: `mnistlearn time-phases` prints one JSON object
//! (cycles per batch of each phase of a training step, beside the floor that phase could reach);
//! this reads it and renders it as a Markdown table. The phases are whatever the JSON lists, in
//! its order: the trainer decides how it splits a batch, the page only shows it.

use serde_json::Value;

/// One `mnistlearn time-phases` run.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub hidden: u64,
    pub threads: u64,
    pub simd: String,
    pub epochs: u64,
    pub batches: u64,
    pub train_seconds: f64,
    /// The time-stamp counter's rate, in GHz: what turns the cycles back into seconds.
    pub tsc_ghz: f64,
    /// The cores' clock `time-phases` measured, in GHz (x86-64 only): the floors are counted in
    /// core cycles and converted to counter cycles at this rate.
    pub core_ghz: Option<f64>,
    pub phases: Vec<Phase>,
}

/// One phase of a training step.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub cycles_per_batch: f64,
    /// `None` when the JSON gives no floor (null or absent) for this phase.
    pub floor_cycles_per_batch: Option<f64>,
    /// How the floor is counted, in words.
    pub floor: String,
    /// Each thread's cycles per batch, thread 0 first (empty when the JSON gives none).
    pub per_thread: Vec<f64>,
}

impl Profile {
    /// The whole batch in counter cycles, by the training loop's own clock (set-up excluded, as
    /// `train` reports it).
    pub fn batch_cycles(&self) -> f64 {
        self.train_seconds * self.tsc_ghz * 1e9 / self.batches.max(1) as f64
    }
}

/// Parses `time-phases`' stdout. Errors name the field that was missing or of the wrong type.
pub fn parse(text: &str) -> Result<Profile, String> {
    let value: Value = serde_json::from_str(text.trim()).map_err(|e| format!("time-phases: not JSON ({e})"))?;
    let uint = |key: &str| value[key].as_u64().ok_or_else(|| format!("time-phases: no unsigned integer \"{key}\""));
    let float = |v: &Value, key: &str| {
        v[key].as_f64().filter(|x| x.is_finite()).ok_or_else(|| format!("time-phases: no finite number \"{key}\""))
    };
    let list = value["phases"].as_array().ok_or("time-phases: no \"phases\" list")?;
    let mut phases = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let name = p["phase"].as_str().ok_or_else(|| format!("time-phases: phase {i} has no \"phase\" name"))?;
        let cycles = float(p, "cycles_per_batch").map_err(|e| format!("{e} in phase '{name}'"))?;
        let floor_cycles = match &p["floor_cycles_per_batch"] {
            Value::Null => None,
            v => Some(v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                format!("time-phases: \"floor_cycles_per_batch\" of phase '{name}' is not a finite number")
            })?),
        };
        let per_thread = match &p["per_thread"] {
            Value::Null => Vec::new(),
            Value::Array(values) => values
                .iter()
                .map(|v| v.as_f64().filter(|x| x.is_finite()))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| {
                    format!("time-phases: \"per_thread\" of phase '{name}' holds a value that is not a finite number")
                })?,
            _ => return Err(format!("time-phases: \"per_thread\" of phase '{name}' is not a list")),
        };
        phases.push(Phase {
            name: name.to_string(),
            cycles_per_batch: cycles,
            floor_cycles_per_batch: floor_cycles,
            floor: p["floor"].as_str().unwrap_or("").to_string(),
            per_thread,
        });
    }
    Ok(Profile {
        hidden: uint("hidden")?,
        threads: uint("threads")?,
        simd: value["simd"].as_str().ok_or("time-phases: no \"simd\" string")?.to_string(),
        epochs: uint("epochs")?,
        batches: uint("batches")?,
        train_seconds: float(&value, "train_seconds")?,
        tsc_ghz: float(&value, "tsc_ghz")?,
        core_ghz: value["core_ghz"].as_f64().filter(|x| x.is_finite() && *x > 0.0),
        phases,
    })
}

/// The profile as a Markdown section: a heading, what the cycles are, and the table
/// (phase | cycles per batch | floor | × floor | how the floor is counted), closed by the whole
/// batch's cycles as the training loop's own clock saw them (set-up excluded, as `train` reports).
pub fn render(p: &Profile) -> String {
    let mut out = format!(
        "### h = {}: {} epoch{}, {} batches, {} threads, {}\n\n",
        p.hidden,
        p.epochs,
        if p.epochs == 1 { "" } else { "s" },
        group(p.batches as f64),
        p.threads,
        p.simd
    );
    // `time-phases` counts the time-stamp counter on x86-64 and nanoseconds elsewhere.
    let clock = if cfg!(target_arch = "x86_64") {
        "TSC cycles (the time-stamp counter, which ticks at a constant"
    } else {
        "ticks of the clock (here it ticks at"
    };
    out += &format!(
        "Cycles are {clock} {:.2} GHz on this machine whatever the cores' clock) per batch, so a phase's seconds \
         are its cycles ÷ {:.2}·10⁹; × floor is how many times its floor the phase takes.\n\n",
        p.tsc_ghz, p.tsc_ghz
    );
    if let Some(core) = p.core_ghz {
        out += &format!(
            "The floors are counted in core cycles (what one core issues per cycle: two 512-bit or three \
             256-bit multiplies or adds, 64 bytes from L2) and converted at the cores' clock, measured \
             beside the counter: {core:.2} GHz.\n\n"
        );
    }
    // With more than one thread, each thread's own cycles too: the pipeline's stages and the
    // waits they cause are not the same for every thread, and the mean hides that.
    let by_thread = p.phases.iter().any(|phase| phase.per_thread.len() > 1);
    let threads = if by_thread {
        let ids: Vec<String> =
            (0..p.phases.iter().map(|x| x.per_thread.len()).max().unwrap_or(0)).map(|t| t.to_string()).collect();
        format!(" threads {} |", ids.join(" / "))
    } else {
        String::new()
    };
    out += &format!(
        "| phase | cycles per batch |{threads} floor | × floor | how the floor is counted |\n|---|--:|{}--:|--:|---|\n",
        if by_thread { "--:|" } else { "" }
    );
    for phase in &p.phases {
        let (floor, times) = match phase.floor_cycles_per_batch {
            Some(f) if f > 0.0 => (group(f), format!("{:.1}×", phase.cycles_per_batch / f)),
            Some(f) => (group(f), "—".to_string()),
            None => ("—".to_string(), "—".to_string()),
        };
        let own = if by_thread {
            format!(" {} |", phase.per_thread.iter().map(|&c| group(c)).collect::<Vec<_>>().join(" / "))
        } else {
            String::new()
        };
        out += &format!(
            "| {} | {} |{own} {floor} | {times} | {} |\n",
            cell(&phase.name),
            group(phase.cycles_per_batch),
            cell(&phase.floor)
        );
    }
    if p.batches > 0 {
        let whole = p.batch_cycles();
        out += &format!(
            "| whole batch, by the training loop's clock | {} |{} | | training {:.3} s × {:.2} GHz ÷ {} batches |\n",
            group(whole),
            if by_thread { " |" } else { "" },
            p.train_seconds,
            p.tsc_ghz,
            group(p.batches as f64)
        );
    }
    out
}

/// The team against one thread, as a Markdown section: `pairs` are alternated runs of the same
/// width, one thread first in each pair. For each phase, one thread's cycles per batch and the
/// team's cycles added over all its threads (medians of the runs), and the median of the per-pair
/// ratios of the two: with nothing lost to dividing the work the two would be equal, so the
/// difference is what the division costs (hand-overs between the cores, the pipeline's start
/// and end, waits). Closed by the whole batch by the training loop's clock, the team's speed-up
/// (median of the per-pair ratios) and what a perfect division would take: one thread's batch
/// over the team's size. Empty without a pair.
pub fn render_scaling(pairs: &[(Profile, Profile)]) -> String {
    let Some((_, team)) = pairs.first() else { return String::new() };
    let all_threads = |p: &Profile, name: &str| {
        p.phases.iter().find(|x| x.name == name).map(|x| {
            if x.per_thread.is_empty() {
                x.cycles_per_batch * p.threads as f64
            } else {
                x.per_thread.iter().sum()
            }
        })
    };
    let n = pairs.len();
    let mut out = format!(
        "### {} threads against one: h = {}, {} epoch{}, {} alternated pair{}\n\n",
        team.threads,
        team.hidden,
        team.epochs,
        if team.epochs == 1 { "" } else { "s" },
        n,
        if n == 1 { "" } else { "s" }
    );
    out += &format!(
        "`time-phases` on 1 thread and on {t}, alternated (1 thread first in each pair), in the cycles above: each \
         column the median of its runs, each ratio the median of the per-pair ratios (the pairs' own in brackets). \
         The {t}-thread column adds up every thread's cycles: were nothing lost to dividing the \
         work, it would equal the 1-thread column, so the difference is what the division costs — hand-overs \
         between the cores, the pipeline's start and end, waits.\n\n",
        t = team.threads
    );
    out += &format!(
        "| phase | 1 thread, cycles per batch | {t} threads, all threads' cycles per batch | {t} against 1 |\n|---|--:|--:|--:|\n",
        t = team.threads
    );
    for phase in &team.phases {
        let solo: Vec<f64> = pairs.iter().filter_map(|(o, _)| all_threads(o, &phase.name)).collect();
        let together: Vec<f64> = pairs.iter().filter_map(|(_, t)| all_threads(t, &phase.name)).collect();
        if solo.len() != n || together.len() != n {
            continue;
        }
        // Pair by pair, as the speed-ups above: a load that came and went fell on both runs of a
        // pair, not on both columns' medians. A phase one thread hardly spends time in (its
        // waits) has no meaningful ratio.
        let meaningful = pairs.iter().zip(&solo).all(|((o, _), &s)| s >= 0.01 * o.batch_cycles());
        let ratio = if meaningful {
            let more: Vec<f64> = solo.iter().zip(&together).map(|(s, t)| t / s - 1.0).collect();
            crate::pairs::with_runs(&more, |x| format!("{:+.0}%", 100.0 * x))
        } else {
            "—".into()
        };
        let (solo, together) = (crate::pairs::median(&solo), crate::pairs::median(&together));
        out += &format!("| {} | {} | {} | {ratio} |\n", cell(&phase.name), group(solo), group(together));
    }
    let solo: Vec<f64> = pairs.iter().map(|(o, _)| o.batch_cycles()).collect();
    let together: Vec<f64> = pairs.iter().map(|(_, t)| t.batch_cycles()).collect();
    let speedup: Vec<f64> = solo.iter().zip(&together).map(|(o, t)| o / t).collect();
    let perfect = crate::pairs::median(&solo) / team.threads as f64;
    out += &format!(
        "| whole batch, by the training loop's clock (not added up) | {} | {} | {} as fast; a perfect division: {} ({}×) |\n",
        group(crate::pairs::median(&solo)),
        group(crate::pairs::median(&together)),
        crate::pairs::with_runs(&speedup, |x| format!("{x:.2}×")),
        group(perfect),
        team.threads
    );
    out
}

/// A table cell: no line breaks, and a `|` that would end the cell escaped.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// A count rounded to a whole number, thousands grouped with commas: `1234567.4` → `1,234,567`.
fn group(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"hidden":32,"threads":2,"simd":"avx2","epochs":3,"batches":5625,"train_seconds":0.5,
        "tsc_ghz":2.6,"phases":[
          {"phase":"hidden sums","cycles_per_batch":12345.0,"floor_cycles_per_batch":5000.0,"floor":"FLOPs ÷ 16/cycle"},
          {"phase":"barriers | waits","cycles_per_batch":800.4,"floor_cycles_per_batch":0.0,"floor":"none:\nideally zero"},
          {"phase":"output","cycles_per_batch":1500,"floor_cycles_per_batch":null,"floor":"","extra":1}]}"#;

    #[test]
    fn parses_every_phase_in_order() {
        let p = parse(SAMPLE).unwrap();
        assert_eq!((p.hidden, p.threads, p.simd.as_str(), p.epochs, p.batches), (32, 2, "avx2", 3, 5625));
        assert_eq!((p.train_seconds, p.tsc_ghz), (0.5, 2.6));
        let names: Vec<&str> = p.phases.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["hidden sums", "barriers | waits", "output"]);
        assert_eq!(p.phases[0].floor_cycles_per_batch, Some(5000.0));
        assert_eq!(p.phases[2].cycles_per_batch, 1500.0);
        assert_eq!(p.phases[2].floor_cycles_per_batch, None);
    }

    #[test]
    fn errors_name_the_missing_field() {
        let missing_ghz = SAMPLE.replace("\"tsc_ghz\":2.6,", "");
        assert!(parse(&missing_ghz).unwrap_err().contains("\"tsc_ghz\""));
        let bad_cycles = SAMPLE.replace("\"cycles_per_batch\":1500", "\"cycles_per_batch\":\"many\"");
        let e = parse(&bad_cycles).unwrap_err();
        assert!(e.contains("cycles_per_batch") && e.contains("'output'"), "{e}");
        let bad_floor = SAMPLE.replace("\"floor_cycles_per_batch\":5000.0", "\"floor_cycles_per_batch\":\"x\"");
        assert!(parse(&bad_floor).unwrap_err().contains("'hidden sums'"));
        assert!(parse("Usage: mnistlearn").unwrap_err().contains("not JSON"));
        assert!(parse(r#"{"hidden":32}"#).unwrap_err().contains("phases"));
    }

    #[test]
    fn renders_one_row_per_phase_with_its_ratio_to_the_floor() {
        let page = render(&parse(SAMPLE).unwrap());
        assert!(page.contains("constant 2.60 GHz"), "{page}");
        assert!(page.contains("| hidden sums | 12,345 | 5,000 | 2.5× | FLOPs ÷ 16/cycle |"), "{page}");
        // A '|' in a name is escaped and a line break in the text folded, so the table keeps its columns.
        assert!(page.contains("| barriers \\| waits | 800 | 0 | — | none: ideally zero |"), "{page}");
        assert!(page.contains("| output | 1,500 | — | — |  |"), "{page}");
        // 0.5 s × 2.6e9 / 5625 = 231,111 cycles for the whole batch.
        assert!(page.contains("| whole batch, by the training loop's clock | 231,111 |"), "{page}");
        let rows = page.lines().filter(|l| l.starts_with("| ")).count();
        assert_eq!(rows, 1 + 3 + 1, "{page}");
    }

    #[test]
    fn shows_each_threads_cycles_when_there_are_several() {
        let with_threads = SAMPLE
            .replace("\"cycles_per_batch\":12345.0,", "\"cycles_per_batch\":12345.0,\"per_thread\":[10000,14690],")
            .replace("\"cycles_per_batch\":800.4,", "\"cycles_per_batch\":800.4,\"per_thread\":[1600.8,0],");
        let p = parse(&with_threads).unwrap();
        assert_eq!(p.phases[0].per_thread, [10000.0, 14690.0]);
        assert!(p.phases[2].per_thread.is_empty());
        let page = render(&p);
        assert!(page.contains("| phase | cycles per batch | threads 0 / 1 | floor |"), "{page}");
        assert!(page.contains("| hidden sums | 12,345 | 10,000 / 14,690 | 5,000 | 2.5× |"), "{page}");
        assert!(page.contains("| output | 1,500 |  | — | — |"), "{page}");
        assert!(page.contains("| whole batch, by the training loop's clock | 231,111 | | | |"), "{page}");
        // Every row of the table has the same number of cells (an escaped '|' is not a border).
        let borders: Vec<usize> =
            page.lines().filter(|l| l.starts_with('|')).map(|l| l.replace("\\|", "").matches('|').count()).collect();
        assert!(borders.iter().all(|&b| b == 7), "{borders:?}\n{page}");
        let bad =
            SAMPLE.replace("\"cycles_per_batch\":12345.0,", "\"cycles_per_batch\":12345.0,\"per_thread\":[1,\"x\"],");
        assert!(parse(&bad).unwrap_err().contains("per_thread"));
    }

    #[test]
    fn names_the_core_clock_the_floors_were_converted_at_when_it_was_measured() {
        assert!(!render(&parse(SAMPLE).unwrap()).contains("cores' clock, measured"));
        let with_clock = SAMPLE.replace("\"tsc_ghz\":2.6,", "\"tsc_ghz\":2.6,\"core_ghz\":3.571,");
        let page = render(&parse(&with_clock).unwrap());
        assert!(page.contains("measured beside the counter: 3.57 GHz."), "{page}");
    }

    /// What `mnistlearn time-phases --epochs 1` printed (2 threads, AVX-512, a busy machine).
    const PRINTED: &str = concat!(
        r#"{"batches":1875,"epochs":1,"hidden":32,"lit_pixels_per_batch":4796.8832,"#,
        r#""phases":[{"cycles_per_batch":78656.81546666667,"#,
        r#""floor":"each lit pixel adds its row of H weights: 2·H·4797 flop (4797 cycles) or 8·H bytes from L2"#,
        r#" (19188 cycles),"#,
        r#" the larger","floor_cycles_per_batch":19187.5328,"phase":"hidden sums"},"#,
        r#"{"cycles_per_batch":21232.312533333334,"floor":"per sample,"#,
        r#" the output layer and its backprop: 2 × 2·10·H flop","floor_cycles_per_batch":640.0,"#,
        r#""phase":"output and deltas"},{"cycles_per_batch":100832.02613333333,"#,
        r#""floor":"the hidden gradient 2·H flop per lit pixel,"#,
        r#" the output gradient 2·10·H per sample (steps not counted)","floor_cycles_per_batch":5116.8832,"#,
        r#""phase":"gradients and steps"},{"cycles_per_batch":31702.864533333333,"#,
        r#""floor":"none: threads waiting for each other","floor_cycles_per_batch":0.0,"phase":"waiting"}],"#,
        r#""simd":"avx512","threads":2,"train_seconds":0.186916792,"tsc_ghz":2.5999950170249595}"#,
    );

    #[test]
    fn reads_what_time_phases_prints() {
        let p = parse(PRINTED).unwrap();
        assert_eq!((p.hidden, p.epochs, p.batches), (32, 1, 1875));
        let names: Vec<&str> = p.phases.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["hidden sums", "output and deltas", "gradients and steps", "waiting"]);
        let page = render(&p);
        assert!(page.contains("### h = 32: 1 epoch, 1,875 batches, 2 threads, avx512"), "{page}");
        assert!(page.contains("| hidden sums | 78,657 | 19,188 | 4.1× | each lit pixel"), "{page}");
    }

    #[test]
    fn scaling_adds_up_the_teams_threads_against_one_thread() {
        let profile = |threads: u64, seconds: f64, hidden: [f64; 2], waiting: [f64; 2]| Profile {
            hidden: 32,
            threads,
            simd: "avx512".into(),
            epochs: 1,
            batches: 1000,
            train_seconds: seconds,
            tsc_ghz: 2.0,
            core_ghz: None,
            phases: vec![
                Phase {
                    name: "hidden sums".into(),
                    cycles_per_batch: hidden.iter().sum::<f64>() / threads as f64,
                    floor_cycles_per_batch: None,
                    floor: String::new(),
                    per_thread: hidden[..threads as usize].to_vec(),
                },
                Phase {
                    name: "waiting".into(),
                    cycles_per_batch: 0.0,
                    floor_cycles_per_batch: None,
                    floor: String::new(),
                    per_thread: waiting[..threads as usize].to_vec(),
                },
            ],
        };
        // One thread: 50k of hidden sums a batch (100k whole); two: 30k + 32k, waiting 4k + 1k.
        let pairs = vec![
            (
                profile(1, 0.050, [50_000.0, 0.0], [100.0, 0.0]),
                profile(2, 0.030, [30_000.0, 32_000.0], [4_000.0, 1_000.0]),
            ),
            (
                profile(1, 0.060, [54_000.0, 0.0], [90.0, 0.0]),
                profile(2, 0.040, [33_000.0, 35_000.0], [6_000.0, 2_000.0]),
            ),
            (
                profile(1, 0.040, [46_000.0, 0.0], [80.0, 0.0]),
                profile(2, 0.024, [28_000.0, 29_000.0], [3_000.0, 1_000.0]),
            ),
        ];
        let page = render_scaling(&pairs);
        assert!(page.contains("### 2 threads against one: h = 32, 1 epoch, 3 alternated pairs"), "{page}");
        // Medians 50,000 against 62,000 (30k + 32k); pair by pair 62/50, 68/54, 57/46: +24%, +26%, +24%.
        assert!(page.contains("| hidden sums | 50,000 | 62,000 | +24% (+24%, +26%, +24%) |"), "{page}");
        // One thread hardly waits: no ratio for that.
        assert!(page.contains("| waiting | 90 | 5,000 | — |"), "{page}");
        // Batches 100k / 60k, 120k / 80k, 80k / 48k: speed-ups 1.67, 1.5, 1.67; perfect 100k / 2.
        assert!(
            page.contains(
                "| whole batch, by the training loop's clock (not added up) | 100,000 | 60,000 | 1.67× (1.67×, 1.50×, 1.67×) as fast; a perfect division: 50,000 (2×) |"
            ),
            "{page}"
        );
        assert!(render_scaling(&[]).is_empty());
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0.4), "0");
        assert_eq!(group(999.6), "1,000");
        assert_eq!(group(1_234_567.4), "1,234,567");
        assert_eq!(group(-12_345.0), "-12,345");
    }
}
