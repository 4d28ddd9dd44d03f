//! Helpers shared by the native and browser test crates: a brute-force f64
//! reference RBM that enumerates every (v, h) pair, and the determinism scenario.
// The reference reads like the formulas, indices and all.
#![allow(dead_code, clippy::needless_range_loop)]

use rbm_lab::{rng, Algorithm, Rbm, TrainConfig};

/// All 2^units binary vectors, bit i of the index giving unit i.
pub fn all_states(units: usize) -> Vec<Vec<f64>> {
    (0..1u32 << units)
        .map(|s| (0..units).map(|i| f64::from((s >> i) & 1)).collect())
        .collect()
}

/// An RBM in f64, evaluated straight from the definition.
#[derive(Clone)]
pub struct Reference {
    pub m: usize,
    pub n: usize,
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    pub c: Vec<f64>,
}

impl Reference {
    pub fn of(rbm: &Rbm) -> Self {
        let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        Reference {
            m: rbm.n_visible(),
            n: rbm.n_hidden(),
            w: widen(rbm.weights()),
            b: widen(rbm.visible_bias()),
            c: widen(rbm.hidden_bias()),
        }
    }

    /// E(v, h) = -vᵀWh - bᵀv - cᵀh.
    pub fn energy(&self, v: &[f64], h: &[f64]) -> f64 {
        let mut e = 0.0;
        for i in 0..self.m {
            for j in 0..self.n {
                e -= v[i] * self.w[i * self.n + j] * h[j];
            }
        }
        e - (0..self.m).map(|i| self.b[i] * v[i]).sum::<f64>()
            - (0..self.n).map(|j| self.c[j] * h[j]).sum::<f64>()
    }

    /// log Σ_{v,h} exp(-β E(v, h)), over every pair.
    pub fn log_partition(&self, beta: f64) -> f64 {
        let hs = all_states(self.n);
        let terms: Vec<f64> = all_states(self.m)
            .iter()
            .flat_map(|v| hs.iter().map(move |h| (v.clone(), h.clone())))
            .map(|(v, h)| -beta * self.energy(&v, &h))
            .collect();
        log_sum_exp(&terms)
    }

    /// log Σ_h exp(-β E(v, h)) = -F_β(v).
    pub fn log_marginal(&self, v: &[f64], beta: f64) -> f64 {
        let terms: Vec<f64> = all_states(self.n)
            .iter()
            .map(|h| -beta * self.energy(v, h))
            .collect();
        log_sum_exp(&terms)
    }

    /// Mean log p(v) over `data` at β = 1.
    pub fn mean_log_likelihood(&self, data: &[Vec<f64>]) -> f64 {
        let log_z = self.log_partition(1.0);
        data.iter()
            .map(|v| self.log_marginal(v, 1.0) - log_z)
            .sum::<f64>()
            / data.len() as f64
    }
}

pub fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// A model with N(0, scale²) weights and biases, seeded.
pub fn random_rbm(m: usize, n: usize, scale: f64, seed: u64) -> Rbm {
    let mut g = rng::seeded(seed);
    let mut draw = |count: usize| -> Vec<f32> {
        (0..count)
            .map(|_| (scale * rng::standard_normal(&mut g)) as f32)
            .collect()
    };
    let w = draw(m * n);
    let b = draw(m);
    let c = draw(n);
    Rbm::from_parts(m, n, w, b, c).unwrap()
}

/// Every parameter in file order: weights, visible bias, hidden bias.
pub fn parameters(model: &Rbm) -> Vec<f32> {
    let weights = model.weights().iter();
    weights
        .chain(model.visible_bias())
        .chain(model.hidden_bias())
        .copied()
        .collect()
}

/// FNV-1a over the bit patterns of `values`: equal only if every bit is equal.
pub fn fingerprint(values: &[f32]) -> u64 {
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, byte| {
            (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The determinism scenario run both natively and in the browser.
pub fn pinned_config() -> TrainConfig {
    TrainConfig {
        n_hidden: 16,
        algorithm: Algorithm::Cd,
        k: 1,
        learning_rate: 0.1,
        momentum: 0.5,
        weight_decay: 1e-4,
        batch_size: 10,
        persistent_chains: 0,
        seed: 7,
        ..TrainConfig::default()
    }
}
pub const PINNED_SIDE: usize = 4;
pub const PINNED_STEPS: usize = 25;
/// Filled from a native run; the browser test must reproduce them to the bit.
pub const PINNED_PARAMETER_FINGERPRINT: u64 = 0xdfaa_e454_97e4_a77c;
pub const PINNED_RECONSTRUCTION_ERROR_BITS: u64 = 0x3fd0_2283_c537_2c0d;
/// (1 ulp below the value before 2026-11-29, when log Z became the combination of its
/// pieces of 2^14 states: this model enumerates 16 units, so 4 pieces.)
pub const PINNED_LOG_PARTITION_BITS: u64 = 0x4035_84b5_522e_18d1;
pub const PINNED_SAMPLE_FINGERPRINT: u64 = 0x7fc2_0901_56f8_9a65;
/// The pinned scenario's parameters with each update split over two workers.
/// (0xb5b8_b404_5b08_9318 before 2026-11-29's afternoon, when shard 0 began to take a
/// lead of rows (`shard::share`): here 8 of each minibatch's 10 against 5.)
pub const PINNED_TWO_WORKER_FINGERPRINT: u64 = 0x1de0_06d7_1aa4_3043;

/// The packed MNIST asset (built by `./lab test` before the native tests run).
pub fn mnist_asset() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/mnist.bin");
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{path}: {e}. `./lab test` builds it (node scripts/build-mnist-asset.mjs after npm ci)"
        )
    })
}

/// CD-1 with the page's MNIST rates (0.05, momentum 0.5, decay 1e-4, batch 100).
pub fn cd1_config(n_hidden: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        n_hidden,
        algorithm: Algorithm::Cd,
        k: 1,
        learning_rate: 0.05,
        momentum: 0.5,
        weight_decay: 1e-4,
        batch_size: 100,
        persistent_chains: 0,
        seed,
        ..TrainConfig::default()
    }
}

/// `linalg::transpose_into` against its definition on shapes with and without ragged
/// edges, every value compared to the bit (the wasm32 build has a tile kernel of its
/// own). The output starts as NaN, so a value left unwritten fails too.
pub fn check_transposes() {
    for (rows, cols) in [
        (1, 1),
        (3, 5),
        (4, 4),
        (4, 9),
        (7, 8),
        (13, 6),
        (37, 45),
        (784, 500),
    ] {
        let src: Vec<f32> = (0..rows * cols).map(|i| i as f32 + 0.25).collect();
        let mut dst = vec![f32::NAN; rows * cols];
        rbm_lab::linalg::transpose_into(rows, cols, &src, &mut dst);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(
                    dst[c * rows + r].to_bits(),
                    src[r * cols + c].to_bits(),
                    "{rows} x {cols} at ({r}, {c})"
                );
            }
        }
    }
}
