//! Native engine benchmark: `cargo bench --bench engine` (or `./lab bench`, which also
//! runs the NumPy reference in the same session and prints both).
//!
//! Figures, one thread, on the 9,000 training digits of the MNIST asset:
//! - CD-1 updates per second at 784 x 500, minibatch 100 (and samples per second);
//! - block-Gibbs steps per second for 100 chains at 784 x 500;
//! - seconds for the exact log Z of a 784 x 20 model (2^20 hidden states).
//!
//! Each figure is the median of several timed repetitions after a warm-up.

// Native only: the wasm32 build (clippy's) compiles an empty main.
#![cfg_attr(target_arch = "wasm32", allow(dead_code, unused_imports))]

use std::time::Instant;

use rbm_lab::{data, exact, linalg, rng, Algorithm, GibbsChains, TrainConfig, Trainer};

/// The median of several timings, with the lowest and highest.
#[derive(Clone, Copy)]
struct Spread {
    median: f64,
    low: f64,
    high: f64,
}

fn median(mut values: Vec<f64>) -> Spread {
    values.sort_by(|a, b| a.partial_cmp(b).expect("finite timings"));
    Spread {
        median: values[values.len() / 2],
        low: values[0],
        high: values[values.len() - 1],
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} ({:.1} to {:.1})",
            self.median, self.low, self.high
        )
    }
}

/// CD-1 updates per second at 784 x 500 (batch 100) and Gibbs steps per second for 100
/// chains, with the kernels and threads currently set in `linalg`.
fn cd_and_gibbs(train: &rbm_lab::Matrix) -> (Spread, Spread) {
    let (cd_updates, trainer) = cd_rate(train);
    (cd_updates, gibbs_rate(trainer.model()))
}

/// CD-1 updates per second at 784 x 500, minibatch 100, and the trainer after them.
fn cd_rate(train: &rbm_lab::Matrix) -> (Spread, Trainer) {
    let now = || 0.0;
    let config = TrainConfig {
        n_hidden: 500,
        algorithm: Algorithm::Cd,
        k: 1,
        learning_rate: 0.05,
        momentum: 0.5,
        weight_decay: 1e-4,
        batch_size: 100,
        persistent_chains: 0,
        seed: 1,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(config, train).expect("valid settings");
    for _ in 0..5 {
        trainer.step(&now).expect("no divergence");
    }
    let updates = 20;
    let cd_rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..updates {
                trainer.step(&now).expect("no divergence");
            }
            updates as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    (median(cd_rates), trainer)
}

/// Gibbs steps per second, 100 chains, on a trained-for-a-moment model.
fn gibbs_rate(model: &rbm_lab::Rbm) -> Spread {
    let mut g = rng::seeded(2);
    let mut chains = GibbsChains::random(model, 100, &mut g);
    chains.run(model, 5, 1.0, &mut g);
    let steps = 20;
    let gibbs_rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            chains.run(model, steps, 1.0, &mut g);
            steps as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    median(gibbs_rates)
}

#[cfg(target_arch = "wasm32")]
fn main() {} // the browser's figures come from scripts/bench-browser.mjs

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/mnist.bin");
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("cannot read {path} ({e}); `./lab bench` builds it first");
        std::process::exit(2);
    });
    let (train, _) = data::mnist_split(&bytes).expect("valid MNIST asset");

    // `--cd-only`: one round of `./lab bench`'s native-against-NumPy turns, CD-1's
    // median updates/s on the portable kernel and on the fast one, on one line.
    if std::env::args().any(|arg| arg == "--cd-only") {
        linalg::set_threads(1);
        let rates = [false, true].map(|fast| {
            linalg::set_fast_maths(fast);
            cd_rate(&train.images).0.median
        });
        println!("{:.1} {:.1}", rates[0], rates[1]);
        return;
    }

    let mut rows = Vec::new();
    for (label, fast, threads) in [
        ("portable (browser bits), 1 thread", false, 1),
        ("fast (FMA for dense products), 1 thread", true, 1),
        ("fast, 2 threads", true, 2),
    ] {
        linalg::set_fast_maths(fast);
        linalg::set_threads(threads);
        rows.push((label, cd_and_gibbs(&train.images)));
    }
    linalg::set_fast_maths(false);
    linalg::set_threads(1);

    // Exact log Z at 784 x 20.
    let small = Trainer::new(
        TrainConfig {
            n_hidden: 20,
            batch_size: 100,
            ..TrainConfig::default()
        },
        &train.images,
    )
    .expect("valid settings");
    // On 1 and 2 threads in turns (its pieces shared out: the same bits).
    let mut log_z_times = [Vec::new(), Vec::new()];
    let mut log_z_bits = Vec::new();
    for _ in 0..3 {
        for (threads, times) in [1, 2].into_iter().zip(&mut log_z_times) {
            linalg::set_threads(threads);
            let start = Instant::now();
            let log_z =
                exact::log_partition(small.model(), 1.0).expect("20 hidden units enumerate");
            times.push(start.elapsed().as_secs_f64());
            log_z_bits.push(log_z.to_bits());
        }
    }
    linalg::set_threads(1);
    assert!(
        log_z_bits.iter().all(|&b| b == log_z_bits[0]),
        "log Z's bits depend on the threads"
    );
    let [one, two] = log_z_times.map(median);

    println!("| engine (native), median of 5 (slowest to fastest) | CD-1 784x500, batch 100: updates/s | Gibbs 784x500, 100 chains: steps/s |");
    println!("|---|---:|---:|");
    for (label, (cd_updates, gibbs_steps)) in rows {
        println!("| {label} | {cd_updates} | {gibbs_steps} |");
    }
    println!(
        "exact log Z, 784x20 (2^20 states), portable: {:.2} s on 1 thread, {:.2} s on 2 ({:.2}x)",
        one.median,
        two.median,
        one.median / two.median
    );
}
