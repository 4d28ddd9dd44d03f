//! Minibatch training: stochastic gradient ascent on the mean log-likelihood.
//!
//! For a minibatch V the gradient of the mean log-likelihood is
//! `∂/∂W = E_data[v p(h|v)ᵀ] - E_model[v hᵀ]`, `∂/∂b = E_data[v] - E_model[v]`,
//! `∂/∂c = E_data[p(h|v)] - E_model[h]`. The data term is exact; the model term
//! (the "negative phase") is where the algorithms differ:
//! - `exact`: enumeration of the smaller layer ([`crate::exact`]);
//! - `gibbs`: fresh chains from uniform noise, `k` block-Gibbs steps;
//! - `cd` (contrastive divergence, Hinton 2002): chains start at the minibatch, `k` steps;
//! - `pcd` (persistent CD, Tieleman 2008): chains persist across updates, `k` steps each;
//! - `tempering` (parallel tempering, Desjardins et al. 2010): persistent chains at
//!   `temperatures` inverse temperatures from 1 down to `beta_min`, `k` sweeps with
//!   exchanges each ([`crate::tempering`]); the β = 1 chains give the model term.
//!
//! Sampled negative phases use the chains' visible samples and the hidden
//! probabilities given them (Rao–Blackwellised hidden statistics).
//! The update, with learning rate ε, momentum μ and weight decay λ, is
//! `Δ ← μ Δ + ε (∂ - λ W)`, `W ← W + Δ` (no decay on the biases).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{RbmError, Result};
use crate::exact;
use crate::linalg::{squared_difference, transpose_product, with_wide_vectors, Matrix};
use crate::model::{GibbsChains, Rbm};
use crate::rng::{self, Rng};
use crate::shard::{self, ShardJob, ShardResult, ShardTask};
use crate::tempering::{self, Tempering};
use crate::{size, snapshot};

/// How the model term of the gradient is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Exact,
    Gibbs,
    Cd,
    Pcd,
    Tempering,
}

/// Training settings as a user gives them; [`TrainConfig::check`] validates them.
/// Every field has a default, so a partial object (from JSON or JS) is enough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub n_hidden: usize,
    pub algorithm: Algorithm,
    /// Gibbs steps per update (the k of CD-k and PCD-k).
    pub k: usize,
    pub learning_rate: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub batch_size: usize,
    /// Number of persistent chains for `pcd` and `tempering` (per temperature); 0 means
    /// one per minibatch row.
    pub persistent_chains: usize,
    /// `tempering`: how many inverse temperatures, from 1 down to `beta_min`.
    pub temperatures: usize,
    pub beta_min: f32,
    /// The learning rate falls linearly from `learning_rate` to `final_learning_rate`
    /// over the first `decay_epochs` epochs, then stays there (0: constant).
    pub decay_epochs: usize,
    pub final_learning_rate: f32,
    /// Sparsity (Hinton's practical guide, section 11): each hidden unit's running mean
    /// activation q on the data is pulled towards `sparsity_target` with weight
    /// `sparsity_cost` (0: off).
    pub sparsity_target: f32,
    pub sparsity_cost: f32,
    /// Centred gradients (Melchior et al., 2016), with offsets for both layers.
    pub centring: bool,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            n_hidden: 64,
            algorithm: Algorithm::Cd,
            k: 1,
            learning_rate: 0.05,
            momentum: 0.5,
            weight_decay: 1e-4,
            batch_size: 20,
            persistent_chains: 0,
            temperatures: 4,
            beta_min: 0.5,
            decay_epochs: 0,
            final_learning_rate: 0.05,
            sparsity_target: 0.1,
            sparsity_cost: 0.0,
            centring: false,
            seed: 1,
        }
    }
}

/// A parameter beyond this magnitude means the run has diverged; a model file whose
/// parameters exceed it is refused on load for the same reason.
pub const DIVERGENCE_LIMIT: f32 = 1e4;
pub use crate::limits::MAX_CHAINS;

/// A [`TrainConfig`] that passed validation against a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedConfig(TrainConfig);

impl CheckedConfig {
    pub fn get(&self) -> &TrainConfig {
        &self.0
    }
}

impl TrainConfig {
    /// Validates every setting for training on `n_examples` rows of `n_visible` pixels,
    /// against the engine's column of [`crate::limits::SETTINGS`].
    pub fn check(self, n_examples: usize, n_visible: usize) -> Result<CheckedConfig> {
        use crate::limits::{check_shown, Column::Engine};
        let c = self;
        if n_examples == 0 {
            return Err(RbmError::Data("the training set is empty".into()));
        }
        check_shown("n_hidden", c.n_hidden as f64, &c.n_hidden, Engine)?;
        check_shown("k", c.k as f64, &c.k, Engine)?;
        check_shown(
            "learning_rate",
            c.learning_rate.into(),
            &c.learning_rate,
            Engine,
        )?;
        check_shown("momentum", c.momentum.into(), &c.momentum, Engine)?;
        check_shown(
            "weight_decay",
            c.weight_decay.into(),
            &c.weight_decay,
            Engine,
        )?;
        check_shown(
            "persistent_chains",
            c.persistent_chains as f64,
            &c.persistent_chains,
            Engine,
        )?;
        check_shown("seed", c.seed as f64, &c.seed, Engine)?;
        check_shown(
            "temperatures",
            c.temperatures as f64,
            &c.temperatures,
            Engine,
        )?;
        check_shown("beta_min", c.beta_min.into(), &c.beta_min, Engine)?;
        check_shown(
            "decay_epochs",
            c.decay_epochs as f64,
            &c.decay_epochs,
            Engine,
        )?;
        check_shown(
            "final_learning_rate",
            c.final_learning_rate.into(),
            &c.final_learning_rate,
            Engine,
        )?;
        check_shown(
            "sparsity_target",
            c.sparsity_target.into(),
            &c.sparsity_target,
            Engine,
        )?;
        check_shown(
            "sparsity_cost",
            c.sparsity_cost.into(),
            &c.sparsity_cost,
            Engine,
        )?;
        if !(1..=n_examples.min(MAX_CHAINS)).contains(&c.batch_size) {
            return Err(RbmError::setting(
                "batch_size",
                c.batch_size,
                format!(
                    "between 1 and {} (the number of training examples, at most {MAX_CHAINS})",
                    n_examples.min(MAX_CHAINS)
                ),
            ));
        }
        if c.algorithm == Algorithm::Exact
            && n_visible.min(c.n_hidden) > exact::MAX_ENUMERATED_UNITS
        {
            return Err(RbmError::TooLargeForExact {
                n_visible,
                n_hidden: c.n_hidden,
            });
        }
        Ok(CheckedConfig(c))
    }

    /// Chains the negative phase runs: the minibatch, or the persistent chains of `pcd`.
    pub fn negative_chains(&self) -> usize {
        if matches!(self.algorithm, Algorithm::Pcd | Algorithm::Tempering)
            && self.persistent_chains > 0
        {
            self.persistent_chains
        } else {
            self.batch_size
        }
    }
}

