//! Annealed importance sampling (Salakhutdinov and Murray, 2008): `log Z` of a model
//! too large to enumerate, with its standard error.
//!
//! The path runs from a base-rate model A (no weights; visible biases `b_A` that fit
//! the training pixels' means; `log Z_A = Σ_i softplus(b_A,i) + n log 2` with the
//! hidden units free) to the model B through unnormalised distributions
//!
//! `log p*_β(v) = (1 - β) b_Aᵀv + β b_Bᵀv + Σ_j softplus(β (c_j + (vᵀW)_j))`,
//!
//! which are A at β = 0 and B's `-F(v)` at β = 1. Each run draws `v` from A exactly,
//! then for each β_k in the schedule adds `log p*_k(v) - log p*_(k-1)(v)` to its log
//! weight and moves `v` by one Gibbs step that leaves `p_k` invariant. The mean weight
//! estimates `Z_B / Z_A` without bias; `log Z` is log-mean-exp of the log weights plus
//! `log Z_A`, and its standard error (by the delta method) is the weights' standard
//! deviation over `√runs` times their mean. The log of an unbiased estimate is biased
//! low: a stochastic lower bound in expectation, as the paper notes.

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::mathfn;
use crate::model::Rbm;
use crate::rng::{self, Rng};
use crate::snapshot;

/// The base rate's pixel means are clipped away from 0 and 1 (as the paper does), so
/// that a pixel never on in the data keeps a finite bias.
const MEAN_CLIP: f64 = 1e-3;

/// Runs and temperatures, with the seed of the runs' randomness.
#[derive(Clone, Copy, Debug)]
pub struct AisConfig {
    pub runs: usize,
    /// Intermediate distributions between A and B: β_0 = 0 < … < β_K = 1 with K this.
    pub temperatures: usize,
    pub seed: u64,
}

impl AisConfig {
    /// The engine's ranges of the settings table ([`crate::limits`]).
    fn check(&self) -> Result<()> {
        crate::limits::check_engine("ais_runs", self.runs as f64)?;
        crate::limits::check_engine("ais_temperatures", self.temperatures as f64)?;
        Ok(())
    }
}

/// The estimate: `log Z` and its standard error, and the interval of ±3 standard errors
/// of the mean weight carried to the log scale.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AisEstimate {
    pub log_partition: f64,
    pub standard_error: f64,
    pub low: f64,
    pub high: f64,
    pub runs: usize,
    pub temperatures: usize,
}

/// The inverse temperatures β_0 = 0, …, β_K = 1, spaced as in the paper's schedule (500
/// steps to 0.5, 4,000 to 0.9, 10,000 to 1, scaled to K in all): the model changes
/// fastest near β = 1, so most of the steps go there.
pub fn schedule(temperatures: usize) -> Vec<f32> {
    let k = temperatures.max(1);
    let breaks = [
        (0.0f64, 0.0f64),
        (500.0 / 14_500.0, 0.5),
        (4_500.0 / 14_500.0, 0.9),
        (1.0, 1.0),
    ];
    (0..=k)
        .map(|i| {
            let t = i as f64 / k as f64;
            let segment = breaks
                .windows(2)
                .find(|w| t <= w[1].0)
                .unwrap_or(&breaks[2..4]);
            let [(t0, b0), (t1, b1)] = [segment[0], segment[1]];
            (b0 + (b1 - b0) * (t - t0) / (t1 - t0)) as f32
        })
        .collect()
}

/// The base rate's visible biases: the log-odds of each pixel's mean over `data`.
pub fn base_rate_biases(data: &Matrix) -> Result<Vec<f32>> {
    if data.rows() == 0 {
        return Err(RbmError::Data(
            "the base rate needs training data: the set is empty".into(),
        ));
    }
    let mut on = vec![0.0f64; data.cols()];
    for r in 0..data.rows() {
        for (count, &v) in on.iter_mut().zip(data.row(r)) {
            *count += f64::from(v);
        }
    }
    Ok(on
        .iter()
        .map(|&count| {
            let p = (count / data.rows() as f64).clamp(MEAN_CLIP, 1.0 - MEAN_CLIP);
            libm::log(p / (1.0 - p)) as f32
        })
        .collect())
}

