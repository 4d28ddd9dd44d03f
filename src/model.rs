//! The Bernoulli–Bernoulli RBM: parameters, energy, free energy and the two conditionals.
//!
//! With visible units v ∈ {0,1}^m and hidden units h ∈ {0,1}^n the energy is
//! `E(v, h) = -vᵀW h - bᵀv - cᵀh`, and at inverse temperature β the model is
//! `p_β(v, h) = exp(-β E(v, h)) / Z(β)`. Because no two units of a layer interact,
//! each layer is independent given the other:
//! `p_β(h_j = 1 | v) = σ(β (c_j + Σ_i v_i W_ij))` and
//! `p_β(v_i = 1 | h) = σ(β (b_i + Σ_j W_ij h_j))`.

use crate::error::{RbmError, Result};
use crate::linalg::{
    all_finite, gemm_packed, transpose_into, with_wide_vectors, Matrix, Prepared, Strided,
};
use crate::mathfn;
use crate::rng::{self, Rng};

/// Pixel means are clipped to [CLIP, 1 - CLIP] before the log-odds, so an always-off
/// pixel gets a large negative bias instead of minus infinity.
const MEAN_CLIP: f64 = 1e-3;
/// Standard deviation of the initial weights (Hinton's practical guide, section 8).
const INITIAL_WEIGHT_STD: f64 = 0.01;
/// The largest layer this engine accepts, and the largest weight matrix.
pub use crate::limits::MAX_UNITS;
pub const MAX_WEIGHTS: usize = 1 << 24;

/// RBM parameters.
///
/// Layout: `weights` is m x n row-major, `weights[i * n + j]` couples visible unit i
/// and hidden unit j; `visible_bias` (b) has m entries, `hidden_bias` (c) has n. A
/// transposed copy of the weights (n x m) is kept in step so that both conditionals
/// are products with a row-major right operand; the kernels prepare both on first use
/// after each change ([`Prepared`]).
#[derive(Clone, Debug)]
pub struct Rbm {
    n_visible: usize,
    n_hidden: usize,
    weights: Vec<f32>,
    weights_t: Vec<f32>,
    visible_bias: Vec<f32>,
    hidden_bias: Vec<f32>,
    /// Made of `weights` (for `hidden_input`) and of `weights_t` (`visible_input`).
    prepared: Prepared,
    prepared_t: Prepared,
}

/// Two models are equal when their parameters are (what is prepared is a cache).
impl PartialEq for Rbm {
    fn eq(&self, other: &Rbm) -> bool {
        self.n_visible == other.n_visible
            && self.n_hidden == other.n_hidden
            && self.weights == other.weights
            && self.visible_bias == other.visible_bias
            && self.hidden_bias == other.hidden_bias
    }
}

impl Rbm {
    /// An RBM with all parameters zero.
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self> {
        check_sizes(n_visible as u64, n_hidden as u64)?;
        Ok(Rbm {
            n_visible,
            n_hidden,
            weights: vec![0.0; n_visible * n_hidden],
            weights_t: vec![0.0; n_visible * n_hidden],
            visible_bias: vec![0.0; n_visible],
            hidden_bias: vec![0.0; n_hidden],
            prepared: Prepared::default(),
            prepared_t: Prepared::default(),
        })
    }

    /// An RBM from its parameters, checked for size and finiteness.
    pub fn from_parts(
        n_visible: usize,
        n_hidden: usize,
        weights: Vec<f32>,
        visible_bias: Vec<f32>,
        hidden_bias: Vec<f32>,
    ) -> Result<Self> {
        let parts = named_parts(&weights, &visible_bias, &hidden_bias);
        check_part_sizes(n_visible, n_hidden, &parts)?;
        for (name, values) in parts {
            // (all_finite looks at every value, sixteen at a time; only a failure is
            // searched.)
            if !all_finite(values) {
                let i = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
                return Err(RbmError::Shape(format!("{name}[{i}] is not finite")));
            }
        }
        Ok(Rbm::assembled(
            n_visible,
            n_hidden,
            weights,
            visible_bias,
            hidden_bias,
        ))
    }

    /// [`Rbm::from_parts`] for values already known to be finite (read back within a
    /// bound, say): the sizes are checked, the values not again. A helper worker
    /// reads 392,000 weights per update this way.
    pub(crate) fn from_finite_parts(
        n_visible: usize,
        n_hidden: usize,
        weights: Vec<f32>,
        visible_bias: Vec<f32>,
        hidden_bias: Vec<f32>,
    ) -> Result<Self> {
        let parts = named_parts(&weights, &visible_bias, &hidden_bias);
        check_part_sizes(n_visible, n_hidden, &parts)?;
        Ok(Rbm::assembled(
            n_visible,
            n_hidden,
            weights,
            visible_bias,
            hidden_bias,
        ))
    }

