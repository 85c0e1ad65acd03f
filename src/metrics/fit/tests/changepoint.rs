//! Incident windows in binomial series with seeded noise.

use rand::SeedableRng;
use rand_distr::{Binomial, Distribution};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::super::changepoint::{MAX_SEGMENTS, penalty};
use super::super::{Incidents, incidents};

/// A series of `buckets` buckets of `trials` trials each, failing at `base` except in the
/// `(start, end, rate)` blocks; failures drawn from a seeded binomial stream.
fn series(
    buckets: usize,
    trials: u64,
    base: f64,
    blocks: &[(usize, usize, f64)],
    seed: u64,
) -> (Vec<u64>, Vec<u64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let failures = (0..buckets)
        .map(|i| {
            let p = blocks
                .iter()
                .find(|&&(s, e, _)| (s..e).contains(&i))
                .map_or(base, |b| b.2);
            Binomial::new(trials, p).unwrap().sample(&mut rng)
        })
        .collect();
    (failures, vec![trials; buckets])
}

fn near(got: usize, want: usize) -> bool {
    got.abs_diff(want) <= 1
}

#[test]
fn a_flat_series_has_no_incident() {
    for seed in 0..20 {
        let (f, t) = series(200, 500, 0.01, &[], seed);
        let found = incidents(&f, &t);
        assert!(found.windows.is_empty(), "seed {seed}: {found:?}");
        assert!(
            (found.baseline - 0.01).abs() < 0.003,
            "seed {seed}: {found:?}"
        );
    }
}

#[test]
fn a_block_at_30_percent_is_found_with_its_edges() {
    for seed in 0..10 {
        let (f, t) = series(200, 500, 0.01, &[(80, 110, 0.30)], seed);
        let found = incidents(&f, &t);
        let [w] = found.windows[..] else {
            panic!("seed {seed}: {found:?}");
        };
        assert!(near(w.start, 80) && near(w.end, 110), "seed {seed}: {w:?}");
        assert!((w.rate - 0.30).abs() < 0.02, "{w:?}");
        assert_eq!(w.trials, 500 * (w.end - w.start) as u64);
        assert_eq!(w.failures, f[w.start..w.end].iter().sum::<u64>());
        assert!((found.baseline - 0.01).abs() < 0.003, "{found:?}");
    }
}

#[test]
fn two_blocks_are_two_windows() {
    for seed in 0..10 {
        let blocks = [(30, 50, 0.25), (130, 160, 0.40)];
        let (f, t) = series(200, 500, 0.01, &blocks, seed);
        let found = incidents(&f, &t);
        assert_eq!(found.windows.len(), 2, "seed {seed}: {found:?}");
        for (w, &(s, e, rate)) in found.windows.iter().zip(&blocks) {
            assert!(near(w.start, s) && near(w.end, e), "seed {seed}: {w:?}");
            assert!((w.rate - rate).abs() < 0.03, "{w:?}");
        }
    }
}

#[test]
fn empty_buckets_neither_split_start_nor_end_a_window() {
    for seed in 0..10 {
        let (mut f, mut t) = series(200, 500, 0.01, &[(80, 110, 0.30)], seed);
        // A gap inside the block, and gaps just before and after it.
        for i in (90..95).chain(75..80).chain(110..115) {
            f[i] = 0;
            t[i] = 0;
        }
        let found = incidents(&f, &t);
        let [w] = found.windows[..] else {
            panic!("seed {seed}: {found:?}");
        };
        // The window starts and ends at buckets with trials, not in the gaps around it.
        assert!(near(w.start, 80) && w.start >= 80, "seed {seed}: {w:?}");
        assert!(near(w.end, 110) && w.end <= 110, "seed {seed}: {w:?}");
        assert_eq!(w.trials, 500 * (w.end - w.start - 5) as u64);
    }
}

#[test]
fn a_small_absolute_increase_is_not_an_incident() {
    // 1 % -> 1.5 % over 30 buckets of 500: a real change (it may become its own segment) but
    // half a percentage point, below the 2-point floor.
    for seed in 0..10 {
        let (f, t) = series(200, 500, 0.01, &[(80, 110, 0.015)], seed);
        let found = incidents(&f, &t);
        assert!(found.windows.is_empty(), "seed {seed}: {found:?}");
    }
    // The same at production volume, where it is many standard errors: still not an incident.
    let (f, t) = series(200, 100_000, 0.01, &[(80, 110, 0.015)], 3);
    assert!(incidents(&f, &t).windows.is_empty());
    // 1 % -> 3.5 % at production volume is.
    let (f, t) = series(200, 100_000, 0.01, &[(80, 110, 0.035)], 3);
    let found = incidents(&f, &t);
    assert_eq!(found.windows.len(), 1, "{found:?}");
    assert_eq!((found.windows[0].start, found.windows[0].end), (80, 110));
}

