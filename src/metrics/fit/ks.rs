//! The Kolmogorov-Smirnov distance between weighted samples and a model.
//!
//! The distance is the statistic, not the test: how far, in probability, the model's CDF ever is
//! from the share of samples at or below a value. It is read as "the model misplaces at most this
//! share of the traffic", which stays meaningful at any n; [`super::select`] explains why the
//! test built on it does not.

use super::samples::sorted;

/// `sup_x |F_n(x) - cdf(x)|`, where `F_n` is the weighted empirical CDF of `samples`
/// (`(value, count)`, sorted by value; an unsorted slice is sorted in a copy). In [0, 1].
///
/// The empirical CDF is a step function and a model CDF is continuous and non-decreasing, so the
/// supremum is reached at a sample value, from one side or the other: at each distinct value `v`
/// the model is compared with the empirical CDF just below `v` and at `v`. Equal values and
/// zero counts are handled (bins merge, empty bins are skipped). Model values are clamped to
/// [0, 1]; a NaN from the model counts as the worst possible fit (1). No samples: 0 (nothing
/// contradicts the model; a caller with no samples has nothing to fit anyway).
pub fn ks_distance(samples: &[(f64, u64)], cdf: impl Fn(f64) -> f64) -> f64 {
    let samples = sorted(samples);
    // u128: the counts of any slice of u64 add up without overflow, and the last step is 1.
    let n: u128 = samples.iter().map(|&(_, c)| u128::from(c)).sum();
    if n == 0 {
        return 0.0;
    }
    let share = |cum: u128| (cum as f64 / n as f64).min(1.0);
    let mut cum: u128 = 0;
    let mut d: f64 = 0.0;
    let mut i = 0;
    while i < samples.len() {
        let v = samples[i].0;
        let before = share(cum);
        let mut added: u128 = 0;
        // At least one bin per round, so a NaN value (unequal to itself) cannot stall the loop.
        loop {
            added += u128::from(samples[i].1);
            i += 1;
            if i == samples.len() || samples[i].0 != v {
                break;
            }
        }
        if added == 0 {
            // Only empty bins at this value: the empirical CDF does not step here.
            continue;
        }
        cum += added;
        let f = cdf(v);
        if f.is_nan() {
            return 1.0;
        }
        let f = f.clamp(0.0, 1.0);
        d = d.max((f - before).abs()).max((f - share(cum)).abs());
    }
    d.min(1.0)
}
