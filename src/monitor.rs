//! What the learning curves plot: pseudo-log-likelihood, exact log-likelihood when
//! affordable, the free-energy gap between training and held-out data, and the
//! hidden units' mean activity.
//!
//! Pseudo-log-likelihood (Besag): `PL(v) = Σ_i log p(v_i | v_{-i})`. Flipping unit i
//! of v gives ṽ, and `p(v_i | v_{-i}) = σ(F(ṽ) - F(v))`, so each term costs one
//! free-energy difference: with `x = c + Wᵀv` and `s = 1 - 2 v_i`,
//! `F(v) - F(ṽ) = s b_i + Σ_j softplus(x_j + s W_ij) - Σ_j softplus(x_j)`.
//! The stochastic estimate takes one random unit per example and multiplies by m
//! (unbiased for the exact sum, as in scikit-learn's `score_samples`).

use serde::Serialize;

use crate::error::{RbmError, Result};
use crate::exact;
use crate::linalg::Matrix;
use crate::mathfn;
use crate::model::Rbm;
use crate::rng::{self, Rng};
use crate::snapshot::{self, bad};

/// Rows used for the pseudo-log-likelihood and hidden activity (the first ones).
pub const EVALUATION_ROWS: usize = 1000;
/// Exact log-likelihood is computed only when 2^min(m,n) · max(m,n) is at most this
/// (about 50 ms in the browser), so evaluation never stalls training.
pub const EXACT_BUDGET: f64 = (1u64 << 24) as f64;

/// The pseudo-log-likelihood terms of one data set: each row's hidden input `x` and
/// `Σ_j softplus(x_j)` are computed once, then each flipped unit costs one more sum.
struct FlipTerms<'a> {
    rbm: &'a Rbm,
    data: &'a Matrix,
    x: Matrix,
    zero: Vec<f32>,
    flipped: Vec<f32>,
}

impl<'a> FlipTerms<'a> {
    fn new(rbm: &'a Rbm, data: &'a Matrix) -> Result<Self> {
        check_rows(data, rbm)?;
        let mut x = Matrix::zeros(data.rows(), rbm.n_hidden());
        rbm.hidden_input(data, &mut x);
        Ok(FlipTerms {
            rbm,
            data,
            x,
            zero: vec![0.0; rbm.n_hidden()],
            flipped: vec![0.0; rbm.n_hidden()],
        })
    }

    /// `Σ_j softplus(x_j)` of row `r`, shared by all of that row's terms.
    fn base(&self, r: usize) -> f64 {
        mathfn::softplus_sum(self.x.row(r), &self.zero, 1.0)
    }

    /// `log p(v_i | v_{-i})` for unit `unit` of row `r`, given the row's `base`.
    fn log_conditional(&mut self, r: usize, base: f64, unit: usize) -> f64 {
        log_conditional(
            self.rbm,
            self.data.row(r),
            self.x.row(r),
            base,
            unit,
            &mut self.flipped,
            &self.zero,
        )
    }
}

/// `log p(v_i | v_{-i})` for unit `unit` of the visible row `visible`, whose hidden
/// input is `x` and `Σ_j softplus(x_j)` is `base`; `flipped` and `zero` are scratch
/// and zeros of the hidden layer's width.
fn log_conditional(
    rbm: &Rbm,
    visible: &[f32],
    x: &[f32],
    base: f64,
    unit: usize,
    flipped: &mut [f32],
    zero: &[f32],
) -> f64 {
    let n = rbm.n_hidden();
    let sign = 1.0 - 2.0 * visible[unit];
    let row = &rbm.weights()[unit * n..(unit + 1) * n];
    for ((f, &xj), &w) in flipped.iter_mut().zip(x).zip(row) {
        *f = xj + sign * w;
    }
    let difference = f64::from(sign * rbm.visible_bias()[unit])
        + mathfn::softplus_sum(flipped, zero, 1.0)
        - base;
    // log σ(-d) = -softplus(d), in f64.
    -(difference.max(0.0) + libm::log1p(libm::exp(-difference.abs())))
}

fn check_rows(data: &Matrix, rbm: &Rbm) -> Result<()> {
    if data.rows() == 0 {
        return Err(RbmError::Data("no rows to evaluate".into()));
    }
    if data.cols() != rbm.n_visible() {
        return Err(RbmError::Shape(format!(
            "the data has {} pixels but the model has {} visible units",
            data.cols(),
            rbm.n_visible()
        )));
    }
    Ok(())
}

