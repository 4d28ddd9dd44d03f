//! The model file: plain JSON that other tools can read without this engine.
//!
//! ```json
//! {"format": "rbm-lab-model", "version": 1, "n_visible": m, "n_hidden": n,
//!  "weights": [m*n numbers, weights[i*n + j] couples visible i and hidden j],
//!  "visible_bias": [m], "hidden_bias": [n],
//!  "image_shape": [rows, cols], "training": {...}}
//! ```
//! `image_shape` and `training` are optional. Numbers are written in the shortest
//! form that reads back as the same f32, so save-then-load is exact to the bit.

use serde::{Deserialize, Serialize};

use crate::error::{RbmError, Result};
use crate::model::Rbm;

pub const FORMAT: &str = "rbm-lab-model";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct ModelFileV1 {
    format: String,
    version: u32,
    n_visible: usize,
    n_hidden: usize,
    weights: Vec<f32>,
    visible_bias: Vec<f32>,
    hidden_bias: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_shape: Option<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training: Option<serde_json::Value>,
}

/// A model with what the file says about it besides the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    pub model: Rbm,
    pub image_shape: Option<(usize, usize)>,
    /// Free-form training settings and progress, kept as JSON.
    pub training: Option<serde_json::Value>,
}

/// Serialises a model; fails only if a parameter is not finite (JSON has no NaN).
pub fn to_json(file: &ModelFile) -> Result<String> {
    let model = &file.model;
    if !model.is_sane(f32::MAX) {
        return Err(RbmError::ModelFile(
            "the model has non-finite parameters and cannot be saved".into(),
        ));
    }
    let out = ModelFileV1 {
        format: FORMAT.into(),
        version: VERSION,
        n_visible: model.n_visible(),
        n_hidden: model.n_hidden(),
        weights: model.weights().to_vec(),
        visible_bias: model.visible_bias().to_vec(),
        hidden_bias: model.hidden_bias().to_vec(),
        image_shape: file.image_shape.map(|(r, c)| [r, c]),
        training: file.training.clone(),
    };
    serde_json::to_string(&out).map_err(|e| RbmError::ModelFile(e.to_string()))
}

/// Parses and validates a model file, naming the first problem found.
pub fn from_json(text: &str) -> Result<ModelFile> {
    let bad = |message: String| RbmError::ModelFile(message);
    // Check the identity first, so a wrong kind of file gets a message about that.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => return Err(bad(format!("format is \"{other}\", expected \"{FORMAT}\""))),
        None => {
            return Err(bad(format!(
                "no \"format\": \"{FORMAT}\" field; this is not an RBM Lab model"
            )))
        }
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(bad(format!(
                "version {v} is not supported; this build reads version {VERSION}"
            )))
        }
        None => return Err(bad("no numeric \"version\" field".into())),
    }
    let file: ModelFileV1 = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let (m, n) = (file.n_visible, file.n_hidden);
    for (name, values) in [
        ("weights", &file.weights),
        ("visible_bias", &file.visible_bias),
        ("hidden_bias", &file.hidden_bias),
    ] {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("{name}[{i}] is not a finite 32-bit number")));
        }
    }
    if let Some([rows, cols]) = file.image_shape {
        if rows * cols != m {
            return Err(bad(format!(
                "image_shape {rows} x {cols} does not have n_visible = {m} pixels"
            )));
        }
    }
    let model = Rbm::from_parts(m, n, file.weights, file.visible_bias, file.hidden_bias)
        .map_err(|e| bad(e.to_string()))?;
    Ok(ModelFile {
        model,
        image_shape: file.image_shape.map(|[r, c]| (r, c)),
        training: file.training,
    })
}
