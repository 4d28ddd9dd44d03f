//! The boundary with JavaScript: the only module that uses wasm-bindgen, js-sys or web-sys.
//!
//! Each exported class owns core state behind an opaque handle. Large buffers
//! (samples, probabilities, weights) are read from JS as views into wasm memory
//! through the `*_ptr` methods and the instance's exported `memory` (what the
//! generated `init()` resolves to); small results come back as
//! plain objects through serde-wasm-bindgen. Every fallible call returns
//! `Result<_, JsError>`, so a bad input becomes a JS exception carrying the core's
//! message; nothing here can panic on user input.

use wasm_bindgen::prelude::*;

use crate::data::{self, Dataset};
use crate::error::RbmError;
use crate::exact;
use crate::linalg::Matrix;
use crate::model::{GibbsChains, Rbm};
use crate::modelfile::{self, ModelFile};
use crate::monitor;
use crate::rng::{self, Rng};
use crate::train::{TrainConfig, Trainer};

fn js_error(error: RbmError) -> JsError {
    JsError::new(&error.to_string())
}

fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(value).map_err(|e| JsError::new(&e.to_string()))
}

/// A set of binary images.
#[wasm_bindgen(js_name = Dataset)]
pub struct JsDataset {
    inner: Dataset,
}

#[wasm_bindgen(js_class = Dataset)]
impl JsDataset {
    /// Every distinct `side x side` bars-and-stripes image.
    #[wasm_bindgen(js_name = barsAndStripes)]
    pub fn bars_and_stripes(side: usize) -> Result<JsDataset, JsError> {
        data::bars_and_stripes(side)
            .map(|inner| JsDataset { inner })
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
        Ok(JsDataset { inner })
    }

    /// Rows of 0/1 pixels (`count * rows * cols` values, each 0 or 1).
    #[wasm_bindgen(js_name = fromPixels)]
    pub fn from_pixels(pixels: &[f32], rows: usize, cols: usize) -> Result<JsDataset, JsError> {
        let pixels_per_image = rows.checked_mul(cols).unwrap_or(0);
        if pixels_per_image == 0 || pixels.is_empty() || pixels.len() % pixels_per_image != 0 {
            return Err(js_error(RbmError::Data(format!(
                "{} pixel values do not make whole {rows} x {cols} images",
                pixels.len()
            ))));
        }
        if let Some(i) = pixels.iter().position(|&p| p != 0.0 && p != 1.0) {
            return Err(js_error(RbmError::Data(format!(
                "pixel {i} is {}, expected 0 or 1",
                pixels[i]
            ))));
        }
        let images = Matrix::from_vec(
            pixels.len() / pixels_per_image,
            pixels_per_image,
            pixels.to_vec(),
        )
        .ok_or_else(|| JsError::new("pixel count mismatch"))?;
        Ok(JsDataset {
            inner: Dataset {
                images,
                labels: None,
                image_shape: (rows, cols),
            },
        })
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    #[wasm_bindgen(js_name = isEmpty)]
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> usize {
        self.inner.image_shape.0
    }

    #[wasm_bindgen(getter)]
    pub fn cols(&self) -> usize {
        self.inner.image_shape.1
    }

    /// Start of the pixel buffer (`len * rows * cols` f32, row-major, one image per row).
    #[wasm_bindgen(js_name = pixelsPtr)]
    pub fn pixels_ptr(&self) -> *const f32 {
        self.inner.images.as_slice().as_ptr()
    }
}

/// An RBM model: parameters and exact quantities.
#[wasm_bindgen(js_name = Rbm)]
pub struct JsRbm {
    file: ModelFile,
}

#[wasm_bindgen(js_class = Rbm)]
impl JsRbm {
    /// Loads a model file (JSON text); throws with the file's problem.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(text: &str) -> Result<JsRbm, JsError> {
        modelfile::from_json(text)
            .map(|file| JsRbm { file })
            .map_err(js_error)
    }

