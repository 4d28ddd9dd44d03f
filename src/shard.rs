//! Data-parallel updates: one minibatch's work split over several workers.
//!
//! A sharded update of a chain algorithm (`cd`, `pcd`, `gibbs`) splits the minibatch's
//! rows, and the negative phase's chains, into `shards` contiguous parts, shard 0's
//! the longest by a lead that makes up for the helpers' exchange ([`share`]).
//! Shard `s` runs the whole update's chain work on its part with a random stream of
//! its own, seeded from the run's seed, the update's number and `s`
//! ([`crate::rng::stream`]), and returns its part of the gradient's means:
//! `Σ_rows v p(h|v)ᵀ / B - Σ_chains v p(h|v)ᵀ / C` over its rows and chains (B, C: the
//! whole minibatch's rows and chains), with the column sums of both phases and its
//! persistent chains' new states. The trainer adds the parts in shard order and applies
//! the update as usual. So a run's bits depend on its seed and its number of shards,
//! never on which worker computed which shard or when; with one shard the trainer does
//! not use this module at all, and gives the bits it always gave.
//!
//! A shard needs only its task and the parameters: it keeps no state between updates,
//! so a worker that dies is replaced (or its shard computed elsewhere) without changing
//! a bit. What one update exchanges with each helper: out, the parameters
//! (4 (mn + m + n) bytes) and its rows and chains (4 m per row); back, its part of the
//! gradient and the sums (4 (mn + 2m + 2n) bytes) and its chains. At 784 x 500 that is
//! 1.57 MB each way.

use crate::error::{RbmError, Result};
use crate::linalg::{squared_difference, transpose_product, Matrix};
use crate::model::{GibbsChains, Rbm};
use crate::rng::{self, Rng};
use crate::snapshot::{self, bad};
use crate::train::Algorithm;

const TASK_MAGIC: &[u8; 4] = b"RBMS";
const RESULT_MAGIC: &[u8; 4] = b"RBMR";

/// Most shards an update is split into (the page's workers setting stops here too).
pub const MAX_SHARDS: usize = 16;

/// Whether `algorithm`'s updates can be sharded: the chain algorithms. `exact`
/// enumerates and `tempering` exchanges states within ladders that span all of its
/// chains; both run on one worker.
pub fn shardable(algorithm: Algorithm) -> bool {
    matches!(algorithm, Algorithm::Cd | Algorithm::Pcd | Algorithm::Gibbs)
}

/// Rows an update passes through products with the weights (each `2 m n` flops): the
/// minibatch three times (its hidden units, its reconstruction, the data term) and the
/// negative chains twice per Gibbs step plus twice at the end (their hidden
/// probabilities and the model term); `cd`'s chains are the minibatch, whose first
/// step is the reconstruction.
pub fn rows_through_weights(algorithm: Algorithm, k: usize, batch: usize, chains: usize) -> usize {
    match algorithm {
        Algorithm::Cd => batch * (2 * k + 3),
        _ => 3 * batch + (2 * k + 2) * chains,
    }
}

/// Rows through the weights each extra shard needs to pay for its exchange. One
/// exchange costs about 5 ms in Chromium at 784 x 500 (the parameters out, the
/// gradient back, and the serial combination), as much as 300 rows of products; both
/// grow with m n. Measured (`./lab bench`, two workers against one): CD-1 at batch 100
/// (500 rows) 1.0x, CD-10 (2,300 rows) 1.6x.
pub const ROWS_PER_EXTRA_SHARD: usize = 1000;
/// And the flops each extra shard needs, so that small models, where a message's
/// latency outweighs the work, are not split.
pub const FLOPS_PER_EXTRA_SHARD: f64 = 4e8;