/// What one update reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepStats {
    /// Updates done so far, this one included.
    pub step: u64,
    /// Completed passes through the training set, with the fraction of the current one.
    pub epoch: f64,
    /// Mean over the minibatch and pixels of `(v - p(v | h))²`, with h ~ p(h | v).
    pub reconstruction_error: f64,
    /// `‖ΔW‖ / ‖W‖`; Hinton's guide suggests keeping it near 1e-3.
    pub update_ratio: f64,
    /// Wall time of the update in milliseconds, as measured by the caller's clock.
    pub wall_time_ms: f64,
}

/// The training set a trainer reads: a `&Matrix` is copied, an `Arc<Matrix>` is shared.
/// The browser's data sets are shared: building a trainer for MNIST's 9,000 images
/// copied 28 MB (about 35 ms of the page's first picture, and again at every change of
/// a training setting, with a second copy alive meanwhile).
pub trait TrainingData {
    /// The images, to check before anything is copied.
    fn matrix(&self) -> &Matrix;
    fn into_shared(self) -> Arc<Matrix>;
}

impl TrainingData for &Matrix {
    fn matrix(&self) -> &Matrix {
        self
    }
    fn into_shared(self) -> Arc<Matrix> {
        Arc::new(self.clone())
    }
}

impl TrainingData for Arc<Matrix> {
    fn matrix(&self) -> &Matrix {
        self
    }
    fn into_shared(self) -> Arc<Matrix> {
        self
    }
}

impl TrainingData for &Arc<Matrix> {
    fn matrix(&self) -> &Matrix {
        self
    }
    fn into_shared(self) -> Arc<Matrix> {
        Arc::clone(self)
    }
}

/// The learner: a model, its optimiser state and its sampler state.
pub struct Trainer {
    config: CheckedConfig,
    model: Rbm,
    data: Arc<Matrix>,
    rng: Rng,
    order: Vec<usize>,
    cursor: usize,
    steps_done: u64,
    velocity_w: Vec<f32>,
    velocity_b: Vec<f32>,
    velocity_c: Vec<f32>,
    persistent: Option<GibbsChains>,
    tempering: Option<Tempering>,
    /// Centring's offsets: visible μ (the data's pixel means) and hidden λ (a moving
    /// average of the hidden units' mean activation on the data, from ½).
    visible_offset: Vec<f32>,
    hidden_offset: Vec<f32>,
    /// Sparsity's running mean activation q of each hidden unit on the data.
    hidden_activity: Vec<f32>,
    // Reused buffers: the minibatch chain (it starts at the data) and the gradient.
    batch_chain: GibbsChains,
    grad_w: Vec<f32>,
    negative_w: Vec<f32>,
    /// An update begun by [`Trainer::advance`] and not yet finished.
    pending: Option<Pending>,
    /// The last update's copies of the minibatch and its hidden probabilities, reused
    /// by the next instead of allocating two new matrices each update.
    spare: Option<(Matrix, Matrix)>,
    /// Shards each update of a chain algorithm is split into ([`crate::shard`]; 1: none).
    shards: usize,
    /// Whether other workers compute shards 1 and up (the page's helpers); if not,
    /// [`Trainer::advance`] computes them itself, in order.
    shards_elsewhere: bool,
    /// A split update in progress.
    sharded: Option<ShardedUpdate>,
}

/// A split update between its pieces: the tasks, shard 0's work (done here), and the
/// results that have arrived.
struct ShardedUpdate {
    started: f64,
    tasks: Vec<ShardTask>,
    own: Option<ShardJob>,
    results: Vec<Option<ShardResult>>,
}

/// Column means of the two phases (the biases' gradients before sparsity and centring).
struct Gradient {
    positive_b: Vec<f32>,
    positive_c: Vec<f32>,
    negative_b: Vec<f32>,
    negative_c: Vec<f32>,
}

/// An update in progress, between two of its pieces (see [`Trainer::advance`]).
struct Pending {
    started: f64,
    stage: Stage,
    positive_visible: Matrix,
    /// `p(h | v)` of the minibatch, once the first piece has run.
    positive_hidden: Option<Matrix>,
    /// A matrix to copy the hidden probabilities into (the last update's).
    hidden_buffer: Option<Matrix>,
    reconstruction_error: f64,
    /// The `gibbs` algorithm's fresh chains (the other algorithms use stored chains).
    fresh: Option<GibbsChains>,
    /// Gibbs steps of the negative phase still to run.
    remaining: usize,
}

/// The pieces of one update, in order. Each is at most one product of the minibatch
/// (or the chains) with the weights, so the longest time the trainer cannot stop is
/// one such product (see [`crate::cost::update_piece`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Sample h ~ p(h | v) for the minibatch.
    Hidden,
    /// The data term `Vᵀ p(H | V)` of the gradient.
    DataTerm,
    /// The reconstruction p(v | h) and the start of the negative chains.
    Reconstruction,
    /// One Gibbs step of the negative chains (`remaining` of them).
    Negative,
    /// `p(h | v)` of the negative chains' last states.
    NegativeHidden,
    /// The model term, the gradient and the new parameters.
    Update,
}

impl Trainer {
    /// A trainer for `data` (one binary example per row), with a model initialised
    /// as in Hinton's practical guide from the training data and the seed.
    pub fn new(config: TrainConfig, data: impl TrainingData) -> Result<Self> {
        let config = config.check(data.matrix().rows(), data.matrix().cols())?;
        let data = data.into_shared();
        let mut rng = rng::seeded(config.get().seed);
        let model = Rbm::init_for_data(&data, config.get().n_hidden, &mut rng)?;
        Trainer::with_model(config, model, data, rng)
    }

    /// A trainer that continues from `model` (for example one loaded from a file).
    pub fn resume(config: TrainConfig, model: Rbm, data: impl TrainingData) -> Result<Self> {
        Trainer::resume_at(config, model, data, 0)
    }

    /// As [`Trainer::resume`], counting updates on from `steps_done` (a model file's
    /// count, or the run's before a change of settings). The optimiser starts afresh.
    pub fn resume_at(
        config: TrainConfig,
        model: Rbm,
        data: impl TrainingData,
        steps_done: u64,
    ) -> Result<Self> {
        let images = data.matrix();
        if model.n_visible() != images.cols() {
            return Err(RbmError::Shape(format!(
                "the model has {} visible units but the data has {} pixels",
                model.n_visible(),
                images.cols()
            )));
        }
        let config = TrainConfig {
            n_hidden: model.n_hidden(),
            ..config
        }
        .check(images.rows(), images.cols())?;
        let data = data.into_shared();
        let rng = rng::seeded(config.get().seed);
        let mut trainer = Trainer::with_model(config, model, data, rng)?;
        trainer.steps_done = steps_done;
        Ok(trainer)
    }