/// Mean over rows of the exact pseudo-log-likelihood (every unit's term).
pub fn pseudo_log_likelihood_exact(rbm: &Rbm, data: &Matrix) -> Result<f64> {
    let mut terms = FlipTerms::new(rbm, data)?;
    let mut total = 0.0;
    for r in 0..data.rows() {
        let base = terms.base(r);
        for unit in 0..rbm.n_visible() {
            total += terms.log_conditional(r, base, unit);
        }
    }
    Ok(total / data.rows() as f64)
}

/// Unbiased estimate of [`pseudo_log_likelihood_exact`]: one random unit per row, times m.
pub fn pseudo_log_likelihood(rbm: &Rbm, data: &Matrix, rng: &mut Rng) -> Result<f64> {
    let mut terms = FlipTerms::new(rbm, data)?;
    let m = rbm.n_visible();
    let total: f64 = (0..data.rows())
        .map(|r| {
            let unit = rng::index(rng, m);
            let base = terms.base(r);
            m as f64 * terms.log_conditional(r, base, unit)
        })
        .sum();
    Ok(total / data.rows() as f64)
}

/// Mean free energy of the rows of `data`.
pub fn mean_free_energy(rbm: &Rbm, data: &Matrix) -> Result<f64> {
    check_rows(data, rbm)?;
    Ok(rbm.free_energy(data, 1.0)?.iter().sum::<f64>() / data.rows() as f64)
}

/// Mean over rows of `p(h_j = 1 | v)` for each hidden unit.
pub fn hidden_mean_activation(rbm: &Rbm, data: &Matrix) -> Result<Vec<f32>> {
    check_rows(data, rbm)?;
    let mut prob = Matrix::zeros(data.rows(), rbm.n_hidden());
    rbm.prob_hidden_given_visible(data, 1.0, &mut prob)?;
    let mut means = vec![0.0f64; rbm.n_hidden()];
    for r in 0..prob.rows() {
        for (mean, &p) in means.iter_mut().zip(prob.row(r)) {
            *mean += f64::from(p);
        }
    }
    Ok(means
        .iter()
        .map(|&s| (s / prob.rows() as f64) as f32)
        .collect())
}

/// Work of an exact `log Z`, in softplus evaluations.
pub fn enumeration_cost(rbm: &Rbm) -> f64 {
    let (small, large) = if rbm.n_visible() <= rbm.n_hidden() {
        (rbm.n_visible(), rbm.n_hidden())
    } else {
        (rbm.n_hidden(), rbm.n_visible())
    };
    libm::exp2(small as f64) * large as f64
}

/// The first `count` rows (or all of them).
pub fn first_rows(data: &Matrix, count: usize) -> Matrix {
    let rows = count.min(data.rows());
    Matrix::from_vec(
        rows,
        data.cols(),
        data.as_slice()[..rows * data.cols()].to_vec(),
    )
    .expect("a prefix of whole rows")
}

/// One point of each learning curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Stochastic pseudo-log-likelihood on up to [`EVALUATION_ROWS`] training rows.
    pub pseudo_log_likelihood: f64,
    /// Exact mean `log p(v)` on the training set, when affordable.
    pub log_likelihood_train: Option<f64>,
    /// Exact mean `log p(v)` on the held-out set, when affordable and present.
    pub log_likelihood_held_out: Option<f64>,
    /// Mean free energy of the held-out rows minus that of as many training rows
    /// (Hinton's overfitting monitor: it grows as the model overfits).
    pub free_energy_gap: Option<f64>,
    /// Why the exact log-likelihood is missing, if it is.
    pub exact_unavailable: Option<String>,
}

/// Evaluates `rbm` on its training data and an optional held-out set, all at once
/// (the page runs the same computation in slices through [`EvaluationJob`]).
pub fn evaluate(
    rbm: &Rbm,
    train: &Matrix,
    held_out: Option<&Matrix>,
    rng: &mut Rng,
) -> Result<Evaluation> {
    let mut job = EvaluationJob::new(rbm.clone(), train, held_out, rng)?;
    while !job.advance(train, held_out, f64::INFINITY)? {}
    job.result()
}

/// Where a sliced evaluation stands: which rows of which set come next.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    /// Pseudo-log-likelihood and hidden activity on the first rows of the training set.
    Pseudo,
    /// Free energies of the held-out rows, then of as many training rows.
    HeldOutEnergy,
    TrainEnergy,
    /// Exact log-likelihood: log Z, then the free energies of every row of each set.
    LogPartition,
    ExactTrain,
    ExactHeldOut,
    Done,
}