fn softplus64(x: f64) -> f64 {
    x.max(0.0) + libm::log1p(libm::exp(-x.abs()))
}

/// An AIS run set in progress, advanced in slices by [`Ais::advance`].
pub struct Ais {
    rbm: Rbm,
    base: Vec<f32>,
    betas: Vec<f32>,
    /// The next β index whose weight term is due (1..=K), K + 1 when done.
    next: usize,
    visible: Matrix,
    hidden: Matrix,
    hidden_input: Matrix,
    visible_input: Matrix,
    probability: Vec<f32>,
    log_weights: Vec<f64>,
    log_partition_base: f64,
    rng: Rng,
    config: AisConfig,
}

impl Ais {
    /// Starts `config.runs` runs from the base rate with visible biases `base`.
    pub fn new(rbm: Rbm, base: Vec<f32>, config: AisConfig) -> Result<Self> {
        config.check()?;
        let (m, n) = (rbm.n_visible(), rbm.n_hidden());
        if base.len() != m {
            return Err(RbmError::Shape(format!(
                "the base rate has {} biases, the model {m} visible units",
                base.len()
            )));
        }
        if let Some(i) = base.iter().position(|b| !b.is_finite()) {
            return Err(RbmError::Shape(format!("base-rate bias {i} is not finite")));
        }
        let mut rng = rng::seeded(config.seed);
        let runs = config.runs;
        let mut visible = Matrix::zeros(runs, m);
        let base_prob: Vec<f32> = base.iter().map(|&b| mathfn::sigmoid(b)).collect();
        for r in 0..runs {
            rng::sample_bernoulli(&mut rng, &base_prob, visible.row_mut(r));
        }
        let log_partition_base = base.iter().map(|&b| softplus64(f64::from(b))).sum::<f64>()
            + n as f64 * core::f64::consts::LN_2;
        Ok(Ais {
            betas: schedule(config.temperatures),
            next: 1,
            hidden: Matrix::zeros(runs, n),
            hidden_input: Matrix::zeros(runs, n),
            visible_input: Matrix::zeros(runs, m),
            probability: vec![0.0; runs * m.max(n)],
            log_weights: vec![0.0; runs],
            log_partition_base,
            visible,
            rng,
            config,
            base,
            rbm,
        })
    }

    /// Floating-point operations per temperature: two products of runs x m x n.
    pub fn flops_per_temperature(&self) -> f64 {
        4.0 * self.config.runs as f64 * self.rbm.n_visible() as f64 * self.rbm.n_hidden() as f64
    }

    /// Advances through temperatures until about `flop_budget` operations are spent
    /// (at least one temperature); returns whether all runs have finished.
    pub fn advance(&mut self, flop_budget: f64) -> bool {
        let per = self.flops_per_temperature().max(1.0);
        let mut spent = 0.0;
        while !self.finished() && (spent == 0.0 || spent + per <= flop_budget) {
            self.temperature_step();
            spent += per;
        }
        self.finished()
    }

    /// The model whose `log Z` is being estimated (a snapshot: training goes on meanwhile).
    pub fn model(&self) -> &Rbm {
        &self.rbm
    }

    /// Intermediate distributions between the base rate and the model (K).
    pub fn temperatures(&self) -> usize {
        self.config.temperatures
    }

    pub fn finished(&self) -> bool {
        self.next >= self.betas.len()
    }

    /// The fraction of temperatures done.
    pub fn progress(&self) -> f64 {
        (self.next - 1) as f64 / (self.betas.len() - 1) as f64
    }