    fn with_model(
        config: CheckedConfig,
        model: Rbm,
        data: Arc<Matrix>,
        mut rng: Rng,
    ) -> Result<Self> {
        let c = config.get();
        let m = model.n_visible();
        let persistent = if c.algorithm == Algorithm::Pcd {
            // Persistent chains start at random training examples.
            let count = c.negative_chains();
            let mut start = Matrix::zeros(count, m);
            for r in 0..count {
                let pick = rng::index(&mut rng, data.rows());
                start.row_mut(r).copy_from_slice(data.row(pick));
            }
            Some(GibbsChains::from_visible(&model, start)?)
        } else {
            None
        };
        let tempering = if c.algorithm == Algorithm::Tempering {
            let betas = tempering::ladder(c.temperatures, c.beta_min)?;
            Some(Tempering::random(
                &model,
                c.negative_chains(),
                betas,
                &mut rng,
            )?)
        } else {
            None
        };
        let order: Vec<usize> = (0..data.rows()).collect();
        let mut trainer = Trainer::assemble(config, model, data, rng, order, persistent)?;
        trainer.tempering = tempering;
        trainer.reshuffle();
        Ok(trainer)
    }

    /// A trainer with fresh optimiser buffers around the given state.
    fn assemble(
        config: CheckedConfig,
        model: Rbm,
        data: Arc<Matrix>,
        rng: Rng,
        order: Vec<usize>,
        persistent: Option<GibbsChains>,
    ) -> Result<Self> {
        let (m, n) = (model.n_visible(), model.n_hidden());
        let batch_chain =
            GibbsChains::from_visible(&model, Matrix::zeros(config.get().batch_size, m))?;
        let visible_offset = pixel_means(&data);
        let hidden_activity = vec![config.get().sparsity_target; n];
        Ok(Trainer {
            config,
            data,
            rng,
            order,
            cursor: 0,
            steps_done: 0,
            velocity_w: vec![0.0; m * n],
            velocity_b: vec![0.0; m],
            velocity_c: vec![0.0; n],
            persistent,
            tempering: None,
            visible_offset,
            hidden_offset: vec![0.5; n],
            hidden_activity,
            batch_chain,
            grad_w: vec![0.0; m * n],
            negative_w: vec![0.0; m * n],
            model,
            pending: None,
            spare: None,
            shards: 1,
            shards_elsewhere: false,
            sharded: None,
        })
    }

    pub fn model(&self) -> &Rbm {
        &self.model
    }

    pub fn config(&self) -> &TrainConfig {
        self.config.get()
    }

    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// The training set, one example per row.
    pub fn data(&self) -> &Matrix {
        &self.data
    }

    /// Updates per pass through the training set (partial minibatches are not used).
    pub fn steps_per_epoch(&self) -> usize {
        self.data.rows() / self.config.get().batch_size
    }

    /// The persistent chains of `pcd`, if any.
    pub fn persistent_chains(&self) -> Option<&GibbsChains> {
        self.persistent.as_ref()
    }

    /// The learning rate of the next update: `learning_rate`, falling linearly to
    /// `final_learning_rate` over `decay_epochs` epochs when that is not 0.
    pub fn learning_rate_now(&self) -> f32 {
        let c = self.config.get();
        if c.decay_epochs == 0 {
            return c.learning_rate;
        }
        let span = (c.decay_epochs * self.steps_per_epoch().max(1)) as f64;
        let t = (self.steps_done as f64 / span).min(1.0) as f32;
        c.learning_rate + (c.final_learning_rate - c.learning_rate) * t
    }

    /// Sparsity's running mean activation of each hidden unit on the data.
    pub fn hidden_activity(&self) -> &[f32] {
        &self.hidden_activity
    }

    /// The ladders of `tempering`, if any (their exchange acceptance rates, say).
    pub fn tempering(&self) -> Option<&Tempering> {
        self.tempering.as_ref()
    }

    /// True while an update begun by [`Trainer::advance`] has not finished.
    pub fn update_in_progress(&self) -> bool {
        self.pending.is_some() || self.sharded.is_some()
    }

    /// Splits each later update of `cd`, `pcd` and `gibbs` into `shards` parts
    /// ([`crate::shard`]); 1 (the default) keeps the unsplit update and its bits. With
    /// `elsewhere`, shards 1 and up are left to other workers (see
    /// [`Trainer::shard_requests`]); otherwise [`Trainer::advance`] computes them too.
    /// Refused while an update is in progress.
    pub fn set_shards(&mut self, shards: usize, elsewhere: bool) -> Result<()> {
        crate::limits::check("workers", shards as f64, crate::limits::Column::Engine)?;
        if self.update_in_progress() {
            return Err(RbmError::Data(
                "an update is in progress; finish it before changing the workers".into(),
            ));
        }
        self.shards = shards;
        self.shards_elsewhere = elsewhere;
        Ok(())
    }

    /// [`Trainer::set_shards`] with as many of `workers` as this run's updates pay for
    /// ([`shard::worthwhile`]): what the page's workers setting and the command line's
    /// `--workers` do. Returns the shards set.
    pub fn set_workers(&mut self, workers: usize, elsewhere: bool) -> Result<usize> {
        crate::limits::check("workers", workers as f64, crate::limits::Column::Engine)?;
        let c = self.config.get();
        let rows = shard::rows_through_weights(c.algorithm, c.k, c.batch_size, c.negative_chains());
        let (m, n) = (self.model.n_visible(), self.model.n_hidden());
        let shards = shard::worthwhile(workers, rows, m, n);
        self.set_shards(shards, elsewhere)?;
        Ok(shards)
    }

    /// Shards the next update is split into: the setting, but 1 for `exact` and
    /// `tempering`, and never more than the minibatch's rows or the chains.
    pub fn shards_in_use(&self) -> usize {
        let c = self.config.get();
        if !shard::shardable(c.algorithm) {
            return 1;
        }
        self.shards.min(c.batch_size).min(c.negative_chains())
    }

    /// The tasks of the split update in progress whose results have not arrived, as
    /// bytes with the parameters ([`ShardTask::to_bytes`]), for shards 1 and up:
    /// `(shard, bytes)`.
    pub fn shard_requests(&self) -> Vec<(usize, Vec<u8>)> {
        self.shard_request_pieces()
            .into_iter()
            .map(|pieces| (pieces.shard, pieces.joined()))
            .collect()
    }