/// One point of the learning curves, computed a few rows at a time so that a large
/// model's evaluation never blocks its caller for longer than it chooses. The model is
/// a snapshot taken at the start; the data are passed to each call (they must be the
/// same each time: their row counts are checked). Run to the end it gives exactly what
/// [`evaluate`] gives.
pub struct EvaluationJob {
    model: Rbm,
    stage: Stage,
    row: usize,
    subset_rows: usize,
    held_out_rows: usize,
    train_rows: usize,
    /// The unit whose conditional each subset row contributes (drawn at the start).
    units: Vec<usize>,
    pseudo_sum: f64,
    activation_sums: Vec<f64>,
    held_out_energy: f64,
    train_energy: f64,
    exact: bool,
    log_z: f64,
    exact_train: f64,
    exact_held_out: f64,
    // Scratch: hidden inputs of a chunk of rows, and one flipped row.
    x: Matrix,
    flipped: Vec<f32>,
    zero: Vec<f32>,
}

impl EvaluationJob {
    /// Starts evaluating `model` on `train` (and `held_out`): the random units of the
    /// stochastic pseudo-log-likelihood are drawn from `rng` here, one per row in order.
    pub fn new(
        model: Rbm,
        train: &Matrix,
        held_out: Option<&Matrix>,
        rng: &mut Rng,
    ) -> Result<Self> {
        check_rows(train, &model)?;
        if let Some(h) = held_out.filter(|h| h.rows() > train.rows()) {
            return Err(RbmError::Data(format!(
                "the held-out set ({} rows) is larger than the training set ({})",
                h.rows(),
                train.rows()
            )));
        }
        let subset_rows = EVALUATION_ROWS.min(train.rows());
        let m = model.n_visible();
        let units = (0..subset_rows).map(|_| rng::index(rng, m)).collect();
        Self::with_units(model, train, held_out, units)
    }

    /// [`EvaluationJob::new`] with the pseudo-likelihood's units given.
    fn with_units(
        model: Rbm,
        train: &Matrix,
        held_out: Option<&Matrix>,
        units: Vec<usize>,
    ) -> Result<Self> {
        check_rows(train, &model)?;
        let held_out_rows = match held_out.filter(|h| h.rows() > 0) {
            Some(h) => {
                check_rows(h, &model)?;
                h.rows()
            }
            None => 0,
        };
        let subset_rows = EVALUATION_ROWS.min(train.rows());
        if units.len() != subset_rows {
            return Err(bad(format!(
                "{} units drawn for {subset_rows} rows",
                units.len()
            )));
        }
        let n = model.n_hidden();
        let small = model.n_visible().min(n);
        let exact =
            small <= exact::MAX_ENUMERATED_UNITS && enumeration_cost(&model) <= EXACT_BUDGET;
        Ok(EvaluationJob {
            stage: Stage::Pseudo,
            row: 0,
            subset_rows,
            held_out_rows,
            train_rows: train.rows(),
            units,
            pseudo_sum: 0.0,
            activation_sums: vec![0.0; n],
            held_out_energy: 0.0,
            train_energy: 0.0,
            exact,
            log_z: 0.0,
            exact_train: 0.0,
            exact_held_out: 0.0,
            x: Matrix::zeros(0, n),
            flipped: vec![0.0; n],
            zero: vec![0.0; n],
            model,
        })
    }