#[test]
fn incidents_at_the_edges_of_the_series() {
    let (f, t) = series(200, 500, 0.01, &[(0, 20, 0.3), (185, 200, 0.5)], 5);
    let found = incidents(&f, &t);
    let spans: Vec<(usize, usize)> = found.windows.iter().map(|w| (w.start, w.end)).collect();
    assert_eq!(spans.len(), 2, "{found:?}");
    assert!(near(spans[0].0, 0) && near(spans[0].1, 20), "{spans:?}");
    assert!(near(spans[1].0, 185) && near(spans[1].1, 200), "{spans:?}");
}

#[test]
fn a_short_incident_in_a_long_series_is_found() {
    // 5 buckets in 100,000: plain binary segmentation's first split would not see it; the seeded
    // intervals do. Also the 100,000-bucket cost check.
    let (f, t) = series(100_000, 100, 0.01, &[(61_000, 61_005, 0.40)], 11);
    let found = incidents(&f, &t);
    let spans: Vec<(usize, usize)> = found.windows.iter().map(|w| (w.start, w.end)).collect();
    assert_eq!(spans, vec![(61_000, 61_005)], "{found:?}");
    assert!((found.baseline - 0.01).abs() < 0.001);
}

#[test]
fn segments_stay_bounded_on_a_series_that_changes_everywhere() {
    // Alternating 0 % and 50 % buckets of 1,000 trials: every boundary is a real change, far
    // more than MAX_SEGMENTS allows; the result is bounded and still sensible.
    let f: Vec<u64> = (0..2_000)
        .map(|i| if i % 2 == 0 { 0 } else { 500 })
        .collect();
    let t = vec![1_000; 2_000];
    let found = incidents(&f, &t);
    assert!(found.windows.len() <= MAX_SEGMENTS / 2 + 1);
    for w in &found.windows {
        assert!(w.start < w.end && w.end <= 2_000 && w.failures <= w.trials);
    }
}

#[test]
fn degenerate_series_do_not_panic() {
    let empty = Incidents {
        baseline: 0.0,
        windows: vec![],
    };
    assert_eq!(incidents(&[], &[]), empty);
    assert_eq!(incidents(&[0, 0, 0], &[0, 0, 0]), empty);
    assert_eq!(incidents(&[5, 5], &[]), empty);
    // One bucket: a baseline, nothing to compare with.
    let one = incidents(&[3], &[10]);
    assert_eq!((one.baseline, one.windows.len()), (0.3, 0));
    // Failures above trials count as all failing; every bucket fails: baseline 1.
    let all = incidents(&[20, 10, 10], &[10, 10, 10]);
    assert_eq!((all.baseline, all.windows.len()), (1.0, 0));
    // Mismatched lengths pair up to the shorter one.
    let (f, t) = series(200, 500, 0.01, &[(80, 110, 0.30)], 1);
    let found = incidents(&f[..150], &t);
    assert_eq!(found.windows.len(), 1);
    assert!(found.windows[0].end <= 150);
    // A baseline of zero: 3 standard errors are 0, the 2-point floor still applies.
    let mut f = vec![0u64; 100];
    let t = vec![1_000u64; 100];
    f[50] = 10; // 1 %: not an incident even against 0
    assert!(incidents(&f, &t).windows.is_empty());
    f[60] = 300;
    let found = incidents(&f, &t);
    assert!(found.baseline < 0.001, "{found:?}");
    assert_eq!(found.windows.len(), 1);
    assert_eq!((found.windows[0].start, found.windows[0].end), (60, 61));
    // Huge counts: no overflow.
    let found = incidents(&[u64::MAX / 4, 0], &[u64::MAX / 2, u64::MAX / 2]);
    assert!(found.baseline.is_finite());
}

#[test]
fn the_penalty_is_two_log_trials() {
    assert!((penalty(100_000) - 2.0 * 100_000f64.ln()).abs() < 1e-12);
    assert_eq!(penalty(0), 0.0);
    assert_eq!(penalty(1), 0.0);
}