    /// [`Trainer::shard_requests`] in pieces ([`ShardTask::pieces`]), the blocks where
    /// they lie in the trainer.
    pub fn shard_request_pieces(&self) -> Vec<shard::TaskPieces<'_>> {
        let Some(sharded) = &self.sharded else {
            return Vec::new();
        };
        sharded
            .tasks
            .iter()
            .zip(&sharded.results)
            .skip(1)
            .filter(|(_, result)| result.is_none())
            .map(|(task, _)| task.pieces(&self.model))
            .collect()
    }

    /// Takes a shard's result from another worker. `Ok(false)`: it belongs to an update
    /// that is no longer in progress (a late answer), or arrived twice; an error: it
    /// does not fit its task.
    pub fn accept_shard(&mut self, bytes: &[u8]) -> Result<bool> {
        let Some(sharded) = self.sharded.as_mut() else {
            return Ok(false);
        };
        let Some((update, index)) = ShardResult::peek(bytes) else {
            return Err(snapshot::bad("this is not a shard's result"));
        };
        let current = sharded.tasks[0].update;
        if update != current || index == 0 || index >= sharded.tasks.len() {
            return Ok(false);
        }
        if sharded.results[index].is_some() {
            return Ok(false);
        }
        let (m, n) = (self.model.n_visible(), self.model.n_hidden());
        let result = ShardResult::from_bytes(bytes, &sharded.tasks[index], m, n)?;
        sharded.results[index] = Some(result);
        Ok(true)
    }

    /// Computes shard `index` of the update in progress here (its helper died, say).
    pub fn compute_shard(&mut self, index: usize) -> Result<()> {
        let Some(sharded) = self.sharded.as_mut() else {
            return Ok(());
        };
        if index == 0 || index >= sharded.tasks.len() || sharded.results[index].is_some() {
            return Ok(());
        }
        sharded.results[index] = Some(ShardJob::run(&self.model, sharded.tasks[index].clone())?);
        Ok(())
    }

    fn reshuffle(&mut self) {
        rng::shuffle(&mut self.rng, &mut self.order);
        self.cursor = 0;
    }

    /// One whole update on the next minibatch. `now_ms` is the caller's clock (the
    /// engine itself has none, so that it runs unchanged in a browser). On divergence
    /// the model and optimiser state are left as they were and an error is returned.
    /// Every shard of a split update is computed here.
    pub fn step(&mut self, now_ms: &dyn Fn() -> f64) -> Result<StepStats> {
        self.with_every_shard_here(|trainer| loop {
            if let Some(stats) = trainer.advance(now_ms, &|| false)? {
                return Ok(stats);
            }
        })
    }

    /// Runs `work` with every shard of a split update computed here, even where other
    /// workers usually compute shards 1 and up (see [`Trainer::set_shards`]).
    pub fn with_every_shard_here<R>(&mut self, work: impl FnOnce(&mut Trainer) -> R) -> R {
        let elsewhere = core::mem::replace(&mut self.shards_elsewhere, false);
        let result = work(self);
        self.shards_elsewhere = elsewhere;
        result
    }

    /// True when the split update in progress waits only for other workers' results.
    pub fn waiting_for_shards(&self) -> bool {
        self.sharded
            .as_ref()
            .is_some_and(|s| s.own.is_none() && s.results.iter().any(Option::is_none))
    }

    /// Begins the next update now (if none is in progress), so that a split update's
    /// tasks can be handed out before shard 0's work starts.
    pub fn begin(&mut self, now_ms: f64) -> Result<()> {
        if self.update_in_progress() {
            return Ok(());
        }
        if self.shards_in_use() > 1 {
            self.begin_sharded_update(now_ms)
        } else {
            self.begin_update(now_ms);
            Ok(())
        }
    }

    /// Works on the current update in pieces (the positive phase, each Gibbs step of
    /// the negative phase, the parameter update) until it finishes, returning its
    /// stats, or until `should_yield()` says to stop, returning `None`; the next call
    /// carries on where this one stopped. At least one piece is done per call. The
    /// random numbers are drawn in the same order however the update is split, so a
    /// run's bits do not depend on how often the caller yields.
    pub fn advance(
        &mut self,
        now_ms: &dyn Fn() -> f64,
        should_yield: &dyn Fn() -> bool,
    ) -> Result<Option<StepStats>> {
        self.begin(now_ms())?;
        if self.sharded.is_some() {
            return self.advance_sharded(now_ms, should_yield);
        }
        loop {
            if let Some(stats) = self.run_piece(now_ms)? {
                return Ok(Some(stats));
            }
            if should_yield() {
                return Ok(None);
            }
        }
    }

    /// Copies the next minibatch into the batch chain's visible states.
    fn next_minibatch(&mut self) {
        let batch = self.config.get().batch_size;
        if self.cursor + batch > self.order.len() {
            self.reshuffle();
        }
        let chain = &mut self.batch_chain;
        for r in 0..batch {
            let example = self.order[self.cursor + r];
            chain
                .visible
                .row_mut(r)
                .copy_from_slice(self.data.row(example));
        }
        self.cursor += batch;
    }

    /// Picks the next minibatch and sets up its update.
    fn begin_update(&mut self, started: f64) {
        self.next_minibatch();
        let chain = &mut self.batch_chain;
        let (spare_visible, spare_hidden) = self.spare.take().unzip();
        self.pending = Some(Pending {
            started,
            stage: Stage::Hidden,
            positive_visible: copy_into(spare_visible, &chain.visible),
            hidden_buffer: spare_hidden,
            positive_hidden: None,
            reconstruction_error: 0.0,
            fresh: None,
            remaining: 0,
        });
    }

    /// Picks the next minibatch and splits its update into [`Trainer::shards_in_use`]
    /// tasks; shard 0's work starts here.
    fn begin_sharded_update(&mut self, started: f64) -> Result<()> {
        self.next_minibatch();
        let c = self.config.get();
        let (shards, batch, chains) = (self.shards_in_use(), c.batch_size, c.negative_chains());
        let update = self.steps_done.saturating_add(1);
        let rows_through = shard::rows_through_weights(c.algorithm, c.k, batch, chains);
        let mut tasks = Vec::with_capacity(shards);
        for index in 0..shards {
            // Shard `index`'s part of `total` rows of `matrix`.
            let part = |matrix: &Matrix, total: usize| {
                let (start, end) = shard::share(total, shards, index, rows_through);
                matrix.rows_between(start, end)
            };
            tasks.push(ShardTask {
                update,
                index,
                algorithm: c.algorithm,
                k: c.k,
                batch_total: batch,
                chains_total: chains,
                seed: rng::stream_seed(c.seed, update, index as u64),
                visible: part(&self.batch_chain.visible, batch),
                persistent: self.persistent.as_ref().map(|p| part(&p.visible, chains)),
            });
        }
        // Shard 0's rows move into its job here; its task keeps only its numbers
        // (nothing reads its rows again), which saves copying them.
        let visible = core::mem::replace(&mut tasks[0].visible, Matrix::zeros(0, 0));
        let persistent = tasks[0].persistent.take();
        let own = ShardJob::new(
            &self.model,
            ShardTask {
                visible,
                persistent,
                ..tasks[0].clone()
            },
        )?;
        self.sharded = Some(ShardedUpdate {
            started,
            tasks,
            own: Some(own),
            results: vec![None; shards],
        });
        Ok(())
    }

    /// Shard 0's pieces, then (unless other workers compute them) the other shards in
    /// order, then the combination and the update. `None` while work or results remain.
    fn advance_sharded(
        &mut self,
        now_ms: &dyn Fn() -> f64,
        should_yield: &dyn Fn() -> bool,
    ) -> Result<Option<StepStats>> {
        let missing = || RbmError::Data("no split update in progress".into());
        loop {
            let sharded = self.sharded.as_mut().ok_or_else(missing)?;
            if let Some(job) = sharded.own.as_mut() {
                match job.advance(&self.model, should_yield)? {
                    Some(result) => {
                        sharded.results[0] = Some(result);
                        sharded.own = None;
                    }
                    None => return Ok(None),
                }
            }
            match sharded.results.iter().position(Option::is_none) {
                Some(_) if self.shards_elsewhere => return Ok(None),
                Some(index) => {
                    sharded.results[index] =
                        Some(ShardJob::run(&self.model, sharded.tasks[index].clone())?);
                    if should_yield() {
                        return Ok(None);
                    }
                }
                None => {
                    let sharded = self.sharded.take().ok_or_else(missing)?;
                    return self.finish_sharded_update(sharded, now_ms).map(Some);
                }
            }
        }
    }

    /// Adds the shards' results in shard order and applies the update.
    fn finish_sharded_update(
        &mut self,
        sharded: ShardedUpdate,
        now_ms: &dyn Fn() -> f64,
    ) -> Result<StepStats> {
        let c = self.config.get();
        let (batch, chains) = (c.batch_size, c.negative_chains());
        let mut results = sharded.results.into_iter().flatten();
        let mut total = results
            .next()
            .ok_or_else(|| RbmError::Data("a split update without results".into()))?;
        let mut persistent_rows = total.persistent.take().into_iter().collect::<Vec<_>>();
        for mut part in results {
            add_into(&mut total.gradient, &part.gradient);
            add_into(&mut total.positive_visible, &part.positive_visible);
            add_into(&mut total.positive_hidden, &part.positive_hidden);
            add_into(&mut total.negative_visible, &part.negative_visible);
            add_into(&mut total.negative_hidden, &part.negative_hidden);
            total.squared_error += part.squared_error;
            persistent_rows.extend(part.persistent.take());
        }
        if let Some(p) = self.persistent.as_mut() {
            let mut at = 0;
            for rows in &persistent_rows {
                let len = rows.as_slice().len();
                p.visible.as_mut_slice()[at..at + len].copy_from_slice(rows.as_slice());
                at += len;
            }
        }
        let scaled = |sums: &mut Vec<f32>, count: usize| {
            let scale = 1.0 / count as f32;
            sums.iter_mut().for_each(|s| *s *= scale);
            core::mem::take(sums)
        };
        let positive_b = scaled(&mut total.positive_visible, batch);
        let positive_c = scaled(&mut total.positive_hidden, batch);
        let negative_b = scaled(&mut total.negative_visible, chains);
        let negative_c = scaled(&mut total.negative_hidden, chains);
        let reconstruction_error =
            total.squared_error / (batch as f64 * self.model.n_visible() as f64);
        self.grad_w = total.gradient;
        self.apply_gradient(
            Gradient {
                positive_b,
                positive_c,
                negative_b,
                negative_c,
            },
            sharded.started,
            reconstruction_error,
            now_ms,
        )
    }

    /// Runs the pending update's next piece; returns the stats when it was the last.
    fn run_piece(&mut self, now_ms: &dyn Fn() -> f64) -> Result<Option<StepStats>> {
        let missing = || RbmError::Data("no update in progress".into());
        let c = self.config.get();
        let batch = c.batch_size;
        let (algorithm, k) = (c.algorithm, c.k);
        let pending = self.pending.as_mut().ok_or_else(missing)?;
        let chain = &mut self.batch_chain;
        pending.stage = match pending.stage {
            Stage::Hidden => {
                chain.sample_hidden(&self.model, 1.0, &mut self.rng);
                pending.positive_hidden =
                    Some(copy_into(pending.hidden_buffer.take(), &chain.hidden_prob));
                Stage::DataTerm
            }
            Stage::DataTerm => {
                let hidden = pending.positive_hidden.as_ref().ok_or_else(missing)?;
                transpose_product(&pending.positive_visible, hidden, &mut self.grad_w);
                Stage::Reconstruction
            }
            Stage::Reconstruction => {
                // One more half step gives the reconstruction p(v | h) of the minibatch.
                chain.sample_visible(&self.model, 1.0, &mut self.rng);
                pending.reconstruction_error =
                    mean_squared_difference(&pending.positive_visible, &chain.visible_prob);
                (pending.fresh, pending.remaining) = match algorithm {
                    Algorithm::Exact => (None, 0),
                    // The minibatch chain already did its first step from the data.
                    Algorithm::Cd => (None, k - 1),
                    Algorithm::Gibbs => (
                        Some(GibbsChains::random(&self.model, batch, &mut self.rng)),
                        k,
                    ),
                    Algorithm::Pcd | Algorithm::Tempering => (None, k),
                };
                match algorithm {
                    Algorithm::Exact => Stage::Update,
                    _ if pending.remaining > 0 => Stage::Negative,
                    _ => Stage::NegativeHidden,
                }
            }
            Stage::Negative => {
                if let Some(ladders) = self.tempering.as_mut() {
                    ladders.sweep(&self.model, &mut self.rng);
                } else {
                    let chains = negative_chains(
                        algorithm,
                        chain,
                        &mut pending.fresh,
                        &mut self.persistent,
                    )?;
                    chains.run(&self.model, 1, 1.0, &mut self.rng);
                }
                pending.remaining -= 1;
                if pending.remaining > 0 {
                    Stage::Negative
                } else {
                    Stage::NegativeHidden
                }
            }
            Stage::NegativeHidden => {
                let chains = match self.tempering.as_mut() {
                    Some(ladders) => ladders.cold_mut(),
                    None => {
                        negative_chains(algorithm, chain, &mut pending.fresh, &mut self.persistent)?
                    }
                };
                chains.refresh_hidden_prob(&self.model, 1.0);
                Stage::Update
            }
            Stage::Update => {
                let pending = self.pending.take().ok_or_else(missing)?;
                return self.finish_update(pending, now_ms).map(Some);
            }
        };
        Ok(None)
    }

    /// The negative statistics, the gradient and the update of the parameters.
    fn finish_update(&mut self, pending: Pending, now_ms: &dyn Fn() -> f64) -> Result<StepStats> {
        let c = self.config.get().clone();
        let batch = c.batch_size;
        let Pending {
            started,
            positive_visible,
            positive_hidden,
            reconstruction_error,
            mut fresh,
            ..
        } = pending;
        let positive_hidden = positive_hidden
            .ok_or_else(|| RbmError::Data("the positive phase did not run".into()))?;

        // Negative phase into negative_w, negative_b, negative_c (means over chains).
        let (negative_b, negative_c, negative_scale) = match c.algorithm {
            Algorithm::Exact => {
                let expectations = exact::model_expectations(&self.model, 1.0)?;
                for (dst, &src) in self.negative_w.iter_mut().zip(&expectations.visible_hidden) {
                    *dst = src as f32;
                }
                let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                (
                    to_f32(&expectations.visible),
                    to_f32(&expectations.hidden),
                    1.0,
                )
            }
            algorithm => {
                let chains = match self.tempering.as_mut() {
                    Some(ladders) => ladders.cold_mut(),
                    None => negative_chains(
                        algorithm,
                        &mut self.batch_chain,
                        &mut fresh,
                        &mut self.persistent,
                    )?,
                };
                chain_statistics(chains, &mut self.negative_w)
            }
        };

        // Gradient means: data term over the minibatch minus the model term.
        // (The chains' sums are scaled here rather than in a pass of their own: the
        // product is rounded to f32 before the subtraction either way.)
        let scale = 1.0 / batch as f32;
        with_wide_vectors(
            #[inline(always)]
            || {
                for (g, &neg) in self.grad_w.iter_mut().zip(&self.negative_w) {
                    *g = *g * scale - neg * negative_scale;
                }
            },
        );
        let gradient = Gradient {
            positive_b: column_means(&positive_visible),
            positive_c: column_means(&positive_hidden),
            negative_b,
            negative_c,
        };
        let stats = self.apply_gradient(gradient, started, reconstruction_error, now_ms)?;
        self.spare = Some((positive_visible, positive_hidden));
        Ok(stats)
    }

    /// With the weights' gradient in `grad_w`: the biases' gradients, sparsity,
    /// centring, the momentum step (refused if it diverges) and the new parameters.
    fn apply_gradient(
        &mut self,
        gradient: Gradient,
        started: f64,
        reconstruction_error: f64,
        now_ms: &dyn Fn() -> f64,
    ) -> Result<StepStats> {
        let c = self.config.get().clone();
        let Gradient {
            positive_b,
            positive_c,
            negative_b,
            negative_c,
        } = gradient;
        let mut grad_b: Vec<f32> = positive_b
            .iter()
            .zip(&negative_b)
            .map(|(p, q)| p - q)
            .collect();
        let mut grad_c: Vec<f32> = positive_c
            .iter()
            .zip(&negative_c)
            .map(|(p, q)| p - q)
            .collect();
        let n = self.model.n_hidden();
        if c.sparsity_cost > 0.0 {
            // The derivative of the cross-entropy between the target p and q, taken on
            // each hidden unit's input: (q_j - p) on c_j and, through the data, on W_ij.
            for (q, &now) in self.hidden_activity.iter_mut().zip(&positive_c) {
                *q = SPARSITY_DECAY * *q + (1.0 - SPARSITY_DECAY) * now;
            }
            for (j, &q) in self.hidden_activity.iter().enumerate() {
                let push = c.sparsity_cost * (q - c.sparsity_target);
                grad_c[j] -= push;
                for (i, &v) in positive_b.iter().enumerate() {
                    self.grad_w[i * n + j] -= push * v;
                }
            }
        }
        if c.centring {
            centre_gradient(
                &mut self.grad_w,
                &mut grad_b,
                &mut grad_c,
                &self.visible_offset,
                &self.hidden_offset,
            );
            for (offset, &now) in self.hidden_offset.iter_mut().zip(&positive_c) {
                *offset = (1.0 - CENTRING_RATE) * *offset + CENTRING_RATE * now;
            }
        }

        // New velocities, checked before anything is written: a diverging update leaves
        // the model and the optimiser untouched.
        let (lr, mu, decay) = (self.learning_rate_now(), c.momentum, c.weight_decay);
        let weights = self.model.weights();
        let mut new_velocity_w = core::mem::take(&mut self.grad_w);
        // One pass for the weights' velocities and their check.
        let weights_sane = with_wide_vectors(
            #[inline(always)]
            || {
                let mut sane = true;
                for ((v_new, &v_old), &w) in
                    new_velocity_w.iter_mut().zip(&self.velocity_w).zip(weights)
                {
                    let v = mu * v_old + lr * (*v_new - decay * w);
                    *v_new = v;
                    sane &= within_limit(w, v);
                }
                sane
            },
        );
        let new_velocity_b: Vec<f32> = self
            .velocity_b
            .iter()
            .zip(&grad_b)
            .map(|(&v, &g)| mu * v + lr * g)
            .collect();
        let new_velocity_c: Vec<f32> = self
            .velocity_c
            .iter()
            .zip(&grad_c)
            .map(|(&v, &g)| mu * v + lr * g)
            .collect();
        let sane = |params: &[f32], deltas: &[f32]| {
            params.iter().zip(deltas).all(|(&p, &d)| within_limit(p, d))
        };
        let ok = weights_sane
            && sane(self.model.visible_bias(), &new_velocity_b)
            && sane(self.model.hidden_bias(), &new_velocity_c);
        if !ok {
            self.grad_w = new_velocity_w;
            return Err(RbmError::Diverged {
                step: self.steps_done + 1,
            });
        }
        let update_norm = norm(&new_velocity_w);
        self.grad_w = core::mem::replace(&mut self.velocity_w, new_velocity_w);
        self.velocity_b = new_velocity_b;
        self.velocity_c = new_velocity_c;
        let (vw, vb, vc) = (&self.velocity_w, &self.velocity_b, &self.velocity_c);
        let weight_norm = self.model.update_parameters(|w, b, c| {
            add_into(w, vw);
            add_into(b, vb);
            add_into(c, vc);
            norm(w)
        });
        self.steps_done = self.steps_done.saturating_add(1);
        let per_epoch = self.steps_per_epoch() as f64;
        Ok(StepStats {
            step: self.steps_done,
            epoch: self.steps_done as f64 / per_epoch,
            reconstruction_error,
            update_ratio: if weight_norm > 0.0 {
                update_norm / weight_norm
            } else {
                0.0
            },
            wall_time_ms: now_ms() - started,
        })
    }
}

