//! The safetensors model file: bit-exact round trips with the JSON file's contents, and
//! each kind of bad file refused with its problem. (`scripts/check_safetensors.py`
//! checks the same files against the real Python `safetensors` package.)
mod common;

use std::collections::HashMap;

use common::random_rbm;
use rbm_lab::modelfile::{ModelFile, TrainingInfo};
use rbm_lab::tensorfile::{from_safetensors, to_safetensors, FORMAT};
use rbm_lab::TrainConfig;
use safetensors::tensor::{Dtype, TensorView};

fn sample_file() -> ModelFile {
    ModelFile {
        model: random_rbm(6, 4, 1.5, 3),
        image_shape: Some((2, 3)),
        training: Some(TrainingInfo {
            config: Some(TrainConfig {
                n_hidden: 4,
                learning_rate: 0.07,
                ..TrainConfig::default()
            }),
            steps_done: 1234,
        }),
    }
}

#[test]
fn a_model_round_trips_bit_for_bit() {
    let file = sample_file();
    let back = from_safetensors(&to_safetensors(&file).unwrap()).unwrap();
    assert_eq!(back, file);
    let bare = ModelFile {
        model: random_rbm(3, 5, 1.0, 4),
        image_shape: None,
        training: None,
    };
    assert_eq!(
        from_safetensors(&to_safetensors(&bare).unwrap()).unwrap(),
        bare
    );
}

/// A safetensors file from raw parts, as another program might write it.
#[test]
fn the_same_model_always_gives_the_same_bytes() {
    // The crate writes its metadata from a HashMap, whose order is drawn afresh for each
    // map: 20 writes with four metadata keys would almost surely differ without sorting.
    let file = sample_file();
    let first = to_safetensors(&file).unwrap();
    for _ in 0..20 {
        assert_eq!(to_safetensors(&file).unwrap(), first);
    }
    let header_length = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&first[8..8 + header_length]).unwrap();
    let keys = ["\"W\"", "\"__metadata__\"", "\"b\"", "\"c\""];
    let places: Vec<usize> = keys.iter().map(|k| header.find(k).unwrap()).collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "{header}");
    assert_eq!(from_safetensors(&first).unwrap(), file);
}

fn written(tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)>, metadata: &[(&str, &str)]) -> Vec<u8> {
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (*name, TensorView::new(*dtype, shape.clone(), data).unwrap())
        })
        .collect();
    let meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn good() -> Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)> {
    vec![
        (
            "W",
            Dtype::F32,
            vec![3, 2],
            f32s(&[0.1, -0.2, 0.3, 0.4, -0.5, 0.6]),
        ),
        ("b", Dtype::F32, vec![3], f32s(&[0.0, 1.0, -1.0])),
        ("c", Dtype::F32, vec![2], f32s(&[0.5, -0.5])),
    ]
}

#[test]
fn float64_tensors_and_files_without_metadata_load() {
    let mut tensors = good();
    tensors[0] = (
        "W",
        Dtype::F64,
        vec![3, 2],
        [0.1f64, -0.2, 0.3, 0.4, -0.5, 0.6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    );
    let file = from_safetensors(&written(tensors, &[])).unwrap();
    assert_eq!(file.model.weights(), &[0.1, -0.2, 0.3, 0.4, -0.5, 0.6]);
    assert_eq!(file.training, None);
}

#[test]
fn each_kind_of_bad_file_is_refused_with_its_problem() {
    let refused = |bytes: Vec<u8>, expect: &str| {
        let error = from_safetensors(&bytes).unwrap_err().to_string();
        assert!(error.contains(expect), "expected `{expect}` in: {error}");
    };
    refused(b"not a safetensors file at all".to_vec(), "cannot be read");
    let whole = written(good(), &[]);
    refused(whole[..whole.len() - 4].to_vec(), "cannot be read");
    refused(written(good()[..2].to_vec(), &[]), "no tensor `c`");
    let mut extra = good();
    extra.push(("momentum", Dtype::F32, vec![1], f32s(&[0.0])));
    refused(written(extra, &[]), "tensor `momentum`");
    let mut shape = good();
    shape[1] = ("b", Dtype::F32, vec![2], f32s(&[0.0, 1.0]));
    refused(
        written(shape, &[]),
        "tensor `b` has shape [2], expected [3]",
    );
    let mut three_d = good();
    three_d[0] = (
        "W",
        Dtype::F32,
        vec![3, 2, 1],
        f32s(&[0.1, -0.2, 0.3, 0.4, -0.5, 0.6]),
    );
    refused(written(three_d, &[]), "must be [n_visible, n_hidden]");
    let mut half = good();
    half[2] = ("c", Dtype::F16, vec![2], vec![0, 0, 0, 0]);
    refused(written(half, &[]), "F16");
    let mut nan = good();
    nan[2] = ("c", Dtype::F32, vec![2], f32s(&[f32::NAN, 0.0]));
    refused(written(nan, &[]), "tensor `c` value 0 is NaN");
    let mut huge = good();
    huge[1] = ("b", Dtype::F32, vec![3], f32s(&[0.0, 2e4, 0.0]));
    refused(written(huge, &[]), "diverged");
    refused(
        written(good(), &[("format", "something-else")]),
        "not `rbm-lab-model`",
    );
    refused(
        written(good(), &[("format", FORMAT), ("image_shape", "2x2")]),
        "ROWS x COLS = 3",
    );
    refused(written(good(), &[("steps_done", "-1")]), "steps_done `-1`");
    refused(
        written(good(), &[("config", "{\"learning_rate\": \"fast\"}")]),
        "training settings cannot be read",
    );
}