/// Shards worth using for an update of `rows` rows through an m x n weight matrix,
/// given `requested` workers: one, plus one per [`ROWS_PER_EXTRA_SHARD`] rows and
/// [`FLOPS_PER_EXTRA_SHARD`] flops, at most `requested`. A function of the settings
/// alone, so a run's bits still depend only on its seed, settings and workers.
pub fn worthwhile(requested: usize, rows: usize, m: usize, n: usize) -> usize {
    let flops = 2.0 * rows as f64 * m as f64 * n as f64;
    let extra = (rows / ROWS_PER_EXTRA_SHARD).min((flops / FLOPS_PER_EXTRA_SHARD) as usize);
    requested.min(1 + extra)
}

/// How much longer a helper takes over a shard than the trainer's own worker, in rows
/// through the weights: the helper reads its task and prepares its model (the
/// parameters checked and transposed), writes its result, and its task and answer are
/// copied. Measured in Chromium at 784 x 500 (2026-11-29, CD-1 at batch 500 on two
/// workers, equal shares): the helper's answer came about 1.3 ms after shard 0's end,
/// 0.4 ms of which the answer's message takes to reach a worker that was busy (and
/// about as long to reach one waiting), which no lead saves; the rest, 0.9 ms, is the
/// time of 120 rows through the weights there. Most of it grows with m n, as a row's
/// products do. In turns in one page, 80, 120 and 180 gave the same CD-1 updates
/// within 0.1 ms; for CD-10 at batch 100, 180 was 0.4 ms slower than the others.
pub const HELPER_LAG_ROWS: usize = 120;

/// Rows `start..end` of `total` that shard `index` of `shards` takes, for an update
/// passing `rows_through` rows through the weights ([`rows_through_weights`]); `shards`
/// is at most `total` (as [`crate::Trainer::shards_in_use`] keeps it).
/// Contiguous; shard 0, computed in the trainer's own worker without an exchange,
/// first takes a lead of `total * HELPER_LAG_ROWS / rows_through` rows (at most half
/// of them, and one row for each other shard left), and then the shards share the
/// rest equally, the first `rest % shards` one row longer. So shard 0 does
/// about `HELPER_LAG_ROWS (shards - 1) / shards` more rows through the weights than
/// an equal share, and the helpers as much less between them: the helpers' answers
/// then arrive about as shard 0 ends. An integer function of the settings, so a run's
/// bits still depend only on its seed, settings and number of shards.
pub fn share(total: usize, shards: usize, index: usize, rows_through: usize) -> (usize, usize) {
    let lead = if shards > 1 && rows_through > 0 {
        let wanted = total as u64 * HELPER_LAG_ROWS as u64 / rows_through as u64;
        (wanted as usize).min(total / 2).min(total - shards)
    } else {
        0
    };
    let rest = total - lead;
    let (base, extra) = (rest / shards, rest % shards);
    let start = index * base + index.min(extra);
    let end = start + base + usize::from(index < extra);
    if index == 0 {
        (0, end + lead)
    } else {
        (start + lead, end + lead)
    }
}

/// One shard's part of an update: everything a worker needs besides the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardTask {
    /// The update's number (the count of updates before it, plus one).
    pub update: u64,
    pub index: usize,
    pub algorithm: Algorithm,
    /// Gibbs steps of the negative phase.
    pub k: usize,
    /// The whole minibatch's rows and the whole negative phase's chains.
    pub batch_total: usize,
    pub chains_total: usize,
    /// Seeds this shard's random stream.
    pub seed: u64,
    /// The shard's minibatch rows.
    pub visible: Matrix,
    /// `pcd`: the visible states of the shard's persistent chains.
    pub persistent: Option<Matrix>,
}

/// What a shard returns (see the module's documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct ShardResult {
    pub update: u64,
    pub index: usize,
    /// `m x n`, row-major: this shard's part of the weights' gradient.
    pub gradient: Vec<f32>,
    pub positive_visible: Vec<f32>,
    pub positive_hidden: Vec<f32>,
    pub negative_visible: Vec<f32>,
    pub negative_hidden: Vec<f32>,
    /// `Σ (v - p(v | h))²` over the shard's rows and pixels.
    pub squared_error: f64,
    pub persistent: Option<Matrix>,
}

