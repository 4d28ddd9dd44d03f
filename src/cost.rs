//! Work estimates, in floating-point operations, for everything that can take longer
//! than a frame: a caller (the page's worker, a command line) turns them into time with
//! its own measured or assumed speed, refuses what would block for seconds, and splits
//! the rest into slices. A multiply-add counts as two; an exp, log or sigmoid as
//! [`TRANSCENDENTAL`]. The figures are upper estimates, not predictions.

use crate::train::{Algorithm, TrainConfig};

/// Operations charged for one exp, softplus or sigmoid. Measured in Chromium, an exact
/// log Z at 784 x 20 (2^20 x 784 softplus terms) took 2.5 s: about 30 operations each
/// at the 10 GFLOP/s the page assumes; 40 leaves a margin.
pub const TRANSCENDENTAL: f64 = 40.0;

fn product(m: usize, n: usize) -> f64 {
    m as f64 * n as f64
}

/// One block-Gibbs step of `chains` chains: two products of `chains x m x n`
/// multiply-adds and a sigmoid and a draw per unit.
pub fn gibbs_step(chains: usize, m: usize, n: usize) -> f64 {
    let c = chains as f64;
    4.0 * c * product(m, n) + c * (m + n) as f64 * (TRANSCENDENTAL + 2.0)
}

/// The free energy of `rows` visible vectors: one product and a softplus per hidden unit.
pub fn free_energy(rows: usize, m: usize, n: usize) -> f64 {
    let r = rows as f64;
    2.0 * r * product(m, n) + r * n as f64 * TRANSCENDENTAL
}

/// Enumerating the `small` layer's 2^small states with the other (`large`) layer summed
/// out: a softplus per unit of the large layer per state, plus a row update.
pub fn enumeration(small: usize, large: usize) -> f64 {
    libm::exp2(small as f64) * large as f64 * (TRANSCENDENTAL + 2.0)
}

/// The exact p(v) of every visible state: 2^m states, each with n softplus terms.
pub fn visible_distribution(m: usize, n: usize) -> f64 {
    enumeration(m, n)
}

/// The largest single piece of one update (see [`crate::Trainer::advance`]): each is
/// one product of the minibatch or the chains with the weights, plus its sigmoids,
/// except `exact`'s enumeration, which is one piece. This is the longest time the
/// trainer cannot stop.
pub fn update_piece(config: &TrainConfig, n_visible: usize) -> f64 {
    let (m, n) = (n_visible, config.n_hidden);
    let batch = config.batch_size as f64;
    let chains = config.negative_chains() as f64;
    let mn = product(m, n);
    let positive = 2.0 * batch * mn + batch * (m.max(n)) as f64 * TRANSCENDENTAL;
    let update = 2.0 * chains * mn + 10.0 * mn;
    match config.algorithm {
        Algorithm::Exact => positive.max(exact_negative(m, n) + 10.0 * mn),
        // A tempering sweep is one piece: every temperature's step and the energies.
        Algorithm::Tempering => positive
            .max(
                config.temperatures as f64
                    * (1.5 * gibbs_step(config.negative_chains(), m, n) + 2.0 * chains * mn),
            )
            .max(update),
        _ => positive
            .max(gibbs_step(config.negative_chains(), m, n))
            .max(2.0 * chains * mn + chains * n as f64 * TRANSCENDENTAL)
            .max(update),
    }
}

/// The exact model expectations: two passes over the smaller layer's states (log Z,
/// then the weighted sums, which also add a row per set bit).
fn exact_negative(m: usize, n: usize) -> f64 {
    let (small, large) = if m <= n { (m, n) } else { (n, m) };
    2.0 * enumeration(small, large)
        + libm::exp2(small as f64) * large as f64 * (small as f64 + TRANSCENDENTAL)
}

/// One whole update.
pub fn update(config: &TrainConfig, n_visible: usize) -> f64 {
    let (m, n) = (n_visible, config.n_hidden);
    let batch = config.batch_size as f64;
    let chains = config.negative_chains();
    let positive = 6.0 * batch * product(m, n) + batch * (m + n) as f64 * TRANSCENDENTAL;
    let finish =
        free_energy(chains, m, n) + 2.0 * chains as f64 * product(m, n) + 10.0 * product(m, n);
    match config.algorithm {
        Algorithm::Exact => positive + exact_negative(m, n) + 10.0 * product(m, n),
        Algorithm::Cd => {
            positive + (config.k.saturating_sub(1)) as f64 * gibbs_step(chains, m, n) + finish
        }
        Algorithm::Gibbs | Algorithm::Pcd => {
            positive + config.k as f64 * gibbs_step(chains, m, n) + finish
        }
        // Each sweep: a Gibbs step and one more hidden half step at every temperature,
        // and the energies of every state for the exchanges.
        Algorithm::Tempering => {
            positive
                + (config.k * config.temperatures) as f64
                    * (1.5 * gibbs_step(chains, m, n) + 2.0 * chains as f64 * product(m, n))
                + finish
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_grow_with_every_size() {
        let base = TrainConfig {
            n_hidden: 100,
            batch_size: 100,
            ..TrainConfig::default()
        };
        let cost = |c: &TrainConfig| update(c, 784);
        assert!(
            cost(&TrainConfig {
                k: 5,
                ..base.clone()
            }) > cost(&base)
        );
        assert!(
            cost(&TrainConfig {
                n_hidden: 200,
                ..base.clone()
            }) > cost(&base)
        );
        assert!(
            cost(&TrainConfig {
                batch_size: 200,
                ..base.clone()
            }) > cost(&base)
        );
        let pcd = TrainConfig {
            algorithm: Algorithm::Pcd,
            persistent_chains: 1000,
            ..base.clone()
        };
        assert!(cost(&pcd) > cost(&base));
        // A piece is never more than the whole update.
        for c in [&base, &pcd] {
            assert!(update_piece(c, 784) <= cost(c));
        }
        // CD-1 at 784 x 100 with 100 rows: five products of 7.8 million multiply-adds
        // (p(h|v), the data term, p(v|h), p(h|v) again, the model term), 7.8e7 flops.
        let flops = cost(&base);
        assert!((7.8e7..9e7).contains(&flops), "{flops}");
    }

    #[test]
    fn enumeration_doubles_per_unit() {
        assert_eq!(enumeration(11, 784), 2.0 * enumeration(10, 784));
        let exact = TrainConfig {
            algorithm: Algorithm::Exact,
            n_hidden: 20,
            ..TrainConfig::default()
        };
        // 2^20 states of 784 softplus terms, three passes: several times 10^10.
        assert!(update(&exact, 784) > 3e10);
    }
}
