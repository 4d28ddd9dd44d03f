//! Models to and from `safetensors`, the tensor file format of PyTorch and the Hugging
//! Face tools, so that a model trained elsewhere loads in the lab and a lab model loads
//! in PyTorch (`safetensors.torch.load_file`).
//!
//! Layout: three little-endian float32 tensors, `W` of shape `[n_visible, n_hidden]`
//! (row-major: `W[i, j]` couples visible unit i and hidden unit j, so that
//! `p(h = 1 | v) = sigmoid(v @ W + c)`), `b` of shape `[n_visible]` (visible biases) and
//! `c` of shape `[n_hidden]` (hidden biases). Float64 tensors are read too (rounded to
//! float32). The header's string metadata says `format` = `rbm-lab-model`, the `layout`
//! in words, and optionally `image_shape` (`ROWSxCOLS`), `steps_done` and `config` (the
//! training settings as JSON, as in the JSON model file).

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{RbmError, Result};
use crate::model::{check_sizes, Rbm};
use crate::modelfile::{ModelFile, TrainingInfo, MAX_FILE_BYTES, MAX_STEPS_DONE};
use crate::train::{TrainConfig, DIVERGENCE_LIMIT};

pub const FORMAT: &str = "rbm-lab-model";
pub const LAYOUT: &str = "W: float32 [n_visible, n_hidden], W[i, j] couples visible i and hidden j; \
b: float32 [n_visible]; c: float32 [n_hidden]; p(h=1|v) = sigmoid(v @ W + c), p(v=1|h) = sigmoid(W @ h + b)";

fn bad(message: impl Into<String>) -> RbmError {
    RbmError::ModelFile(format!("safetensors file: {}", message.into()))
}

fn bytes_of(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The model file's contents as safetensors bytes.
pub fn to_safetensors(file: &ModelFile) -> Result<Vec<u8>> {
    let model = &file.model;
    let (m, n) = (model.n_visible(), model.n_hidden());
    let (w, b, c) = (
        bytes_of(model.weights()),
        bytes_of(model.visible_bias()),
        bytes_of(model.hidden_bias()),
    );
    let view = |shape: Vec<usize>, data| {
        TensorView::new(Dtype::F32, shape, data).map_err(|e| bad(e.to_string()))
    };
    let tensors = vec![
        ("W", view(vec![m, n], &w)?),
        ("b", view(vec![m], &b)?),
        ("c", view(vec![n], &c)?),
    ];
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), FORMAT.to_string());
    metadata.insert("layout".to_string(), LAYOUT.to_string());
    if let Some((rows, cols)) = file.image_shape {
        metadata.insert("image_shape".to_string(), format!("{rows}x{cols}"));
    }
    if let Some(training) = &file.training {
        metadata.insert("steps_done".to_string(), training.steps_done.to_string());
        if let Some(config) = &training.config {
            metadata.insert(
                "config".to_string(),
                serde_json::to_string(config).map_err(|e| bad(e.to_string()))?,
            );
        }
    }
    let mut bytes =
        safetensors::serialize(tensors, Some(metadata)).map_err(|e| bad(e.to_string()))?;
    sort_header(&mut bytes)?;
    Ok(bytes)
}

/// The crate writes the metadata from a `HashMap`, in an order that changes from run
/// to run; the same model must give the same bytes. The header is rewritten with its
/// keys sorted: the same keys and values, so the same length and the same offsets.
fn sort_header(bytes: &mut [u8]) -> Result<()> {
    let broken = || RbmError::Data("safetensors: the header just written is unreadable".into());
    let length = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| broken())?);
    let end = usize::try_from(length)
        .ok()
        .and_then(|n| n.checked_add(8))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(broken)?;
    let header = &mut bytes[8..end];
    // serde_json's maps are ordered by key (its `preserve_order` feature is off).
    let value: serde_json::Value = serde_json::from_slice(header).map_err(|_| broken())?;
    let sorted = serde_json::to_string(&value).map_err(|_| broken())?;
    if sorted.len() > header.len() {
        return Err(broken());
    }
    header.fill(b' ');
    header[..sorted.len()].copy_from_slice(sorted.as_bytes());
    Ok(())
}

