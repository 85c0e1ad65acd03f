//! Maximum-likelihood fits, distribution evaluation and the KS distance.

use super::super::mle::trigamma;
use super::super::{Family, Fitted, MAX_SHAPE, fit_gamma, fit_lognormal, fit_weibull, ks_distance};
use super::{CASES, draws, histogram, model, quantile_grid, rel};

fn fit(family: Family, samples: &[(f64, u64)]) -> Option<Fitted> {
    match family {
        Family::LogNormal => fit_lognormal(samples),
        Family::Gamma => fit_gamma(samples),
        Family::Weibull => fit_weibull(samples),
    }
}

/// Parameters, median and p99 within `tol` (relative) of the truth.
fn assert_recovers(truth: &Fitted, got: &Fitted, tol: f64, what: &str) {
    let checks = [
        ("a", got.a, truth.a),
        ("b", got.b, truth.b),
        ("median", got.median(), truth.median()),
        ("p99", got.quantile(0.99), truth.quantile(0.99)),
    ];
    for (name, g, w) in checks {
        assert!(
            rel(g, w) <= tol,
            "{what} {:?} a {} b {}: {name} {g} vs {w} ({:.3} %)",
            truth.family,
            truth.a,
            truth.b,
            100.0 * rel(g, w)
        );
    }
}

#[test]
fn fits_recover_the_parameters_of_a_binned_quantile_grid() {
    for (family, a, b) in CASES {
        let truth = model(family, a, b);
        let samples = histogram(quantile_grid(&truth, 20_000));
        let got = fit(family, &samples).expect("fits");
        assert_eq!(got.family, family);
        assert_eq!(got.n, 20_000);
        // The grid has no sampling noise: what is left is binning and the grid's ends.
        assert_recovers(&truth, &got, 0.02, "grid");
        assert_recovers(&truth, &got, 0.005, "grid (tight)");
        assert!(got.ks < 0.002, "{family:?}: ks {}", got.ks);
    }
}

#[test]
fn fits_recover_the_parameters_of_a_binned_seeded_stream() {
    // 200,000 draws: the standard errors of the estimates are at most 0.3 % (the gamma shape
    // 0.7: sqrt(k / (n (k trigamma(k) - 1))) / k), so 2 % is over 6 standard errors.
    for (i, (family, a, b)) in CASES.into_iter().enumerate() {
        let truth = model(family, a, b);
        let samples = histogram(draws(&truth, 200_000, 17 + i as u64));
        let got = fit(family, &samples).expect("fits");
        assert_eq!(got.n, 200_000);
        assert_recovers(&truth, &got, 0.02, "stream");
    }
}

#[test]
fn fits_maximise_the_likelihood() {
    // Moving either parameter by 0.1 % either way lowers the log-likelihood the fit reports,
    // and that log-likelihood is the sum of count * ln pdf.
    for (i, (family, a, b)) in CASES.into_iter().enumerate() {
        let samples = histogram(draws(&model(family, a, b), 20_000, 100 + i as u64));
        let got = fit(family, &samples).unwrap();
        let ll = |m: &Fitted| -> f64 { samples.iter().map(|&(x, c)| c as f64 * m.ln_pdf(x)).sum() };
        assert!(rel(ll(&got), got.log_likelihood) < 1e-12);
        assert_eq!(got.aic, 4.0 - 2.0 * got.log_likelihood);
        for (da, db) in [(1.001, 1.0), (0.999, 1.0), (1.0, 1.001), (1.0, 0.999)] {
            // A lognormal's mu may be near 0: move it by 0.001 absolute instead.
            let moved_a = if family == Family::LogNormal {
                got.a + (da - 1.0)
            } else {
                got.a * da
            };
            let moved = model(family, moved_a, got.b * db);
            assert!(
                ll(&moved) < got.log_likelihood,
                "{family:?}: moving ({da}, {db}) raised the likelihood"
            );
        }
    }
}

#[test]
fn fits_of_scaled_counts_are_the_same_fits() {
    // Tens of millions of records are the same histogram with larger counts: the parameters must
    // not drift, n must be exact, and the KS distance the same.
    for (family, a, b) in CASES {
        let samples = histogram(quantile_grid(&model(family, a, b), 5_000));
        let scaled: Vec<(f64, u64)> = samples.iter().map(|&(x, c)| (x, c * 10_000)).collect();
        let (one, many) = (
            fit(family, &samples).unwrap(),
            fit(family, &scaled).unwrap(),
        );
        assert_eq!(many.n, 50_000_000);
        assert!(rel(many.a, one.a) < 1e-9 && rel(many.b, one.b) < 1e-9);
        assert!((many.ks - one.ks).abs() < 1e-12);
        assert!(rel(many.log_likelihood, 10_000.0 * one.log_likelihood) < 1e-9);
    }
}

