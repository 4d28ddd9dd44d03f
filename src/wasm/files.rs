//! The `files` module: model files in and out (JSON, see `modelfile.rs`; safetensors,
//! see `tensorfile.rs`). Models arrive and leave as the plain objects of
//! [`super::parts_of`], which the `lab` module's `Rbm.fromParts` and `rbm.parts()`
//! read and write.

use wasm_bindgen::prelude::*;

use super::{file_from_parts, js_error, parts_of};

/// A JSON model file's model, as parts; throws with the file's problem.
#[wasm_bindgen(js_name = readModelJson)]
pub fn read_model_json(text: &str) -> Result<JsValue, JsError> {
    parts_of(&crate::modelfile::from_json(text).map_err(js_error)?)
}

/// A safetensors model file's model (tensors W, b, c), as parts; throws with the
/// file's problem.
#[wasm_bindgen(js_name = readModelSafetensors)]
pub fn read_model_safetensors(bytes: &[u8]) -> Result<JsValue, JsError> {
    parts_of(&crate::tensorfile::from_safetensors(bytes).map_err(js_error)?)
}

/// The JSON model file of a model given as parts.
#[wasm_bindgen(js_name = writeModelJson)]
pub fn write_model_json(parts: JsValue) -> Result<String, JsError> {
    crate::modelfile::to_json(&file_from_parts(&parts)?).map_err(js_error)
}

/// The safetensors model file of a model given as parts.
#[wasm_bindgen(js_name = writeModelSafetensors)]
pub fn write_model_safetensors(parts: JsValue) -> Result<Vec<u8>, JsError> {
    crate::tensorfile::to_safetensors(&file_from_parts(&parts)?).map_err(js_error)
}
