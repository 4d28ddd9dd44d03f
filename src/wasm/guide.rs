//! The `guide` module (see `mod.rs`), for the guide page: its tiny models cross
//! as plain objects `{nVisible, nHidden, weights, visibleBias, hiddenBias}` (weights
//! row-major, `nVisible x nHidden`), and every result comes back as a plain object or
//! array. Everything the guide shows is computed here, by [`crate::guide`].

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::{count_in, js_error, to_js};
use crate::error::RbmError;
use crate::guide::{self, ChainWalk, GradientTerms};
use crate::linalg::Matrix;
use crate::model::Rbm;

/// A tiny model as it crosses the boundary.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TinyParams {
    n_visible: f64,
    n_hidden: f64,
    weights: Vec<f32>,
    visible_bias: Vec<f32>,
    hidden_bias: Vec<f32>,
}

impl TinyParams {
    fn of(rbm: &Rbm) -> Self {
        TinyParams {
            n_visible: rbm.n_visible() as f64,
            n_hidden: rbm.n_hidden() as f64,
            weights: rbm.weights().to_vec(),
            visible_bias: rbm.visible_bias().to_vec(),
            hidden_bias: rbm.hidden_bias().to_vec(),
        }
    }
}

/// The guide's models are tiny: at most 16 units a layer.
fn tiny(params: JsValue) -> Result<Rbm, JsError> {
    let p: TinyParams = serde_wasm_bindgen::from_value(params)
        .map_err(|e| JsError::new(&format!("a tiny model: {e}")))?;
    let units = |what: &str, x: f64| count_in(what, x, 1, guide::MAX_VISIBLE_STATES_UNITS);
    let (m, n) = (
        units("nVisible", p.n_visible)?,
        units("nHidden", p.n_hidden)?,
    );
    Rbm::from_parts(m, n, p.weights, p.visible_bias, p.hidden_bias).map_err(js_error)
}