    /// The model file as JSON text.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> Result<String, JsError> {
        modelfile::to_json(&self.file).map_err(js_error)
    }

    #[wasm_bindgen(getter, js_name = nVisible)]
    pub fn n_visible(&self) -> usize {
        self.file.model.n_visible()
    }

    #[wasm_bindgen(getter, js_name = nHidden)]
    pub fn n_hidden(&self) -> usize {
        self.file.model.n_hidden()
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

    /// Exact `log Z(β)`; throws when both layers exceed 20 units.
    #[wasm_bindgen(js_name = logPartition)]
    pub fn log_partition(&self, beta: f32) -> Result<f64, JsError> {
        exact::log_partition(&self.file.model, beta).map_err(js_error)
    }

    /// Exact mean `log p(v)` over a data set.
    #[wasm_bindgen(js_name = meanLogLikelihood)]
    pub fn mean_log_likelihood(&self, dataset: &JsDataset) -> Result<f64, JsError> {
        exact::mean_log_likelihood(&self.file.model, &dataset.inner.images).map_err(js_error)
    }

    /// Free energy `F_β(v)` of each image in `visible` (a whole number of rows).
    #[wasm_bindgen(js_name = freeEnergy)]
    pub fn free_energy(&self, visible: &[f32], beta: f32) -> Result<Vec<f64>, JsError> {
        let rows = self.rows_of(visible)?;
        self.file.model.free_energy(&rows, beta).map_err(js_error)
    }

    /// `p_β(h = 1 | v)` for each row of `visible`, as a new array (rows x n_hidden).
    #[wasm_bindgen(js_name = probHiddenGivenVisible)]
    pub fn prob_hidden_given_visible(
        &self,
        visible: &[f32],
        beta: f32,
    ) -> Result<Vec<f32>, JsError> {
        let rows = self.rows_of(visible)?;
        let mut out = Matrix::zeros(rows.rows(), self.file.model.n_hidden());
        self.file
            .model
            .prob_hidden_given_visible(&rows, beta, &mut out)
            .map_err(js_error)?;
        Ok(out.as_slice().to_vec())
    }

    fn rows_of(&self, values: &[f32]) -> Result<Matrix, JsError> {
        let m = self.file.model.n_visible();
        if values.is_empty() || values.len() % m != 0 {
            return Err(js_error(RbmError::Shape(format!(
                "{} values are not whole rows of {m} visible units",
                values.len()
            ))));
        }
        Matrix::from_vec(values.len() / m, m, values.to_vec())
            .ok_or_else(|| JsError::new("row count mismatch"))
    }
}

/// Training: a model, its optimiser and its sampler, on one data set.
#[wasm_bindgen(js_name = Trainer)]
pub struct JsTrainer {
    inner: Trainer,
    image_shape: (usize, usize),
    /// Draws for the stochastic pseudo-log-likelihood, apart from training's stream.
    evaluation_rng: Rng,
}

/// Seeds the evaluation stream from the training seed, so a run's curves repeat too.
fn evaluation_rng(trainer: &Trainer) -> Rng {
    rng::seeded(trainer.config().seed ^ 0x9e37_79b9_7f4a_7c15)
}

