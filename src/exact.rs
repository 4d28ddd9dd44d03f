//! Exact quantities by enumerating every state of the smaller layer.
//!
//! Summing out the other layer in closed form, the unnormalised log-probability of a
//! state s of the enumerated layer (bias a, the other layer's bias d, couplings K) is
//! `β aᵀs + Σ_b softplus(β (d_b + (sᵀK)_b))`. For the visible layer that is `-F_β(v)`;
//! `log Z(β)` is the log-sum-exp over all 2^e states. States are visited in Gray-code
//! order, so consecutive states differ in one unit and `sᵀK` changes by one row of K:
//! O(o) per state instead of O(e o). The running input is recomputed from scratch
//! every [`RESYNC_EVERY`] states so rounding cannot drift.

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::mathfn;
use crate::model::Rbm;

/// Enumeration is refused beyond 2^20 states (about a million).
pub const MAX_ENUMERATED_UNITS: usize = 20;
const RESYNC_EVERY: u32 = 1 << 12;

/// One layer enumerated, the other summed out.
struct Enumeration<'a> {
    bias: &'a [f32],
    other_bias: &'a [f32],
    /// `units x other` row-major: row a holds enumerated unit a's couplings.
    coupling: &'a [f32],
    units: usize,
    other: usize,
    enumerates_visible: bool,
}

impl<'a> Enumeration<'a> {
    fn hidden(rbm: &'a Rbm) -> Self {
        Enumeration {
            bias: rbm.hidden_bias(),
            other_bias: rbm.visible_bias(),
            coupling: rbm.weights_transposed(),
            units: rbm.n_hidden(),
            other: rbm.n_visible(),
            enumerates_visible: false,
        }
    }

    fn visible(rbm: &'a Rbm) -> Self {
        Enumeration {
            bias: rbm.visible_bias(),
            other_bias: rbm.hidden_bias(),
            coupling: rbm.weights(),
            units: rbm.n_visible(),
            other: rbm.n_hidden(),
            enumerates_visible: true,
        }
    }

    /// The cheaper of the two for `rbm`, refusing when both layers are too large.
    fn smaller(rbm: &'a Rbm) -> Result<Self> {
        check_enumerable(rbm, rbm.n_visible().min(rbm.n_hidden()))?;
        Ok(if rbm.n_hidden() <= rbm.n_visible() {
            Enumeration::hidden(rbm)
        } else {
            Enumeration::visible(rbm)
        })
    }

    fn row(&self, unit: usize) -> &[f32] {
        &self.coupling[unit * self.other..(unit + 1) * self.other]
    }

    /// Calls `visit(state, log_weight, input)` for all 2^units states, where bit a of
    /// `state` is unit a and `input[b] = (sᵀK)_b` (without the other layer's bias).
    fn for_each_state(&self, beta: f32, visit: impl FnMut(u32, f64, &[f32])) {
        self.for_each_state_in(beta, 0..(1u32 << self.units), visit);
    }

    /// As [`Enumeration::for_each_state`], for the states at Gray-code positions
    /// `positions` only. A range that starts at a multiple of [`RESYNC_EVERY`] visits
    /// its states with the very bits the whole walk gives them, since the walk itself
    /// recomputes from scratch there.
    fn for_each_state_in(
        &self,
        beta: f32,
        positions: core::ops::Range<u32>,
        mut visit: impl FnMut(u32, f64, &[f32]),
    ) {
        let mut input = vec![0.0f32; self.other];
        let first = positions.start;
        // The Gray code of position g is g ^ (g >> 1).
        let mut state = first ^ (first >> 1);
        let mut bias_term = self.resync(state, &mut input);
        for g in positions {
            if g > first {
                let unit = g.trailing_zeros() as usize;
                state ^= 1 << unit;
                if g % RESYNC_EVERY == 0 {
                    bias_term = self.resync(state, &mut input);
                } else if state & (1 << unit) != 0 {
                    bias_term += f64::from(self.bias[unit]);
                    input
                        .iter_mut()
                        .zip(self.row(unit))
                        .for_each(|(x, &k)| *x += k);
                } else {
                    bias_term -= f64::from(self.bias[unit]);
                    input
                        .iter_mut()
                        .zip(self.row(unit))
                        .for_each(|(x, &k)| *x -= k);
                }
            }
            let log_weight =
                f64::from(beta) * bias_term + mathfn::softplus_sum(&input, self.other_bias, beta);
            visit(state, log_weight, &input);
        }
    }