/// The pieces of a shard's work, in order; each is at most one product with the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Hidden,
    DataTerm,
    Reconstruction,
    Negative,
    NegativeHidden,
    Statistics,
}

/// A shard's work in progress, done in pieces by [`ShardJob::advance`].
pub struct ShardJob {
    task: ShardTask,
    rng: Rng,
    stage: Stage,
    /// The minibatch rows' chain: it starts at the data (and is `cd`'s negative chain).
    chain: GibbsChains,
    positive_hidden: Option<Matrix>,
    gradient: Vec<f32>,
    squared_error: f64,
    /// `gibbs`'s fresh chains or `pcd`'s persistent ones.
    other_chains: Option<GibbsChains>,
    remaining: usize,
}

impl ShardJob {
    pub fn new(model: &Rbm, task: ShardTask) -> Result<ShardJob> {
        if !shardable(task.algorithm) {
            return Err(RbmError::Data(format!(
                "{:?} updates are not split across workers",
                task.algorithm
            )));
        }
        let chain = GibbsChains::from_visible(model, task.visible.clone())?;
        let other_chains = match (&task.persistent, task.algorithm) {
            (Some(visible), Algorithm::Pcd) => {
                Some(GibbsChains::from_visible(model, visible.clone())?)
            }
            (None, Algorithm::Pcd) => return Err(bad("a pcd shard without its chains")),
            _ => None,
        };
        let gradient = vec![0.0; model.n_visible() * model.n_hidden()];
        Ok(ShardJob {
            rng: rng::seeded(task.seed),
            task,
            stage: Stage::Hidden,
            chain,
            positive_hidden: None,
            gradient,
            squared_error: 0.0,
            other_chains,
            remaining: 0,
        })
    }

    /// The whole shard at once.
    pub fn run(model: &Rbm, task: ShardTask) -> Result<ShardResult> {
        let mut job = ShardJob::new(model, task)?;
        loop {
            if let Some(result) = job.advance(model, &|| false)? {
                return Ok(result);
            }
        }
    }

    /// Runs pieces until the shard is done (its result) or `should_yield()` (None); at
    /// least one piece per call. The draws do not depend on where it stops.
    pub fn advance(
        &mut self,
        model: &Rbm,
        should_yield: &dyn Fn() -> bool,
    ) -> Result<Option<ShardResult>> {
        loop {
            if let Some(result) = self.piece(model)? {
                return Ok(Some(result));
            }
            if should_yield() {
                return Ok(None);
            }
        }
    }

    fn piece(&mut self, model: &Rbm) -> Result<Option<ShardResult>> {
        let (m, n) = (model.n_visible(), model.n_hidden());
        let rows = self.task.visible.rows();
        self.stage = match self.stage {
            Stage::Hidden => {
                self.chain.sample_hidden(model, 1.0, &mut self.rng);
                self.positive_hidden = Some(self.chain.hidden_prob.clone());
                Stage::DataTerm
            }
            Stage::DataTerm => {
                let hidden = self
                    .positive_hidden
                    .as_ref()
                    .ok_or_else(|| bad("no data term"))?;
                transpose_product(&self.task.visible, hidden, &mut self.gradient);
                Stage::Reconstruction
            }
            Stage::Reconstruction => {
                self.chain.sample_visible(model, 1.0, &mut self.rng);
                self.squared_error =
                    squared_difference(&self.task.visible, &self.chain.visible_prob);
                self.remaining = match self.task.algorithm {
                    Algorithm::Cd => self.task.k - 1,
                    Algorithm::Gibbs => {
                        self.other_chains = Some(GibbsChains::random(model, rows, &mut self.rng));
                        self.task.k
                    }
                    _ => self.task.k,
                };
                if self.remaining > 0 {
                    Stage::Negative
                } else {
                    Stage::NegativeHidden
                }
            }
            Stage::Negative => {
                self.other_chains.as_mut().unwrap_or(&mut self.chain).run(
                    model,
                    1,
                    1.0,
                    &mut self.rng,
                );
                self.remaining -= 1;
                if self.remaining > 0 {
                    Stage::Negative
                } else {
                    Stage::NegativeHidden
                }
            }
            Stage::NegativeHidden => {
                self.other_chains
                    .as_mut()
                    .unwrap_or(&mut self.chain)
                    .refresh_hidden_prob(model, 1.0);
                Stage::Statistics
            }
            Stage::Statistics => return self.statistics(m, n).map(Some),
        };
        Ok(None)
    }