/// How a snapshot writes and reads its settings (a JSON object's text). Natively
/// [`SettingsText::SERDE_JSON`]; the browser's `lab` module, which carries no JSON
/// library, uses the browser's own (`wasm/lab.rs`). Both read what the other wrote.
pub struct SettingsText {
    pub write: fn(&TrainConfig) -> Result<Vec<u8>>,
    /// Errors are the reader's words; the snapshot names the field.
    pub read: fn(&[u8]) -> core::result::Result<TrainConfig, String>,
}

impl SettingsText {
    pub const SERDE_JSON: SettingsText = SettingsText {
        write: |config| serde_json::to_vec(config).map_err(|e| snapshot::bad(e.to_string())),
        read: |bytes| serde_json::from_slice(bytes).map_err(|e| e.to_string()),
    };
}

impl Trainer {
    /// The whole state of the run as bytes (see [`crate::snapshot`]): restoring it
    /// with [`Trainer::from_snapshot`] on the same data continues bit for bit. Refused
    /// while an update is in progress (finish it first).
    pub fn to_snapshot(&self) -> Result<Vec<u8>> {
        self.to_snapshot_with(&SettingsText::SERDE_JSON)
    }

    /// [`Trainer::to_snapshot`], writing the settings with `settings`.
    pub fn to_snapshot_with(&self, settings: &SettingsText) -> Result<Vec<u8>> {
        if self.update_in_progress() {
            return Err(snapshot::bad(
                "an update is in progress; finish it before saving",
            ));
        }
        let c = self.config.get();
        let (m, n) = (self.model.n_visible(), self.model.n_hidden());
        let mut w = snapshot::Writer::new(snapshot::TRAINER_MAGIC);
        w.bytes(&(settings.write)(c)?);
        w.u64(m as u64);
        w.u64(n as u64);
        w.u64(self.data.rows() as u64);
        w.u64(snapshot::fingerprint(&self.data));
        w.u64(self.steps_done);
        w.u64(self.cursor as u64);
        w.rng(&self.rng);
        w.parameters(&self.model);
        w.f32s(&self.velocity_w);
        w.f32s(&self.velocity_b);
        w.f32s(&self.velocity_c);
        w.u32s(self.order.iter().map(|&i| i as u32));
        // A persistent chain's next step starts by sampling h from v: only v is state.
        match &self.persistent {
            Some(chains) => {
                w.u64(chains.len() as u64);
                w.f32s(chains.visible.as_slice());
            }
            None => w.u64(0),
        }
        // The ladders of `tempering` (absent from older snapshots, which end here): as
        // with PCD only the visible states are state; the sweep count's parity picks
        // the next exchanges.
        match &self.tempering {
            Some(ladders) => {
                w.u64(ladders.levels().len() as u64);
                w.u64(ladders.cold().len() as u64);
                w.u64(ladders.sweeps());
                for level in ladders.levels() {
                    w.f32s(level.visible.as_slice());
                }
                let (proposed, accepted) = ladders.exchange_counts();
                for &count in proposed.iter().chain(accepted) {
                    w.u64(count);
                }
            }
            None => w.u64(0),
        }
        // Centring's offsets and sparsity's running means (absent from older snapshots:
        // they then start again from the data).
        w.f32s(&self.visible_offset);
        w.f32s(&self.hidden_offset);
        w.f32s(&self.hidden_activity);
        Ok(w.finish())
    }

