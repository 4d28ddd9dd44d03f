//! Updates split over workers (`rbm_lab::shard`): the same bits for the same seed and
//! number of shards however the shards travel, and the same learning as one worker.
mod common;

use common::*;
use rbm_lab::shard::{ShardJob, ShardResult, ShardTask};
use rbm_lab::{data, Algorithm, TrainConfig, Trainer};

fn trainer_with(config: TrainConfig, side: usize, shards: usize, elsewhere: bool) -> Trainer {
    let set = data::bars_and_stripes(side).unwrap();
    let mut trainer = Trainer::new(config, &set.images).unwrap();
    trainer.set_shards(shards, elsewhere).unwrap();
    trainer
}

/// `steps` updates, computing shards 1 and up as a helper worker would: from the bytes
/// of their tasks, answering with the bytes of their results.
fn train_through_bytes(trainer: &mut Trainer, steps: usize) {
    let mut done = 0;
    while done < steps {
        if let Some(_stats) = trainer.advance(&|| 0.0, &|| false).unwrap() {
            done += 1;
            continue;
        }
        let requests = trainer.shard_requests();
        assert!(!requests.is_empty(), "waiting, but nothing to hand out");
        // Answer in reverse order: the combination must not depend on arrival order.
        for (index, bytes) in requests.into_iter().rev() {
            let (model, task) = ShardTask::from_bytes(&bytes).unwrap();
            assert_eq!(task.index, index);
            let answer = ShardJob::run(&model, task).unwrap().to_bytes();
            assert!(trainer.accept_shard(&answer).unwrap());
            assert!(
                !trainer.accept_shard(&answer).unwrap(),
                "a second answer is ignored"
            );
        }
    }
}

#[test]
fn one_shard_keeps_the_pinned_bits() {
    let mut trainer = trainer_with(pinned_config(), PINNED_SIDE, 1, true);
    for _ in 0..PINNED_STEPS {
        trainer.step(&|| 0.0).unwrap();
    }
    assert_eq!(
        fingerprint(&parameters(trainer.model())),
        PINNED_PARAMETER_FINGERPRINT
    );
}

#[test]
fn two_shards_give_the_pinned_two_worker_bits_locally_and_through_bytes() {
    let mut local = trainer_with(pinned_config(), PINNED_SIDE, 2, false);
    for _ in 0..PINNED_STEPS {
        local.step(&|| 0.0).unwrap();
    }
    let mut helped = trainer_with(pinned_config(), PINNED_SIDE, 2, true);
    train_through_bytes(&mut helped, PINNED_STEPS);
    let bits = fingerprint(&parameters(local.model()));
    println!("two-worker pin: {bits:#x}");
    assert_eq!(bits, fingerprint(&parameters(helped.model())));
    assert_eq!(bits, PINNED_TWO_WORKER_FINGERPRINT);
    assert_ne!(bits, PINNED_PARAMETER_FINGERPRINT);
}

#[test]
fn every_chain_algorithm_repeats_for_each_shard_count() {
    for algorithm in [Algorithm::Cd, Algorithm::Pcd, Algorithm::Gibbs] {
        for shards in [2, 3, 7] {
            let config = TrainConfig {
                algorithm,
                k: 2,
                persistent_chains: 12,
                ..pinned_config()
            };
            let run = |elsewhere| {
                let mut trainer = trainer_with(config.clone(), 3, shards, elsewhere);
                if elsewhere {
                    train_through_bytes(&mut trainer, 12);
                } else {
                    for _ in 0..12 {
                        trainer.step(&|| 0.0).unwrap();
                    }
                }
                assert_eq!(trainer.shards_in_use(), shards);
                let mut bits = parameters(trainer.model());
                if let Some(chains) = trainer.persistent_chains() {
                    bits.extend_from_slice(chains.visible.as_slice());
                }
                fingerprint(&bits)
            };
            assert_eq!(run(false), run(true), "{algorithm:?} with {shards} shards");
        }
    }
}

#[test]
fn exact_and_tempering_and_small_batches_use_fewer_shards() {
    for (algorithm, batch, expected) in [
        (Algorithm::Exact, 10, 1),
        (Algorithm::Tempering, 10, 1),
        (Algorithm::Cd, 3, 3),
        (Algorithm::Cd, 1, 1),
    ] {
        let config = TrainConfig {
            algorithm,
            batch_size: batch,
            ..pinned_config()
        };
        let trainer = trainer_with(config, 3, 8, false);
        assert_eq!(
            trainer.shards_in_use(),
            expected,
            "{algorithm:?}, batch {batch}"
        );
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The expected CD-1 gradient of the weights over `rows`, by enumeration:
/// `mean_v0 [v0 p(h|v0)ᵀ - Σ_h0 p(h0|v0) Σ_v1 p(v1|h0) v1 p(h|v1)ᵀ]`.
fn expected_cd1_weight_gradient(model: &rbm_lab::Rbm, rows: &[Vec<f64>]) -> Vec<f64> {
    let (m, n) = (model.n_visible(), model.n_hidden());
    let (w, b, c) = (model.weights(), model.visible_bias(), model.hidden_bias());
    let hidden_prob = |v: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|j| sigmoid(c[j] as f64 + (0..m).map(|i| v[i] * w[i * n + j] as f64).sum::<f64>()))
            .collect()
    };
    let visible_prob = |h: &[f64]| -> Vec<f64> {
        (0..m)
            .map(|i| sigmoid(b[i] as f64 + (0..n).map(|j| h[j] * w[i * n + j] as f64).sum::<f64>()))
            .collect()
    };
    let chance = |state: &[f64], prob: &[f64]| -> f64 {
        state
            .iter()
            .zip(prob)
            .map(|(&s, &p)| if s > 0.5 { p } else { 1.0 - p })
            .product()
    };
    let (hiddens, visibles) = (all_states(n), all_states(m));
    let mut gradient = vec![0.0; m * n];
    for v0 in rows {
        let ph0 = hidden_prob(v0);
        for i in 0..m {
            for j in 0..n {
                gradient[i * n + j] += v0[i] * ph0[j] / rows.len() as f64;
            }
        }
        for h0 in &hiddens {
            let p_h0 = chance(h0, &ph0);
            let pv1 = visible_prob(h0);
            for v1 in &visibles {
                let weight = p_h0 * chance(v1, &pv1) / rows.len() as f64;
                let ph1 = hidden_prob(v1);
                for i in 0..m {
                    for j in 0..n {
                        gradient[i * n + j] -= weight * v1[i] * ph1[j];
                    }
                }
            }
        }
    }
    gradient
}