    fn statistics(&mut self, m: usize, n: usize) -> Result<ShardResult> {
        let positive_hidden = self
            .positive_hidden
            .take()
            .ok_or_else(|| bad("no data term"))?;
        let (batch_scale, chain_scale) = (
            1.0 / self.task.batch_total as f32,
            1.0 / self.task.chains_total as f32,
        );
        let negative = self.other_chains.as_ref().unwrap_or(&self.chain);
        let mut model_term = vec![0.0f32; m * n];
        transpose_product(&negative.visible, &negative.hidden_prob, &mut model_term);
        let mut gradient = core::mem::take(&mut self.gradient);
        for (g, &q) in gradient.iter_mut().zip(&model_term) {
            *g = *g * batch_scale - q * chain_scale;
        }
        Ok(ShardResult {
            update: self.task.update,
            index: self.task.index,
            gradient,
            positive_visible: self.task.visible.column_sums(),
            positive_hidden: positive_hidden.column_sums(),
            negative_visible: negative.visible.column_sums(),
            negative_hidden: negative.hidden_prob.column_sums(),
            squared_error: self.squared_error,
            persistent: match self.task.algorithm {
                Algorithm::Pcd => Some(negative.visible.clone()),
                _ => None,
            },
        })
    }
}

fn algorithm_code(algorithm: Algorithm) -> u32 {
    match algorithm {
        Algorithm::Cd => 0,
        Algorithm::Pcd => 1,
        Algorithm::Gibbs => 2,
        Algorithm::Exact => 3,
        Algorithm::Tempering => 4,
    }
}

impl ShardTask {
    /// The task and the parameters as bytes for a helper worker: magic `RBMS`, version,
    /// then the sizes, the task's numbers, the parameters and the rows, little-endian.
    pub fn to_bytes(&self, model: &Rbm) -> Vec<u8> {
        self.pieces(model).joined()
    }

    /// [`ShardTask::to_bytes`] in pieces: the header (everything before the first
    /// value), then the blocks of values, in order, each to be written as its
    /// little-endian bytes. A worker whose memory is little-endian (wasm32) copies
    /// the blocks out of its memory as they lie, without writing the bytes first:
    /// 2.3 MB per helper and update at 784 x 500, batch 500.
    pub fn pieces<'a>(&'a self, model: &'a Rbm) -> TaskPieces<'a> {
        let mut w = snapshot::Writer::new(TASK_MAGIC);
        for value in [
            model.n_visible() as u64,
            model.n_hidden() as u64,
            self.update,
            self.index as u64,
            u64::from(algorithm_code(self.algorithm)),
            self.k as u64,
            self.batch_total as u64,
            self.chains_total as u64,
            self.seed,
            self.visible.rows() as u64,
            self.persistent.as_ref().map_or(0, |p| p.rows()) as u64,
        ] {
            w.u64(value);
        }
        let mut blocks = vec![
            model.weights(),
            model.visible_bias(),
            model.hidden_bias(),
            self.visible.as_slice(),
        ];
        blocks.extend(self.persistent.as_ref().map(Matrix::as_slice));
        TaskPieces {
            shard: self.index,
            header: w.finish(),
            blocks,
        }
    }

