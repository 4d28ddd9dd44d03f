//! Using a trained model on pictures: filling in hidden pixels by clamped Gibbs
//! sampling (or mean-field updates), cleaning a noisy picture, and placing a picture
//! among the data by its free energy.
//!
//! **Clamped Gibbs sampling** samples `p(v_u | v_k)`, the unknown pixels `v_u` given the
//! known ones `v_k`: a block-Gibbs step `h ~ p(h | v)`, `v ~ p(v | h)` followed by
//! putting every known pixel back to its value. Because the visible units are
//! independent given `h`, resampling only the unknown ones and leaving the known ones
//! is exactly a Gibbs step of the conditional distribution. The estimate of each
//! unknown pixel is the average of `p(v_i = 1 | h)` over the chains and the recorded
//! steps (Rao–Blackwellised), thresholded at 1/2 for a picture.
//!
//! **Mean-field** replaces every sample by its probability: `h ← p(h | v)`,
//! `v_u ← p(v_u | h)`, repeated; deterministic, and a fixed point is a local optimum of
//! the variational free energy.
//!
//! **Denoising** infers the clean picture from its posterior given the noisy one and
//! the flip rate (see [`denoise`]): a few mean-field updates, or Gibbs steps whose
//! inverse temperature rises from 1 to a final β > 1 (annealing), which draws the
//! chains into a likely picture instead of wandering.

use serde::Serialize;

use crate::error::{RbmError, Result};
use crate::linalg::Matrix;
use crate::model::{GibbsChains, Rbm};
use crate::rng::{self, Rng};

/// Which half of a picture to hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    Top,
    Bottom,
    Left,
    Right,
}

impl Half {
    pub fn parse(name: &str) -> Result<Half> {
        match name {
            "top" => Ok(Half::Top),
            "bottom" => Ok(Half::Bottom),
            "left" => Ok(Half::Left),
            "right" => Ok(Half::Right),
            other => Err(RbmError::setting(
                "half",
                other,
                "top, bottom, left or right",
            )),
        }
    }
}

/// The pixels known (`true`) and hidden (`false`) of a `rows x cols` picture when `half`
/// is hidden (the middle row or column of an odd side stays known).
pub fn half_mask(rows: usize, cols: usize, half: Half) -> Vec<bool> {
    (0..rows * cols)
        .map(|p| {
            let (r, c) = (p / cols, p % cols);
            match half {
                Half::Top => r >= rows / 2,
                Half::Bottom => r < rows.div_ceil(2),
                Half::Left => c >= cols / 2,
                Half::Right => c < cols.div_ceil(2),
            }
        })
        .collect()
}

fn check_picture(rbm: &Rbm, image: &[f32], what: &str) -> Result<()> {
    if image.len() != rbm.n_visible() {
        return Err(RbmError::Shape(format!(
            "{what} has {} pixels but the model has {} visible units",
            image.len(),
            rbm.n_visible()
        )));
    }
    if let Some(i) = image.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(RbmError::Data(format!(
            "{what}: pixel {i} is {}, expected 0 or 1",
            image[i]
        )));
    }
    Ok(())
}

/// Clamped Gibbs chains filling in the hidden pixels of one picture or of many at once
/// (`chains` chains each; chain `r` works on picture `r / chains`).
#[derive(Clone, Debug)]
pub struct Completion {
    chains: GibbsChains,
    per_picture: usize,
    /// The pictures and their masks (`true` where a pixel is known), pictures x pixels.
    images: Matrix,
    known: Vec<bool>,
    /// Steps done, and from which step on the estimate averages.
    steps: usize,
    record_from: usize,
    sum: Vec<f64>,
    recorded: usize,
}

