//! The three latency families and a fitted member of one of them.
//!
//! All three are two-parameter families on `(0, inf)` that the lab's scenario files can express.
//! They differ in the tail: lognormal is heavy (a few very slow deliveries), gamma and Weibull
//! with shape above 1 are light; gamma and Weibull with shape below 1 pile up near zero. The
//! fits are in `mle.rs`, the goodness of fit in `ks.rs`; both are re-exported here.
//!
//! Evaluation never panics: a [`Fitted`] with parameters no fit would produce (its fields are
//! public) evaluates to NaN.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, LogNormal, Weibull};
use statrs::function::gamma::{checked_gamma_lr, ln_gamma};

pub use super::ks::ks_distance;
pub use super::mle::{fit_gamma, fit_lognormal, fit_weibull};

/// A family of latency distributions. Serialized snake_case, spelled as the scenario files'
/// `kind` spells it (`lognormal`, not `log_normal`), so the fitted family names the scenario's
/// distribution directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    #[serde(rename = "lognormal")]
    LogNormal,
    Gamma,
    Weibull,
}

impl Family {
    /// Every family, in the order [`super::select::choose`] lists its candidates.
    pub const ALL: [Family; 3] = [Family::LogNormal, Family::Gamma, Family::Weibull];

    /// The name as serde spells it (`lognormal`, `gamma`, `weibull`).
    pub fn name(self) -> &'static str {
        match self {
            Family::LogNormal => "lognormal",
            Family::Gamma => "gamma",
            Family::Weibull => "weibull",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A distribution fitted by maximum likelihood to weighted samples, with how well it fits.
///
/// Parameters, by family:
/// - [`Family::LogNormal`]: `a` = mu, `b` = sigma: the mean and standard deviation of `ln x`
///   (x in seconds). Median `exp(mu)`.
/// - [`Family::Gamma`]: `a` = shape k, `b` = scale theta (seconds). Mean `k * theta`.
/// - [`Family::Weibull`]: `a` = shape k, `b` = scale lambda (seconds).
///   `CDF = 1 - exp(-(x / lambda)^k)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    pub family: Family,
    pub a: f64,
    pub b: f64,
    /// Sum over the samples of `count * ln pdf(value)`: the histogram's values are taken as
    /// exact observations (with 0.1 % bins the difference to the binned likelihood is far below
    /// the differences between families).
    pub log_likelihood: f64,
    /// Akaike's information criterion, `2 * 2 - 2 * log_likelihood` (every family has two
    /// parameters, so comparing AIC is comparing likelihoods; it is kept as AIC so a family with
    /// another number of parameters can join).
    pub aic: f64,
    /// Kolmogorov-Smirnov distance between the samples' empirical CDF and [`Fitted::cdf`], in
    /// [0, 1].
    pub ks: f64,
    /// Total count of the samples the fit saw.
    pub n: u64,
}

/// Iterations of the gamma quantile's safeguarded Newton search (it needs fewer than 10; the
/// bound only stops a pathological case from looping).
const QUANTILE_ITERATIONS: usize = 200;

impl Fitted {
    /// `P(X <= x)`. 0 for `x <= 0`, NaN for a NaN `x` or invalid parameters.
    pub fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() || !self.valid() {
            return f64::NAN;
        }
        if x <= 0.0 {
            return 0.0;
        }
        if x == f64::INFINITY {
            return 1.0;
        }
        match self.family {
            Family::LogNormal => LogNormal::new(self.a, self.b).map_or(f64::NAN, |d| d.cdf(x)),
            Family::Gamma => gamma_cdf(self.a, x / self.b),
            Family::Weibull => Weibull::new(self.a, self.b).map_or(f64::NAN, |d| d.cdf(x)),
        }
    }

    /// Natural log of the density at `x`; `-inf` for `x <= 0`, NaN for invalid parameters.
    pub fn ln_pdf(&self, x: f64) -> f64 {
        if x.is_nan() || !self.valid() {
            return f64::NAN;
        }
        if x <= 0.0 || x == f64::INFINITY {
            return f64::NEG_INFINITY;
        }
        let (a, b) = (self.a, self.b);
        let lx = x.ln();
        match self.family {
            Family::LogNormal => {
                let z = (lx - a) / b;
                -lx - b.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * z * z
            }
            Family::Gamma => (a - 1.0) * lx - x / b - a * b.ln() - ln_gamma(a),
            Family::Weibull => {
                let lz = lx - b.ln();
                a.ln() - b.ln() + (a - 1.0) * lz - (a * lz).exp()
            }
        }
    }

