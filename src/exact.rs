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
use crate::snapshot;

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

    /// `log Z(β)`: every piece's sum, combined in order.
    fn log_partition(&self, beta: f32) -> f64 {
        let walk = ProductWalk::new(self, beta);
        combine(&self.piece_sums(walk.as_ref(), beta, 0..self.pieces()))
    }

    /// How many pieces `log Z` is summed in: one up to 2^[`PIECE_BITS`] states, then
    /// one per 2^[`PIECE_BITS`].
    fn pieces(&self) -> u32 {
        1 << self.units.saturating_sub(PIECE_BITS)
    }

    /// States in each piece.
    fn piece_size(&self) -> u32 {
        (1u32 << self.units) / self.pieces()
    }

    /// The log-sum-exp of each piece in `pieces`, each summed alone, by the product walk
    /// when `walk` is given (made for this enumeration and β) and by softplus otherwise.
    /// Natively the pieces are shared out over [`crate::linalg::threads`] threads: the
    /// same bits on any number.
    fn piece_sums(
        &self,
        walk: Option<&ProductWalk>,
        beta: f32,
        pieces: core::ops::Range<u32>,
    ) -> Vec<LogSumExp> {
        self.piece_sums_on(walk, beta, pieces, crate::linalg::threads())
    }

    /// [`Enumeration::piece_sums`] on up to `threads` threads (natively; one in wasm).
    fn piece_sums_on(
        &self,
        walk: Option<&ProductWalk>,
        beta: f32,
        pieces: core::ops::Range<u32>,
        threads: usize,
    ) -> Vec<LogSumExp> {
        let size = self.piece_size();
        let piece = |p: u32| {
            let positions = p * size..(p + 1) * size;
            match walk {
                Some(walk) => walk.sum(self, positions),
                None => {
                    let mut sum = LogSumExp::default();
                    self.for_each_state_in(beta, positions, |_, log_weight, _| sum.add(log_weight));
                    sum
                }
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let threads = threads.min(pieces.len());
            if threads > 1 {
                let mut sums = vec![LogSumExp::default(); pieces.len()];
                let chunk = pieces.len().div_ceil(threads);
                std::thread::scope(|scope| {
                    for (c, out) in sums.chunks_mut(chunk).enumerate() {
                        let first = pieces.start + (c * chunk) as u32;
                        let piece = &piece;
                        scope.spawn(move || {
                            for (slot, p) in out.iter_mut().zip(first..) {
                                *slot = piece(p);
                            }
                        });
                    }
                });
                return sums;
            }
        }
        let _ = threads;
        pieces.map(piece).collect()
    }
}

/// `log Z` is summed in pieces of this many bits of Gray-code positions (2^14 states:
/// about 8 ms at 784 x 20 in Chromium), each alone, then combined in order. So a piece
/// can be computed anywhere (another thread, another worker) and the answer has the
/// same bits however the pieces were shared out. Models of up to 14 enumerated units
/// are one piece: their `log Z` is the one sum it always was, to the bit.
const PIECE_BITS: usize = 14;

