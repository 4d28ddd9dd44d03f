//! The page's MNIST defaults make digits: after a fixed number of updates, the 64
//! chains the page shows cover at least 7 of the 10 digit classes.
//!
//! The settings are read from `www/settings.js` (its `DEFAULTS.mnist` and `COMMON`), so
//! this test follows the page. The chains are run as the page runs them while it
//! trains: from noise, one Gibbs step under the current model for every few updates.
//! Each chain's picture (its `p(v | h)`, thresholded) is labelled by its nearest
//! training image (Hamming distance; the asset carries labels), and counts only within
//! 120 of the 784 pixels of it: a noise picture is about 390 pixels from every digit,
//! a blurred blob about 150 to 250, so neither counts.
mod common;

use rbm_lab::{data, rng, Algorithm, GibbsChains, TrainConfig, Trainer};

/// Updates before the chains are looked at (about 10 s of the page on this machine).
const UPDATES: u64 = 2000;
/// The page takes about one chain step per five updates while training.
const UPDATES_PER_CHAIN_STEP: u64 = 5;
const DISTANCE_BOUND: f32 = 120.0;

/// `name: value` pairs of a JS object literal's line(s), as text.
fn fields(source: &str, start: &str) -> Vec<(String, String)> {
    let from = source
        .find(start)
        .unwrap_or_else(|| panic!("www/settings.js lacks {start}"));
    let body = &source[from + start.len()..];
    let body = &body[..body.find('}').expect("an object literal")];
    body.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once(':')?;
            Some((
                key.trim().to_string(),
                value.trim().trim_matches('\'').to_string(),
            ))
        })
        .collect()
}

fn page_defaults() -> (TrainConfig, usize) {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/settings.js")).unwrap();
    let mut values = fields(&source, "const COMMON = {");
    values.extend(fields(&source, "mnist: { ...COMMON,"));
    let get = |key: &str| -> String {
        values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .1
            .clone()
    };
    let config = TrainConfig {
        n_hidden: get("n_hidden").parse().unwrap(),
        algorithm: serde_json::from_str(&format!("\"{}\"", get("algorithm"))).unwrap(),
        k: get("k").parse().unwrap(),
        learning_rate: get("learning_rate").parse().unwrap(),
        momentum: get("momentum").parse().unwrap(),
        weight_decay: get("weight_decay").parse().unwrap(),
        batch_size: get("batch_size").parse().unwrap(),
        persistent_chains: get("persistent_chains").parse().unwrap(),
        seed: 1,
        ..TrainConfig::default()
    };
    (config, get("chains").parse().unwrap())
}

/// Distinct labels of the chains' pictures that lie within the bound of a training image.
fn classes(chains: &GibbsChains, train: &data::Dataset) -> usize {
    let labels = train.labels.as_ref().expect("the asset has labels");
    let mut seen = [false; 10];
    for c in 0..chains.len() {
        let picture: Vec<f32> = chains
            .visible_prob
            .row(c)
            .iter()
            .map(|&p| f32::from(p >= 0.5))
            .collect();
        let (distance, nearest) = (0..train.len())
            .map(|r| {
                let d: f32 = picture
                    .iter()
                    .zip(train.images.row(r))
                    .map(|(a, b)| (a - b).abs())
                    .sum();
                (d, r)
            })
            .fold((f32::MAX, 0), |best, x| if x.0 < best.0 { x } else { best });
        if distance < DISTANCE_BOUND {
            seen[usize::from(labels[nearest])] = true;
        }
    }
    seen.iter().filter(|&&s| s).count()
}

fn run(config: TrainConfig, chains: usize, train: &data::Dataset) -> usize {
    let mut trainer = Trainer::new(config, &train.images).unwrap();
    let mut g = rng::seeded(u64::from(trainer.config().seed as u32).wrapping_add(1));
    let mut shown = GibbsChains::random(trainer.model(), chains, &mut g);
    while trainer.steps_done() < UPDATES {
        trainer.step(&|| 0.0).unwrap();
        if trainer.steps_done().is_multiple_of(UPDATES_PER_CHAIN_STEP) {
            shown.run(trainer.model(), 1, 1.0, &mut g);
        }
    }
    classes(&shown, train)
}

