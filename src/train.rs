//! Minibatch training: stochastic gradient ascent on the mean log-likelihood.
//!
//! For a minibatch V the gradient of the mean log-likelihood is
//! `∂/∂W = E_data[v p(h|v)ᵀ] - E_model[v hᵀ]`, `∂/∂b = E_data[v] - E_model[v]`,
//! `∂/∂c = E_data[p(h|v)] - E_model[h]`. The data term is exact; the model term
//! (the "negative phase") is where the algorithms differ:
//! - `exact`: enumeration of the smaller layer ([`crate::exact`]);
//! - `gibbs`: fresh chains from uniform noise, `k` block-Gibbs steps;
//! - `cd` (contrastive divergence, Hinton 2002): chains start at the minibatch, `k` steps;
//! - `pcd` (persistent CD, Tieleman 2008): chains persist across updates, `k` steps each.
//!
//! Sampled negative phases use the chains' visible samples and the hidden
//! probabilities given them (Rao–Blackwellised hidden statistics).
//! The update, with learning rate ε, momentum μ and weight decay λ, is
//! `Δ ← μ Δ + ε (∂ - λ W)`, `W ← W + Δ` (no decay on the biases).

use serde::{Deserialize, Serialize};

use crate::error::{RbmError, Result};
use crate::exact;
use crate::linalg::{gemm, Matrix, Strided};
use crate::model::{GibbsChains, Rbm};
use crate::rng::{self, Rng};

/// How the model term of the gradient is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Exact,
    Gibbs,
    Cd,
    Pcd,
}

/// Training settings as a user gives them; [`TrainConfig::check`] validates them.
/// Every field has a default, so a partial object (from JSON or JS) is enough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub n_hidden: usize,
    pub algorithm: Algorithm,
    /// Gibbs steps per update (the k of CD-k and PCD-k).
    pub k: usize,
    pub learning_rate: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub batch_size: usize,
    /// Number of persistent chains for `pcd`; 0 means one per minibatch row.
    pub persistent_chains: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            n_hidden: 64,
            algorithm: Algorithm::Cd,
            k: 1,
            learning_rate: 0.05,
            momentum: 0.5,
            weight_decay: 1e-4,
            batch_size: 20,
            persistent_chains: 0,
            seed: 1,
        }
    }
}

/// Allowed ranges, as stated in the README's parameter table.
pub const MAX_K: usize = 1000;
pub const MAX_LEARNING_RATE: f32 = 10.0;
pub const MAX_CHAINS: usize = 10_000;
/// A parameter beyond this magnitude means the run has diverged.
pub const DIVERGENCE_LIMIT: f32 = 1e4;

/// A [`TrainConfig`] that passed validation against a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedConfig(TrainConfig);

impl CheckedConfig {
    pub fn get(&self) -> &TrainConfig {
        &self.0
    }
}

impl TrainConfig {
    /// Validates every setting for training on `n_examples` rows of `n_visible` pixels.
    pub fn check(self, n_examples: usize, n_visible: usize) -> Result<CheckedConfig> {
        let c = self;
        if n_examples == 0 {
            return Err(RbmError::Data("the training set is empty".into()));
        }
        if !(1..=crate::model::MAX_UNITS).contains(&c.n_hidden) {
            return Err(RbmError::setting(
                "n_hidden",
                c.n_hidden,
                format!("between 1 and {}", crate::model::MAX_UNITS),
            ));
        }
        if !(1..=MAX_K).contains(&c.k) {
            return Err(RbmError::setting(
                "k",
                c.k,
                format!("between 1 and {MAX_K}"),
            ));
        }
        if !(c.learning_rate > 0.0 && c.learning_rate <= MAX_LEARNING_RATE) {
            return Err(RbmError::setting(
                "learning_rate",
                c.learning_rate,
                format!("greater than 0 and at most {MAX_LEARNING_RATE}"),
            ));
        }
        if !(0.0..1.0).contains(&c.momentum) {
            return Err(RbmError::setting(
                "momentum",
                c.momentum,
                "at least 0 and below 1",
            ));
        }
        if !(0.0..1.0).contains(&c.weight_decay) {
            return Err(RbmError::setting(
                "weight_decay",
                c.weight_decay,
                "at least 0 and below 1",
            ));
        }
        if !(1..=n_examples.min(MAX_CHAINS)).contains(&c.batch_size) {
            return Err(RbmError::setting(
                "batch_size",
                c.batch_size,
                format!(
                    "between 1 and {} (the number of training examples, at most {MAX_CHAINS})",
                    n_examples.min(MAX_CHAINS)
                ),
            ));
        }
        if c.persistent_chains > MAX_CHAINS {
            return Err(RbmError::setting(
                "persistent_chains",
                c.persistent_chains,
                format!("between 0 (one per minibatch row) and {MAX_CHAINS}"),
            ));
        }
        if c.algorithm == Algorithm::Exact
            && n_visible.min(c.n_hidden) > exact::MAX_ENUMERATED_UNITS
        {
            return Err(RbmError::TooLargeForExact {
                n_visible,
                n_hidden: c.n_hidden,
            });
        }
        Ok(CheckedConfig(c))
    }
}