    /// The model of parameters whose sizes have been checked.
    fn assembled(
        n_visible: usize,
        n_hidden: usize,
        weights: Vec<f32>,
        visible_bias: Vec<f32>,
        hidden_bias: Vec<f32>,
    ) -> Rbm {
        let mut rbm = Rbm {
            n_visible,
            n_hidden,
            weights,
            weights_t: vec![0.0; n_visible * n_hidden],
            visible_bias,
            hidden_bias,
            prepared: Prepared::default(),
            prepared_t: Prepared::default(),
        };
        rbm.refresh_transpose();
        rbm
    }

    /// Initialisation from Hinton's practical guide: `W ~ N(0, 0.01²)`,
    /// `b_i = log(p_i / (1 - p_i))` where p_i is the fraction of training examples
    /// with pixel i on (clipped to [0.001, 0.999]), and `c = 0`.
    pub fn init_for_data(data: &Matrix, n_hidden: usize, rng: &mut Rng) -> Result<Self> {
        if data.rows() == 0 {
            return Err(RbmError::Data("the training set is empty".into()));
        }
        let mut rbm = Rbm::zeros(data.cols(), n_hidden)?;
        for w in &mut rbm.weights {
            *w = (INITIAL_WEIGHT_STD * rng::standard_normal(rng)) as f32;
        }
        let mut on_counts = vec![0.0f64; data.cols()];
        for r in 0..data.rows() {
            for (count, &v) in on_counts.iter_mut().zip(data.row(r)) {
                *count += f64::from(v);
            }
        }
        for (bias, count) in rbm.visible_bias.iter_mut().zip(on_counts) {
            let p = (count / data.rows() as f64).clamp(MEAN_CLIP, 1.0 - MEAN_CLIP);
            *bias = libm::log(p / (1.0 - p)) as f32;
        }
        rbm.refresh_transpose();
        Ok(rbm)
    }

    pub fn n_visible(&self) -> usize {
        self.n_visible
    }

    pub fn n_hidden(&self) -> usize {
        self.n_hidden
    }

    /// m x n row-major; see the type's layout note.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// n x m row-major: `weights_transposed()[j * m + i] == weights()[i * n + j]`.
    pub fn weights_transposed(&self) -> &[f32] {
        &self.weights_t
    }

    pub fn visible_bias(&self) -> &[f32] {
        &self.visible_bias
    }

    pub fn hidden_bias(&self) -> &[f32] {
        &self.hidden_bias
    }

    /// Mutable access to all parameters at once; the transposed copy is refreshed after `edit`.
    pub fn update_parameters<R>(
        &mut self,
        edit: impl FnOnce(&mut [f32], &mut [f32], &mut [f32]) -> R,
    ) -> R {
        let result = edit(
            &mut self.weights,
            &mut self.visible_bias,
            &mut self.hidden_bias,
        );
        self.refresh_transpose();
        result
    }

    fn refresh_transpose(&mut self) {
        self.prepared = Prepared::default();
        self.prepared_t = Prepared::default();
        transpose_into(
            self.n_visible,
            self.n_hidden,
            &self.weights,
            &mut self.weights_t,
        );
    }

    /// `β E(v, h)` for one visible and one hidden vector: the exponent whose negative
    /// exponential is the unnormalised `p_β(v, h)`. Computed in f64.
    pub fn energy(&self, visible: &[f32], hidden: &[f32], beta: f64) -> f64 {
        let n = self.n_hidden;
        let mut coupling = 0.0f64;
        for (i, &v) in visible.iter().enumerate().take(self.n_visible) {
            if v != 0.0 {
                let row = &self.weights[i * n..(i + 1) * n];
                let dot = dot64(row, hidden);
                coupling += f64::from(v) * dot;
            }
        }
        let visible_term: f64 = dot64(&self.visible_bias, visible);
        let hidden_term: f64 = dot64(&self.hidden_bias, hidden);
        -beta * (coupling + visible_term + hidden_term)
    }

