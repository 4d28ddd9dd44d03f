//! The page's presets (`www/settings.js`: each preset's values over its data set's
//! defaults), for `rbm-lab train --preset`. `tests/cli.rs` resolves the page's presets
//! with Node and checks that these are the same.

use clap::ValueEnum;
use rbm_lab::{Algorithm, TrainConfig};

#[derive(Clone, Copy, ValueEnum)]
pub enum PresetArg {
    /// The page's MNIST defaults: PCD-1, 100 hidden units, rate 0.01, 50 epochs.
    QuickDigits,
    /// The deeplearning.net tutorial: 500 hidden, PCD-15 with 20 chains, rate 0.1, batch 20, 15 epochs.
    TheanoTutorial,
    /// BernoulliRBM's defaults: 256 hidden, PCD-1 (a chain per batch row), rate 0.1, batch 10, 10 epochs.
    SklearnDefaults,
    /// CD-1 at rate 0.05 with momentum 0.5, as in Hinton's guide, 50 epochs.
    Hinton,
    /// Centred PCD-1, 20 hidden, 100 chains, rate 0.1 falling to 0.001 over 10 epochs.
    Best20,
    /// 4 x 4 bars and stripes: 16 hidden, PCD-5, rate 0.02, batch 10, 3,000 epochs.
    BarsAndStripes,
}

/// What a preset sets: the data, the epochs and every training setting but the seed.
pub struct Preset {
    pub name: &'static str,
    pub data: &'static str,
    pub epochs: usize,
    pub config: TrainConfig,
}

/// The page's MNIST defaults (`DEFAULTS.mnist`).
fn mnist() -> TrainConfig {
    TrainConfig {
        n_hidden: 100,
        algorithm: Algorithm::Pcd,
        k: 1,
        learning_rate: 0.01,
        momentum: 0.5,
        weight_decay: 1e-4,
        batch_size: 100,
        persistent_chains: 100,
        temperatures: 4,
        beta_min: 0.5,
        decay_epochs: 0,
        final_learning_rate: 0.001,
        sparsity_target: 0.1,
        sparsity_cost: 0.0,
        centring: false,
        seed: 1,
    }
}

pub fn preset(which: PresetArg) -> Preset {
    let base = mnist();
    let (name, data, epochs, config) = match which {
        PresetArg::QuickDigits => ("quick-digits", "mnist", 50, base),
        PresetArg::TheanoTutorial => (
            "theano-tutorial",
            "mnist",
            15,
            TrainConfig {
                n_hidden: 500,
                k: 15,
                learning_rate: 0.1,
                momentum: 0.0,
                weight_decay: 0.0,
                batch_size: 20,
                persistent_chains: 20,
                ..base
            },
        ),
        PresetArg::SklearnDefaults => (
            "sklearn-defaults",
            "mnist",
            10,
            TrainConfig {
                n_hidden: 256,
                learning_rate: 0.1,
                momentum: 0.0,
                weight_decay: 0.0,
                batch_size: 10,
                persistent_chains: 0,
                ..base
            },
        ),
        PresetArg::Hinton => (
            "hinton",
            "mnist",
            50,
            TrainConfig {
                algorithm: Algorithm::Cd,
                learning_rate: 0.05,
                persistent_chains: 0,
                ..base
            },
        ),
        PresetArg::Best20 => (
            "best20",
            "mnist",
            10,
            TrainConfig {
                n_hidden: 20,
                learning_rate: 0.1,
                decay_epochs: 10,
                final_learning_rate: 0.001,
                centring: true,
                ..base
            },
        ),
        PresetArg::BarsAndStripes => (
            "bars-and-stripes",
            "bars:4",
            3000,
            TrainConfig {
                n_hidden: 16,
                k: 5,
                learning_rate: 0.02,
                weight_decay: 0.0,
                batch_size: 10,
                ..base
            },
        ),
    };
    Preset {
        name,
        data,
        epochs,
        config,
    }
}