impl Completion {
    /// `chains` chains for each row of `images` (0/1 pixels), keeping the pixels where
    /// `known` (pictures x pixels, row-major) is true; hidden pixels start uniformly at
    /// random. The estimate averages the steps after `record_from` (the first ones
    /// forget the random start). Every picture must hide some pixels and show some.
    pub fn new(
        rbm: &Rbm,
        images: &Matrix,
        known: &[bool],
        chains: usize,
        record_from: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        let m = rbm.n_visible();
        if images.rows() == 0 {
            return Err(RbmError::Data("there is no picture to complete".into()));
        }
        for r in 0..images.rows() {
            check_picture(rbm, images.row(r), "the picture")?;
        }
        if known.len() != images.as_slice().len() {
            return Err(RbmError::Shape(format!(
                "the mask has {} pixels but the picture has {}",
                known.len(),
                images.as_slice().len()
            )));
        }
        for mask in known.chunks(m) {
            let hidden = mask.iter().filter(|&&k| !k).count();
            if hidden == 0 {
                return Err(RbmError::Data(
                    "the mask hides no pixel: there is nothing to fill in (hide a half, or paint the unknown pixels)".into(),
                ));
            }
            if hidden == m {
                return Err(RbmError::Data(
                    "the mask hides every pixel: that is generating a new picture (the chains panel does that), not completing one".into(),
                ));
            }
        }
        crate::limits::check_engine("completion_chains", chains as f64)?;
        let rows = crate::size::product(&[images.rows() as u64, chains as u64])
            .filter(|&r| r <= crate::limits::MAX_CHAINS)
            .ok_or_else(|| {
                RbmError::Data(format!(
                    "{} pictures x {chains} chains are too many chains",
                    images.rows()
                ))
            })?;
        let mut completion = Completion {
            chains: GibbsChains::random(rbm, rows, rng),
            per_picture: chains,
            images: images.clone(),
            known: known.to_vec(),
            steps: 0,
            record_from,
            sum: vec![0.0; images.as_slice().len()],
            recorded: 0,
        };
        completion.clamp();
        Ok(completion)
    }

    /// Puts every known pixel of every chain back to its picture's value.
    fn clamp(&mut self) {
        let m = self.images.cols();
        for r in 0..self.chains.len() {
            let picture = r / self.per_picture;
            let image = self.images.row(picture);
            let known = &self.known[picture * m..(picture + 1) * m];
            for (i, (&value, &k)) in image.iter().zip(known).enumerate() {
                if k {
                    self.chains.visible.row_mut(r)[i] = value;
                    self.chains.visible_prob.row_mut(r)[i] = value;
                }
            }
        }
    }

    /// `steps` clamped Gibbs steps at inverse temperature `beta`.
    pub fn run(&mut self, rbm: &Rbm, steps: usize, beta: f32, rng: &mut Rng) -> Result<()> {
        let m = self.images.cols();
        if rbm.n_visible() != m {
            return Err(RbmError::Shape(
                "the model has other layer sizes than the completion".into(),
            ));
        }
        for _ in 0..steps {
            self.chains.run(rbm, 1, beta, rng);
            self.clamp();
            self.steps += 1;
            if self.steps > self.record_from {
                for r in 0..self.chains.len() {
                    let picture = r / self.per_picture;
                    let sums = &mut self.sum[picture * m..(picture + 1) * m];
                    for (s, &p) in sums.iter_mut().zip(self.chains.visible_prob.row(r)) {
                        *s += f64::from(p);
                    }
                }
                self.recorded += 1;
            }
        }
        Ok(())
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Chains per picture.
    pub fn chains_per_picture(&self) -> usize {
        self.per_picture
    }

    /// The chains' current pictures (pictures x chains rows of pixels).
    pub fn states(&self) -> &Matrix {
        &self.chains.visible
    }

    /// The estimate of every pixel of every picture (pictures x pixels): known pixels as
    /// given; hidden ones the average `p(v_i = 1 | h)` over the picture's chains and the
    /// recorded steps (over the current step while none is recorded yet).
    pub fn mean(&self) -> Matrix {
        let m = self.images.cols();
        let mut out = self.images.clone();
        let chains = self.per_picture as f64;
        for picture in 0..self.images.rows() {
            for i in 0..m {
                let at = picture * m + i;
                if self.known[at] {
                    continue;
                }
                out.row_mut(picture)[i] = if self.recorded > 0 {
                    (self.sum[at] / (self.recorded as f64 * chains)) as f32
                } else {
                    let total: f64 = (0..self.per_picture)
                        .map(|c| {
                            f64::from(
                                self.chains.visible_prob.row(picture * self.per_picture + c)[i],
                            )
                        })
                        .sum();
                    (total / chains) as f32
                };
            }
        }
        out
    }
}

/// Mean-field completion: `iterations` of `h ← p(h | v)`, `v_u ← p(v_u | h)` from the
/// picture with its hidden pixels at 1/2. Returns every pixel's value (known as given).
pub fn mean_field(rbm: &Rbm, image: &[f32], known: &[bool], iterations: usize) -> Result<Vec<f32>> {
    check_picture(rbm, image, "the picture")?;
    if known.len() != image.len() {
        return Err(RbmError::Shape(
            "the mask and the picture differ in size".into(),
        ));
    }
    let start: Vec<f32> = image
        .iter()
        .zip(known)
        .map(|(&v, &k)| if k { v } else { 0.5 })
        .collect();
    let mut visible =
        Matrix::from_vec(1, image.len(), start).ok_or_else(|| RbmError::Shape("picture".into()))?;
    let mut hidden = Matrix::zeros(1, rbm.n_hidden());
    let mut next = Matrix::zeros(1, image.len());
    for _ in 0..iterations {
        rbm.prob_hidden_given_visible(&visible, 1.0, &mut hidden)?;
        rbm.prob_visible_given_hidden(&hidden, 1.0, &mut next)?;
        for ((v, &n), &k) in visible
            .as_mut_slice()
            .iter_mut()
            .zip(next.as_slice())
            .zip(known)
        {
            if !k {
                *v = n;
            }
        }
    }
    Ok(visible.as_slice().to_vec())
}

/// How to clean a noisy picture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Denoise {
    /// `iterations` mean-field updates of every pixel from the noisy picture.
    MeanField { iterations: usize },
    /// `chains` Gibbs chains from the noisy picture, `steps` steps with β rising
    /// linearly from 1 to `final_beta`; the estimate is the chains' last `p(v | h)`.
    Annealed {
        chains: usize,
        steps: usize,
        final_beta: f32,
    },
}

