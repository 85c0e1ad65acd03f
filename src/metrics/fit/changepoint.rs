//! Incident windows in a failure-rate series: where the failure rate of a route was, for a
//! while, clearly above its usual level.
//!
//! The series is per time bucket: `failures[i]` of `trials[i]` attempts failed. The method:
//!
//! 1. **Change points** by seeded binary segmentation (Kovács, Li, Bühlmann, Munk, "Seeded binary
//!    segmentation", Biometrika 2023) on the binomial log-likelihood. Plain binary segmentation
//!    splits the whole series at its single best point and recurses; a short incident in a long
//!    series barely moves the rate of either half, so its first split never clears the penalty
//!    and the incident is never found (5 buckets at 40 % in 100,000 buckets of 100 trials at
//!    1 % gain under 1 log-likelihood unit from the best single split, about 590 from
//!    isolating the block, against a penalty of 32; the test holding this case fails when the
//!    whole series is the only interval, i.e. with plain binary segmentation). Seeded binary segmentation computes the best single split of a fixed
//!    family of intervals at every scale (the whole series, then halves, quarters, ..., each
//!    layer's intervals overlapping by half), so some interval holds the incident with enough
//!    context around it. Change points are then taken greedily, largest gain first, skipping any
//!    interval that already contains one, while the gain exceeds [`penalty`] and there are fewer
//!    than [`MAX_SEGMENTS`] segments. Plain binary segmentation then goes over the segments
//!    this left (largest gain first, same penalty and bound), so nothing plain binary
//!    segmentation would find is lost. Cost: about `2 B log2 B` gain evaluations for `B`
//!    buckets (3.4 million for 100,000), sorting the candidates, and `O(B)` per change point of
//!    the second pass: `O(B log B + B x segments)`.
//! 2. **Baseline**: the trial-weighted lower quartile of the segment rates, i.e. the rate of the
//!    segment holding the 25th-percentile trial when segments are ordered by rate. A pooled
//!    mean would be pulled up by the incidents; a median fails when an incident holds half the
//!    records (a 20-minute brownout in 40 minutes of records: found on the first replay of
//!    regional-degradation); the quartile stays a normal stretch while incidents hold up to
//!    three quarters of the trials, and cannot be set by a lucky quiet moment, which would have
//!    to hold a quarter of them. A series that is more than three quarters incident has no
//!    "normal" to compare with, and its incidents are not reported.
//! 3. **Incidents**: a segment whose rate exceeds the baseline by at least
//!    [`MIN_STANDARD_ERRORS`] (3) binomial standard errors of a segment of its size at the
//!    baseline rate, `sqrt(b (1 - b) / trials)`, *and* by at least [`MIN_EXCESS`] (0.02, two
//!    percentage points) absolute. The first rule keeps sampling noise out; the second keeps out
//!    changes that are real but too small to matter for a scenario (at production volumes 3
//!    standard errors are a hundredth of a percentage point, and real failure rates drift by
//!    more than that hour to hour). Adjacent incident segments merge into one window.
//!
//! Buckets with zero trials are neutral: they are removed before segmenting, so they neither
//! start, end nor break an incident; a window runs from its first bucket with trials to its last
//! and may span empty buckets.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The most segments a series is cut into. Greedy selection takes the largest gains first, so
/// the bound drops the weakest changes of a series that has more (an overdispersed production
/// series can have many changes that are real but irrelevant).
pub const MAX_SEGMENTS: usize = 256;

/// An incident's rate is at least this many standard errors above the baseline.
pub const MIN_STANDARD_ERRORS: f64 = 3.0;

/// An incident's rate is at least this much above the baseline (absolute).
pub const MIN_EXCESS: f64 = 0.02;

/// The log-likelihood gain a change point must exceed: `2 ln N` for `N` trials in the series.
///
/// BIC charges `ln N / 2` per parameter; a change point adds two (the new rate and the location),
/// so `ln N`. That is doubled because the greedy search takes the largest gain of about
/// `2 B log2 B` candidate splits, whose maximum under no change grows like `ln(B log B) / 2`, and
/// because production series are overdispersed (rates vary bucket to bucket beyond binomial
/// noise). For 100,000 buckets of 500 trials the penalty is 35.4, against a largest null gain of
/// roughly 15; an incident of 2 buckets at 30 % against 1 % gains about 780.
pub fn penalty(total_trials: u64) -> f64 {
    2.0 * (total_trials.max(1) as f64).ln()
}