    /// Free energy at inverse temperature β of each row of `visible`:
    /// `F_β(v) = -log Σ_h exp(-β E(v, h)) = -β bᵀv - Σ_j softplus(β (c_j + (vᵀW)_j))`.
    /// At β = 1 this is the usual free energy, with `p(v) = exp(-F(v)) / Z`.
    /// The mean free energy over the rows of `visible` (an error when there are none).
    pub fn mean_free_energy(&self, visible: &Matrix, beta: f32) -> Result<f64> {
        if visible.rows() == 0 {
            return Err(RbmError::Data("the data set is empty".into()));
        }
        let free_energy = self.free_energy(visible, beta)?;
        Ok(free_energy.iter().sum::<f64>() / free_energy.len() as f64)
    }

    pub fn free_energy(&self, visible: &Matrix, beta: f32) -> Result<Vec<f64>> {
        self.check_width("visible", visible, self.n_visible)?;
        let mut hidden_input = Matrix::zeros(visible.rows(), self.n_hidden);
        self.hidden_input(visible, &mut hidden_input);
        let zero_bias = vec![0.0f32; self.n_hidden];
        Ok((0..visible.rows())
            .map(|r| {
                let visible_term = f64::from(beta) * dot64(&self.visible_bias, visible.row(r));
                -visible_term - mathfn::softplus_sum(hidden_input.row(r), &zero_bias, beta)
            })
            .collect())
    }

    /// `out <- c + V W` (rows x n): the total input to each hidden unit.
    pub fn hidden_input(&self, visible: &Matrix, out: &mut Matrix) {
        let (rows, m, n) = (visible.rows(), self.n_visible, self.n_hidden);
        out.resize_rows(rows);
        gemm_packed(
            rows,
            m,
            n,
            Strided::rows(visible.as_slice(), m),
            &self.weights,
            Some(&self.prepared),
            out.as_mut_slice(),
            false,
        );
        for r in 0..rows {
            for (x, &c) in out.row_mut(r).iter_mut().zip(&self.hidden_bias) {
                *x += c;
            }
        }
    }

    /// `out <- b + H Wᵀ` (rows x m): the total input to each visible unit.
    pub fn visible_input(&self, hidden: &Matrix, out: &mut Matrix) {
        let (rows, m, n) = (hidden.rows(), self.n_visible, self.n_hidden);
        out.resize_rows(rows);
        gemm_packed(
            rows,
            n,
            m,
            Strided::rows(hidden.as_slice(), n),
            &self.weights_t,
            Some(&self.prepared_t),
            out.as_mut_slice(),
            false,
        );
        for r in 0..rows {
            for (x, &b) in out.row_mut(r).iter_mut().zip(&self.visible_bias) {
                *x += b;
            }
        }
    }

    /// `out[r, j] = p_β(h_j = 1 | v = visible[r])`.
    pub fn prob_hidden_given_visible(
        &self,
        visible: &Matrix,
        beta: f32,
        out: &mut Matrix,
    ) -> Result<()> {
        self.check_width("visible", visible, self.n_visible)?;
        self.check_width("hidden output", out, self.n_hidden)?;
        self.hidden_input(visible, out);
        squash_in_place(out.as_mut_slice(), beta);
        Ok(())
    }

    /// `out[r, i] = p_β(v_i = 1 | h = hidden[r])`.
    pub fn prob_visible_given_hidden(
        &self,
        hidden: &Matrix,
        beta: f32,
        out: &mut Matrix,
    ) -> Result<()> {
        self.check_width("hidden", hidden, self.n_hidden)?;
        self.check_width("visible output", out, self.n_visible)?;
        self.visible_input(hidden, out);
        squash_in_place(out.as_mut_slice(), beta);
        Ok(())
    }

    fn check_width(&self, what: &str, matrix: &Matrix, width: usize) -> Result<()> {
        if matrix.cols() == width {
            Ok(())
        } else {
            Err(RbmError::Shape(format!(
                "{what} has {} columns but the model has {width} units there",
                matrix.cols()
            )))
        }
    }

    /// True when every parameter is finite and below `limit` in magnitude.
    pub fn is_sane(&self, limit: f32) -> bool {
        self.weights
            .iter()
            .chain(&self.visible_bias)
            .chain(&self.hidden_bias)
            .all(|v| v.abs() <= limit)
    }
}

fn squash_in_place(values: &mut [f32], beta: f32) {
    with_wide_vectors(
        #[inline(always)]
        || {
            for x in values {
                *x = mathfn::sigmoid(beta * *x);
            }
        },
    );
}

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// A model's three parameter vectors with the names its messages give them.
fn named_parts<'a>(
    weights: &'a [f32],
    visible_bias: &'a [f32],
    hidden_bias: &'a [f32],
) -> [(&'static str, &'a [f32]); 3] {
    [
        ("weights", weights),
        ("visible_bias", visible_bias),
        ("hidden_bias", hidden_bias),
    ]
}