    /// [`ShardTask::to_bytes`] read back, every size and value checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Rbm, ShardTask)> {
        let mut r = snapshot::Reader::new(bytes, TASK_MAGIC, "shard of an update")?;
        let units = crate::limits::MAX_UNITS as u64;
        let m = r.count("the visible units", units)?;
        let n = r.count("the hidden units", units)?;
        let update = r.u64()?;
        let index = r.count("the shard", MAX_SHARDS as u64 - 1)?;
        let algorithm = match r.u64()? {
            0 => Algorithm::Cd,
            1 => Algorithm::Pcd,
            2 => Algorithm::Gibbs,
            _ => return Err(bad("the algorithm cannot be split across workers")),
        };
        let k = r.count("k", u32::MAX.into())?;
        crate::limits::check("k", k as f64, crate::limits::Column::Engine)?;
        let chains_limit = crate::limits::MAX_CHAINS as u64;
        let batch_total = r.count("the minibatch", chains_limit)?;
        let chains_total = r.count("the chains", chains_limit)?;
        let seed = r.u64()?;
        let rows = r.count("the shard's rows", batch_total as u64)?;
        let persistent_rows = r.count("the shard's chains", chains_total as u64)?;
        if k == 0 || rows == 0 || batch_total == 0 || chains_total == 0 {
            return Err(bad("a shard needs k, rows and chains"));
        }
        let model = r.parameters(m, n)?;
        let visible = r.probability_matrix("the shard's rows", rows, m)?;
        let persistent = match (algorithm, persistent_rows) {
            (Algorithm::Pcd, 0) => return Err(bad("a pcd shard without its chains")),
            (Algorithm::Pcd, count) => Some(r.binary_matrix("the shard's chains", count, m)?),
            (_, 0) => None,
            _ => return Err(bad("chains sent for an algorithm without them")),
        };
        r.finish()?;
        let task = ShardTask {
            update,
            index,
            algorithm,
            k,
            batch_total,
            chains_total,
            seed,
            visible,
            persistent,
        };
        Ok((model, task))
    }
}

/// A shard's task in pieces ([`ShardTask::pieces`]): its bytes are the header's and
/// then each block's values, little-endian.
pub struct TaskPieces<'a> {
    pub shard: usize,
    pub header: Vec<u8>,
    pub blocks: Vec<&'a [f32]>,
}

impl TaskPieces<'_> {
    /// The task's bytes in one run.
    pub fn joined(self) -> Vec<u8> {
        let mut w = snapshot::Writer::continuing(self.header);
        for block in self.blocks {
            w.f32s(block);
        }
        w.finish()
    }
}

