//! The guide page's figures, computed exactly on models small enough to see whole: the
//! table of every joint state, the conditionals, the two terms of the gradient,
//! pictures completed by summing over every picture that agrees, and one Gibbs chain
//! with its visit frequencies, distance to `p(v)` and autocorrelation.

use crate::error::{RbmError, Result};
use crate::exact;
use crate::linalg::Matrix;
use crate::mathfn;
use crate::model::Rbm;
use crate::rng::{self, Rng};

/// The joint table lists `2^(m + n)` states: at most 4,096 rows.
pub const MAX_JOINT_UNITS: usize = 12;
/// Visible states are enumerated (clamped completion, chain visits) up to `2^16`.
pub const MAX_VISIBLE_STATES_UNITS: usize = 16;
/// The chain keeps this many recent values of its statistic for the autocorrelation.
const TRACE_LENGTH: usize = 4096;

fn check_units(what: &str, units: usize, most: usize) -> Result<()> {
    if units > most {
        return Err(RbmError::Shape(format!(
            "{what} needs a model of at most {most} units, this one has {units}"
        )));
    }
    Ok(())
}

/// Bit i of `state` as the value of unit i.
fn unpack(state: usize, units: usize) -> Vec<f32> {
    (0..units).map(|i| ((state >> i) & 1) as f32).collect()
}

fn pack(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .filter(|(_, &v)| v != 0.0)
        .fold(0, |state, (i, _)| state | (1 << i))
}

/// Every joint state `(v, h)` of a tiny model, v-major: row `v · 2^n + h`, where bit i
/// of v is `v_i` and bit j of h is `h_j`.
#[derive(Clone, Debug)]
pub struct JointTable {
    /// `E(v, h) = -bᵀv - cᵀh - vᵀWh`.
    pub energy: Vec<f64>,
    /// `p(v, h) = exp(-E(v, h)) / Z`.
    pub probability: Vec<f64>,
    /// `log Z`, the log-sum-exp of `-E` over every row.
    pub log_partition: f64,
    /// `p(v) = Σ_h p(v, h)` for each of the `2^m` visible states.
    pub visible_marginal: Vec<f64>,
}

/// The whole joint distribution of `rbm` by brute force (no closed forms), so that it
/// checks the conditionals and free energies computed the cheap way.
pub fn joint_table(rbm: &Rbm) -> Result<JointTable> {
    let (m, n) = (rbm.n_visible(), rbm.n_hidden());
    check_units("the joint table", m + n, MAX_JOINT_UNITS)?;
    let hidden_states = 1usize << n;
    let mut energy = Vec::with_capacity(hidden_states << m);
    for v in 0..1usize << m {
        let visible = unpack(v, m);
        for h in 0..hidden_states {
            energy.push(rbm.energy(&visible, &unpack(h, n), 1.0));
        }
    }
    let lowest = energy.iter().copied().fold(f64::INFINITY, f64::min);
    let sum: f64 = energy.iter().map(|&e| libm::exp(lowest - e)).sum();
    let log_partition = -lowest + libm::log(sum);
    let probability: Vec<f64> = energy
        .iter()
        .map(|&e| libm::exp(-e - log_partition))
        .collect();
    let visible_marginal = probability
        .chunks(hidden_states)
        .map(|row| row.iter().sum())
        .collect();
    Ok(JointTable {
        energy,
        probability,
        log_partition,
        visible_marginal,
    })
}

/// Each hidden unit's input given `visible`: `c_j + Σ_i v_i W_ij`, whose sigmoid is
/// `p(h_j = 1 | v)`.
pub fn hidden_inputs(rbm: &Rbm, visible: &[f32]) -> Result<Vec<f64>> {
    let (m, n) = (rbm.n_visible(), rbm.n_hidden());
    if visible.len() != m {
        return Err(RbmError::Shape(format!(
            "the visible state has {} values, the model {m} visible units",
            visible.len()
        )));
    }
    Ok((0..n)
        .map(|j| {
            let coupling: f64 = (0..m)
                .map(|i| f64::from(visible[i]) * f64::from(rbm.weights()[i * n + j]))
                .sum();
            f64::from(rbm.hidden_bias()[j]) + coupling
        })
        .collect())
}

