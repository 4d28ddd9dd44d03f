//! The JavaScript boundary, run in headless Chromium by `wasm-pack test`.
//! It pins the same bits as `tests/determinism.rs` does natively.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use rbm_lab::modelfile;
use rbm_lab::wasm::{JsChains, JsDataset, JsRbm, JsTrainer};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn message_of(error: wasm_bindgen::JsError) -> String {
    JsValue::from(error)
        .dyn_into::<js_sys::Error>()
        .unwrap()
        .message()
        .into()
}

/// A plain object, as page code would pass it.
fn js_object(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn config_object(config: &rbm_lab::TrainConfig) -> JsValue {
    serde_wasm_bindgen::to_value(config).unwrap()
}

#[wasm_bindgen_test]
fn pinned_values_equal_the_native_ones() {
    let data = JsDataset::bars_and_stripes(PINNED_SIDE).unwrap();
    let mut trainer = JsTrainer::new(config_object(&pinned_config()), &data).unwrap();
    let mut last = JsValue::UNDEFINED;
    for _ in 0..PINNED_STEPS {
        last = trainer.step().unwrap();
    }
    let stats: serde_json::Value = serde_wasm_bindgen::from_value(last).unwrap();
    let reconstruction_error = stats["reconstruction_error"].as_f64().unwrap();
    let rbm = trainer.model().unwrap();
    let text = rbm.to_json().unwrap();
    let model = modelfile::from_json(&text).unwrap().model;
    let log_z = rbm.log_partition(1.0).unwrap();
    let mut chains = JsChains::new(&rbm, 10, 3).unwrap();
    chains.step(5, 1.0).unwrap();
    // The pointer is what JS turns into a Float32Array view.
    let visible =
        unsafe { std::slice::from_raw_parts(chains.visible_ptr(), 10 * model.n_visible()) };
    assert_eq!(
        (
            fingerprint(&parameters(&model)),
            reconstruction_error.to_bits(),
            log_z.to_bits(),
            fingerprint(visible)
        ),
        (
            PINNED_PARAMETER_FINGERPRINT,
            PINNED_RECONSTRUCTION_ERROR_BITS,
            PINNED_LOG_PARTITION_BITS,
            PINNED_SAMPLE_FINGERPRINT
        )
    );
}

#[wasm_bindgen_test]
fn create_train_sample_export_import() {
    let data = JsDataset::bars_and_stripes(3).unwrap();
    assert_eq!((data.len(), data.rows(), data.cols()), (14, 3, 3));
    let config = js_object(
        r#"{"n_hidden": 8, "algorithm": "pcd", "k": 5, "batch_size": 7, "learning_rate": 0.05,
        "momentum": 0.5, "persistent_chains": 100, "seed": 9}"#,
    );
    let mut trainer = JsTrainer::new(config, &data).unwrap();
    let before = trainer.mean_log_likelihood(&data).unwrap();
    trainer.steps(2000).unwrap();
    let after = trainer.mean_log_likelihood(&data).unwrap();
    // Natively these settings gain about 2.3 nats in 2,000 updates.
    assert!(after > before + 1.5, "log-likelihood {before} -> {after}");
    assert_eq!(trainer.steps_done(), 2000.0);

    let rbm = trainer.model().unwrap();
    assert_eq!(rbm.image_shape(), Some(vec![3, 3]));
    let text = rbm.to_json().unwrap();
    let again = JsRbm::from_json(&text).unwrap();
    assert_eq!(again.to_json().unwrap(), text);
    assert_eq!(again.mean_log_likelihood(&data).unwrap(), after);

    let mut chains = JsChains::new(&again, 32, 1).unwrap();
    chains.step(10, 1.0).unwrap();
    let visible = unsafe { std::slice::from_raw_parts(chains.visible_ptr(), 32 * 9) };
    assert!(visible.iter().all(|&v| v == 0.0 || v == 1.0));
    let probs = again.prob_hidden_given_visible(&visible[..9], 1.0).unwrap();
    assert_eq!(probs.len(), 8);
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));

    let small_batches = js_object(r#"{"batch_size": 7}"#);
    let mut resumed = JsTrainer::resume(small_batches, &again, &data).unwrap();
    resumed.step().unwrap();
    // Defaults (batch_size 20) do not fit 14 examples: the message says what does.
    let message = message_of(
        JsTrainer::resume(JsValue::UNDEFINED, &again, &data)
            .err()
            .unwrap(),
    );
    assert!(
        message.contains("batch_size = 20 is not allowed: between 1 and 14"),
        "{message}"
    );
}

#[wasm_bindgen_test]
fn bad_input_throws_with_the_core_message() {
    let data = JsDataset::bars_and_stripes(3).unwrap();
    let bad = js_object(r#"{"learning_rate": -1.0}"#);
    let message = message_of(JsTrainer::new(bad, &data).err().unwrap());
    assert!(
        message.contains("learning_rate = -1 is not allowed"),
        "{message}"
    );

    let unknown = js_object(r#"{"learnig_rate": 0.1}"#);
    let message = message_of(JsTrainer::new(unknown, &data).err().unwrap());
    assert!(
        message.contains("unknown field `learnig_rate`"),
        "{message}"
    );

    let message = message_of(JsRbm::from_json("{\"format\": \"other\"}").err().unwrap());
    assert!(message.contains("format is \"other\""), "{message}");

    let message = message_of(JsDataset::from_packed(b"garbage", "all").err().unwrap());
    assert!(message.contains("RBMB header"), "{message}");

    let message = message_of(JsDataset::bars_and_stripes(0).err().unwrap());
    assert!(message.contains("side = 0"), "{message}");

    let big = js_object(r#"{"n_hidden": 30, "algorithm": "exact", "batch_size": 2}"#);
    let wide = JsDataset::from_pixels(&vec![0.0; 2 * 25 * 25], 25, 25).unwrap();
    let message = message_of(JsTrainer::new(big, &wide).err().unwrap());
    assert!(message.contains("625 visible and 30 hidden"), "{message}");

    let rbm = JsTrainer::new(JsValue::UNDEFINED, &JsDataset::bars_and_stripes(4).unwrap())
        .unwrap()
        .model()
        .unwrap();
    let message = message_of(rbm.free_energy(&[1.0, 0.0], 1.0).err().unwrap());
    assert!(message.contains("not whole rows of 16"), "{message}");
    let mut chains = JsChains::new(&rbm, 4, 1).unwrap();
    assert!(message_of(chains.step(1, -1.0).err().unwrap()).contains("beta = -1"));
}