#[test]
fn the_mnist_defaults_make_varied_digits() {
    let (train, _) = data::mnist_split(&common::mnist_asset()).unwrap();
    let (config, chains) = page_defaults();
    assert_eq!(chains, 64);
    for seed in [1, 2, 3] {
        let found = run(
            TrainConfig {
                seed,
                ..config.clone()
            },
            chains,
            &train,
        );
        println!("{:?}-{} at rate {} with {} hidden units, seed {seed}: {found} of 10 classes after {UPDATES} updates", config.algorithm, config.k, config.learning_rate, config.n_hidden);
        assert!(found >= 7, "seed {seed}: {found} classes");
    }
}

/// For the README: the old default, CD-1 at rate 0.05, under the same measurement
/// (printed, not asserted; it runs beside the test above).
#[test]
fn the_old_default_for_comparison() {
    let (train, _) = data::mnist_split(&common::mnist_asset()).unwrap();
    let (config, chains) = page_defaults();
    let old = TrainConfig {
        algorithm: Algorithm::Cd,
        learning_rate: 0.05,
        persistent_chains: 0,
        ..config
    };
    for seed in [1, 2, 3] {
        println!(
            "CD-1 at 0.05, seed {seed}: {} of 10 classes",
            run(
                TrainConfig {
                    seed,
                    ..old.clone()
                },
                chains,
                &train
            )
        );
    }
}

/// The "Best at 20 hidden units" preset of www/settings.js on top of the MNIST defaults.
fn best_preset() -> TrainConfig {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/settings.js")).unwrap();
    let (defaults, _) = page_defaults();
    let values = fields(&source, "values: { data: 'mnist', n_hidden: 20,");
    let get = |key: &str| {
        values
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("the preset lacks {key}"))
            .1
            .clone()
    };
    TrainConfig {
        n_hidden: 20,
        algorithm: serde_json::from_str(&format!("\"{}\"", get("algorithm"))).unwrap(),
        k: get("k").parse().unwrap(),
        persistent_chains: get("persistent_chains").parse().unwrap(),
        learning_rate: get("learning_rate").parse().unwrap(),
        decay_epochs: get("decay_epochs").parse().unwrap(),
        final_learning_rate: get("final_learning_rate").parse().unwrap(),
        centring: get("centring") == "on",
        ..defaults
    }
}

/// Issue 11's target: the best named preset beats a fair CD-1 (rate 0.05, momentum 0.5,
/// batch 100, sampled reconstructions, the same split) on the exact held-out
/// log-likelihood at 20 hidden units and 10 epochs by at least 10 nats, mean over
/// seeds 1 to 3, at no more than twice CD-1's chain-steps per update (100). Measured:
/// -146.66 against -168.41 (21.7 nats; per seed -147.48, -146.89, -145.62 against
/// -166.99, -170.53, -167.69), both at 100 chain-steps.
#[test]
fn the_best_preset_beats_a_fair_cd1_by_ten_nats_at_20_hidden_units() {
    let (train, test) = data::mnist_split(&common::mnist_asset()).unwrap();
    let best = best_preset();
    let fair = TrainConfig {
        algorithm: Algorithm::Cd,
        k: 1,
        learning_rate: 0.05,
        momentum: 0.5,
        batch_size: 100,
        persistent_chains: 0,
        ..best.clone()
    };
    let fair = TrainConfig {
        decay_epochs: 0,
        centring: false,
        ..fair
    };
    let chain_steps = |c: &TrainConfig| {
        c.negative_chains()
            * c.k
            * if c.algorithm == Algorithm::Tempering {
                c.temperatures
            } else {
                1
            }
    };
    assert!(
        chain_steps(&best) <= 2 * chain_steps(&fair),
        "{} chain-steps against {}",
        chain_steps(&best),
        chain_steps(&fair)
    );
    let held_out = |config: &TrainConfig| -> f64 {
        (1..=3u64)
            .map(|seed| {
                let mut trainer = Trainer::new(
                    TrainConfig {
                        seed,
                        ..config.clone()
                    },
                    &train.images,
                )
                .unwrap();
                for _ in 0..10 * trainer.steps_per_epoch() {
                    trainer.step(&|| 0.0).unwrap();
                }
                rbm_lab::exact::mean_log_likelihood(trainer.model(), &test.images).unwrap()
            })
            .sum::<f64>()
            / 3.0
    };
    let (best_ll, fair_ll) = (held_out(&best), held_out(&fair));
    println!("held-out log-likelihood at 20 hidden units, 10 epochs, mean of seeds 1 to 3: best preset {best_ll:.2}, fair CD-1 {fair_ll:.2}");
    assert!(best_ll > fair_ll + 10.0, "{best_ll} against {fair_ll}");
}