#[test]
fn degenerate_samples_give_none_without_panicking() {
    let none_for_all = |samples: &[(f64, u64)], what: &str| {
        for family in Family::ALL {
            assert_eq!(fit(family, samples), None, "{what}: {family:?}");
        }
    };
    none_for_all(&[], "empty");
    none_for_all(&[(2.0, 5)], "one value");
    none_for_all(&[(2.0, 3), (2.0, 4)], "one value in two bins");
    none_for_all(&[(1.0, 0), (2.0, 0)], "zero counts");
    none_for_all(&[(1.0, 7), (2.0, 0)], "one counted value");
    none_for_all(&[(0.0, 1), (1.0, 1)], "zero");
    none_for_all(&[(-1.0, 1), (1.0, 1)], "negative");
    none_for_all(&[(1.0, 1), (f64::NAN, 1)], "NaN");
    none_for_all(&[(1.0, 1), (f64::INFINITY, 1)], "infinity");
    none_for_all(&[(1.0, 0), (-3.0, 0), (2.0, 1)], "negative with zero count");
    none_for_all(
        &[(1.0, u64::MAX), (2.0, u64::MAX)],
        "counts overflowing u64",
    );

    // Two values are enough for every family, and the results are finite.
    for family in Family::ALL {
        let f = fit(family, &[(1.0, 1), (2.0, 1)]).expect("two values");
        assert!(f.a.is_finite() && f.b > 0.0 && f.log_likelihood.is_finite());
        assert!((0.0..=1.0).contains(&f.ks));
    }

    // Huge counts near u64::MAX that still add up: fitted, n exact.
    let big = u64::MAX / 4;
    for family in Family::ALL {
        let f = fit(family, &[(1.0, big), (2.0, big), (3.0, big)]).expect("huge counts");
        assert_eq!(f.n, 3 * big);
        assert!((0.0..=1.0).contains(&f.ks));
    }

    // Spread narrower than a bin: gamma and Weibull would need a shape above MAX_SHAPE and
    // refuse; the lognormal's sigma is tiny but valid. Bounded time either way.
    let narrow = [(1.0, 1), (1.0 + 1e-9, 1)];
    assert_eq!(fit_gamma(&narrow), None);
    assert_eq!(fit_weibull(&narrow), None);
    assert!(fit_lognormal(&narrow).unwrap().b < 1e-9);
    // s = ln(1.005) - ln(1.01) / 2 = 1.2334e-5, so k is about 1 / (2 s) = 40,500.
    let f = fit_gamma(&[(1.0, 1), (1.01, 1)]).unwrap();
    assert!(f.a > 3e4 && f.a < 5e4 && f.a <= MAX_SHAPE, "shape {}", f.a);

    // Twenty orders of magnitude apart: the tiny gamma / Weibull shapes converge.
    for family in Family::ALL {
        let f = fit(family, &[(1e-9, 3), (1e9, 1), (1.0, 2)]).expect("wide spread");
        assert!(f.a.is_finite() && f.b.is_finite() && f.ks <= 1.0, "{f:?}");
    }
}