    /// Recomputes `input` and the bias term of `state` from scratch.
    fn resync(&self, state: u32, input: &mut [f32]) -> f64 {
        input.iter_mut().for_each(|x| *x = 0.0);
        let mut bias_term = 0.0;
        for unit in (0..self.units).filter(|&a| state & (1 << a) != 0) {
            bias_term += f64::from(self.bias[unit]);
            input
                .iter_mut()
                .zip(self.row(unit))
                .for_each(|(x, &k)| *x += k);
        }
        bias_term
    }

    fn log_partition(&self, beta: f32) -> f64 {
        if let Some(walk) = ProductWalk::new(self, beta) {
            return walk.log_partition(0..(1u32 << self.units));
        }
        let mut sum = LogSumExp::default();
        self.for_each_state(beta, |_, log_weight, _| sum.add(log_weight));
        sum.value()
    }
}

/// `log Z` by a cheaper walk when every input is moderate: with `y_b = e^{x_b}`,
/// `x_b = β (d_b + (sᵀK)_b)`, the sum of softplus terms is `ln Π_b (1 + y_b)`, and a
/// step of the Gray-code walk multiplies each `y_b` by `e^{±β K_ab}` from a table. So a
/// state costs one multiply for `y`, one add and one multiply for the product (kept
/// as a mantissa and an exponent per lane) and a few integer operations, and one
/// logarithm in all, where [`mathfn::softplus_sum`] spends an exponential, a division
/// and a series per term (about four times the work: 2.4 s for 784 x 20 in Chromium).
///
/// Rounding: `y` drifts by about 1.2e-7 relative per step, so it is recomputed from the
/// running input every [`Y_RESYNC_EVERY`] states, keeping each term within about 2e-6
/// of its softplus. Used only when `|x_b| <= `[`PRODUCT_WALK_MAX_INPUT`] for every
/// state (checked from the parameters), so that no `y` overflows or becomes subnormal;
/// other models take the softplus walk. IEEE operations only: the same bits everywhere.
struct ProductWalk<'a> {
    e: &'a Enumeration<'a>,
    beta: f32,
    /// `e^{β K_ab}` and `e^{-β K_ab}`, each row padded to a multiple of [`LANES`] with 1.
    up: Vec<f32>,
    down: Vec<f32>,
    width: usize,
    /// How many factors [`ProductWalk::log_product`] multiplies into a lane before it
    /// takes the exponent out (see there).
    renormalise_every: usize,
}

const LANES: usize = 8;
const Y_RESYNC_EVERY: u32 = 16;
/// e^80 is about 5.5e34 and e^-80 about 1.8e-35: normal f32 numbers, with room.
const PRODUCT_WALK_MAX_INPUT: f32 = 80.0;

impl<'a> ProductWalk<'a> {
    fn new(e: &'a Enumeration<'a>, beta: f32) -> Option<Self> {
        // The largest |x_b| over all states: |d_b| plus every coupling's magnitude.
        let mut bound = e.other_bias.iter().map(|d| d.abs()).collect::<Vec<f32>>();
        for unit in 0..e.units {
            for (b, &k) in bound.iter_mut().zip(e.row(unit)) {
                *b += k.abs();
            }
        }
        if !bound
            .iter()
            .all(|&b| beta * b <= PRODUCT_WALK_MAX_INPUT && b.is_finite())
        {
            return None;
        }
        // Every factor 1 + y_b is below 2 e^x for the largest input x, so it adds at most
        // 1 + x / ln 2 bits; this many of them on a mantissa in [1, 2) stay below 2^121,
        // far from f32's largest exponent (127), with room for y's rounding.
        let largest = bound.iter().fold(0.0f32, |a, &b| a.max(beta * b));
        let bits_per_factor = 1.0 + f64::from(largest) / core::f64::consts::LN_2;
        let renormalise_every = ((120.0 / bits_per_factor) as usize).clamp(1, 16);
        let width = e.other.div_ceil(LANES) * LANES;
        let mut up = vec![1.0f32; e.units * width];
        let mut down = vec![1.0f32; e.units * width];
        for unit in 0..e.units {
            for (b, &k) in e.row(unit).iter().enumerate() {
                up[unit * width + b] = mathfn::exp(beta * k);
                down[unit * width + b] = mathfn::exp(-beta * k);
            }
        }
        Some(ProductWalk {
            e,
            beta,
            up,
            down,
            width,
            renormalise_every,
        })
    }

