//! Maximum-likelihood fits of the three families to weighted samples.
//!
//! Each fit reduces to sufficient statistics over the bins, so its cost is a few passes over a
//! few thousand bins whatever the total count:
//! - lognormal: closed form, the weighted mean and (population) standard deviation of `ln x`;
//! - gamma: the shape solves `ln k - digamma(k) = s` with `s = ln(mean x) - mean(ln x)`, started
//!   at Minka's closed-form approximation (within 1.5 % of the root) and finished by Newton with
//!   trigamma; the scale is `mean / k`;
//! - Weibull: the shape solves the profile equation
//!   `sum w x^k ln x / sum w x^k - 1/k - mean(ln x) = 0` (increasing in k, one root), by Newton
//!   with a bracket that bisection falls back to; the scale is `(sum w x^k / n)^(1/k)`.
//!
//! Every iteration is bounded ([`MAX_ITERATIONS`]) and a root finder that has not converged by
//! then gives `None`, as do samples [`super::samples::summarize`] refuses.

use statrs::function::gamma::digamma;

use super::distribution::{Family, Fitted};
use super::ks::ks_distance;
use super::samples::{Summary, counted, summarize};

/// Newton iterations allowed per shape. Both equations converge in under 10 from their starts;
/// bisection steps, which halve the bracket, would need about 60 to exhaust f64 precision.
pub const MAX_ITERATIONS: usize = 200;

/// The largest shape a gamma or Weibull fit returns. A shape of 10^6 means a coefficient of
/// variation of 0.1 %, narrower than the caller's histogram bins: such samples are one value
/// as far as the histogram can tell, and the gamma CDF's series would need on the order of
/// `sqrt(k)` terms per evaluation.
pub const MAX_SHAPE: f64 = 1e6;

/// Relative step at which a shape counts as converged.
const TOLERANCE: f64 = 1e-12;

/// Lognormal by maximum likelihood: mu and sigma are the weighted mean and population standard
/// deviation of `ln x`. `None` for fewer than 2 distinct values or a value that is not a
/// finite positive number.
pub fn fit_lognormal(samples: &[(f64, u64)]) -> Option<Fitted> {
    let s = summarize(samples).ok()?;
    finish(samples, &s, Family::LogNormal, s.mean_ln, s.var_ln.sqrt())
}

/// Gamma by maximum likelihood (Minka 2002, "Estimating a Gamma distribution": the closed-form
/// start, then Newton on the shape). `a` = shape, `b` = scale. `None` for fewer than 2 distinct
/// values, a value that is not a finite positive number, no convergence or a shape above
/// [`MAX_SHAPE`].
pub fn fit_gamma(samples: &[(f64, u64)]) -> Option<Fitted> {
    let sum = summarize(samples).ok()?;
    let w = sum.n as f64;
    // x scaled by the geometric mean: mean(ln(x / g)) = 0, so s = ln(mean(x / g)) without the
    // cancellation of ln(mean x) - mean(ln x) for samples with a small spread.
    let mean_scaled = counted(samples)
        .map(|(x, c)| c * (x.ln() - sum.mean_ln).exp())
        .sum::<f64>()
        / w;
    let s = mean_scaled.ln();
    if !(s > 0.0 && s.is_finite()) {
        return None;
    }
    let start = (3.0 - s + ((s - 3.0) * (s - 3.0) + 24.0 * s).sqrt()) / (12.0 * s);
    // f(k) = ln k - digamma(k) - s decreases from +inf to -s: f > 0 means the root is above k.
    let k = solve_monotone(start, false, |k| {
        let (ln_k, psi) = (k.ln(), digamma(k));
        (
            ln_k - psi - s,
            1.0 / k - trigamma(k),
            ln_k.abs() + psi.abs() + s,
        )
    })?;
    if k > MAX_SHAPE {
        return None;
    }
    let mean = sum.mean_ln.exp() * mean_scaled;
    finish(samples, &sum, Family::Gamma, k, mean / k)
}

/// Weibull by maximum likelihood: Newton (with bisection as the fallback) on the shape's profile
/// equation, the scale from the shape. `a` = shape, `b` = scale. `None` for fewer than 2
/// distinct values, a value that is not a finite positive number, no convergence or a shape
/// above [`MAX_SHAPE`].
pub fn fit_weibull(samples: &[(f64, u64)]) -> Option<Fitted> {
    let sum = summarize(samples).ok()?;
    // For a Weibull, sd(ln x) = pi / (k sqrt 6): the moment estimate starts Newton close.
    let start = std::f64::consts::PI / (6.0f64.sqrt() * sum.var_ln.sqrt());
    let k = solve_monotone(start, true, |k| {
        let t = tilted(samples, &sum, k);
        let magnitude = t.mean.abs() + 1.0 / k + sum.var_ln.sqrt();
        (t.mean - 1.0 / k, t.var + 1.0 / (k * k), magnitude)
    })?;
    if k > MAX_SHAPE {
        return None;
    }
    // lambda^k = sum w x^k / n, with x^k = e^(k max_ln) * e^(k (ln x - max_ln)).
    let t = tilted(samples, &sum, k);
    let lambda = (sum.max_ln + (t.sum / sum.n as f64).ln() / k).exp();
    finish(samples, &sum, Family::Weibull, k, lambda)
}

