//! The `lab` module: everything the lab's worker and the guide use (see `mod.rs`).

use std::sync::Arc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{count_in, js_error, now_ms, to_js};
use crate::ais::{self, Ais, AisConfig};
use crate::cost;
use crate::data::{self, Dataset};
use crate::error::RbmError;
use crate::exact::{self, VisibleDistributionJob};
use crate::inference::{self, Completion, Denoise};
use crate::limits::{self, Column};
use crate::linalg::Matrix;
use crate::model::{GibbsChains, Rbm};
use crate::modelfile::{ModelFile, TrainingInfo};
use crate::monitor::{self, EvaluationJob};
use crate::rng::{self, Rng};
use crate::snapshot;
use crate::train::{SettingsText, TrainConfig, Trainer};

/// A seed from the platform's randomness, for a first visit without one.
#[wasm_bindgen(js_name = randomSeed)]
pub fn random_seed() -> Result<u32, JsError> {
    rng::fresh_seed().map_err(|e| JsError::new(&e))
}

/// Fault injection for the page's tests of its crash recovery: panics (which traps the
/// instance) with `message`. Nothing in the page calls it on its own.
#[wasm_bindgen(js_name = injectPanic)]
pub fn inject_panic(message: &str) {
    panic!("injected fault: {message}");
}

/// Every setting's ranges (see `limits.rs`): `[{id, integer, engine, page}]`, each range
/// `{min, max, min_open, max_open}`, plus `engine_allowed` and `page_allowed` in words.
#[wasm_bindgen(js_name = settingLimits)]
pub fn setting_limits() -> Result<JsValue, JsError> {
    #[derive(serde::Serialize)]
    struct Row {
        #[serde(flatten)]
        setting: limits::Setting,
        engine_allowed: String,
        page_allowed: String,
    }
    let rows: Vec<Row> = limits::SETTINGS
        .iter()
        .map(|s| Row {
            setting: *s,
            engine_allowed: s.engine.describe(),
            page_allowed: s.page.describe(),
        })
        .collect();
    to_js(&rows)
}

/// Throws unless `value` is allowed for setting `id` on the page.
#[wasm_bindgen(js_name = checkPageSetting)]
pub fn check_page_setting(id: &str, value: f64) -> Result<(), JsError> {
    let row = limits::setting(id).ok_or_else(|| JsError::new(&format!("no setting named {id}")))?;
    limits::check(row.id, value, Column::Page).map_err(js_error)
}

/// Work estimates in floating-point operations (see `cost.rs`) for training with
/// `config` on images of `n_visible` pixels: `{update, piece}`, the whole update and
/// its longest part that cannot be interrupted.
#[wasm_bindgen(js_name = updateCost)]
pub fn update_cost(config: JsValue, n_visible: f64) -> Result<JsValue, JsError> {
    let config = parse_config(config)?;
    let m = crate::size::from_js_number(n_visible)
        .filter(|m| (1..=limits::MAX_UNITS).contains(m))
        .ok_or_else(|| {
            JsError::new(&format!(
                "n_visible = {n_visible} is not allowed: a whole number between 1 and {}",
                limits::MAX_UNITS
            ))
        })?;
    #[derive(serde::Serialize)]
    struct Cost {
        update: f64,
        piece: f64,
    }
    to_js(&Cost {
        update: cost::update(&config, m),
        piece: cost::update_piece(&config, m),
    })
}

/// One block-Gibbs step of `chains` chains of an `m x n` model.
#[wasm_bindgen(js_name = gibbsStepCost)]
pub fn gibbs_step_cost(chains: f64, m: f64, n: f64) -> f64 {
    cost::gibbs_step(chains as usize, m as usize, n as usize)
}

/// The exact p(v) of all 2^m visible states of an `m x n` model.
#[wasm_bindgen(js_name = distributionCost)]
pub fn distribution_cost(m: f64, n: f64) -> f64 {
    cost::visible_distribution(m as usize, n as usize)
}

/// The free energies of `rows` visible vectors of an `m x n` model.
#[wasm_bindgen(js_name = freeEnergyCost)]
pub fn free_energy_cost(rows: f64, m: f64, n: f64) -> f64 {
    cost::free_energy(rows as usize, m as usize, n as usize)
}

fn check_beta(beta: f32) -> Result<(), JsError> {
    limits::check_engine("beta", f64::from(beta)).map_err(js_error)
}

fn count(id: &'static str, value: f64) -> Result<usize, JsError> {
    limits::engine_count(id, value).map_err(js_error)
}

/// An image side from JS: a whole number in the engine's range.
fn side(value: f64) -> Result<u64, JsError> {
    Ok(count("image_side", value)? as u64)
}

/// The browser's simd128 multiply-add peak on this machine, for the benchmark: the
/// faster of two loops that keep `f32x4` multiplies and adds issuing with nothing
/// waiting on memory, each run `iterations` times. Returns GFLOP/s, each lane of a
/// multiply or an add one flop, as the products count theirs (a multiply and an add
/// per term). Each loop's rate is a lower bound on the processor's; neither alone is
/// the peak everywhere:
/// - [`chains_rate`], 6 chains of multiplies and 6 of adds in registers;
/// - [`products_rate`], 8 sums of products as a product's tile adds them, the
///   multiplies off the sums' chains, B read from the first level of cache.
///
/// On an AMD EPYC with AVX-512 (2026-11-29) the chains ran at 50 GFLOP/s and the
/// products' loop at 67 (the kernel's own step, by hand, at 65).
#[wasm_bindgen(js_name = simdPeak)]
pub fn simd_peak(iterations: f64) -> Result<f64, JsError> {
    let iterations = count_in("iterations", iterations, 1, 1 << 30)?;
    Ok(chains_rate(iterations).max(products_rate(iterations)))
}

/// 6 chains of multiplies by a scale and 6 of adds of a shift (enough to cover their
/// latency; 14 live vectors, so that none is spilled from x86's 16 registers).
///
/// The two operands are [`peak_operands`]: as constants, LLVM writes them into each
/// multiply and add as a `v128.const`, which V8 builds again inside the loop, and the
/// peak read 1.25 to 1.5 times too low (a hand-written loop with them in locals, timed
/// in turns with this one in the same page, showed it).
fn chains_rate(iterations: usize) -> f64 {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128};
    let (scale, shift) = peak_operands();
    let mut products: [v128; 6] = core::array::from_fn(|i| f32x4_splat(1.0 + i as f32));
    let mut sums: [v128; 6] = core::array::from_fn(|i| f32x4_splat(i as f32));
    let started = now_ms();
    for _ in 0..iterations {
        for (p, s) in products.iter_mut().zip(sums.iter_mut()) {
            *p = f32x4_mul(*p, scale);
            *s = f32x4_add(*s, shift);
        }
    }
    let elapsed = now_ms() - started;
    core::hint::black_box((products, sums));
    iterations as f64 * 12.0 * 4.0 / (elapsed * 1e6)
}

/// `sums[r][v] += a[r] * b[v]` for 4 vectors a in registers and 2 vectors b loaded
/// each step from a 4 KB panel (128 steps, then again): 8 multiplies and 8 adds a step,
/// as the dense kernel's 4 x 8 tile does them, with its 4 loads of A taken out.
fn products_rate(iterations: usize) -> f64 {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load};
    const STEPS: usize = 128;
    let (scale, _) = peak_operands();
    let a: [v128; 4] = core::array::from_fn(|r| f32x4_mul(scale, f32x4_splat(1.0 + r as f32)));
    let panel: Vec<f32> = (0..STEPS * 8).map(|i| 1.0 + (i % 7) as f32).collect();
    let panel = core::hint::black_box(panel);
    let mut sums = [[f32x4_splat(0.0); 2]; 4];
    let started = now_ms();
    for step in 0..iterations {
        let at = (step % STEPS) * 8;
        let row = &panel[at..at + 8];
        // SAFETY: `row` holds 8 values, the two 16-byte unaligned loads.
        let (b0, b1) = unsafe {
            let at = row.as_ptr().cast::<v128>();
            (v128_load(at), v128_load(at.add(1)))
        };
        for (sum, &a) in sums.iter_mut().zip(&a) {
            sum[0] = f32x4_add(sum[0], f32x4_mul(a, b0));
            sum[1] = f32x4_add(sum[1], f32x4_mul(a, b1));
        }
    }
    let elapsed = now_ms() - started;
    core::hint::black_box(sums);
    iterations as f64 * 16.0 * 4.0 / (elapsed * 1e6)
}

/// The peaks' scale and shift, as values LLVM cannot see (`black_box`), so that they
/// reach the loop as two locals, which V8 keeps in registers.
fn peak_operands() -> (core::arch::wasm32::v128, core::arch::wasm32::v128) {
    use core::arch::wasm32::f32x4_splat;
    core::hint::black_box((f32x4_splat(0.999_999), f32x4_splat(1e-6)))
}

