//! The boundary with JavaScript: the only module that uses wasm-bindgen, js-sys or web-sys.
//!
//! Each exported class owns core state behind an opaque handle. Large buffers
//! (samples, probabilities, weights) are read from JS as views into wasm memory
//! through the `*Ptr` methods and the instance's exported `memory` (what the
//! generated `init()` resolves to); small results come back as plain objects through
//! serde-wasm-bindgen. Every fallible call returns `Result<_, JsError>`, so a bad
//! input becomes a JS exception carrying the core's message.
//!
//! Numbers that are counts arrive as `f64` and go through [`crate::limits::engine_count`]:
//! wasm-bindgen would otherwise truncate 1.7 to 1 and wrap -1 to 4294967295.
//!
//! Nothing here should panic on any input. If something does (a bug), the panic hook
//! hands the message to `globalThis.rbmLabEnginePanic` before the trap, and the page
//! replaces the whole instance: after a trap a wasm instance's objects may stay
//! borrowed, so it is never used again.
//!
//! # Five modules, each loaded when needed
//!
//! The page loads no more engine than it uses: the crate is built five times, each with
//! one cargo feature, into five `.wasm` files (`./lab`'s `build_wasm`):
//! - `lab` (`www/pkg/rbm_lab.js`): the lab's worker: data, training, chains,
//!   evaluation, using a model, and the run's autosave;
//! - `helper` (`www/pkg/helper.js`): a helper worker's shard of a split update;
//! - `files` (`www/pkg/files.js`): reading and writing model files (JSON and
//!   safetensors), loaded on the first save or load;
//! - `critic` (`www/pkg/critic.js`): the article's movie critics, loaded when their
//!   panel first asks;
//! - `guide` (`www/pkg/guide.js`): the guide page's tiny models, loaded on its first
//!   request (its race of trainers uses `lab`'s `Trainer`).
//!
//! A model passes between modules as a plain object ([`parts_of`], [`file_from_parts`]):
//! wasm objects belong to one module's memory. The default features build all five
//! into one module, for `wasm-pack test` and for clippy.

use wasm_bindgen::prelude::*;

use crate::error::RbmError;

#[cfg(feature = "critic")]
mod critic;
#[cfg(feature = "files")]
pub mod files;
#[cfg(feature = "guide")]
pub mod guide;
#[cfg(feature = "lab")]
mod lab;

#[cfg(feature = "critic")]
pub use critic::JsCritics;
#[cfg(feature = "lab")]
pub use lab::*;

pub(crate) fn js_error(error: RbmError) -> JsError {
    JsError::new(&error.to_string())
}

#[cfg(feature = "lab")]
fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Plain JS objects (not `Map`s, which flattened structs would otherwise become).
#[cfg(any(
    feature = "lab",
    feature = "files",
    feature = "critic",
    feature = "guide"
))]
pub(crate) fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Installs the panic hook when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    use wasm_bindgen::JsCast;
    std::panic::set_hook(Box::new(|info| {
        let message = format!("engine panic: {info}");
        let global = js_sys::global();
        if let Ok(report) = js_sys::Reflect::get(&global, &JsValue::from_str("rbmLabEnginePanic")) {
            if let Some(report) = report.dyn_ref::<js_sys::Function>() {
                let _ = report.call1(&JsValue::NULL, &JsValue::from_str(&message));
            }
        }
    }));
}

/// A whole number from JS between `min` and `max`, for arguments with no setting of their own.
#[cfg(any(feature = "lab", feature = "guide"))]
pub(crate) fn count_in(what: &str, value: f64, min: usize, max: usize) -> Result<usize, JsError> {
    crate::size::from_js_number(value)
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            JsError::new(&format!(
                "{what} = {value} is not allowed: a whole number between {min} and {max}"
            ))
        })
}