/// One CD-1 update over the whole of 3x3 bars and stripes (14 rows), without momentum
/// or decay, moves the weights by the learning rate times the sampled gradient. Its
/// mean over 1500 seeds must match the enumerated expectation for 1 and for 4 shards:
/// each weight within 5 standard errors (estimated from the same seeds) plus 1e-4 for
/// the f32 arithmetic. Losing or doubling one shard's part moves the mean by a
/// quarter of the positive and negative terms, far outside that.
#[test]
fn the_split_gradient_has_the_exact_expectation() {
    let set = data::bars_and_stripes(3).unwrap();
    let rows: Vec<Vec<f64>> = (0..set.images.rows())
        .map(|r| set.images.row(r).iter().map(|&x| f64::from(x)).collect())
        .collect();
    let start = random_rbm(9, 3, 0.7, 11);
    let expected = expected_cd1_weight_gradient(&start, &rows);
    let learning_rate = 0.01f32;
    let repeats = 1500;
    for shards in [1, 4] {
        let mut sum = vec![0.0f64; expected.len()];
        let mut sum_sq = vec![0.0f64; expected.len()];
        for seed in 0..repeats {
            let config = TrainConfig {
                n_hidden: 3,
                batch_size: 14,
                learning_rate,
                momentum: 0.0,
                weight_decay: 0.0,
                seed,
                ..pinned_config()
            };
            let mut trainer = Trainer::resume(config, start.clone(), &set.images).unwrap();
            trainer.set_shards(shards, false).unwrap();
            trainer.step(&|| 0.0).unwrap();
            for (i, (&after, &before)) in trainer
                .model()
                .weights()
                .iter()
                .zip(start.weights())
                .enumerate()
            {
                let g = f64::from(after - before) / f64::from(learning_rate);
                sum[i] += g;
                sum_sq[i] += g * g;
            }
        }
        let r = repeats as f64;
        for i in 0..expected.len() {
            let mean = sum[i] / r;
            let standard_error = ((sum_sq[i] / r - mean * mean).max(0.0) / r).sqrt();
            assert!(
                (mean - expected[i]).abs() <= 5.0 * standard_error + 1e-4,
                "{shards} shards, weight {i}: mean {mean}, expected {}, standard error {standard_error}",
                expected[i]
            );
        }
    }
}

#[test]
fn damaged_and_late_shard_messages_are_refused() {
    let mut trainer = trainer_with(pinned_config(), 3, 2, true);
    assert!(trainer.advance(&|| 0.0, &|| false).unwrap().is_none());
    let (index, bytes) = trainer.shard_requests().remove(0);
    assert_eq!(index, 1);
    for cut in [0, 7, 30, bytes.len() - 1] {
        assert!(
            ShardTask::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(ShardTask::from_bytes(&longer).is_err());

    let (model, task) = ShardTask::from_bytes(&bytes).unwrap();
    let result = ShardJob::run(&model, task.clone()).unwrap();
    // A NaN in the gradient is refused, not added in.
    let mut poisoned = result.clone();
    poisoned.gradient[3] = f32::NAN;
    assert!(trainer.accept_shard(&poisoned.to_bytes()).is_err());
    // The answer to another update is ignored.
    let late = ShardResult {
        update: task.update + 5,
        ..result.clone()
    };
    assert!(!trainer.accept_shard(&late.to_bytes()).unwrap());
    assert!(trainer.accept_shard(&result.to_bytes()).unwrap());
    assert!(trainer.advance(&|| 0.0, &|| false).unwrap().is_some());
    // Snapshots wait for the update to finish; the shard count is not part of them.
    assert!(trainer.to_snapshot().is_ok());
}

#[test]
fn workers_are_used_only_where_the_work_pays_for_them() {
    let mnist = |algorithm, k, batch, chains| {
        let config = TrainConfig {
            n_hidden: 500,
            algorithm,
            k,
            batch_size: batch,
            persistent_chains: chains,
            ..pinned_config()
        };
        let images = rbm_lab::Matrix::zeros(1000, 784);
        let mut trainer = Trainer::new(config, &images).unwrap();
        trainer.set_workers(8, true).unwrap()
    };
    // CD-1 at batch 100 passes 500 rows through the weights: one exchange costs more.
    assert_eq!(mnist(Algorithm::Cd, 1, 100, 0), 1);
    assert_eq!(mnist(Algorithm::Cd, 10, 100, 0), 3);
    assert_eq!(mnist(Algorithm::Pcd, 15, 100, 100), 4);
    assert_eq!(mnist(Algorithm::Cd, 1, 1000, 0), 6);
    // A tiny model is never split: messages would cost more than the work.
    let mut tiny = trainer_with(
        TrainConfig {
            k: 50,
            ..pinned_config()
        },
        3,
        1,
        false,
    );
    assert_eq!(tiny.set_workers(8, false).unwrap(), 1);
}