    /// Adds the weight term for β_k at the current states, then (unless k = K) moves
    /// each state by a Gibbs step that leaves p_k invariant.
    fn temperature_step(&mut self) {
        let k = self.next;
        let (beta, before) = (self.betas[k], self.betas[k - 1]);
        let (m, n) = (self.rbm.n_visible(), self.rbm.n_hidden());
        self.rbm.hidden_input(&self.visible, &mut self.hidden_input);
        let delta_visible: Vec<f64> = (0..m)
            .map(|i| {
                f64::from(beta - before) * f64::from(self.rbm.visible_bias()[i] - self.base[i])
            })
            .collect();
        for r in 0..self.config.runs {
            let v = self.visible.row(r);
            let visible_term: f64 = v
                .iter()
                .zip(&delta_visible)
                .map(|(&x, d)| f64::from(x) * d)
                .sum();
            let hidden_term: f64 = self
                .hidden_input
                .row(r)
                .iter()
                .map(|&x| {
                    softplus64(f64::from(beta) * f64::from(x))
                        - softplus64(f64::from(before) * f64::from(x))
                })
                .sum();
            self.log_weights[r] += visible_term + hidden_term;
        }
        if k + 1 < self.betas.len() {
            let prob = &mut self.probability[..self.config.runs * n];
            mathfn::sigmoid_scaled(self.hidden_input.as_slice(), beta, prob);
            rng::sample_bernoulli(&mut self.rng, prob, self.hidden.as_mut_slice());
            self.rbm
                .visible_input(&self.hidden, &mut self.visible_input);
            let prob = &mut self.probability[..self.config.runs * m];
            for r in 0..self.config.runs {
                let input = self.visible_input.row(r);
                for i in 0..m {
                    prob[r * m + i] =
                        mathfn::sigmoid((1.0 - beta) * self.base[i] + beta * input[i]);
                }
            }
            rng::sample_bernoulli(&mut self.rng, prob, self.visible.as_mut_slice());
        }
        self.next += 1;
    }

    /// The estimate, once every run has finished.
    pub fn result(&self) -> Option<AisEstimate> {
        if !self.finished() {
            return None;
        }
        let runs = self.log_weights.len() as f64;
        let top = self
            .log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let scaled: Vec<f64> = self
            .log_weights
            .iter()
            .map(|&w| libm::exp(w - top))
            .collect();
        let mean = scaled.iter().sum::<f64>() / runs;
        let variance = scaled.iter().map(|w| (w - mean) * (w - mean)).sum::<f64>() / (runs - 1.0);
        let error_of_mean = (variance / runs).sqrt();
        let log_partition = self.log_partition_base + top + libm::log(mean);
        let at = |x: f64| {
            if x > 0.0 {
                self.log_partition_base + top + libm::log(x)
            } else {
                f64::NEG_INFINITY
            }
        };
        Some(AisEstimate {
            log_partition,
            standard_error: error_of_mean / mean,
            low: at(mean - 3.0 * error_of_mean),
            high: at(mean + 3.0 * error_of_mean),
            runs: self.config.runs,
            temperatures: self.config.temperatures,
        })
    }
}

/// `log Z` of `rbm` by AIS from the base rate of `data`, run to the end.
pub fn estimate_log_partition(rbm: &Rbm, data: &Matrix, config: AisConfig) -> Result<AisEstimate> {
    let mut ais = Ais::new(rbm.clone(), base_rate_biases(data)?, config)?;
    while !ais.advance(f64::INFINITY) {}
    Ok(ais.result().expect("finished"))
}

/// The mean `log p(v)` of `data` under `rbm` given an AIS estimate of `log Z`, with the
/// estimate's standard error (the free energies are exact).
pub fn mean_log_likelihood(rbm: &Rbm, data: &Matrix, estimate: &AisEstimate) -> Result<(f64, f64)> {
    let mean = rbm.mean_free_energy(data, 1.0)?;
    Ok((-mean - estimate.log_partition, estimate.standard_error))
}

const TASK_MAGIC: &[u8; 4] = b"RBMA";
const ESTIMATE_MAGIC: &[u8; 4] = b"RBME";