    /// `y_b = e^{β (d_b + input_b)}`, 0 in the padding (a factor 1 + 0 = 1 exactly).
    fn refresh(&self, input: &[f32], y: &mut [f32]) {
        for ((y, &x), &d) in y.iter_mut().zip(input).zip(self.e.other_bias) {
            *y = mathfn::exp(self.beta * (d + x));
        }
    }

    /// `ln Π_b (1 + y_b)`: eight lanes of products, each renormalised to [1, 2) after
    /// every [`ProductWalk::renormalise_every`] factors with its exponent counted apart,
    /// then combined in f64. Scaling by a power of two changes no rounding of a normal
    /// number, so the bits are those of renormalising after every factor (as it did
    /// until taking the exponent out, five integer operations a factor, was most of the
    /// walk's time); the factors are at least 1, so nothing becomes subnormal.
    fn log_product(&self, y: &[f32]) -> f64 {
        let mut mantissa = [1.0f32; LANES];
        let mut exponent = [0i32; LANES];
        for group in y.chunks(LANES * self.renormalise_every) {
            for chunk in group.chunks_exact(LANES) {
                for l in 0..LANES {
                    mantissa[l] *= 1.0 + chunk[l];
                }
            }
            for l in 0..LANES {
                let bits = mantissa[l].to_bits();
                exponent[l] += (bits >> 23) as i32 - 127;
                mantissa[l] = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
            }
        }
        let mut product = 1.0f64;
        let mut total_exponent = 0i32;
        for l in 0..LANES {
            product *= f64::from(mantissa[l]);
            total_exponent += exponent[l];
        }
        libm::log(product) + f64::from(total_exponent) * core::f64::consts::LN_2
    }

    /// The log-sum-exp of the states at Gray-code positions `positions`.
    fn log_partition(&self, positions: core::ops::Range<u32>) -> f64 {
        let e = self.e;
        let mut input = vec![0.0f32; e.other];
        let mut y = vec![0.0f32; self.width];
        let first = positions.start;
        let state = first ^ (first >> 1);
        let bias_term = e.resync(state, &mut input);
        self.refresh(&input, &mut y);
        let mut walk = Walk {
            input,
            y,
            state,
            bias_term,
            sum: LogSumExp::default(),
        };
        // In blocks of WALK_BLOCK states, each a call of its own: V8 runs a wasm function
        // in its baseline tier until the call returns (optimised code is used from the
        // next call on), so one call for the whole walk ran its first time, the one a
        // page waits for, about 2.7 times as long as the next ones. The call goes through
        // a pointer LLVM and wasm-opt cannot see through (`black_box`): wasm-opt inlines
        // any function with a single caller, which would make the walk one call again.
        let block: fn(&Self, core::ops::Range<u32>, u32, &mut Walk) =
            core::hint::black_box(Self::walk_block);
        let mut start = positions.start;
        while start < positions.end {
            let end = (start / WALK_BLOCK + 1)
                .saturating_mul(WALK_BLOCK)
                .min(positions.end);
            block(self, start..end, first, &mut walk);
            start = end;
        }
        walk.sum.value()
    }

    /// The states at Gray-code positions `positions` (after `first`, where `walk` began).
    #[inline(never)]
    fn walk_block(&self, positions: core::ops::Range<u32>, first: u32, walk: &mut Walk) {
        let e = self.e;
        let Walk {
            input,
            y,
            state,
            bias_term,
            sum,
        } = walk;
        for g in positions {
            if g > first {
                let unit = g.trailing_zeros() as usize;
                *state ^= 1 << unit;
                let on = *state & (1 << unit) != 0;
                if g % RESYNC_EVERY == 0 {
                    *bias_term = e.resync(*state, input);
                } else {
                    let sign = if on { 1.0 } else { -1.0 };
                    *bias_term += sign * f64::from(e.bias[unit]);
                    for (x, &k) in input.iter_mut().zip(e.row(unit)) {
                        *x += sign as f32 * k;
                    }
                }
                if g % Y_RESYNC_EVERY == 0 {
                    self.refresh(input, y);
                } else {
                    let table = if on { &self.up } else { &self.down };
                    let factors = &table[unit * self.width..(unit + 1) * self.width];
                    for (y, &f) in y.iter_mut().zip(factors) {
                        *y *= f;
                    }
                }
            }
            sum.add(f64::from(self.beta) * *bias_term + self.log_product(y));
        }
    }
}

/// Where a product walk is: the running input and `y`, the state, its bias term and
/// the sum so far.
struct Walk {
    input: Vec<f32>,
    y: Vec<f32>,
    state: u32,
    bias_term: f64,
    sum: LogSumExp,
}