    /// True once every part is computed.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Computes about `flop_budget` operations' worth (at least one row, or log Z
    /// whole) and returns whether the evaluation is complete.
    pub fn advance(
        &mut self,
        train: &Matrix,
        held_out: Option<&Matrix>,
        flop_budget: f64,
    ) -> Result<bool> {
        let train_short = if self.exact {
            train.rows() != self.train_rows
        } else {
            train.rows() < self.train_rows_needed()
        };
        if train_short || held_out.map_or(0, |h| h.rows()) != self.held_out_rows {
            return Err(RbmError::Data(
                "the evaluation's data changed while it ran".into(),
            ));
        }
        let (m, n) = (self.model.n_visible(), self.model.n_hidden());
        let per_row =
            crate::cost::free_energy(1, m, n) + 2.0 * n as f64 * crate::cost::TRANSCENDENTAL;
        // A budget of NaN (or below zero) buys the one piece every call makes.
        let mut budget = if flop_budget > 0.0 { flop_budget } else { 0.0 };
        loop {
            let (set, end) = match self.stage {
                Stage::Pseudo => (Some(train), self.subset_rows),
                Stage::HeldOutEnergy | Stage::ExactHeldOut => (held_out, self.held_out_rows),
                Stage::TrainEnergy => (Some(train), self.held_out_rows),
                Stage::ExactTrain => (Some(train), self.train_rows),
                Stage::LogPartition => {
                    self.log_z = exact::log_partition(&self.model, 1.0)?;
                    budget -= enumeration_cost(&self.model) * crate::cost::TRANSCENDENTAL;
                    self.next_stage();
                    if budget <= 0.0 {
                        return Ok(self.is_done());
                    }
                    continue;
                }
                Stage::Done => return Ok(true),
            };
            let Some(set) = set.filter(|_| self.row < end) else {
                self.next_stage();
                continue;
            };
            let chunk = ((budget / per_row).floor().max(1.0) as usize).min(end - self.row);
            let rows = Matrix::from_vec(
                chunk,
                m,
                set.as_slice()[self.row * m..(self.row + chunk) * m].to_vec(),
            )
            .ok_or_else(|| RbmError::Data("evaluation chunk".into()))?;
            self.model.hidden_input(&rows, &mut self.x);
            for r in 0..chunk {
                self.add_row(&rows, r);
            }
            self.row += chunk;
            budget -= chunk as f64 * per_row;
            if self.row == end {
                self.next_stage();
            }
            if budget <= 0.0 || self.is_done() {
                return Ok(self.is_done());
            }
        }
    }

    fn next_stage(&mut self) {
        self.row = 0;
        self.stage = match self.stage {
            Stage::Pseudo if self.held_out_rows > 0 => Stage::HeldOutEnergy,
            Stage::Pseudo | Stage::TrainEnergy if self.exact => Stage::LogPartition,
            Stage::Pseudo | Stage::TrainEnergy => Stage::Done,
            Stage::HeldOutEnergy => Stage::TrainEnergy,
            Stage::LogPartition => Stage::ExactTrain,
            Stage::ExactTrain if self.held_out_rows > 0 => Stage::ExactHeldOut,
            Stage::ExactTrain | Stage::ExactHeldOut | Stage::Done => Stage::Done,
        };
        if self.stage == Stage::TrainEnergy {
            // The first rows were counted with the pseudo-likelihood's.
            self.row = self.subset_rows.min(self.held_out_rows);
        }
    }

    /// Adds row `r` of `rows` (whose hidden inputs are in `self.x`) to the current stage.
    fn add_row(&mut self, rows: &Matrix, r: usize) {
        let x = self.x.row(r);
        let visible = rows.row(r);
        let hidden_sum = mathfn::softplus_sum(x, &self.zero, 1.0);
        // F(v) = -bᵀv - Σ_j softplus(x_j), as Rbm::free_energy computes it.
        let free_energy = || -dot64(self.model.visible_bias(), visible) - hidden_sum;
        match self.stage {
            Stage::Pseudo => {
                let m = self.model.n_visible();
                let unit = self.units[self.row + r];
                let term = log_conditional(
                    &self.model,
                    visible,
                    x,
                    hidden_sum,
                    unit,
                    &mut self.flipped,
                    &self.zero,
                );
                self.pseudo_sum += m as f64 * term;
                for (sum, &xj) in self.activation_sums.iter_mut().zip(x) {
                    *sum += f64::from(mathfn::sigmoid(xj));
                }
                // These rows begin the training rows of the free-energy gap: their hidden
                // inputs are at hand (the sum is added in the same row order as before).
                if self.row + r < self.held_out_rows {
                    self.train_energy += free_energy();
                }
            }
            Stage::HeldOutEnergy => self.held_out_energy += free_energy(),
            Stage::TrainEnergy => self.train_energy += free_energy(),
            Stage::ExactTrain => self.exact_train += free_energy(),
            Stage::ExactHeldOut => self.exact_held_out += free_energy(),
            Stage::LogPartition | Stage::Done => {}
        }
    }