/// The exact gradient of the mean log-likelihood of `data`, as its two terms.
#[derive(Clone, Debug)]
pub struct GradientTerms {
    /// m x n row-major: `⟨v_i h_j⟩_data`, h given by `p(h | v)` of each example.
    pub data: Vec<f64>,
    /// m x n row-major: `⟨v_i h_j⟩_model` under `p(v, h)`.
    pub model: Vec<f64>,
    pub visible_data: Vec<f64>,
    pub visible_model: Vec<f64>,
    pub hidden_data: Vec<f64>,
    pub hidden_model: Vec<f64>,
    /// `(1/N) Σ log p(v⁽ⁿ⁾)` at these parameters.
    pub log_likelihood: f64,
}

impl GradientTerms {
    /// `∂/∂W_ij` of the mean log-likelihood: data term minus model term.
    pub fn weights(&self) -> Vec<f64> {
        difference(&self.data, &self.model)
    }
}

fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// Both terms of the exact gradient for `data` (rows of 0/1 pixels).
pub fn gradient_terms(rbm: &Rbm, data: &Matrix) -> Result<GradientTerms> {
    let (m, n) = (rbm.n_visible(), rbm.n_hidden());
    if data.rows() == 0 {
        return Err(RbmError::Data(
            "the data set is empty: add a pattern".into(),
        ));
    }
    if data.cols() != m {
        return Err(RbmError::Shape(format!(
            "the patterns have {} pixels, the model {m} visible units",
            data.cols()
        )));
    }
    let rows = data.rows() as f64;
    let mut data_term = vec![0.0f64; m * n];
    let mut visible_data = vec![0.0f64; m];
    let mut hidden_data = vec![0.0f64; n];
    for r in 0..data.rows() {
        let v = data.row(r);
        let inputs = hidden_inputs(rbm, v)?;
        for (j, &x) in inputs.iter().enumerate() {
            let q = f64::from(mathfn::sigmoid(x as f32));
            hidden_data[j] += q / rows;
            for i in 0..m {
                data_term[i * n + j] += f64::from(v[i]) * q / rows;
            }
        }
        for (mean, &x) in visible_data.iter_mut().zip(v) {
            *mean += f64::from(x) / rows;
        }
    }
    let model = exact::model_expectations(rbm, 1.0)?;
    Ok(GradientTerms {
        data: data_term,
        model: model.visible_hidden,
        visible_data,
        visible_model: model.visible,
        hidden_data,
        hidden_model: model.hidden,
        log_likelihood: exact::mean_log_likelihood(rbm, data)?,
    })
}

/// One step of exact gradient ascent with rate ε: every parameter moves by ε times
/// its gradient (data term minus model term). Returns the new model and the terms
/// it used.
pub fn gradient_step(rbm: &Rbm, data: &Matrix, rate: f32) -> Result<(Rbm, GradientTerms)> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(RbmError::setting("learning_rate", rate, "above 0"));
    }
    let terms = gradient_terms(rbm, data)?;
    let step = |old: &[f32], gradient: Vec<f64>| -> Vec<f32> {
        old.iter()
            .zip(gradient)
            .map(|(&w, g)| (f64::from(w) + f64::from(rate) * g) as f32)
            .collect()
    };
    let next = Rbm::from_parts(
        rbm.n_visible(),
        rbm.n_hidden(),
        step(rbm.weights(), terms.weights()),
        step(
            rbm.visible_bias(),
            difference(&terms.visible_data, &terms.visible_model),
        ),
        step(
            rbm.hidden_bias(),
            difference(&terms.hidden_data, &terms.hidden_model),
        ),
    )?;
    Ok((next, terms))
}

