//! The JSON model file: exact round trips and a clear message for each kind of bad file.
mod common;

use common::random_rbm;
use rand::RngCore;
use rbm_lab::modelfile::{from_json, to_json, ModelFile};
use rbm_lab::{rng, Rbm};

fn file(model: Rbm) -> ModelFile {
    ModelFile {
        model,
        image_shape: None,
        training: None,
    }
}

#[test]
fn save_then_load_is_bit_exact() {
    let mut original = file(random_rbm(12, 5, 0.3, 41));
    original.image_shape = Some((3, 4));
    original.training = Some(serde_json::json!({"algorithm": "cd", "steps_done": 12}));
    let text = to_json(&original).unwrap();
    let loaded = from_json(&text).unwrap();
    assert_eq!(loaded, original);
    assert_eq!(to_json(&loaded).unwrap(), text);
}

#[test]
fn arbitrary_finite_bit_patterns_survive() {
    // Random bit patterns cover subnormals, extremes and numbers with long decimal forms.
    let mut g = rng::seeded(42);
    let mut values = Vec::new();
    while values.len() < 200_000 {
        let v = f32::from_bits(g.next_u32());
        if v.is_finite() {
            values.push(v);
        }
    }
    let model = Rbm::from_parts(
        400,
        500,
        values,
        vec![f32::MIN_POSITIVE; 400],
        vec![-0.0; 500],
    )
    .unwrap();
    let loaded = from_json(&to_json(&file(model.clone())).unwrap())
        .unwrap()
        .model;
    let bits = |r: &Rbm| {
        r.weights()
            .iter()
            .chain(r.visible_bias())
            .chain(r.hidden_bias())
            .map(|v| v.to_bits())
            .collect::<Vec<u32>>()
    };
    assert_eq!(bits(&loaded), bits(&model));
}

#[test]
fn the_documented_layout_is_what_is_written() {
    let model = Rbm::from_parts(
        2,
        3,
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        vec![0.5, -0.5],
        vec![0.0, 1.0, 2.0],
    )
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&to_json(&file(model)).unwrap()).unwrap();
    assert_eq!(value["format"], "rbm-lab-model");
    assert_eq!(value["version"], 1);
    assert_eq!(value["n_visible"], 2);
    assert_eq!(value["n_hidden"], 3);
    // weights[i * n + j] couples visible i and hidden j: visible 1, hidden 0 is 4.
    assert_eq!(value["weights"][3], 4.0);
    assert_eq!(value["visible_bias"][1], -0.5);
    assert!(value.get("image_shape").is_none());
}

#[test]
fn each_kind_of_bad_file_is_rejected_with_its_problem() {
    let good = || -> serde_json::Value {
        serde_json::json!({"format": "rbm-lab-model", "version": 1, "n_visible": 2, "n_hidden": 1,
            "weights": [0.5, -0.5], "visible_bias": [0.0, 0.1], "hidden_bias": [0.2]})
    };
    assert!(from_json(&good().to_string()).is_ok());
    let with = |key: &str, value: serde_json::Value| {
        let mut v = good();
        v[key] = value;
        v.to_string()
    };
    let without = |key: &str| {
        let mut v = good();
        v.as_object_mut().unwrap().remove(key);
        v.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "not valid JSON"),
        ("[1, 2]".into(), "not an RBM Lab model"),
        (
            with("format", "keras".into()),
            "format is \"keras\", expected \"rbm-lab-model\"",
        ),
        (
            with("version", 2.into()),
            "version 2 is not supported; this build reads version 1",
        ),
        (without("version"), "no numeric \"version\""),
        (without("weights"), "missing field `weights`"),
        (
            with("weights", serde_json::json!([0.5])),
            "weights has 1 values, expected 2",
        ),
        (
            with("visible_bias", serde_json::json!([0.0])),
            "visible_bias has 1 values, expected 2",
        ),
        (
            with("hidden_bias", serde_json::json!([0.0, 1.0])),
            "hidden_bias has 2 values, expected 1",
        ),
        (
            with("weights", serde_json::json!([0.5, "x"])),
            "invalid type: string \"x\"",
        ),
        (
            with("weights", serde_json::json!([0.5, null])),
            "invalid type: null",
        ),
        (with("n_hidden", 0.into()), "n_hidden = 0 is not allowed"),
        (
            with("image_shape", serde_json::json!([3, 3])),
            "image_shape 3 x 3 does not have n_visible = 2 pixels",
        ),
    ];
    for (text, expected) in cases {
        let message = from_json(&text).unwrap_err().to_string();
        assert!(message.starts_with("model file: "), "{message}");
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    // 1e39 is a valid JSON number but overflows f32.
    let overflow = good().to_string().replace("[0.5,-0.5]", "[0.5,1e39]");
    let message = from_json(&overflow).unwrap_err().to_string();
    assert!(
        message.contains("weights[1] is not a finite 32-bit number"),
        "{message}"
    );
}