/// What one update reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepStats {
    /// Updates done so far, this one included.
    pub step: u64,
    /// Completed passes through the training set, with the fraction of the current one.
    pub epoch: f64,
    /// Mean over the minibatch and pixels of `(v - p(v | h))²`, with h ~ p(h | v).
    pub reconstruction_error: f64,
    /// `‖ΔW‖ / ‖W‖`; Hinton's guide suggests keeping it near 1e-3.
    pub update_ratio: f64,
    /// Wall time of the update in milliseconds, as measured by the caller's clock.
    pub wall_time_ms: f64,
}

/// The learner: a model, its optimiser state and its sampler state.
pub struct Trainer {
    config: CheckedConfig,
    model: Rbm,
    data: Matrix,
    rng: Rng,
    order: Vec<usize>,
    cursor: usize,
    steps_done: u64,
    velocity_w: Vec<f32>,
    velocity_b: Vec<f32>,
    velocity_c: Vec<f32>,
    persistent: Option<GibbsChains>,
    // Reused buffers: the minibatch chain (it starts at the data) and the gradient.
    batch_chain: GibbsChains,
    grad_w: Vec<f32>,
    negative_w: Vec<f32>,
}

impl Trainer {
    /// A trainer for `data` (one binary example per row), with a model initialised
    /// as in Hinton's practical guide from the training data and the seed.
    pub fn new(config: TrainConfig, data: &Matrix) -> Result<Self> {
        let config = config.check(data.rows(), data.cols())?;
        let mut rng = rng::seeded(config.get().seed);
        let model = Rbm::init_for_data(data, config.get().n_hidden, &mut rng)?;
        Trainer::with_model(config, model, data.clone(), rng)
    }

    /// A trainer that continues from `model` (for example one loaded from a file).
    pub fn resume(config: TrainConfig, model: Rbm, data: &Matrix) -> Result<Self> {
        if model.n_visible() != data.cols() {
            return Err(RbmError::Shape(format!(
                "the model has {} visible units but the data has {} pixels",
                model.n_visible(),
                data.cols()
            )));
        }
        let config = TrainConfig {
            n_hidden: model.n_hidden(),
            ..config
        }
        .check(data.rows(), data.cols())?;
        let rng = rng::seeded(config.get().seed);
        Trainer::with_model(config, model, data.clone(), rng)
    }

    fn with_model(config: CheckedConfig, model: Rbm, data: Matrix, mut rng: Rng) -> Result<Self> {
        let c = config.get();
        let (m, n) = (model.n_visible(), model.n_hidden());
        let persistent = if c.algorithm == Algorithm::Pcd {
            let count = if c.persistent_chains == 0 {
                c.batch_size
            } else {
                c.persistent_chains
            };
            // Persistent chains start at random training examples.
            let mut start = Matrix::zeros(count, m);
            for r in 0..count {
                let pick = rng::index(&mut rng, data.rows());
                start.row_mut(r).copy_from_slice(data.row(pick));
            }
            Some(GibbsChains::from_visible(&model, start)?)
        } else {
            None
        };
        let batch_chain = GibbsChains::from_visible(&model, Matrix::zeros(c.batch_size, m))?;
        let order: Vec<usize> = (0..data.rows()).collect();
        let mut trainer = Trainer {
            config,
            data,
            rng,
            order,
            cursor: 0,
            steps_done: 0,
            velocity_w: vec![0.0; m * n],
            velocity_b: vec![0.0; m],
            velocity_c: vec![0.0; n],
            persistent,
            batch_chain,
            grad_w: vec![0.0; m * n],
            negative_w: vec![0.0; m * n],
            model,
        };
        trainer.reshuffle();
        Ok(trainer)
    }