    /// The finished point; an error before [`EvaluationJob::advance`] returned true.
    pub fn result(&self) -> Result<Evaluation> {
        if !self.is_done() {
            return Err(RbmError::Data("the evaluation has not finished".into()));
        }
        let held = self.held_out_rows as f64;
        let has_held_out = self.held_out_rows > 0;
        let (log_likelihood_train, log_likelihood_held_out, exact_unavailable) = if self.exact {
            (
                Some(-self.exact_train / self.train_rows as f64 - self.log_z),
                has_held_out.then(|| -self.exact_held_out / held - self.log_z),
                None,
            )
        } else {
            let small = self.model.n_visible().min(self.model.n_hidden());
            let reason = format!(
                "exact log-likelihood needs 2^{small} states of {} units each; shown only up to 2^24 work \
                 (for example at most 14 hidden units on 784 pixels)",
                self.model.n_visible().max(self.model.n_hidden())
            );
            (None, None, Some(reason))
        };
        Ok(Evaluation {
            pseudo_log_likelihood: self.pseudo_sum / self.subset_rows as f64,
            log_likelihood_train,
            log_likelihood_held_out,
            free_energy_gap: has_held_out
                .then(|| self.held_out_energy / held - self.train_energy / held),
            exact_unavailable,
        })
    }

    /// Mean `p(h_j = 1 | v)` of each hidden unit over the rows of the pseudo-likelihood
    /// stage (the first [`EVALUATION_ROWS`] training rows), once the job is done.
    pub fn hidden_mean_activation(&self) -> Vec<f32> {
        self.activation_sums
            .iter()
            .map(|&s| (s / self.subset_rows as f64) as f32)
            .collect()
    }
}

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

const TASK_MAGIC: &[u8; 4] = b"RBMV";
const SUMS_MAGIC: &[u8; 4] = b"RBMU";
const DATA_MAGIC: &[u8; 4] = b"RBMD";

/// The rows an evaluation reads, as a helper worker keeps them between evaluations:
/// the first training rows it needs ([`EvaluationJob::train_rows_needed`]) and the
/// held-out set.
pub struct EvaluationData {
    pub train: Matrix,
    pub held_out: Option<Matrix>,
}

impl EvaluationData {
    /// The first `train_rows` rows of `train` and all of `held_out` as bytes (magic
    /// `RBMD`): the sizes, then the values.
    pub fn to_bytes(train: &Matrix, train_rows: usize, held_out: Option<&Matrix>) -> Vec<u8> {
        let rows = train_rows.min(train.rows());
        let held_rows = held_out.map_or(0, |h| h.rows());
        let mut w = snapshot::Writer::new(DATA_MAGIC);
        w.u64(train.cols() as u64);
        w.u64(rows as u64);
        w.u64(held_rows as u64);
        w.f32s(&train.as_slice()[..rows * train.cols()]);
        if let Some(h) = held_out {
            w.f32s(h.as_slice());
        }
        w.finish()
    }

    /// [`EvaluationData::to_bytes`] read back: every value a probability.
    pub fn from_bytes(bytes: &[u8]) -> Result<EvaluationData> {
        let mut r = snapshot::Reader::new(bytes, DATA_MAGIC, "evaluation's data")?;
        let cols = r.count("the pixels", crate::limits::MAX_UNITS as u64)?;
        let rows = r.count("the training rows", u32::MAX.into())?;
        let held_rows = r.count("the held-out rows", u32::MAX.into())?;
        if cols == 0 || rows == 0 {
            return Err(bad("an evaluation needs training rows"));
        }
        let train = r.probability_matrix("the training rows", rows, cols)?;
        let held_out = match held_rows {
            0 => None,
            count => Some(r.probability_matrix("the held-out rows", count, cols)?),
        };
        r.finish()?;
        Ok(EvaluationData { train, held_out })
    }
}

impl EvaluationJob {
    /// The training rows the job reads: all of them for the exact log-likelihood,
    /// else the pseudo-likelihood's and as many as the held-out set has.
    pub fn train_rows_needed(&self) -> usize {
        if self.exact {
            self.train_rows
        } else {
            self.subset_rows.max(self.held_out_rows)
        }
    }

    /// The job as it was started, as bytes for another worker (magic `RBMV`): the
    /// sizes, the row counts, whether it is exact, the units drawn for the
    /// pseudo-likelihood and the parameters. Only a job not yet advanced can be sent.
    pub fn task_bytes(&self) -> Result<Vec<u8>> {
        if self.stage != Stage::Pseudo || self.row != 0 {
            return Err(bad("an evaluation under way cannot move to another worker"));
        }
        let mut w = snapshot::Writer::new(TASK_MAGIC);
        for value in [
            self.model.n_visible(),
            self.model.n_hidden(),
            self.subset_rows,
            self.held_out_rows,
            self.train_rows,
            usize::from(self.exact),
        ] {
            w.u64(value as u64);
        }
        w.u32s(self.units.iter().map(|&u| u as u32));
        w.parameters(&self.model);
        Ok(w.finish())
    }