#[test]
fn evaluation_is_consistent_and_total() {
    let models = [
        model(Family::LogNormal, 1.1, 1.0),
        model(Family::LogNormal, -3.0, 0.05),
        model(Family::Gamma, 0.05, 10.0),
        model(Family::Gamma, 0.7, 4.0),
        model(Family::Gamma, 500.0, 0.01),
        model(Family::Weibull, 0.3, 2.0),
        model(Family::Weibull, 3.0, 4.0),
    ];
    for m in models {
        for q in [1e-9, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999_999] {
            let x = m.quantile(q);
            assert!(x > 0.0 && x.is_finite(), "{m:?} q {q}: {x}");
            assert!((m.cdf(x) - q).abs() < 1e-9 * q.max(1e-3), "{m:?} q {q}");
        }
        assert_eq!(m.median(), m.quantile(0.5));
        assert_eq!(
            (m.cdf(0.0), m.cdf(-1.0), m.cdf(f64::INFINITY)),
            (0.0, 0.0, 1.0)
        );
        assert_eq!((m.quantile(0.0), m.quantile(1.0)), (0.0, f64::INFINITY));
        assert_eq!((m.quantile(-0.5), m.quantile(2.0)), (0.0, f64::INFINITY));
        assert!(m.cdf(f64::NAN).is_nan() && m.quantile(f64::NAN).is_nan());
        assert_eq!(m.ln_pdf(0.0), f64::NEG_INFINITY);
    }
    // Means: exp(mu + sigma^2 / 2), k theta, lambda Gamma(1 + 1/k) (Gamma(4/3) = 0.8929795...).
    assert!(rel(model(Family::LogNormal, 1.0, 0.5).mean(), 1.125f64.exp()) < 1e-12);
    assert!(rel(model(Family::Gamma, 0.7, 4.0).mean(), 2.8) < 1e-12);
    assert!(
        rel(
            model(Family::Weibull, 3.0, 4.0).mean(),
            4.0 * 0.892_979_511_569_249_2
        ) < 1e-9
    );
    // Closed forms against statrs-independent values.
    assert!(
        rel(
            model(Family::Weibull, 2.0, 3.0).median(),
            3.0 * 2f64.ln().sqrt()
        ) < 1e-12
    );
    assert!(rel(model(Family::LogNormal, 1.0, 0.5).median(), 1f64.exp()) < 1e-12);
    assert!(rel(model(Family::Gamma, 1.0, 2.0).median(), 2.0 * 2f64.ln()) < 1e-9);
    // Parameters no fit produces evaluate to NaN, never panic.
    for m in [
        model(Family::Gamma, 0.0, 1.0),
        model(Family::Gamma, 1.0, -1.0),
        model(Family::Weibull, f64::NAN, 1.0),
        model(Family::LogNormal, 0.0, 0.0),
        model(Family::LogNormal, f64::INFINITY, 1.0),
    ] {
        assert!(m.cdf(1.0).is_nan() && m.quantile(0.5).is_nan() && m.mean().is_nan());
        assert!(m.ln_pdf(1.0).is_nan());
    }
    // Small shapes below statrs's zero cut-off (z < 1.1e-15): the series, continuous across it.
    let g = model(Family::Gamma, 0.05, 1.0);
    let want = (0.05 * 1e-15f64.ln() - statrs::function::gamma::ln_gamma(1.05)).exp();
    assert!(rel(g.cdf(1e-15), want) < 1e-12 && want > 0.18);
    assert!(rel(g.cdf(0.999_999e-14), g.cdf(1.000_001e-14)) < 1e-6);
    // A gamma CDF whose argument overflows or underflows is 1 or 0, not a panic.
    let g = model(Family::Gamma, 2.0, 1e-300);
    assert_eq!(g.cdf(1e300), 1.0);
    assert_eq!(model(Family::Gamma, 2.0, 1e300).cdf(1e-300), 0.0);
}

#[test]
fn ks_distance_of_known_cases() {
    let uniform = |x: f64| (x / 4.0).clamp(0.0, 1.0);
    // ECDF steps 0 -> 0.5 at 1 (F = 0.25) and 0.5 -> 1 at 2 (F = 0.5): distance 0.5.
    assert_eq!(ks_distance(&[(1.0, 1), (2.0, 1)], uniform), 0.5);
    // Unsorted, split and empty bins: the same empirical CDF.
    assert_eq!(
        ks_distance(&[(2.0, 1), (1.0, 0), (3.0, 0), (1.0, 1)], uniform),
        0.5
    );
    // Weighted: 3 of 4 at 1 (F = 0.25): 0.5 at 1, then |0.5 - 0.75| and |0.5 - 1| at 2.
    assert_eq!(ks_distance(&[(1.0, 3), (2.0, 1)], uniform), 0.5);
    assert_eq!(ks_distance(&[(1.0, 1), (3.0, 1)], uniform), 0.25);
    assert_eq!(ks_distance(&[], uniform), 0.0);
    assert_eq!(ks_distance(&[(1.0, 0)], uniform), 0.0);
    assert_eq!(ks_distance(&[(1.0, 1)], |_| f64::NAN), 1.0);
    assert_eq!(ks_distance(&[(1.0, 1)], |_| 7.0), 1.0);
    // Counts that overflow u64 when added still give a distance in [0, 1].
    let d = ks_distance(&[(1.0, u64::MAX), (3.0, u64::MAX)], uniform);
    assert!((d - 0.25).abs() < 1e-12);
    // A NaN value cannot stall the scan.
    let d = ks_distance(&[(1.0, 1), (f64::NAN, 1)], uniform);
    assert!((0.0..=1.0).contains(&d));
}

#[test]
fn trigamma_matches_known_values() {
    use std::f64::consts::PI;
    let check = |x: f64, want: f64| {
        assert!(
            rel(trigamma(x), want) < 1e-13,
            "{x}: {} vs {want}",
            trigamma(x)
        );
    };
    check(1.0, PI * PI / 6.0);
    check(0.5, PI * PI / 2.0);
    check(2.0, PI * PI / 6.0 - 1.0);
    check(1.5, PI * PI / 2.0 - 4.0);
    check(10.0, 0.105_166_335_681_686);
    check(1e-8, 1e16 + PI * PI / 6.0);
    // psi1(x) ~ 1/x + 1/(2x^2) for large x.
    check(1e6, 1e-6 + 0.5e-12 + 1e-18 / 6.0);
    assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan() && trigamma(f64::NAN).is_nan());
}