/// Moments of `ln x - mean(ln x)` under the weights `w x^k`, which appear in the Weibull profile
/// equation and its derivative. The weights are taken relative to the largest value's,
/// `e^(k (ln x - max_ln)) <= 1`, so a large shape cannot overflow (the largest bin contributes
/// its count, so the sum is positive).
struct Tilted {
    /// `sum w e^(k (ln x - max_ln))`.
    sum: f64,
    mean: f64,
    var: f64,
}

fn tilted(samples: &[(f64, u64)], s: &Summary, k: f64) -> Tilted {
    let (mut s0, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for (x, c) in counted(samples) {
        let l = x.ln();
        let e = c * (k * (l - s.max_ln)).exp();
        let d = l - s.mean_ln;
        s0 += e;
        s1 += e * d;
        s2 += e * d * d;
    }
    let mean = s1 / s0;
    Tilted {
        sum: s0,
        mean,
        var: (s2 / s0 - mean * mean).max(0.0),
    }
}

/// The root on `(0, inf)` of a strictly monotone function, given as
/// `k -> (f(k), f'(k), magnitude)`, increasing if `increasing`; `magnitude` is the size of the
/// terms `f(k)` is a difference of, which bounds its rounding error.
///
/// Newton from `start`; every evaluation narrows a bracket `(lo, hi)` by the sign of `f`, and a
/// Newton step that leaves the bracket (or is not finite) is replaced by bisection (doubling
/// while there is no upper end yet). Converged when the step or the bracket is below
/// [`TOLERANCE`] relative to k, or `f(k)` is within rounding of zero (for a gamma shape of 10^4,
/// `ln k - digamma(k)` is 5e-5 and carries a rounding error of 1e-15 in 10: Newton's steps are
/// then noise, and waiting for a 1e-12 step could take every iteration). `None` without
/// convergence within [`MAX_ITERATIONS`].
fn solve_monotone(start: f64, increasing: bool, f: impl Fn(f64) -> (f64, f64, f64)) -> Option<f64> {
    let (mut lo, mut hi) = (0.0, f64::INFINITY);
    let mut k = if start.is_finite() && start > 0.0 {
        start
    } else {
        1.0
    };
    for _ in 0..MAX_ITERATIONS {
        let (v, dv, magnitude) = f(k);
        if !v.is_finite() {
            return None;
        }
        if v.abs() <= 16.0 * f64::EPSILON * magnitude {
            return Some(k);
        }
        // Below the root when f has not yet reached zero coming from the left.
        if (v < 0.0) == increasing {
            lo = k;
        } else {
            hi = k;
        }
        let mut next = k - v / dv;
        if !(next.is_finite() && next > lo && next < hi) {
            next = if hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                2.0 * k
            };
        }
        if (next - k).abs() <= TOLERANCE * k || hi - lo <= TOLERANCE * k {
            return Some(next);
        }
        k = next;
    }
    None
}

/// Trigamma, the derivative of digamma (statrs 0.18 has none): the recurrence
/// `psi1(x) = psi1(x + 1) + 1 / x^2` up to x >= 20, then the asymptotic series
/// `1/x + 1/(2x^2) + sum B_2j / x^(2j+1)` to x^-11 (the first term left out is below 4e-18 at
/// 20, a relative 1e-16).
/// NaN for x <= 0.
pub(super) fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 20.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / x;
    let r2 = r * r;
    let series =
        1.0 / 6.0 - r2 * (1.0 / 30.0 - r2 * (1.0 / 42.0 - r2 * (1.0 / 30.0 - r2 * 5.0 / 66.0)));
    acc + r + 0.5 * r2 + r * r2 * series
}

/// A fit with its log-likelihood, AIC and KS distance; `None` if any of them is not finite.
fn finish(samples: &[(f64, u64)], s: &Summary, family: Family, a: f64, b: f64) -> Option<Fitted> {
    let mut fitted = Fitted {
        family,
        a,
        b,
        log_likelihood: 0.0,
        aic: 0.0,
        ks: 0.0,
        n: s.n,
    };
    if !(a.is_finite() && b.is_finite() && b > 0.0) {
        return None;
    }
    fitted.log_likelihood = counted(samples).map(|(x, c)| c * fitted.ln_pdf(x)).sum();
    fitted.aic = 2.0 * 2.0 - 2.0 * fitted.log_likelihood;
    fitted.ks = ks_distance(samples, |x| fitted.cdf(x));
    (fitted.log_likelihood.is_finite() && fitted.ks.is_finite()).then_some(fitted)
}
