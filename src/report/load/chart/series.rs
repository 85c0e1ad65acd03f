//! A load test's samples merged into at most [`MAX_POINTS`] points, so a chart's size is
//! bounded whatever the run's length (an interval a second for a day is 86,400 samples).
//!
//! Consecutive samples are merged in equal runs. Rates are averaged weighted by each interval's
//! length, so a merged rate is the exact rate over the merged span; dropped arrivals are summed;
//! in flight keeps the most of the run's ends of intervals, so a peak is never averaged away.

use crate::metrics::load::LoadSample;
use crate::report::chart::MAX_POINTS;

/// One point of a chart: samples merged over `(t0, t1]`, wall seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Point {
    /// Start of the span: the end of the previous point (0 for the first).
    pub t0: f64,
    /// End of the span: the `t` of its last sample.
    pub t1: f64,
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub completed_rate: f64,
    /// The most in flight at the end of any of its intervals.
    pub in_flight: u64,
    /// Arrivals dropped over the span.
    pub dropped: u64,
}

/// `v` where it is a finite number, else 0 (a chart never draws NaN).
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// `series` merged into at most [`MAX_POINTS`] points, in time order.
pub(crate) fn merged(series: &[LoadSample]) -> Vec<Point> {
    let k = series.len().div_ceil(MAX_POINTS).max(1);
    let mut out = Vec::with_capacity(series.len().div_ceil(k));
    let mut prev = 0.0f64;
    for group in series.chunks(k) {
        let t0 = prev;
        let mut last = t0;
        let (mut span, mut target, mut achieved, mut completed) = (0.0, 0.0, 0.0, 0.0);
        for s in group {
            let t = finite(s.t).max(last);
            let w = t - last;
            span += w;
            target += w * finite(s.target_rate);
            achieved += w * finite(s.achieved_rate);
            completed += w * finite(s.completed_rate);
            last = t;
        }
        let n = group.len() as f64;
        // Zero-length spans (equal `t`s) fall back to the plain mean.
        let mean = |weighted: f64, f: fn(&LoadSample) -> f64| {
            if span > 0.0 {
                weighted / span
            } else {
                group.iter().map(|s| finite(f(s))).sum::<f64>() / n
            }
        };
        out.push(Point {
            t0,
            t1: last,
            target_rate: mean(target, |s| s.target_rate),
            achieved_rate: mean(achieved, |s| s.achieved_rate),
            completed_rate: mean(completed, |s| s.completed_rate),
            in_flight: group.iter().map(|s| s.in_flight).max().unwrap_or(0),
            dropped: group.iter().map(|s| s.dropped).sum(),
        });
        prev = last;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, rate: f64, in_flight: u64, dropped: u64) -> LoadSample {
        LoadSample {
            t,
            target_rate: rate,
            achieved_rate: rate,
            completed_rate: rate,
            in_flight,
            dropped,
            ..LoadSample::default()
        }
    }

    #[test]
    fn short_series_are_kept_as_they_are() {
        let s = [sample(1.0, 10.0, 3, 0), sample(1.5, 20.0, 5, 2)];
        let m = merged(&s);
        assert_eq!(m.len(), 2);
        assert_eq!((m[1].t0, m[1].t1), (1.0, 1.5));
        assert_eq!(
            (m[1].target_rate, m[1].in_flight, m[1].dropped),
            (20.0, 5, 2)
        );
        assert!(merged(&[]).is_empty());
    }

    #[test]
    fn long_series_are_bounded_with_exact_rates_sums_and_peaks() {
        // A day of one-second intervals; one spike of in flight.
        let n = 86_400;
        let s: Vec<LoadSample> = (0..n)
            .map(|i| {
                sample(
                    (i + 1) as f64,
                    if i % 2 == 0 { 100.0 } else { 300.0 },
                    if i == 5_000 { 999 } else { 1 },
                    1,
                )
            })
            .collect();
        let m = merged(&s);
        assert!(m.len() <= MAX_POINTS, "{}", m.len());
        assert_eq!(m.last().unwrap().t1, n as f64);
        assert_eq!(m.iter().map(|p| p.dropped).sum::<u64>(), n as u64);
        assert_eq!(m.iter().map(|p| p.in_flight).max(), Some(999));
        // Groups of an even number of seconds: the exact mean rate.
        assert!(
            m.iter().all(|p| (p.target_rate - 200.0).abs() < 1e-9),
            "{:?}",
            m[0]
        );
        assert!(m.windows(2).all(|w| w[0].t1 == w[1].t0));
    }

    #[test]
    fn uneven_intervals_weigh_by_their_length() {
        let s: Vec<LoadSample> = (0..MAX_POINTS + 1)
            .map(|i| {
                sample(
                    if i == 0 { 1.0 } else { (i + 2) as f64 },
                    if i == 1 { 10.0 } else { 40.0 },
                    0,
                    0,
                )
            })
            .collect();
        // Pairs: the first spans 0..3, 1 s at 40/s then 2 s at 10/s.
        let m = merged(&s);
        assert_eq!((m[0].t0, m[0].t1), (0.0, 3.0));
        assert!((m[0].target_rate - 20.0).abs() < 1e-9, "{:?}", m[0]);
        // Nonsense times neither panic nor go backwards.
        let odd = [
            sample(f64::NAN, f64::INFINITY, 1, 1),
            sample(2.0, 5.0, 1, 1),
        ];
        let m = merged(&odd);
        assert!(m.iter().all(|p| p.target_rate.is_finite() && p.t1 >= p.t0));
    }
}
