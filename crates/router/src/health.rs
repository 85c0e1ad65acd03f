//! Per-route health: a time-bucketed sliding window of outcomes.
//!
//! Why buckets rather than an exponentially weighted average: a bucketed window forgets exactly
//! (an outage that ended a window ago no longer counts at all), has a volume that the
//! minimum-volume rule can be applied to (an idle route is never judged on three samples), and
//! keeps latency as a histogram so quantiles (not means) drive trips and adaptive timeouts.
//! Running totals are maintained incrementally, so reading a verdict costs O(latency bins), not
//! O(buckets x bins), which keeps every routing decision cheap.

use std::time::Duration;

use serde::Serialize;

use crate::adapter::{Attribution, FailureKind};

/// Latency histogram bins: bin `i` holds latencies in `[BASE * RATIO^(i-1), BASE * RATIO^i)`,
/// bin 0 everything under `BASE`. 50 ms .. ~5 min at 20% resolution, plenty for thresholds of
/// seconds and small enough to sum quickly.
pub(crate) const LATENCY_BINS: usize = 48;
const BASE_SECS: f64 = 0.05;
const RATIO: f64 = 1.2;

/// Bin edges, computed once: a lookup (by binary search, to find a bin) is several times
/// cheaper than a logarithm or a power on the decision path.
struct Edges {
    /// Lower edge of each bin (bin 0 starts at 0), to find a value's bin.
    lower: [f64; LATENCY_BINS],
    /// Lower and upper edge of each bin, to interpolate inside it.
    interp_lower: [f64; LATENCY_BINS],
    upper: [f64; LATENCY_BINS],
    /// Upper edge of each bin as a duration: the value a quantile in that bin reports.
    upper_duration: [Duration; LATENCY_BINS],
}

fn edges() -> &'static Edges {
    static EDGES: std::sync::OnceLock<Edges> = std::sync::OnceLock::new();
    EDGES.get_or_init(|| {
        // The interpolation edges and the quantile values are exactly what `bin_lower(i)` and
        // `bin_upper(i)` give when called with a run-time `i`; without `black_box` the
        // optimiser may evaluate the powers at compile time, differently in the last bit.
        let at = std::hint::black_box;
        Edges {
            lower: std::array::from_fn(bin_lower),
            interp_lower: std::array::from_fn(|i| bin_lower(at(i))),
            upper: std::array::from_fn(|i| bin_upper(at(i))),
            upper_duration: std::array::from_fn(|i| Duration::from_secs_f64(bin_upper(at(i)))),
        }
    })
}

fn bin_of(secs: f64) -> usize {
    // Index of the last edge <= secs.
    edges()
        .lower
        .partition_point(|e| *e <= secs)
        .saturating_sub(1)
}

/// Upper edge of bin `i` in seconds.
fn bin_upper(i: usize) -> f64 {
    BASE_SECS * RATIO.powi(i as i32)
}

fn bin_lower(i: usize) -> f64 {
    if i == 0 {
        0.0
    } else {
        BASE_SECS * RATIO.powi(i as i32 - 1)
    }
}

#[derive(Clone, Copy)]
struct Counts {
    deliveries: u32,
    /// Sum of the health-attributed entries of `failures`, kept so reads need no sum.
    health_failures: u32,
    /// Samples in `latency` (deliveries plus late deliveries), kept so reads need no sum.
    latency_samples: u32,
    failures: [u32; 7],
    conversions: u32,
    latency: [u32; LATENCY_BINS],
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            deliveries: 0,
            health_failures: 0,
            latency_samples: 0,
            failures: [0; 7],
            conversions: 0,
            latency: [0; LATENCY_BINS],
        }
    }
}

impl Counts {
    fn subtract(&mut self, other: &Counts) {
        self.deliveries -= other.deliveries;
        self.health_failures -= other.health_failures;
        self.latency_samples -= other.latency_samples;
        self.conversions -= other.conversions;
        for (a, b) in self.failures.iter_mut().zip(other.failures.iter()) {
            *a -= *b;
        }
        for (a, b) in self.latency.iter_mut().zip(other.latency.iter()) {
            *a -= *b;
        }
    }
}

