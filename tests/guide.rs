//! The guide page's figures (`rbm_lab::guide`) against brute force on tiny models, and
//! the claims its text makes: the joint table is a distribution whose ratios give the
//! sigmoid conditionals, an exact gradient step raises the likelihood, exact completion
//! agrees with the table, a chain's visits approach p(v) and mix more slowly when the
//! weights grow, and in the race the exact gradient ends highest.
//!
//! Tolerances as in `exact_enumeration.rs`: the engine works in f32 and the reference
//! in f64, so probabilities agree to 2e-6 and log-quantities to 5e-5.
mod common;

use common::{random_rbm, Reference};
use rbm_lab::data::bars_and_stripes;
use rbm_lab::guide::{self, ChainWalk};
use rbm_lab::{exact, Algorithm, Matrix, TrainConfig, Trainer};

fn bits(state: usize, units: usize) -> Vec<f32> {
    (0..units).map(|i| ((state >> i) & 1) as f32).collect()
}

#[test]
fn the_joint_table_is_the_distribution_and_its_ratios_are_the_sigmoid_conditionals() {
    let rbm = random_rbm(4, 2, 1.5, 7);
    let table = guide::joint_table(&rbm).unwrap();
    let reference = Reference::of(&rbm);
    assert_eq!(table.probability.len(), 64);
    assert!((table.probability.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((table.log_partition - reference.log_partition(1.0)).abs() < 5e-5);
    let marginal = exact::visible_distribution(&rbm, 1.0).unwrap();
    for (v, (&a, &b)) in table.visible_marginal.iter().zip(&marginal).enumerate() {
        assert!(
            (a - b).abs() < 2e-6,
            "p(v = {v}): table {a}, enumeration {b}"
        );
    }
    for v in 0..16 {
        let visible = bits(v, 4);
        let inputs = guide::hidden_inputs(&rbm, &visible).unwrap();
        let row = &table.probability[v * 4..(v + 1) * 4];
        let p_v: f64 = row.iter().sum();
        for (j, &input) in inputs.iter().enumerate() {
            let from_table: f64 = row
                .iter()
                .enumerate()
                .filter(|(h, _)| h & (1 << j) != 0)
                .map(|(_, p)| p)
                .sum::<f64>()
                / p_v;
            let sigmoid = 1.0 / (1.0 + (-input).exp());
            assert!(
                (from_table - sigmoid).abs() < 2e-6,
                "v {v} h_{j}: table {from_table}, sigmoid {sigmoid}"
            );
        }
        for h in 0..4 {
            let e = reference.energy(
                &visible.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
                &[(h & 1) as f64, (h >> 1) as f64],
            );
            assert!((table.energy[v * 4 + h] - e).abs() < 5e-5);
        }
    }
}

#[test]
fn an_exact_gradient_step_raises_the_log_likelihood_and_its_terms_are_the_gradient() {
    let rbm = random_rbm(4, 2, 0.5, 3);
    let data =
        Matrix::from_vec(3, 4, vec![1., 1., 0., 0., 0., 0., 1., 1., 1., 1., 0., 0.]).unwrap();
    let (next, terms) = guide::gradient_step(&rbm, &data, 0.2).unwrap();
    let after = guide::gradient_terms(&next, &data).unwrap().log_likelihood;
    assert!(
        after > terms.log_likelihood,
        "{} -> {after}",
        terms.log_likelihood
    );
    // The weight gradient against central finite differences of the exact mean
    // log-likelihood (step 1e-3 in f32 parameters: the difference is good to ~1e-3).
    let reference_ll = |model: &rbm_lab::Rbm| exact::mean_log_likelihood(model, &data).unwrap();
    let gradient = terms.weights();
    for k in 0..8 {
        let nudged = |delta: f32| {
            let mut w = rbm.weights().to_vec();
            w[k] += delta;
            rbm_lab::Rbm::from_parts(
                4,
                2,
                w,
                rbm.visible_bias().to_vec(),
                rbm.hidden_bias().to_vec(),
            )
            .unwrap()
        };
        let numeric = (reference_ll(&nudged(1e-3)) - reference_ll(&nudged(-1e-3))) / 2e-3;
        assert!(
            (numeric - gradient[k]).abs() < 2e-3,
            "W[{k}]: terms {}, finite differences {numeric}",
            gradient[k]
        );
    }
    assert!(guide::gradient_step(&rbm, &data, 0.0).is_err());
    assert!(guide::gradient_step(&rbm, &Matrix::zeros(0, 4), 0.1).is_err());
    assert!(guide::gradient_terms(&rbm, &Matrix::zeros(1, 3)).is_err());
}

#[test]
fn exact_completion_agrees_with_the_joint_table() {
    let rbm = random_rbm(5, 3, 1.5, 11);
    let table = guide::joint_table(&rbm).unwrap();
    let clamp: [i8; 5] = [1, -1, 0, -1, -1];
    let marginals = guide::clamped_marginals(&rbm, &clamp).unwrap();
    let agrees = |v: usize| {
        clamp
            .iter()
            .enumerate()
            .all(|(i, &c)| c < 0 || ((v >> i) & 1) as i8 == c)
    };
    let evidence: f64 = (0..32)
        .filter(|&v| agrees(v))
        .map(|v| table.visible_marginal[v])
        .sum();
    for (i, &marginal) in marginals.iter().enumerate() {
        let on: f64 = (0..32)
            .filter(|&v| agrees(v) && (v >> i) & 1 == 1)
            .map(|v| table.visible_marginal[v])
            .sum();
        assert!(
            (marginal - on / evidence).abs() < 2e-6,
            "pixel {i}: {marginal} vs {}",
            on / evidence
        );
    }
    assert!(guide::clamped_marginals(&rbm, &[1, 2, 0, 0, 0]).is_err());
    assert!(guide::clamped_marginals(&rbm, &[1, 0]).is_err());
}

/// A bimodal tiny model: two hidden units each switching on a pair of pixels and off
/// the other pair. Scaling its weights deepens the two valleys.
fn two_valleys() -> rbm_lab::Rbm {
    rbm_lab::Rbm::from_parts(
        4,
        2,
        vec![2., -1., 2., -1., -1., 2., -1., 2.],
        vec![-1.; 4],
        vec![-1.; 2],
    )
    .unwrap()
}

#[test]
fn a_chain_approaches_p_v_and_mixes_more_slowly_with_larger_weights() {
    // 20,000 steps of a chain whose autocorrelation dies out within a few steps: the
    // frequencies of 16 states are within about sqrt(16 / 20,000) ~ 0.03 of p(v) in
    // total variation; 0.05 leaves room for the correlation.
    let mut chain = ChainWalk::new(two_valleys(), 0, 1).unwrap();
    chain.run(200);
    let early = chain.total_variation();
    chain.run(19_800);
    let late = chain.total_variation();
    assert!(
        late < 0.05 && late < early,
        "TV {early} after 200 steps, {late} after 20,000"
    );
    assert_eq!(chain.visits().iter().sum::<u64>(), 20_000);
    let quick = chain.autocorrelation(10);
    assert!((quick[0] - 1.0).abs() < 1e-9);

    // Weights four times larger: after the same 20,000 steps the chain is further
    // from p(v), and its free energy stays correlated over more steps (seeded, so the
    // comparison is reproducible; an autocorrelation from the last 4,096 steps has a
    // standard error of a few hundredths; measured at lag 5: 0.95 against 0.03).
    let mut slow =
        ChainWalk::new(guide::scale_weights(&two_valleys(), 4.0).unwrap(), 0, 1).unwrap();
    slow.run(20_000);
    let slow_tv = slow.total_variation();
    let slow_corr = slow.autocorrelation(10);
    assert!(slow_tv > late, "TV at scale 4 {slow_tv}, at scale 1 {late}");
    println!("scale 1: TV {late:.3}, autocorrelation at lags 1 and 5 {:.3} {:.3}; scale 4: TV {slow_tv:.3}, {:.3} {:.3}", quick[1], quick[5], slow_corr[1], slow_corr[5]);
    assert!(
        slow_corr[5] > quick[5] + 0.5,
        "lag-5 autocorrelation {} at scale 4, {} at scale 1",
        slow_corr[5],
        quick[5]
    );

    // Half steps alternate hidden then visible; a full step counts one visit.
    let mut halves = ChainWalk::new(two_valleys(), 5, 2).unwrap();
    assert!(halves.hidden_next());
    halves.half_step();
    assert!(!halves.hidden_next());
    assert_eq!(halves.steps(), 0);
    halves.half_step();
    assert_eq!(halves.steps(), 1);
    assert!(ChainWalk::new(two_valleys(), 16, 1).is_err());
    assert!(guide::scale_weights(&two_valleys(), f32::NAN).is_err());
}

#[test]
fn the_joint_table_refuses_models_too_large_to_list() {
    assert!(guide::joint_table(&random_rbm(8, 5, 1.0, 1)).is_err());
    assert!(guide::clamped_marginals(&random_rbm(17, 1, 1.0, 1), &[-1; 17]).is_err());
}

/// The guide's race: 3 x 3 bars and stripes, 6 hidden units, rate 0.5, no momentum,
/// the whole set as the batch, from the same start, 2,000 updates. The exact gradient
/// ends highest on each of three seeds (measured: about -2.8 nats against CD-10's -2.9
/// to -3.0, Gibbs-10's -3.1 to -3.4, CD-1's -3.4 to -4.1; PCD-1, whose 14 chains cannot
/// keep up with this rate, falls to about -6 to -8).
#[test]
fn in_the_race_the_exact_gradient_ends_highest() {
    for seed in 1..=3 {
        race(seed);
    }
}

fn race(seed: u64) {
    let data = bars_and_stripes(3).unwrap().images;
    let runners = [
        (Algorithm::Exact, 1),
        (Algorithm::Gibbs, 10),
        (Algorithm::Cd, 1),
        (Algorithm::Cd, 10),
        (Algorithm::Pcd, 1),
    ];
    let mut results = Vec::new();
    let mut starts = Vec::new();
    for (algorithm, k) in runners {
        let config = TrainConfig {
            n_hidden: 6,
            algorithm,
            k,
            learning_rate: 0.5,
            momentum: 0.0,
            weight_decay: 0.0,
            batch_size: data.rows(),
            persistent_chains: 0,
            seed,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(config, &data).unwrap();
        starts.push(trainer.model().weights().to_vec());
        for _ in 0..2000 {
            trainer.step(&|| 0.0).unwrap();
        }
        results.push(exact::mean_log_likelihood(trainer.model(), &data).unwrap());
    }
    println!("race, seed {seed}, after 2,000 updates: exact {:.3}, Gibbs-10 {:.3}, CD-1 {:.3}, CD-10 {:.3}, PCD-1 {:.3}", results[0], results[1], results[2], results[3], results[4]);
    assert!(
        starts.iter().all(|s| *s == starts[0]),
        "the runners start from different weights"
    );
    for (r, other) in results.iter().enumerate().skip(1) {
        assert!(
            results[0] > *other,
            "runner {r} ({other}) beat the exact gradient ({})",
            results[0]
        );
    }
}