/// The cleaned picture's pixel probabilities (threshold at 1/2 for a picture), for a
/// picture `noisy` whose pixels were each flipped with probability `flip_rate`.
///
/// The clean picture `v` is inferred from its posterior `p(v | y) ∝ p(v) Π_i p(y_i | v_i)`:
/// the model is the prior, and each noisy pixel `y_i` says "I am probably right" with
/// odds `(1 - ε) / ε`. In an RBM that observation is just a change of visible bias,
/// `b_i + (2 y_i - 1) log((1 - ε) / ε)`, so the posterior is itself an RBM and both
/// methods run on it: mean-field for its marginals, or annealed Gibbs towards a likely
/// picture. Without the observation term (the plain reconstruction `v → h → v`) a
/// model that reconstructs digits with 5 % of pixels wrong cannot clean 5 % noise.
pub fn denoise(
    rbm: &Rbm,
    noisy: &[f32],
    flip_rate: f64,
    method: Denoise,
    rng: &mut Rng,
) -> Result<Vec<f32>> {
    check_picture(rbm, noisy, "the noisy picture")?;
    if !(flip_rate > 0.0 && flip_rate <= 0.5) {
        return Err(RbmError::setting(
            "flip rate",
            flip_rate,
            "greater than 0 (with no noise there is nothing to clean) and at most 0.5",
        ));
    }
    let evidence = libm::log((1.0 - flip_rate) / flip_rate) as f32;
    let bias: Vec<f32> = rbm
        .visible_bias()
        .iter()
        .zip(noisy)
        .map(|(&b, &y)| b + (2.0 * y - 1.0) * evidence)
        .collect();
    let posterior = Rbm::from_parts(
        rbm.n_visible(),
        rbm.n_hidden(),
        rbm.weights().to_vec(),
        bias,
        rbm.hidden_bias().to_vec(),
    )?;
    match method {
        Denoise::MeanField { iterations } => {
            let mut visible = Matrix::from_vec(1, noisy.len(), noisy.to_vec())
                .ok_or_else(|| RbmError::Shape("picture".into()))?;
            let mut hidden = Matrix::zeros(1, rbm.n_hidden());
            for _ in 0..iterations.max(1) {
                posterior.prob_hidden_given_visible(&visible, 1.0, &mut hidden)?;
                let mut next = Matrix::zeros(1, noisy.len());
                posterior.prob_visible_given_hidden(&hidden, 1.0, &mut next)?;
                visible = next;
            }
            Ok(visible.as_slice().to_vec())
        }
        Denoise::Annealed {
            chains,
            steps,
            final_beta,
        } => {
            crate::limits::check_engine("completion_chains", chains as f64)?;
            crate::limits::check_engine("beta", f64::from(final_beta))?;
            let mut start = Matrix::zeros(chains, noisy.len());
            for r in 0..chains {
                start.row_mut(r).copy_from_slice(noisy);
            }
            let mut gibbs = GibbsChains::from_visible(&posterior, start)?;
            let steps = steps.max(1);
            for s in 0..steps {
                let t = if steps == 1 {
                    1.0
                } else {
                    s as f32 / (steps - 1) as f32
                };
                let beta = 1.0 + (final_beta - 1.0) * t;
                gibbs.run(&posterior, 1, beta, rng);
            }
            let mut mean = vec![0.0f64; noisy.len()];
            for r in 0..chains {
                for (m, &p) in mean.iter_mut().zip(gibbs.visible_prob.row(r)) {
                    *m += f64::from(p);
                }
            }
            Ok(mean.iter().map(|&m| (m / chains as f64) as f32).collect())
        }
    }
}

