//! The engine's side of "nothing is lost": a run saved and restored continues bit for
//! bit, long work split into slices gives exactly what it gives whole, and outside
//! sizes that wrap in 32 bits or claim more than they hold are refused.
mod common;

use common::{fingerprint, parameters, random_rbm};
use rbm_lab::exact::{self, VisibleDistributionJob};
use rbm_lab::monitor::{self, EvaluationJob};
use rbm_lab::{data, rng, snapshot, Algorithm, Matrix, TrainConfig, Trainer};
use std::sync::Arc;

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::Cd,
    Algorithm::Pcd,
    Algorithm::Gibbs,
    Algorithm::Exact,
    Algorithm::Tempering,
];

fn config(algorithm: Algorithm) -> TrainConfig {
    TrainConfig {
        n_hidden: 7,
        algorithm,
        k: 3,
        learning_rate: 0.1,
        momentum: 0.7,
        weight_decay: 1e-3,
        batch_size: 6,
        persistent_chains: if matches!(algorithm, Algorithm::Pcd | Algorithm::Tempering) {
            11
        } else {
            0
        },
        seed: 99,
        ..TrainConfig::default()
    }
}

fn run(trainer: &mut Trainer, steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|_| trainer.step(&|| 0.0).unwrap().reconstruction_error)
        .collect()
}

/// Bits of everything a run's future depends on that the tests can see.
fn state(trainer: &Trainer) -> (u64, u64, Option<u64>) {
    (
        fingerprint(&parameters(trainer.model())),
        trainer.steps_done(),
        trainer
            .persistent_chains()
            .map(|c| fingerprint(c.visible.as_slice())),
    )
}

#[test]
fn a_restored_run_continues_bit_for_bit() {
    let set = data::bars_and_stripes(3).unwrap();
    for algorithm in ALGORITHMS {
        // 37 updates of 6 rows cross two reshuffles of the 14 examples.
        let mut whole = Trainer::new(config(algorithm), &set.images).unwrap();
        let errors_whole = run(&mut whole, 37 + 29);

        let mut first = Trainer::new(config(algorithm), &set.images).unwrap();
        run(&mut first, 37);
        let bytes = first.to_snapshot().unwrap();
        let mut restored = Trainer::from_snapshot(&bytes, &set.images).unwrap();
        assert_eq!(state(&restored), state(&first), "{algorithm:?}");
        let errors_restored = run(&mut restored, 29);
        assert_eq!(state(&restored), state(&whole), "{algorithm:?}");
        assert_eq!(errors_restored, errors_whole[37..], "{algorithm:?}");
        // A snapshot of the restored run is the same bytes as one of the original.
        assert_eq!(
            restored.to_snapshot().unwrap(),
            whole.to_snapshot().unwrap()
        );
    }
}

#[test]
fn trainers_on_a_shared_data_set_read_it_in_place_with_the_same_bits() {
    // The browser's data sets are shared with the trainers built on them (an Arc), not
    // copied; a trainer given a `&Matrix` keeps its own copy. Both give the same run.
    let set = data::bars_and_stripes(3).unwrap();
    let shared = Arc::new(set.images.clone());
    for algorithm in ALGORITHMS {
        let mut copying = Trainer::new(config(algorithm), &set.images).unwrap();
        let mut sharing = Trainer::new(config(algorithm), &shared).unwrap();
        assert!(std::ptr::eq(sharing.data(), &*shared), "{algorithm:?}");
        assert!(!std::ptr::eq(copying.data(), &set.images), "{algorithm:?}");
        assert_eq!(
            run(&mut sharing, 23),
            run(&mut copying, 23),
            "{algorithm:?}"
        );
        assert_eq!(state(&sharing), state(&copying), "{algorithm:?}");
        // A run continued from a model or restored from a snapshot shares it too.
        let resumed = Trainer::resume(config(algorithm), sharing.model().clone(), &shared).unwrap();
        assert!(std::ptr::eq(resumed.data(), &*shared), "{algorithm:?}");
        let bytes = sharing.to_snapshot().unwrap();
        let restored = Trainer::from_snapshot(&bytes, Arc::clone(&shared)).unwrap();
        assert!(std::ptr::eq(restored.data(), &*shared), "{algorithm:?}");
        assert_eq!(state(&restored), state(&sharing), "{algorithm:?}");
        // Other data are still refused by their fingerprint.
        let other = Arc::new(
            data::bars_and_stripes(3)
                .unwrap()
                .images
                .rows_between(0, 13),
        );
        let refused = Trainer::from_snapshot(&bytes, other)
            .err()
            .unwrap()
            .to_string();
        assert!(refused.contains("trained on other data"), "{refused}");
    }
    // Every trainer above is gone: the set is held here alone again.
    assert_eq!(Arc::strong_count(&shared), 1);
}

