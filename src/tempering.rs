//! Parallel tempering (Desjardins et al., 2010): chains at inverse temperatures
//! `1 = β_1 > β_2 > … > β_T = β_min`, each sampling `p_β(v, h) ∝ exp(-β E(v, h))` by block
//! Gibbs, and after each sweep neighbouring temperatures propose to exchange their
//! states. An exchange of `x` at `β_i` and `y` at `β_j` is accepted with probability
//! `min(1, exp((β_i - β_j)(E(x) - E(y))))`, which keeps every temperature's distribution
//! invariant. Hot chains cross energy barriers easily; exchanges carry what they find
//! down to β = 1, whose states are the samples.
//!
//! Pairs (1,2), (3,4), … exchange on even sweeps and (2,3), (4,5), … on odd ones.

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::model::{GibbsChains, Rbm};
use crate::rng::{self, Rng};

/// `count` inverse temperatures spaced evenly from 1 down to `beta_min`.
pub fn ladder(count: usize, beta_min: f32) -> Result<Vec<f32>> {
    crate::limits::check_engine("temperatures", count as f64)?;
    crate::limits::check_engine("beta_min", f64::from(beta_min))?;
    if count == 1 {
        return Ok(vec![1.0]);
    }
    // The last rung is beta_min exactly (the formula would round it).
    Ok((0..count)
        .map(|t| match t {
            t if t + 1 == count => beta_min,
            t => 1.0 - (1.0 - beta_min) * t as f32 / (count - 1) as f32,
        })
        .collect())
}

/// `chains` independent tempering ladders: `levels[t]` holds every ladder's state at
/// `betas[t]` (`levels[0]` is β = 1).
#[derive(Clone, Debug)]
pub struct Tempering {
    betas: Vec<f32>,
    levels: Vec<GibbsChains>,
    sweeps: u64,
    /// Per neighbouring pair (t, t + 1): exchanges proposed and accepted.
    proposed: Vec<u64>,
    accepted: Vec<u64>,
}

impl Tempering {
    /// Ladders started from independent uniform random visible states.
    pub fn random(rbm: &Rbm, chains: usize, betas: Vec<f32>, rng: &mut Rng) -> Result<Self> {
        if chains == 0 {
            return Err(RbmError::setting("chains", 0, "at least 1"));
        }
        if betas.first() != Some(&1.0) || betas.windows(2).any(|w| !(w[1] < w[0] && w[1] >= 0.0)) {
            return Err(RbmError::Shape(
                "the inverse temperatures must start at 1 and fall, staying at or above 0".into(),
            ));
        }
        let levels = betas
            .iter()
            .map(|_| GibbsChains::random(rbm, chains, rng))
            .collect();
        let pairs = betas.len() - 1;
        Ok(Tempering {
            betas,
            levels,
            sweeps: 0,
            proposed: vec![0; pairs],
            accepted: vec![0; pairs],
        })
    }

    /// Ladders from saved visible states (`levels[t]` at `betas[t]`), the sweep count
    /// (its parity picks the next exchanges) and the exchange counts.
    pub fn from_parts(
        rbm: &Rbm,
        betas: Vec<f32>,
        visible: Vec<Matrix>,
        sweeps: u64,
        proposed: Vec<u64>,
        accepted: Vec<u64>,
    ) -> Result<Self> {
        let pairs = betas.len().saturating_sub(1);
        if visible.len() != betas.len() || proposed.len() != pairs || accepted.len() != pairs {
            return Err(RbmError::Shape(
                "the saved ladder does not match its temperatures".into(),
            ));
        }
        if accepted.iter().zip(&proposed).any(|(a, p)| a > p) {
            return Err(RbmError::Shape(
                "more exchanges accepted than proposed".into(),
            ));
        }
        let levels = visible
            .into_iter()
            .map(|v| GibbsChains::from_visible(rbm, v))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tempering {
            betas,
            levels,
            sweeps,
            proposed,
            accepted,
        })
    }

    /// Each temperature's chains (the visible states are what a snapshot keeps).
    pub fn levels(&self) -> &[GibbsChains] {
        &self.levels
    }

    /// Exchanges proposed and accepted per neighbouring pair.
    pub fn exchange_counts(&self) -> (&[u64], &[u64]) {
        (&self.proposed, &self.accepted)
    }

    pub fn betas(&self) -> &[f32] {
        &self.betas
    }

    /// The β = 1 chains: the samples.
    pub fn cold(&self) -> &GibbsChains {
        &self.levels[0]
    }

    pub fn cold_mut(&mut self) -> &mut GibbsChains {
        &mut self.levels[0]
    }

    pub fn sweeps(&self) -> u64 {
        self.sweeps
    }

    /// The fraction of proposed exchanges accepted, per neighbouring pair (NaN before any).
    pub fn acceptance_rates(&self) -> Vec<f64> {
        self.proposed
            .iter()
            .zip(&self.accepted)
            .map(|(&p, &a)| {
                if p == 0 {
                    f64::NAN
                } else {
                    a as f64 / p as f64
                }
            })
            .collect()
    }

    /// One sweep: a block-Gibbs step (v -> h -> v) at every temperature, then exchanges.
    pub fn sweep(&mut self, rbm: &Rbm, rng: &mut Rng) {
        for (chains, &beta) in self.levels.iter_mut().zip(&self.betas) {
            chains.sample_hidden(rbm, beta, rng);
            chains.sample_visible(rbm, beta, rng);
            // The hidden state that goes with v for the energy: drawn from p_β(h | v).
            chains.sample_hidden(rbm, beta, rng);
        }
        let energies: Vec<Vec<f64>> = self
            .levels
            .iter()
            .map(|chains| {
                (0..chains.len())
                    .map(|c| rbm.energy(chains.visible.row(c), chains.hidden.row(c), 1.0))
                    .collect()
            })
            .collect();
        let first = (self.sweeps % 2) as usize;
        for t in (first..self.betas.len().saturating_sub(1)).step_by(2) {
            let delta = f64::from(self.betas[t] - self.betas[t + 1]);
            for (c, (hot, cold)) in energies[t + 1].iter().zip(&energies[t]).enumerate() {
                self.proposed[t] += 1;
                let log_ratio = delta * (cold - hot);
                if log_ratio >= 0.0 || f64::from(rng::uniform(rng)) < libm::exp(log_ratio) {
                    self.accepted[t] += 1;
                    let (low, high) = self.levels.split_at_mut(t + 1);
                    swap_rows(&mut low[t].visible, &mut high[0].visible, c);
                    swap_rows(&mut low[t].hidden, &mut high[0].hidden, c);
                }
            }
        }
        self.sweeps += 1;
    }
}

fn swap_rows(a: &mut Matrix, b: &mut Matrix, row: usize) {
    a.row_mut(row).swap_with_slice(b.row_mut(row));
}
