//! A trigram model of short texts (the article's movie critic): each word given the two
//! before it, with add-k smoothing.
//!
//! A review `w_1 … w_n` is read as `<s> <s> w_1 … w_n </s>`, and its probability is the
//! chain rule written with a trigram table:
//! `P(w_1 … w_n) = Π_{i=1}^{n+1} P(w_i | w_{i-2}, w_{i-1})`, with `w_{-1} = w_0 = <s>` and
//! `w_{n+1} = </s>`. The table is **shared by every position**: the same
//! `P(w | u, v)` serves the third word and the fifth. A per-position table (the
//! article's drawing, `P(X_3 | X_1, X_2)` apart from `P(X_5 | X_3, X_4)`) would split a
//! few dozen reviews into five tables of a few dozen counts each, and could not score a
//! review of another length; the start tokens still give the first two words contexts
//! of their own.
//!
//! With counts `c`, smoothing `k > 0` and `W` the possible next tokens (every word of
//! the vocabulary, `</s>` and the unknown token `<unk>`):
//! `P(w | u, v) = (c(u, v, w) + k) / (c(u, v) + k |W|)`, so every token is possible in
//! every context, and a context never seen gives every token `1 / |W|`. Words outside
//! the vocabulary are read as `<unk>`, and a score says which were.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::error::{RbmError, Result};
use crate::limits;
use crate::rng::{self, Rng};

/// Most words a sampled review or a completion may have before it is cut off.
pub const MAX_WORDS: usize = 30;
/// Most distinct words a vocabulary may hold, and most words in a review to score.
pub const MAX_VOCABULARY: usize = 5000;
pub const MAX_REVIEW_WORDS: usize = 200;

/// How the page and messages show the special tokens.
pub const START: &str = "<s>";
pub const END: &str = "</s>";
pub const UNKNOWN: &str = "<unk>";

/// Splits text into lower-case words: letters, digits, apostrophes and hyphens inside a
/// word are kept, everything else separates words.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words a model knows, in a fixed order. Token ids: the words are `0..len`, then
/// `</s>`, `<unk>` and (in contexts only) `<s>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocabulary {
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocabulary {
    /// The distinct words of `reviews`, sorted.
    pub fn from_reviews<'a>(reviews: impl IntoIterator<Item = &'a [String]>) -> Result<Self> {
        let mut words: Vec<String> = reviews.into_iter().flatten().cloned().collect();
        words.sort();
        words.dedup();
        if words.len() > MAX_VOCABULARY {
            return Err(RbmError::Data(format!(
                "the reviews use {} distinct words; at most {MAX_VOCABULARY} are allowed",
                words.len()
            )));
        }
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Ok(Vocabulary { words, index })
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    fn end(&self) -> u32 {
        self.words.len() as u32
    }

    fn unknown(&self) -> u32 {
        self.words.len() as u32 + 1
    }

    fn start(&self) -> u32 {
        self.words.len() as u32 + 2
    }

    /// The possible next tokens: every word, `</s>` and `<unk>`.
    fn outcomes(&self) -> usize {
        self.words.len() + 2
    }

    /// A word's token, or `<unk>`.
    fn token(&self, word: &str) -> u32 {
        match word {
            START => self.start(),
            END => self.end(),
            _ => self.index.get(word).copied().unwrap_or(self.unknown()),
        }
    }

    /// A context word's token: `<s>` is allowed there.
    fn context_token(&self, word: &str) -> u32 {
        self.token(word)
    }

    fn name(&self, token: u32) -> &str {
        match token {
            t if t == self.end() => END,
            t if t == self.unknown() => UNKNOWN,
            t if t == self.start() => START,
            t => &self.words[t as usize],
        }
    }
}

/// One word's part in a score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WordScore {
    /// The word as written (or `</s>` for the end).
    pub word: String,
    /// False when the vocabulary does not have it (it was scored as `<unk>`).
    pub known: bool,
    /// `log P(word | the two before)`, in nats.
    pub log_probability: f64,
}

