//! RBM Lab's engine: a Bernoulli–Bernoulli Restricted Boltzmann Machine that trains,
//! samples and is checked against exact enumeration, natively and in WebAssembly.
//!
//! - [`model`]: parameters, energy, free energy, conditionals and block-Gibbs chains.
//! - [`train`]: minibatch learning with exact, Gibbs, CD-k and PCD-k negative phases.
//! - [`ais`]: annealed importance sampling for `log Z` (and `log p(v)`) beyond enumeration.
//! - [`exact`]: `log Z`, `log p(v)`, `p(v)` and model expectations by enumeration.
//! - [`guide`]: the guide page's exact figures on tiny models (the joint table, the
//!   gradient's two terms, exact completion, one chain's visits and autocorrelation).
//! - [`inference`]: using a model on pictures: clamped Gibbs completion, mean-field,
//!   denoising, and placing a picture among the data by its free energy.
//! - [`data`]: bars-and-stripes, the packed MNIST asset and seeded splits.
//! - [`modelfile`]: the JSON model file; [`tensorfile`]: the same model as safetensors; [`snapshot`]: the binary autosave of a run.
//! - [`limits`]: every setting's range, for the engine and for the page;
//!   [`size`]: checked arithmetic for sizes from outside; [`cost`]: work estimates.
//! - [`shard`]: one update's chain work split over several workers, combined in a fixed order.
//! - [`tempering`]: parallel tempering, chains at several temperatures that exchange states.
//! - [`monitor`]: learning-curve quantities (pseudo-log-likelihood, free-energy gap).
//! - [`trigram`], [`critics`]: the article's first example, a trigram model of two
//!   critics' five-word reviews.
//! - [`linalg`], [`mathfn`], [`rng`]: the deterministic numerical kernels under them.
//! - `wasm` (wasm32 only): the one module that meets JavaScript; its cargo features
//!   pick which of the page's five `.wasm` modules a build makes (see `wasm`).
//!
//! The core never touches the browser; everything but `wasm` runs under `cargo test`.

pub mod ais;
pub mod cost;
pub mod critics;
pub mod data;
pub mod error;
pub mod exact;
pub mod guide;
pub mod inference;
pub mod limits;
pub mod linalg;
pub mod mathfn;
pub mod model;
pub mod modelfile;
pub mod monitor;
pub mod rng;
pub mod shard;
pub mod size;
pub mod snapshot;
pub mod tempering;
pub mod tensorfile;
pub mod train;
pub mod trigram;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{RbmError, Result};
pub use linalg::Matrix;
pub use model::{GibbsChains, Rbm};
pub use train::{Algorithm, StepStats, TrainConfig, Trainer};
