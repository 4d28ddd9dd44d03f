//! Using a model on pictures: clamped sampling keeps the clamped pixels; on held-out
//! MNIST digits, completion of the hidden top half beats the training mean image and
//! denoising lowers the pixel error. The figures are printed for the README
//! (`cargo test --release --test inference -- --nocapture`).
mod common;

use common::random_rbm;
use rbm_lab::inference::{self, Completion, Denoise, Half};
use rbm_lab::{data, rng, Matrix, Rbm, Trainer};

#[test]
fn clamped_sampling_never_changes_a_clamped_pixel() {
    let (m, n) = (12, 6);
    let rbm = random_rbm(m, n, 2.0, 17);
    let mut g = rng::seeded(18);
    // Three pictures, each with its own random mask, 40 chains each.
    let images = Matrix::from_vec(
        3,
        m,
        (0..3 * m)
            .map(|i| ((i * 7 + 3) % 5 < 2) as u8 as f32)
            .collect(),
    )
    .unwrap();
    let known: Vec<bool> = (0..3 * m).map(|i| (i * 11 + 1) % 3 != 0).collect();
    let mut completion = Completion::new(&rbm, &images, &known, 40, 10, &mut g).unwrap();
    for _ in 0..300 {
        completion.run(&rbm, 1, 1.0, &mut g).unwrap();
        let states = completion.states();
        for r in 0..states.rows() {
            let picture = r / 40;
            for i in 0..m {
                if known[picture * m + i] {
                    assert_eq!(
                        states.row(r)[i],
                        images.row(picture)[i],
                        "chain {r} pixel {i}"
                    );
                }
            }
        }
    }
    // The hidden pixels did move (the test would pass trivially on a frozen sampler).
    let mean = completion.mean();
    let moved = (0..3 * m)
        .filter(|&i| !known[i] && mean.as_slice()[i] > 0.0 && mean.as_slice()[i] < 1.0)
        .count();
    assert!(moved > 0);
}

/// The sampler targets the right distribution: on a model small enough to enumerate,
/// the completion's averages equal the exact conditional marginals p(v_i = 1 | v_known).
#[test]
fn clamped_sampling_matches_the_exact_conditionals() {
    let (m, n) = (6, 3);
    let rbm = random_rbm(m, n, 1.5, 31);
    let reference = common::Reference::of(&rbm);
    let image = [1.0f32, 0.0, 1.0, 0.0, 0.0, 0.0];
    let known = [true, true, true, false, false, false];
    // Exact: p(v) ∝ exp(-F(v)) over the 8 completions of the three hidden pixels.
    let mut weights = Vec::new();
    for s in 0..8u32 {
        let mut v: Vec<f64> = image.iter().map(|&x| f64::from(x)).collect();
        for (bit, i) in [3, 4, 5].into_iter().enumerate() {
            v[i] = f64::from((s >> bit) & 1);
        }
        weights.push((reference.log_marginal(&v, 1.0), v));
    }
    let log_z = common::log_sum_exp(&weights.iter().map(|(w, _)| *w).collect::<Vec<_>>());
    let exact: Vec<f64> = [3, 4, 5]
        .iter()
        .map(|&i| weights.iter().map(|(w, v)| (w - log_z).exp() * v[i]).sum())
        .collect();
    // 200 chains, 2,000 steps averaged after 100: the Rao-Blackwellised averages have a
    // standard error below 1e-3 here (successive steps are correlated, so a generous 6e-3).
    let mut g = rng::seeded(32);
    let pictures = Matrix::from_vec(1, m, image.to_vec()).unwrap();
    let mut completion = Completion::new(&rbm, &pictures, &known, 200, 100, &mut g).unwrap();
    completion.run(&rbm, 2100, 1.0, &mut g).unwrap();
    let estimate = completion.mean();
    for (k, &i) in [3, 4, 5].iter().enumerate() {
        let got = f64::from(estimate.row(0)[i]);
        assert!(
            (got - exact[k]).abs() < 6e-3,
            "pixel {i}: {got} vs exact {}",
            exact[k]
        );
    }
    // Mean-field is an approximation, but on this model a close one.
    let mf = inference::mean_field(&rbm, &image, &known, 100).unwrap();
    for (k, &i) in [3, 4, 5].iter().enumerate() {
        assert!(
            (f64::from(mf[i]) - exact[k]).abs() < 0.15,
            "mean-field pixel {i}: {} vs {}",
            mf[i],
            exact[k]
        );
    }
}