/// The bin holding the `rank`-th smallest of the `n` samples in `bins` (the last bin if there
/// are fewer than `rank`). High ranks, the quantiles that trips and timeouts use, are counted
/// down from the top: fewer bins to add up.
fn quantile_bin(bins: &[u32; LATENCY_BINS], n: u32, rank: u32) -> usize {
    if rank <= n / 2 {
        let mut seen = 0;
        for (i, c) in bins.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return i;
            }
        }
        return LATENCY_BINS - 1;
    }
    // The bin sought is the highest one with more than `n - rank` samples at or above it.
    let above = i64::from(n) - i64::from(rank);
    let mut at_or_above = 0i64;
    for i in (0..LATENCY_BINS).rev() {
        at_or_above += i64::from(bins[i]);
        if at_or_above > above {
            return i;
        }
    }
    0
}

/// Where a latency limit falls among the histogram bins: its bin and how far into the bin it
/// reaches. It depends on the limit alone, so a decision works it out once for all the
/// candidates that are given the same time, not once per candidate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LatencyLimit {
    limit: Duration,
    bin: usize,
    /// Share of the bin's width below the limit (1 past the last bin's upper edge).
    frac: f64,
}

impl LatencyLimit {
    pub(crate) fn new(limit: Duration) -> Self {
        let secs = limit.as_secs_f64();
        let bin = bin_of(secs);
        let e = edges();
        let (lo, hi) = (e.interp_lower[bin], e.upper[bin]);
        let frac = if bin == LATENCY_BINS - 1 && secs >= hi {
            1.0
        } else {
            ((secs - lo) / (hi - lo)).clamp(0.0, 1.0)
        };
        LatencyLimit { limit, bin, frac }
    }

    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }
}

/// A latency threshold for a quantile, held as the first bin whose reported value (its upper
/// edge, as [`HealthWindow::latency_quantile`] gives it) exceeds the threshold: whether a
/// quantile is above the threshold then depends only on the samples at or above that bin, with
/// no need to locate the quantile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QuantileThreshold {
    first_above: usize,
}

impl QuantileThreshold {
    pub(crate) fn new(threshold: Duration) -> Self {
        QuantileThreshold {
            first_above: edges().upper_duration.partition_point(|d| *d <= threshold),
        }
    }
}

/// The rank of the `q` quantile among `n` samples.
fn quantile_rank(q: f64, n: u32) -> u32 {
    (q * n as f64).ceil().max(1.0) as u32
}

/// A sliding window of `buckets` buckets spanning `span`.
#[derive(Clone)]
pub(crate) struct HealthWindow {
    buckets: Box<[Counts]>,
    total: Counts,
    /// The samples below a bin, as `share_within` last counted them: `(bin, count)`, dropped
    /// whenever the histogram changes. A route that has had no new samples since the last
    /// decision (most candidates, most of the time) then answers without adding up bins.
    below_memo: Option<(usize, u32)>,
    bucket_nanos: u64,
    /// Absolute index (time / bucket width) of the newest bucket.
    head: u64,
}

impl HealthWindow {
    pub(crate) fn new(span: Duration, buckets: u32) -> Self {
        let n = buckets.max(1) as usize;
        HealthWindow {
            buckets: vec![Counts::default(); n].into_boxed_slice(),
            total: Counts::default(),
            below_memo: None,
            bucket_nanos: (span.as_nanos() as u64 / n as u64).max(1),
            head: 0,
        }
    }

    /// Moves the window to `since_epoch`, forgetting buckets that fell out of it. Inline: every
    /// decision advances each route it looks at, and mostly finds the window current.
    #[inline]
    pub(crate) fn advance(&mut self, since_epoch: Duration) {
        let now = since_epoch.as_nanos() as u64 / self.bucket_nanos;
        if now > self.head {
            self.roll_to(now);
        }
    }