/// Reads a tensor as float32 values of the given shape.
fn tensor(file: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = file.tensor(name).map_err(|_| {
        bad(format!(
            "it has no tensor `{name}` (an RBM needs W, b and c)"
        ))
    })?;
    if t.shape() != shape {
        return Err(bad(format!(
            "tensor `{name}` has shape {:?}, expected {shape:?}",
            t.shape()
        )));
    }
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => t
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        other => {
            return Err(bad(format!(
                "tensor `{name}` is {other:?}; the lab reads float32 or float64"
            )))
        }
    };
    if let Some(i) = values
        .iter()
        .position(|v| !v.is_finite() || v.abs() > DIVERGENCE_LIMIT)
    {
        return Err(bad(format!(
            "tensor `{name}` value {i} is {}, outside ±{DIVERGENCE_LIMIT} (a model that large has diverged)",
            values[i]
        )));
    }
    Ok(values)
}

/// A model from safetensors bytes, every field checked.
pub fn from_safetensors(bytes: &[u8]) -> Result<ModelFile> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(bad(format!(
            "it is {} bytes, more than the {MAX_FILE_BYTES} a model file may take",
            bytes.len()
        )));
    }
    let file =
        SafeTensors::deserialize(bytes).map_err(|e| bad(format!("it cannot be read ({e})")))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("its header cannot be read ({e})")))?;
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    if let Some(extra) = names.iter().find(|n| !["W", "b", "c"].contains(n)) {
        return Err(bad(format!(
            "it has a tensor `{extra}`; an RBM file holds only W, b and c"
        )));
    }
    let weights = file
        .tensor("W")
        .map_err(|_| bad("it has no tensor `W` (an RBM needs W, b and c)"))?;
    let &[m, n] = weights.shape() else {
        return Err(bad(format!(
            "tensor `W` has shape {:?}; it must be [n_visible, n_hidden]",
            weights.shape()
        )));
    };
    let (m, n) = check_sizes(m as u64, n as u64)?;
    let model = Rbm::from_parts(
        m,
        n,
        tensor(&file, "W", &[m, n])?,
        tensor(&file, "b", &[m])?,
        tensor(&file, "c", &[n])?,
    )?;
    let meta = header.metadata().clone().unwrap_or_default();
    if let Some(format) = meta.get("format").filter(|f| *f != FORMAT) {
        return Err(bad(format!("its format is `{format}`, not `{FORMAT}`")));
    }
    let image_shape = match meta.get("image_shape") {
        None => None,
        Some(text) => {
            let parsed = text
                .split_once('x')
                .and_then(|(r, c)| Some((r.parse::<usize>().ok()?, c.parse::<usize>().ok()?)));
            match parsed {
                Some((rows, cols)) if rows.checked_mul(cols) == Some(m) => Some((rows, cols)),
                _ => {
                    return Err(bad(format!(
                        "image_shape `{text}` is not ROWSxCOLS with ROWS x COLS = {m} pixels"
                    )))
                }
            }
        }
    };
    let steps_done = match meta.get("steps_done") {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|&s| s <= MAX_STEPS_DONE)
            .ok_or_else(|| {
                bad(format!(
                    "steps_done `{text}` is not a whole number of updates"
                ))
            })?,
    };
    let config = match meta.get("config") {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<TrainConfig>(text)
                .map_err(|e| bad(format!("its training settings cannot be read ({e})")))?,
        ),
    };
    let training =
        (config.is_some() || steps_done > 0).then_some(TrainingInfo { config, steps_done });
    Ok(ModelFile {
        model,
        image_shape,
        training,
    })
}