#[test]
fn masks_that_hide_all_or_nothing_and_wrong_sizes_are_refused() {
    let rbm = Rbm::zeros(4, 2).unwrap();
    let mut g = rng::seeded(1);
    let image = Matrix::from_vec(1, 4, vec![1.0, 0.0, 1.0, 0.0]).unwrap();
    let message = |known: &[bool]| {
        Completion::new(&rbm, &image, known, 2, 0, &mut rng::seeded(1))
            .unwrap_err()
            .to_string()
    };
    assert!(message(&[true; 4]).contains("hides no pixel"));
    assert!(message(&[false; 4]).contains("hides every pixel"));
    assert!(message(&[true; 3]).contains("the mask has 3 pixels"));
    let wrong = Matrix::from_vec(1, 3, vec![1.0, 0.0, 1.0]).unwrap();
    assert!(
        Completion::new(&rbm, &wrong, &[true, false, true], 2, 0, &mut g)
            .unwrap_err()
            .to_string()
            .contains("3 pixels but the model has 4")
    );
    let grey = Matrix::from_vec(1, 4, vec![0.5, 0.0, 1.0, 0.0]).unwrap();
    assert!(
        Completion::new(&rbm, &grey, &[true, false, true, true], 2, 0, &mut g)
            .unwrap_err()
            .to_string()
            .contains("expected 0 or 1")
    );
    let once = Denoise::MeanField { iterations: 1 };
    assert!(inference::denoise(&rbm, &[1.0, 0.0], 0.1, once, &mut g).is_err());
    let picture = [1.0, 0.0, 1.0, 0.0];
    let message = inference::denoise(&rbm, &picture, 0.0, once, &mut g).unwrap_err();
    assert!(
        message.to_string().contains("nothing to clean"),
        "{message}"
    );
}

/// The model the README's figures are for: the page's MNIST defaults for 10 epochs.
fn mnist_model() -> (Trainer, data::Dataset, data::Dataset) {
    let (train, test) = data::mnist_split(&common::mnist_asset()).unwrap();
    let mut trainer = Trainer::new(common::cd1_config(100, 1), &train.images).unwrap();
    for _ in 0..10 * trainer.steps_per_epoch() {
        trainer.step(&|| 0.0).unwrap();
    }
    (trainer, train, test)
}

fn first_rows(set: &data::Dataset, count: usize) -> Matrix {
    let m = set.images.cols();
    Matrix::from_vec(count, m, set.images.as_slice()[..count * m].to_vec()).unwrap()
}