#[test]
fn an_update_split_into_pieces_equals_a_whole_one() {
    let set = data::bars_and_stripes(3).unwrap();
    for algorithm in ALGORITHMS {
        let mut whole = Trainer::new(config(algorithm), &set.images).unwrap();
        let mut pieces = Trainer::new(config(algorithm), &set.images).unwrap();
        let mut calls = 0;
        for _ in 0..20 {
            let expected = whole.step(&|| 0.0).unwrap();
            // Yield after every piece: k = 3 gives five pieces for cd, pcd and gibbs.
            let got = loop {
                calls += 1;
                if let Some(stats) = pieces.advance(&|| 0.0, &|| true).unwrap() {
                    break stats;
                }
                assert!(pieces.update_in_progress());
                assert!(pieces.to_snapshot().is_err(), "saved mid-update");
            };
            assert_eq!(got, expected, "{algorithm:?}");
        }
        assert_eq!(state(&pieces), state(&whole));
        if algorithm != Algorithm::Exact {
            assert!(calls >= 20 * 4, "{algorithm:?}: {calls} calls");
        }
    }
}

#[test]
fn a_snapshot_is_refused_on_other_data_or_when_damaged() {
    let set = data::bars_and_stripes(3).unwrap();
    let mut trainer = Trainer::new(config(Algorithm::Pcd), &set.images).unwrap();
    run(&mut trainer, 5);
    let bytes = trainer.to_snapshot().unwrap();
    let message = |b: &[u8], d: &Matrix| Trainer::from_snapshot(b, d).err().unwrap().to_string();

    let mut other = set.images.clone();
    other.as_mut_slice()[0] = 1.0 - other.as_slice()[0];
    assert!(message(&bytes, &other).contains("trained on other data"));
    assert!(message(&bytes[..bytes.len() - 1], &set.images).contains("ends too early"));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(message(&longer, &set.images).contains("1 unexpected bytes at the end"));
    assert!(message(b"RBMC\x01\0\0\0", &set.images).contains("not a saved training run"));
    // Every single-byte change either is refused with a message or restores a trainer
    // that can take an update (flipping a weight's low bits is a valid, other model).
    let mut refused = 0;
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5a;
        match Trainer::from_snapshot(&damaged, &set.images) {
            Ok(mut t) => drop(t.step(&|| 0.0)),
            Err(e) => {
                assert!(
                    e.to_string().starts_with("saved run: ")
                        || e.to_string().contains("not allowed"),
                    "{e}"
                );
                refused += 1;
            }
        }
    }
    assert!(
        refused > 100,
        "only {refused} of {} damaged bytes refused",
        bytes.len()
    );
}

#[test]
fn chains_round_trip_through_a_snapshot() {
    let rbm = random_rbm(6, 4, 1.0, 3);
    let mut g = rng::seeded(4);
    let mut chains = rbm_lab::GibbsChains::random(&rbm, 9, &mut g);
    chains.run(&rbm, 3, 1.0, &mut g);
    let bytes = snapshot::chains_to_bytes(&chains, &g).unwrap();
    let (mut back, mut g2) = snapshot::chains_from_bytes(&bytes, 6, 4).unwrap();
    chains.run(&rbm, 5, 1.0, &mut g);
    back.run(&rbm, 5, 1.0, &mut g2);
    assert_eq!(back.visible, chains.visible);
    assert_eq!(back.hidden_prob, chains.hidden_prob);
    assert!(snapshot::chains_from_bytes(&bytes, 6, 5)
        .err()
        .unwrap()
        .to_string()
        .contains("for 6 x 4 units"));
}