/// Flips exactly `round(fraction x pixels)` distinct pixels, chosen at random.
pub fn flip_pixels(image: &[f32], fraction: f64, rng: &mut Rng) -> Result<Vec<f32>> {
    crate::limits::check_engine("noise_level", fraction)?;
    let count = (fraction * image.len() as f64).round() as usize;
    let mut order: Vec<usize> = (0..image.len()).collect();
    rng::shuffle(rng, &mut order);
    let mut noisy = image.to_vec();
    for &i in &order[..count.min(image.len())] {
        noisy[i] = 1.0 - noisy[i];
    }
    Ok(noisy)
}

/// The fraction of `pixels` (indices, or all when `None`) where `estimate`, thresholded
/// at 1/2, differs from `truth`.
pub fn pixel_error(estimate: &[f32], truth: &[f32], pixels: Option<&[bool]>) -> f64 {
    let (mut wrong, mut counted) = (0usize, 0usize);
    for (i, (&e, &t)) in estimate.iter().zip(truth).enumerate() {
        if pixels.is_none_or(|p| p[i]) {
            counted += 1;
            wrong += usize::from((e >= 0.5) != (t >= 0.5));
        }
    }
    if counted == 0 {
        0.0
    } else {
        wrong as f64 / counted as f64
    }
}

/// Where a picture stands among the data: its free energy (and `log p(v)` when `log Z`
/// could be enumerated), and the same for training and held-out pictures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placement {
    pub free_energy: f64,
    /// `log p(v) = -F(v) - log Z`, when `log Z` is known.
    pub log_probability: Option<f64>,
    pub log_partition: Option<f64>,
    /// Why `log Z` is not known, if it is not.
    pub log_partition_unknown: Option<String>,
    pub train_free_energies: Vec<f64>,
    pub held_out_free_energies: Vec<f64>,
    /// Percent of the training pictures with a higher free energy (less likely) than this one.
    pub percentile_train: f64,
}

/// Places `image` among `train` (and `held_out`) rows: free energies, `log p(v)` when
/// the smaller layer is enumerable within `enumeration_budget` softplus terms.
pub fn place(
    rbm: &Rbm,
    image: &[f32],
    train: &Matrix,
    held_out: Option<&Matrix>,
    enumeration_budget: f64,
) -> Result<Placement> {
    check_picture(rbm, image, "the picture")?;
    let picture = Matrix::from_vec(1, image.len(), image.to_vec())
        .ok_or_else(|| RbmError::Shape("picture".into()))?;
    let free_energy = rbm.free_energy(&picture, 1.0)?[0];
    let train_free_energies = rbm.free_energy(train, 1.0)?;
    let held_out_free_energies = match held_out {
        Some(h) if h.rows() > 0 => rbm.free_energy(h, 1.0)?,
        _ => Vec::new(),
    };
    let small = rbm.n_visible().min(rbm.n_hidden());
    let (log_partition, log_partition_unknown) = if small <= crate::exact::MAX_ENUMERATED_UNITS
        && crate::monitor::enumeration_cost(rbm) <= enumeration_budget
    {
        (Some(crate::exact::log_partition(rbm, 1.0)?), None)
    } else {
        (
            None,
            Some(format!(
                "it would need all 2^{small} states of the smaller layer"
            )),
        )
    };
    let higher = train_free_energies
        .iter()
        .filter(|&&f| f > free_energy)
        .count();
    Ok(Placement {
        free_energy,
        log_probability: log_partition.map(|z| -free_energy - z),
        log_partition,
        log_partition_unknown,
        percentile_train: 100.0 * higher as f64 / train_free_energies.len().max(1) as f64,
        train_free_energies,
        held_out_free_energies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_masks_hide_the_half_asked_for() {
        let top = half_mask(4, 3, Half::Top);
        assert_eq!(top.iter().filter(|&&k| !k).count(), 6);
        assert!(!top[0] && top[11]);
        let right = half_mask(3, 5, Half::Right);
        // Columns 0..3 known (the middle column of 5 stays known), 3 and 4 hidden.
        assert_eq!(right.iter().filter(|&&k| !k).count(), 6);
        assert!(right[2] && !right[3] && !right[4]);
        assert!(Half::parse("diagonal").is_err());
    }

    #[test]
    fn flipping_flips_exactly_the_fraction_asked_for() {
        let mut g = rng::seeded(3);
        let image = vec![0.0; 200];
        let noisy = flip_pixels(&image, 0.1, &mut g).unwrap();
        assert_eq!(noisy.iter().filter(|&&v| v == 1.0).count(), 20);
        assert!((pixel_error(&noisy, &image, None) - 0.1).abs() < 1e-12);
        assert!(flip_pixels(&image, 1.5, &mut g).is_err());
    }
}
