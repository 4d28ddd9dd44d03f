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
        let n = self.rbm.n_hidden();
        let sign = 1.0 - 2.0 * self.data.row(r)[unit];
        let row = &self.rbm.weights()[unit * n..(unit + 1) * n];
        for ((f, &xj), &w) in self.flipped.iter_mut().zip(self.x.row(r)).zip(row) {
            *f = xj + sign * w;
        }
        let difference = f64::from(sign * self.rbm.visible_bias()[unit])
            + mathfn::softplus_sum(&self.flipped, &self.zero, 1.0)
            - base;
        // log σ(-d) = -softplus(d), in f64.
        -(difference.max(0.0) + libm::log1p(libm::exp(-difference.abs())))
    }
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

/// Evaluates `rbm` on its training data and an optional held-out set.
pub fn evaluate(
    rbm: &Rbm,
    train: &Matrix,
    held_out: Option<&Matrix>,
    rng: &mut Rng,
) -> Result<Evaluation> {
    let subset = first_rows(train, EVALUATION_ROWS);
    let pseudo_log_likelihood = pseudo_log_likelihood(rbm, &subset, rng)?;
    let held_out = held_out.filter(|h| h.rows() > 0);
    let free_energy_gap = match held_out {
        Some(h) => {
            let same_size = first_rows(train, h.rows());
            Some(mean_free_energy(rbm, h)? - mean_free_energy(rbm, &same_size)?)
        }
        None => None,
    };
    let cost = enumeration_cost(rbm);
    let small = rbm.n_visible().min(rbm.n_hidden());
    let (log_likelihood_train, log_likelihood_held_out, exact_unavailable) = if small
        <= exact::MAX_ENUMERATED_UNITS
        && cost <= EXACT_BUDGET
    {
        let log_z = exact::log_partition(rbm, 1.0)?;
        let mean_ll = |data: &Matrix| -> Result<f64> { Ok(-mean_free_energy(rbm, data)? - log_z) };
        (
            Some(mean_ll(train)?),
            held_out.map(mean_ll).transpose()?,
            None,
        )
    } else {
        let reason = format!(
                "exact log-likelihood needs 2^{small} states of {} units each; shown only up to 2^24 work \
                 (for example at most 14 hidden units on 784 pixels)",
                rbm.n_visible().max(rbm.n_hidden())
            );
        (None, None, Some(reason))
    };
    Ok(Evaluation {
        pseudo_log_likelihood,
        log_likelihood_train,
        log_likelihood_held_out,
        free_energy_gap,
        exact_unavailable,
    })
}
