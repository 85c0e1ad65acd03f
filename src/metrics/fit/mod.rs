//! Statistics for building a scenario from production attempt records (`failover-lab fit`).
//!
//! Pure functions of plain data, like the rest of `metrics/`: no I/O, no rendering. The caller
//! parses the records, folds them into histograms and series and writes the scenario; this module
//! answers two questions about what it folded:
//!
//! - **Which latency distribution?** ([`distribution`], [`select`]) Maximum-likelihood fits of
//!   lognormal, gamma and Weibull to a weighted histogram (`&[(seconds, count)]`, sorted by
//!   value: memory is the number of bins, never the number of records), their AIC and
//!   Kolmogorov-Smirnov distance, and [`choose`], which accepts the best family only if it is
//!   close to the data as a whole and otherwise says to use the empirical distribution.
//! - **When were the incidents?** ([`changepoint`]) Windows of buckets in which a failure rate
//!   was clearly above its usual level, by change-point detection on the binomial likelihood.
//!
//! Every function returns `None` (or an empty result) where the question has no answer (no
//! samples, a single value, no trials), never NaN or a panic, and every iteration is bounded.

pub mod changepoint;
pub mod distribution;
mod ks;
mod mle;
mod samples;
pub mod select;

#[cfg(test)]
mod tests;

pub use changepoint::{Incidents, Window, incidents};
pub use distribution::{Family, Fitted, fit_gamma, fit_lognormal, fit_weibull, ks_distance};
pub use mle::{MAX_ITERATIONS, MAX_SHAPE};
pub use select::{Choice, choose, empirical_quantile, ks_threshold};