/// The browser's relaxed-SIMD fused multiply-add peak, for the benchmark (the fast
/// build only): 12 independent chains of `f32x4.relaxed_madd` (enough to cover the
/// latency of two fused multiply-adds a cycle; 14 live vectors), `iterations` times.
/// GFLOP/s, each lane of a fused multiply-add two flops.
#[cfg(target_feature = "relaxed-simd")]
#[wasm_bindgen(js_name = relaxedPeak)]
pub fn relaxed_peak(iterations: f64) -> Result<f64, JsError> {
    use core::arch::wasm32::{f32x4_relaxed_madd, f32x4_splat, v128};
    let iterations = count_in("iterations", iterations, 1, 1 << 30)?;
    let (scale, shift) = peak_operands();
    let mut chains: [v128; 12] = core::array::from_fn(|i| f32x4_splat(1.0 + i as f32));
    let started = now_ms();
    for _ in 0..iterations {
        for chain in &mut chains {
            *chain = f32x4_relaxed_madd(*chain, scale, shift);
        }
    }
    let elapsed = now_ms() - started;
    core::hint::black_box(chains);
    Ok(iterations as f64 * 12.0 * 8.0 / (elapsed * 1e6))
}

/// Which maths this build's dense products do: `"fast"` in the relaxed-SIMD build
/// (fused multiply-adds; see `linalg::set_fast_maths`), else `"deterministic"` (the
/// same bits in every browser and natively).
#[wasm_bindgen(js_name = engineMaths)]
pub fn engine_maths() -> String {
    if crate::linalg::fast_maths() {
        "fast"
    } else {
        "deterministic"
    }
    .into()
}

/// A set of binary images. Trainers built on it share its images, not copy them.
#[wasm_bindgen(js_name = Dataset)]
pub struct JsDataset {
    images: Arc<Matrix>,
    image_shape: (usize, usize),
}

impl From<Dataset> for JsDataset {
    fn from(set: Dataset) -> Self {
        JsDataset {
            images: Arc::new(set.images),
            image_shape: set.image_shape,
        }
    }
}

#[wasm_bindgen(js_class = Dataset)]
impl JsDataset {
    /// Every distinct `side x side` bars-and-stripes image.
    #[wasm_bindgen(js_name = barsAndStripes)]
    pub fn bars_and_stripes(side: f64) -> Result<JsDataset, JsError> {
        let side = count("side", side)?;
        data::bars_and_stripes(side)
            .map(JsDataset::from)
            .map_err(js_error)
    }

    /// A packed image file (the MNIST asset); `part` is "all", "train" or "test"
    /// (the fixed 9,000 / 1,000 split).
    #[wasm_bindgen(js_name = fromPacked)]
    pub fn from_packed(bytes: &[u8], part: &str) -> Result<JsDataset, JsError> {
        let inner = match part {
            "all" => data::parse_packed(bytes),
            "train" => data::mnist_split(bytes).map(|(train, _)| train),
            "test" => data::mnist_split(bytes).map(|(_, test)| test),
            other => Err(RbmError::setting(
                "part",
                other,
                "\"all\", \"train\" or \"test\"",
            )),
        }
        .map_err(js_error)?;
        Ok(JsDataset::from(inner))
    }

    /// The MNIST asset's fixed split, `[train, test]`, from one reading of the file
    /// (`fromPacked` with "train" and then "test" reads and shuffles it twice).
    #[wasm_bindgen(js_name = mnistSplit)]
    pub fn mnist_split(bytes: &[u8]) -> Result<Vec<JsDataset>, JsError> {
        let (train, test) = data::mnist_split(bytes).map_err(js_error)?;
        Ok(vec![JsDataset::from(train), JsDataset::from(test)])
    }

    /// Rows of 0/1 pixels (`count * rows * cols` values, each 0 or 1).
    #[wasm_bindgen(js_name = fromPixels)]
    pub fn from_pixels(pixels: &[f32], rows: f64, cols: f64) -> Result<JsDataset, JsError> {
        let inner = data::from_pixels(pixels, side(rows)?, side(cols)?).map_err(js_error)?;
        Ok(JsDataset::from(inner))
    }

    /// A CSV text of 0/1 rows, one `rows x cols` image per line.
    #[wasm_bindgen(js_name = fromCsv)]
    pub fn from_csv(text: &str, rows: f64, cols: f64) -> Result<JsDataset, JsError> {
        let inner = data::parse_csv(text, side(rows)?, side(cols)?).map_err(js_error)?;
        Ok(JsDataset::from(inner))
    }

    pub fn len(&self) -> usize {
        self.images.rows()
    }

    #[wasm_bindgen(js_name = isEmpty)]
    pub fn is_empty(&self) -> bool {
        self.images.rows() == 0
    }

    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> usize {
        self.image_shape.0
    }

    #[wasm_bindgen(getter)]
    pub fn cols(&self) -> usize {
        self.image_shape.1
    }

    /// Start of the pixel buffer (`len * rows * cols` f32, row-major, one image per row).
    #[wasm_bindgen(js_name = pixelsPtr)]
    pub fn pixels_ptr(&self) -> *const f32 {
        self.images.as_slice().as_ptr()
    }
}

/// The most hidden inputs (rows x hidden units) one call of [`JsRbm`]'s row functions
/// works out at once: 256 MB of `f32`.
const MAX_HIDDEN_INPUTS: usize = 1 << 26;

/// An RBM model: parameters and exact quantities.
#[wasm_bindgen(js_name = Rbm)]
pub struct JsRbm {
    file: ModelFile,
}

#[wasm_bindgen(js_class = Rbm)]
impl JsRbm {
    /// A model from the plain object of `rbm.parts()` or the files module's readers
    /// (`{nVisible, nHidden, weights, visibleBias, hiddenBias, imageShape?, training?}`),
    /// checked as a model file is; throws with the first problem.
    #[wasm_bindgen(js_name = fromParts)]
    pub fn from_parts(parts: JsValue) -> Result<JsRbm, JsError> {
        Ok(JsRbm {
            file: super::file_from_parts(&parts)?,
        })
    }

    /// The model as a plain object with copies of its parameters, for the files
    /// module's writers (see `fromParts`).
    pub fn parts(&self) -> Result<JsValue, JsError> {
        super::parts_of(&self.file)
    }

    #[wasm_bindgen(getter, js_name = nVisible)]
    pub fn n_visible(&self) -> usize {
        self.file.model.n_visible()
    }

    #[wasm_bindgen(getter, js_name = nHidden)]
    pub fn n_hidden(&self) -> usize {
        self.file.model.n_hidden()
    }

    /// Updates the model had when it was saved (0 when the file does not say).
    #[wasm_bindgen(getter, js_name = stepsDone)]
    pub fn steps_done(&self) -> f64 {
        self.file.training.as_ref().map_or(0, |t| t.steps_done) as f64
    }

    /// `[rows, cols]` of the images the model was trained on, if known.
    #[wasm_bindgen(getter, js_name = imageShape)]
    pub fn image_shape(&self) -> Option<Vec<usize>> {
        self.file.image_shape.map(|(r, c)| vec![r, c])
    }

    /// Start of the weights (n_visible x n_hidden, row-major f32).
    #[wasm_bindgen(js_name = weightsPtr)]
    pub fn weights_ptr(&self) -> *const f32 {
        self.file.model.weights().as_ptr()
    }

    #[wasm_bindgen(js_name = visibleBiasPtr)]
    pub fn visible_bias_ptr(&self) -> *const f32 {
        self.file.model.visible_bias().as_ptr()
    }

    #[wasm_bindgen(js_name = hiddenBiasPtr)]
    pub fn hidden_bias_ptr(&self) -> *const f32 {
        self.file.model.hidden_bias().as_ptr()
    }

    /// Exact `log Z(β)`; throws when both layers exceed 20 units or β is out of range.
    #[wasm_bindgen(js_name = logPartition)]
    pub fn log_partition(&self, beta: f32) -> Result<f64, JsError> {
        check_beta(beta)?;
        exact::log_partition(&self.file.model, beta).map_err(js_error)
    }

    /// Exact `log Z(β)` as a job of pieces, some of which may be computed by helpers
    /// (`LogPartitionJob`); throws as `logPartition` does.
    #[wasm_bindgen(js_name = logPartitionJob)]
    pub fn log_partition_job(&self, beta: f32) -> Result<JsLogPartitionJob, JsError> {
        check_beta(beta)?;
        JsLogPartitionJob::new(self.file.model.clone(), beta)
    }

    /// Exact mean `log p(v)` over a data set.
    #[wasm_bindgen(js_name = meanLogLikelihood)]
    pub fn mean_log_likelihood(&self, dataset: &JsDataset) -> Result<f64, JsError> {
        exact::mean_log_likelihood(&self.file.model, &dataset.images).map_err(js_error)
    }

    /// Free energy `F_β(v)` of each image in `visible` (a whole number of rows).
    #[wasm_bindgen(js_name = freeEnergy)]
    pub fn free_energy(&self, visible: Vec<f32>, beta: f32) -> Result<Vec<f64>, JsError> {
        check_beta(beta)?;
        let rows = self.rows_of(visible)?;
        self.file.model.free_energy(&rows, beta).map_err(js_error)
    }

