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

/// A model's JSON file, through the `files` module as the page writes it.
fn to_json(rbm: &JsRbm) -> Result<String, wasm_bindgen::JsError> {
    rbm_lab::wasm::files::write_model_json(rbm.parts()?)
}

/// A model from a JSON file, through the `files` module as the page reads it.
fn from_json(text: &str) -> Result<JsRbm, wasm_bindgen::JsError> {
    JsRbm::from_parts(rbm_lab::wasm::files::read_model_json(text)?)
}

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
fn transposes_follow_their_definition() {
    check_transposes();
}

#[wasm_bindgen_test]
fn pinned_values_equal_the_native_ones() {
    let data = JsDataset::bars_and_stripes(PINNED_SIDE as f64).unwrap();
    let mut trainer = JsTrainer::new(config_object(&pinned_config()), &data).unwrap();
    let mut last = JsValue::UNDEFINED;
    for _ in 0..PINNED_STEPS {
        last = trainer.step().unwrap();
    }
    let stats: serde_json::Value = serde_wasm_bindgen::from_value(last).unwrap();
    let reconstruction_error = stats["reconstruction_error"].as_f64().unwrap();
    let rbm = trainer.model().unwrap();
    let text = to_json(&rbm).unwrap();
    let model = modelfile::from_json(&text).unwrap().model;
    let log_z = rbm.log_partition(1.0).unwrap();
    let mut chains = JsChains::new(&rbm, 10.0, 3).unwrap();
    chains.step(5.0, 1.0).unwrap();
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
    let data = JsDataset::bars_and_stripes(3.0).unwrap();
    assert_eq!((data.len(), data.rows(), data.cols()), (14, 3, 3));
    let config = js_object(
        r#"{"n_hidden": 8, "algorithm": "pcd", "k": 5, "batch_size": 7, "learning_rate": 0.05,
        "momentum": 0.5, "persistent_chains": 100, "seed": 9}"#,
    );
    let mut trainer = JsTrainer::new(config, &data).unwrap();
    let before = trainer.mean_log_likelihood(&data).unwrap();
    trainer.steps(2000.0).unwrap();
    let after = trainer.mean_log_likelihood(&data).unwrap();
    // Natively these settings gain about 2.3 nats in 2,000 updates.
    assert!(after > before + 1.5, "log-likelihood {before} -> {after}");
    assert_eq!(trainer.steps_done(), 2000.0);

    let rbm = trainer.model().unwrap();
    assert_eq!(rbm.image_shape(), Some(vec![3, 3]));
    let text = to_json(&rbm).unwrap();
    let again = from_json(&text).unwrap();
    assert_eq!(to_json(&again).unwrap(), text);
    assert_eq!(again.mean_log_likelihood(&data).unwrap(), after);

    let mut chains = JsChains::new(&again, 32.0, 1).unwrap();
    chains.step(10.0, 1.0).unwrap();
    let visible = unsafe { std::slice::from_raw_parts(chains.visible_ptr(), 32 * 9) };
    assert!(visible.iter().all(|&v| v == 0.0 || v == 1.0));
    let probs = again
        .prob_hidden_given_visible(visible[..9].to_vec(), 1.0)
        .unwrap();
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
    let data = JsDataset::bars_and_stripes(3.0).unwrap();
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

    // As JSON would: a key whose value is undefined is left out; an array is no settings.
    let undefined = js_object(r#"{"n_hidden": 3, "batch_size": 2}"#);
    js_sys::Reflect::set(&undefined, &"learning_rate".into(), &JsValue::UNDEFINED).unwrap();
    let trainer = JsTrainer::new(undefined, &data).unwrap();
    let config: serde_json::Value =
        serde_wasm_bindgen::from_value(trainer.config().unwrap()).unwrap();
    assert_eq!(config["n_hidden"], 3);
    assert_eq!(
        config["learning_rate"].as_f64().unwrap() as f32,
        rbm_lab::TrainConfig::default().learning_rate
    );
    let message = message_of(JsTrainer::new(js_object("[6]"), &data).err().unwrap());
    assert!(message.contains("not a plain object"), "{message}");

    let message = message_of(from_json("{\"format\": \"other\"}").err().unwrap());
    assert!(message.contains("format is \"other\""), "{message}");

    let message = message_of(JsDataset::from_packed(b"garbage", "all").err().unwrap());
    assert!(message.contains("RBMB header"), "{message}");

    let message = message_of(JsDataset::bars_and_stripes(0.0).err().unwrap());
    assert!(message.contains("side = 0"), "{message}");

    let big = js_object(r#"{"n_hidden": 30, "algorithm": "exact", "batch_size": 2}"#);
    let wide = JsDataset::from_pixels(&vec![0.0; 2 * 25 * 25], 25.0, 25.0).unwrap();
    let message = message_of(JsTrainer::new(big, &wide).err().unwrap());
    assert!(message.contains("625 visible and 30 hidden"), "{message}");

    let rbm = JsTrainer::new(
        JsValue::UNDEFINED,
        &JsDataset::bars_and_stripes(4.0).unwrap(),
    )
    .unwrap()
    .model()
    .unwrap();
    let message = message_of(rbm.free_energy(vec![1.0, 0.0], 1.0).err().unwrap());
    assert!(message.contains("not whole rows of 16"), "{message}");

    // Rows whose hidden inputs would be too many to make at once (2^27 here, where
    // 2^26 is allowed) are refused, by each function that makes them.
    let zeros = |count: usize| vec!["0"; count].join(",");
    let one_by_65536 = from_json(&format!(
        r#"{{"format":"rbm-lab-model","version":1,"n_visible":1,"n_hidden":65536,"weights":[{w}],"visible_bias":[0],"hidden_bias":[{w}]}}"#,
        w = zeros(65536)
    ))
    .unwrap();
    assert_eq!(
        one_by_65536
            .prob_hidden_given_visible(vec![0.5; 4], 1.0)
            .unwrap()
            .len(),
        4 * 65536
    );
    let too_many = || vec![0.5f32; 2048];
    for message in [
        message_of(
            one_by_65536
                .prob_hidden_given_visible(too_many(), 1.0)
                .err()
                .unwrap(),
        ),
        message_of(one_by_65536.free_energy(too_many(), 1.0).err().unwrap()),
        message_of(
            one_by_65536
                .dense_product_rate(too_many(), 1.0)
                .err()
                .unwrap(),
        ),
    ] {
        assert!(
            message.contains("2048 rows of 65536 hidden units"),
            "{message}"
        );
    }
    let mut chains = JsChains::new(&rbm, 4.0, 1).unwrap();
    assert!(message_of(chains.step(1.0, -1.0).err().unwrap()).contains("beta = -1"));
}

/// The reliability issue's defects at the boundary, in the browser where usize is 32 bits.
#[wasm_bindgen_test]
fn outside_input_is_refused_without_a_trap() {
    // Defect 1: a header-valid file with 50 million numbers elsewhere is refused from
    // its length, and the engine keeps working afterwards (four times over).
    let zeros = vec!["0"; 784].join(",");
    let mut text = format!(
        r#"{{"format":"rbm-lab-model","version":1,"n_visible":784,"n_hidden":1,"weights":[{zeros}],"visible_bias":[{zeros}],"hidden_bias":[0],"training":["#
    );
    text.push_str(&"0,".repeat(50_000_000));
    text.push_str("0]}");
    for _ in 0..4 {
        let message = message_of(from_json(&text).err().unwrap());
        assert!(
            message.contains("far more than a 784 x 1 model needs"),
            "{message}"
        );
    }
    drop(text);
    let data = JsDataset::bars_and_stripes(3.0).unwrap();
    let trainer = JsTrainer::new(js_object(r#"{"batch_size": 7}"#), &data).unwrap();
    assert!(to_json(&trainer.model().unwrap()).is_ok());

    // Defect 5: sizes that wrap to small numbers in 32 bits.
    let wrapped = r#"{"format":"rbm-lab-model","version":1,"n_visible":65536,"n_hidden":65536,"weights":[],"visible_bias":[],"hidden_bias":[]}"#;
    assert!(message_of(from_json(wrapped).err().unwrap()).contains("65536 x 65536"));
    let mut packed = b"RBMB\x01".to_vec();
    packed.extend_from_slice(&(1u32 << 19).to_le_bytes());
    packed.extend_from_slice(&[0, 1, 0, 1, 0]);
    assert!(
        message_of(JsDataset::from_packed(&packed, "all").err().unwrap())
            .contains("more than this engine can hold")
    );
    assert!(JsDataset::from_pixels(&[0.0; 4], 2_147_484_040.0, 2.0).is_err());

    // Defect 13: counts are whole numbers and β is a finite number in range.
    let rbm = trainer.model().unwrap();
    assert!(message_of(JsChains::new(&rbm, 1.7, 1).err().unwrap())
        .contains("chains = 1.7 is not allowed: a whole number"));
    assert!(JsChains::new(&rbm, -1.0, 1).is_err());
    assert!(message_of(rbm.log_partition(f32::NAN).err().unwrap()).contains("beta = NaN"));
    let mut chains = JsChains::new(&rbm, 2.0, 1).unwrap();
    assert!(chains.step(1e8, 1.0).is_err());
    assert!(chains.free_energies(&trainer, f32::NAN).is_err());
}

#[wasm_bindgen_test]
fn slices_snapshots_and_jobs_work_through_the_boundary() {
    let data = JsDataset::bars_and_stripes(4.0).unwrap();
    let config = r#"{"n_hidden": 6, "algorithm": "pcd", "k": 4, "batch_size": 10, "persistent_chains": 20, "seed": 5}"#;
    let mut whole = JsTrainer::new(js_object(config), &data).unwrap();
    whole.steps(30.0).unwrap();
    let mut sliced = JsTrainer::new(js_object(config), &data).unwrap();
    // A zero budget finishes one piece per call: the run is the same as whole updates.
    let mut calls = 0;
    while sliced.steps_done() < 30.0 {
        sliced.train_for(0.0, 1.0, None).unwrap();
        calls += 1;
    }
    assert!(calls > 30, "{calls}");
    assert_eq!(
        to_json(&sliced.model().unwrap()).unwrap(),
        to_json(&whole.model().unwrap()).unwrap()
    );

    let bytes = sliced.snapshot().unwrap();
    let evaluation = sliced.evaluation_state().unwrap();
    let mut restored = JsTrainer::from_snapshot(&bytes, &evaluation, &data).unwrap();
    restored.steps(5.0).unwrap();
    whole.steps(5.0).unwrap();
    assert_eq!(
        to_json(&restored.model().unwrap()).unwrap(),
        to_json(&whole.model().unwrap()).unwrap()
    );

    restored.start_evaluation().unwrap();
    let mut point = JsValue::UNDEFINED;
    while point.is_undefined() {
        point = restored.advance_evaluation(1.0).unwrap();
    }
    let point: serde_json::Value = serde_wasm_bindgen::from_value(point).unwrap();
    assert!(point["log_likelihood_train"].as_f64().unwrap() < 0.0);
    assert_eq!(point["hidden_mean_activation"].as_array().unwrap().len(), 6);

    restored.start_distribution(1.0).unwrap();
    let p = loop {
        if let Some(p) = restored.advance_distribution(1.0).unwrap() {
            break p;
        }
    };
    assert_eq!(p, restored.visible_distribution(1.0).unwrap());
}

/// The `lab` module writes a run's settings with the browser's JSON (it carries no JSON
/// library); runs saved before that were written by serde_json, as the native engine
/// still writes them. Each reads the other's snapshot, every setting to the bit, and
/// the run continues with the same bits either way.
#[wasm_bindgen_test]
fn snapshot_settings_cross_between_the_browsers_json_and_serde_json() {
    use rbm_lab::train::Trainer;
    let config = r#"{"n_hidden": 5, "algorithm": "tempering", "k": 2, "temperatures": 3,
        "beta_min": 0.37, "learning_rate": 0.07, "momentum": 0.3, "weight_decay": 0.0002,
        "sparsity_target": 0.05, "sparsity_cost": 0.01, "centring": true, "decay_epochs": 7,
        "final_learning_rate": 0.003, "batch_size": 10, "persistent_chains": 10, "seed": 9}"#;
    let data = JsDataset::bars_and_stripes(4.0).unwrap();
    let images = rbm_lab::data::bars_and_stripes(4).unwrap().images;
    let mut browser = JsTrainer::new(js_object(config), &data).unwrap();
    browser.steps(7.0).unwrap();
    let evaluation = browser.evaluation_state().unwrap();

    let written_here = browser.snapshot().unwrap();
    let mut native = Trainer::from_snapshot(&written_here, &images).unwrap();
    let expected: rbm_lab::TrainConfig = serde_json::from_str(config).unwrap();
    assert_eq!(native.config(), &expected);

    let written_natively = native.to_snapshot().unwrap();
    assert_ne!(
        written_natively, written_here,
        "the two JSON texts differ in their digits"
    );
    let mut again = JsTrainer::from_snapshot(&written_natively, &evaluation, &data).unwrap();
    assert_eq!(again.snapshot().unwrap(), written_here);

    browser.steps(5.0).unwrap();
    again.steps(5.0).unwrap();
    for _ in 0..5 {
        native.step(&|| 0.0).unwrap();
    }
    let model = |t: &JsTrainer| to_json(&t.model().unwrap()).unwrap();
    assert_eq!(model(&again), model(&browser));
    let native_file = rbm_lab::modelfile::ModelFile {
        model: native.model().clone(),
        image_shape: Some((4, 4)),
        training: None,
    };
    let native_model = modelfile::to_json(&native_file).unwrap();
    assert_eq!(
        modelfile::from_json(&native_model).unwrap().model,
        modelfile::from_json(&model(&browser)).unwrap().model
    );
}

/// Settings and model parts from JavaScript are read as JSON would read them, and a
/// model's parts are checked as a model file is; nothing here traps.
#[wasm_bindgen_test]
fn settings_and_parts_from_javascript_are_checked() {
    use rbm_lab::wasm::files::{read_model_json, write_model_json};
    let data = JsDataset::bars_and_stripes(3.0).unwrap();
    let settings =
        |extra: &str| js_object(&format!(r#"{{"n_hidden": 3, "batch_size": 2{extra}}}"#));
    let set = |object: &JsValue, key: &str, value: &JsValue| {
        js_sys::Reflect::set(object, &key.into(), value).unwrap();
    };

    // A BigInt is refused, as JSON.stringify refuses it (a snapshot could not hold it).
    let big = settings("");
    set(&big, "seed", &js_sys::BigInt::from(5u64).into());
    let message = message_of(JsTrainer::new(big, &data).err().unwrap());
    assert!(message.contains("not a plain object"), "{message}");
    // An object without a prototype is a plain object.
    let bare: JsValue =
        js_sys::Object::create(&JsValue::NULL.unchecked_into::<js_sys::Object>()).into();
    set(&bare, "n_hidden", &3.into());
    set(&bare, "batch_size", &2.into());
    assert!(JsTrainer::new(bare, &data).is_ok());
    // A getter that throws gives an error, and the data set stays usable.
    let throwing = js_sys::Function::new_no_args(
        "return { get n_hidden() { throw new Error('no settings here'); } };",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    assert!(JsTrainer::new(throwing, &data).is_err());
    assert!(JsTrainer::new(settings(""), &data).is_ok());

    // A snapshot whose settings hold a key that is not a setting is refused.
    let trainer = JsTrainer::new(settings(""), &data).unwrap();
    let native = rbm_lab::Trainer::from_snapshot(
        &trainer.snapshot().unwrap(),
        &rbm_lab::data::bars_and_stripes(3).unwrap().images,
    )
    .unwrap();
    let with_extra = rbm_lab::train::SettingsText {
        write: |config| {
            let mut value = serde_json::to_value(config).unwrap();
            value["bogus"] = 1.into();
            Ok(serde_json::to_vec(&value).unwrap())
        },
        read: rbm_lab::train::SettingsText::SERDE_JSON.read,
    };
    let bytes = native.to_snapshot_with(&with_extra).unwrap();
    let evaluation = trainer.evaluation_state().unwrap();
    let message = message_of(
        JsTrainer::from_snapshot(&bytes, &evaluation, &data)
            .err()
            .unwrap(),
    );
    assert!(message.contains("unknown field `bogus`"), "{message}");

    // A model file may hold any u64 seed: it crosses to the lab module and back whole.
    let file = r#"{"format": "rbm-lab-model", "version": 1, "n_visible": 2, "n_hidden": 1,
        "weights": [0.5, -0.25], "visible_bias": [0, 1], "hidden_bias": [2],
        "training": {"config": {"seed": 18446744073709551615}, "steps_done": 9007199254740992}}"#;
    let parts = read_model_json(file).unwrap();
    let again = write_model_json(JsRbm::from_parts(parts).unwrap().parts().unwrap()).unwrap();
    assert!(again.contains("\"seed\":18446744073709551615"), "{again}");
    assert!(again.contains("\"steps_done\":9007199254740992"), "{again}");

    // Parts: lengths are checked before anything is copied, values as a file's are.
    let parts = |weights: &[f32], shape: &str| {
        let parts = js_object(&format!(r#"{{"nVisible": 2, "nHidden": 1{shape}}}"#));
        set(
            &parts,
            "weights",
            &js_sys::Float32Array::from(weights).into(),
        );
        set(
            &parts,
            "visibleBias",
            &js_sys::Float32Array::from(&[0.0f32, 0.0][..]).into(),
        );
        set(
            &parts,
            "hiddenBias",
            &js_sys::Float32Array::from(&[0.0f32][..]).into(),
        );
        parts
    };
    assert!(JsRbm::from_parts(parts(&[0.5, 0.5], r#", "imageShape": [1, 2]"#)).is_ok());
    let message = message_of(JsRbm::from_parts(parts(&[0.0; 10], "")).err().unwrap());
    assert!(
        message.contains("weights has 10 values; a 2 x 1 model has 2"),
        "{message}"
    );
    let message = message_of(JsRbm::from_parts(parts(&[1e6, 0.0], "")).err().unwrap());
    assert!(message.contains("larger in magnitude than"), "{message}");
    let message = message_of(
        JsRbm::from_parts(parts(&[f32::NAN, 0.0], ""))
            .err()
            .unwrap(),
    );
    assert!(message.contains("weights"), "{message}");
    let message = message_of(
        JsRbm::from_parts(parts(&[0.5, 0.5], r#", "imageShape": [1, 2, 3]"#))
            .err()
            .unwrap(),
    );
    assert!(
        message.contains("imageShape is not [rows, cols]"),
        "{message}"
    );
    let message = message_of(JsRbm::from_parts(js_object("[1, 2]")).err().unwrap());
    assert!(
        message.contains("nVisible is not a whole number"),
        "{message}"
    );
}

/// The critic through the boundary: learning, sampling, completing, scoring, tables.
#[wasm_bindgen_test]
fn the_critics_work_through_the_boundary() {
    use rbm_lab::wasm::JsCritics;
    let corpus = rbm_lab::critics::built_in();
    let names: Vec<String> = corpus.iter().map(|c| c.name.clone()).collect();
    let texts: Vec<String> = corpus.iter().map(|c| c.training.join("\n")).collect();
    let mut critics = JsCritics::new(names.clone(), texts.clone(), 0.01, 7).unwrap();
    assert_eq!(critics.review_counts(), vec![40, 40]);
    let review = critics.sample(0.0, 0.5).unwrap();
    assert!(!review.is_empty() && review.len() <= rbm_lab::trigram::MAX_WORDS);
    let completed = critics.complete(1.0, "the plot", 0.5).unwrap();
    assert_eq!(completed[..2], ["the", "plot"]);
    let held_out: Vec<String> = corpus.iter().map(|c| c.held_out.join("\n")).collect();
    let score = critics.attribution_score(held_out).unwrap();
    assert_eq!(score, vec![17, 20], "the figure stated in the README");
    assert!(critics.attribute("a tedious waste of time").is_ok());
    assert!(critics.table(0.0, "<s>", "the").is_ok());
    assert!(critics.sample(2.0, 1.0).is_err());
    assert!(
        critics.sample(0.5, 1.0).is_err(),
        "1.7-style counts are refused"
    );
    let empty = JsCritics::new(
        names.clone(),
        vec![String::new(), texts[1].clone()],
        0.01,
        7,
    );
    assert!(message_of(empty.err().unwrap()).contains("no reviews to learn from"));
    assert!(
        message_of(JsCritics::new(names, texts, 0.0, 7).err().unwrap()).contains("smoothing_k")
    );
}

/// Using the model on pictures through the boundary: masks, completion, noise, cleaning, placement.
#[wasm_bindgen_test]
fn pictures_are_completed_cleaned_and_placed_through_the_boundary() {
    let data = JsDataset::bars_and_stripes(4.0).unwrap();
    let mut trainer =
        JsTrainer::new(js_object(r#"{"n_hidden": 8, "batch_size": 10}"#), &data).unwrap();
    trainer.steps(200.0).unwrap();
    let mask = trainer.half_mask("top").unwrap();
    assert_eq!(mask.iter().filter(|&&k| k == 0).count(), 8);
    let picture: serde_json::Value =
        serde_wasm_bindgen::from_value(trainer.picture(true, 3.0).unwrap()).unwrap();
    assert_eq!(picture["heldOut"], false, "bars keep no pictures aside");
    let image: Vec<f32> = picture["pixels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    trainer
        .start_completion(&image, &mask, 4.0, 10.0, 1)
        .unwrap();
    trainer.advance_completion(40.0, 1.0).unwrap();
    let state: serde_json::Value =
        serde_wasm_bindgen::from_value(trainer.completion_state().unwrap()).unwrap();
    assert_eq!(state["steps"], 40);
    assert_eq!(state["states"].as_array().unwrap().len(), 4 * 16);
    let noisy = trainer.flip_pixels(&image, 0.25, 2).unwrap();
    assert_eq!(noisy.iter().zip(&image).filter(|(a, b)| a != b).count(), 4);
    assert_eq!(
        trainer.denoise(&noisy, 0.25, "meanfield", 3).unwrap().len(),
        16
    );
    assert!(
        message_of(trainer.denoise(&noisy, 0.25, "median", 3).err().unwrap())
            .contains("\"meanfield\" or \"anneal\"")
    );
    let placement: serde_json::Value =
        serde_wasm_bindgen::from_value(trainer.place(&image).unwrap()).unwrap();
    assert!(placement["log_probability"].as_f64().unwrap() < 0.0);
    // Bad input: a drawing of the wrong size, masks that hide all or nothing.
    assert!(message_of(
        trainer
            .start_completion(&image[..9], &mask[..9], 4.0, 10.0, 1)
            .err()
            .unwrap()
    )
    .contains("9 pixels"));
    assert!(message_of(
        trainer
            .start_completion(&image, &[1; 16], 4.0, 10.0, 1)
            .err()
            .unwrap()
    )
    .contains("hides no pixel"));
    assert!(message_of(
        trainer
            .start_completion(&image, &[0; 16], 4.0, 10.0, 1)
            .err()
            .unwrap()
    )
    .contains("hides every pixel"));
    assert!(trainer
        .start_completion(&image, &mask, 1.5, 10.0, 1)
        .is_err());
}

/// AIS through the boundary: the estimate belongs to the model it started on, even when
/// training moves on while it runs (its log-likelihood is that model's, not the newer
/// one's). 4 x 4 bars and stripes, 6 hidden units: the exact value is at hand, and AIS
/// with 200 runs and 1,000 temperatures is within a few hundredths of it (its standard
/// error is about 0.01 here), while 3,000 more updates move the exact value by more than 1.
#[wasm_bindgen_test]
fn an_ais_point_belongs_to_the_model_it_started_on() {
    let data = JsDataset::bars_and_stripes(4.0).unwrap();
    let config = r#"{"n_hidden": 6, "algorithm": "cd", "k": 1, "learning_rate": 0.1, "batch_size": 10, "seed": 2}"#;
    let mut trainer = JsTrainer::new(js_object(config), &data).unwrap();
    trainer.steps(10.0).unwrap();
    let started_on = trainer.mean_log_likelihood(&data).unwrap();
    trainer.start_ais(200.0, 1000.0).unwrap();
    trainer.steps(3000.0).unwrap();
    let moved_to = trainer.mean_log_likelihood(&data).unwrap();
    assert!(
        (moved_to - started_on).abs() > 1.0,
        "{started_on} -> {moved_to}"
    );
    let point = loop {
        let p = trainer.advance_ais(1e7).unwrap();
        if !p.is_undefined() {
            break p;
        }
    };
    let point: serde_json::Value = serde_wasm_bindgen::from_value(point).unwrap();
    let estimate = point["log_likelihood_train"].as_f64().unwrap();
    let error = point["standard_error"].as_f64().unwrap();
    assert_eq!(point["step"].as_f64().unwrap(), 10.0);
    assert!(
        (estimate - started_on).abs() <= 3.0 * error + 0.02,
        "AIS {estimate} ± {error}, exact {started_on}, later {moved_to}"
    );
}

/// An AIS estimate sent to the page's AIS helper (`aisTask`, the `helper` module's
/// `AisRun`, `acceptAis`) gives the same point as in place, to the bit, even after
/// training moved on; taken back with `aisHere`, it is computed here from its start.
/// Meanwhile `advanceAis` refuses, and a damaged answer is refused with the job kept.
#[wasm_bindgen_test]
fn an_ais_estimate_computed_by_a_helper_equals_the_one_in_place() {
    let data = JsDataset::bars_and_stripes(4.0).unwrap();
    let config = r#"{"n_hidden": 6, "algorithm": "cd", "k": 1, "learning_rate": 0.1, "batch_size": 10, "seed": 3}"#;
    let trainer = || {
        let mut trainer = JsTrainer::new(js_object(config), &data).unwrap();
        trainer.steps(20.0).unwrap();
        trainer.start_ais(60.0, 300.0).unwrap();
        trainer
    };
    let in_place = |trainer: &mut JsTrainer| loop {
        let p = trainer.advance_ais(1e6).unwrap();
        if !p.is_undefined() {
            break serde_wasm_bindgen::from_value::<serde_json::Value>(p).unwrap();
        }
    };
    let mut here = trainer();
    let expected = in_place(&mut here);

    let mut sent = trainer();
    let task = sent.ais_task().unwrap();
    assert!(sent.ais_away() && sent.ais_running());
    assert!(message_of(sent.advance_ais(1e6).unwrap_err()).contains("another worker"));
    sent.steps(50.0).unwrap();
    let mut run = rbm_lab::wasm::JsAisRun::new(&task).unwrap();
    assert!(run.result().is_err());
    while !run.advance(1e6) {}
    let answer = run.result().unwrap();
    let mut damaged = answer.clone();
    damaged[24..32].copy_from_slice(&f64::NAN.to_le_bytes());
    assert!(message_of(sent.accept_ais(&damaged).unwrap_err()).contains("not a finite log Z"));
    assert!(sent.ais_away());
    let point =
        serde_wasm_bindgen::from_value::<serde_json::Value>(sent.accept_ais(&answer).unwrap())
            .unwrap();
    assert_eq!(point, expected);
    assert!(!sent.ais_running());
    assert!(message_of(sent.accept_ais(&answer).unwrap_err()).contains("no AIS estimate"));

    let mut taken_back = trainer();
    taken_back.ais_task().unwrap();
    taken_back.ais_here();
    assert!(!taken_back.ais_away());
    assert_eq!(in_place(&mut taken_back), expected);
    assert!(rbm_lab::wasm::JsAisRun::new(&task[..task.len() - 4]).is_err());
}

/// Exact log Z in pieces through the boundary, in 32-bit wasm: a 784 x 20 model's 64
/// pieces shared between `LogPartitionJob.compute` here and the `helper` module's
/// `logPartitionTask` (the lab's worker and a helper) give `logPartition`'s bits; a
/// damaged answer, a range outside the job and a β out of the engine's range are refused by name.
#[wasm_bindgen_test]
fn log_z_shared_with_a_helper_equals_the_one_in_place() {
    // Weights of a trained model's size (±0.1), with a deterministic spread.
    let values = |count: usize, scale: f32| -> Vec<f32> {
        (0..count)
            .map(|i| scale * (((i as f32) * 0.754_877_7).fract() - 0.5))
            .collect()
    };
    let parts = js_object(r#"{"nVisible": 784, "nHidden": 20}"#);
    for (key, array) in [
        ("weights", values(784 * 20, 0.2)),
        ("visibleBias", values(784, 4.0)),
        ("hiddenBias", values(20, 1.0)),
    ] {
        js_sys::Reflect::set(&parts, &key.into(), &js_sys::Float32Array::from(&array[..])).unwrap();
    }
    let rbm = JsRbm::from_parts(parts).unwrap();
    let whole = rbm.log_partition(1.0).unwrap();
    let mut job = rbm.log_partition_job(1.0).unwrap();
    assert_eq!(job.pieces(), 64);
    assert!(
        job.piece_flops() > 1e7 && job.piece_flops() < 1e8,
        "{}",
        job.piece_flops()
    );
    for (start, end) in [(0, 10), (10, 31), (31, 40), (40, 64)] {
        if start % 20 == 0 {
            job.compute(start, end).unwrap();
        } else {
            let answer =
                rbm_lab::wasm::log_partition_task(&job.task_bytes(start, end).unwrap()).unwrap();
            if start == 10 {
                let mut damaged = answer.clone();
                damaged[32..40].copy_from_slice(&f64::INFINITY.to_le_bytes());
                assert!(message_of(job.accept(&damaged).unwrap_err()).contains("out of range"));
                assert_eq!(job.next_missing(), Some(10));
            }
            job.accept(&answer).unwrap();
        }
        assert_eq!(job.value().is_some(), end == 64);
    }
    assert_eq!(job.value().unwrap().to_bits(), whole.to_bits());
    assert!(
        message_of(job.compute(60, 65).unwrap_err()).contains("not a range of the job's 64 pieces")
    );
    assert!(message_of(rbm.log_partition_job(11.0).err().unwrap()).contains("beta"));
}

/// A point of the learning curves computed by the background helper (`evaluationTask`
/// and `evaluationData`, the `helper` module's `EvaluationData` and `EvaluationRun`,
/// `acceptEvaluation`) equals the point in place, to the bit, after training moved on;
/// taken back with `evaluationHere` it is computed here. The rows' id changes with the
/// held-out set; damaged sums are refused with the job kept.
#[wasm_bindgen_test]
fn an_evaluation_computed_by_a_helper_equals_the_one_in_place() {
    use rbm_lab::wasm::{JsEvaluationData, JsEvaluationRun};
    let data = JsDataset::bars_and_stripes(4.0).unwrap();
    let config = r#"{"n_hidden": 6, "algorithm": "cd", "k": 1, "learning_rate": 0.1, "batch_size": 10, "seed": 4}"#;
    let trainer = || {
        let mut trainer = JsTrainer::new(js_object(config), &data).unwrap();
        trainer.set_held_out(&data).unwrap();
        trainer.steps(20.0).unwrap();
        trainer.start_evaluation().unwrap();
        trainer
    };
    let value = |point: wasm_bindgen::JsValue| {
        serde_wasm_bindgen::from_value::<serde_json::Value>(point).unwrap()
    };
    let mut here = trainer();
    let expected = loop {
        let p = here.advance_evaluation(1e4).unwrap();
        if !p.is_undefined() {
            break value(p);
        }
    };
    assert!(expected["log_likelihood_train"].is_number(), "{expected}");

    let mut sent = trainer();
    let id = sent.evaluation_data_id();
    let rows = JsEvaluationData::new(&sent.evaluation_data().unwrap()).unwrap();
    let task = sent.evaluation_task().unwrap();
    assert!(sent.evaluation_away());
    assert!(message_of(sent.advance_evaluation(1e4).unwrap_err()).contains("another worker"));
    sent.steps(30.0).unwrap();
    let mut run = JsEvaluationRun::new(&task, &rows).unwrap();
    assert!(run.sums().is_err());
    while !run.advance(&rows, 1e4).unwrap() {}
    let sums = run.sums().unwrap();
    let mut damaged = sums.clone();
    damaged[16..24].copy_from_slice(&f64::NAN.to_le_bytes());
    assert!(message_of(sent.accept_evaluation(&damaged).unwrap_err()).contains("out of range"));
    assert!(sent.evaluation_away());
    assert_eq!(value(sent.accept_evaluation(&sums).unwrap()), expected);
    assert!(!sent.evaluation_running());
    assert!(message_of(sent.accept_evaluation(&sums).unwrap_err()).contains("no evaluation"));
    sent.set_held_out(&data).unwrap();
    assert_ne!(sent.evaluation_data_id(), id, "new rows, a new id");

    let mut taken_back = trainer();
    taken_back.evaluation_task().unwrap();
    taken_back.evaluation_here();
    let point = loop {
        let p = taken_back.advance_evaluation(1e4).unwrap();
        if !p.is_undefined() {
            break value(p);
        }
    };
    assert_eq!(point, expected);
    assert!(JsEvaluationRun::new(&task[..task.len() - 1], &rows).is_err());
}
