//! Learning-curve quantities against their definitions on tiny models.
mod common;

use common::{all_states, random_rbm, Reference};
use rbm_lab::{monitor, rng, Matrix};

fn rows(states: &[usize], m: usize) -> Matrix {
    let all = all_states(m);
    let data = states
        .iter()
        .flat_map(|&s| all[s].iter().map(|&x| x as f32))
        .collect();
    Matrix::from_vec(states.len(), m, data).unwrap()
}

#[test]
fn exact_pseudo_log_likelihood_matches_the_conditionals_of_the_joint() {
    let (m, n) = (6, 4);
    let rbm = random_rbm(m, n, 1.0, 51);
    let reference = Reference::of(&rbm);
    let states = [0, 5, 17, 42, 63];
    let mut expected = 0.0;
    for &s in &states {
        let v = &all_states(m)[s];
        for i in 0..m {
            // p(v_i | v_-i) = p(v) / (p(v) + p(v with unit i flipped)).
            let mut flipped = v.clone();
            flipped[i] = 1.0 - flipped[i];
            let (a, b) = (
                reference.log_marginal(v, 1.0),
                reference.log_marginal(&flipped, 1.0),
            );
            expected += a - common::log_sum_exp(&[a, b]);
        }
    }
    expected /= states.len() as f64;
    let got = monitor::pseudo_log_likelihood_exact(&rbm, &rows(&states, m)).unwrap();
    // f32 inputs and softplus (1e-6 relative) over 6 terms of size ~1: 2e-5 is ample.
    assert!((got - expected).abs() < 2e-5, "{got} vs {expected}");
}

#[test]
fn stochastic_pseudo_log_likelihood_is_unbiased() {
    let (m, n) = (8, 5);
    let rbm = random_rbm(m, n, 1.0, 52);
    let data = rows(&[1, 30, 77, 128, 200, 255, 3, 90], m);
    let exact = monitor::pseudo_log_likelihood_exact(&rbm, &data).unwrap();
    let mut g = rng::seeded(53);
    let draws: Vec<f64> = (0..4000)
        .map(|_| monitor::pseudo_log_likelihood(&rbm, &data, &mut g).unwrap())
        .collect();
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    let variance = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (draws.len() - 1) as f64;
    let standard_error = (variance / draws.len() as f64).sqrt();
    // The mean of 4000 independent estimates is within 5 standard errors of the
    // exact value unless the estimator is biased (chance below 1e-6).
    assert!(
        (mean - exact).abs() < 5.0 * standard_error,
        "{mean} vs {exact} (se {standard_error})"
    );
    assert!(standard_error > 0.0);
}

#[test]
fn free_energy_gap_and_hidden_activity() {
    let rbm = random_rbm(6, 3, 1.0, 54);
    let data = rows(&[0, 1, 2, 3, 60, 61], 6);
    let mut g = rng::seeded(1);
    let same = monitor::evaluate(&rbm, &data, Some(&data), &mut g).unwrap();
    assert_eq!(same.free_energy_gap, Some(0.0));
    let other = rows(&[40, 41, 42, 43, 44, 45], 6);
    let gap = monitor::evaluate(&rbm, &data, Some(&other), &mut g)
        .unwrap()
        .free_energy_gap
        .unwrap();
    let expected = monitor::mean_free_energy(&rbm, &other).unwrap()
        - monitor::mean_free_energy(&rbm, &data).unwrap();
    assert!((gap - expected).abs() < 1e-12);

    let activity = monitor::hidden_mean_activation(&rbm, &data).unwrap();
    let mut prob = Matrix::zeros(6, 3);
    rbm.prob_hidden_given_visible(&data, 1.0, &mut prob)
        .unwrap();
    for (j, &active) in activity.iter().enumerate() {
        let mean = (0..6).map(|r| prob.row(r)[j]).sum::<f32>() / 6.0;
        assert!((active - mean).abs() < 1e-6);
    }
}

#[test]
fn exact_log_likelihood_is_reported_only_when_affordable() {
    let small = random_rbm(6, 3, 1.0, 55);
    let data = rows(&[0, 9, 33], 6);
    let mut g = rng::seeded(2);
    let evaluation = monitor::evaluate(&small, &data, Some(&data), &mut g).unwrap();
    let expected = rbm_lab::exact::mean_log_likelihood(&small, &data).unwrap();
    assert!((evaluation.log_likelihood_train.unwrap() - expected).abs() < 1e-9);
    assert_eq!(
        evaluation.log_likelihood_held_out,
        evaluation.log_likelihood_train
    );
    assert_eq!(evaluation.exact_unavailable, None);

    let large = random_rbm(784, 15, 0.01, 56);
    let pixels = Matrix::zeros(2, 784);
    let evaluation = monitor::evaluate(&large, &pixels, None, &mut g).unwrap();
    assert_eq!(evaluation.log_likelihood_train, None);
    assert!(evaluation
        .exact_unavailable
        .unwrap()
        .contains("2^15 states"));
    assert!(monitor::evaluate(&large, &Matrix::zeros(2, 5), None, &mut g).is_err());
}

/// The free-energy gap's training rows begin with the pseudo-likelihood's (their hidden
/// inputs are computed once): whether the held-out set is smaller or larger than that
/// subset (1,000 rows), a held-out set equal to the first training rows gives a gap of
/// exactly 0, the sums taken in the same row order, and sliced as whole.
#[test]
fn the_free_energy_gap_reuses_the_pseudo_likelihoods_rows_to_the_bit() {
    let (m, n) = (30, 7);
    let rbm = random_rbm(m, n, 1.0, 57);
    let mut g = rng::seeded(3);
    let pixels: Vec<f32> = (0..1200 * m)
        .map(|_| f32::from(rng::index(&mut g, 2) as u8))
        .collect();
    let train = Matrix::from_vec(1200, m, pixels).unwrap();
    for held_rows in [1, 500, 1000, 1100, 1200] {
        let held = train.rows_between(0, held_rows);
        let whole = monitor::evaluate(&rbm, &train, Some(&held), &mut rng::seeded(4)).unwrap();
        assert_eq!(
            whole.free_energy_gap,
            Some(0.0),
            "{held_rows} held-out rows"
        );
        let mut job =
            monitor::EvaluationJob::new(rbm.clone(), &train, Some(&held), &mut rng::seeded(4))
                .unwrap();
        while !job.advance(&train, Some(&held), 5000.0).unwrap() {}
        assert_eq!(
            job.result().unwrap(),
            whole,
            "{held_rows} held-out rows, sliced"
        );
    }
}