impl ShardResult {
    /// The result as bytes for the trainer's worker (magic `RBMR`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = snapshot::Writer::new(RESULT_MAGIC);
        w.u64(self.update);
        w.u64(self.index as u64);
        w.u64(self.positive_visible.len() as u64);
        w.u64(self.positive_hidden.len() as u64);
        w.u64(self.persistent.as_ref().map_or(0, |p| p.rows()) as u64);
        w.u64(self.squared_error.to_bits());
        w.f32s(&self.gradient);
        w.f32s(&self.positive_visible);
        w.f32s(&self.positive_hidden);
        w.f32s(&self.negative_visible);
        w.f32s(&self.negative_hidden);
        if let Some(p) = &self.persistent {
            w.f32s(p.as_slice());
        }
        w.finish()
    }

    /// The update and shard a result answers, read from its first fields.
    pub fn peek(bytes: &[u8]) -> Option<(u64, usize)> {
        let mut r = snapshot::Reader::new(bytes, RESULT_MAGIC, "shard's result").ok()?;
        let update = r.u64().ok()?;
        let index = r.count("the shard", MAX_SHARDS as u64 - 1).ok()?;
        Some((update, index))
    }

    /// A result read back and checked against the task it answers: the same update,
    /// shard and sizes, and sums no larger than its rows and chains allow.
    pub fn from_bytes(bytes: &[u8], task: &ShardTask, m: usize, n: usize) -> Result<ShardResult> {
        let mut r = snapshot::Reader::new(bytes, RESULT_MAGIC, "shard's result")?;
        let (update, index) = (r.u64()?, r.u64()?);
        if update != task.update || index != task.index as u64 {
            return Err(bad(format!(
                "the result is for update {update}, shard {index}; \
                 update {}, shard {} was expected",
                task.update, task.index
            )));
        }
        let (result_m, result_n) = (r.u64()?, r.u64()?);
        let persistent_rows = r.u64()?;
        let expected_rows = task.persistent.as_ref().map_or(0, |p| p.rows()) as u64;
        if result_m != m as u64 || result_n != n as u64 || persistent_rows != expected_rows {
            return Err(bad("the result's sizes do not match the task"));
        }
        let squared_error = f64::from_bits(r.u64()?);
        let rows = task.visible.rows() as f32;
        let chains = match &task.persistent {
            Some(p) => p.rows() as f32,
            None => rows,
        };
        if !(0.0..=f64::from(rows) * m as f64).contains(&squared_error) {
            return Err(bad("the result's reconstruction error is out of range"));
        }
        // Each term is at most 1 per row or chain; a little room for rounding.
        let gradient = r.f32s("gradient", m * n, 2.0)?;
        let positive_visible = r.f32s("positive_visible", m, rows * 1.001)?;
        let positive_hidden = r.f32s("positive_hidden", n, rows * 1.001)?;
        let negative_visible = r.f32s("negative_visible", m, chains * 1.001)?;
        let negative_hidden = r.f32s("negative_hidden", n, chains * 1.001)?;
        let persistent = match persistent_rows {
            0 => None,
            count => Some(r.binary_matrix("the shard's chains", count as usize, m)?),
        };
        r.finish()?;
        Ok(ShardResult {
            update,
            index: task.index,
            gradient,
            positive_visible,
            positive_hidden,
            negative_visible,
            negative_hidden,
            squared_error,
            persistent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_rows_once_in_order() {
        for total in 1..40 {
            for shards in 1..=total.min(MAX_SHARDS) {
                for rows_through in [0, 1, total, 5 * total, 200 * total] {
                    let mut next = 0;
                    let mut helpers = Vec::new();
                    for index in 0..shards {
                        let (start, end) = share(total, shards, index, rows_through);
                        assert_eq!(start, next);
                        assert!(
                            end > start,
                            "shard {index} of {shards} over {total} is empty"
                        );
                        if index > 0 {
                            // The helpers' shares are within a row of each other, and
                            // none is longer than shard 0's.
                            assert!(end - start <= total / shards + 1);
                            assert!(end - start <= share(total, shards, 0, rows_through).1);
                            helpers.push(end - start);
                        }
                        next = end;
                    }
                    assert_eq!(next, total);
                    let (shortest, longest) = (helpers.iter().min(), helpers.iter().max());
                    if let (Some(shortest), Some(longest)) = (shortest, longest) {
                        assert!(longest - shortest <= 1, "{total} rows, {shards} shards");
                    }
                }
            }
        }
    }

    #[test]
    fn shard_zero_leads_by_the_helpers_lag() {
        // CD-1 at batch 500 (2,500 rows through the weights): a lead of 24 rows, then
        // 238 each; shard 0 does 12 rows (60 through the weights) more than half.
        assert_eq!(share(500, 2, 0, 2500), (0, 262));
        assert_eq!(share(500, 2, 1, 2500), (262, 500));
        // CD-10 at batch 100 (2,300): a lead of 5, then 48 and 47.
        assert_eq!(share(100, 2, 0, 2300), (0, 53));
        // Far more work than the lag: nearly equal parts.
        assert_eq!(share(1000, 4, 0, 1_000_000), (0, 250));
        assert_eq!(share(1000, 4, 3, 1_000_000), (750, 1000));
        // Far less: shard 0 takes at most half the rows as its lead.
        assert_eq!(share(10, 2, 0, 50), (0, 8));
    }
}
