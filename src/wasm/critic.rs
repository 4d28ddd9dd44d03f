//! The `critic` module: the article's first example, two critics' five-word reviews
//! and a trigram model of each (see `trigram.rs` and `critics.rs`).

use wasm_bindgen::prelude::*;

use super::{js_error, to_js};
use crate::critics::{self, Critic};
use crate::rng::{self, Rng};
use crate::trigram::{self, TrigramModel};

/// Critic number `which` (a JS number) of `models`.
fn pick(models: &[TrigramModel], which: f64) -> Result<&TrigramModel, JsError> {
    crate::size::from_js_number(which)
        .and_then(|i| models.get(i))
        .ok_or_else(|| JsError::new(&format!("no critic number {which}")))
}

/// The critic: one trigram model per critic over a shared vocabulary (see `trigram.rs`).
#[wasm_bindgen(js_name = Critics)]
pub struct JsCritics {
    names: Vec<String>,
    models: Vec<TrigramModel>,
    rng: Rng,
}

#[derive(serde::Serialize)]
struct CorpusOut {
    name: String,
    training: Vec<String>,
    held_out: Vec<String>,
}

#[wasm_bindgen(js_class = Critics)]
impl JsCritics {
    /// The built-in corpus: `[{name, training, held_out}]`, reviews as written.
    #[wasm_bindgen(js_name = builtInCorpus)]
    pub fn built_in_corpus() -> Result<JsValue, JsError> {
        let out: Vec<CorpusOut> = critics::built_in()
            .into_iter()
            .map(|c| CorpusOut {
                name: c.name,
                training: c.training,
                held_out: c.held_out,
            })
            .collect();
        to_js(&out)
    }

    /// Models of the critics named `names`, learned from `reviews` (one text per critic,
    /// one review per line), with smoothing `k`; the sampler's generator is seeded.
    #[wasm_bindgen(constructor)]
    pub fn new(
        names: Vec<String>,
        reviews: Vec<String>,
        k: f64,
        seed: u32,
    ) -> Result<JsCritics, JsError> {
        if names.len() != reviews.len() || names.is_empty() {
            return Err(JsError::new("one text of reviews is needed per critic"));
        }
        let corpus: Vec<Critic> = names
            .iter()
            .zip(&reviews)
            .map(|(name, text)| Critic {
                name: name.clone(),
                training: text.lines().map(str::to_string).collect(),
                held_out: Vec::new(),
            })
            .collect();
        let models = critics::train_models(&corpus, k).map_err(js_error)?;
        Ok(JsCritics {
            names,
            models,
            rng: rng::seeded(u64::from(seed)),
        })
    }

    fn model(&self, which: f64) -> Result<&TrigramModel, JsError> {
        pick(&self.models, which)
    }

    /// The shared vocabulary, sorted.
    pub fn vocabulary(&self) -> Vec<String> {
        self.models[0].vocabulary().words().to_vec()
    }

    /// Reviews each model learned from.
    #[wasm_bindgen(js_name = reviewCounts)]
    pub fn review_counts(&self) -> Vec<u32> {
        self.models.iter().map(|m| m.reviews() as u32).collect()
    }

    /// Critic `which`'s table for the context `first second` (either may be "<s>"),
    /// each word read as reviews are (lower case, punctuation dropped).
    pub fn table(&self, which: f64, first: &str, second: &str) -> Result<JsValue, JsError> {
        let word = |w: &str| {
            if w == trigram::START {
                w.to_string()
            } else {
                trigram::tokenize(w)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| w.to_lowercase())
            }
        };
        to_js(&self.model(which)?.table(&word(first), &word(second)))
    }

    /// A new review by critic `which`, as words.
    pub fn sample(&mut self, which: f64, temperature: f64) -> Result<Vec<String>, JsError> {
        pick(&self.models, which)?
            .sample(temperature, &mut self.rng)
            .map_err(js_error)
    }

    /// The words of `text` followed by critic `which`'s continuation.
    pub fn complete(
        &mut self,
        which: f64,
        text: &str,
        temperature: f64,
    ) -> Result<Vec<String>, JsError> {
        let words = trigram::tokenize(text);
        if words.is_empty() {
            return Err(JsError::new(
                "there are no words to complete: type the first word or two of a review",
            ));
        }
        pick(&self.models, which)?
            .complete(&words, temperature, &mut self.rng)
            .map_err(js_error)
    }

    /// `text` scored by every critic, and the log-likelihood ratio of the first two:
    /// `{scores: [{log_probability, perplexity, words, unknown}], ratio}`.
    pub fn attribute(&self, text: &str) -> Result<JsValue, JsError> {
        #[derive(serde::Serialize)]
        struct Attribution {
            scores: Vec<trigram::Score>,
            ratio: f64,
        }
        let review = trigram::tokenize(text);
        let scores = self
            .models
            .iter()
            .map(|m| m.score(&review))
            .collect::<crate::Result<Vec<_>>>()
            .map_err(js_error)?;
        let ratio = scores[0].log_probability - scores.get(1).map_or(0.0, |s| s.log_probability);
        to_js(&Attribution { scores, ratio })
    }

    /// How many of `reviews[c]` (one text per critic, one review per line) the models
    /// attribute to critic c: `[right, total]`.
    #[wasm_bindgen(js_name = attributionScore)]
    pub fn attribution_score(&self, reviews: Vec<String>) -> Result<Vec<u32>, JsError> {
        let (mut right, mut total) = (0u32, 0u32);
        for (who, text) in reviews.iter().enumerate().take(self.models.len()) {
            for review in text
                .lines()
                .map(trigram::tokenize)
                .filter(|r| !r.is_empty())
            {
                let logs: Vec<f64> = self
                    .models
                    .iter()
                    .map(|m| m.score(&review).map(|s| s.log_probability))
                    .collect::<crate::Result<Vec<_>>>()
                    .map_err(js_error)?;
                let best = (0..logs.len())
                    .max_by(|&a, &b| logs[a].total_cmp(&logs[b]))
                    .unwrap_or(0);
                right += u32::from(best == who);
                total += 1;
            }
        }
        Ok(vec![right, total])
    }

    /// The critics' names, as given.
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }
}