/// States per call of [`ProductWalk::walk_block`].
const WALK_BLOCK: u32 = 1 << 10;

/// Streaming log-sum-exp in f64.
#[derive(Default)]
struct LogSumExp {
    max: f64,
    scaled_sum: f64,
    seen: bool,
}

impl LogSumExp {
    fn add(&mut self, x: f64) {
        if !self.seen {
            (self.max, self.scaled_sum, self.seen) = (x, 1.0, true);
        } else if x <= self.max {
            self.scaled_sum += libm::exp(x - self.max);
        } else {
            self.scaled_sum = self.scaled_sum * libm::exp(self.max - x) + 1.0;
            self.max = x;
        }
    }

    fn value(&self) -> f64 {
        self.max + libm::log(self.scaled_sum)
    }
}

fn check_enumerable(rbm: &Rbm, units: usize) -> Result<()> {
    if units <= MAX_ENUMERATED_UNITS {
        Ok(())
    } else {
        Err(RbmError::TooLargeForExact {
            n_visible: rbm.n_visible(),
            n_hidden: rbm.n_hidden(),
        })
    }
}

/// `log Z(β) = log Σ_{v,h} exp(-β E(v, h))`, enumerating the smaller layer.
pub fn log_partition(rbm: &Rbm, beta: f32) -> Result<f64> {
    Ok(Enumeration::smaller(rbm)?.log_partition(beta))
}

/// `log Z(β)` enumerating the named layer, whatever its size allows (for cross-checks).
pub fn log_partition_enumerating(rbm: &Rbm, beta: f32, enumerate_visible: bool) -> Result<f64> {
    let e = if enumerate_visible {
        Enumeration::visible(rbm)
    } else {
        Enumeration::hidden(rbm)
    };
    check_enumerable(rbm, e.units)?;
    Ok(e.log_partition(beta))
}

/// `log p(v)` of each row of `data` at β = 1.
pub fn log_likelihood(rbm: &Rbm, data: &Matrix) -> Result<Vec<f64>> {
    let log_z = log_partition(rbm, 1.0)?;
    Ok(rbm
        .free_energy(data, 1.0)?
        .into_iter()
        .map(|f| -f - log_z)
        .collect())
}

/// Mean of `log p(v)` over the rows of `data`.
pub fn mean_log_likelihood(rbm: &Rbm, data: &Matrix) -> Result<f64> {
    if data.rows() == 0 {
        return Err(RbmError::Data("no rows to score".into()));
    }
    Ok(log_likelihood(rbm, data)?.iter().sum::<f64>() / data.rows() as f64)
}

/// The exact marginal `p_β(v)` of every visible state, indexed by the state's bits
/// (bit i is visible unit i). Needs `n_visible <= 20`.
pub fn visible_distribution(rbm: &Rbm, beta: f32) -> Result<Vec<f64>> {
    let e = Enumeration::visible(rbm);
    check_enumerable(rbm, e.units)?;
    let mut log_weights = vec![0.0f64; 1 << e.units];
    let mut sum = LogSumExp::default();
    e.for_each_state(beta, |state, log_weight, _| {
        log_weights[state as usize] = log_weight;
        sum.add(log_weight);
    });
    let log_z = sum.value();
    Ok(log_weights
        .into_iter()
        .map(|lw| libm::exp(lw - log_z))
        .collect())
}

/// The exact `p_β(v)` of every visible state, computed a slice of states at a time
/// (see [`visible_distribution`], which it equals to the bit). The model is a snapshot.
pub struct VisibleDistributionJob {
    model: Rbm,
    beta: f32,
    log_weights: Vec<f64>,
    next: u32,
    sum: LogSumExp,
}

impl VisibleDistributionJob {
    /// Needs `n_visible <= 20` and a β checked by the caller.
    pub fn new(model: Rbm, beta: f32) -> Result<Self> {
        check_enumerable(&model, model.n_visible())?;
        Ok(VisibleDistributionJob {
            log_weights: vec![0.0; 1 << model.n_visible()],
            model,
            beta,
            next: 0,
            sum: LogSumExp::default(),
        })
    }