    /// `p_β(h = 1 | v)` for each row of `visible`, as a new array (rows x n_hidden).
    ///
    /// `visible` arrives as a `Vec` (wasm-bindgen's copy of the JS array, handed over)
    /// and the result leaves as one, so neither is copied again here: at 100 x 784 by
    /// 784 x 500 the two copies took 1 to 2 % of the call in Chromium (in turns).
    #[wasm_bindgen(js_name = probHiddenGivenVisible)]
    pub fn prob_hidden_given_visible(
        &self,
        visible: Vec<f32>,
        beta: f32,
    ) -> Result<Vec<f32>, JsError> {
        check_beta(beta)?;
        let rows = self.rows_of(visible)?;
        let mut out = Matrix::zeros(rows.rows(), self.file.model.n_hidden());
        self.file
            .model
            .prob_hidden_given_visible(&rows, beta, &mut out)
            .map_err(js_error)?;
        Ok(out.into_vec())
    }

    /// The dense product alone, for the benchmark: `v W + c` for the given rows of
    /// `visible` (probabilities, not 0/1, so that the dense kernel runs), `iterations`
    /// times, as `p(h | v)` makes it but without its sigmoids and the copies at the
    /// boundary. GFLOP/s, 2 m n flops a row. At 100 x 784 by 784 x 500 in Chromium
    /// those two took about 4 % and 7 % of `probHiddenGivenVisible`'s time.
    #[wasm_bindgen(js_name = denseProductRate)]
    pub fn dense_product_rate(&self, visible: Vec<f32>, iterations: f64) -> Result<f64, JsError> {
        let iterations = count_in("iterations", iterations, 1, 1 << 20)?;
        let rows = self.rows_of(visible)?;
        let model = &self.file.model;
        let mut out = Matrix::zeros(rows.rows(), model.n_hidden());
        let started = now_ms();
        for _ in 0..iterations {
            model.hidden_input(&rows, &mut out);
        }
        let elapsed = now_ms() - started;
        core::hint::black_box(&out);
        let flops = 2.0 * rows.rows() as f64 * model.n_visible() as f64 * model.n_hidden() as f64;
        Ok(iterations as f64 * flops / (elapsed * 1e6))
    }

    /// `values` as whole rows of visible units, refused when their hidden inputs (a
    /// rows x n_hidden matrix, which each caller makes) would hold more than
    /// [`MAX_HIDDEN_INPUTS`] values: on wasm32 the product could wrap, or the
    /// allocation fail, and either would trap.
    fn rows_of(&self, values: Vec<f32>) -> Result<Matrix, JsError> {
        let (m, n) = (self.file.model.n_visible(), self.file.model.n_hidden());
        if values.is_empty() || !values.len().is_multiple_of(m) {
            return Err(js_error(RbmError::Shape(format!(
                "{} values are not whole rows of {m} visible units",
                values.len()
            ))));
        }
        let rows = values.len() / m;
        if crate::size::product(&[rows as u64, n as u64]).is_none_or(|v| v > MAX_HIDDEN_INPUTS) {
            return Err(js_error(RbmError::Shape(format!(
                "{rows} rows of {n} hidden units are more than {MAX_HIDDEN_INPUTS} hidden \
                 inputs at once: pass fewer rows at a time"
            ))));
        }
        Matrix::from_vec(rows, m, values).ok_or_else(|| JsError::new("row count mismatch"))
    }
}

/// `Trainer.trainFor`'s work (see there).
fn train_slice(
    trainer: &mut Trainer,
    budget_ms: f64,
    max_updates: f64,
) -> Result<JsValue, JsError> {
    if !(0.0..=60_000.0).contains(&budget_ms) {
        return Err(js_error(RbmError::setting(
            "budget_ms",
            budget_ms,
            "between 0 and 60000",
        )));
    }
    let max_updates = if max_updates >= 1.0 {
        max_updates.min(1e6) as u32
    } else {
        1
    };
    let started = now_ms();
    let out_of_time = || now_ms() - started >= budget_ms;
    let mut updates = 0u32;
    let mut error_sum = 0.0;
    let mut last = None;
    while let Some(stats) = trainer.advance(&now_ms, &out_of_time).map_err(js_error)? {
        updates += 1;
        error_sum += stats.reconstruction_error;
        last = Some(stats);
        if updates >= max_updates || out_of_time() {
            break;
        }
    }
    if let Some(last) = last.as_mut() {
        last.reconstruction_error = error_sum / f64::from(updates);
    }
    to_js(&SliceStats {
        updates,
        last,
        in_progress: trainer.update_in_progress(),
        waiting: trainer.waiting_for_shards(),
        wall_time_ms: now_ms() - started,
    })
}

/// Exact `log Z(β)` summed in pieces (2^14 states each, 64 at 784 x 20), each computed
/// here (`compute`) or by a helper (`taskBytes`, the helper module's
/// `logPartitionTask`, `accept`): the same bits however they are shared out.
#[wasm_bindgen(js_name = LogPartitionJob)]
pub struct JsLogPartitionJob {
    job: exact::LogPartitionJob,
}

impl JsLogPartitionJob {
    fn new(model: Rbm, beta: f32) -> Result<Self, JsError> {
        Ok(JsLogPartitionJob {
            job: exact::LogPartitionJob::new(model, beta).map_err(js_error)?,
        })
    }
}

#[wasm_bindgen(js_class = LogPartitionJob)]
impl JsLogPartitionJob {
    #[wasm_bindgen(getter)]
    pub fn pieces(&self) -> u32 {
        self.job.pieces()
    }

    /// Floating-point work of one piece (for slicing and timeouts).
    #[wasm_bindgen(getter, js_name = pieceFlops)]
    pub fn piece_flops(&self) -> f64 {
        self.job.piece_flops()
    }

    /// Computes pieces `start` to `end` (excluded) here.
    pub fn compute(&mut self, start: u32, end: u32) -> Result<(), JsError> {
        self.job.compute(start..end).map_err(js_error)
    }

    /// Pieces `start` to `end` as a task for a helper.
    #[wasm_bindgen(js_name = taskBytes)]
    pub fn task_bytes(&self, start: u32, end: u32) -> Result<Vec<u8>, JsError> {
        self.job.task_bytes(start..end).map_err(js_error)
    }

    /// A helper's answer, checked.
    pub fn accept(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        self.job.accept(bytes).map_err(js_error)
    }

    /// The first piece not yet in, or undefined.
    #[wasm_bindgen(getter, js_name = nextMissing)]
    pub fn next_missing(&self) -> Option<u32> {
        self.job.next_missing()
    }

    /// `log Z(β)` once every piece is in, else undefined.
    #[wasm_bindgen(getter)]
    pub fn value(&self) -> Option<f64> {
        self.job.value()
    }
}

/// Training: a model, its optimiser and its sampler, on one data set, with the
/// learning-curve evaluation and the exact p(v) computed in slices beside it.
#[wasm_bindgen(js_name = Trainer)]
pub struct JsTrainer {
    inner: Trainer,
    image_shape: (usize, usize),
    held_out: Option<Arc<Matrix>>,
    /// Draws for the stochastic pseudo-log-likelihood, apart from training's stream.
    evaluation_rng: Rng,
    evaluation: Option<EvaluationJob>,
    /// Whether the evaluation under way is computed by another worker (`evaluationTask`).
    evaluation_away: bool,
    /// Names the rows evaluations read (`evaluationData`): new for each trainer and
    /// each held-out set, so a helper worker's copy is known to be current.
    data_id: u32,
    distribution: Option<VisibleDistributionJob>,
    /// An AIS estimate of `log Z` under way, with the update count it started at and
    /// whether another worker computes it (`aisTask`).
    ais: Option<(Ais, f64, bool)>,
    /// The "use the model" panel's completion under way, with its own generator.
    completion: Option<(Completion, Rng)>,
    /// The headers of the last `shardRequests`' tasks, kept until the next: JS copies
    /// them out through views.
    requests: Vec<Vec<u8>>,
}

