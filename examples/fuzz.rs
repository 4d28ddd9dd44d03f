//! A mutation fuzzer for the engine's parsers of outside input: the model file (JSON),
//! the packed image format, CSV text and the autosave snapshots (trainer and chains).
//!
//! ```text
//! cargo run --release --example fuzz -- [--inputs N] [--seconds S] [--target NAME] [--seed X]
//! ```
//! Each target starts from a corpus of valid inputs and of the reliability issue's
//! defect cases, and makes every input by applying one to eight random mutations to a
//! corpus entry: bit flips, bytes set to values that matter to the format (digits,
//! brackets, quotes, 0x00, 0xff), inserted, deleted, duplicated or spliced ranges,
//! numbers swapped for boundary values (0, -1, 2^16, 2^32, 2147484040, 1e39, ...),
//! and long repetitions. Every input must be accepted or refused with a message: a
//! panic fails the run (the input is written to `target/fuzz-failure-NAME.bin`). An
//! accepted input must also hold its invariants (sizes agree, values in range, a round
//! trip gives the same result, a restored trainer can take an update).
//!
//! The run stops after `--inputs` per target (default 1,000,000) or `--seconds` per
//! target, whichever comes first, and prints the counts. `./lab fuzz` runs the full
//! million; `./lab test` a time-boxed slice.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rand::RngCore;
use rbm_lab::data::{self, Dataset};
use rbm_lab::modelfile::{self, ModelFile, TrainingInfo};
use rbm_lab::{rng, snapshot, Algorithm, Rbm, TrainConfig, Trainer};

const BOUNDARY_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "1.0",
    "1.5",
    "-0",
    "1e39",
    "-1e39",
    "3e38",
    "2e4",
    "1e4",
    "1e-45",
    "65535",
    "65536",
    "65537",
    "4096",
    "16777216",
    "16777217",
    "2147483647",
    "2147483648",
    "2147484040",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "9007199254740993",
    "NaN",
    "Infinity",
    "null",
    "true",
    "\"7\"",
    "[]",
    "{}",
];
const FORMAT_BYTES: &[u8] = b"0123456789[]{},:\"-+.eE \n\t\0\xff\x7fnultrfasRBMBTC";

struct Mutator {
    rng: rng::Rng,
}

impl Mutator {
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.rng.next_u64() % n as u64) as usize
        }
    }

    fn range(&mut self, len: usize) -> (usize, usize) {
        let start = self.below(len + 1);
        let max = (len - start).min(if self.below(4) == 0 { 4096 } else { 16 });
        (start, start + self.below(max + 1))
    }

    /// One to eight mutations of `input`, splicing from `other` at times.
    fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        // Half the inputs get a single mutation, so that many stay nearly valid.
        let count = if self.below(2) == 0 {
            1
        } else {
            1 + self.below(8)
        };
        for _ in 0..count {
            let len = out.len();
            match self.below(11) {
                0 if len > 0 => {
                    let at = self.below(len);
                    out[at] ^= 1 << self.below(8);
                }
                1 if len > 0 => {
                    let at = self.below(len);
                    out[at] = FORMAT_BYTES[self.below(FORMAT_BYTES.len())];
                }
                2 => {
                    let at = self.below(len + 1);
                    let byte = FORMAT_BYTES[self.below(FORMAT_BYTES.len())];
                    out.insert(at, byte);
                }
                3 if len > 0 => {
                    let (a, b) = self.range(len);
                    out.drain(a..b);
                }
                4 if len > 0 => {
                    let (a, b) = self.range(len);
                    let piece = out[a..b].to_vec();
                    let at = self.below(out.len() + 1);
                    out.splice(at..at, piece);
                }
                5 if !other.is_empty() => {
                    let (a, b) = self.range(other.len());
                    let at = self.below(len + 1);
                    let end = (at + self.below(64)).min(len);
                    out.splice(at..end, other[a..b].iter().copied());
                }
                6 => self.replace_number(&mut out),
                7 if len > 0 => {
                    // A long repetition, like the 50-million-number defect case.
                    let (a, b) = self.range(len.min(64));
                    let piece = out[a..b.max(a + 1).min(len)].to_vec();
                    let times = 1 + self.below(20_000);
                    let at = self.below(out.len() + 1);
                    let repeated: Vec<u8> = piece
                        .iter()
                        .copied()
                        .cycle()
                        .take(piece.len() * times)
                        .collect();
                    out.splice(at..at, repeated);
                }
                8 if len > 4 => {
                    // A little-endian 32- or 64-bit field set to a boundary value.
                    let at = self.below(len - 3);
                    let value: u64 = [
                        0,
                        1,
                        u64::from(u32::MAX),
                        1 << 16,
                        1 << 19,
                        1 << 31,
                        u64::MAX,
                        2_147_484_040,
                    ][self.below(8)];
                    let bytes = value.to_le_bytes();
                    let width = if self.below(2) == 0 {
                        4
                    } else {
                        8.min(len - at)
                    };
                    out[at..at + width].copy_from_slice(&bytes[..width]);
                }
                9 if len > 0 => {
                    let cut = self.below(len);
                    out.truncate(cut);
                }
                _ => {
                    let at = self.below(len + 1);
                    let count = self.below(32);
                    for _ in 0..count {
                        out.insert(at, (self.rng.next_u32() & 0xff) as u8);
                    }
                }
            }
        }
        out
    }

    /// Replaces one run of digits (a number in text) with a boundary value.
    fn replace_number(&mut self, out: &mut Vec<u8>) {
        let starts: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].is_ascii_digit() && (i == 0 || !out[i - 1].is_ascii_digit()))
            .collect();
        if starts.is_empty() {
            return;
        }
        let start = starts[self.below(starts.len())];
        let mut end = start;
        while end < out.len() && (out[end].is_ascii_digit() || b".eE-+".contains(&out[end])) {
            end += 1;
        }
        let value = BOUNDARY_NUMBERS[self.below(BOUNDARY_NUMBERS.len())];
        out.splice(start..end, value.bytes());
    }
}