    /// Enumerates about `flop_budget` operations' worth of states (whole blocks of
    /// [`RESYNC_EVERY`], at least one) and returns whether every state is done.
    pub fn advance(&mut self, flop_budget: f64) -> bool {
        let e = Enumeration::visible(&self.model);
        let total = 1u32 << e.units;
        let block_cost = crate::cost::enumeration(0, e.other) * f64::from(RESYNC_EVERY);
        // At least one block, also for a budget of NaN (whose clamp would give NaN, and
        // `as u64` zero, so no progress); at most every block.
        let wanted = flop_budget / block_cost;
        let blocks = if wanted >= 1.0 {
            wanted.min(f64::from(u32::MAX)) as u64
        } else {
            1
        };
        let end =
            (u64::from(self.next) + blocks * u64::from(RESYNC_EVERY)).min(u64::from(total)) as u32;
        let (log_weights, sum) = (&mut self.log_weights, &mut self.sum);
        e.for_each_state_in(self.beta, self.next..end, |state, log_weight, _| {
            log_weights[state as usize] = log_weight;
            sum.add(log_weight);
        });
        self.next = end;
        self.next == total
    }

    /// p(v) for every state (bit i of the index is pixel i), once [`Self::advance`] is done.
    pub fn result(&self) -> Option<Vec<f64>> {
        if self.next != 1u32 << self.model.n_visible() {
            return None;
        }
        let log_z = self.sum.value();
        Some(
            self.log_weights
                .iter()
                .map(|&lw| libm::exp(lw - log_z))
                .collect(),
        )
    }
}

/// Expectations under the model `p_β(v, h)`: the negative phase of the exact gradient.
#[derive(Clone, Debug)]
pub struct ModelExpectations {
    pub log_partition: f64,
    /// m x n row-major: `E[v_i h_j]`.
    pub visible_hidden: Vec<f64>,
    pub visible: Vec<f64>,
    pub hidden: Vec<f64>,
}