/// A new name for a trainer's evaluation rows.
fn next_data_id() -> u32 {
    use core::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Seeds the evaluation stream from the training seed, so a run's curves repeat too.
fn evaluation_rng(trainer: &Trainer) -> Rng {
    rng::seeded(trainer.config().seed ^ 0x9e37_79b9_7f4a_7c15)
}

/// What one slice of training did.
#[derive(serde::Serialize)]
struct SliceStats {
    /// Updates finished in this slice (0 when it only advanced a long update).
    updates: u32,
    /// The last finished update's stats, with the reconstruction error averaged over
    /// the slice's updates; null when none finished.
    last: Option<crate::train::StepStats>,
    /// Whether an update is still part-way done.
    in_progress: bool,
    /// Whether that update waits only for other workers' shards.
    waiting: bool,
    wall_time_ms: f64,
}

#[wasm_bindgen(js_class = Trainer)]
impl JsTrainer {
    /// `config` is a plain object with any of: n_hidden, algorithm ("exact", "gibbs",
    /// "cd", "pcd"), k, learning_rate, momentum, weight_decay, batch_size,
    /// persistent_chains, seed. Missing fields take their defaults; a bad value throws.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, dataset: &JsDataset) -> Result<JsTrainer, JsError> {
        let config = parse_config(config)?;
        let inner = Trainer::new(config, &dataset.images).map_err(js_error)?;
        Ok(JsTrainer::wrap(inner, dataset.image_shape))
    }

    fn wrap(inner: Trainer, image_shape: (usize, usize)) -> JsTrainer {
        JsTrainer {
            evaluation_rng: evaluation_rng(&inner),
            inner,
            image_shape,
            held_out: None,
            evaluation: None,
            evaluation_away: false,
            data_id: next_data_id(),
            distribution: None,
            ais: None,
            completion: None,
            requests: Vec::new(),
        }
    }

    /// Continues training `model` on `dataset` with `config` (n_hidden comes from the
    /// model; the update count carries on from the model file's `steps_done`). A model
    /// saved for images of another shape is refused.
    pub fn resume(
        config: JsValue,
        model: &JsRbm,
        dataset: &JsDataset,
    ) -> Result<JsTrainer, JsError> {
        let config = parse_config(config)?;
        let shape = dataset.image_shape;
        if let Some((rows, cols)) = model.file.image_shape {
            if (rows, cols) != shape {
                return Err(js_error(RbmError::Shape(format!(
                    "the model was trained on {rows} x {cols} images, the chosen data are {} x {}: \
                     pick the data it was trained on, then load it again",
                    shape.0, shape.1
                ))));
            }
        }
        let inner = Trainer::resume_at(
            config,
            model.file.model.clone(),
            &dataset.images,
            model.file.training.as_ref().map_or(0, |t| t.steps_done),
        )
        .map_err(js_error)?;
        Ok(JsTrainer::wrap(inner, shape))
    }

    /// A run saved by `snapshot()`, continued on the same data (checked).
    #[wasm_bindgen(js_name = fromSnapshot)]
    pub fn from_snapshot(
        bytes: &[u8],
        evaluation_state: &[u8],
        dataset: &JsDataset,
    ) -> Result<JsTrainer, JsError> {
        let inner =
            Trainer::from_snapshot_with(bytes, &dataset.images, &BROWSER_JSON).map_err(js_error)?;
        let mut trainer = JsTrainer::wrap(inner, dataset.image_shape);
        trainer.evaluation_rng = Rng::from_state_text(evaluation_state).ok_or_else(|| {
            JsError::new(
                "saved run: the evaluation generator's state is not four words, not all zero",
            )
        })?;
        Ok(trainer)
    }

    /// The whole training state as bytes (see `snapshot.rs`); throws while an update
    /// is part-way done.
    pub fn snapshot(&self) -> Result<Vec<u8>, JsError> {
        self.inner.to_snapshot_with(&BROWSER_JSON).map_err(js_error)
    }

    /// The evaluation generator's state, saved beside the snapshot so that a restored
    /// run's curves repeat too.
    #[wasm_bindgen(js_name = evaluationState)]
    pub fn evaluation_state(&self) -> Result<Vec<u8>, JsError> {
        Ok(self.evaluation_rng.state_text().into_bytes())
    }

    /// Keeps `dataset` (shared, not copied) as the held-out set of the learning curves.
    #[wasm_bindgen(js_name = setHeldOut)]
    pub fn set_held_out(&mut self, dataset: &JsDataset) -> Result<(), JsError> {
        let images = &dataset.images;
        if images.cols() != self.inner.model().n_visible() {
            return Err(js_error(RbmError::Shape(format!(
                "held-out images have {} pixels, the model {} visible units",
                images.cols(),
                self.inner.model().n_visible()
            ))));
        }
        self.data_id = next_data_id();
        self.held_out = Some(Arc::clone(images));
        self.evaluation = None;
        self.evaluation_away = false;
        Ok(())
    }

    /// One whole update; returns `{step, epoch, reconstruction_error, update_ratio,
    /// wall_time_ms}`. Throws on divergence, leaving the last good model in place.
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        let stats = self.inner.step(&now_ms).map_err(js_error)?;
        to_js(&stats)
    }

    /// `count` whole updates (1 to 1,000,000); returns the last one's stats with the
    /// reconstruction error averaged over them and the total wall time.
    pub fn steps(&mut self, count: f64) -> Result<JsValue, JsError> {
        if !((1.0..=1e6).contains(&count) && count.fract() == 0.0) {
            return Err(js_error(RbmError::setting(
                "count",
                count,
                "a whole number between 1 and 1000000",
            )));
        }
        let count = count as u32;
        let mut total_error = 0.0;
        let mut total_time = 0.0;
        let mut last = None;
        for _ in 0..count {
            let stats = self.inner.step(&now_ms).map_err(js_error)?;
            total_error += stats.reconstruction_error;
            total_time += stats.wall_time_ms;
            last = Some(stats);
        }
        let mut last = last.ok_or_else(|| JsError::new("no step was run"))?;
        last.reconstruction_error = total_error / f64::from(count);
        last.wall_time_ms = total_time;
        to_js(&last)
    }

    /// Trains for about `budget_ms` of wall time: whole updates while time is left
    /// (at most `max_updates`), and the current update in pieces, stopping between
    /// pieces when the time is up, so that a long update does not block the caller.
    /// Returns `{updates, last, in_progress, wall_time_ms}`.
    /// With `here`, every shard of a split update is computed in this call's worker
    /// (otherwise shards 1 and up wait for `acceptShard`, and `waiting` says so).
    #[wasm_bindgen(js_name = trainFor)]
    pub fn train_for(
        &mut self,
        budget_ms: f64,
        max_updates: f64,
        here: Option<bool>,
    ) -> Result<JsValue, JsError> {
        if here.unwrap_or(false) {
            self.inner
                .with_every_shard_here(|trainer| train_slice(trainer, budget_ms, max_updates))
        } else {
            train_slice(&mut self.inner, budget_ms, max_updates)
        }
    }

    /// Splits each update of `cd`, `pcd` and `gibbs` over up to `workers` workers (1 to
    /// 16; 1: unsplit, the bits of earlier versions), as many as its work pays for
    /// (`workersInUse` says how many). Shards 1 and up are handed out by
    /// `shardRequests` and come back through `acceptShard`. Throws during an update.
    #[wasm_bindgen(js_name = setWorkers)]
    pub fn set_workers(&mut self, workers: f64) -> Result<(), JsError> {
        let workers = count("workers", workers)?;
        self.inner.set_workers(workers, true).map_err(js_error)?;
        Ok(())
    }

    /// Workers the next update is split over (1 for `exact` and `tempering`).
    #[wasm_bindgen(getter, js_name = workersInUse)]
    pub fn workers_in_use(&self) -> usize {
        self.inner.shards_in_use()
    }

    /// Begins the next update if none is in progress (hand its shards out, then
    /// `trainFor`).
    #[wasm_bindgen(js_name = beginUpdate)]
    pub fn begin_update(&mut self) -> Result<(), JsError> {
        self.inner.begin(now_ms()).map_err(js_error)
    }

    /// The split update's tasks still unanswered, for helper workers (`runShard`), as
    /// `[{shard, len, parts}]`: a task's `len` bytes are the byte ranges `parts`
    /// (`[ptr, len, ptr, len, ...]`) of wasm memory one after the other, its header
    /// and then the model's parameters and the task's rows where they lie. Copy them
    /// out before any other call into the module (a call may move memory, and the
    /// update's end changes the parameters) into a buffer that is used again, as
    /// `HelperPool.dispatch` does (a new 2 MB JS buffer costs twenty times the copy).
    /// Empty when no split update is in progress.
    #[wasm_bindgen(js_name = shardRequests)]
    pub fn shard_requests(&mut self) -> Result<js_sys::Array, JsError> {
        // The blocks of values go out as they lie in memory, which is the tasks' byte
        // order only because wasm32 is little-endian.
        const _: () = assert!(cfg!(target_endian = "little"));
        let pieces = self.inner.shard_request_pieces();
        let list = js_sys::Array::new();
        let mut headers = Vec::with_capacity(pieces.len());
        for crate::shard::TaskPieces {
            shard,
            header,
            blocks,
        } in pieces
        {
            let ranges = core::iter::once((header.as_ptr() as usize, header.len())).chain(
                blocks
                    .iter()
                    .map(|b| (b.as_ptr() as usize, core::mem::size_of_val(*b))),
            );
            let parts = js_sys::Array::new();
            let mut len = 0;
            for (ptr, bytes) in ranges {
                parts.push(&JsValue::from(ptr as f64));
                parts.push(&JsValue::from(bytes as f64));
                len += bytes;
            }
            let entry = js_sys::Object::new();
            let set = |key: &str, value: &JsValue| js_sys::Reflect::set(&entry, &key.into(), value);
            set("shard", &JsValue::from(shard as f64))
                .and_then(|_| set("len", &JsValue::from(len as f64)))
                .and_then(|_| set("parts", &parts))
                .map_err(|_| JsError::new("could not build a shard request"))?;
            list.push(&entry);
            headers.push(header);
        }
        self.requests = headers;
        Ok(list)
    }

    /// Takes a helper's answer: true if it was used, false if it came too late (its
    /// update is over) or twice; throws if it does not fit its task.
    #[wasm_bindgen(js_name = acceptShard)]
    pub fn accept_shard(&mut self, bytes: &[u8]) -> Result<bool, JsError> {
        self.inner.accept_shard(bytes).map_err(js_error)
    }

    /// Computes shard `shard` of the update in progress in this worker (its helper died).
    #[wasm_bindgen(js_name = computeShard)]
    pub fn compute_shard(&mut self, shard: f64) -> Result<(), JsError> {
        let shard = count_in("shard", shard, 0, crate::shard::MAX_SHARDS - 1)?;
        self.inner.compute_shard(shard).map_err(js_error)
    }

    /// Whether an update is part-way done (see `trainFor`).
    #[wasm_bindgen(getter, js_name = updateInProgress)]
    pub fn update_in_progress(&self) -> bool {
        self.inner.update_in_progress()
    }

    #[wasm_bindgen(getter, js_name = stepsDone)]
    pub fn steps_done(&self) -> f64 {
        self.inner.steps_done() as f64
    }

    /// The training settings this trainer runs (a plain object, as `new Trainer` takes).
    pub fn config(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.config())
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> usize {
        self.inner.steps_per_epoch()
    }

    /// A copy of the current model, with the image shape and the training settings.
    pub fn model(&self) -> Result<JsRbm, JsError> {
        Ok(JsRbm {
            file: ModelFile {
                model: self.inner.model().clone(),
                image_shape: Some(self.image_shape),
                training: Some(TrainingInfo {
                    config: Some(self.inner.config().clone()),
                    steps_done: self.inner.steps_done(),
                }),
            },
        })
    }

    /// Start of the current weights (n_visible x n_hidden, row-major f32).
    #[wasm_bindgen(js_name = weightsPtr)]
    pub fn weights_ptr(&self) -> *const f32 {
        self.inner.model().weights().as_ptr()
    }

    /// Exact mean `log p(v)` of the current model on `dataset`.
    #[wasm_bindgen(js_name = meanLogLikelihood)]
    pub fn mean_log_likelihood(&self, dataset: &JsDataset) -> Result<f64, JsError> {
        exact::mean_log_likelihood(self.inner.model(), &dataset.images).map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = nVisible)]
    pub fn n_visible(&self) -> usize {
        self.inner.model().n_visible()
    }

    #[wasm_bindgen(getter, js_name = nHidden)]
    pub fn n_hidden(&self) -> usize {
        self.inner.model().n_hidden()
    }

    #[wasm_bindgen(js_name = visibleBiasPtr)]
    pub fn visible_bias_ptr(&self) -> *const f32 {
        self.inner.model().visible_bias().as_ptr()
    }

    #[wasm_bindgen(js_name = hiddenBiasPtr)]
    pub fn hidden_bias_ptr(&self) -> *const f32 {
        self.inner.model().hidden_bias().as_ptr()
    }

    /// One point of each learning curve, all at once: `{pseudo_log_likelihood,
    /// log_likelihood_train, log_likelihood_held_out, free_energy_gap,
    /// exact_unavailable}` (the held-out ones null without a held-out set).
    pub fn evaluate(&mut self) -> Result<JsValue, JsError> {
        let evaluation = monitor::evaluate(
            self.inner.model(),
            self.inner.data(),
            self.held_out.as_deref(),
            &mut self.evaluation_rng,
        )
        .map_err(js_error)?;
        to_js(&evaluation)
    }

    /// Starts a point of the learning curves on a snapshot of the current model, to be
    /// computed by `advanceEvaluation` (any evaluation under way is dropped).
    #[wasm_bindgen(js_name = startEvaluation)]
    pub fn start_evaluation(&mut self) -> Result<(), JsError> {
        self.evaluation_away = false;
        self.evaluation = Some(
            EvaluationJob::new(
                self.inner.model().clone(),
                self.inner.data(),
                self.held_out.as_deref(),
                &mut self.evaluation_rng,
            )
            .map_err(js_error)?,
        );
        Ok(())
    }

    /// Whether an evaluation is under way.
    #[wasm_bindgen(getter, js_name = evaluationRunning)]
    pub fn evaluation_running(&self) -> bool {
        self.evaluation.is_some()
    }

    /// Works about `flop_budget` operations on the evaluation; when it completes,
    /// returns `{...the curves' point, hidden_mean_activation}` and clears it, else
    /// undefined.
    #[wasm_bindgen(js_name = advanceEvaluation)]
    pub fn advance_evaluation(&mut self, flop_budget: f64) -> Result<JsValue, JsError> {
        let Some(job) = self.evaluation.as_mut() else {
            return Err(JsError::new("no evaluation is under way"));
        };
        if self.evaluation_away {
            return Err(JsError::new(
                "the evaluation is computed by another worker (evaluationHere takes it back)",
            ));
        }
        if !job
            .advance(self.inner.data(), self.held_out.as_deref(), flop_budget)
            .map_err(js_error)?
        {
            return Ok(JsValue::UNDEFINED);
        }
        self.evaluation_point()
    }

    /// The evaluation just started, as a task for another worker (the `helper`
    /// module's `EvaluationRun`, on the rows of `evaluationData`), whose sums come back
    /// through `acceptEvaluation`. Meanwhile `advanceEvaluation` refuses;
    /// `evaluationHere` takes the job back (a worker that failed).
    #[wasm_bindgen(js_name = evaluationTask)]
    pub fn evaluation_task(&mut self) -> Result<Vec<u8>, JsError> {
        let Some(job) = self.evaluation.as_ref() else {
            return Err(JsError::new("no evaluation is under way"));
        };
        let bytes = job.task_bytes().map_err(js_error)?;
        self.evaluation_away = true;
        Ok(bytes)
    }

    /// The rows the evaluation under way reads, as bytes for the worker that computes
    /// it (kept there while `evaluationDataId` stays the same).
    #[wasm_bindgen(js_name = evaluationData)]
    pub fn evaluation_data(&self) -> Result<Vec<u8>, JsError> {
        let Some(job) = self.evaluation.as_ref() else {
            return Err(JsError::new("no evaluation is under way"));
        };
        Ok(monitor::EvaluationData::to_bytes(
            self.inner.data(),
            job.train_rows_needed(),
            self.held_out.as_deref().filter(|h| h.rows() > 0),
        ))
    }

    /// Names the rows of `evaluationData`: it changes with the trainer and its held-out set.
    #[wasm_bindgen(getter, js_name = evaluationDataId)]
    pub fn evaluation_data_id(&self) -> u32 {
        self.data_id
    }

    /// The evaluation sent out by `evaluationTask` is computed here again, from its start.
    #[wasm_bindgen(js_name = evaluationHere)]
    pub fn evaluation_here(&mut self) {
        self.evaluation_away = false;
    }

    /// Whether the evaluation under way is computed by another worker.
    #[wasm_bindgen(getter, js_name = evaluationAway)]
    pub fn evaluation_away(&self) -> bool {
        self.evaluation.is_some() && self.evaluation_away
    }

    /// The answer to `evaluationTask` (`EvaluationRun.sums()`'s bytes), checked:
    /// returns the same point as `advanceEvaluation` and clears the job.
    #[wasm_bindgen(js_name = acceptEvaluation)]
    pub fn accept_evaluation(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let Some(job) = self.evaluation.as_mut().filter(|_| self.evaluation_away) else {
            return Err(JsError::new("no evaluation was sent to another worker"));
        };
        job.accept_sums(bytes).map_err(js_error)?;
        self.evaluation_point()
    }
}