    /// A trainer from [`Trainer::to_snapshot`]'s bytes, on the data it was saved with
    /// (checked by fingerprint). Every field is validated; nothing a damaged snapshot
    /// holds can make a later update panic.
    pub fn from_snapshot(bytes: &[u8], data: impl TrainingData) -> Result<Trainer> {
        Trainer::from_snapshot_with(bytes, data, &SettingsText::SERDE_JSON)
    }

    /// [`Trainer::from_snapshot`], reading the settings with `settings`.
    pub fn from_snapshot_with(
        bytes: &[u8],
        training_data: impl TrainingData,
        settings: &SettingsText,
    ) -> Result<Trainer> {
        use snapshot::bad;
        let data = training_data.matrix();
        let mut r = snapshot::Reader::new(bytes, snapshot::TRAINER_MAGIC, "training run")?;
        let config: TrainConfig =
            (settings.read)(r.bytes(64 * 1024)?).map_err(|e| bad(format!("settings: {e}")))?;
        let m = r.count("the visible units", crate::limits::MAX_UNITS as u64)?;
        let n = r.count("the hidden units", crate::limits::MAX_UNITS as u64)?;
        let rows = r.count("the training examples", size::MAX_OUTSIDE_SIZE)?;
        let fingerprint = r.u64()?;
        if m != data.cols() || rows != data.rows() || fingerprint != snapshot::fingerprint(data) {
            return Err(bad(format!(
                "the saved run was trained on other data ({rows} images of {m} pixels; \
                 these are {} of {})",
                data.rows(),
                data.cols()
            )));
        }
        if config.n_hidden != n {
            return Err(bad(format!(
                "the settings say {} hidden units, the parameters {n}",
                config.n_hidden
            )));
        }
        let config = config.check(data.rows(), data.cols())?;
        let steps_done = r.u64()?;
        if steps_done > crate::modelfile::MAX_STEPS_DONE {
            return Err(bad(format!(
                "{steps_done} updates are more than a run can count"
            )));
        }
        let cursor = r.count("the minibatch cursor", rows as u64)?;
        let rng = r.rng()?;
        let model = r.parameters(m, n)?;
        // A velocity is a step: it moved a parameter that stayed within the limit.
        let velocity_w = r.f32s("velocity_w", model.weights().len(), 2.0 * DIVERGENCE_LIMIT)?;
        let velocity_b = r.f32s("velocity_b", m, 2.0 * DIVERGENCE_LIMIT)?;
        let velocity_c = r.f32s("velocity_c", n, 2.0 * DIVERGENCE_LIMIT)?;
        let order: Vec<usize> = r
            .u32s("order", rows)?
            .into_iter()
            .map(|i| i as usize)
            .collect();
        let mut seen = vec![false; rows];
        for &i in &order {
            if i >= rows || seen[i] {
                return Err(bad(
                    "the minibatch order is not a permutation of the examples",
                ));
            }
            seen[i] = true;
        }
        let chain_count = r.count("the persistent chains", crate::limits::MAX_CHAINS as u64)?;
        let persistent = match (config.get().algorithm, chain_count) {
            (Algorithm::Pcd, count) if count == config.get().negative_chains() => {
                let visible = r.binary_matrix("persistent chains", count, m)?;
                Some(GibbsChains::from_visible(&model, visible)?)
            }
            (Algorithm::Pcd, count) => {
                return Err(bad(format!(
                    "{count} persistent chains saved, the settings need {}",
                    config.get().negative_chains()
                )))
            }
            (_, 0) => None,
            (_, _) => return Err(bad("persistent chains saved for an algorithm without them")),
        };
        let levels = if r.at_end() {
            0
        } else {
            r.count("the tempering levels", 1000)?
        };
        let tempering = match (config.get().algorithm, levels) {
            (Algorithm::Tempering, count) if count == config.get().temperatures => {
                let chains = r.count("the tempering chains", crate::limits::MAX_CHAINS as u64)?;
                if chains != config.get().negative_chains() {
                    return Err(bad(format!(
                        "{chains} tempering chains saved, the settings need {}",
                        config.get().negative_chains()
                    )));
                }
                let sweeps = r.u64()?;
                let visible = (0..count)
                    .map(|_| r.binary_matrix("tempering chains", chains, m))
                    .collect::<Result<Vec<_>>>()?;
                let counts = (0..2 * (count - 1))
                    .map(|_| r.u64())
                    .collect::<Result<Vec<_>>>()?;
                let (proposed, accepted) = counts.split_at(count - 1);
                let betas = tempering::ladder(count, config.get().beta_min)?;
                Some(Tempering::from_parts(
                    &model,
                    betas,
                    visible,
                    sweeps,
                    proposed.to_vec(),
                    accepted.to_vec(),
                )?)
            }
            (Algorithm::Tempering, count) => {
                return Err(bad(format!(
                    "{count} tempering levels saved, the settings need {}",
                    config.get().temperatures
                )))
            }
            (_, 0) => None,
            (_, _) => return Err(bad("tempering ladders saved for another algorithm")),
        };
        let offsets = if r.at_end() {
            None
        } else {
            Some((
                r.f32s("visible offsets", m, 1.0)?,
                r.f32s("hidden offsets", n, 1.0)?,
                r.f32s("hidden activity", n, 1.0)?,
            ))
        };
        r.finish()?;
        let mut trainer = Trainer::assemble(
            config,
            model,
            training_data.into_shared(),
            rng,
            order,
            persistent,
        )?;
        trainer.tempering = tempering;
        if let Some((visible_offset, hidden_offset, hidden_activity)) = offsets {
            trainer.visible_offset = visible_offset;
            trainer.hidden_offset = hidden_offset;
            trainer.hidden_activity = hidden_activity;
        }
        trainer.cursor = cursor;
        trainer.steps_done = steps_done;
        trainer.velocity_w = velocity_w;
        trainer.velocity_b = velocity_b;
        trainer.velocity_c = velocity_c;
        Ok(trainer)
    }
}