#[test]
fn completion_and_denoising_work_on_held_out_digits() {
    let (trainer, train, test) = mnist_model();
    let rbm = trainer.model();
    let (rows, cols) = test.image_shape;
    let m = rows * cols;
    let count = 500;
    let digits = first_rows(&test, count);

    // The top half hidden; accuracy over the hidden half.
    let one = inference::half_mask(rows, cols, Half::Top);
    let known: Vec<bool> = (0..count).flat_map(|_| one.iter().copied()).collect();
    let hidden: Vec<bool> = known.iter().map(|&k| !k).collect();
    let mut g = rng::seeded(2);
    // 10 chains a digit, 200 steps, the last 150 averaged.
    let mut completion = Completion::new(rbm, &digits, &known, 10, 50, &mut g).unwrap();
    completion.run(rbm, 200, 1.0, &mut g).unwrap();
    let filled = completion.mean();
    let accuracy =
        1.0 - inference::pixel_error(filled.as_slice(), digits.as_slice(), Some(&hidden));

    // The baseline: the training set's mean image, thresholded, in the hidden half.
    let mut mean_image = vec![0.0f64; m];
    for r in 0..train.len() {
        for (s, &v) in mean_image.iter_mut().zip(train.images.row(r)) {
            *s += f64::from(v);
        }
    }
    let mean_image: Vec<f32> = mean_image
        .iter()
        .map(|&s| (s / train.len() as f64) as f32)
        .collect();
    let baseline_fill: Vec<f32> = (0..count)
        .flat_map(|_| mean_image.iter().copied())
        .collect();
    let baseline = 1.0 - inference::pixel_error(&baseline_fill, digits.as_slice(), Some(&hidden));
    println!(
        "top half of {count} held-out digits: clamped Gibbs {:.1} % of hidden pixels right, mean image {:.1} %",
        100.0 * accuracy,
        100.0 * baseline
    );
    assert!(
        accuracy >= baseline + 0.02,
        "completion {accuracy} vs mean image {baseline}"
    );
    // Mean-field completion (50 updates, as on the page) of the same digits.
    let mut right = 0.0;
    for r in 0..count {
        let filled = inference::mean_field(rbm, digits.row(r), &one, 50).unwrap();
        right += 1.0 - inference::pixel_error(&filled, digits.row(r), Some(&hidden[..m]));
    }
    let mean_field = right / count as f64;
    println!(
        "mean-field completion: {:.1} % of hidden pixels right",
        100.0 * mean_field
    );
    assert!(
        mean_field > baseline,
        "mean-field {mean_field} vs mean image {baseline}"
    );

    // Denoising: 5, 10 and 20 % of the pixels flipped.
    for fraction in [0.05, 0.10, 0.20] {
        let mut before = 0.0;
        let mut after_mean_field = 0.0;
        let mut after_annealed = 0.0;
        let mut after_reconstruction = 0.0;
        for r in 0..count {
            let clean = digits.row(r);
            let noisy = inference::flip_pixels(clean, fraction, &mut g).unwrap();
            before += inference::pixel_error(&noisy, clean, None);
            let mean_field = Denoise::MeanField { iterations: 10 };
            let mf = inference::denoise(rbm, &noisy, fraction, mean_field, &mut g).unwrap();
            after_mean_field += inference::pixel_error(&mf, clean, None);
            let annealed = inference::denoise(
                rbm,
                &noisy,
                fraction,
                Denoise::Annealed {
                    chains: 4,
                    steps: 20,
                    final_beta: 3.0,
                },
                &mut g,
            )
            .unwrap();
            after_annealed += inference::pixel_error(&annealed, clean, None);
            // The plain reconstruction v -> h -> v, without the noise model, for comparison.
            let rows = Matrix::from_vec(1, m, noisy.clone()).unwrap();
            let mut h = Matrix::zeros(1, rbm.n_hidden());
            let mut v = Matrix::zeros(1, m);
            rbm.prob_hidden_given_visible(&rows, 1.0, &mut h).unwrap();
            rbm.prob_visible_given_hidden(&h, 1.0, &mut v).unwrap();
            after_reconstruction += inference::pixel_error(v.as_slice(), clean, None);
        }
        let n = count as f64;
        println!(
            "{:.0} % flipped: {:.1} % wrong before, {:.1} % after mean-field, {:.1} % after annealed Gibbs \
             ({:.1} % after a plain reconstruction)",
            100.0 * fraction,
            100.0 * before / n,
            100.0 * after_mean_field / n,
            100.0 * after_annealed / n,
            100.0 * after_reconstruction / n
        );
        assert!(after_mean_field < before, "mean-field at {fraction}");
        assert!(after_annealed < before, "annealed at {fraction}");
    }
}