impl JsTrainer {
    /// The point of the finished evaluation, which is cleared.
    fn evaluation_point(&mut self) -> Result<JsValue, JsError> {
        let Some(job) = self.evaluation.as_ref() else {
            return Err(JsError::new("no evaluation is under way"));
        };
        #[derive(serde::Serialize)]
        struct Point {
            #[serde(flatten)]
            evaluation: monitor::Evaluation,
            hidden_mean_activation: Vec<f32>,
        }
        let point = Point {
            evaluation: job.result().map_err(js_error)?,
            hidden_mean_activation: job.hidden_mean_activation(),
        };
        self.evaluation = None;
        self.evaluation_away = false;
        to_js(&point)
    }
}

#[wasm_bindgen(js_class = Trainer)]
impl JsTrainer {
    /// Starts an AIS estimate of `log Z` (`runs` runs, `temperatures` intermediate
    /// distributions from the training data's base rate) on a snapshot of the current
    /// model, computed by `advanceAis`. Seeded from the run's seed and update count, so
    /// a replayed run draws the same estimates.
    #[wasm_bindgen(js_name = startAis)]
    pub fn start_ais(&mut self, runs: f64, temperatures: f64) -> Result<(), JsError> {
        let runs = count("ais_runs", runs)?;
        let temperatures = count("ais_temperatures", temperatures)?;
        let steps = self.inner.steps_done();
        let base = ais::base_rate_biases(self.inner.data()).map_err(js_error)?;
        let seed = self.inner.config().seed ^ steps.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xa15;
        let job = Ais::new(
            self.inner.model().clone(),
            base,
            AisConfig {
                runs,
                temperatures,
                seed,
            },
        )
        .map_err(js_error)?;
        self.ais = Some((job, steps as f64, false));
        Ok(())
    }