    /// The `q`-quantile: the `x` with `cdf(x) == q`. 0 for `q <= 0`, infinity for `q >= 1`, NaN
    /// for a NaN `q` or invalid parameters.
    pub fn quantile(&self, q: f64) -> f64 {
        if q.is_nan() || !self.valid() {
            return f64::NAN;
        }
        if q <= 0.0 {
            return 0.0;
        }
        if q >= 1.0 {
            return f64::INFINITY;
        }
        match self.family {
            Family::LogNormal => {
                LogNormal::new(self.a, self.b).map_or(f64::NAN, |d| d.inverse_cdf(q))
            }
            Family::Gamma => self.gamma_quantile(q),
            // Closed form, written out: statrs's panics outside [0, 1].
            Family::Weibull => self.b * (-(-q).ln_1p()).powf(1.0 / self.a),
        }
    }

    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    pub fn mean(&self) -> f64 {
        if !self.valid() {
            return f64::NAN;
        }
        match self.family {
            Family::LogNormal => (self.a + 0.5 * self.b * self.b).exp(),
            Family::Gamma => self.a * self.b,
            Family::Weibull => self.b * ln_gamma(1.0 + 1.0 / self.a).exp(),
        }
    }

    /// Parameters a fit can produce: finite, and positive except a lognormal's mu.
    fn valid(&self) -> bool {
        let a_ok = match self.family {
            Family::LogNormal => self.a.is_finite(),
            Family::Gamma | Family::Weibull => self.a.is_finite() && self.a > 0.0,
        };
        a_ok && self.b.is_finite() && self.b > 0.0
    }

    /// statrs's gamma `inverse_cdf` stops after 8 bisections and 4 Newton steps, which is not
    /// always converged; this is Newton on `ln x` (the CDF is smooth and monotone there for every
    /// shape) inside a bracket that bisection falls back to, so it converges to full precision.
    fn gamma_quantile(&self, q: f64) -> f64 {
        let (k, theta) = (self.a, self.b);
        let f = |u: f64| gamma_cdf(k, u.exp()) - q;
        // Bracket in u = ln(x / theta), starting at the mean and widening by e per step.
        let start = k.ln();
        let (mut lo, mut hi) = (start, start);
        for _ in 0..1500 {
            if f(lo) <= 0.0 {
                break;
            }
            lo -= 1.0;
        }
        for _ in 0..1500 {
            if f(hi) >= 0.0 {
                break;
            }
            hi += 1.0;
        }
        if !(f(lo) <= 0.0 && f(hi) >= 0.0) {
            return f64::NAN;
        }
        let ln_gamma_k = ln_gamma(k);
        let mut u = 0.5 * (lo + hi);
        for _ in 0..QUANTILE_ITERATIONS {
            let fu = f(u);
            if fu == 0.0 {
                break;
            }
            if fu < 0.0 {
                lo = u;
            } else {
                hi = u;
            }
            // d/du P(k, e^u) = density of z at e^u times e^u.
            let slope = (k * u - u.exp() - ln_gamma_k).exp();
            let mut next = u - fu / slope;
            if !(next > lo && next < hi) {
                next = 0.5 * (lo + hi);
            }
            let done = (next - u).abs() <= 1e-14 * u.abs().max(1.0);
            u = next;
            if done || hi - lo <= 1e-15 * u.abs().max(1.0) {
                break;
            }
        }
        theta * u.exp()
    }
}

/// Below this `z`, statrs's `gamma_lr(k, z)` returns 0 (it treats `z` within 1.1e-15 of zero as
/// zero), which is wrong for small shapes: `P(0.05, 1e-15)` is 0.18.
const GAMMA_SMALL_Z: f64 = 1e-14;

/// The gamma CDF `P(k, z)` at `z = x / theta`, without statrs's panics at the edges (an
/// overflowing `z`, or one that underflows to 0). For `z` below [`GAMMA_SMALL_Z`] it is the
/// first term of the series, `z^k / Gamma(k + 1)` (the next is `z / (k + 1)` smaller, and
/// `e^-z` is 1 to within 1e-14).
fn gamma_cdf(k: f64, z: f64) -> f64 {
    if z.is_nan() {
        f64::NAN
    } else if z <= 0.0 {
        0.0
    } else if z == f64::INFINITY {
        1.0
    } else if z < GAMMA_SMALL_Z {
        (k * z.ln() - ln_gamma(k + 1.0)).exp().min(1.0)
    } else {
        checked_gamma_lr(k, z).unwrap_or(f64::NAN)
    }
}