/// The chains whose states give the model term: the minibatch chain for `cd`, the
/// fresh chains for `gibbs`, the persistent chains for `pcd`.
fn negative_chains<'a>(
    algorithm: Algorithm,
    batch_chain: &'a mut GibbsChains,
    fresh: &'a mut Option<GibbsChains>,
    persistent: &'a mut Option<GibbsChains>,
) -> Result<&'a mut GibbsChains> {
    match algorithm {
        Algorithm::Cd => Ok(batch_chain),
        Algorithm::Gibbs => fresh
            .as_mut()
            .ok_or_else(|| RbmError::Data("gibbs chains missing".into())),
        Algorithm::Pcd => persistent
            .as_mut()
            .ok_or_else(|| RbmError::Data("pcd has no persistent chains".into())),
        Algorithm::Exact => Err(RbmError::Data("exact has no chains".into())),
        Algorithm::Tempering => Err(RbmError::Data("tempering keeps its own ladders".into())),
    }
}

/// Sparsity's running mean forgets at this rate per update (Hinton's guide: 0.9 to 0.99).
const SPARSITY_DECAY: f32 = 0.95;
/// Centring's hidden offset moves this far towards each minibatch's mean (Melchior et
/// al. use 0.01 to 0.1 for the moving average).
const CENTRING_RATE: f32 = 0.05;

