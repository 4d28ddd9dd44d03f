//! Two imaginary film critics (`data/critics.txt`, written for this project): five-word
//! reviews for learning, and ten each kept aside to measure attribution.
//!
//! The file: `## critic: NAME` starts a critic, `## held out` starts the reviews kept
//! aside, blank lines and lines starting with `#` are skipped, every other line is one
//! review.

use crate::error::{RbmError, Result};
use crate::trigram::{self, TrigramModel, Vocabulary};

const BUILT_IN: &str = include_str!("../data/critics.txt");

/// One critic's reviews, each as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Critic {
    pub name: String,
    pub training: Vec<String>,
    pub held_out: Vec<String>,
}

/// The built-in critics.
pub fn built_in() -> Vec<Critic> {
    parse(BUILT_IN).expect("the built-in corpus parses")
}

/// Reads the corpus format described in the module's documentation.
pub fn parse(text: &str) -> Result<Vec<Critic>> {
    let mut critics: Vec<Critic> = Vec::new();
    let mut held_out = false;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("## critic:") {
            critics.push(Critic {
                name: name.trim().to_string(),
                training: Vec::new(),
                held_out: Vec::new(),
            });
            held_out = false;
        } else if line == "## held out" {
            held_out = true;
        } else if !(line.is_empty() || line.starts_with('#')) {
            let critic = critics.last_mut().ok_or_else(|| {
                RbmError::Data(format!(
                    "line {}: a review before any \"## critic:\" line",
                    number + 1
                ))
            })?;
            let part = if held_out {
                &mut critic.held_out
            } else {
                &mut critic.training
            };
            part.push(line.to_string());
        }
    }
    Ok(critics)
}

/// The words of each review.
pub fn tokenized(reviews: &[String]) -> Vec<Vec<String>> {
    reviews.iter().map(|r| trigram::tokenize(r)).collect()
}

/// One model per critic, over one vocabulary: every word any critic's training reviews
/// use. Sharing it makes the two models' probabilities comparable (a word one critic
/// never used is then a known word that critic finds unlikely, not an unknown token).
pub fn train_models(critics: &[Critic], k: f64) -> Result<Vec<TrigramModel>> {
    let reviews: Vec<Vec<Vec<String>>> = critics.iter().map(|c| tokenized(&c.training)).collect();
    let vocabulary = Vocabulary::from_reviews(reviews.iter().flatten().map(|r| r.as_slice()))?;
    reviews
        .iter()
        .zip(critics)
        .map(|(r, critic)| {
            TrigramModel::train(r, &vocabulary, k)
                .map_err(|e| RbmError::Data(format!("{}: {e}", critic.name)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_corpus_is_shaped_as_the_issue_asks() {
        let critics = built_in();
        assert_eq!(critics.len(), 2);
        let mut vocabularies = Vec::new();
        for critic in &critics {
            assert!(
                critic.training.len() >= 30 && critic.training.len() + critic.held_out.len() >= 40
            );
            assert!(critic.held_out.len() >= 10);
            for review in critic.training.iter().chain(&critic.held_out) {
                assert_eq!(trigram::tokenize(review).len(), 5, "{review}");
                assert!(!critic.training.contains(review) || !critic.held_out.contains(review));
            }
            let mut words: Vec<String> = critic
                .training
                .iter()
                .chain(&critic.held_out)
                .flat_map(|r| trigram::tokenize(r))
                .collect();
            words.sort();
            words.dedup();
            vocabularies.push(words);
        }
        let all: std::collections::BTreeSet<&String> = vocabularies.iter().flatten().collect();
        let shared = vocabularies[0]
            .iter()
            .filter(|w| vocabularies[1].contains(w))
            .count();
        assert!((45..=70).contains(&all.len()), "{} words", all.len());
        assert!(
            2 * shared >= all.len(),
            "{shared} of {} words shared",
            all.len()
        );
    }

    #[test]
    fn bad_corpus_text_is_named() {
        assert!(parse("a review first\n## critic: x\n")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        let critics = parse("## critic: A\n# note\nfine words\n## held out\nkept aside\n").unwrap();
        assert_eq!(critics[0].training, ["fine words"]);
        assert_eq!(critics[0].held_out, ["kept aside"]);
    }
}
