//! Training raises the exact log-likelihood on 3 x 3 bars-and-stripes, and bad
//! settings or a diverging run are handled without losing the model.
//!
//! The 14 patterns have mean log-likelihood log(1/14) = -2.64 under a perfect model;
//! the guide's initialisation starts at -6.24 (close to uniform over 512 images).
//! Margins measured with these settings and seeds (`cargo test --release --test
//! training -- --nocapture` prints them): exact reached -2.84 to -2.95 after 2,000
//! updates, CD-1 -3.26 to -3.43, PCD-5 with 100 chains -2.86 to -2.98 after 4,000,
//! Gibbs-1 from fresh noise -3.5 to -5.1. The asserted gains sit about 0.3 nats
//! below the worst run, so they fail when learning is broken but not by chance.
use rbm_lab::{data, exact, Algorithm, Rbm, RbmError, TrainConfig, Trainer};

fn gain(config: TrainConfig, steps: usize) -> (f64, f64) {
    let set = data::bars_and_stripes(3).unwrap();
    let mut trainer = Trainer::new(config, &set.images).unwrap();
    let before = exact::mean_log_likelihood(trainer.model(), &set.images).unwrap();
    for _ in 0..steps {
        trainer.step(&|| 0.0).unwrap();
    }
    let after = exact::mean_log_likelihood(trainer.model(), &set.images).unwrap();
    println!(
        "{:?} seed {}: {before:.3} -> {after:.3}",
        trainer.config().algorithm,
        trainer.config().seed
    );
    (before, after)
}

fn config(algorithm: Algorithm, seed: u64) -> TrainConfig {
    TrainConfig {
        n_hidden: 8,
        algorithm,
        k: 1,
        learning_rate: 0.1,
        momentum: 0.5,
        weight_decay: 0.0,
        batch_size: 14,
        persistent_chains: 0,
        seed,
        ..TrainConfig::default()
    }
}

#[test]
fn exact_gradient_learns_bars_and_stripes() {
    for seed in [1, 2] {
        let (before, after) = gain(config(Algorithm::Exact, seed), 2000);
        assert!(after - before > 3.0, "gain {}", after - before);
    }
}

#[test]
fn cd1_learns_bars_and_stripes() {
    for seed in [1, 2] {
        let (before, after) = gain(config(Algorithm::Cd, seed), 2000);
        assert!(after - before > 2.5, "gain {}", after - before);
    }
}

#[test]
fn pcd_learns_bars_and_stripes() {
    for seed in [1, 2] {
        let pcd = TrainConfig {
            k: 5,
            learning_rate: 0.05,
            persistent_chains: 100,
            ..config(Algorithm::Pcd, seed)
        };
        let (before, after) = gain(pcd, 4000);
        assert!(after - before > 2.9, "gain {}", after - before);
    }
}

#[test]
fn parallel_tempering_learns_bars_and_stripes_and_exchanges_states() {
    // As PCD above, with 4 temperatures down to 0.5 per persistent chain.
    for seed in [1, 2] {
        let tempering = TrainConfig {
            k: 5,
            learning_rate: 0.05,
            persistent_chains: 100,
            temperatures: 4,
            beta_min: 0.5,
            ..config(Algorithm::Tempering, seed)
        };
        let set = data::bars_and_stripes(3).unwrap();
        let mut trainer = Trainer::new(tempering.clone(), &set.images).unwrap();
        let before = rbm_lab::exact::mean_log_likelihood(trainer.model(), &set.images).unwrap();
        for _ in 0..4000 {
            trainer.step(&|| 0.0).unwrap();
        }
        let after = rbm_lab::exact::mean_log_likelihood(trainer.model(), &set.images).unwrap();
        let rates = trainer.tempering().unwrap().acceptance_rates();
        println!("seed {seed}: {before:.3} -> {after:.3}; exchange acceptance {rates:.2?}");
        assert!(after - before > 2.9, "gain {}", after - before);
        assert!(rates.iter().all(|&r| r > 0.05 && r <= 1.0), "{rates:?}");
    }
}