    /// The AIS estimate just started, as a task for another worker (the `helper`
    /// module's `AisRun`), whose answer comes back through `acceptAis`. Meanwhile
    /// `advanceAis` refuses; `aisHere` takes the job back (a worker that failed).
    #[wasm_bindgen(js_name = aisTask)]
    pub fn ais_task(&mut self) -> Result<Vec<u8>, JsError> {
        let Some((job, _, away)) = self.ais.as_mut() else {
            return Err(JsError::new("no AIS estimate is under way"));
        };
        let bytes = job.task_bytes().map_err(js_error)?;
        *away = true;
        Ok(bytes)
    }

    /// The AIS estimate sent out by `aisTask` is computed here again, from its start.
    #[wasm_bindgen(js_name = aisHere)]
    pub fn ais_here(&mut self) {
        if let Some((_, _, away)) = self.ais.as_mut() {
            *away = false;
        }
    }

    /// Whether the AIS estimate under way is computed by another worker.
    #[wasm_bindgen(getter, js_name = aisAway)]
    pub fn ais_away(&self) -> bool {
        self.ais.as_ref().is_some_and(|(_, _, away)| *away)
    }

    /// The answer to `aisTask` (`AisRun.result()`'s bytes), checked against the job:
    /// returns the same point as `advanceAis` and clears the job.
    #[wasm_bindgen(js_name = acceptAis)]
    pub fn accept_ais(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let Some((job, _, true)) = self.ais.as_ref() else {
            return Err(JsError::new("no AIS estimate was sent to another worker"));
        };
        let estimate = ais::AisEstimate::from_bytes(bytes, job).map_err(js_error)?;
        self.finish_ais(estimate)
    }

    /// Parallel tempering's exchange acceptance rate per neighbouring pair of
    /// temperatures, hottest last (empty for the other algorithms; NaN before any).
    #[wasm_bindgen(getter, js_name = exchangeRates)]
    pub fn exchange_rates(&self) -> Vec<f64> {
        self.inner
            .tempering()
            .map_or_else(Vec::new, |t| t.acceptance_rates())
    }

    #[wasm_bindgen(getter, js_name = aisRunning)]
    pub fn ais_running(&self) -> bool {
        self.ais.is_some()
    }

    /// The running estimate's fraction done (0 when none runs).
    #[wasm_bindgen(getter, js_name = aisProgress)]
    pub fn ais_progress(&self) -> f64 {
        self.ais.as_ref().map_or(0.0, |(job, _, _)| job.progress())
    }

    /// Works about `flop_budget` operations on the AIS estimate; when it finishes,
    /// returns `{step, log_partition, standard_error, low, high, runs, temperatures,
    /// log_likelihood_train, log_likelihood_held_out}` (the means over up to 1,000
    /// training rows and the held-out set, their error that of log Z) and clears it.
    #[wasm_bindgen(js_name = advanceAis)]
    pub fn advance_ais(&mut self, flop_budget: f64) -> Result<JsValue, JsError> {
        let Some((job, _, away)) = self.ais.as_mut() else {
            return Err(JsError::new("no AIS estimate is under way"));
        };
        if *away {
            return Err(JsError::new(
                "the AIS estimate is computed by another worker (aisHere takes it back)",
            ));
        }
        if !job.advance(flop_budget) {
            return Ok(JsValue::UNDEFINED);
        }
        let estimate = job.result().expect("finished");
        self.finish_ais(estimate)
    }
}

impl JsTrainer {
    /// The point of a finished AIS estimate: its log Z with the mean log-likelihoods of
    /// the training subset and the held-out set under the model it was run on.
    fn finish_ais(&mut self, estimate: ais::AisEstimate) -> Result<JsValue, JsError> {
        let Some((job, step, _)) = self.ais.as_ref() else {
            return Err(JsError::new("no AIS estimate is under way"));
        };
        let step = *step;
        // The free energies of the model whose log Z was estimated, not of the model
        // training has moved on to since the estimate started.
        let model = job.model();
        let data = self.inner.data();
        let rows = data.rows().min(AIS_TRAIN_ROWS);
        let subset = Matrix::from_vec(
            rows,
            data.cols(),
            data.as_slice()[..rows * data.cols()].to_vec(),
        )
        .ok_or_else(|| JsError::new("training subset"))?;
        let (train, _) = ais::mean_log_likelihood(model, &subset, &estimate).map_err(js_error)?;
        let held_out = match self.held_out.as_deref().filter(|h| h.rows() > 0) {
            Some(h) => Some(
                ais::mean_log_likelihood(model, h, &estimate)
                    .map_err(js_error)?
                    .0,
            ),
            None => None,
        };
        #[derive(serde::Serialize)]
        struct Point {
            step: f64,
            #[serde(flatten)]
            estimate: ais::AisEstimate,
            log_likelihood_train: f64,
            log_likelihood_held_out: Option<f64>,
        }
        self.ais = None;
        to_js(&Point {
            step,
            estimate,
            log_likelihood_train: train,
            log_likelihood_held_out: held_out,
        })
    }
}

#[wasm_bindgen(js_class = Trainer)]
impl JsTrainer {
    /// Starts the exact `p_β(v)` of every visible state (at most 16 visible units) on
    /// a snapshot of the current model, computed by `advanceDistribution`.
    #[wasm_bindgen(js_name = startDistribution)]
    pub fn start_distribution(&mut self, beta: f32) -> Result<(), JsError> {
        self.check_distribution(beta)?;
        self.distribution =
            Some(VisibleDistributionJob::new(self.inner.model().clone(), beta).map_err(js_error)?);
        Ok(())
    }

    /// Works about `flop_budget` operations on the exact p(v); when done, returns it
    /// (bit i of the index is pixel i) and clears it, else undefined.
    #[wasm_bindgen(js_name = advanceDistribution)]
    pub fn advance_distribution(&mut self, flop_budget: f64) -> Result<Option<Vec<f64>>, JsError> {
        let Some(job) = self.distribution.as_mut() else {
            return Err(JsError::new("no exact distribution is under way"));
        };
        if !job.advance(flop_budget) {
            return Ok(None);
        }
        let p = job.result();
        self.distribution = None;
        Ok(p)
    }

    /// The exact `p_β(v)` of every visible state at once (bit i of the index is pixel i).
    #[wasm_bindgen(js_name = visibleDistribution)]
    pub fn visible_distribution(&self, beta: f32) -> Result<Vec<f64>, JsError> {
        self.check_distribution(beta)?;
        exact::visible_distribution(self.inner.model(), beta).map_err(js_error)
    }
}

/// AIS points average the training set's log p(v) over its first rows only (the
/// held-out set is used whole), like the learning curves' other estimates.
const AIS_TRAIN_ROWS: usize = 1000;

/// The page shows the exact distribution next to the chains up to 2^16 states.
const MAX_DISTRIBUTION_UNITS: usize = 16;

/// Pictures ranked against the data: at most this many training pictures (the first).
const PLACEMENT_ROWS: usize = 1000;
/// `log Z` for a placement is enumerated in place only up to this many softplus terms;
/// up to [`SHARED_ENUMERATION`] the lab's worker computes it in slices, shared with its
/// helpers (`logPartitionJob`).
const PLACEMENT_ENUMERATION: f64 = (1u64 << 24) as f64;
/// 2^30: 784 x 20 (2^29.6) and anything smaller, about 0.6 s in one worker here.
const SHARED_ENUMERATION: f64 = (1u64 << 30) as f64;

/// Using the model on pictures (the "use the model" panel): pictures from the data,
/// completion, denoising and placement, all with the trainer's current model.
#[wasm_bindgen(js_class = Trainer)]
impl JsTrainer {
    /// Picture `index` (wrapped) of the held-out set, or of the training set when
    /// `held_out` is false or there is none; `{pixels, heldOut, index}`.
    pub fn picture(&self, held_out: bool, index: f64) -> Result<JsValue, JsError> {
        #[derive(serde::Serialize)]
        struct Picture {
            pixels: Vec<f32>,
            #[serde(rename = "heldOut")]
            held_out: bool,
            index: usize,
        }
        let (set, from_held_out) = match (self.held_out.as_deref(), held_out) {
            (Some(h), true) if h.rows() > 0 => (h, true),
            _ => (self.inner.data(), false),
        };
        let index = crate::size::from_js_number(index.abs().floor()).unwrap_or(0) % set.rows();
        to_js(&Picture {
            pixels: set.row(index).to_vec(),
            held_out: from_held_out,
            index,
        })
    }

