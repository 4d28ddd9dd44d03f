//! Annealed importance sampling against exact enumeration.
//!
//! Tolerance: AIS reports its own standard error σ (delta method over the runs'
//! weights). Its estimate of `log Z` is within 3σ of the truth with high probability
//! when the weights' variance is finite and the runs many; the log of the mean is
//! biased low by about σ²/2, negligible at the σ asserted here. Each test is seeded,
//! so it is reproducible; the bound is what would hold for any seed.
mod common;

use common::{cd1_config, mnist_asset, random_rbm};
use rbm_lab::ais::{self, AisConfig};
use rbm_lab::{data, exact, Matrix, Trainer};

fn check(rbm: &rbm_lab::Rbm, train: &Matrix, config: AisConfig, largest_error: f64) -> (f64, f64) {
    let estimate = ais::estimate_log_partition(rbm, train, config).unwrap();
    let truth = exact::log_partition(rbm, 1.0).unwrap();
    let off = estimate.log_partition - truth;
    println!(
        "{} x {}: AIS {:.4} ± {:.4} (runs {}, temperatures {}), exact {truth:.4}, off by {off:.4}",
        rbm.n_visible(),
        rbm.n_hidden(),
        estimate.log_partition,
        estimate.standard_error,
        config.runs,
        config.temperatures
    );
    assert!(
        estimate.standard_error < largest_error,
        "σ = {}",
        estimate.standard_error
    );
    assert!(
        off.abs() <= 3.0 * estimate.standard_error + 1e-3,
        "off by {off}, σ {}",
        estimate.standard_error
    );
    assert!(estimate.low <= estimate.log_partition && estimate.log_partition <= estimate.high);
    (off, estimate.standard_error)
}

#[test]
fn the_schedule_runs_from_0_to_1_spending_most_steps_near_1() {
    let betas = ais::schedule(14_500);
    assert_eq!(betas.len(), 14_501);
    assert_eq!(betas[0], 0.0);
    assert_eq!(*betas.last().unwrap(), 1.0);
    assert!(betas.windows(2).all(|w| w[0] <= w[1]));
    assert!((betas[500] - 0.5).abs() < 1e-6 && (betas[4_500] - 0.9).abs() < 1e-6);
    assert_eq!(ais::schedule(1), vec![0.0, 1.0]);
}

#[test]
fn ais_agrees_with_exact_log_z_on_small_random_models() {
    for (m, n, scale, seed) in [(12, 6, 1.0, 1), (10, 14, 0.7, 2), (16, 8, 1.5, 3)] {
        let rbm = random_rbm(m, n, scale, seed);
        // A base rate from some data: half the pixels on.
        let data = Matrix::from_vec(2, m, (0..2 * m).map(|i| (i % 2) as f32).collect()).unwrap();
        check(
            &rbm,
            &data,
            AisConfig {
                runs: 200,
                temperatures: 1_000,
                seed,
            },
            0.1,
        );
    }
}

#[test]
fn ais_agrees_with_exact_log_z_on_mnist_784_x_20_within_half_a_nat() {
    // The target: a 784 x 20 model trained on MNIST (two epochs of the page's
    // CD-1 here), AIS within 3σ and within 0.5 nats of the exact log Z (2^20 states).
    let bytes = mnist_asset();
    let (train, test) = data::mnist_split(&bytes).unwrap();
    let mut trainer = Trainer::new(cd1_config(20, 5), &train.images).unwrap();
    for _ in 0..2 * trainer.steps_per_epoch() {
        trainer.step(&|| 0.0).unwrap();
    }
    let rbm = trainer.model();
    let (off, _) = check(
        rbm,
        &train.images,
        AisConfig {
            runs: 100,
            temperatures: 2_000,
            seed: 7,
        },
        0.2,
    );
    assert!(off.abs() < 0.5);
    // The held-out mean log p(v) from it, against the exact one.
    let estimate = ais::estimate_log_partition(
        rbm,
        &train.images,
        AisConfig {
            runs: 100,
            temperatures: 2_000,
            seed: 8,
        },
    )
    .unwrap();
    let (mean, error) = ais::mean_log_likelihood(rbm, &test.images, &estimate).unwrap();
    let exact_mean = exact::mean_log_likelihood(rbm, &test.images).unwrap();
    println!("held-out mean log p(v): AIS {mean:.3} ± {error:.3}, exact {exact_mean:.3}");
    assert!((mean - exact_mean).abs() <= 3.0 * error + 1e-3 && (mean - exact_mean).abs() < 0.5);
}