fn rows_of(values: &[f32], width: usize) -> Result<Matrix, JsError> {
    if !values.len().is_multiple_of(width) {
        return Err(js_error(RbmError::Shape(format!(
            "{} values are not whole patterns of {width} pixels",
            values.len()
        ))));
    }
    Matrix::from_vec(values.len() / width, width, values.to_vec())
        .ok_or_else(|| JsError::new("pattern count mismatch"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    energy: Vec<f64>,
    probability: Vec<f64>,
    log_partition: f64,
    visible_marginal: Vec<f64>,
}

/// Every joint state's energy and probability (row `v · 2^n + h`), `log Z` and `p(v)`.
#[wasm_bindgen(js_name = guideJointTable)]
pub fn joint_table(params: JsValue) -> Result<JsValue, JsError> {
    let table = guide::joint_table(&tiny(params)?).map_err(js_error)?;
    to_js(&Table {
        energy: table.energy,
        probability: table.probability,
        log_partition: table.log_partition,
        visible_marginal: table.visible_marginal,
    })
}

/// `c_j + Σ_i v_i W_ij` for each hidden unit, its sigmoid `p(h_j = 1 | v)`, and the
/// same probability read off the joint table: `Σ_h p(v, h) h_j / p(v)`.
#[wasm_bindgen(js_name = guideHiddenInputs)]
pub fn hidden_inputs(params: JsValue, visible: &[f32]) -> Result<JsValue, JsError> {
    let rbm = tiny(params)?;
    let inputs = guide::hidden_inputs(&rbm, visible).map_err(js_error)?;
    let probability: Vec<f64> = inputs
        .iter()
        .map(|&x| f64::from(crate::mathfn::sigmoid(x as f32)))
        .collect();
    let table = guide::joint_table(&rbm).map_err(js_error)?;
    let hidden_states = 1usize << rbm.n_hidden();
    let v = visible
        .iter()
        .enumerate()
        .filter(|(_, &x)| x != 0.0)
        .fold(0usize, |s, (i, _)| s | (1 << i));
    let row = &table.probability[v * hidden_states..(v + 1) * hidden_states];
    let p_v: f64 = row.iter().sum();
    let from_table: Vec<f64> = (0..rbm.n_hidden())
        .map(|j| {
            row.iter()
                .enumerate()
                .filter(|(h, _)| h & (1 << j) != 0)
                .map(|(_, p)| p)
                .sum::<f64>()
                / p_v
        })
        .collect();
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Inputs {
        input: Vec<f64>,
        probability: Vec<f64>,
        from_table: Vec<f64>,
        visible_probability: f64,
    }
    to_js(&Inputs {
        input: inputs,
        probability,
        from_table,
        visible_probability: p_v,
    })
}

/// The logistic sigmoid at each of `xs`, for drawing its curve.
#[wasm_bindgen(js_name = guideSigmoid)]
pub fn sigmoid(xs: &[f64]) -> Vec<f64> {
    xs.iter()
        .map(|&x| f64::from(crate::mathfn::sigmoid(x as f32)))
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Terms {
    data: Vec<f64>,
    model: Vec<f64>,
    difference: Vec<f64>,
    log_likelihood: f64,
}

impl Terms {
    fn of(terms: &GradientTerms) -> Self {
        Terms {
            difference: terms.weights(),
            data: terms.data.clone(),
            model: terms.model.clone(),
            log_likelihood: terms.log_likelihood,
        }
    }
}

/// The data term, the model term and their difference for the weights (each
/// `nVisible x nHidden`), and the exact mean log-likelihood of the patterns.
#[wasm_bindgen(js_name = guideGradient)]
pub fn gradient(params: JsValue, patterns: &[f32]) -> Result<JsValue, JsError> {
    let rbm = tiny(params)?;
    let data = rows_of(patterns, rbm.n_visible())?;
    to_js(&Terms::of(
        &guide::gradient_terms(&rbm, &data).map_err(js_error)?,
    ))
}

/// One exact gradient step at `rate`: the new model, the terms it used, and the exact
/// mean log-likelihood after it.
#[wasm_bindgen(js_name = guideGradientStep)]
pub fn gradient_step(params: JsValue, patterns: &[f32], rate: f32) -> Result<JsValue, JsError> {
    let rbm = tiny(params)?;
    let data = rows_of(patterns, rbm.n_visible())?;
    let (next, terms) = guide::gradient_step(&rbm, &data, rate).map_err(js_error)?;
    let after = crate::exact::mean_log_likelihood(&next, &data).map_err(js_error)?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Step {
        params: TinyParams,
        terms: Terms,
        log_likelihood_after: f64,
    }
    to_js(&Step {
        params: TinyParams::of(&next),
        terms: Terms::of(&terms),
        log_likelihood_after: after,
    })
}

/// `p(v_i = 1 | clamped pixels)` for every pixel; `clamp[i]` is 0, 1 or -1 (free).
#[wasm_bindgen(js_name = guideClamped)]
pub fn clamped(params: JsValue, clamp: &[i8]) -> Result<Vec<f64>, JsError> {
    guide::clamped_marginals(&tiny(params)?, clamp).map_err(js_error)
}

/// One block-Gibbs chain on a tiny model whose weights are scaled by `scale`.
#[wasm_bindgen(js_name = GuideChain)]
pub struct JsGuideChain {
    chain: ChainWalk,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChainState<'a> {
    visible: &'a [f32],
    hidden: &'a [f32],
    visible_prob: &'a [f32],
    hidden_prob: &'a [f32],
    hidden_next: bool,
    steps: f64,
    frequencies: Vec<f64>,
    exact: &'a [f64],
    total_variation: f64,
}

#[wasm_bindgen(js_class = GuideChain)]
impl JsGuideChain {
    #[wasm_bindgen(constructor)]
    pub fn new(
        params: JsValue,
        scale: f32,
        start: f64,
        seed: f64,
    ) -> Result<JsGuideChain, JsError> {
        let rbm = guide::scale_weights(&tiny(params)?, scale).map_err(js_error)?;
        let start = count_in("start", start, 0, u32::MAX as usize)?;
        let seed = count_in("seed", seed, 0, u32::MAX as usize)?;
        Ok(JsGuideChain {
            chain: ChainWalk::new(rbm, start, seed as u64).map_err(js_error)?,
        })
    }

    /// One half step (the hidden layer, then the visible layer, alternately).
    #[wasm_bindgen(js_name = halfStep)]
    pub fn half_step(&mut self) {
        self.chain.half_step();
    }

    /// `count` full steps (at most a million a call).
    pub fn run(&mut self, count: f64) -> Result<(), JsError> {
        let count = count_in("steps", count, 0, 1_000_000)?;
        self.chain.run(count);
        Ok(())
    }

    /// The state, the visit frequencies beside the exact `p(v)`, and their distance.
    pub fn state(&self) -> Result<JsValue, JsError> {
        let c = &self.chain;
        to_js(&ChainState {
            visible: c.visible(),
            hidden: c.hidden(),
            visible_prob: c.visible_prob(),
            hidden_prob: c.hidden_prob(),
            hidden_next: c.hidden_next(),
            steps: c.steps() as f64,
            frequencies: c.frequencies(),
            exact: c.exact(),
            total_variation: c.total_variation(),
        })
    }

    /// How alike the state is to the state `lag` steps earlier, for lags 0 to `max_lag`.
    pub fn autocorrelation(&self, max_lag: f64) -> Result<Vec<f64>, JsError> {
        let lags = count_in("lags", max_lag, 0, 1000)?;
        Ok(self.chain.autocorrelation(lags))
    }
}