#[test]
fn gibbs_from_noise_learns_something() {
    for seed in [1, 2] {
        let (before, after) = gain(config(Algorithm::Gibbs, seed), 2000);
        assert!(after - before > 0.8, "gain {}", after - before);
    }
}

#[test]
fn every_bad_setting_is_named_with_its_range() {
    let set = data::bars_and_stripes(3).unwrap();
    let cd_with = |edit: fn(&mut TrainConfig)| {
        let mut c = config(Algorithm::Cd, 1);
        edit(&mut c);
        c
    };
    let cases: Vec<(TrainConfig, &str)> = vec![
        (
            cd_with(|c| c.n_hidden = 0),
            "n_hidden = 0 is not allowed: between 1 and",
        ),
        (
            cd_with(|c| c.k = 0),
            "k = 0 is not allowed: between 1 and 1000",
        ),
        (
            cd_with(|c| c.learning_rate = -1.0),
            "learning_rate = -1 is not allowed",
        ),
        (
            cd_with(|c| c.learning_rate = f32::NAN),
            "learning_rate = NaN",
        ),
        (
            cd_with(|c| c.momentum = 1.0),
            "momentum = 1 is not allowed: at least 0 and below 1",
        ),
        (cd_with(|c| c.weight_decay = -0.1), "weight_decay = -0.1"),
        (
            cd_with(|c| c.batch_size = 15),
            "batch_size = 15 is not allowed: between 1 and 14",
        ),
        (
            cd_with(|c| {
                c.algorithm = Algorithm::Pcd;
                c.persistent_chains = 20_000;
            }),
            "persistent_chains = 20000",
        ),
    ];
    for (bad, expected) in cases {
        let message = match Trainer::new(bad, &set.images) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted a bad setting, expected {expected}"),
        };
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    let mnist_sized = rbm_lab::Matrix::zeros(30, 784);
    let too_big = TrainConfig {
        n_hidden: 500,
        batch_size: 10,
        ..config(Algorithm::Exact, 1)
    };
    let message = Trainer::new(too_big, &mnist_sized)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("784 visible and 500 hidden"), "{message}");
}

#[test]
fn a_diverging_update_keeps_the_last_good_model() {
    let set = data::bars_and_stripes(3).unwrap();
    // Large weights and a decay step lr * decay = 5 > 2: the decay overshoots zero
    // and the weights leave the allowed range.
    let edge = Rbm::from_parts(9, 2, vec![5_000.0; 18], vec![0.0; 9], vec![0.0; 2]).unwrap();
    let settings = TrainConfig {
        learning_rate: 10.0,
        weight_decay: 0.5,
        ..config(Algorithm::Cd, 3)
    };
    let mut trainer = Trainer::resume(settings, edge.clone(), &set.images).unwrap();
    let error = trainer.step(&|| 0.0).unwrap_err();
    assert_eq!(error, RbmError::Diverged { step: 1 });
    assert!(error.to_string().contains("last good model is kept"));
    assert_eq!(trainer.model(), &edge);
    assert_eq!(trainer.steps_done(), 0);
}

#[test]
fn stats_report_progress() {
    let set = data::bars_and_stripes(3).unwrap();
    let mut trainer = Trainer::new(
        TrainConfig {
            batch_size: 7,
            ..config(Algorithm::Cd, 4)
        },
        &set.images,
    )
    .unwrap();
    let ticking = std::cell::Cell::new(0.0);
    let now = || {
        ticking.set(ticking.get() + 1.5);
        ticking.get()
    };
    for _ in 0..3 {
        let stats = trainer.step(&now).unwrap();
        assert_eq!(stats.wall_time_ms, 1.5);
        assert!((0.0..=1.0).contains(&stats.reconstruction_error));
        assert!(stats.update_ratio > 0.0 && stats.update_ratio < 1.0);
    }
    let stats = trainer.step(&now).unwrap();
    // 14 examples in batches of 7: two updates per epoch.
    assert_eq!((stats.step, stats.epoch), (4, 2.0));
}