/// `p(v_i = 1 | the clamped pixels)` for every pixel, by summing `exp(-F(v))` over
/// every picture that agrees with the clamps. `clamp[i]` is 0 or 1 for a clamped
/// pixel and -1 for a free one; a clamped pixel's answer is its value.
pub fn clamped_marginals(rbm: &Rbm, clamp: &[i8]) -> Result<Vec<f64>> {
    let m = rbm.n_visible();
    check_units("exact completion", m, MAX_VISIBLE_STATES_UNITS)?;
    if clamp.len() != m {
        return Err(RbmError::Shape(format!(
            "the clamps cover {} pixels, the model has {m}",
            clamp.len()
        )));
    }
    if let Some(bad) = clamp.iter().find(|&&c| !(-1..=1).contains(&c)) {
        return Err(RbmError::setting("clamp", bad, "0, 1 or -1 (free)"));
    }
    let free: Vec<usize> = (0..m).filter(|&i| clamp[i] < 0).collect();
    let count = 1usize << free.len();
    let mut states = Matrix::zeros(count, m);
    for s in 0..count {
        let row = states.row_mut(s);
        for (i, &c) in clamp.iter().enumerate() {
            row[i] = f32::from(c.max(0));
        }
        for (bit, &i) in free.iter().enumerate() {
            row[i] = ((s >> bit) & 1) as f32;
        }
    }
    let free_energy = rbm.free_energy(&states, 1.0)?;
    let lowest = free_energy.iter().copied().fold(f64::INFINITY, f64::min);
    let weights: Vec<f64> = free_energy.iter().map(|&f| libm::exp(lowest - f)).collect();
    let total: f64 = weights.iter().sum();
    Ok((0..m)
        .map(|i| {
            if clamp[i] >= 0 {
                f64::from(clamp[i])
            } else {
                (0..count)
                    .filter(|&s| states.row(s)[i] != 0.0)
                    .map(|s| weights[s])
                    .sum::<f64>()
                    / total
            }
        })
        .collect())
}

/// A copy of `rbm` with every weight multiplied by `scale` (biases unchanged): deeper
/// energy valleys, slower mixing.
pub fn scale_weights(rbm: &Rbm, scale: f32) -> Result<Rbm> {
    if !(scale.is_finite() && (0.0..=100.0).contains(&scale)) {
        return Err(RbmError::setting("weight_scale", scale, "0 to 100"));
    }
    Rbm::from_parts(
        rbm.n_visible(),
        rbm.n_hidden(),
        rbm.weights().iter().map(|&w| w * scale).collect(),
        rbm.visible_bias().to_vec(),
        rbm.hidden_bias().to_vec(),
    )
}

/// One block-Gibbs chain on a tiny model, counting the visible states it visits.
pub struct ChainWalk {
    rbm: Rbm,
    rng: Rng,
    visible: Vec<f32>,
    hidden: Vec<f32>,
    hidden_prob: Vec<f32>,
    visible_prob: Vec<f32>,
    /// Whether the next half step samples the hidden layer.
    hidden_next: bool,
    visits: Vec<u64>,
    steps: u64,
    exact: Vec<f64>,
    /// The visible state after each full step (the newest last).
    trace: Vec<usize>,
}

impl ChainWalk {
    /// A chain from visible state `start` (bit i is `v_i`), seeded.
    pub fn new(rbm: Rbm, start: usize, seed: u64) -> Result<Self> {
        let m = rbm.n_visible();
        check_units("a chain with visit counts", m, MAX_VISIBLE_STATES_UNITS)?;
        if start >> m != 0 {
            return Err(RbmError::setting("start", start, format!("0 to 2^{m} - 1")));
        }
        let exact = exact::visible_distribution(&rbm, 1.0)?;
        let n = rbm.n_hidden();
        Ok(ChainWalk {
            visible: unpack(start, m),
            visible_prob: unpack(start, m),
            hidden: vec![0.0; n],
            hidden_prob: vec![0.0; n],
            hidden_next: true,
            visits: vec![0; 1 << m],
            steps: 0,
            exact,
            trace: Vec::new(),
            rng: rng::seeded(seed),
            rbm,
        })
    }

