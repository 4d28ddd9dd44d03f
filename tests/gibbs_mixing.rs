//! Block Gibbs sampling reaches the exact distribution p_β(v) on a 6 x 4 model.
//!
//! Tolerance. Take N independent chains (each its own final state), so the empirical
//! distribution p̂ over the K = 2^6 = 64 visible states is a sum of N iid draws from
//! the chains' distribution q. For each state E|p̂_x - q_x| <= sqrt(q_x (1 - q_x) / N),
//! so by Cauchy–Schwarz E[TV(p̂, q)] <= ½ Σ_x sqrt(q_x / N) <= ½ sqrt(K / N).
//! TV(p̂, q) changes by at most 1/N when one chain changes, so McDiarmid gives
//! P(TV > E[TV] + t) <= exp(-2 N t²). With N = 20,000: ½ sqrt(64 / 20000) = 0.0283,
//! and t = 0.015 gives a failure chance of exp(-9) ≈ 1.2e-4 for a sampler that is
//! correct and mixed. The bound is therefore 0.0433, and the run is seeded anyway.
mod common;

use common::random_rbm;
use rbm_lab::{exact, rng, GibbsChains};

const CHAINS: usize = 20_000;
const BOUND: f64 = 0.0433;

fn total_variation_after(steps: usize, beta: f32, seed: u64) -> f64 {
    let rbm = random_rbm(6, 4, 1.0, 21);
    let exact_p = exact::visible_distribution(&rbm, beta).unwrap();
    let mut g = rng::seeded(seed);
    let mut chains = GibbsChains::random(&rbm, CHAINS, &mut g);
    chains.run(&rbm, steps, beta, &mut g);
    let mut counts = vec![0usize; exact_p.len()];
    for r in 0..CHAINS {
        let state: usize = chains
            .visible
            .row(r)
            .iter()
            .enumerate()
            .map(|(i, &v)| (v as usize) << i)
            .sum();
        counts[state] += 1;
    }
    0.5 * counts
        .iter()
        .zip(&exact_p)
        .map(|(&c, &p)| (c as f64 / CHAINS as f64 - p).abs())
        .sum::<f64>()
}

#[test]
fn chains_reach_the_exact_distribution() {
    for beta in [1.0f32, 0.5] {
        let tv = total_variation_after(200, beta, 31);
        assert!(
            tv < BOUND,
            "beta {beta}: TV {tv} after 200 steps, bound {BOUND}"
        );
    }
}

#[test]
fn the_bound_is_tight_enough_to_see_an_unmixed_start() {
    // Uniform noise is far from this model's p(v): the test above could fail.
    let tv = total_variation_after(0, 1.0, 32);
    assert!(tv > 3.0 * BOUND, "TV of the uniform start only {tv}");
}
