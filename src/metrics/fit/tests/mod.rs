//! Tests of the fit statistics, on synthetic data shaped like the caller's: samples drawn from a
//! known distribution (deterministic quantile grids or a seeded stream), folded into a
//! log-binned histogram of 0.1 % relative width with bin midpoints as values.

mod changepoint;
mod fits;
mod select;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_distr::Distribution;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{Family, Fitted};

/// Relative width of the caller's histogram bins.
const BIN_WIDTH: f64 = 0.001;

/// Folds values into a histogram of log bins `[(1.001)^i, (1.001)^(i+1))`, each represented by
/// its geometric midpoint, sorted by value: what the caller hands over.
fn histogram(values: impl IntoIterator<Item = f64>) -> Vec<(f64, u64)> {
    let w = (1.0 + BIN_WIDTH).ln();
    let mut bins = BTreeMap::<i64, u64>::new();
    for x in values {
        *bins.entry((x.ln() / w).floor() as i64).or_default() += 1;
    }
    bins.into_iter()
        .map(|(i, c)| (((i as f64 + 0.5) * w).exp(), c))
        .collect()
}

/// A distribution with known parameters (the fit fields are irrelevant for evaluation).
fn model(family: Family, a: f64, b: f64) -> Fitted {
    Fitted {
        family,
        a,
        b,
        log_likelihood: 0.0,
        aic: 0.0,
        ks: 0.0,
        n: 0,
    }
}

/// The `n` quantiles at `(i + 0.5) / n`: a deterministic sample with no sampling noise.
fn quantile_grid(m: &Fitted, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| m.quantile((i as f64 + 0.5) / n as f64))
        .collect()
}

/// `n` draws from a seeded stream (rand_distr's samplers, independent of the code under test).
fn draws(m: &Fitted, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    match m.family {
        Family::LogNormal => {
            let d = rand_distr::LogNormal::new(m.a, m.b).unwrap();
            (0..n).map(|_| d.sample(&mut rng)).collect()
        }
        Family::Gamma => {
            let d = rand_distr::Gamma::new(m.a, m.b).unwrap();
            (0..n).map(|_| d.sample(&mut rng)).collect()
        }
        Family::Weibull => {
            let d = rand_distr::Weibull::new(m.b, m.a).unwrap();
            (0..n).map(|_| d.sample(&mut rng)).collect()
        }
    }
}

/// Relative error of `got` against `want`.
fn rel(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

/// The clear cases the tests use: typical SMS latencies (medians of 1 to 4 s), a heavy,
/// a front-loaded and a light tail per family.
const CASES: [(Family, f64, f64); 6] = [
    (Family::LogNormal, 1.098_612_288_668_109_8, 1.0), // median 3 s
    (Family::LogNormal, 0.405_465_108_108_164_4, 0.4), // median 1.5 s
    (Family::Gamma, 0.7, 4.0),
    (Family::Gamma, 2.5, 1.2),
    (Family::Weibull, 3.0, 4.0),
    (Family::Weibull, 0.8, 2.0),
];
