//! The engine's quantities against brute-force enumeration of every (v, h) on tiny models.
//!
//! Tolerances: the engine works in f32 (its sigmoid and softplus are within 3e-7 and
//! 1e-6 of exact, its sums carry f32 rounding ~6e-8 per term), while the reference is
//! f64 from the definition. So probabilities are compared to 2e-6, log-quantities of
//! size ~10 to 5e-5, and the gradient (a difference of means of size ~1) to 2e-5.
mod common;

use common::{all_states, random_rbm, Reference};
use rbm_lab::{exact, Matrix};

fn states_matrix(units: usize) -> Matrix {
    let states = all_states(units);
    let data = states.iter().flatten().map(|&x| x as f32).collect();
    Matrix::from_vec(states.len(), units, data).unwrap()
}

#[test]
fn conditionals_equal_ratios_of_the_joint() {
    let rbm = random_rbm(5, 4, 1.0, 11);
    let reference = Reference::of(&rbm);
    for beta in [1.0f32, 0.5, 2.0] {
        let visible = states_matrix(5);
        let mut hidden_prob = Matrix::zeros(visible.rows(), 4);
        rbm.prob_hidden_given_visible(&visible, beta, &mut hidden_prob)
            .unwrap();
        let hidden = states_matrix(4);
        let mut visible_prob = Matrix::zeros(hidden.rows(), 5);
        rbm.prob_visible_given_hidden(&hidden, beta, &mut visible_prob)
            .unwrap();
        let b = f64::from(beta);
        for (r, v) in all_states(5).iter().enumerate() {
            // p(h_j = 1 | v) = Σ_{h: h_j = 1} exp(-βE(v,h)) / Σ_h exp(-βE(v,h)).
            let weights: Vec<(Vec<f64>, f64)> = all_states(4)
                .into_iter()
                .map(|h| {
                    let w = (-b * reference.energy(v, &h)).exp();
                    (h, w)
                })
                .collect();
            let total: f64 = weights.iter().map(|(_, w)| w).sum();
            for j in 0..4 {
                let on: f64 = weights
                    .iter()
                    .filter(|(h, _)| h[j] == 1.0)
                    .map(|(_, w)| w)
                    .sum();
                let got = f64::from(hidden_prob.row(r)[j]);
                assert!(
                    (got - on / total).abs() < 2e-6,
                    "beta {beta} v {r} h{j}: {got} vs {}",
                    on / total
                );
            }
        }
        for (r, h) in all_states(4).iter().enumerate() {
            let weights: Vec<(Vec<f64>, f64)> = all_states(5)
                .into_iter()
                .map(|v| {
                    let w = (-b * reference.energy(&v, h)).exp();
                    (v, w)
                })
                .collect();
            let total: f64 = weights.iter().map(|(_, w)| w).sum();
            for i in 0..5 {
                let on: f64 = weights
                    .iter()
                    .filter(|(v, _)| v[i] == 1.0)
                    .map(|(_, w)| w)
                    .sum();
                let got = f64::from(visible_prob.row(r)[i]);
                assert!((got - on / total).abs() < 2e-6, "beta {beta} h {r} v{i}");
            }
        }
    }
}

