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

/// A point of the curves sent to a helper worker as bytes (the task, and the rows it
/// reads, kept there) gives the same sums: accepted into the job that sent them, the
/// point equals the one computed in place, to the bit, for an exact model (all the
/// training rows sent) and one beyond enumeration (only the first rows). Damaged
/// tasks, rows and sums are refused by name.
#[test]
fn an_evaluation_sent_as_bytes_gives_the_same_point_and_damage_is_refused() {
    let mut g = rng::seeded(5);
    let mut binary = |rows: usize, m: usize| {
        let pixels: Vec<f32> = (0..rows * m)
            .map(|_| f32::from(rng::index(&mut g, 2) as u8))
            .collect();
        Matrix::from_vec(rows, m, pixels).unwrap()
    };
    let train = binary(1500, 30);
    let held = binary(300, 30);
    for (n, exact) in [(7, true), (25, false)] {
        let rbm = random_rbm(30, n, 1.0, 58);
        let whole = monitor::evaluate(&rbm, &train, Some(&held), &mut rng::seeded(6)).unwrap();
        assert_eq!(whole.log_likelihood_train.is_some(), exact);
        let mut job =
            monitor::EvaluationJob::new(rbm.clone(), &train, Some(&held), &mut rng::seeded(6))
                .unwrap();
        let needed = job.train_rows_needed();
        assert_eq!(needed, if exact { 1500 } else { 1000 });
        let data_bytes = monitor::EvaluationData::to_bytes(&train, needed, Some(&held));
        let data = monitor::EvaluationData::from_bytes(&data_bytes).unwrap();
        assert_eq!(data.train.rows(), needed);
        let task = job.task_bytes().unwrap();
        let mut away = monitor::EvaluationJob::from_task_bytes(&task, &data).unwrap();
        while !away
            .advance(&data.train, data.held_out.as_ref(), 20_000.0)
            .unwrap()
        {}
        let sums = away.sums_bytes().unwrap();
        job.accept_sums(&sums).unwrap();
        assert_eq!(job.result().unwrap(), whole, "{n} hidden units");
        assert_eq!(job.hidden_mean_activation(), away.hidden_mean_activation());

        // Sums that cannot be: a NaN, a positive pseudo-log-likelihood, an activity
        // above the rows, another model's width.
        let fresh = || {
            monitor::EvaluationJob::new(rbm.clone(), &train, Some(&held), &mut rng::seeded(6))
                .unwrap()
        };
        for (at, value) in [(16, f64::NAN), (16, 1.0), (16 + 6 * 8, 1001.0)] {
            let mut bytes = sums.clone();
            bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            let error = fresh().accept_sums(&bytes).unwrap_err().to_string();
            assert!(error.contains("out of range"), "{error}");
        }
        let mut bytes = sums.clone();
        bytes[8..16].copy_from_slice(&(n as u64 + 1).to_le_bytes());
        assert!(fresh()
            .accept_sums(&bytes)
            .unwrap_err()
            .to_string()
            .contains("hidden units"));
    }

    // Tasks that do not fit the rows held, and damaged ones.
    let rbm = random_rbm(30, 25, 1.0, 58);
    let job = monitor::EvaluationJob::new(rbm, &train, Some(&held), &mut rng::seeded(6)).unwrap();
    let task = job.task_bytes().unwrap();
    let few = monitor::EvaluationData::from_bytes(&monitor::EvaluationData::to_bytes(
        &train,
        900,
        Some(&held),
    ))
    .unwrap();
    let error = monitor::EvaluationJob::from_task_bytes(&task, &few)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("units drawn") || error.contains("does not fit"),
        "{error}"
    );
    let no_held =
        monitor::EvaluationData::from_bytes(&monitor::EvaluationData::to_bytes(&train, 1000, None))
            .unwrap();
    assert!(monitor::EvaluationJob::from_task_bytes(&task, &no_held).is_err());
    let mut bad_unit = task.clone();
    bad_unit[8 + 6 * 8..8 + 6 * 8 + 4].copy_from_slice(&30u32.to_le_bytes());
    let error = monitor::EvaluationJob::from_task_bytes(&bad_unit, &no_held)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("unit 30 is past"), "{error}");
    let mut data_bytes = monitor::EvaluationData::to_bytes(&train, 1000, Some(&held));
    let last = data_bytes.len() - 4;
    data_bytes[last..].copy_from_slice(&2.0f32.to_le_bytes());
    let error = monitor::EvaluationData::from_bytes(&data_bytes)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("held-out rows"), "{error}");
}