    /// Makes `now` (a bucket index past the head) the head, forgetting the buckets in between.
    fn roll_to(&mut self, now: u64) {
        let n = self.buckets.len() as u64;
        let steps = (now - self.head).min(n);
        for k in 1..=steps {
            let idx = ((self.head + k) % n) as usize;
            let old = self.buckets[idx];
            self.total.subtract(&old);
            self.below_memo = None;
            self.buckets[idx] = Counts::default();
        }
        self.head = now;
    }

    /// Forgets everything (a restored route starts with a clean slate).
    pub(crate) fn clear(&mut self) {
        self.buckets.fill(Counts::default());
        self.total = Counts::default();
        self.below_memo = None;
    }

    fn current(&mut self) -> &mut Counts {
        let n = self.buckets.len() as u64;
        &mut self.buckets[(self.head % n) as usize]
    }

    pub(crate) fn record_delivery(&mut self, latency: Duration) {
        let bin = bin_of(latency.as_secs_f64());
        let c = self.current();
        c.deliveries += 1;
        c.latency_samples += 1;
        c.latency[bin] += 1;
        self.total.deliveries += 1;
        self.total.latency_samples += 1;
        self.total.latency[bin] += 1;
        self.below_memo = None;
    }

    /// A delivery that arrived after its attempt was already counted as timed out: its latency
    /// still teaches the histogram (otherwise adaptive timeouts would only ever see latencies
    /// under the current timeout and could never grow), but it is not a second outcome.
    pub(crate) fn record_late_latency(&mut self, latency: Duration) {
        let bin = bin_of(latency.as_secs_f64());
        let c = self.current();
        c.latency_samples += 1;
        c.latency[bin] += 1;
        self.total.latency_samples += 1;
        self.total.latency[bin] += 1;
        self.below_memo = None;
    }

    pub(crate) fn record_failure(&mut self, kind: FailureKind) {
        let i = kind.index();
        let health = u32::from(kind.attribution() == Attribution::Health);
        let c = self.current();
        c.failures[i] += 1;
        c.health_failures += health;
        self.total.failures[i] += 1;
        self.total.health_failures += health;
    }

    /// A conversion of a delivery made at `delivered_at` (offset from the epoch) is counted in
    /// that delivery's bucket, so a bucket's conversion rate is the rate of its own deliveries.
    /// A delivery older than the window has left it with its bucket: nothing is counted.
    pub(crate) fn record_conversion_of(&mut self, delivered_at: Duration) {
        let k = delivered_at.as_nanos() as u64 / self.bucket_nanos;
        let n = self.buckets.len() as u64;
        if k > self.head || self.head - k >= n {
            return;
        }
        self.buckets[(k % n) as usize].conversions += 1;
        self.total.conversions += 1;
    }

    /// Deliveries and their conversions in the buckets that ended at least `lag` before `now`:
    /// only deliveries old enough to have converted.
    pub(crate) fn mature_conversions(&self, now: Duration, lag: Duration) -> (u32, u32) {
        let Some(edge) = now.checked_sub(lag) else {
            return (0, 0);
        };
        // Buckets k with (k + 1) x width <= edge.
        let Some(last) = (edge.as_nanos() as u64 / self.bucket_nanos).checked_sub(1) else {
            return (0, 0);
        };
        let n = self.buckets.len() as u64;
        let first = self.head.saturating_sub(n - 1);
        let (mut deliveries, mut conversions) = (0, 0);
        for k in first..=last.min(self.head) {
            let c = &self.buckets[(k % n) as usize];
            deliveries += c.deliveries;
            conversions += c.conversions;
        }
        (deliveries, conversions)
    }

    /// `invalid_destination` answers in the window.
    pub(crate) fn invalid(&self) -> u32 {
        self.total.failures[FailureKind::InvalidDestination.index()]
    }

    pub(crate) fn deliveries(&self) -> u32 {
        self.total.deliveries
    }

    pub(crate) fn health_failures(&self) -> u32 {
        self.total.health_failures
    }