/// The log-sum-exp of piece sums, in their order.
fn combine(sums: &[LogSumExp]) -> f64 {
    let mut total = LogSumExp::default();
    for sum in sums {
        total.merge(sum);
    }
    total.value()
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
struct ProductWalk {
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

impl ProductWalk {
    /// The walk for enumeration `e` at `beta` (its methods take the same `e`), or none
    /// when some input could leave the moderate range.
    fn new(e: &Enumeration, beta: f32) -> Option<Self> {
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
            beta,
            up,
            down,
            width,
            renormalise_every,
        })
    }

    /// `y_b = e^{β (d_b + input_b)}`, 0 in the padding (a factor 1 + 0 = 1 exactly).
    fn refresh(&self, e: &Enumeration, input: &[f32], y: &mut [f32]) {
        for ((y, &x), &d) in y.iter_mut().zip(input).zip(e.other_bias) {
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
    fn sum(&self, e: &Enumeration, positions: core::ops::Range<u32>) -> LogSumExp {
        let mut input = vec![0.0f32; e.other];
        let mut y = vec![0.0f32; self.width];
        let first = positions.start;
        let state = first ^ (first >> 1);
        let bias_term = e.resync(state, &mut input);
        self.refresh(e, &input, &mut y);
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
        let block: fn(&Self, &Enumeration, core::ops::Range<u32>, u32, &mut Walk) =
            core::hint::black_box(Self::walk_block);
        let mut start = positions.start;
        while start < positions.end {
            let end = (start / WALK_BLOCK + 1)
                .saturating_mul(WALK_BLOCK)
                .min(positions.end);
            block(self, e, start..end, first, &mut walk);
            start = end;
        }
        walk.sum
    }

    /// The states at Gray-code positions `positions` (after `first`, where `walk` began).
    #[inline(never)]
    fn walk_block(
        &self,
        e: &Enumeration,
        positions: core::ops::Range<u32>,
        first: u32,
        walk: &mut Walk,
    ) {
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
                    self.refresh(e, input, y);
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

/// Streaming log-sum-exp in f64: `max + ln(scaled_sum)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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

    /// Adds the terms `other` has summed.
    fn merge(&mut self, other: &LogSumExp) {
        if !other.seen {
            return;
        }
        if !self.seen {
            *self = *other;
        } else if other.max <= self.max {
            self.scaled_sum += other.scaled_sum * libm::exp(other.max - self.max);
        } else {
            self.scaled_sum = self.scaled_sum * libm::exp(self.max - other.max) + other.scaled_sum;
            self.max = other.max;
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

/// Exact `log Z(β)` summed piece by piece, where the pieces may be computed in other
/// workers: the job hands out a range of pieces as a task's bytes
/// ([`LogPartitionJob::task_bytes`]), [`log_partition_task`] computes them there, and
/// [`LogPartitionJob::accept`] takes the answer back; [`LogPartitionJob::compute`] does
/// pieces in place. However the pieces were shared out, [`LogPartitionJob::value`] has
/// the bits of [`log_partition`]. The model is a snapshot.
pub struct LogPartitionJob {
    model: Rbm,
    beta: f32,
    /// The product walk's tables, made once for the job (none: the softplus walk).
    walk: Option<ProductWalk>,
    sums: Vec<Option<LogSumExp>>,
    /// Of the sizes, the parameters and β: an answer carries its task's.
    fingerprint: u64,
}

const PIECES_TASK_MAGIC: &[u8; 4] = b"RBMZ";
const PIECES_ANSWER_MAGIC: &[u8; 4] = b"RBMY";

impl LogPartitionJob {
    /// Needs a layer of at most 20 units; β is the caller's to check.
    pub fn new(model: Rbm, beta: f32) -> Result<Self> {
        let e = Enumeration::smaller(&model)?;
        let walk = ProductWalk::new(&e, beta);
        let pieces = e.pieces() as usize;
        Ok(LogPartitionJob {
            walk,
            sums: vec![None; pieces],
            fingerprint: job_fingerprint(&model, beta),
            model,
            beta,
        })
    }

    /// How many pieces the job has (1 up to 2^14 states, 64 for 2^20).
    pub fn pieces(&self) -> u32 {
        self.sums.len() as u32
    }

    /// Floating-point work of one piece: per state and unit of the other layer, about
    /// four operations on the product walk and a softplus
    /// ([`crate::cost::TRANSCENDENTAL`]) on the other.
    pub fn piece_flops(&self) -> f64 {
        let per_term = if self.walk.is_some() {
            4.0
        } else {
            crate::cost::TRANSCENDENTAL
        };
        per_term * crate::monitor::enumeration_cost(&self.model) / f64::from(self.pieces())
    }

    fn check_range(&self, pieces: &core::ops::Range<u32>) -> Result<()> {
        if pieces.start < pieces.end && pieces.end <= self.pieces() {
            Ok(())
        } else {
            Err(RbmError::Data(format!(
                "pieces {} to {} are not a range of the job's {} pieces",
                pieces.start,
                pieces.end,
                self.pieces()
            )))
        }
    }

    /// Computes `pieces` here.
    pub fn compute(&mut self, pieces: core::ops::Range<u32>) -> Result<()> {
        self.check_range(&pieces)?;
        let e = Enumeration::smaller(&self.model)?;
        let sums = e.piece_sums(self.walk.as_ref(), self.beta, pieces.clone());
        for (slot, sum) in self.sums[pieces.start as usize..].iter_mut().zip(sums) {
            *slot = Some(sum);
        }
        Ok(())
    }

    /// The first piece not yet computed, if any.
    pub fn next_missing(&self) -> Option<u32> {
        self.sums.iter().position(Option::is_none).map(|p| p as u32)
    }

    /// `pieces` as a task for another worker (magic `RBMZ`): the sizes, β's bits, the
    /// range, then the parameters.
    pub fn task_bytes(&self, pieces: core::ops::Range<u32>) -> Result<Vec<u8>> {
        self.check_range(&pieces)?;
        let mut w = snapshot::Writer::new(PIECES_TASK_MAGIC);
        w.u64(self.model.n_visible() as u64);
        w.u64(self.model.n_hidden() as u64);
        w.u32(self.beta.to_bits());
        w.u32(pieces.start);
        w.u32(pieces.end);
        w.parameters(&self.model);
        Ok(w.finish())
    }

    /// A task's answer ([`log_partition_task`]), checked: it answers a task of this
    /// job (the same model and β), its range is one of the job's, and each piece's sum
    /// is finite with a scaled sum between 1 (its largest term) and the piece's states.
    pub fn accept(&mut self, bytes: &[u8]) -> Result<()> {
        let mut r = snapshot::Reader::new(bytes, PIECES_ANSWER_MAGIC, "piece of log Z")?;
        if r.u64()? != self.fingerprint {
            return Err(snapshot::bad("the answer is for another model or β"));
        }
        let (start, end) = (r.u32()?, r.u32()?);
        self.check_range(&(start..end))?;
        let states = f64::from(Enumeration::smaller(&self.model)?.piece_size());
        let mut sums = Vec::with_capacity((end - start) as usize);
        for _ in start..end {
            let (max, scaled_sum) = (f64::from_bits(r.u64()?), f64::from_bits(r.u64()?));
            if !(max.is_finite() && (1.0..=states).contains(&scaled_sum)) {
                return Err(snapshot::bad(format!(
                    "a piece's sum is out of range (largest term {max}, scaled sum {scaled_sum})"
                )));
            }
            sums.push(LogSumExp {
                max,
                scaled_sum,
                seen: true,
            });
        }
        r.finish()?;
        for (slot, sum) in self.sums[start as usize..].iter_mut().zip(sums) {
            *slot = Some(sum);
        }
        Ok(())
    }

    /// `log Z(β)` once every piece is in.
    pub fn value(&self) -> Option<f64> {
        let sums: Option<Vec<LogSumExp>> = self.sums.iter().copied().collect();
        sums.map(|sums| combine(&sums))
    }
}

/// Computes the pieces a [`LogPartitionJob::task_bytes`] names, in another worker, and
/// returns the answer's bytes (magic `RBMY`: the task's fingerprint, the range, then
/// each piece's largest term and scaled sum, as f64 bits) for [`LogPartitionJob::accept`].
pub fn log_partition_task(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut r = snapshot::Reader::new(bytes, PIECES_TASK_MAGIC, "task of log Z")?;
    let units = crate::limits::MAX_UNITS as u64;
    let m = r.count("the visible units", units)?;
    let n = r.count("the hidden units", units)?;
    let beta = f32::from_bits(r.u32()?);
    crate::limits::check_engine("beta", f64::from(beta))?;
    let (start, end) = (r.u32()?, r.u32()?);
    let model = r.parameters(m, n)?;
    r.finish()?;
    let mut job = LogPartitionJob::new(model, beta)?;
    job.compute(start..end)?;
    let mut w = snapshot::Writer::new(PIECES_ANSWER_MAGIC);
    w.u64(job.fingerprint);
    w.u32(start);
    w.u32(end);
    for sum in &job.sums[start as usize..end as usize] {
        let sum = sum.expect("computed above");
        w.u64(sum.max.to_bits());
        w.u64(sum.scaled_sum.to_bits());
    }
    Ok(w.finish())
}

fn job_fingerprint(model: &Rbm, beta: f32) -> u64 {
    let sizes = [
        model.n_visible() as u32,
        model.n_hidden() as u32,
        beta.to_bits(),
    ];
    let parameters = [model.weights(), model.visible_bias(), model.hidden_bias()];
    snapshot::fingerprint_words(
        sizes
            .into_iter()
            .chain(parameters.into_iter().flatten().map(|v| v.to_bits())),
    )
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
            let fast = walk.sum(&e, 0..1 << 12).value();
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
            let spaced = walk.sum(&e, 0..1 << 10).value();
            walk.renormalise_every = 1;
            let each = walk.sum(&e, 0..1 << 10).value();
            assert_eq!(spaced.to_bits(), each.to_bits(), "scale {scale}, β {beta}");
        }
        assert!(
            spacings.contains(&1) && spacings.contains(&16),
            "{spacings:?}"
        );
    }

    /// Pieces summed alone and combined: the same bits on 1 to 5 threads, by either
    /// walk, and (for a model of 2^16 states, 4 pieces) close to the f64 reference with
    /// the product walk's tolerance (see above); up to 2^14 states, one piece, whose sum
    /// is the whole walk's to the bit.
    #[test]
    fn pieces_give_the_same_bits_on_any_number_of_threads() {
        for (m, n, scale, seed) in [(60, 16, 0.5, 21), (40, 17, 30.0, 22), (30, 3, 1.0, 23)] {
            let rbm = random_model(m, n, scale, seed);
            let e = Enumeration::smaller(&rbm).unwrap();
            let walk = ProductWalk::new(&e, 1.0);
            assert_eq!(walk.is_some(), scale < 10.0, "{m} x {n}");
            assert_eq!(e.pieces(), 1 << n.saturating_sub(PIECE_BITS));
            let one = combine(&e.piece_sums_on(walk.as_ref(), 1.0, 0..e.pieces(), 1));
            for threads in 2..=5 {
                let many = combine(&e.piece_sums_on(walk.as_ref(), 1.0, 0..e.pieces(), threads));
                assert_eq!(
                    one.to_bits(),
                    many.to_bits(),
                    "{m} x {n}, {threads} threads"
                );
            }
            assert_eq!(log_partition(&rbm, 1.0).unwrap().to_bits(), one.to_bits());
            let truth = reference(&rbm, 1.0);
            // The softplus walk's model has inputs up to about 17 x 30 = 510, each from up
            // to 17 f32 additions (2^-24 relative each): at most 40 x 17 x 510 x 6e-8,
            // about 2e-2, on its 40 terms.
            let allowed = 2e-7 * truth.abs() + if walk.is_some() { 1e-4 } else { 2e-2 };
            assert!(
                (one - truth).abs() < allowed,
                "{m} x {n}: {one} against {truth}"
            );
            if e.pieces() == 1 {
                let whole = match &walk {
                    Some(walk) => walk.sum(&e, 0..1 << n).value(),
                    None => by_softplus(&rbm, 1.0),
                };
                assert_eq!(whole.to_bits(), one.to_bits());
            }
        }
    }

    /// A job's pieces shared between this worker and tasks for others, in any split
    /// and order of answers, give [`log_partition`]'s bits; damaged answers, ranges
    /// outside the job and bad tasks are refused by name, leaving the job as it was.
    #[test]
    fn a_job_shared_out_gives_the_bits_of_the_whole() {
        let rbm = random_model(50, 17, 0.5, 31);
        let whole = log_partition(&rbm, 1.0).unwrap();
        let mut job = LogPartitionJob::new(rbm.clone(), 1.0).unwrap();
        assert_eq!(job.pieces(), 8);
        assert_eq!(job.value(), None);
        let far = log_partition_task(&job.task_bytes(5..8).unwrap()).unwrap();
        let near = log_partition_task(&job.task_bytes(0..2).unwrap()).unwrap();
        job.accept(&far).unwrap();
        job.compute(2..4).unwrap();
        assert_eq!(job.next_missing(), Some(0));
        job.accept(&near).unwrap();
        assert_eq!(job.next_missing(), Some(4));
        assert_eq!(job.value(), None);
        job.compute(4..5).unwrap();
        assert_eq!(job.value().unwrap().to_bits(), whole.to_bits());

        let mut fresh = LogPartitionJob::new(rbm.clone(), 1.0).unwrap();
        let error = |result: Result<()>| result.unwrap_err().to_string();
        assert!(error(fresh.compute(3..9)).contains("not a range of the job's 8 pieces"));
        assert!(error(fresh.compute(4..4)).contains("not a range"));
        assert!(fresh.task_bytes(7..9).is_err());
        let mut bad = far.clone();
        bad[32..40].copy_from_slice(&0.5f64.to_bits().to_le_bytes());
        assert!(
            error(fresh.accept(&bad)).contains("out of range"),
            "{}",
            error(fresh.accept(&bad))
        );
        assert!(error(fresh.accept(&far[..far.len() - 1])).contains("ends too early"));
        assert!(error(fresh.accept(&[far.as_slice(), &[0]].concat())).contains("unexpected bytes"));
        let mut hidden_bias = rbm.hidden_bias().to_vec();
        hidden_bias[3] += 1e-3;
        let (w, b) = (rbm.weights().to_vec(), rbm.visible_bias().to_vec());
        let nudged = Rbm::from_parts(50, 17, w, b, hidden_bias).unwrap();
        for other in [
            LogPartitionJob::new(nudged, 1.0),
            LogPartitionJob::new(rbm.clone(), 0.5),
        ] {
            let answer = log_partition_task(&other.unwrap().task_bytes(1..2).unwrap()).unwrap();
            assert!(error(fresh.accept(&answer)).contains("another model or β"));
        }
        let mut wide = log_partition_task(&job.task_bytes(7..8).unwrap()).unwrap();
        wide[16..20].copy_from_slice(&6u32.to_le_bytes());
        assert!(error(fresh.accept(&wide)).contains("ends too early"));
        wide[20..24].copy_from_slice(&9u32.to_le_bytes());
        assert!(error(fresh.accept(&wide)).contains("not a range"));
        assert!(error(fresh.accept(&job.task_bytes(0..1).unwrap()))
            .contains("not a saved piece of log Z"));
        let mut task = job.task_bytes(0..1).unwrap();
        task[24..28].copy_from_slice(&f32::NAN.to_bits().to_le_bytes());
        let message = log_partition_task(&task).unwrap_err().to_string();
        assert!(
            message.contains("beta") && message.contains("finite"),
            "{message}"
        );
        assert!(fresh.next_missing() == Some(0) && fresh.value().is_none());
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