/// How likely a review is under a model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    /// `log P(review)`, in nats, the end token included.
    pub log_probability: f64,
    /// `exp(-log P / (words + 1))`: the per-prediction perplexity (the end is a prediction).
    pub perplexity: f64,
    /// Every prediction, the end token last.
    pub words: Vec<WordScore>,
    /// The words the model does not know, in order, once each.
    pub unknown: Vec<String>,
}

/// One row of a context's table, for showing it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub word: String,
    pub count: u32,
    pub probability: f64,
}

/// A context's whole table: its count and every possible next token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    /// How often the context occurs in the training reviews (0: never seen).
    pub count: u32,
    pub entries: Vec<Entry>,
}

/// A trigram model trained on some reviews. See the module's documentation.
#[derive(Clone, Debug)]
pub struct TrigramModel {
    vocabulary: Vocabulary,
    k: f64,
    /// `(u, v) -> (w -> c(u, v, w))`, and `(u, v) -> c(u, v)`.
    counts: BTreeMap<(u32, u32), BTreeMap<u32, u32>>,
    context_counts: BTreeMap<(u32, u32), u32>,
    reviews: usize,
}

impl TrigramModel {
    /// Counts the trigrams of `reviews` (each a list of words) over `vocabulary`, with
    /// smoothing `k`. Words outside the vocabulary are counted as `<unk>`.
    pub fn train(reviews: &[Vec<String>], vocabulary: &Vocabulary, k: f64) -> Result<Self> {
        limits::check_engine("smoothing_k", k)?;
        let reviews: Vec<&Vec<String>> = reviews.iter().filter(|r| !r.is_empty()).collect();
        if reviews.is_empty() {
            return Err(RbmError::Data(
                "there are no reviews to learn from: write at least one".into(),
            ));
        }
        let mut model = TrigramModel {
            vocabulary: vocabulary.clone(),
            k,
            counts: BTreeMap::new(),
            context_counts: BTreeMap::new(),
            reviews: reviews.len(),
        };
        for review in reviews {
            if review.len() > MAX_REVIEW_WORDS {
                return Err(RbmError::Data(format!(
                    "a review of {} words is longer than the {MAX_REVIEW_WORDS} allowed",
                    review.len()
                )));
            }
            let tokens = model.tokens(review);
            for window in tokens.windows(3) {
                let context = (window[0], window[1]);
                *model
                    .counts
                    .entry(context)
                    .or_default()
                    .entry(window[2])
                    .or_default() += 1;
                *model.context_counts.entry(context).or_default() += 1;
            }
        }
        Ok(model)
    }