    fn failures_by(&self, a: Attribution) -> u32 {
        FailureKind::ALL
            .iter()
            .filter(|k| k.attribution() == a)
            .map(|k| self.total.failures[k.index()])
            .sum()
    }

    /// Outcomes that can judge the route: deliveries plus health failures.
    pub(crate) fn volume(&self) -> u32 {
        self.deliveries() + self.health_failures()
    }

    pub(crate) fn failure_rate(&self) -> Option<f64> {
        let v = self.volume();
        (v > 0).then(|| self.health_failures() as f64 / v as f64)
    }

    fn latency_samples(&self) -> u32 {
        self.total.latency_samples
    }

    /// The `q` quantile of windowed delivery latency (upper edge of its bin), if any samples.
    pub(crate) fn latency_quantile(&self, q: f64) -> Option<Duration> {
        let n = self.latency_samples();
        if n == 0 {
            return None;
        }
        let rank = quantile_rank(q, n);
        Some(edges().upper_duration[quantile_bin(&self.total.latency, n, rank)])
    }

    /// Whether the `q` quantile of windowed delivery latency is above `threshold`: exactly
    /// `latency_quantile(q) > threshold` (false without samples), for a fraction of the cost.
    pub(crate) fn latency_quantile_exceeds(&self, q: f64, threshold: QuantileThreshold) -> bool {
        let n = self.latency_samples();
        let first = threshold.first_above;
        if n == 0 || first == LATENCY_BINS {
            return false;
        }
        // The quantile lies at or above `first` exactly when fewer than `rank` samples lie below.
        let at_or_above: u32 = self.total.latency[first..].iter().sum();
        n - at_or_above < quantile_rank(q, n)
    }

    /// Share of windowed deliveries that took at most `limit`, interpolating inside the limit's
    /// bin; `None` without samples.
    pub(crate) fn share_within(&mut self, limit: &LatencyLimit) -> Option<f64> {
        let n = self.latency_samples();
        if n == 0 {
            return None;
        }
        let b = limit.bin;
        let below = match self.below_memo {
            Some((memo_bin, below)) if memo_bin == b => below,
            _ => {
                let below = self.count_below(b);
                self.below_memo = Some((b, below));
                below
            }
        };
        Some((below as f64 + limit.frac * self.total.latency[b] as f64) / n as f64)
    }

    /// Samples in the bins below `bin`.
    fn count_below(&self, bin: usize) -> u32 {
        let bins = &self.total.latency;
        // Every sample is in some bin, so the samples below `bin` are also all of them minus
        // those at or above it: count from whichever end has fewer bins to add (limits of
        // seconds sit in the upper half).
        let n = self.latency_samples();
        debug_assert_eq!(n, bins.iter().sum::<u32>());
        if bin <= LATENCY_BINS / 2 {
            bins[..bin].iter().sum()
        } else {
            n - bins[bin..].iter().sum::<u32>()
        }
    }

    pub(crate) fn snapshot(&self, consecutive: u32, quantile: f64) -> WindowSnapshot {
        WindowSnapshot {
            deliveries: self.total.deliveries,
            health_failures: self.health_failures(),
            capacity_failures: self.failures_by(Attribution::Capacity),
            user_failures: self.failures_by(Attribution::User),
            conversions: self.total.conversions,
            failure_rate: self.failure_rate(),
            latency_quantile: self.latency_quantile(quantile).map(|d| d.as_secs_f64()),
            consecutive_failures: consecutive,
        }
    }
}

