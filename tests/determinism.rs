//! Value-stability pins: the same seed and settings give these exact bits natively,
//! and `tests/web.rs` asserts the same constants in the browser.
mod common;

use common::*;
use rbm_lab::{data, exact, rng, GibbsChains, Trainer};

#[test]
fn transposes_follow_their_definition() {
    check_transposes();
}

#[test]
fn the_pinned_scenario_gives_the_pinned_bits() {
    let set = data::bars_and_stripes(PINNED_SIDE).unwrap();
    let mut trainer = Trainer::new(pinned_config(), &set.images).unwrap();
    let mut last = None;
    for _ in 0..PINNED_STEPS {
        last = Some(trainer.step(&|| 0.0).unwrap());
    }
    let model = trainer.model();
    let log_z = exact::log_partition(model, 1.0).unwrap();
    let mut g = rng::seeded(3);
    let mut chains = GibbsChains::random(model, 10, &mut g);
    chains.run(model, 5, 1.0, &mut g);
    let observed = (
        fingerprint(&parameters(model)),
        last.unwrap().reconstruction_error.to_bits(),
        log_z.to_bits(),
        fingerprint(chains.visible.as_slice()),
    );
    println!("pins: {observed:#x?}");
    assert_eq!(
        observed,
        (
            PINNED_PARAMETER_FINGERPRINT,
            PINNED_RECONSTRUCTION_ERROR_BITS,
            PINNED_LOG_PARTITION_BITS,
            PINNED_SAMPLE_FINGERPRINT
        )
    );
}

#[test]
fn a_run_repeats_exactly_and_another_seed_differs() {
    let set = data::bars_and_stripes(3).unwrap();
    let run = |seed: u64| {
        let mut config = pinned_config();
        config.seed = seed;
        let mut trainer = Trainer::new(config, &set.images).unwrap();
        for _ in 0..10 {
            trainer.step(&|| 0.0).unwrap();
        }
        fingerprint(&parameters(trainer.model()))
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}