/// What one target does with an input: Ok(true) accepted, Ok(false) refused with a
/// message, Err(text) an accepted input that broke an invariant.
type Check = fn(&[u8]) -> Result<bool, String>;
/// A target: its name, its corpus and its check.
type Target = (&'static str, fn() -> Vec<Vec<u8>>, Check);

fn check_model_file(input: &[u8]) -> Result<bool, String> {
    let Ok(text) = std::str::from_utf8(input) else {
        return Ok(false);
    };
    let file = match modelfile::from_json(text) {
        Ok(file) => file,
        Err(e) => {
            let message = e.to_string();
            return if message.starts_with("model file: ") {
                Ok(false)
            } else {
                Err(format!(
                    "a refusal without the model-file prefix: {message}"
                ))
            };
        }
    };
    let model = &file.model;
    let (m, n) = (model.n_visible(), model.n_hidden());
    if model.weights().len() != m * n
        || model.visible_bias().len() != m
        || model.hidden_bias().len() != n
    {
        return Err("sizes disagree".into());
    }
    if !model.is_sane(rbm_lab::train::DIVERGENCE_LIMIT) {
        return Err("a parameter beyond the divergence limit was accepted".into());
    }
    if let Some((rows, cols)) = file.image_shape {
        if rows.checked_mul(cols) != Some(m) {
            return Err("image_shape does not cover n_visible".into());
        }
    }
    let again = modelfile::from_json(&modelfile::to_json(&file).map_err(|e| e.to_string())?)
        .map_err(|e| format!("its own output was refused: {e}"))?;
    if again != file {
        return Err("a save-then-load round trip changed it".into());
    }
    Ok(true)
}

fn check_dataset(set: &Dataset) -> Result<(), String> {
    let (rows, cols) = set.image_shape;
    if rows * cols != set.images.cols() || set.images.as_slice().len() != set.len() * rows * cols {
        return Err("sizes disagree".into());
    }
    if set.images.as_slice().iter().any(|&v| v != 0.0 && v != 1.0) {
        return Err("a pixel is not 0 or 1".into());
    }
    if set.labels.as_ref().is_some_and(|l| l.len() != set.len()) {
        return Err("label count differs from image count".into());
    }
    Ok(())
}

fn check_packed(input: &[u8]) -> Result<bool, String> {
    match data::parse_packed(input) {
        Ok(set) => {
            check_dataset(&set)?;
            let again = data::parse_packed(&data::to_packed(&set)).map_err(|e| e.to_string())?;
            if again != set {
                return Err("a write-then-read round trip changed it".into());
            }
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

fn check_csv(input: &[u8]) -> Result<bool, String> {
    let Ok(text) = std::str::from_utf8(input.get(1..).unwrap_or_default()) else {
        return Ok(false);
    };
    // The image shape comes from the page's fields: fuzz it too, from the first byte
    // (the text is the rest).
    let shapes = [
        (1, 6),
        (2, 3),
        (3, 2),
        (6, 1),
        (0, 6),
        (65_536, 65_536),
        (2_147_484_040, 2),
    ];
    let (rows, cols) = shapes[input.first().map_or(0, |&b| usize::from(b) % shapes.len())];
    match data::parse_csv(text, rows, cols) {
        Ok(set) => {
            check_dataset(&set)?;
            if set.image_shape != (rows as usize, cols as usize) {
                return Err("the shape changed".into());
            }
            Ok(true)
        }
        Err(e) if e.to_string().starts_with("data: ") => Ok(false),
        Err(e) => Err(format!("a refusal without the data prefix: {e}")),
    }
}

fn bars() -> &'static Dataset {
    static SET: std::sync::OnceLock<Dataset> = std::sync::OnceLock::new();
    SET.get_or_init(|| data::bars_and_stripes(3).expect("bars"))
}

fn check_snapshot(input: &[u8]) -> Result<bool, String> {
    if input.starts_with(b"RBMC") {
        return match snapshot::chains_from_bytes(input, 9, 4) {
            Ok((mut chains, mut g)) => {
                let model = Rbm::zeros(9, 4).map_err(|e| e.to_string())?;
                chains.run(&model, 1, 1.0, &mut g);
                Ok(true)
            }
            Err(_) => Ok(false),
        };
    }
    match Trainer::from_snapshot(input, &bars().images) {
        Ok(mut trainer) => {
            // A restored trainer must take an update (or refuse it as diverged) without panicking.
            let _ = trainer.step(&|| 0.0);
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

fn model_file_corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    let mut g = rng::seeded(11);
    for (m, n) in [(2, 1), (9, 4), (16, 3), (1, 1)] {
        let weights: Vec<f32> = (0..m * n)
            .map(|_| rng::standard_normal(&mut g) as f32)
            .collect();
        let model = Rbm::from_parts(m, n, weights, vec![0.25; m], vec![-0.5; n]).expect("model");
        let file = ModelFile {
            model,
            image_shape: (m == 16).then_some((4, 4)),
            training: Some(TrainingInfo {
                config: Some(TrainConfig::default()),
                steps_done: 12,
            }),
        };
        corpus.push(modelfile::to_json(&file).expect("json").into_bytes());
    }
    // The reliability issue's cases: a padded file, wrapped sizes, huge weights.
    let zeros = vec!["0"; 784].join(",");
    corpus.push(
        format!(
            r#"{{"format":"rbm-lab-model","version":1,"n_visible":784,"n_hidden":1,"weights":[{zeros}],"visible_bias":[{zeros}],"hidden_bias":[0],"training":[{}0]}}"#,
            "0,".repeat(20_000)
        )
        .into_bytes(),
    );
    corpus.push(
        br#"{"format":"rbm-lab-model","version":1,"n_visible":65536,"n_hidden":65536,"weights":[],"visible_bias":[],"hidden_bias":[]}"#
            .to_vec(),
    );
    corpus.push(
        br#"{"format":"rbm-lab-model","version":1.0,"n_visible":2,"n_hidden":1,"weights":[2e4,3e38],"visible_bias":[0,0],"hidden_bias":[0],"image_shape":[2147484040,2]}"#
            .to_vec(),
    );
    corpus
}

fn packed_corpus() -> Vec<Vec<u8>> {
    let mut labelled = data::bars_and_stripes(3).expect("bars");
    labelled.labels = Some((0..labelled.len() as u8).collect());
    let mut wrapped = b"RBMB\x01".to_vec();
    wrapped.extend_from_slice(&(1u32 << 19).to_le_bytes());
    wrapped.extend_from_slice(&[0, 1, 0, 1, 0]);
    vec![
        data::to_packed(&data::bars_and_stripes(4).expect("bars")),
        data::to_packed(&labelled),
        data::to_packed(&data::bars_and_stripes(2).expect("bars")),
        wrapped,
    ]
}

fn csv_corpus() -> Vec<Vec<u8>> {
    vec![
        b"\x01# comment\n1,0,1,0,1,0\n0 1 0 1 0 1\n\n1;1;1;0;0;0\n".to_vec(),
        b"\x021,0,1\r\n0,1,0\r\n".to_vec(),
        b"\x00111111\n".to_vec(),
        b"\x051\n".to_vec(),
    ]
}

fn snapshot_corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    for algorithm in [
        Algorithm::Cd,
        Algorithm::Pcd,
        Algorithm::Gibbs,
        Algorithm::Exact,
    ] {
        let config = TrainConfig {
            n_hidden: 4,
            algorithm,
            k: 2,
            batch_size: 7,
            persistent_chains: if algorithm == Algorithm::Pcd { 5 } else { 0 },
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(config, &bars().images).expect("trainer");
        for _ in 0..3 {
            trainer.step(&|| 0.0).expect("step");
        }
        corpus.push(trainer.to_snapshot().expect("snapshot"));
    }
    let model = Rbm::zeros(9, 4).expect("model");
    let mut g = rng::seeded(3);
    let chains = rbm_lab::GibbsChains::random(&model, 6, &mut g);
    corpus.push(snapshot::chains_to_bytes(&chains, &g).expect("chains"));
    corpus
}

/// A fresh CSV text in the shape its first byte selects (see [`check_csv`]): rows of 0/1
/// with every separator, comments, blank lines and line ending the reader allows.
fn generate_csv(mutator: &mut Mutator) -> Vec<u8> {
    // Shapes 0 to 3 of check_csv all hold six pixels.
    let selector = mutator.below(4) as u8;
    let per_image = 6;
    let mut out = vec![selector];
    for _ in 0..1 + mutator.below(6) {
        match mutator.below(8) {
            0 => out.extend_from_slice(b"# a comment, 1,0,1\n"),
            1 => out.extend_from_slice(b"   \n"),
            _ => {
                for v in 0..per_image {
                    if v > 0 {
                        let separators: [&[u8]; 5] = [b",", b";", b" ", b"\t", b" , "];
                        out.extend_from_slice(separators[mutator.below(separators.len())]);
                    }
                    out.push(if mutator.below(2) == 0 { b'0' } else { b'1' });
                }
                out.extend_from_slice(if mutator.below(3) == 0 {
                    b"\r\n"
                } else {
                    b"\n"
                });
            }
        }
    }
    out
}

fn run(
    name: &str,
    corpus: Vec<Vec<u8>>,
    check: Check,
    inputs: u64,
    limit: Duration,
    seed: u64,
) -> bool {
    let started = Instant::now();
    let mut mutator = Mutator {
        rng: rng::seeded(seed),
    };
    let (mut accepted, mut refused, mut done) = (0u64, 0u64, 0u64);
    // The corpus itself first, unmutated.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    while done < inputs && started.elapsed() < limit {
        let input = queue.pop().unwrap_or_else(|| {
            let a = mutator.below(corpus.len());
            let b = mutator.below(corpus.len());
            // CSV: half the inputs are fresh texts, a quarter of those left whole.
            if name == "csv" && mutator.below(2) == 0 {
                let fresh = generate_csv(&mut mutator);
                return if mutator.below(2) == 0 {
                    fresh
                } else {
                    mutator.mutate(&fresh, &corpus[b])
                };
            }
            mutator.mutate(&corpus[a], &corpus[b])
        });
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(Ok(true)) => accepted += 1,
            Ok(Ok(false)) => refused += 1,
            Ok(Err(problem)) => return failure(name, &input, &problem),
            Err(_) => return failure(name, &input, "panicked"),
        }
        done += 1;
    }
    println!(
        "{name:<10} {done:>9} inputs in {:>6.1} s: {accepted} accepted, {refused} refused with a message, 0 panics",
        started.elapsed().as_secs_f64()
    );
    true
}

fn failure(name: &str, input: &[u8], problem: &str) -> bool {
    let path = format!(
        "{}/target/fuzz-failure-{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let _ = std::fs::write(&path, input);
    eprintln!("{name}: {problem}; the input is in {path}");
    false
}

fn main() {
    let mut inputs = 1_000_000u64;
    let mut seconds = f64::INFINITY;
    let mut only: Option<String> = None;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--inputs" => {
                inputs = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--inputs takes a whole number"))
            }
            "--seconds" => {
                seconds = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--seconds takes a number"))
            }
            "--target" => only = Some(value()),
            "--seed" => {
                seed = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--seed takes a whole number"))
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    // Panics are expected to be caught and reported, not printed one by one.
    std::panic::set_hook(Box::new(|_| {}));
    let limit = Duration::from_secs_f64(seconds.min(1e9));
    let targets: [Target; 4] = [
        ("modelfile", model_file_corpus, check_model_file),
        ("packed", packed_corpus, check_packed),
        ("csv", csv_corpus, check_csv),
        ("snapshot", snapshot_corpus, check_snapshot),
    ];
    let mut ok = true;
    for (k, (name, corpus, check)) in targets.iter().enumerate() {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        ok &= run(
            name,
            corpus(),
            *check,
            inputs,
            limit,
            seed.wrapping_add(k as u64),
        );
    }
    std::process::exit(if ok { 0 } else { 1 });
}

fn usage(problem: &str) -> ! {
    eprintln!("fuzz: {problem}\nusage: cargo run --release --example fuzz -- [--inputs N] [--seconds S] [--target modelfile|packed|csv|snapshot] [--seed X]");
    std::process::exit(2);
}