#[cfg(feature = "helper")]
thread_local! {
    /// The last shard's result, read by JS through `shardResultPtr`.
    static SHARD_RESULT: core::cell::RefCell<Vec<u8>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// A helper worker's whole job: one shard of a split update, from the bytes of its task
/// (`Trainer.shardRequests`) to the bytes of its result (`Trainer.acceptShard`). Returns
/// the result's length; its bytes lie in wasm memory at `shardResultPtr()` until the
/// next call (copied out at once into a buffer that is used again, as the tasks are).
#[cfg(feature = "helper")]
#[wasm_bindgen(js_name = runShard)]
pub fn run_shard(task: &[u8]) -> Result<usize, JsError> {
    let (model, task) = crate::shard::ShardTask::from_bytes(task).map_err(js_error)?;
    let result = crate::shard::ShardJob::run(&model, task).map_err(js_error)?;
    let bytes = result.to_bytes();
    let len = bytes.len();
    SHARD_RESULT.with(|kept| *kept.borrow_mut() = bytes);
    Ok(len)
}

/// Pieces of an exact `log Z` for the lab's worker: the bytes of a task
/// (`LogPartitionJob.taskBytes`) in, the bytes of its answer (`LogPartitionJob.accept`)
/// out (see `exact::LogPartitionJob`).
#[cfg(feature = "helper")]
#[wasm_bindgen(js_name = logPartitionTask)]
pub fn log_partition_task(task: &[u8]) -> Result<Vec<u8>, JsError> {
    crate::exact::log_partition_task(task).map_err(js_error)
}

/// Where the last `runShard` result's bytes lie in wasm memory.
#[cfg(feature = "helper")]
#[wasm_bindgen(js_name = shardResultPtr)]
pub fn shard_result_ptr() -> usize {
    SHARD_RESULT.with(|kept| kept.borrow().as_ptr() as usize)
}

/// A model as a plain object, the form in which it passes between the `lab` and
/// `files` modules: `{nVisible, nHidden, weights, visibleBias, hiddenBias}` (the
/// arrays as `Float32Array`s, `weights[i * nHidden + j]` coupling visible `i` and
/// hidden `j`), with `imageShape` (`[rows, cols]`) and `training`
/// (`{config, steps_done}`) when known.
#[cfg(any(feature = "lab", feature = "files"))]
pub fn parts_of(file: &crate::modelfile::ModelFile) -> Result<JsValue, JsError> {
    let parts = js_sys::Object::new();
    let set = |key: &str, value: JsValue| {
        js_sys::Reflect::set(&parts, &JsValue::from_str(key), &value)
            .map(|_| ())
            .map_err(|_| JsError::new("could not build the model's parts"))
    };
    let model = &file.model;
    set("nVisible", JsValue::from(model.n_visible() as f64))?;
    set("nHidden", JsValue::from(model.n_hidden() as f64))?;
    set(
        "weights",
        js_sys::Float32Array::from(model.weights()).into(),
    )?;
    set(
        "visibleBias",
        js_sys::Float32Array::from(model.visible_bias()).into(),
    )?;
    set(
        "hiddenBias",
        js_sys::Float32Array::from(model.hidden_bias()).into(),
    )?;
    if let Some((rows, cols)) = file.image_shape {
        set("imageShape", to_js(&[rows, cols])?)?;
    }
    if let Some(training) = &file.training {
        // As BigInts, the whole numbers: a file's seed may be any u64, past what a JS
        // number holds exactly. (Only the engine's modules read `training`.)
        let exact = serde_wasm_bindgen::Serializer::json_compatible()
            .serialize_large_number_types_as_bigints(true);
        let training = serde::Serialize::serialize(training, &exact)
            .map_err(|e| JsError::new(&format!("the model's training settings: {e}")))?;
        set("training", training)?;
    }
    Ok(parts.into())
}

/// The model of a [`parts_of`] object, checked as a model file is
/// ([`crate::modelfile::ModelFile::from_parts`]).
#[cfg(any(feature = "lab", feature = "files"))]
pub fn file_from_parts(parts: &JsValue) -> Result<crate::modelfile::ModelFile, JsError> {
    use wasm_bindgen::JsCast;
    let bad = |what: &str| JsError::new(&format!("model parts: {what}"));
    if !parts.is_object() {
        return Err(bad("not an object"));
    }
    let get = |key: &str| js_sys::Reflect::get(parts, &JsValue::from_str(key)).unwrap_or_default();
    let count = |key: &str| {
        get(key)
            .as_f64()
            .and_then(crate::size::from_js_number)
            .ok_or_else(|| bad(&format!("{key} is not a whole number")))
    };
    let (m, n) = crate::model::check_sizes(count("nVisible")? as u64, count("nHidden")? as u64)
        .map_err(js_error)?;
    // Lengths first: a huge array is refused before it is copied into wasm memory.
    let floats = |key: &str, len: usize| {
        let array = get(key)
            .dyn_into::<js_sys::Float32Array>()
            .map_err(|_| bad(&format!("{key} is not a Float32Array")))?;
        if array.length() as usize != len {
            return Err(bad(&format!(
                "{key} has {} values; a {m} x {n} model has {len}",
                array.length()
            )));
        }
        Ok(array.to_vec())
    };
    let absent = |value: &JsValue| value.is_undefined() || value.is_null();
    let image_shape = match get("imageShape") {
        shape if absent(&shape) => None,
        shape => match serde_wasm_bindgen::from_value::<Vec<u64>>(shape) {
            Ok(sides) if sides.len() == 2 => Some([sides[0], sides[1]]),
            _ => return Err(bad("imageShape is not [rows, cols]")),
        },
    };
    let training = match get("training") {
        training if absent(&training) => None,
        training => Some(
            serde_wasm_bindgen::from_value(training).map_err(|e| bad(&format!("training: {e}")))?,
        ),
    };
    let weights = m.checked_mul(n).ok_or_else(|| bad("too many weights"))?;
    crate::modelfile::ModelFile::from_parts(
        m as u64,
        n as u64,
        floats("weights", weights)?,
        floats("visibleBias", m)?,
        floats("hiddenBias", n)?,
        image_shape,
        training,
    )
    .map_err(js_error)
}

/// An AIS estimate of `log Z` computed away from the lab's worker: built from the bytes
/// of `Trainer.aisTask`, advanced in slices, its estimate's bytes handed back to
/// `Trainer.acceptAis`. The same job as in place, so the same estimate to the bit.
#[cfg(feature = "helper")]
#[wasm_bindgen(js_name = AisRun)]
pub struct JsAisRun {
    job: crate::ais::Ais,
}

#[cfg(feature = "helper")]
#[wasm_bindgen(js_class = AisRun)]
impl JsAisRun {
    #[wasm_bindgen(constructor)]
    pub fn new(task: &[u8]) -> Result<JsAisRun, JsError> {
        Ok(JsAisRun {
            job: crate::ais::Ais::from_task_bytes(task).map_err(js_error)?,
        })
    }

    /// Works about `flop_budget` operations (at least one temperature); returns whether
    /// every run has finished.
    pub fn advance(&mut self, flop_budget: f64) -> bool {
        self.job.advance(flop_budget)
    }

    /// The fraction of temperatures done.
    #[wasm_bindgen(getter)]
    pub fn progress(&self) -> f64 {
        self.job.progress()
    }

    /// Floating-point operations the whole estimate takes.
    #[wasm_bindgen(getter)]
    pub fn flops(&self) -> f64 {
        self.job.flops_per_temperature() * self.job.temperatures() as f64
    }

    /// The estimate's bytes, once finished.
    pub fn result(&self) -> Result<Vec<u8>, JsError> {
        self.job
            .result()
            .map(|estimate| estimate.to_bytes())
            .ok_or_else(|| JsError::new("the AIS estimate has not finished"))
    }
}

/// The rows evaluations read, kept by the helper that computes them
/// (`Trainer.evaluationData`'s bytes).
#[cfg(feature = "helper")]
#[wasm_bindgen(js_name = EvaluationData)]
pub struct JsEvaluationData {
    data: crate::monitor::EvaluationData,
}

#[cfg(feature = "helper")]
#[wasm_bindgen(js_class = EvaluationData)]
impl JsEvaluationData {
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<JsEvaluationData, JsError> {
        Ok(JsEvaluationData {
            data: crate::monitor::EvaluationData::from_bytes(bytes).map_err(js_error)?,
        })
    }
}

/// A point of the learning curves computed away from the lab's worker: built from
/// `Trainer.evaluationTask`'s bytes on the rows of an `EvaluationData`, advanced in
/// slices, its sums handed back to `Trainer.acceptEvaluation`. The same job as in
/// place, so the same point to the bit.
#[cfg(feature = "helper")]
#[wasm_bindgen(js_name = EvaluationRun)]
pub struct JsEvaluationRun {
    job: crate::monitor::EvaluationJob,
}

#[cfg(feature = "helper")]
#[wasm_bindgen(js_class = EvaluationRun)]
impl JsEvaluationRun {
    #[wasm_bindgen(constructor)]
    pub fn new(task: &[u8], data: &JsEvaluationData) -> Result<JsEvaluationRun, JsError> {
        Ok(JsEvaluationRun {
            job: crate::monitor::EvaluationJob::from_task_bytes(task, &data.data)
                .map_err(js_error)?,
        })
    }

    /// Works about `flop_budget` operations on `data` (the rows it was built on);
    /// returns whether the point is complete.
    pub fn advance(&mut self, data: &JsEvaluationData, flop_budget: f64) -> Result<bool, JsError> {
        self.job
            .advance(&data.data.train, data.data.held_out.as_ref(), flop_budget)
            .map_err(js_error)
    }

    /// The finished job's sums as bytes.
    pub fn sums(&self) -> Result<Vec<u8>, JsError> {
        self.job.sums_bytes().map_err(js_error)
    }
}