#[test]
fn energy_and_free_energy_match_the_definition() {
    let rbm = random_rbm(6, 3, 1.0, 12);
    let reference = Reference::of(&rbm);
    let visible = states_matrix(6);
    for beta in [1.0f32, 0.3] {
        let free = rbm.free_energy(&visible, beta).unwrap();
        for (r, v) in all_states(6).iter().enumerate() {
            let expected = -reference.log_marginal(v, f64::from(beta));
            assert!(
                (free[r] - expected).abs() < 5e-5,
                "F({r}) = {} vs {expected}",
                free[r]
            );
            for h in all_states(3) {
                let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                let h32: Vec<f32> = h.iter().map(|&x| x as f32).collect();
                let e = rbm.energy(&v32, &h32, f64::from(beta));
                assert!((e - f64::from(beta) * reference.energy(v, &h)).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn log_partition_agrees_across_enumerations_and_probabilities_sum_to_one() {
    for (m, n, seed) in [(5, 4, 13), (3, 7, 14), (8, 8, 15)] {
        let rbm = random_rbm(m, n, 1.0, seed);
        let reference = Reference::of(&rbm);
        for beta in [1.0f32, 0.5] {
            let brute = reference.log_partition(f64::from(beta));
            let by_visible = exact::log_partition_enumerating(&rbm, beta, true).unwrap();
            let by_hidden = exact::log_partition_enumerating(&rbm, beta, false).unwrap();
            let chosen = exact::log_partition(&rbm, beta).unwrap();
            for got in [by_visible, by_hidden, chosen] {
                assert!(
                    (got - brute).abs() < 5e-5,
                    "{m}x{n} beta {beta}: {got} vs {brute}"
                );
            }
            let p = exact::visible_distribution(&rbm, beta).unwrap();
            let total: f64 = p.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "sum p(v) = {total}");
            for (s, v) in all_states(m).iter().enumerate() {
                let expected = (reference.log_marginal(v, f64::from(beta)) - brute).exp();
                assert!(
                    (p[s] - expected).abs() < 5e-5 * expected.max(1e-3),
                    "p({s})"
                );
            }
        }
        let data = states_matrix(m);
        let log_likelihoods = exact::log_likelihood(&rbm, &data).unwrap();
        let total: f64 = log_likelihoods.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-4, "sum of exp(log p(v)) = {total}");
    }
}

#[test]
fn gray_code_resync_keeps_a_large_enumeration_exact() {
    // 2^14 states crosses the periodic resync several times; compare with enumerating
    // the other (small) layer, which needs no running sums at all.
    let rbm = random_rbm(14, 2, 0.5, 16);
    let by_visible = exact::log_partition_enumerating(&rbm, 1.0, true).unwrap();
    let by_hidden = exact::log_partition_enumerating(&rbm, 1.0, false).unwrap();
    assert!(
        (by_visible - by_hidden).abs() < 1e-4,
        "{by_visible} vs {by_hidden}"
    );
}

#[test]
fn exact_gradient_matches_finite_differences_of_the_exact_log_likelihood() {
    let (m, n) = (5, 3);
    let rbm = random_rbm(m, n, 0.7, 17);
    let reference = Reference::of(&rbm);
    let rows: Vec<usize> = vec![0, 3, 7, 12, 12, 25, 31];
    let all = all_states(m);
    let data: Vec<Vec<f64>> = rows.iter().map(|&s| all[s].clone()).collect();
    let batch = Matrix::from_vec(
        rows.len(),
        m,
        data.iter().flatten().map(|&x| x as f32).collect(),
    )
    .unwrap();

    // The engine's gradient: data term from p(h | v), model term from enumeration.
    let mut hidden_prob = Matrix::zeros(rows.len(), n);
    rbm.prob_hidden_given_visible(&batch, 1.0, &mut hidden_prob)
        .unwrap();
    let model = exact::model_expectations(&rbm, 1.0).unwrap();
    let count = rows.len() as f64;
    let data_term = |i: usize, j: usize| {
        (0..rows.len())
            .map(|r| f64::from(batch.row(r)[i]) * f64::from(hidden_prob.row(r)[j]))
            .sum::<f64>()
            / count
    };

    // Central differences of the f64 reference: truncation error ~eps² ~ 1e-8.
    let eps = 1e-4;
    let numeric = |edit: &dyn Fn(&mut Reference, f64)| {
        let mut plus = reference.clone();
        edit(&mut plus, eps);
        let mut minus = reference.clone();
        edit(&mut minus, -eps);
        (plus.mean_log_likelihood(&data) - minus.mean_log_likelihood(&data)) / (2.0 * eps)
    };
    for i in 0..m {
        for j in 0..n {
            let analytic = data_term(i, j) - model.visible_hidden[i * n + j];
            let fd = numeric(&|r: &mut Reference, d| r.w[i * n + j] += d);
            assert!(
                (analytic - fd).abs() < 2e-5,
                "dW[{i},{j}]: {analytic} vs {fd}"
            );
        }
        let analytic = (0..rows.len())
            .map(|r| f64::from(batch.row(r)[i]))
            .sum::<f64>()
            / count
            - model.visible[i];
        let fd = numeric(&|r: &mut Reference, d| r.b[i] += d);
        assert!((analytic - fd).abs() < 2e-5, "db[{i}]: {analytic} vs {fd}");
    }
    for j in 0..n {
        let analytic = (0..rows.len())
            .map(|r| f64::from(hidden_prob.row(r)[j]))
            .sum::<f64>()
            / count
            - model.hidden[j];
        let fd = numeric(&|r: &mut Reference, d| r.c[j] += d);
        assert!((analytic - fd).abs() < 2e-5, "dc[{j}]: {analytic} vs {fd}");
    }
    assert!((model.log_partition - reference.log_partition(1.0)).abs() < 5e-5);
}

#[test]
fn exact_refuses_models_too_large_to_enumerate() {
    let rbm = random_rbm(21, 22, 0.1, 18);
    let message = exact::log_partition(&rbm, 1.0).unwrap_err().to_string();
    assert!(
        message.contains("at most 20 units") && message.contains("21 visible and 22 hidden"),
        "{message}"
    );
    assert!(exact::visible_distribution(&rbm, 1.0).is_err());
}