    /// `<s> <s> w_1 … w_n </s>` as tokens.
    fn tokens(&self, review: &[String]) -> Vec<u32> {
        let v = &self.vocabulary;
        let mut tokens = vec![v.start(), v.start()];
        tokens.extend(review.iter().map(|w| v.token(w)));
        tokens.push(v.end());
        tokens
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    pub fn k(&self) -> f64 {
        self.k
    }

    /// Reviews the model learned from.
    pub fn reviews(&self) -> usize {
        self.reviews
    }

    fn count(&self, context: (u32, u32), next: u32) -> u32 {
        self.counts
            .get(&context)
            .and_then(|row| row.get(&next))
            .copied()
            .unwrap_or(0)
    }

    fn probability_of(&self, context: (u32, u32), next: u32) -> f64 {
        let total = self.context_counts.get(&context).copied().unwrap_or(0);
        (f64::from(self.count(context, next)) + self.k)
            / (f64::from(total) + self.k * self.vocabulary.outcomes() as f64)
    }

    /// `P(next | first, second)`; words outside the vocabulary are `<unk>`, `<s>` may
    /// stand in the context and `</s>` as `next`.
    pub fn probability(&self, first: &str, second: &str, next: &str) -> f64 {
        let v = &self.vocabulary;
        self.probability_of(
            (v.context_token(first), v.context_token(second)),
            v.token(next),
        )
    }

    /// The table of the context `first second` (either may be `<s>`): every possible
    /// next token with its count and probability, most probable first.
    pub fn table(&self, first: &str, second: &str) -> Table {
        let v = &self.vocabulary;
        let context = (v.context_token(first), v.context_token(second));
        let mut entries: Vec<Entry> = (0..v.outcomes() as u32)
            .map(|t| Entry {
                word: v.name(t).to_string(),
                count: self.count(context, t),
                probability: self.probability_of(context, t),
            })
            .collect();
        entries.sort_by(|a, b| {
            b.probability
                .total_cmp(&a.probability)
                .then(a.word.cmp(&b.word))
        });
        Table {
            count: self.context_counts.get(&context).copied().unwrap_or(0),
            entries,
        }
    }

    /// The sampler's distribution of the next token after `context`: the table without
    /// `<unk>` (a sampled review shows words, not the unknown token), raised to the
    /// power `1 / temperature` and renormalised. Token order, as `sample` draws.
    pub fn sampling_distribution(
        &self,
        first: &str,
        second: &str,
        temperature: f64,
    ) -> Result<Vec<(String, f64)>> {
        limits::check_engine("temperature", temperature)?;
        let v = &self.vocabulary;
        let context = (v.context_token(first), v.context_token(second));
        Ok(self
            .sampling_weights(context, temperature)
            .into_iter()
            .enumerate()
            .map(|(t, p)| (v.name(t as u32).to_string(), p))
            .collect())
    }

    /// Probabilities over the words and `</s>` (token order), at `temperature`, computed
    /// in logs so that a small temperature cannot underflow.
    fn sampling_weights(&self, context: (u32, u32), temperature: f64) -> Vec<f64> {
        let outcomes = self.vocabulary.len() + 1; // the words and </s>, not <unk>
        let total = f64::from(self.context_counts.get(&context).copied().unwrap_or(0));
        let denominator = total + self.k * self.vocabulary.outcomes() as f64;
        let mut probabilities = vec![self.k / denominator; outcomes];
        if let Some(row) = self.counts.get(&context) {
            for (&token, &count) in row.range(..outcomes as u32) {
                probabilities[token as usize] = (f64::from(count) + self.k) / denominator;
            }
        }
        let weights: Vec<f64> = if temperature == 1.0 {
            probabilities
        } else {
            let logs: Vec<f64> = probabilities
                .iter()
                .map(|&p| libm::log(p) / temperature)
                .collect();
            let max = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            logs.iter().map(|l| libm::exp(l - max)).collect()
        };
        let sum: f64 = weights.iter().sum();
        weights.into_iter().map(|w| w / sum).collect()
    }

    /// A new review: words drawn one at a time from the tables at `temperature` (1 is the
    /// model itself, below 1 sharper, above 1 flatter), until `</s>` or [`MAX_WORDS`].
    pub fn sample(&self, temperature: f64, rng: &mut Rng) -> Result<Vec<String>> {
        self.complete(&[], temperature, rng)
    }

    /// `prefix` followed by words drawn as in [`TrigramModel::sample`], given the prefix.
    /// The prefix is kept as written (unknown words included).
    pub fn complete(
        &self,
        prefix: &[String],
        temperature: f64,
        rng: &mut Rng,
    ) -> Result<Vec<String>> {
        limits::check_engine("temperature", temperature)?;
        if prefix.len() >= MAX_WORDS {
            return Err(RbmError::setting(
                "words to complete",
                prefix.len(),
                format!("fewer than {MAX_WORDS}"),
            ));
        }
        let v = &self.vocabulary;
        let mut review: Vec<String> = prefix.to_vec();
        let mut context = {
            let tokens = self.tokens(prefix);
            (tokens[tokens.len() - 3], tokens[tokens.len() - 2])
        };
        while review.len() < MAX_WORDS {
            let token = self.draw(context, temperature, rng);
            if token == v.end() {
                break;
            }
            review.push(v.name(token).to_string());
            context = (context.1, token);
        }
        Ok(review)
    }

    /// One word (or `</s>`) drawn after `first second` at `temperature`: the step that
    /// [`TrigramModel::sample`] and [`TrigramModel::complete`] repeat.
    pub fn next_word(
        &self,
        first: &str,
        second: &str,
        temperature: f64,
        rng: &mut Rng,
    ) -> Result<String> {
        limits::check_engine("temperature", temperature)?;
        let v = &self.vocabulary;
        let token = self.draw(
            (v.context_token(first), v.context_token(second)),
            temperature,
            rng,
        );
        Ok(v.name(token).to_string())
    }

    /// Inverse-CDF draw from [`TrigramModel::sampling_weights`], one uniform number each.
    fn draw(&self, context: (u32, u32), temperature: f64, rng: &mut Rng) -> u32 {
        let weights = self.sampling_weights(context, temperature);
        let u = f64::from(rng::uniform(rng));
        let mut cumulative = 0.0;
        for (t, w) in weights.iter().enumerate() {
            cumulative += w;
            if u < cumulative {
                return t as u32;
            }
        }
        (weights.len() - 1) as u32
    }

    /// `log P(review)` with every prediction's share. A review with no words is refused.
    pub fn score(&self, review: &[String]) -> Result<Score> {
        if review.is_empty() {
            return Err(RbmError::Data(
                "there is nothing to score: write a review".into(),
            ));
        }
        if review.len() > MAX_REVIEW_WORDS {
            return Err(RbmError::Data(format!(
                "a review of {} words is longer than the {MAX_REVIEW_WORDS} allowed",
                review.len()
            )));
        }
        let v = &self.vocabulary;
        let tokens = self.tokens(review);
        let mut words = Vec::with_capacity(review.len() + 1);
        let mut unknown: Vec<String> = Vec::new();
        for (i, window) in tokens.windows(3).enumerate() {
            let word = review.get(i).map_or(END, |w| w.as_str());
            let known = window[2] != v.unknown();
            if !known && !unknown.iter().any(|u| u == word) {
                unknown.push(word.to_string());
            }
            words.push(WordScore {
                word: word.to_string(),
                known,
                log_probability: libm::log(self.probability_of((window[0], window[1]), window[2])),
            });
        }
        let log_probability: f64 = words.iter().map(|w| w.log_probability).sum();
        Ok(Score {
            log_probability,
            perplexity: libm::exp(-log_probability / words.len() as f64),
            words,
            unknown,
        })
    }
}

/// Which of two models a review reads like: `log P_a(review) - log P_b(review)`
/// (positive: more like `a`), with both scores.
pub fn log_likelihood_ratio(
    a: &TrigramModel,
    b: &TrigramModel,
    review: &[String],
) -> Result<(f64, Score, Score)> {
    let (score_a, score_b) = (a.score(review)?, b.score(review)?);
    Ok((
        score_a.log_probability - score_b.log_probability,
        score_a,
        score_b,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text)
    }

    #[test]
    fn tokens_are_lower_case_words() {
        assert_eq!(
            tokenize("Sci-fi perfection, truly MESMERIZING film!"),
            ["sci-fi", "perfection", "truly", "mesmerizing", "film"]
        );
        assert_eq!(tokenize("  director's  'cut' -- "), ["director's", "cut"]);
        assert!(tokenize(" ,.;! ").is_empty());
    }

    #[test]
    fn a_tiny_model_has_the_counts_it_was_given() {
        let reviews = vec![words("a b c"), words("a b d"), words("b c")];
        let v = Vocabulary::from_reviews(reviews.iter().map(|r| r.as_slice())).unwrap();
        let m = TrigramModel::train(&reviews, &v, 0.5).unwrap();
        // |W| = 4 words + </s> + <unk> = 6; (a, b) seen twice, then c once and d once.
        assert!((m.probability("a", "b", "c") - 1.5 / 5.0).abs() < 1e-12);
        assert!((m.probability("a", "b", "a") - 0.5 / 5.0).abs() < 1e-12);
        assert!((m.probability(START, START, "a") - 2.5 / 6.0).abs() < 1e-12);
        // (b, c) is seen twice, both times before the end.
        assert!((m.probability("b", "c", END) - 2.5 / 5.0).abs() < 1e-12);
        // An unseen context: every token alike.
        assert!((m.probability("d", "d", "zebra") - 1.0 / 6.0).abs() < 1e-12);
        let table = m.table("a", "b");
        assert_eq!(table.count, 2);
        assert_eq!(table.entries.len(), 6);
        assert!((table.entries.iter().map(|e| e.probability).sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