#[wasm_bindgen(js_class = Trainer)]
impl JsTrainer {
    /// `config` is a plain object with any of: n_hidden, algorithm ("exact", "gibbs",
    /// "cd", "pcd"), k, learning_rate, momentum, weight_decay, batch_size,
    /// persistent_chains, seed. Missing fields take their defaults; a bad value throws.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, dataset: &JsDataset) -> Result<JsTrainer, JsError> {
        let config = parse_config(config)?;
        let inner = Trainer::new(config, &dataset.inner.images).map_err(js_error)?;
        Ok(JsTrainer {
            evaluation_rng: evaluation_rng(&inner),
            inner,
            image_shape: dataset.inner.image_shape,
        })
    }

    /// Continues training `model` on `dataset` with `config` (n_hidden comes from the model).
    pub fn resume(
        config: JsValue,
        model: &JsRbm,
        dataset: &JsDataset,
    ) -> Result<JsTrainer, JsError> {
        let config = parse_config(config)?;
        let inner = Trainer::resume(config, model.file.model.clone(), &dataset.inner.images)
            .map_err(js_error)?;
        Ok(JsTrainer {
            evaluation_rng: evaluation_rng(&inner),
            inner,
            image_shape: dataset.inner.image_shape,
        })
    }

    /// One update; returns `{step, epoch, reconstruction_error, update_ratio, wall_time_ms}`.
    /// Throws on divergence, leaving the last good model in place.
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        let stats = self.inner.step(&now_ms).map_err(js_error)?;
        to_js(&stats)
    }

    /// `count` updates (at least one); returns the last one's stats with the
    /// reconstruction error averaged over them and the total wall time.
    pub fn steps(&mut self, count: u32) -> Result<JsValue, JsError> {
        let mut total_error = 0.0;
        let mut total_time = 0.0;
        let mut last = None;
        for _ in 0..count.max(1) {
            let stats = self.inner.step(&now_ms).map_err(js_error)?;
            total_error += stats.reconstruction_error;
            total_time += stats.wall_time_ms;
            last = Some(stats);
        }
        let mut last = last.ok_or_else(|| JsError::new("no step was run"))?;
        last.reconstruction_error = total_error / f64::from(count.max(1));
        last.wall_time_ms = total_time;
        to_js(&last)
    }

    #[wasm_bindgen(getter, js_name = stepsDone)]
    pub fn steps_done(&self) -> f64 {
        self.inner.steps_done() as f64
    }

    #[wasm_bindgen(getter, js_name = stepsPerEpoch)]
    pub fn steps_per_epoch(&self) -> usize {
        self.inner.steps_per_epoch()
    }

    /// A copy of the current model, with the image shape and the training settings.
    pub fn model(&self) -> Result<JsRbm, JsError> {
        let training = serde_json::json!({
            "config": self.inner.config(),
            "steps_done": self.inner.steps_done(),
        });
        Ok(JsRbm {
            file: ModelFile {
                model: self.inner.model().clone(),
                image_shape: Some(self.image_shape),
                training: Some(training),
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
        exact::mean_log_likelihood(self.inner.model(), &dataset.inner.images).map_err(js_error)
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

    /// One point of each learning curve on the training set `train`:
    /// `{pseudo_log_likelihood, log_likelihood_train, log_likelihood_held_out,
    /// free_energy_gap, exact_unavailable}` (the held-out ones null).
    pub fn evaluate(&mut self, train: &JsDataset) -> Result<JsValue, JsError> {
        self.evaluate_on(train, None)
    }

    /// As `evaluate`, with a held-out set for its log-likelihood and the free-energy gap.
    #[wasm_bindgen(js_name = evaluateWithHeldOut)]
    pub fn evaluate_with_held_out(
        &mut self,
        train: &JsDataset,
        held_out: &JsDataset,
    ) -> Result<JsValue, JsError> {
        self.evaluate_on(train, Some(held_out))
    }

    fn evaluate_on(
        &mut self,
        train: &JsDataset,
        held_out: Option<&JsDataset>,
    ) -> Result<JsValue, JsError> {
        let held_out = held_out.map(|h| &h.inner.images);
        let evaluation = monitor::evaluate(
            self.inner.model(),
            &train.inner.images,
            held_out,
            &mut self.evaluation_rng,
        )
        .map_err(js_error)?;
        to_js(&evaluation)
    }

    /// Mean `p(h_j = 1 | v)` of each hidden unit over the first 1,000 rows of `dataset`.
    #[wasm_bindgen(js_name = hiddenMeanActivation)]
    pub fn hidden_mean_activation(&self, dataset: &JsDataset) -> Result<Vec<f32>, JsError> {
        let rows = monitor::first_rows(&dataset.inner.images, monitor::EVALUATION_ROWS);
        monitor::hidden_mean_activation(self.inner.model(), &rows).map_err(js_error)
    }

    /// The exact `p_β(v)` of every visible state (bit i of the index is pixel i);
    /// at most 16 visible units, so the page can afford it every frame.
    #[wasm_bindgen(js_name = visibleDistribution)]
    pub fn visible_distribution(&self, beta: f32) -> Result<Vec<f64>, JsError> {
        let m = self.inner.model().n_visible();
        if m > MAX_DISTRIBUTION_UNITS {
            return Err(js_error(RbmError::setting(
                "visible units for the exact distribution",
                m,
                format!("at most {MAX_DISTRIBUTION_UNITS}"),
            )));
        }
        exact::visible_distribution(self.inner.model(), beta).map_err(js_error)
    }
}

/// The page shows the exact distribution next to the chains up to 2^16 states.
const MAX_DISTRIBUTION_UNITS: usize = 16;

/// Settings go through JSON text rather than serde-wasm-bindgen's object reader, which
/// skips unknown keys: a misspelt setting must be an error, not silently ignored.
fn parse_config(config: JsValue) -> Result<TrainConfig, JsError> {
    if config.is_undefined() || config.is_null() {
        return Ok(TrainConfig::default());
    }
    let text: String = js_sys::JSON::stringify(&config)
        .map_err(|_| JsError::new("training settings: not a plain object"))?
        .into();
    serde_json::from_str(&text).map_err(|e| JsError::new(&format!("training settings: {e}")))
}

fn check_beta(beta: f32) -> Result<(), JsError> {
    if (0.0..=10.0).contains(&beta) {
        Ok(())
    } else {
        Err(js_error(RbmError::setting(
            "beta",
            beta,
            "between 0 and 10",
        )))
    }
}

/// Block-Gibbs chains of a fixed model, for watching samples.
#[wasm_bindgen(js_name = Chains)]
pub struct JsChains {
    model: Rbm,
    chains: GibbsChains,
    rng: Rng,
}

impl JsChains {
    fn with_model(model: Rbm, count: usize, seed: u32) -> Result<JsChains, JsError> {
        if !(1..=crate::train::MAX_CHAINS).contains(&count) {
            return Err(js_error(RbmError::setting(
                "chain count",
                count,
                format!("between 1 and {}", crate::train::MAX_CHAINS),
            )));
        }
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
    /// `count` chains (1 to 10,000) of `model` from uniform noise, with their own seed.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &JsRbm, count: usize, seed: u32) -> Result<JsChains, JsError> {
        JsChains::with_model(model.file.model.clone(), count, seed)
    }

    /// `count` chains from uniform noise, sampling the trainer's current model.
    #[wasm_bindgen(js_name = forTrainer)]
    pub fn for_trainer(trainer: &JsTrainer, count: usize, seed: u32) -> Result<JsChains, JsError> {
        JsChains::with_model(trainer.inner.model().clone(), count, seed)
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
        let images = &data.inner.images;
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

    /// `steps` block-Gibbs steps at inverse temperature `beta` (0 to 10).
    pub fn step(&mut self, steps: u32, beta: f32) -> Result<(), JsError> {
        check_beta(beta)?;
        self.chains
            .run(&self.model, steps as usize, beta, &mut self.rng);
        Ok(())
    }

    /// `steps` block-Gibbs steps under the trainer's current model, without copying it:
    /// the chains follow the model as it learns.
    #[wasm_bindgen(js_name = stepWith)]
    pub fn step_with(&mut self, trainer: &JsTrainer, steps: u32, beta: f32) -> Result<(), JsError> {
        let model = trainer.inner.model();
        self.check_sizes(model, "the trainer's model")?;
        check_beta(beta)?;
        self.chains.run(model, steps as usize, beta, &mut self.rng);
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