#[test]
fn a_sliced_evaluation_equals_a_whole_one() {
    let set = data::bars_and_stripes(4).unwrap();
    let (train, held_out) = set.split(20, 1).unwrap();
    for (m_hidden, scale) in [(5, 0.5), (300, 0.05)] {
        let rbm = random_rbm(16, m_hidden, scale, 8);
        let mut g1 = rng::seeded(5);
        let whole =
            monitor::evaluate(&rbm, &train.images, Some(&held_out.images), &mut g1).unwrap();
        let mut g2 = rng::seeded(5);
        let mut job =
            EvaluationJob::new(rbm.clone(), &train.images, Some(&held_out.images), &mut g2)
                .unwrap();
        let mut calls = 0;
        // A budget of one operation: one row (or log Z) per call.
        while !job
            .advance(&train.images, Some(&held_out.images), 1.0)
            .unwrap()
        {
            calls += 1;
        }
        assert_eq!(job.result().unwrap(), whole);
        // 20 training rows for the pseudo-likelihood (the first 10 also give the
        // free-energy gap's training side) and the 10 held-out rows.
        assert!(calls + 1 >= 20 + 10, "{calls} calls");
        // Exact log-likelihood is affordable for 5 hidden units, not for 300 (2^16 x 300 > 2^24).
        assert_eq!(whole.log_likelihood_train.is_some(), m_hidden == 5);
        let activation = monitor::hidden_mean_activation(&rbm, &train.images).unwrap();
        assert_eq!(job.hidden_mean_activation(), activation);
    }
}

#[test]
fn a_sliced_exact_distribution_equals_a_whole_one() {
    // 14 visible units: 16,384 states, four blocks of 4,096 with a resync at each.
    let rbm = random_rbm(14, 6, 0.7, 12);
    let whole = exact::visible_distribution(&rbm, 0.8).unwrap();
    let mut job = VisibleDistributionJob::new(rbm.clone(), 0.8).unwrap();
    assert!(job.result().is_none());
    let mut calls = 1;
    while !job.advance(1.0) {
        calls += 1;
    }
    assert_eq!(calls, 4);
    assert_eq!(job.result().unwrap(), whole);
    // A budget of NaN still makes progress, one block a call.
    let mut job = VisibleDistributionJob::new(rbm.clone(), 0.8).unwrap();
    let mut calls = 1;
    while !job.advance(f64::NAN) {
        calls += 1;
    }
    assert_eq!((calls, job.result().unwrap()), (4, whole));
}

#[test]
fn outside_sizes_that_wrap_or_lie_are_refused() {
    // Defect 5: 14 bytes that claim 2^19 images of 256 x 256 (the body's size wraps
    // to 0 in 32 bits).
    let mut header = b"RBMB\x01".to_vec();
    header.extend_from_slice(&(1u32 << 19).to_le_bytes());
    header.extend_from_slice(&256u16.to_le_bytes());
    header.extend_from_slice(&256u16.to_le_bytes());
    header.push(0);
    let message = data::parse_packed(&header).unwrap_err().to_string();
    assert!(
        message.contains("is more than this engine can hold"),
        "{message}"
    );
    let message = data::from_pixels(&[0.0; 4], 2_147_484_040, 2)
        .unwrap_err()
        .to_string();
    assert!(message.contains("not allowed"), "{message}");
    assert!(data::from_pixels(&[0.0, 1.0, 1.0, 0.5], 2, 2).is_err());
    assert!(data::from_pixels(&[], 2, 2).is_err());
}

#[test]
fn csv_rows_become_images_and_each_problem_is_named() {
    let set = data::parse_csv("# two images\n1,0,1,0,1,0\n\n0 1 0 1 0 1\n", 2, 3).unwrap();
    assert_eq!((set.len(), set.image_shape), (2, (2, 3)));
    assert_eq!(set.images.row(1), &[0., 1., 0., 1., 0., 1.]);
    let message =
        |text: &str, rows, cols| data::parse_csv(text, rows, cols).unwrap_err().to_string();
    assert!(message("1,0,2,0,1,0\n", 2, 3).contains("line 1, value 3 is \"2\"; only 0 and 1"));
    assert!(message("1,0\n1,0,1\n", 1, 2).contains("line 2 has more than 2 values"));
    assert!(message("1\n", 1, 2).contains("line 1 has 1 value; a 1 x 2 image needs 2"));
    assert!(message("\n# nothing\n", 1, 2).contains("no rows of pixels"));
    assert!(message("1\n", 65_536, 65_536).contains("not allowed"));
    assert!(message("1\n", 0, 3).contains("not allowed"));
}