/// The incidents of a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incidents {
    /// The usual failure rate (see the module documentation); 0 for a series without trials.
    pub baseline: f64,
    /// In time order, disjoint, never adjacent (adjacent incident segments merge).
    pub windows: Vec<Window>,
}

/// An incident: buckets `start..end` (indices into the series, end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The first bucket with trials.
    pub start: usize,
    /// One past the last bucket with trials.
    pub end: usize,
    /// `failures / trials`.
    pub rate: f64,
    pub failures: u64,
    pub trials: u64,
}

/// Finds the incident windows of a per-bucket binomial series (see the module documentation).
///
/// Buckets pair up to the shorter of the two slices; failures above trials count as all trials
/// failing. No panic and no NaN for any input: a series without trials has baseline 0 and no
/// window.
pub fn incidents(failures: &[u64], trials: &[u64]) -> Incidents {
    let series = Series::new(failures, trials);
    let m = series.index.len();
    let total = series.trials(0, m);
    if total == 0 {
        return Incidents {
            baseline: 0.0,
            windows: Vec::new(),
        };
    }
    let bounds = series.change_points(penalty(total));
    let segments: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let baseline = series.baseline(&segments, total);

    let mut windows: Vec<Window> = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    let close = |(s, e): (usize, usize), windows: &mut Vec<Window>| {
        let (f, t) = (series.failures(s, e), series.trials(s, e));
        windows.push(Window {
            start: series.index[s],
            end: series.index[e - 1] + 1,
            rate: f as f64 / t as f64,
            failures: f,
            trials: t,
        });
    };
    for &(s, e) in &segments {
        if series.is_incident(s, e, baseline) {
            open = Some(open.map_or((s, e), |(os, _)| (os, e)));
        } else if let Some(w) = open.take() {
            close(w, &mut windows);
        }
    }
    if let Some(w) = open {
        close(w, &mut windows);
    }
    Incidents { baseline, windows }
}

/// The series without its empty buckets, as prefix sums.
struct Series {
    /// Original bucket index of each kept bucket.
    index: Vec<usize>,
    /// `cum_failures[i]` = failures of kept buckets `0..i`.
    cum_failures: Vec<u64>,
    cum_trials: Vec<u64>,
}

impl Series {
    fn new(failures: &[u64], trials: &[u64]) -> Series {
        let mut s = Series {
            index: Vec::new(),
            cum_failures: vec![0],
            cum_trials: vec![0],
        };
        let (mut cf, mut ct) = (0u64, 0u64);
        for (i, (&f, &t)) in failures.iter().zip(trials).enumerate() {
            if t == 0 {
                continue;
            }
            // Saturating: a series of more than 2^64 trials is not a series anyone has.
            cf = cf.saturating_add(f.min(t));
            ct = ct.saturating_add(t);
            s.index.push(i);
            s.cum_failures.push(cf);
            s.cum_trials.push(ct);
        }
        s
    }

    fn failures(&self, s: usize, e: usize) -> u64 {
        self.cum_failures[e] - self.cum_failures[s]
    }

    fn trials(&self, s: usize, e: usize) -> u64 {
        self.cum_trials[e] - self.cum_trials[s]
    }

    /// The maximised binomial log-likelihood of kept buckets `s..e` under one rate:
    /// `f ln(f/t) + (t - f) ln((t - f)/t)`.
    fn log_likelihood(&self, s: usize, e: usize) -> f64 {
        let (f, t) = (self.failures(s, e) as f64, self.trials(s, e) as f64);
        x_ln_x(f) + x_ln_x(t - f) - x_ln_x(t)
    }

    /// The best single split `c` of kept buckets `s..e` (`s < c < e`) and its log-likelihood
    /// gain.
    fn best_split(&self, s: usize, e: usize) -> (f64, usize) {
        let whole = self.log_likelihood(s, e);
        let mut best = (f64::NEG_INFINITY, s + 1);
        for c in s + 1..e {
            let gain = self.log_likelihood(s, c) + self.log_likelihood(c, e) - whole;
            if gain > best.0 {
                best = (gain, c);
            }
        }
        best
    }