/// The largest base-rate bias a task may carry: the clipped means give at most
/// log(999) ≈ 6.9 in magnitude.
const BASE_LIMIT: f32 = 10.0;

impl Ais {
    /// The job as it was started, as bytes for another worker (magic `RBMA`): the
    /// sizes, the runs, temperatures and seed, the parameters and the base rate. Only a
    /// job not yet advanced can be sent: its runs' starting states follow from the seed.
    pub fn task_bytes(&self) -> Result<Vec<u8>> {
        if self.next != 1 {
            return Err(RbmError::Snapshot(
                "an AIS estimate under way cannot move to another worker".into(),
            ));
        }
        let mut w = snapshot::Writer::new(TASK_MAGIC);
        for value in [
            self.rbm.n_visible() as u64,
            self.rbm.n_hidden() as u64,
            self.config.runs as u64,
            self.config.temperatures as u64,
            self.config.seed,
        ] {
            w.u64(value);
        }
        w.parameters(&self.rbm);
        w.f32s(&self.base);
        Ok(w.finish())
    }

    /// [`Ais::task_bytes`] read back, every size and value checked, as the same job:
    /// run to the end, it gives the same estimate to the bit.
    pub fn from_task_bytes(bytes: &[u8]) -> Result<Ais> {
        let mut r = snapshot::Reader::new(bytes, TASK_MAGIC, "AIS task")?;
        let units = crate::limits::MAX_UNITS as u64;
        let m = r.count("the visible units", units)?;
        let n = r.count("the hidden units", units)?;
        let runs = r.count("ais_runs", u32::MAX.into())?;
        let temperatures = r.count("ais_temperatures", u32::MAX.into())?;
        let seed = r.u64()?;
        let rbm = r.parameters(m, n)?;
        let base = r.f32s("the base rate", m, BASE_LIMIT)?;
        r.finish()?;
        Ais::new(
            rbm,
            base,
            AisConfig {
                runs,
                temperatures,
                seed,
            },
        )
    }
}

impl AisEstimate {
    /// The estimate as bytes (magic `RBME`): its runs and temperatures, then the four
    /// numbers' bits.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = snapshot::Writer::new(ESTIMATE_MAGIC);
        w.u64(self.runs as u64);
        w.u64(self.temperatures as u64);
        for value in [self.log_partition, self.standard_error, self.low, self.high] {
            w.u64(value.to_bits());
        }
        w.finish()
    }

    /// An estimate read back and checked against the job it answers: the same runs and
    /// temperatures, a finite `log Z` and error, and `low ≤ log Z ≤ high` (`low` may be
    /// -∞: the interval's lower end falls below zero weight).
    pub fn from_bytes(bytes: &[u8], job: &Ais) -> Result<AisEstimate> {
        let mut r = snapshot::Reader::new(bytes, ESTIMATE_MAGIC, "AIS estimate")?;
        let runs = r.count("ais_runs", u32::MAX.into())?;
        let temperatures = r.count("ais_temperatures", u32::MAX.into())?;
        let mut number = || r.u64().map(f64::from_bits);
        let (log_partition, standard_error, low, high) =
            (number()?, number()?, number()?, number()?);
        r.finish()?;
        if runs != job.config.runs || temperatures != job.config.temperatures {
            return Err(snapshot::bad(format!(
                "the estimate has {runs} runs and {temperatures} temperatures; the job {} and {}",
                job.config.runs, job.config.temperatures
            )));
        }
        // (NaN fails these comparisons too.)
        let ordered = low <= log_partition && log_partition <= high;
        if !(log_partition.is_finite() && standard_error >= 0.0 && ordered) {
            return Err(snapshot::bad(format!(
                "the estimate is not a finite log Z inside its interval \
                 (log Z {log_partition}, error {standard_error}, from {low} to {high})"
            )));
        }
        Ok(AisEstimate {
            log_partition,
            standard_error,
            low,
            high,
            runs,
            temperatures,
        })
    }
}