    pub fn model(&self) -> &Rbm {
        &self.model
    }

    pub fn config(&self) -> &TrainConfig {
        self.config.get()
    }

    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// Updates per pass through the training set (partial minibatches are not used).
    pub fn steps_per_epoch(&self) -> usize {
        self.data.rows() / self.config.get().batch_size
    }

    /// The persistent chains of `pcd`, if any.
    pub fn persistent_chains(&self) -> Option<&GibbsChains> {
        self.persistent.as_ref()
    }

    fn reshuffle(&mut self) {
        rng::shuffle(&mut self.rng, &mut self.order);
        self.cursor = 0;
    }

    /// One update on the next minibatch. `now_ms` is the caller's clock (the engine
    /// itself has none, so that it runs unchanged in a browser). On divergence the
    /// model and optimiser state are left as they were and an error is returned.
    pub fn step(&mut self, now_ms: &dyn Fn() -> f64) -> Result<StepStats> {
        let started = now_ms();
        let c = self.config.get().clone();
        let (m, n, batch) = (self.model.n_visible(), self.model.n_hidden(), c.batch_size);
        if self.cursor + batch > self.order.len() {
            self.reshuffle();
        }
        // Positive phase: v from the data, p(h | v).
        let chain = &mut self.batch_chain;
        for r in 0..batch {
            let example = self.order[self.cursor + r];
            chain
                .visible
                .row_mut(r)
                .copy_from_slice(self.data.row(example));
        }
        self.cursor += batch;
        let positive_visible = chain.visible.clone();
        chain.sample_hidden(&self.model, 1.0, &mut self.rng);
        let positive_hidden = chain.hidden_prob.clone();
        gemm(
            m,
            batch,
            n,
            Strided::transpose_of(positive_visible.as_slice(), m),
            positive_hidden.as_slice(),
            &mut self.grad_w,
            false,
        );
        // One more half step gives the reconstruction p(v | h) of the minibatch.
        chain.sample_visible(&self.model, 1.0, &mut self.rng);
        let reconstruction_error = mean_squared_difference(&positive_visible, &chain.visible_prob);

        // Negative phase into negative_w, negative_b, negative_c (means over chains).
        let (negative_b, negative_c) = match c.algorithm {
            Algorithm::Exact => {
                let expectations = exact::model_expectations(&self.model, 1.0)?;
                for (dst, &src) in self.negative_w.iter_mut().zip(&expectations.visible_hidden) {
                    *dst = src as f32;
                }
                let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                (to_f32(&expectations.visible), to_f32(&expectations.hidden))
            }
            Algorithm::Cd => {
                // The chain already did its first step from the data.
                chain.run(&self.model, c.k - 1, 1.0, &mut self.rng);
                chain.refresh_hidden_prob(&self.model, 1.0);
                chain_statistics(chain, &mut self.negative_w)
            }
            Algorithm::Gibbs => {
                let mut fresh = GibbsChains::random(&self.model, batch, &mut self.rng);
                fresh.run(&self.model, c.k, 1.0, &mut self.rng);
                fresh.refresh_hidden_prob(&self.model, 1.0);
                chain_statistics(&fresh, &mut self.negative_w)
            }
            Algorithm::Pcd => {
                let chains = self.persistent.as_mut().expect("pcd has persistent chains");
                chains.run(&self.model, c.k, 1.0, &mut self.rng);
                chains.refresh_hidden_prob(&self.model, 1.0);
                chain_statistics(chains, &mut self.negative_w)
            }
        };

        // Gradient means: data term over the minibatch minus the model term.
        let scale = 1.0 / batch as f32;
        for (g, &neg) in self.grad_w.iter_mut().zip(&self.negative_w) {
            *g = *g * scale - neg;
        }
        let positive_b = column_means(&positive_visible);
        let positive_c = column_means(&positive_hidden);
        let grad_b: Vec<f32> = positive_b
            .iter()
            .zip(&negative_b)
            .map(|(p, q)| p - q)
            .collect();
        let grad_c: Vec<f32> = positive_c
            .iter()
            .zip(&negative_c)
            .map(|(p, q)| p - q)
            .collect();

        // New velocities, checked before anything is written: a diverging update leaves
        // the model and the optimiser untouched.
        let (lr, mu, decay) = (c.learning_rate, c.momentum, c.weight_decay);
        let weights = self.model.weights();
        let mut new_velocity_w = core::mem::take(&mut self.grad_w);
        for ((v_new, &v_old), &w) in new_velocity_w.iter_mut().zip(&self.velocity_w).zip(weights) {
            *v_new = mu * v_old + lr * (*v_new - decay * w);
        }
        let new_velocity_b: Vec<f32> = self
            .velocity_b
            .iter()
            .zip(&grad_b)
            .map(|(&v, &g)| mu * v + lr * g)
            .collect();
        let new_velocity_c: Vec<f32> = self
            .velocity_c
            .iter()
            .zip(&grad_c)
            .map(|(&v, &g)| mu * v + lr * g)
            .collect();
        let sane = |params: &[f32], deltas: &[f32]| {
            params
                .iter()
                .zip(deltas)
                .all(|(&p, &d)| (p + d).abs() <= DIVERGENCE_LIMIT)
        };
        let ok = sane(weights, &new_velocity_w)
            && sane(self.model.visible_bias(), &new_velocity_b)
            && sane(self.model.hidden_bias(), &new_velocity_c);
        if !ok {
            self.grad_w = new_velocity_w;
            return Err(RbmError::Diverged {
                step: self.steps_done + 1,
            });
        }
        let update_norm = norm(&new_velocity_w);
        self.grad_w = core::mem::replace(&mut self.velocity_w, new_velocity_w);
        self.velocity_b = new_velocity_b;
        self.velocity_c = new_velocity_c;
        let (vw, vb, vc) = (&self.velocity_w, &self.velocity_b, &self.velocity_c);
        let weight_norm = self.model.update_parameters(|w, b, c| {
            add_into(w, vw);
            add_into(b, vb);
            add_into(c, vc);
            norm(w)
        });
        self.steps_done += 1;
        let per_epoch = self.steps_per_epoch() as f64;
        Ok(StepStats {
            step: self.steps_done,
            epoch: self.steps_done as f64 / per_epoch,
            reconstruction_error,
            update_ratio: if weight_norm > 0.0 {
                update_norm / weight_norm
            } else {
                0.0
            },
            wall_time_ms: now_ms() - started,
        })
    }
}