    /// Segment boundaries in kept-bucket indices: `0`, the change points in order, `len`.
    fn change_points(&self, penalty: f64) -> Vec<usize> {
        let m = self.index.len();
        let mut candidates: Vec<(f64, usize, usize, usize)> = seeded_intervals(m)
            .into_iter()
            .filter_map(|(s, e)| {
                let (gain, c) = self.best_split(s, e);
                (gain > penalty).then_some((gain, c, s, e))
            })
            .collect();
        // Largest gain first; ties to the narrower interval, then the earlier one, so the
        // result does not depend on the sort's stability.
        candidates.sort_by(|x, y| {
            y.0.total_cmp(&x.0)
                .then((x.3 - x.2).cmp(&(y.3 - y.2)))
                .then(x.2.cmp(&y.2))
        });
        let mut chosen = BTreeSet::new();
        for (_, c, s, e) in candidates {
            if chosen.len() + 1 >= MAX_SEGMENTS {
                break;
            }
            if chosen.range(s + 1..e).next().is_none() {
                chosen.insert(c);
            }
        }
        // Then plain binary segmentation of the segments found, largest gain first: a change
        // whose evidence needs a whole segment (a long step between two chosen change points)
        // may not clear the penalty in any seeded interval left after the greedy pass, which
        // drops every interval holding a chosen point.
        let bounds: Vec<usize> = std::iter::once(0).chain(chosen.iter().copied()).collect();
        let mut pending: Vec<(f64, usize, usize, usize)> = Vec::new();
        let consider = |s: usize, e: usize, pending: &mut Vec<_>| {
            if e - s >= 2 {
                let (gain, c) = self.best_split(s, e);
                if gain > penalty {
                    pending.push((gain, c, s, e));
                }
            }
        };
        for (i, &s) in bounds.iter().enumerate() {
            consider(s, bounds.get(i + 1).copied().unwrap_or(m), &mut pending);
        }
        while chosen.len() + 1 < MAX_SEGMENTS {
            let Some(top) = (0..pending.len()).max_by(|&i, &j| {
                pending[i]
                    .0
                    .total_cmp(&pending[j].0)
                    .then(pending[j].2.cmp(&pending[i].2))
            }) else {
                break;
            };
            let (_, c, s, e) = pending.swap_remove(top);
            chosen.insert(c);
            consider(s, c, &mut pending);
            consider(c, e, &mut pending);
        }
        std::iter::once(0)
            .chain(chosen)
            .chain(std::iter::once(m))
            .collect()
    }

    /// The rate of the segment holding the 25th-percentile trial, segments ordered by rate.
    fn baseline(&self, segments: &[(usize, usize)], total: u64) -> f64 {
        let rate = |&(s, e): &(usize, usize)| self.failures(s, e) as f64 / self.trials(s, e) as f64;
        let mut by_rate: Vec<(f64, (usize, usize))> =
            segments.iter().map(|seg| (rate(seg), *seg)).collect();
        by_rate.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut cum: u64 = 0;
        for (r, (s, e)) in &by_rate {
            cum += self.trials(*s, *e);
            if cum.saturating_mul(4) >= total {
                return *r;
            }
        }
        by_rate.last().map_or(0.0, |x| x.0)
    }

    fn is_incident(&self, s: usize, e: usize, baseline: f64) -> bool {
        let t = self.trials(s, e) as f64;
        let excess = self.failures(s, e) as f64 / t - baseline;
        let se = (baseline * (1.0 - baseline) / t).sqrt();
        excess >= MIN_EXCESS && excess >= MIN_STANDARD_ERRORS * se
    }
}

/// `x ln x`, 0 at 0.
fn x_ln_x(x: f64) -> f64 {
    if x > 0.0 { x * x.ln() } else { 0.0 }
}

/// The seeded intervals of `0..m` (decay 1/2): layer `k` has intervals of length
/// `ceil(m / 2^k)`, `2^(k+1) - 1` of them with evenly spaced starts (so neighbours overlap by
/// half), down to length 2. Duplicates (short layers have more starts than positions) are
/// dropped. About `2m` intervals, of total length about `2 m log2 m`.
fn seeded_intervals(m: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut layer = 0u32;
    while layer < usize::BITS - 1 {
        let len = m.div_ceil(1usize << layer);
        if len < 2 {
            break;
        }
        let count = (1usize << (layer + 1)) - 1;
        let span = m - len;
        let mut previous = None;
        for i in 0..count {
            let s = if count == 1 {
                0
            } else {
                ((i as u128 * span as u128) / (count - 1) as u128) as usize
            };
            if previous != Some(s) {
                out.push((s, s + len));
                previous = Some(s);
            }
        }
        layer += 1;
    }
    out
}
