//! Choosing a family, and empirical quantiles.

use super::super::{Family, choose, empirical_quantile, ks_threshold};
use super::{draws, histogram, model, quantile_grid};

#[test]
fn choose_picks_the_generating_family_on_clear_cases() {
    let cases = [
        (Family::LogNormal, 3f64.ln(), 1.0),
        (Family::Gamma, 0.7, 4.0),
        (Family::Weibull, 3.0, 4.0),
    ];
    for (family, a, b) in cases {
        let truth = model(family, a, b);
        for (what, samples) in [
            ("grid", histogram(quantile_grid(&truth, 20_000))),
            ("stream", histogram(draws(&truth, 200_000, 7))),
        ] {
            let choice = choose(&samples);
            let best = choice
                .best
                .unwrap_or_else(|| panic!("{what} {family:?}: {}", choice.reason));
            assert_eq!(best.family, family, "{what}: {}", choice.reason);
            assert_eq!(choice.candidates.len(), 3);
            assert!(best.ks < ks_threshold(best.n));
            assert!(
                choice.reason.starts_with(family.name()),
                "{}",
                choice.reason
            );
            for c in &choice.candidates {
                assert!((0.0..=1.0).contains(&c.ks), "{c:?}");
                assert!(c.aic >= best.aic);
            }
        }
    }
}

#[test]
fn choose_picks_the_family_at_production_volumes() {
    // 50 million records: the threshold is the floor, and a good fit still passes it.
    let truth = model(Family::Gamma, 0.7, 4.0);
    let samples: Vec<(f64, u64)> = histogram(quantile_grid(&truth, 20_000))
        .into_iter()
        .map(|(x, c)| (x, c * 2_500))
        .collect();
    let choice = choose(&samples);
    let best = choice.best.expect("accepted");
    assert_eq!((best.family, best.n), (Family::Gamma, 50_000_000));
}

#[test]
fn choose_refuses_a_bimodal_mixture() {
    // Half the traffic around 1 s, half around 8 s (two carriers): no unimodal family is within
    // 1.5 % of it everywhere.
    let fast = quantile_grid(&model(Family::LogNormal, 0.0, 0.25), 10_000);
    let slow = quantile_grid(&model(Family::LogNormal, 8f64.ln(), 0.25), 10_000);
    let samples = histogram(fast.into_iter().chain(slow));
    let choice = choose(&samples);
    assert_eq!(choice.best, None, "{}", choice.reason);
    assert_eq!(choice.candidates.len(), 3);
    for c in &choice.candidates {
        assert!((0.0..=1.0).contains(&c.ks) && c.ks > 0.05, "{c:?}");
    }
    assert!(
        choice.reason.starts_with("no family fits"),
        "{}",
        choice.reason
    );
    assert!(choice.reason.contains("empirical"), "{}", choice.reason);
    let closest = choice
        .candidates
        .iter()
        .min_by(|x, y| x.ks.total_cmp(&y.ks))
        .unwrap();
    assert!(
        choice.reason.contains(&format!("{:.4}", closest.ks)),
        "{}",
        choice.reason
    );
}

#[test]
fn choose_explains_what_cannot_be_fitted() {
    for (samples, says) in [
        (vec![], "no samples"),
        (vec![(2.0, 10)], "single distinct value"),
        (vec![(2.0, 10), (2.0, 5)], "single distinct value"),
        (vec![(0.0, 1), (2.0, 5)], "above zero"),
        (vec![(1.0, u64::MAX), (2.0, 1)], "2^64"),
    ] {
        let choice = choose(&samples);
        assert_eq!(choice.best, None);
        assert!(choice.candidates.is_empty());
        assert!(choice.reason.contains(says), "{says}: {}", choice.reason);
    }
}

#[test]
fn ks_threshold_is_the_critical_value_with_a_floor() {
    assert!((ks_threshold(100) - 0.136).abs() < 1e-12);
    assert!((ks_threshold(1_000) - 1.36 / 1_000f64.sqrt()).abs() < 1e-12);
    assert_eq!(ks_threshold(10_000), 0.015);
    assert_eq!(ks_threshold(10_000_000), 0.015);
    assert_eq!(ks_threshold(0), f64::INFINITY);
}

#[test]
fn empirical_quantiles_by_nearest_rank() {
    let s = [(1.0, 1), (2.0, 2), (3.0, 1)];
    for (q, want) in [
        (0.0, 1.0),
        (0.25, 1.0),
        (0.26, 2.0),
        (0.5, 2.0),
        (0.75, 2.0),
        (0.76, 3.0),
        (1.0, 3.0),
    ] {
        assert_eq!(empirical_quantile(&s, q), Some(want), "q {q}");
    }
    // Unsorted, with empty bins: the same.
    let u = [(3.0, 1), (5.0, 0), (1.0, 1), (2.0, 2)];
    assert_eq!(empirical_quantile(&u, 0.5), Some(2.0));
    assert_eq!(empirical_quantile(&u, 1.0), Some(3.0));
    for q in [-0.1, 1.1, f64::NAN] {
        assert_eq!(empirical_quantile(&s, q), None);
    }
    assert_eq!(empirical_quantile(&[], 0.5), None);
    assert_eq!(empirical_quantile(&[(1.0, 0)], 0.5), None);
    // Counts summing past u64: no overflow.
    let big = [(1.0, u64::MAX), (2.0, u64::MAX), (3.0, u64::MAX)];
    assert_eq!(empirical_quantile(&big, 0.2), Some(1.0));
    assert_eq!(empirical_quantile(&big, 0.5), Some(2.0));
    assert_eq!(empirical_quantile(&big, 0.9), Some(3.0));
}