    /// One half step: the whole hidden layer from `p(h | v)`, or the whole visible
    /// layer from `p(v | h)`, alternately. A visible half step completes a full step,
    /// whose visible state is counted.
    pub fn half_step(&mut self) {
        let (m, n) = (self.rbm.n_visible(), self.rbm.n_hidden());
        if self.hidden_next {
            let inputs = hidden_inputs(&self.rbm, &self.visible).expect("sizes match");
            for (q, x) in self.hidden_prob.iter_mut().zip(inputs) {
                *q = mathfn::sigmoid(x as f32);
            }
            rng::sample_bernoulli(&mut self.rng, &self.hidden_prob, &mut self.hidden);
        } else {
            let w = self.rbm.weights();
            for i in 0..m {
                let input: f64 = f64::from(self.rbm.visible_bias()[i])
                    + (0..n)
                        .map(|j| f64::from(w[i * n + j]) * f64::from(self.hidden[j]))
                        .sum::<f64>();
                self.visible_prob[i] = mathfn::sigmoid(input as f32);
            }
            rng::sample_bernoulli(&mut self.rng, &self.visible_prob, &mut self.visible);
            let state = pack(&self.visible);
            self.visits[state] += 1;
            self.steps += 1;
            if self.trace.len() == TRACE_LENGTH {
                self.trace.remove(0);
            }
            self.trace.push(state);
        }
        self.hidden_next = !self.hidden_next;
    }

    /// `count` full steps (finishing a half-done one first).
    pub fn run(&mut self, count: usize) {
        if !self.hidden_next {
            self.half_step();
        }
        for _ in 0..count {
            self.half_step();
            self.half_step();
        }
    }

    pub fn visible(&self) -> &[f32] {
        &self.visible
    }

    pub fn hidden(&self) -> &[f32] {
        &self.hidden
    }

    pub fn hidden_prob(&self) -> &[f32] {
        &self.hidden_prob
    }

    pub fn visible_prob(&self) -> &[f32] {
        &self.visible_prob
    }

    /// Whether the next half step samples the hidden layer (else the visible one).
    pub fn hidden_next(&self) -> bool {
        self.hidden_next
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn visits(&self) -> &[u64] {
        &self.visits
    }

    /// The exact `p(v)` the visits should approach.
    pub fn exact(&self) -> &[f64] {
        &self.exact
    }

    /// Visit frequencies (all zero before the first full step).
    pub fn frequencies(&self) -> Vec<f64> {
        let total = self.steps.max(1) as f64;
        self.visits.iter().map(|&c| c as f64 / total).collect()
    }

    /// `½ Σ_v |frequency(v) - p(v)|`, or 1 before the first full step.
    pub fn total_variation(&self) -> f64 {
        if self.steps == 0 {
            return 1.0;
        }
        0.5 * self
            .frequencies()
            .iter()
            .zip(&self.exact)
            .map(|(f, p)| (f - p).abs())
            .sum::<f64>()
    }

    /// How alike the visible state is to the state `lag` steps earlier, for lags 0 to
    /// `max_lag`: the sample autocorrelation of each pixel along the chain (its last
    /// [`TRACE_LENGTH`] full steps), averaged over the pixels that varied. 1 at lag 0;
    /// near 0 once the chain has forgotten. Empty while there are fewer than `2 max_lag`
    /// steps or no pixel has varied.
    pub fn autocorrelation(&self, max_lag: usize) -> Vec<f64> {
        let steps = self.trace.len();
        if max_lag == 0 || steps < 2 * max_lag {
            return Vec::new();
        }
        let mut sums = vec![0.0f64; max_lag + 1];
        let mut pixels = 0usize;
        for i in 0..self.rbm.n_visible() {
            let x: Vec<f64> = self.trace.iter().map(|&s| ((s >> i) & 1) as f64).collect();
            let mean = x.iter().sum::<f64>() / steps as f64;
            let variance: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
            if variance <= 1e-9 {
                continue;
            }
            pixels += 1;
            for (lag, sum) in sums.iter_mut().enumerate() {
                *sum += x
                    .iter()
                    .zip(&x[lag..])
                    .map(|(a, b)| (a - mean) * (b - mean))
                    .sum::<f64>()
                    / variance;
            }
        }
        if pixels == 0 {
            return Vec::new();
        }
        sums.into_iter().map(|s| s / pixels as f64).collect()
    }
}