/// [`named_parts`] checked against the model's sizes.
fn check_part_sizes(n_visible: usize, n_hidden: usize, parts: &[(&str, &[f32]); 3]) -> Result<()> {
    check_sizes(n_visible as u64, n_hidden as u64)?;
    let wanted = [n_visible * n_hidden, n_visible, n_hidden];
    for ((what, values), want) in parts.iter().zip(wanted) {
        if values.len() != want {
            return Err(RbmError::Shape(format!(
                "{what} has {} values, expected {want}",
                values.len()
            )));
        }
    }
    Ok(())
}

/// Layer sizes from anywhere (a file, JS): each in range and their product checked
/// without wrapping (see [`crate::size`]).
pub fn check_sizes(n_visible: u64, n_hidden: u64) -> Result<(usize, usize)> {
    let allowed = format!("between 1 and {MAX_UNITS}");
    let layer = |name: &'static str, units: u64| {
        if (1..=MAX_UNITS as u64).contains(&units) {
            Ok(units as usize)
        } else {
            Err(RbmError::setting(name, units, allowed.clone()))
        }
    };
    let (m, n) = (layer("n_visible", n_visible)?, layer("n_hidden", n_hidden)?);
    match crate::size::product(&[n_visible, n_hidden]) {
        Some(weights) if weights <= MAX_WEIGHTS => Ok((m, n)),
        _ => Err(RbmError::setting(
            "n_visible x n_hidden",
            format!("{n_visible} x {n_hidden}"),
            format!("at most {MAX_WEIGHTS} weights"),
        )),
    }
}

/// A set of block-Gibbs chains, one per row: the visible and hidden states and the
/// conditional probabilities from which they were last drawn.
#[derive(Clone, Debug)]
pub struct GibbsChains {
    pub visible: Matrix,
    pub hidden: Matrix,
    pub visible_prob: Matrix,
    pub hidden_prob: Matrix,
}

impl GibbsChains {
    /// Chains whose visible state is `start` (hidden state zero until the first step).
    pub fn from_visible(rbm: &Rbm, start: Matrix) -> Result<Self> {
        rbm.check_width("chain start", &start, rbm.n_visible)?;
        let rows = start.rows();
        Ok(GibbsChains {
            visible_prob: start.clone(),
            visible: start,
            hidden: Matrix::zeros(rows, rbm.n_hidden),
            hidden_prob: Matrix::zeros(rows, rbm.n_hidden),
        })
    }

    /// `count` chains started from independent uniform random visible states.
    pub fn random(rbm: &Rbm, count: usize, rng: &mut Rng) -> Self {
        let mut start = Matrix::zeros(count, rbm.n_visible);
        let half = vec![0.5f32; start.as_slice().len()];
        rng::sample_bernoulli(rng, &half, start.as_mut_slice());
        GibbsChains::from_visible(rbm, start).expect("width matches by construction")
    }

    pub fn len(&self) -> usize {
        self.visible.rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Half step: `hidden_prob <- p_β(h | visible)`, `hidden ~ hidden_prob`.
    pub fn sample_hidden(&mut self, rbm: &Rbm, beta: f32, rng: &mut Rng) {
        self.refresh_hidden_prob(rbm, beta);
        rng::sample_bernoulli(rng, self.hidden_prob.as_slice(), self.hidden.as_mut_slice());
    }

    /// Half step: `visible_prob <- p_β(v | hidden)`, `visible ~ visible_prob`.
    pub fn sample_visible(&mut self, rbm: &Rbm, beta: f32, rng: &mut Rng) {
        rbm.visible_input(&self.hidden, &mut self.visible_prob);
        squash_in_place(self.visible_prob.as_mut_slice(), beta);
        rng::sample_bernoulli(
            rng,
            self.visible_prob.as_slice(),
            self.visible.as_mut_slice(),
        );
    }

    /// `steps` full block-Gibbs steps, v -> h -> v, on every chain.
    pub fn run(&mut self, rbm: &Rbm, steps: usize, beta: f32, rng: &mut Rng) {
        for _ in 0..steps {
            self.sample_hidden(rbm, beta, rng);
            self.sample_visible(rbm, beta, rng);
        }
    }

    /// `hidden_prob <- p_β(h | visible)` without sampling: the Rao–Blackwellised hidden
    /// statistics of the current visible states.
    pub fn refresh_hidden_prob(&mut self, rbm: &Rbm, beta: f32) {
        rbm.hidden_input(&self.visible, &mut self.hidden_prob);
        squash_in_place(self.hidden_prob.as_mut_slice(), beta);
    }
}
