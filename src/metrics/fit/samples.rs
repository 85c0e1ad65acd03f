//! Weighted samples: checking them and the sufficient statistics every fit starts from.
//!
//! Samples are a histogram, `(value, count)` pairs, never a list of observations: the caller
//! folds millions of records into a few thousand bins, and everything here is a pass over those
//! bins. Bins with a zero count are skipped. Sums are taken in `f64` (a count of 10^7 times a few
//! thousand bins loses nothing that matters at the precision of a fit); the total count is a
//! checked `u64`.

use std::borrow::Cow;

/// Why samples cannot be fitted. [`super::select::choose`] turns it into its reason.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum SampleProblem {
    /// No bin with a positive count.
    Empty,
    /// A value that is not a finite number above zero (latencies are positive seconds).
    NotPositive(f64),
    /// Every counted bin holds the same value: a spread cannot be estimated.
    OneValue(f64),
    /// The counts add up to more than `u64::MAX`.
    Overflow,
}

impl std::fmt::Display for SampleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleProblem::Empty => write!(f, "no samples"),
            SampleProblem::NotPositive(x) => {
                write!(
                    f,
                    "a value ({x}) that is not a finite number of seconds above zero"
                )
            }
            SampleProblem::OneValue(x) => {
                write!(
                    f,
                    "a single distinct value ({x} s): there is no spread to fit"
                )
            }
            SampleProblem::Overflow => write!(f, "the counts add up to more than 2^64"),
        }
    }
}

/// What the fits need from the samples, computed in two passes (the second centred on the first
/// pass's mean, so the variance does not suffer cancellation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Summary {
    /// Total count.
    pub n: u64,
    /// Weighted mean of `ln x`.
    pub mean_ln: f64,
    /// Weighted population variance of `ln x` (divided by n: the maximum-likelihood estimate).
    pub var_ln: f64,
    /// `ln` of the largest counted value.
    pub max_ln: f64,
}

/// Checks the samples and summarises them.
pub(super) fn summarize(samples: &[(f64, u64)]) -> Result<Summary, SampleProblem> {
    let mut n: u64 = 0;
    let mut sum_ln = 0.0;
    let mut first: Option<f64> = None;
    let mut distinct = false;
    let mut max = f64::MIN_POSITIVE;
    for &(x, c) in samples {
        if !(x.is_finite() && x > 0.0) {
            return Err(SampleProblem::NotPositive(x));
        }
        if c == 0 {
            continue;
        }
        n = n.checked_add(c).ok_or(SampleProblem::Overflow)?;
        sum_ln += c as f64 * x.ln();
        max = max.max(x);
        match first {
            None => first = Some(x),
            Some(f) => distinct |= f != x,
        }
    }
    let Some(first) = first else {
        return Err(SampleProblem::Empty);
    };
    if !distinct {
        return Err(SampleProblem::OneValue(first));
    }
    let w = n as f64;
    let mean_ln = sum_ln / w;
    let var_ln = counted(samples)
        .map(|(x, c)| {
            let d = x.ln() - mean_ln;
            c * d * d
        })
        .sum::<f64>()
        / w;
    Ok(Summary {
        n,
        mean_ln,
        var_ln,
        max_ln: max.ln(),
    })
}

/// The bins with a positive count, as `(value, count as f64)`.
pub(super) fn counted(samples: &[(f64, u64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    samples
        .iter()
        .filter(|&&(_, c)| c > 0)
        .map(|&(x, c)| (x, c as f64))
}

/// The samples sorted by value. The caller's histograms already are, so this is normally a
/// borrow; an unsorted slice is sorted in a copy (a few thousand bins) rather than giving a
/// wrong empirical CDF.
pub(super) fn sorted(samples: &[(f64, u64)]) -> Cow<'_, [(f64, u64)]> {
    if samples.is_sorted_by(|a, b| a.0 <= b.0) {
        Cow::Borrowed(samples)
    } else {
        let mut v = samples.to_vec();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        Cow::Owned(v)
    }
}