    /// A look inside the model at `visible` (0/1 pixels): `{hidden, reconstruction}`,
    /// the hidden units' `p(h | v)` and the mean-field reconstruction `p(v | h = p(h | v))`.
    pub fn inspect(&self, visible: &[f32]) -> Result<JsValue, JsError> {
        #[derive(serde::Serialize)]
        struct Inside {
            hidden: Vec<f32>,
            reconstruction: Vec<f32>,
        }
        let model = self.inner.model();
        let m = model.n_visible();
        if visible.len() != m {
            return Err(js_error(RbmError::Shape(format!(
                "{} pixels, but the model has {m} visible units",
                visible.len()
            ))));
        }
        let v = Matrix::from_vec(1, m, visible.to_vec()).ok_or_else(|| JsError::new("picture"))?;
        let mut h = Matrix::zeros(1, model.n_hidden());
        let mut r = Matrix::zeros(1, m);
        model
            .prob_hidden_given_visible(&v, 1.0, &mut h)
            .map_err(js_error)?;
        model
            .prob_visible_given_hidden(&h, 1.0, &mut r)
            .map_err(js_error)?;
        to_js(&Inside {
            hidden: h.as_slice().to_vec(),
            reconstruction: r.as_slice().to_vec(),
        })
    }

    /// The first `count` held-out pictures (training ones without a held-out set) and
    /// their mean-field reconstructions: `{pictures, reconstructions}`, count x pixels each.
    pub fn reconstructions(&self, count: f64) -> Result<JsValue, JsError> {
        #[derive(serde::Serialize)]
        struct Pairs {
            pictures: Vec<f32>,
            reconstructions: Vec<f32>,
        }
        let set = match &self.held_out {
            Some(h) if h.rows() > 0 => h,
            _ => self.inner.data(),
        };
        let count = count_in("pictures", count, 1, 64)?.min(set.rows());
        let pictures = monitor::first_rows(set, count);
        let model = self.inner.model();
        let mut h = Matrix::zeros(count, model.n_hidden());
        let mut r = Matrix::zeros(count, model.n_visible());
        model
            .prob_hidden_given_visible(&pictures, 1.0, &mut h)
            .map_err(js_error)?;
        model
            .prob_visible_given_hidden(&h, 1.0, &mut r)
            .map_err(js_error)?;
        to_js(&Pairs {
            pictures: pictures.as_slice().to_vec(),
            reconstructions: r.as_slice().to_vec(),
        })
    }

    /// The mask (1 known, 0 hidden) that hides `half` ("top", "bottom", "left", "right").
    #[wasm_bindgen(js_name = halfMask)]
    pub fn half_mask(&self, half: &str) -> Result<Vec<u8>, JsError> {
        let half = inference::Half::parse(half).map_err(js_error)?;
        let (rows, cols) = self.image_shape;
        Ok(inference::half_mask(rows, cols, half)
            .into_iter()
            .map(u8::from)
            .collect())
    }

    /// Starts filling in the pixels of `image` where `known` is 0, with `chains` clamped
    /// Gibbs chains; the estimate averages the steps after `record_from`.
    #[wasm_bindgen(js_name = startCompletion)]
    pub fn start_completion(
        &mut self,
        image: &[f32],
        known: &[u8],
        chains: f64,
        record_from: f64,
        seed: u32,
    ) -> Result<(), JsError> {
        let chains = count("completion_chains", chains)?;
        let record_from = count("completion_steps", record_from.max(1.0))?;
        let m = self.inner.model().n_visible();
        let images = Matrix::from_vec(1, image.len(), image.to_vec())
            .ok_or_else(|| JsError::new("picture"))?;
        if image.len() != m {
            return Err(js_error(RbmError::Shape(format!(
                "the drawing has {} pixels but the model has {m} visible units",
                image.len()
            ))));
        }
        let known: Vec<bool> = known.iter().map(|&k| k != 0).collect();
        let mut rng = rng::seeded(u64::from(seed));
        let completion = Completion::new(
            self.inner.model(),
            &images,
            &known,
            chains,
            record_from,
            &mut rng,
        )
        .map_err(js_error)?;
        self.completion = Some((completion, rng));
        Ok(())
    }

    /// `steps` more clamped Gibbs steps of the completion under the current model.
    #[wasm_bindgen(js_name = advanceCompletion)]
    pub fn advance_completion(&mut self, steps: f64, beta: f32) -> Result<(), JsError> {
        let steps = count("completion_steps", steps)?;
        check_beta(beta)?;
        let Some((completion, rng)) = self.completion.as_mut() else {
            return Err(JsError::new("no completion is under way"));
        };
        completion
            .run(self.inner.model(), steps, beta, rng)
            .map_err(js_error)
    }

    /// The completion's chains (chains x pixels) and its estimate (pixels), as copies:
    /// `{states, mean, steps, chains}`.
    #[wasm_bindgen(js_name = completionState)]
    pub fn completion_state(&self) -> Result<JsValue, JsError> {
        #[derive(serde::Serialize)]
        struct State {
            states: Vec<f32>,
            mean: Vec<f32>,
            steps: usize,
            chains: usize,
        }
        let Some((completion, _)) = self.completion.as_ref() else {
            return Err(JsError::new("no completion is under way"));
        };
        to_js(&State {
            states: completion.states().as_slice().to_vec(),
            mean: completion.mean().as_slice().to_vec(),
            steps: completion.steps(),
            chains: completion.chains_per_picture(),
        })
    }

    /// Mean-field completion of the pixels of `image` where `known` is 0: `iterations`
    /// updates; every pixel's value (known ones as given, hidden ones probabilities).
    #[wasm_bindgen(js_name = meanFieldCompletion)]
    pub fn mean_field_completion(
        &self,
        image: &[f32],
        known: &[u8],
        iterations: f64,
    ) -> Result<Vec<f32>, JsError> {
        let iterations = count("completion_steps", iterations)?;
        let known: Vec<bool> = known.iter().map(|&k| k != 0).collect();
        let hidden = known.iter().filter(|&&k| !k).count();
        if hidden == 0 || hidden == known.len() {
            // The same refusals as the sampler's.
            let images = Matrix::from_vec(1, image.len(), image.to_vec())
                .ok_or_else(|| JsError::new("picture"))?;
            Completion::new(
                self.inner.model(),
                &images,
                &known,
                1,
                0,
                &mut rng::seeded(0),
            )
            .map_err(js_error)?;
        }
        inference::mean_field(self.inner.model(), image, &known, iterations).map_err(js_error)
    }

    /// `image` with `fraction` of its pixels flipped (exactly that many, at random).
    #[wasm_bindgen(js_name = flipPixels)]
    pub fn flip_pixels(
        &self,
        image: &[f32],
        fraction: f64,
        seed: u32,
    ) -> Result<Vec<f32>, JsError> {
        inference::flip_pixels(image, fraction, &mut rng::seeded(u64::from(seed))).map_err(js_error)
    }

    /// `noisy` cleaned, knowing each pixel was flipped with probability `flip_rate`;
    /// `method` is "meanfield" or "anneal". Returns each pixel's probability.
    pub fn denoise(
        &self,
        noisy: &[f32],
        flip_rate: f64,
        method: &str,
        seed: u32,
    ) -> Result<Vec<f32>, JsError> {
        let method = match method {
            "meanfield" => Denoise::MeanField { iterations: 10 },
            "anneal" => Denoise::Annealed {
                chains: 8,
                steps: 30,
                final_beta: 3.0,
            },
            other => {
                return Err(js_error(RbmError::setting(
                    "denoising method",
                    other,
                    "\"meanfield\" or \"anneal\"",
                )))
            }
        };
        inference::denoise(
            self.inner.model(),
            noisy,
            flip_rate,
            method,
            &mut rng::seeded(u64::from(seed)),
        )
        .map_err(js_error)
    }

    /// Exact `log Z` of the current model as a job of pieces, for the lab's worker and
    /// its helpers to share (`LogPartitionJob`); throws for a model whose smaller layer
    /// is too large to enumerate in about a second.
    #[wasm_bindgen(js_name = logPartitionJob)]
    pub fn log_partition_job(&self) -> Result<JsLogPartitionJob, JsError> {
        let model = self.inner.model();
        let small = model.n_visible().min(model.n_hidden());
        if monitor::enumeration_cost(model) > SHARED_ENUMERATION {
            return Err(JsError::new(&format!(
                "exact log Z would need all 2^{small} states of the smaller layer"
            )));
        }
        JsLogPartitionJob::new(model.clone(), 1.0)
    }

    /// Where `image` stands among the first training pictures and the held-out ones
    /// (see `inference::Placement`).
    pub fn place(&self, image: &[f32]) -> Result<JsValue, JsError> {
        let train = monitor::first_rows(self.inner.data(), PLACEMENT_ROWS);
        let placement = inference::place(
            self.inner.model(),
            image,
            &train,
            self.held_out.as_deref(),
            PLACEMENT_ENUMERATION,
        )
        .map_err(js_error)?;
        to_js(&placement)
    }
}