/// Mean over chains of `v hᵀ` (into `out`, m x n), of v and of h.
fn chain_statistics(chains: &GibbsChains, out: &mut [f32]) -> (Vec<f32>, Vec<f32>) {
    let (count, m, n) = (
        chains.len(),
        chains.visible.cols(),
        chains.hidden_prob.cols(),
    );
    gemm(
        m,
        count,
        n,
        Strided::transpose_of(chains.visible.as_slice(), m),
        chains.hidden_prob.as_slice(),
        out,
        false,
    );
    let scale = 1.0 / count as f32;
    out.iter_mut().for_each(|x| *x *= scale);
    (
        column_means(&chains.visible),
        column_means(&chains.hidden_prob),
    )
}

fn column_means(matrix: &Matrix) -> Vec<f32> {
    let mut sums = vec![0.0f32; matrix.cols()];
    for r in 0..matrix.rows() {
        add_into(&mut sums, matrix.row(r));
    }
    let scale = 1.0 / matrix.rows() as f32;
    sums.iter_mut().for_each(|s| *s *= scale);
    sums
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
}

fn norm(values: &[f32]) -> f64 {
    values
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

fn mean_squared_difference(a: &Matrix, b: &Matrix) -> f64 {
    let total: f64 = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(&x, &y)| f64::from(x - y) * f64::from(x - y))
        .sum();
    total / a.as_slice().len() as f64
}