/// Exact `E[v_i h_j]`, `E[v_i]`, `E[h_j]` by enumerating the smaller layer: for each
/// of its states s, weighted by p(s), the other layer contributes its conditional mean.
pub fn model_expectations(rbm: &Rbm, beta: f32) -> Result<ModelExpectations> {
    let e = Enumeration::smaller(rbm)?;
    let log_z = e.log_partition(beta);
    let mut joint = vec![0.0f64; e.units * e.other];
    let mut mean_enumerated = vec![0.0f64; e.units];
    let mut mean_other = vec![0.0f64; e.other];
    let mut other_prob = vec![0.0f32; e.other];
    e.for_each_state(beta, |state, log_weight, input| {
        let p = libm::exp(log_weight - log_z);
        for ((q, &x), &d) in other_prob.iter_mut().zip(input).zip(e.other_bias) {
            *q = mathfn::sigmoid(beta * (d + x));
        }
        for (mean, &q) in mean_other.iter_mut().zip(&other_prob) {
            *mean += p * f64::from(q);
        }
        for unit in (0..e.units).filter(|&a| state & (1 << a) != 0) {
            mean_enumerated[unit] += p;
            let row = &mut joint[unit * e.other..(unit + 1) * e.other];
            for (acc, &q) in row.iter_mut().zip(&other_prob) {
                *acc += p * f64::from(q);
            }
        }
    });
    let (m, n) = (rbm.n_visible(), rbm.n_hidden());
    let enumerated_hidden = !e.enumerates_visible;
    let visible_hidden = if enumerated_hidden {
        // joint is n x m; return it as m x n.
        let mut out = vec![0.0f64; m * n];
        for j in 0..n {
            for i in 0..m {
                out[i * n + j] = joint[j * m + i];
            }
        }
        out
    } else {
        joint
    };
    let (visible, hidden) = if enumerated_hidden {
        (mean_other, mean_enumerated)
    } else {
        (mean_enumerated, mean_other)
    };
    Ok(ModelExpectations {
        log_partition: log_z,
        visible_hidden,
        visible,
        hidden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    fn random_model(m: usize, n: usize, weight_scale: f32, seed: u64) -> Rbm {
        let mut g = rng::seeded(seed);
        let mut draw = |count: usize, scale: f32| -> Vec<f32> {
            (0..count)
                .map(|_| scale * (2.0 * rng::uniform(&mut g) - 1.0))
                .collect()
        };
        let weights = draw(m * n, weight_scale);
        let (b, c) = (draw(m, 6.0), draw(n, 1.0));
        Rbm::from_parts(m, n, weights, b, c).unwrap()
    }

    fn by_softplus(rbm: &Rbm, beta: f32) -> f64 {
        let e = Enumeration::smaller(rbm).unwrap();
        let mut sum = LogSumExp::default();
        e.for_each_state(beta, |_, log_weight, _| sum.add(log_weight));
        sum.value()
    }

    /// `log Z` with every term in f64 through `libm`, states enumerated directly.
    fn reference(rbm: &Rbm, beta: f32) -> f64 {
        let (m, n) = (rbm.n_visible(), rbm.n_hidden());
        let (w, b, c) = (rbm.weights(), rbm.visible_bias(), rbm.hidden_bias());
        let beta = f64::from(beta);
        let mut sum = LogSumExp::default();
        for state in 0u32..1 << n {
            let on = |j: usize| state & (1 << j) != 0;
            let mut log_weight: f64 = (0..n)
                .filter(|&j| on(j))
                .map(|j| beta * f64::from(c[j]))
                .sum();
            for i in 0..m {
                let x = beta
                    * (f64::from(b[i])
                        + (0..n)
                            .filter(|&j| on(j))
                            .map(|j| f64::from(w[i * n + j]))
                            .sum::<f64>());
                log_weight += x.max(0.0) + libm::log1p(libm::exp(-x.abs()));
            }
            sum.add(log_weight);
        }
        sum.value()
    }

    /// The product walk against an f64 reference on MNIST-sized models (784 x 12, so
    /// 2^12 states cross the y resync often). Both walks share the f32 running inputs,
    /// whose rounding (about 1.2e-7 relative of a state's log-weight: 1.7e-4 at scale
    /// 1, for either walk) bounds them; the product walk adds at most about 2e-6 per
    /// term on top, partly cancelling: allowed 2e-7 relative plus 1e-4. The softplus
    /// walk, whose f32 lanes add 98 terms each, gets 1e-3 more (at β = 0 it is off by
    /// 4.5e-4, where the product walk is exact: every factor is 2).
    #[test]
    fn the_product_walk_agrees_with_an_f64_reference() {
        for (scale, seed, beta) in [(0.05, 1, 1.0), (1.0, 2, 1.0), (3.0, 3, 0.7), (0.5, 4, 0.0)] {
            let rbm = random_model(784, 12, scale, seed);
            let e = Enumeration::smaller(&rbm).unwrap();
            let walk = ProductWalk::new(&e, beta).expect("moderate inputs");
            let fast = walk.log_partition(0..1 << 12);
            let (truth, softplus) = (reference(&rbm, beta), by_softplus(&rbm, beta));
            let allowed = 2e-7 * truth.abs() + 1e-4;
            assert!(
                (fast - truth).abs() < allowed,
                "scale {scale}: {fast} vs {truth}"
            );
            assert!(
                (softplus - truth).abs() < allowed + 1e-3,
                "scale {scale}: {softplus} vs {truth}"
            );
        }
    }

    /// Taking the exponent out after several factors gives the bits of taking it out
    /// after each: on models whose inputs allow from 1 to 16 factors between (and at
    /// β = 0, every factor 2), the walk with the computed spacing against spacing 1.
    #[test]
    fn renormalising_less_often_keeps_the_bits() {
        let mut spacings = Vec::new();
        for (scale, seed, beta) in [
            (0.05, 6, 1.0),
            (0.5, 7, 1.0),
            (2.0, 8, 1.0),
            (5.0, 9, 0.9),
            (8.0, 11, 1.0),
            (1.0, 10, 0.0),
        ] {
            let rbm = random_model(784, 10, scale, seed);
            let e = Enumeration::smaller(&rbm).unwrap();
            let mut walk = ProductWalk::new(&e, beta).expect("moderate inputs");
            spacings.push(walk.renormalise_every);
            let spaced = walk.log_partition(0..1 << 10);
            walk.renormalise_every = 1;
            let each = walk.log_partition(0..1 << 10);
            assert_eq!(spaced.to_bits(), each.to_bits(), "scale {scale}, β {beta}");
        }
        assert!(
            spacings.contains(&1) && spacings.contains(&16),
            "{spacings:?}"
        );
    }

    /// Inputs beyond the bound take the softplus walk: the same answer, no overflow.
    #[test]
    fn large_inputs_take_the_softplus_walk() {
        let rbm = random_model(50, 10, 30.0, 5);
        let e = Enumeration::smaller(&rbm).unwrap();
        assert!(ProductWalk::new(&e, 1.0).is_none());
        let value = log_partition(&rbm, 1.0).unwrap();
        assert!(value.is_finite());
        assert_eq!(value.to_bits(), by_softplus(&rbm, 1.0).to_bits());
    }
}