#[test]
fn ais_advances_in_slices_to_the_same_estimate() {
    let rbm = random_rbm(12, 6, 1.0, 4);
    let data = Matrix::from_vec(1, 12, vec![1.0; 12]).unwrap();
    let config = AisConfig {
        runs: 50,
        temperatures: 300,
        seed: 9,
    };
    let whole = ais::estimate_log_partition(&rbm, &data, config).unwrap();
    let mut sliced =
        ais::Ais::new(rbm.clone(), ais::base_rate_biases(&data).unwrap(), config).unwrap();
    let mut slices = 0;
    let mut last = -1.0;
    while !sliced.advance(sliced.flops_per_temperature() * 7.0) {
        assert!(sliced.progress() > last && sliced.result().is_none());
        last = sliced.progress();
        slices += 1;
    }
    assert!(slices > 10);
    assert_eq!(sliced.result().unwrap(), whole);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let rbm = random_rbm(4, 3, 1.0, 1);
    let data = Matrix::from_vec(1, 4, vec![1.0; 4]).unwrap();
    let error = ais::estimate_log_partition(
        &rbm,
        &data,
        AisConfig {
            runs: 1,
            temperatures: 10,
            seed: 1,
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("ais_runs"), "{error}");
    assert!(ais::estimate_log_partition(
        &rbm,
        &data,
        AisConfig {
            runs: 10,
            temperatures: 0,
            seed: 1
        }
    )
    .is_err());
    assert!(ais::base_rate_biases(&Matrix::zeros(0, 4)).is_err());
    assert!(ais::Ais::new(
        rbm,
        vec![0.0; 3],
        AisConfig {
            runs: 10,
            temperatures: 10,
            seed: 1
        }
    )
    .is_err());
}

/// A job sent to another worker as bytes (the page's AIS helper) is the same job: run
/// there, its estimate's bytes read back against the job equal the estimate in place
/// to the bit. Anything damaged on either side is refused by name.
#[test]
fn a_job_sent_as_bytes_gives_the_same_estimate_and_damage_is_refused() {
    let rbm = random_rbm(12, 6, 1.0, 4);
    let data =
        Matrix::from_vec(2, 12, [[1.0f32; 6], [0.0; 6], [0.0; 6], [1.0; 6]].concat()).unwrap();
    let config = AisConfig {
        runs: 40,
        temperatures: 200,
        seed: 11,
    };
    let base = ais::base_rate_biases(&data).unwrap();
    let whole = ais::estimate_log_partition(&rbm, &data, config).unwrap();
    let job = ais::Ais::new(rbm.clone(), base.clone(), config).unwrap();
    let task = job.task_bytes().unwrap();
    let mut away = ais::Ais::from_task_bytes(&task).unwrap();
    while !away.advance(away.flops_per_temperature() * 13.0) {}
    let answer = away.result().unwrap().to_bytes();
    assert_eq!(ais::AisEstimate::from_bytes(&answer, &job).unwrap(), whole);

    // A job already advanced cannot be sent (its runs' states are not in the bytes).
    let mut started = ais::Ais::new(rbm.clone(), base.clone(), config).unwrap();
    started.advance(1.0);
    assert!(started
        .task_bytes()
        .unwrap_err()
        .to_string()
        .contains("under way"));

    // Damaged tasks: the magic, a short one, a weight past the limit, a NaN base rate,
    // runs below the settings' range, a byte too many.
    let weights_at = 8 + 5 * 8;
    let base_at = task.len() - 12 * 4;
    let mut damaged: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut t = task.clone();
    t[0] = b'X';
    damaged.push((t, "not a saved AIS task"));
    damaged.push((task[..task.len() - 1].to_vec(), "ends too early"));
    let mut t = task.clone();
    t[weights_at..weights_at + 4].copy_from_slice(&1e9f32.to_le_bytes());
    damaged.push((t, "weights[0]"));
    let mut t = task.clone();
    t[base_at..base_at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    damaged.push((t, "the base rate[0]"));
    let mut t = task.clone();
    t[8 + 16..8 + 24].copy_from_slice(&1u64.to_le_bytes());
    damaged.push((t, "ais_runs"));
    let mut t = task.clone();
    t.push(0);
    damaged.push((t, "unexpected bytes"));
    for (bytes, expected) in damaged {
        let error = ais::Ais::from_task_bytes(&bytes)
            .err()
            .expect(expected)
            .to_string();
        assert!(error.contains(expected), "{expected}: {error}");
    }

    // Damaged answers: another job's runs, a NaN log Z, log Z outside its interval.
    let other = ais::Ais::new(rbm, base, AisConfig { runs: 41, ..config }).unwrap();
    let error = ais::AisEstimate::from_bytes(&answer, &other)
        .unwrap_err()
        .to_string();
    assert!(error.contains("40 runs"), "{error}");
    for (at, value) in [(24, f64::NAN), (24, whole.high + 1.0), (32, -1.0)] {
        let mut bytes = answer.clone();
        bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        let error = ais::AisEstimate::from_bytes(&bytes, &job)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a finite log Z"), "{error}");
    }
}
