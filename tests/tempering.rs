//! Parallel tempering against the exact p(v) of tiny models, and against plain Gibbs on
//! a bimodal one.
//!
//! Tolerance: the cold chains' visit frequencies over S sweeps of C ladders estimate
//! p(v) over 2^m states; with effectively independent samples the total-variation
//! error is about ½ Σ sqrt(p(1-p)/N) ≤ ½ sqrt(2^m / N). Here 2^m = 16 and N = C S =
//! 60,000 visits (correlated, so fewer effective), giving about 0.01; 0.04 is asserted.
use rbm_lab::model::GibbsChains;
use rbm_lab::tempering::{ladder, Tempering};
use rbm_lab::{exact, rng, Rbm};

/// Two valleys: h1 switches on v1 and v2, h2 switches on v3 and v4 (as in the guide),
/// its weights scaled up so that the valleys are deep.
fn two_valleys(scale: f32) -> Rbm {
    let w = [2., -1., 2., -1., -1., 2., -1., 2.]
        .map(|x: f32| x * scale)
        .to_vec();
    Rbm::from_parts(4, 2, w, vec![-1.0; 4], vec![-1.0; 2]).unwrap()
}

fn state(chains: &GibbsChains, c: usize) -> usize {
    chains
        .visible
        .row(c)
        .iter()
        .enumerate()
        .filter(|(_, &v)| v != 0.0)
        .fold(0, |s, (i, _)| s | (1 << i))
}

fn total_variation(visits: &[u64], exact: &[f64]) -> f64 {
    let total: u64 = visits.iter().sum();
    0.5 * visits
        .iter()
        .zip(exact)
        .map(|(&n, p)| (n as f64 / total as f64 - p).abs())
        .sum::<f64>()
}

#[test]
fn the_ladder_runs_from_1_down_to_beta_min() {
    assert_eq!(
        ladder(5, 0.2).unwrap(),
        vec![1.0, 0.8, 0.6, 0.39999998, 0.2]
    );
    assert_eq!(ladder(1, 0.5).unwrap(), vec![1.0]);
    assert!(ladder(0, 0.5).is_err());
    assert!(ladder(5, 1.0).is_err());
    let rbm = two_valleys(1.0);
    let mut generator = rng::seeded(1);
    assert!(Tempering::random(&rbm, 4, vec![0.5, 1.0], &mut generator).is_err());
    assert!(Tempering::random(&rbm, 0, vec![1.0, 0.5], &mut generator).is_err());
}

#[test]
fn the_cold_chains_reach_the_exact_p_v_and_mix_faster_than_plain_gibbs() {
    let rbm = two_valleys(4.0);
    let exact = exact::visible_distribution(&rbm, 1.0).unwrap();
    let (chains, sweeps) = (20, 3_000);
    let mut generator = rng::seeded(11);
    let mut tempering =
        Tempering::random(&rbm, chains, ladder(6, 0.1).unwrap(), &mut generator).unwrap();
    let mut plain = GibbsChains::random(&rbm, chains, &mut generator);
    let (mut pt_visits, mut gibbs_visits) = (vec![0u64; 16], vec![0u64; 16]);
    // How often a chain's valley (v1 v2 against v3 v4) changes from one sweep to the next.
    let valley = |s: usize| (s & 0b0011).count_ones() as i32 - (s & 0b1100).count_ones() as i32;
    let (mut pt_crossings, mut gibbs_crossings) = (0u64, 0u64);
    let mut pt_last: Vec<i32> = (0..chains)
        .map(|c| valley(state(tempering.cold(), c)))
        .collect();
    let mut gibbs_last: Vec<i32> = (0..chains).map(|c| valley(state(&plain, c))).collect();
    for _ in 0..sweeps {
        tempering.sweep(&rbm, &mut generator);
        plain.run(&rbm, 1, 1.0, &mut generator);
        for c in 0..chains {
            let (p, g) = (state(tempering.cold(), c), state(&plain, c));
            pt_visits[p] += 1;
            gibbs_visits[g] += 1;
            let (pv, gv) = (valley(p), valley(g));
            if pv * pt_last[c] < 0 {
                pt_crossings += 1;
            }
            if gv * gibbs_last[c] < 0 {
                gibbs_crossings += 1;
            }
            if pv != 0 {
                pt_last[c] = pv;
            }
            if gv != 0 {
                gibbs_last[c] = gv;
            }
        }
    }
    let (pt_tv, gibbs_tv) = (
        total_variation(&pt_visits, &exact),
        total_variation(&gibbs_visits, &exact),
    );
    let rates = tempering.acceptance_rates();
    println!(
        "after {sweeps} sweeps of {chains} chains: TV to p(v) tempering {pt_tv:.4}, Gibbs {gibbs_tv:.4}; \
         valley crossings tempering {pt_crossings}, Gibbs {gibbs_crossings}; exchange acceptance {rates:.2?}"
    );
    assert!(pt_tv < 0.04, "tempering TV {pt_tv}");
    assert!(rates.iter().all(|&r| r > 0.0 && r <= 1.0), "{rates:?}");
    // The measure of mixing: valley crossings of the β = 1 chains per sweep. Tempering
    // must cross at least five times as often (measured: see the printed counts).
    assert!(
        pt_crossings > 5 * gibbs_crossings.max(1),
        "crossings: tempering {pt_crossings}, Gibbs {gibbs_crossings}"
    );
    assert!(pt_tv < gibbs_tv, "TV tempering {pt_tv}, Gibbs {gibbs_tv}");
}