    /// [`EvaluationJob::task_bytes`] read back and checked against the rows `data`
    /// holds: the same job, so run to the end it gives the same sums to the bit.
    pub fn from_task_bytes(bytes: &[u8], data: &EvaluationData) -> Result<EvaluationJob> {
        let mut r = snapshot::Reader::new(bytes, TASK_MAGIC, "evaluation task")?;
        let units_limit = crate::limits::MAX_UNITS as u64;
        let m = r.count("the visible units", units_limit)?;
        let n = r.count("the hidden units", units_limit)?;
        let subset_rows = r.count("the pseudo-likelihood's rows", EVALUATION_ROWS as u64)?;
        let held_out_rows = r.count("the held-out rows", u32::MAX.into())?;
        let train_rows = r.count("the training rows", u32::MAX.into())?;
        let exact = match r.u64()? {
            0 => false,
            1 => true,
            _ => return Err(bad("the task's exact flag is not 0 or 1")),
        };
        let units = r.u32s("the units", subset_rows)?;
        if let Some(u) = units.iter().find(|&&u| u as usize >= m) {
            return Err(bad(format!("unit {u} is past the {m} visible units")));
        }
        let model = r.parameters(m, n)?;
        r.finish()?;
        let mut job = EvaluationJob::with_units(
            model,
            &data.train,
            data.held_out.as_ref(),
            units.into_iter().map(|u| u as usize).collect(),
        )?;
        // The job's own counts, checked against what the rows allow.
        if job.subset_rows != subset_rows
            || job.held_out_rows != held_out_rows
            || train_rows < data.train.rows()
            || job.exact != exact
            || (exact && train_rows != data.train.rows())
        {
            return Err(bad(
                "the evaluation task does not fit the rows this worker holds",
            ));
        }
        job.train_rows = train_rows;
        Ok(job)
    }

    /// A finished job's sums as bytes (magic `RBMU`), for the worker that sent it.
    pub fn sums_bytes(&self) -> Result<Vec<u8>> {
        if !self.is_done() {
            return Err(bad("the evaluation has not finished"));
        }
        let mut w = snapshot::Writer::new(SUMS_MAGIC);
        w.u64(self.activation_sums.len() as u64);
        for value in [
            self.pseudo_sum,
            self.held_out_energy,
            self.train_energy,
            self.log_z,
            self.exact_train,
            self.exact_held_out,
        ]
        .iter()
        .chain(&self.activation_sums)
        {
            w.u64(value.to_bits());
        }
        Ok(w.finish())
    }

    /// The sums of this job computed elsewhere ([`EvaluationJob::sums_bytes`]), checked
    /// (finite; each activation sum between 0 and the rows; a pseudo-log-likelihood at
    /// most 0): the job is then done, as if it had run here.
    pub fn accept_sums(&mut self, bytes: &[u8]) -> Result<()> {
        let mut r = snapshot::Reader::new(bytes, SUMS_MAGIC, "evaluation's sums")?;
        let n = r.count("the hidden units", crate::limits::MAX_UNITS as u64)?;
        if n != self.activation_sums.len() {
            return Err(bad(format!(
                "the sums are for {n} hidden units; the model has {}",
                self.activation_sums.len()
            )));
        }
        let mut values = Vec::with_capacity(6 + n);
        for _ in 0..6 + n {
            values.push(f64::from_bits(r.u64()?));
        }
        r.finish()?;
        let rows = self.subset_rows as f64;
        let activity_ok = values[6..].iter().all(|&a| (0.0..=rows).contains(&a));
        if !(values.iter().all(|v| v.is_finite()) && values[0] <= 0.0 && activity_ok) {
            return Err(bad("the evaluation's sums are out of range"));
        }
        [
            self.pseudo_sum,
            self.held_out_energy,
            self.train_energy,
            self.log_z,
            self.exact_train,
            self.exact_held_out,
        ] = [
            values[0], values[1], values[2], values[3], values[4], values[5],
        ];
        self.activation_sums = values.split_off(6);
        self.stage = Stage::Done;
        Ok(())
    }
}
