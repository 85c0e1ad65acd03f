//! Choosing a family for a latency histogram, or none.
//!
//! The three families are fitted by maximum likelihood and ranked by AIC (with two parameters
//! each, by likelihood). The best is then checked against the data as a whole: the
//! Kolmogorov-Smirnov distance must be below [`ks_threshold`]. A model that fails is not used;
//! the caller falls back to the empirical distribution, which is always right about the data it
//! saw. The reason says which family came closest, so a reader can judge how close.
//!
//! Why not a plain KS test: its 5 % critical value is `1.36 / sqrt(n)`, 0.00043 at 10^7
//! samples. No real latency distribution (a mixture of carriers, handsets and hours of the day,
//! binned to 0.1 %) is within 0.04 percentage points of any two-parameter family, so at
//! production volumes the test rejects every model, including ones that are excellent for a
//! simulation. What matters there is the size of the misfit, not whether it is detectable: the
//! threshold therefore has a floor, [`KS_FLOOR`] (1.5 percentage points of traffic anywhere in
//! the distribution), and is the test's critical value only for small samples (below about
//! 8,200) where sampling noise alone could exceed the floor.

use serde::{Deserialize, Serialize};

use super::distribution::{Family, Fitted};
use super::mle::{fit_gamma, fit_lognormal, fit_weibull};
use super::samples::{sorted, summarize};

/// The asymptotic 5 % critical value of the KS statistic is `KS_CRITICAL_95 / sqrt(n)`. With
/// parameters estimated from the same samples the true critical value is smaller (Lilliefors),
/// so for small samples the threshold is lenient, not strict.
pub const KS_CRITICAL_95: f64 = 1.36;

/// The smallest KS distance threshold: a model may misplace up to 1.5 % of the traffic.
pub const KS_FLOOR: f64 = 0.015;

/// The KS distance below which a fitted family is accepted for `n` samples:
/// `max(1.36 / sqrt(n), 0.015)`. Infinite for `n == 0`.
pub fn ks_threshold(n: u64) -> f64 {
    (KS_CRITICAL_95 / (n as f64).sqrt()).max(KS_FLOOR)
}

/// The outcome of [`choose`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The accepted family, or `None`: use the empirical distribution.
    pub best: Option<Fitted>,
    /// Every family that could be fitted, in [`Family::ALL`] order.
    pub candidates: Vec<Fitted>,
    /// One sentence on why, with the figures (AIC, KS distance, threshold).
    pub reason: String,
}

/// Fits every family, takes the one with the lowest AIC and accepts it if its KS distance is
/// below [`ks_threshold`] of the total count (strictly). Otherwise, and when nothing can be
/// fitted, `best` is `None`.
///
/// Only the lowest-AIC family is considered for acceptance: if it misfits, a family with a
/// worse likelihood and a smaller KS distance is a coincidence of where the two measures look,
/// and the empirical distribution is the safer fallback. The reason names the family with the
/// smallest KS distance all the same.
pub fn choose(samples: &[(f64, u64)]) -> Choice {
    if let Err(problem) = summarize(samples) {
        return Choice {
            best: None,
            candidates: Vec::new(),
            reason: format!("nothing to fit: {problem}; use the empirical distribution"),
        };
    }
    let candidates: Vec<Fitted> = Family::ALL
        .iter()
        .filter_map(|family| match family {
            Family::LogNormal => fit_lognormal(samples),
            Family::Gamma => fit_gamma(samples),
            Family::Weibull => fit_weibull(samples),
        })
        .collect();
    let Some(lowest_aic) = candidates
        .iter()
        .min_by(|x, y| x.aic.total_cmp(&y.aic))
        .copied()
    else {
        return Choice {
            best: None,
            candidates,
            reason: "no family could be fitted (no convergence); use the empirical distribution"
                .to_owned(),
        };
    };
    let threshold = ks_threshold(lowest_aic.n);
    if lowest_aic.ks < threshold {
        return Choice {
            best: Some(lowest_aic),
            reason: format!(
                "{}: lowest AIC ({:.1}) of {} fitted families, KS distance {:.4} below the \
                 threshold {:.4} (n = {})",
                lowest_aic.family,
                lowest_aic.aic,
                candidates.len(),
                lowest_aic.ks,
                threshold,
                lowest_aic.n
            ),
            candidates,
        };
    }
    let closest = candidates
        .iter()
        .min_by(|x, y| x.ks.total_cmp(&y.ks))
        .copied()
        .unwrap_or(lowest_aic);
    let closest_note = if closest.family == lowest_aic.family {
        "it is also the closest by KS".to_owned()
    } else {
        format!(
            "the closest by KS is {} at {:.4}",
            closest.family, closest.ks
        )
    };
    Choice {
        best: None,
        reason: format!(
            "no family fits: {} has the lowest AIC ({:.1}) but a KS distance of {:.4}, not below \
             the threshold {:.4} (n = {}); {closest_note}; use the empirical distribution",
            lowest_aic.family, lowest_aic.aic, lowest_aic.ks, threshold, lowest_aic.n
        ),
        candidates,
    }
}

/// The nearest-rank `q`-quantile of weighted samples (sorted by value; an unsorted slice is
/// sorted in a copy): the smallest value with at least `ceil(q * n)` of the `n` samples at or
/// below it (at least one), as the lab's histograms report quantiles. `None` for no samples or
/// a `q` outside [0, 1].
pub fn empirical_quantile(samples: &[(f64, u64)], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let samples = sorted(samples);
    let n: u128 = samples.iter().map(|&(_, c)| u128::from(c)).sum();
    if n == 0 {
        return None;
    }
    // In f64, then clamped: exact for any n a histogram of u64 counts can reach in practice.
    let rank = ((q * n as f64).ceil() as u128).clamp(1, n);
    let mut cum: u128 = 0;
    for &(x, c) in samples.iter() {
        cum += u128::from(c);
        if cum >= rank {
            return Some(x);
        }
    }
    None
}