/// What the window said when a route changed state: part of the audit trail, so a reader can
/// see *why* a route was ejected without replaying traffic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WindowSnapshot {
    pub deliveries: u32,
    pub health_failures: u32,
    pub capacity_failures: u32,
    pub user_failures: u32,
    pub conversions: u32,
    pub failure_rate: Option<f64>,
    /// The policy's `health.latency_quantile` of delivery latency, seconds.
    pub latency_quantile: Option<f64>,
    pub consecutive_failures: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn quantile_bins_counted_from_either_end_agree() {
        // The plain definition: the first bin where the running count reaches the rank.
        fn reference(bins: &[u32; LATENCY_BINS], rank: u32) -> usize {
            let mut seen = 0;
            for (i, c) in bins.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return i;
                }
            }
            LATENCY_BINS - 1
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500 {
            let mut bins = [0u32; LATENCY_BINS];
            for b in bins.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = if x.is_multiple_of(3) {
                    (x >> 20) as u32 % 40
                } else {
                    0
                };
            }
            let n: u32 = bins.iter().sum();
            for rank in 1..=n + 1 {
                assert_eq!(
                    quantile_bin(&bins, n, rank),
                    reference(&bins, rank),
                    "{bins:?} {rank}"
                );
            }
        }
    }

    #[test]
    fn quantile_threshold_agrees_with_the_quantile() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300 {
            let mut w = HealthWindow::new(secs(60.0), 6);
            for _ in 0..next() % 60 {
                // Latencies spread over every bin, some in the bins around the thresholds.
                w.record_delivery(secs((next() % 400_000) as f64 / 1000.0));
            }
            for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
                for t in [0.0, 0.05, 1.0, 24.0, 29.86, 30.0, 31.0, 500.0, 1e6] {
                    let threshold = secs(t);
                    assert_eq!(
                        w.latency_quantile_exceeds(q, QuantileThreshold::new(threshold)),
                        w.latency_quantile(q).is_some_and(|d| d > threshold),
                        "q {q}, threshold {t}"
                    );
                }
            }
        }
        // Thresholds exactly at a bin's reported value are not exceeded by that bin.
        let mut w = HealthWindow::new(secs(60.0), 6);
        w.record_delivery(secs(3.0));
        let reported = w.latency_quantile(0.5).unwrap();
        assert!(!w.latency_quantile_exceeds(0.5, QuantileThreshold::new(reported)));
    }

    #[test]
    fn edge_table_matches_the_edge_formulas() {
        let e = edges();
        for i in 0..LATENCY_BINS {
            let i = std::hint::black_box(i);
            assert_eq!(
                e.interp_lower[i].to_bits(),
                bin_lower(i).to_bits(),
                "lower {i}"
            );
            assert_eq!(e.upper[i].to_bits(), bin_upper(i).to_bits(), "upper {i}");
            assert_eq!(e.upper_duration[i], Duration::from_secs_f64(bin_upper(i)));
        }
    }

    #[test]
    fn bins_follow_their_edges() {
        let check = |secs: f64, bin: usize| assert_eq!(bin_of(secs), bin, "{secs}");
        check(0.0, 0);
        check(0.049, 0);
        check(0.05, 1);
        check(0.0599, 1);
        check(0.06, 2);
        check(1e9, LATENCY_BINS - 1);
        for i in 1..LATENCY_BINS {
            let mid = (bin_lower(i) + bin_upper(i)) / 2.0;
            check(mid, i);
        }
    }

    #[test]
    fn window_forgets_exactly_one_span_later() {
        let mut w = HealthWindow::new(secs(10.0), 10);
        w.advance(secs(0.5));
        w.record_failure(FailureKind::Timeout);
        w.advance(secs(5.5));
        w.record_delivery(secs(2.0));
        assert_eq!(w.volume(), 2);
        assert_eq!(w.failure_rate(), Some(0.5));
        // The failure's bucket (0..1s) leaves the window when the head reaches 10s.
        w.advance(secs(9.9));
        assert_eq!(w.volume(), 2);
        w.advance(secs(10.0));
        assert_eq!(w.volume(), 1);
        assert_eq!(w.failure_rate(), Some(0.0));
        // A jump longer than the span clears everything.
        w.advance(secs(100.0));
        assert_eq!(w.volume(), 0);
        assert_eq!(w.failure_rate(), None);
    }

    #[test]
    fn conversions_count_with_their_delivery_and_only_mature_buckets_are_judged() {
        // 60 s in 12 buckets of 5 s.
        let mut w = HealthWindow::new(secs(60.0), 12);
        w.advance(secs(1.0));
        w.record_delivery(secs(2.0));
        w.advance(secs(31.0));
        w.record_delivery(secs(2.0));
        // The first delivery converts at 32 s: counted in its own bucket (0..5 s).
        w.advance(secs(32.0));
        w.record_conversion_of(secs(1.0));
        // At 32 s with a 30 s lag, only buckets that ended by 2 s are mature: none.
        assert_eq!(w.mature_conversions(secs(32.0), secs(30.0)), (0, 0));
        // At 36 s the 0..5 s bucket is mature; the delivery at 31 s is not.
        assert_eq!(w.mature_conversions(secs(36.0), secs(30.0)), (1, 1));
        assert_eq!(w.mature_conversions(secs(36.0), secs(0.0)), (2, 1));
        // A conversion of a delivery that left the window is not counted.
        w.advance(secs(70.0));
        w.record_conversion_of(secs(1.0));
        assert_eq!(w.mature_conversions(secs(70.0), secs(0.0)), (1, 0));
    }

    #[test]
    fn user_and_capacity_failures_do_not_count_in_failure_rate() {
        let mut w = HealthWindow::new(secs(60.0), 6);
        w.record_failure(FailureKind::InvalidDestination);
        w.record_failure(FailureKind::RateLimited);
        w.record_failure(FailureKind::NoInventory);
        w.record_delivery(secs(1.0));
        assert_eq!(w.failure_rate(), Some(0.0));
        let s = w.snapshot(0, 0.5);
        assert_eq!((s.capacity_failures, s.user_failures), (2, 1));
    }

    #[test]
    fn latency_quantiles_are_within_one_bin() {
        let mut w = HealthWindow::new(secs(60.0), 6);
        for i in 1..=100 {
            w.record_delivery(secs(i as f64 * 0.1)); // 0.1 .. 10 s
        }
        let check = |q: f64, expect: f64| {
            let got = w.latency_quantile(q).unwrap().as_secs_f64();
            assert!(
                got >= expect && got <= expect * RATIO * 1.0001,
                "q{q}: {got} vs {expect}"
            );
        };
        check(0.5, 5.0);
        check(0.9, 9.0);
        check(0.99, 9.9);
        fn within(w: &mut HealthWindow, s: f64) -> Option<f64> {
            w.share_within(&LatencyLimit::new(secs(s)))
        }
        let s = within(&mut w, 5.0).unwrap();
        assert!((s - 0.5).abs() < 0.06, "{s}");
        assert_eq!(within(&mut w, 1000.0), Some(1.0));
        assert_eq!(within(&mut w, 0.0), Some(0.0));
        // Limits in the lower and the upper half of the bins, counted from either end (or
        // remembered from the previous count), agree with the plain sum of the bins below.
        for limit in [0.08, 0.3, 1.0, 2.5, 7.0, 20.0, 20.0, 60.0] {
            let l = LatencyLimit::new(secs(limit));
            let below: u32 = w.total.latency[..l.bin].iter().sum();
            let expect = (below as f64 + l.frac * w.total.latency[l.bin] as f64) / 100.0;
            assert_eq!(within(&mut w, limit), Some(expect), "{limit}");
        }
        // New samples, late ones included, are counted at once.
        w.record_delivery(secs(1.0));
        w.record_late_latency(secs(1.0));
        let below: u32 = w.total.latency[..LatencyLimit::new(secs(60.0)).bin]
            .iter()
            .sum();
        assert_eq!(below, 102);
        assert_eq!(within(&mut w, 60.0), Some(1.0));
        assert!(within(&mut w, 5.0).unwrap() > s);
        // And so is forgetting them.
        w.advance(secs(1000.0));
        assert_eq!(within(&mut w, 60.0), None);
        w.record_delivery(secs(30.0));
        assert_eq!(within(&mut w, 20.0), Some(0.0));
    }
}