impl JsTrainer {
    /// β in range and a visible layer small enough for the exact p(v) of every state.
    fn check_distribution(&self, beta: f32) -> Result<(), JsError> {
        check_beta(beta)?;
        let m = self.inner.model().n_visible();
        if m > MAX_DISTRIBUTION_UNITS {
            return Err(js_error(RbmError::setting(
                "visible units for the exact distribution",
                m,
                format!("at most {MAX_DISTRIBUTION_UNITS}"),
            )));
        }
        Ok(())
    }
}

/// Settings from a plain object, read as JSON would take them: the object goes through
/// the browser's `JSON.stringify` (getters run once, keys whose value is `undefined`
/// drop out, BigInts and cycles are refused), then [`settings_from_json`].
fn parse_config(config: JsValue) -> Result<TrainConfig, JsError> {
    if config.is_undefined() || config.is_null() {
        return Ok(TrainConfig::default());
    }
    let text = js_sys::JSON::stringify(&config)
        .ok()
        .and_then(|text| JsValue::from(text).as_string())
        .ok_or_else(|| JsError::new("training settings: not a plain object"))?;
    settings_from_json(&text).map_err(|e| JsError::new(&format!("training settings: {e}")))
}

/// Settings from JSON text, by the browser's `JSON.parse` and serde-wasm-bindgen (the
/// `lab` module carries no JSON library). A key that is not a setting is refused, as
/// `TrainConfig`'s `deny_unknown_fields` makes serde_json do: serde-wasm-bindgen's
/// reader looks up only the fields it knows, and a misspelt setting must not be
/// ignored. Whole numbers beyond 2^53 are refused (a JS number cannot hold them).
fn settings_from_json(text: &str) -> Result<TrainConfig, String> {
    let value = js_sys::JSON::parse(text).map_err(|_| "not JSON".to_string())?;
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err("not a plain object".into());
    }
    // A fresh object from JSON.parse: no getters, no prototype tricks.
    let fields = field_names::<TrainConfig>();
    for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !fields.contains(&key.as_str()) {
            return Err(
                <serde_wasm_bindgen::Error as serde::de::Error>::unknown_field(&key, fields)
                    .to_string(),
            );
        }
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// The field names serde reads for the struct `T`, found by asking `T` to read itself
/// from a reader that only notes the names it is given.
fn field_names<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{value::Error, Error as _, Visitor};
    struct Names<'a>(&'a core::cell::Cell<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for Names<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            self.0.set(fields);
            Err(Error::custom("names only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let names = core::cell::Cell::new(&[][..]);
    let _ = T::deserialize(Names(&names));
    names.get()
}

/// How the `lab` module writes and reads the settings inside a run's snapshot: as JSON
/// text, through the browser's JSON (the module has no JSON library of its own; see
/// `mod.rs`). `f32` settings are written with the digits of their `f64` value, which
/// read back as the same `f32` here and natively.
const BROWSER_JSON: SettingsText = SettingsText {
    write: |config| {
        let value = to_js(config).map_err(|_| snapshot::bad("the settings cannot be written"))?;
        js_sys::JSON::stringify(&value)
            .map(|text| String::from(text).into_bytes())
            .map_err(|_| snapshot::bad("the settings cannot be written"))
    },
    read: |bytes| {
        settings_from_json(std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?)
    },
};

/// Block-Gibbs chains of a fixed model, for watching samples.
#[wasm_bindgen(js_name = Chains)]
pub struct JsChains {
    model: Rbm,
    chains: GibbsChains,
    rng: Rng,
}

impl JsChains {
    fn with_model(model: Rbm, count: f64, seed: u32) -> Result<JsChains, JsError> {
        let count = limits::engine_count("chains", count).map_err(js_error)?;
        let mut rng = rng::seeded(u64::from(seed));
        let chains = GibbsChains::random(&model, count, &mut rng);
        Ok(JsChains { model, chains, rng })
    }

    /// The chains' states only make sense under a model with the same layer sizes.
    fn check_sizes(&self, model: &Rbm, what: &str) -> Result<(), JsError> {
        if model.n_visible() == self.model.n_visible() && model.n_hidden() == self.model.n_hidden()
        {
            Ok(())
        } else {
            Err(js_error(RbmError::Shape(format!(
                "{what} has other layer sizes than the chains"
            ))))
        }
    }
}

#[wasm_bindgen(js_class = Chains)]
impl JsChains {
    /// `count` chains (a whole number, 1 to 10,000) of `model` from uniform noise, with
    /// their own seed.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &JsRbm, count: f64, seed: u32) -> Result<JsChains, JsError> {
        JsChains::with_model(model.file.model.clone(), count, seed)
    }

    /// `count` chains from uniform noise, sampling the trainer's current model.
    #[wasm_bindgen(js_name = forTrainer)]
    pub fn for_trainer(trainer: &JsTrainer, count: f64, seed: u32) -> Result<JsChains, JsError> {
        JsChains::with_model(trainer.inner.model().clone(), count, seed)
    }

    /// The chains' states and generator as bytes (see `snapshot.rs`).
    pub fn snapshot(&self) -> Result<Vec<u8>, JsError> {
        snapshot::chains_to_bytes(&self.chains, &self.rng).map_err(js_error)
    }

    /// Replaces the states and generator with saved ones (for a model of the same sizes).
    #[wasm_bindgen(js_name = restoreSnapshot)]
    pub fn restore_snapshot(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let (chains, rng) =
            snapshot::chains_from_bytes(bytes, self.model.n_visible(), self.model.n_hidden())
                .map_err(js_error)?;
        self.chains = chains;
        self.rng = rng;
        Ok(())
    }

    /// Restarts every chain from uniform noise.
    #[wasm_bindgen(js_name = restartFromNoise)]
    pub fn restart_from_noise(&mut self) {
        self.chains = GibbsChains::random(&self.model, self.chains.len(), &mut self.rng);
    }

    /// Restarts every chain from a random row of `data`.
    #[wasm_bindgen(js_name = restartFromData)]
    pub fn restart_from_data(&mut self, data: &JsDataset) -> Result<(), JsError> {
        let (count, m) = (self.chains.len(), self.model.n_visible());
        let images = &data.images;
        if images.cols() != m || images.rows() == 0 {
            return Err(js_error(RbmError::Shape(format!(
                "chains of {m} visible units cannot start from images of {} pixels",
                images.cols()
            ))));
        }
        let mut start = Matrix::zeros(count, m);
        for r in 0..count {
            let pick = rng::index(&mut self.rng, images.rows());
            start.row_mut(r).copy_from_slice(images.row(pick));
        }
        self.chains = GibbsChains::from_visible(&self.model, start).map_err(js_error)?;
        Ok(())
    }

    /// The free energy `F_β(v)` of each chain's visible state under the trainer's model.
    #[wasm_bindgen(js_name = freeEnergies)]
    pub fn free_energies(&self, trainer: &JsTrainer, beta: f32) -> Result<Vec<f64>, JsError> {
        check_beta(beta)?;
        trainer
            .inner
            .model()
            .free_energy(&self.chains.visible, beta)
            .map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = nVisible)]
    pub fn n_visible(&self) -> usize {
        self.model.n_visible()
    }

    /// Replaces the model the chains sample from, keeping their states.
    #[wasm_bindgen(js_name = setModel)]
    pub fn set_model(&mut self, model: &JsRbm) -> Result<(), JsError> {
        self.check_sizes(&model.file.model, "the new model")?;
        self.model = model.file.model.clone();
        Ok(())
    }

    /// `steps` block-Gibbs steps (a whole number, 1 to 100,000) at inverse temperature
    /// `beta` (0 to 10).
    pub fn step(&mut self, steps: f64, beta: f32) -> Result<(), JsError> {
        let steps = count("steps_per_frame", steps)?;
        check_beta(beta)?;
        self.chains.run(&self.model, steps, beta, &mut self.rng);
        Ok(())
    }

    /// `steps` block-Gibbs steps under the trainer's current model, without copying it:
    /// the chains follow the model as it learns.
    #[wasm_bindgen(js_name = stepWith)]
    pub fn step_with(&mut self, trainer: &JsTrainer, steps: f64, beta: f32) -> Result<(), JsError> {
        let steps = count("steps_per_frame", steps)?;
        let model = trainer.inner.model();
        self.check_sizes(model, "the trainer's model")?;
        check_beta(beta)?;
        self.chains.run(model, steps, beta, &mut self.rng);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.chains.len()
    }

    #[wasm_bindgen(js_name = isEmpty)]
    pub fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }

    /// Start of the visible states (len x n_visible f32, each 0 or 1).
    #[wasm_bindgen(js_name = visiblePtr)]
    pub fn visible_ptr(&self) -> *const f32 {
        self.chains.visible.as_slice().as_ptr()
    }

    /// Start of `p(v | h)` from the last step (len x n_visible f32).
    #[wasm_bindgen(js_name = visibleProbPtr)]
    pub fn visible_prob_ptr(&self) -> *const f32 {
        self.chains.visible_prob.as_slice().as_ptr()
    }
}