/// Each pixel's mean over `data`: centring's visible offset.
fn pixel_means(data: &Matrix) -> Vec<f32> {
    if data.rows() == 0 {
        return vec![0.5; data.cols()];
    }
    column_means(data)
}

/// The gradient of the centred parametrisation (Melchior et al., 2016), in place,
/// from the ordinary one: with offsets μ (visible) and λ (hidden) the energy is
/// `-(v - μ)ᵀ W (h - λ) - b̃ᵀ(v - μ) - c̃ᵀ(h - λ)`, whose gradient in (W, b̃, c̃) is
/// `∇W = ⟨(v-μ)(h-λ)ᵀ⟩_data - ⟨…⟩_model = ∇W° - ∇b° λᵀ - μ ∇c°ᵀ`, `∇b̃ = ∇b°`,
/// `∇c̃ = ∇c°`. A step in (W, b̃, c̃) is, in the lab's standard parameters
/// (`b = b̃ - Wλ`, `c = c̃ - Wᵀμ`), `ΔW = ε∇W`, `Δb = ε(∇b° - ∇W λ)`,
/// `Δc = ε(∇c° - ∇Wᵀ μ)`: what this leaves in `grad_w`, `grad_b`, `grad_c`. With both
/// offsets zero it changes nothing.
pub fn centre_gradient(
    grad_w: &mut [f32],
    grad_b: &mut [f32],
    grad_c: &mut [f32],
    visible_offset: &[f32],
    hidden_offset: &[f32],
) {
    let (m, n) = (grad_b.len(), grad_c.len());
    for i in 0..m {
        for j in 0..n {
            grad_w[i * n + j] -= grad_b[i] * hidden_offset[j] + visible_offset[i] * grad_c[j];
        }
    }
    for (i, b) in grad_b.iter_mut().enumerate() {
        *b -= (0..n)
            .map(|j| grad_w[i * n + j] * hidden_offset[j])
            .sum::<f32>();
    }
    for (j, c) in grad_c.iter_mut().enumerate() {
        *c -= (0..m)
            .map(|i| grad_w[i * n + j] * visible_offset[i])
            .sum::<f32>();
    }
}

/// The chains' summed visible-hidden products into `out`, their mean visible states and
/// hidden probabilities, and the scale (1 / chains) that turns the sums into means.
fn chain_statistics(chains: &GibbsChains, out: &mut [f32]) -> (Vec<f32>, Vec<f32>, f32) {
    transpose_product(&chains.visible, &chains.hidden_prob, out);
    (
        column_means(&chains.visible),
        column_means(&chains.hidden_prob),
        1.0 / chains.len() as f32,
    )
}

/// `src` copied into `buffer` when it has the same shape, else a new copy.
fn copy_into(buffer: Option<Matrix>, src: &Matrix) -> Matrix {
    match buffer {
        Some(mut m) if m.rows() == src.rows() && m.cols() == src.cols() => {
            m.as_mut_slice().copy_from_slice(src.as_slice());
            m
        }
        _ => src.clone(),
    }
}

/// Whether a parameter moved by `delta` stays within [`DIVERGENCE_LIMIT`].
#[inline(always)]
fn within_limit(parameter: f32, delta: f32) -> bool {
    (parameter + delta).abs() <= DIVERGENCE_LIMIT
}

fn column_means(matrix: &Matrix) -> Vec<f32> {
    let mut sums = matrix.column_sums();
    let scale = 1.0 / matrix.rows() as f32;
    sums.iter_mut().for_each(|s| *s *= scale);
    sums
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    with_wide_vectors(
        #[inline(always)]
        || dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s),
    );
}

/// The Euclidean norm, summed in f64 over eight interleaved partial sums added in a
/// fixed order: the same bits everywhere, and vectorisable, where one running sum is a
/// chain of dependent additions (it took a tenth of a CD-1 update at 784 x 500).
/// Natively compiled for AVX-512 where the processor has it (`with_wide_vectors`: the
/// same operations in the same order): the eight lanes are one register there.
fn norm(values: &[f32]) -> f64 {
    with_wide_vectors(
        #[inline(always)]
        || norm_in(values),
    )
}

#[inline(always)]
fn norm_in(values: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(x) * f64::from(x);
        }
    }
    for (lane, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane += f64::from(x) * f64::from(x);
    }
    let l = &lanes;
    (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))).sqrt()
}

fn mean_squared_difference(a: &Matrix, b: &Matrix) -> f64 {
    squared_difference(a, b) / a.as_slice().len() as f64
}
