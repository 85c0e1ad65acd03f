//! Latency and holding-time distributions: a serde form for scenario files, a compiled sampler.
//!
//! Delivery latency is the quantity failover thresholds are tuned against, and it is never
//! normal: it has a long right tail, a floor, sometimes two modes (direct route vs. a fallback
//! interconnect). A scenario author must be able to say what they measured in the terms they
//! measured it in — "median 3 s, p99 20 s" rather than "mu 1.0986, sigma 0.8" — so the spec form
//! ([`DistributionSpec`]) accepts those parameters and human durations (`"3s"`), and [`compile`]
//! checks them and turns them into the sampler's parameters once.
//!
//! The compiled [`Distribution`] is what the simulation samples, millions of times per second:
//! a plain enum (no `Box<dyn>`, no allocation per draw) with everything precomputed — rand_distr
//! objects, normalised mixture weights, sorted empirical samples. It also knows its analytic
//! mean, CDF and quantiles where they exist, so tests can check samplers against theory and
//! reports can print what a scenario *meant* next to what a run observed.
//!
//! Conventions: samples are seconds, non-negative and finite, capped at [`MAX_SAMPLE_SECS`] so
//! heavy tails (Pareto with a small shape) can always become a [`Duration`].
//!
//! This module is pure data and arithmetic; it knows nothing of actors or of scenario files
//! beyond the rules by which a `csv` file is read ([`FileRules`]: relative to the scenario's
//! directory, bounded, never quoted in errors).
//!
//! [`compile`]: DistributionSpec::compile

use std::path::{Path, PathBuf};
use std::time::Duration;

use failover_router::duration::{HumanDuration, serde_opt, serde_str};
use rand::Rng;
use rand_distr::Distribution as _;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::files::{FileKind, FileRules, csv_error, csv_field_at};

/// Largest value a sample can take, in seconds (about 31.7 years; the duration parser's bound).
pub const MAX_SAMPLE_SECS: f64 = 1e9;

/// z-score of the 99th percentile of the standard normal: `sigma = ln(p99 / median) / Z99`.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// A distribution as written in a scenario file, internally tagged by `kind`.
///
/// ```toml
/// latency = { kind = "lognormal", median = "3s", p99 = "20s" }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DistributionSpec {
    /// Always `value`.
    Constant {
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        value: Duration,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        min: Duration,
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        max: Duration,
    },
    /// Normal with the given mean and standard deviation *before* truncation, truncated at 0 by
    /// resampling (negative draws are redrawn, so the shape above 0 is exactly the normal's). With
    /// `mean >= 3 * std_dev` the truncation is negligible.
    Normal {
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        mean: Duration,
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        std_dev: Duration,
    },
    /// Log-normal given by its median and either `sigma` (std. dev. of the log) or `p99`.
    Lognormal {
        /// The median (50th percentile).
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        median: Duration,
        /// Standard deviation of ln(x), > 0. Give exactly one of `sigma` and `p99`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sigma: Option<f64>,
        /// The 99th percentile, above `median`. Give exactly one of `sigma` and `p99`.
        #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<HumanDuration>")]
        p99: Option<Duration>,
    },
    /// Exponential (memoryless) with the given mean.
    Exponential {
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        mean: Duration,
    },
    /// Gamma with shape k and scale θ (mean kθ).
    Gamma {
        /// Shape k, > 0.
        shape: f64,
        /// Scale θ, longer than 0s.
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        scale: Duration,
    },
    /// Weibull with shape k and scale λ (the 63rd percentile).
    Weibull {
        /// Shape k, > 0.
        shape: f64,
        /// Scale λ (the 63rd percentile), longer than 0s.
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        scale: Duration,
    },
    /// Pareto with minimum `scale` and tail index `shape` (infinite mean when shape <= 1).
    Pareto {
        /// The minimum, longer than 0s.
        #[serde(with = "serde_str")]
        #[schemars(with = "HumanDuration")]
        scale: Duration,
        /// Tail index, > 0 (the mean is infinite when <= 1).
        shape: f64,
    },
    /// Weighted mixture; weights are relative (normalised at compile time).
    Mixture {
        /// The components, `{ weight = 0.9, dist = { kind = ... } }`; at least one.
        components: Vec<MixtureComponent>,
    },
    /// Resampling of observed values: inline `samples`, or a `csv` file with one column of
    /// seconds (optional header), relative to the scenario file's directory.
    Empirical {
        /// Observed values, e.g. `["1s", "2.5s"]`. Give either `samples` or `csv`.
        #[serde(default, with = "duration_vec", skip_serializing_if = "Vec::is_empty")]
        #[schemars(with = "Vec<HumanDuration>")]
        samples: Vec<Duration>,
        /// CSV file with one column of seconds (optional header), relative to the scenario
        /// file. Give either `samples` or `csv`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        csv: Option<PathBuf>,
    },
}

/// One component of a [`DistributionSpec::Mixture`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    /// Relative weight, > 0.
    pub weight: f64,
    /// The component's distribution.
    pub dist: DistributionSpec,
}

/// `Vec<Duration>` as a list of human duration strings.
mod duration_vec {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|d| failover_router::duration::format(*d)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| failover_router::duration::parse(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// A distribution parameter that cannot work: which parameter, and what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct DistributionError {
    /// Path of the parameter relative to the distribution, e.g. `p99` or
    /// `components[1].dist.sigma`; empty when the problem concerns the whole distribution.
    pub param: String,
    pub message: String,
}

fn invalid(param: impl Into<String>, message: impl Into<String>) -> DistributionError {
    DistributionError {
        param: param.into(),
        message: message.into(),
    }
}

fn fmt_d(d: Duration) -> String {
    failover_router::duration::format(d)
}

fn positive_duration(param: &str, d: Duration) -> Result<f64, DistributionError> {
    if d.is_zero() {
        Err(invalid(param, "must be longer than 0s"))
    } else {
        Ok(d.as_secs_f64())
    }
}

fn positive_number(param: &str, v: f64) -> Result<f64, DistributionError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(param, format!("{v} must be a finite number > 0")))
    }
}

impl DistributionSpec {
    /// The `kind` tag as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            DistributionSpec::Constant { .. } => "constant",
            DistributionSpec::Uniform { .. } => "uniform",
            DistributionSpec::Normal { .. } => "normal",
            DistributionSpec::Lognormal { .. } => "lognormal",
            DistributionSpec::Exponential { .. } => "exponential",
            DistributionSpec::Gamma { .. } => "gamma",
            DistributionSpec::Weibull { .. } => "weibull",
            DistributionSpec::Pareto { .. } => "pareto",
            DistributionSpec::Mixture { .. } => "mixture",
            DistributionSpec::Empirical { .. } => "empirical",
        }
    }

    /// Log-normal from median and p99, the way latency is usually reported.
    pub fn lognormal_p99(median: Duration, p99: Duration) -> Self {
        DistributionSpec::Lognormal {
            median,
            sigma: None,
            p99: Some(p99),
        }
    }

    /// Validates the parameters and builds the sampler. `base_dir` resolves relative `csv` paths
    /// (the directory of the scenario file).
    pub fn compile(&self, base_dir: &Path) -> Result<Distribution, DistributionError> {
        self.compile_with(FileRules::new(base_dir))
    }

    /// [`compile`](Self::compile), reading a `csv` file by `files`' rules.
    pub fn compile_with(&self, files: FileRules<'_>) -> Result<Distribution, DistributionError> {
        let kind = match self {
            DistributionSpec::Constant { value } => Kind::Constant(value.as_secs_f64()),
            DistributionSpec::Uniform { min, max } => {
                if max < min {
                    return Err(invalid(
                        "max",
                        format!(
                            "{} is shorter than min ({}); swap them or raise max",
                            fmt_d(*max),
                            fmt_d(*min)
                        ),
                    ));
                }
                let (min, max) = (min.as_secs_f64(), max.as_secs_f64());
                Kind::Uniform {
                    min,
                    width: max - min,
                }
            }
            DistributionSpec::Normal { mean, std_dev } => {
                let (mean, sd) = (mean.as_secs_f64(), std_dev.as_secs_f64());
                if sd == 0.0 {
                    Kind::Constant(mean)
                } else {
                    let dist = rand_distr::Normal::new(mean, sd)
                        .map_err(|e| invalid("std_dev", e.to_string()))?;
                    // Mass kept by the truncation at 0, and the CDF at 0 of the untruncated normal.
                    let phi_alpha = std_normal_cdf(-mean / sd);
                    Kind::Normal {
                        dist,
                        mean,
                        sd,
                        phi_alpha,
                    }
                }
            }
            DistributionSpec::Lognormal { median, sigma, p99 } => {
                let m = positive_duration("median", *median)?;
                let sigma = match (sigma, p99) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(invalid(
                            "sigma",
                            "give exactly one of `sigma` (std. dev. of ln) or `p99` (e.g. p99 = \"20s\")",
                        ));
                    }
                    (Some(s), None) => positive_number("sigma", *s)?,
                    (None, Some(p99)) => {
                        if p99 <= median {
                            return Err(invalid(
                                "p99",
                                format!(
                                    "{} must be longer than median ({}); a log-normal's p99 lies above its median",
                                    fmt_d(*p99),
                                    fmt_d(*median)
                                ),
                            ));
                        }
                        (p99.as_secs_f64() / m).ln() / Z99
                    }
                };
                let mu = m.ln();
                let dist = rand_distr::LogNormal::new(mu, sigma)
                    .map_err(|e| invalid("sigma", e.to_string()))?;
                Kind::LogNormal { dist, mu, sigma }
            }
            DistributionSpec::Exponential { mean } => {
                let mean = positive_duration("mean", *mean)?;
                let dist =
                    rand_distr::Exp::new(1.0 / mean).map_err(|e| invalid("mean", e.to_string()))?;
                Kind::Exponential { dist, mean }
            }
            DistributionSpec::Gamma { shape, scale } => {
                let shape = positive_number("shape", *shape)?;
                let scale = positive_duration("scale", *scale)?;
                let dist = rand_distr::Gamma::new(shape, scale)
                    .map_err(|e| invalid("shape", e.to_string()))?;
                Kind::Gamma { dist, shape, scale }
            }
            DistributionSpec::Weibull { shape, scale } => {
                let shape = positive_number("shape", *shape)?;
                let scale = positive_duration("scale", *scale)?;
                let dist = rand_distr::Weibull::new(scale, shape)
                    .map_err(|e| invalid("shape", e.to_string()))?;
                Kind::Weibull { dist, shape, scale }
            }
            DistributionSpec::Pareto { scale, shape } => {
                let shape = positive_number("shape", *shape)?;
                let scale = positive_duration("scale", *scale)?;
                let dist = rand_distr::Pareto::new(scale, shape)
                    .map_err(|e| invalid("shape", e.to_string()))?;
                Kind::Pareto { dist, shape, scale }
            }
            DistributionSpec::Mixture { components } => {
                if components.is_empty() {
                    return Err(invalid(
                        "components",
                        "is empty; add at least one { weight = 1.0, dist = { ... } }",
                    ));
                }
                let mut compiled = Vec::with_capacity(components.len());
                let mut cumulative = Vec::with_capacity(components.len());
                let mut total = 0.0;
                for (i, c) in components.iter().enumerate() {
                    positive_number(&format!("components[{i}].weight"), c.weight)?;
                    let d = c.dist.compile_with(files).map_err(|e| DistributionError {
                        param: join_param(&format!("components[{i}].dist"), &e.param),
                        message: e.message,
                    })?;
                    total += c.weight;
                    cumulative.push(total);
                    compiled.push(d);
                }
                for c in &mut cumulative {
                    *c /= total;
                }
                // Guard against rounding: the last bound must catch every u in [0, 1).
                if let Some(last) = cumulative.last_mut() {
                    *last = f64::INFINITY;
                }
                Kind::Mixture {
                    cumulative: cumulative.into_boxed_slice(),
                    components: compiled.into_boxed_slice(),
                }
            }
            DistributionSpec::Empirical { samples, csv } => {
                let mut values: Vec<f64> = match (samples.is_empty(), csv) {
                    (false, Some(_)) => {
                        return Err(invalid(
                            "csv",
                            "give either inline `samples` or a `csv` file, not both",
                        ));
                    }
                    (true, None) => {
                        return Err(invalid(
                            "samples",
                            "is empty; list observed values (samples = [\"1s\", \"2.5s\"]) or give csv = \"file.csv\"",
                        ));
                    }
                    (false, None) => samples.iter().map(Duration::as_secs_f64).collect(),
                    (true, Some(path)) => files
                        .read_text(FileKind::Samples, path)
                        .and_then(|(path, text)| read_csv_seconds(&path, &text))
                        .map_err(|message| invalid("csv", message))?,
                };
                values.sort_by(f64::total_cmp);
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                Kind::Empirical {
                    sorted: values.into_boxed_slice(),
                    mean,
                }
            }
        };
        Ok(Distribution { kind })
    }
}

fn join_param(prefix: &str, param: &str) -> String {
    if param.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{param}")
    }
}

/// Reads one column of seconds from `text` (the contents of `path`); a first line that is not
/// a number is taken as a header. Errors name the physical line and column, never the content.
fn read_csv_seconds(path: &Path, text: &str) -> Result<Vec<f64>, String> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut values = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, text, &e))?;
        // Only for an error: counting lines is linear in the text.
        let at = || {
            let (line, col) = csv_field_at(text, record.position().map_or(0, |p| p.byte()), 0);
            format!("{shown}:{line}:{col}")
        };
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != 1 {
            return Err(format!(
                "{}: expected one column of seconds, found {} columns",
                at(),
                record.len()
            ));
        }
        match record[0].parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => values.push(v),
            Ok(_) => {
                return Err(format!(
                    "{}: not a duration in seconds (must be finite and >= 0)",
                    at()
                ));
            }
            // A header line.
            Err(_) if i == 0 => {}
            Err(_) => return Err(format!("{}: not a number of seconds", at())),
        }
    }
    if values.is_empty() {
        return Err(format!("{shown} holds no samples"));
    }
    Ok(values)
}

/// A compiled, validated distribution over seconds. Cheap to sample, cheap to clone.
#[derive(Clone, Debug)]
pub struct Distribution {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Constant(f64),
    Uniform {
        min: f64,
        width: f64,
    },
    Normal {
        dist: rand_distr::Normal<f64>,
        mean: f64,
        sd: f64,
        phi_alpha: f64,
    },
    LogNormal {
        dist: rand_distr::LogNormal<f64>,
        mu: f64,
        sigma: f64,
    },
    Exponential {
        dist: rand_distr::Exp<f64>,
        mean: f64,
    },
    Gamma {
        dist: rand_distr::Gamma<f64>,
        shape: f64,
        scale: f64,
    },
    Weibull {
        dist: rand_distr::Weibull<f64>,
        shape: f64,
        scale: f64,
    },
    Pareto {
        dist: rand_distr::Pareto<f64>,
        shape: f64,
        scale: f64,
    },
    Mixture {
        /// Normalised cumulative weights; the last is +inf.
        cumulative: Box<[f64]>,
        components: Box<[Distribution]>,
    },
    Empirical {
        sorted: Box<[f64]>,
        mean: f64,
    },
}

impl Distribution {
    /// A distribution that always yields `secs` (clamped to `[0, MAX_SAMPLE_SECS]`).
    pub fn constant(secs: f64) -> Self {
        Distribution {
            kind: Kind::Constant(clamp_sample(secs)),
        }
    }

    /// Draws one value in seconds: finite, in `[0, MAX_SAMPLE_SECS]`.
    #[inline]
    pub fn sample_secs<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let x = match &self.kind {
            Kind::Constant(v) => return *v,
            Kind::Uniform { min, width } => min + width * rng.random::<f64>(),
            Kind::Normal { dist, .. } => {
                // Resampling keeps the normal's shape above 0. The mean is >= 0, so each draw is
                // accepted with probability >= 1/2; the bound only guards against a broken RNG.
                let mut x = 0.0;
                for _ in 0..64 {
                    x = dist.sample(rng);
                    if x >= 0.0 {
                        break;
                    }
                }
                x
            }
            Kind::LogNormal { dist, .. } => dist.sample(rng),
            Kind::Exponential { dist, .. } => dist.sample(rng),
            Kind::Gamma { dist, .. } => dist.sample(rng),
            Kind::Weibull { dist, .. } => dist.sample(rng),
            Kind::Pareto { dist, .. } => dist.sample(rng),
            Kind::Mixture {
                cumulative,
                components,
            } => {
                let u = rng.random::<f64>();
                let i = cumulative.partition_point(|&c| c <= u);
                return components[i.min(components.len() - 1)].sample_secs(rng);
            }
            Kind::Empirical { sorted, .. } => {
                return sorted[rng.random_range(0..sorted.len())];
            }
        };
        clamp_sample(x)
    }

    /// Draws one value as a [`Duration`].
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        duration_from_secs(self.sample_secs(rng))
    }

    /// The mean in seconds, if finite (Pareto with shape <= 1 has none). Ignores the
    /// [`MAX_SAMPLE_SECS`] cap.
    pub fn mean_secs(&self) -> Option<f64> {
        Some(match &self.kind {
            Kind::Constant(v) => *v,
            Kind::Uniform { min, width } => min + width / 2.0,
            Kind::Normal {
                mean,
                sd,
                phi_alpha,
                ..
            } => mean + sd * std_normal_pdf(-mean / sd) / (1.0 - phi_alpha),
            Kind::LogNormal { mu, sigma, .. } => (mu + sigma * sigma / 2.0).exp(),
            Kind::Exponential { mean, .. } => *mean,
            Kind::Gamma { shape, scale, .. } => shape * scale,
            Kind::Weibull { shape, scale, .. } => scale * libm::tgamma(1.0 + 1.0 / shape),
            Kind::Pareto { shape, scale, .. } => {
                if *shape <= 1.0 {
                    return None;
                }
                shape * scale / (shape - 1.0)
            }
            Kind::Mixture {
                cumulative,
                components,
            } => {
                let mut sum = 0.0;
                for (i, c) in components.iter().enumerate() {
                    sum += weight_at(cumulative, i) * c.mean_secs()?;
                }
                sum
            }
            Kind::Empirical { mean, .. } => *mean,
        })
    }

    /// P(X <= x), x in seconds.
    pub fn cdf_secs(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        match &self.kind {
            Kind::Constant(v) => {
                if x >= *v {
                    1.0
                } else {
                    0.0
                }
            }
            Kind::Uniform { min, width } => {
                if *width == 0.0 {
                    if x >= *min { 1.0 } else { 0.0 }
                } else {
                    ((x - min) / width).clamp(0.0, 1.0)
                }
            }
            Kind::Normal {
                mean,
                sd,
                phi_alpha,
                ..
            } => {
                if x < 0.0 {
                    0.0
                } else {
                    ((std_normal_cdf((x - mean) / sd) - phi_alpha) / (1.0 - phi_alpha))
                        .clamp(0.0, 1.0)
                }
            }
            Kind::LogNormal { mu, sigma, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    std_normal_cdf((x.ln() - mu) / sigma)
                }
            }
            Kind::Exponential { mean, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-x / mean).exp_m1()
                }
            }
            Kind::Gamma { shape, scale, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    regularized_lower_gamma(*shape, x / scale)
                }
            }
            Kind::Weibull { shape, scale, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-(x / scale).powf(*shape)).exp_m1()
                }
            }
            Kind::Pareto { shape, scale, .. } => {
                if x < *scale {
                    0.0
                } else {
                    1.0 - (scale / x).powf(*shape)
                }
            }
            Kind::Mixture {
                cumulative,
                components,
            } => components
                .iter()
                .enumerate()
                .map(|(i, c)| weight_at(cumulative, i) * c.cdf_secs(x))
                .sum::<f64>()
                .clamp(0.0, 1.0),
            Kind::Empirical { sorted, .. } => {
                sorted.partition_point(|&v| v <= x) as f64 / sorted.len() as f64
            }
        }
    }

    /// The q-quantile in seconds (the smallest x with `cdf(x) >= q`), for q in `[0, 1]`; `None`
    /// for q outside it. Closed form where one exists, numeric inversion of the CDF for gamma
    /// and mixtures. `quantile_secs(1.0)` is `+inf` for unbounded distributions.
    pub fn quantile_secs(&self, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        Some(match &self.kind {
            Kind::Constant(v) => *v,
            Kind::Uniform { min, width } => min + width * q,
            Kind::Normal {
                mean,
                sd,
                phi_alpha,
                ..
            } => {
                if q == 0.0 {
                    0.0
                } else {
                    (mean + sd * std_normal_quantile(phi_alpha + q * (1.0 - phi_alpha))).max(0.0)
                }
            }
            Kind::LogNormal { mu, sigma, .. } => (mu + sigma * std_normal_quantile(q)).exp(),
            Kind::Exponential { mean, .. } => -mean * (-q).ln_1p(),
            Kind::Weibull { shape, scale, .. } => scale * (-(-q).ln_1p()).powf(1.0 / shape),
            Kind::Pareto { shape, scale, .. } => scale * (1.0 - q).powf(-1.0 / shape),
            Kind::Empirical { sorted, .. } => {
                let n = sorted.len();
                let k = ((q * n as f64).ceil() as usize).clamp(1, n);
                sorted[k - 1]
            }
            Kind::Gamma { .. } => {
                if q == 1.0 {
                    f64::INFINITY
                } else {
                    self.invert_cdf(q)
                }
            }
            Kind::Mixture { components, .. } => {
                if q == 1.0 {
                    components
                        .iter()
                        .filter_map(|c| c.quantile_secs(1.0))
                        .fold(0.0, f64::max)
                } else {
                    self.invert_cdf(q)
                }
            }
        })
    }

    /// Bisection on the CDF, for q in [0, 1).
    fn invert_cdf(&self, q: f64) -> f64 {
        let mut lo = 0.0;
        let mut hi = 1.0;
        while self.cdf_secs(hi) < q {
            lo = hi;
            hi *= 2.0;
            if hi > MAX_SAMPLE_SECS * 1e3 {
                return f64::INFINITY;
            }
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.cdf_secs(mid) >= q {
                hi = mid;
            } else {
                lo = mid;
            }
            if hi - lo <= 1e-12 * hi {
                break;
            }
        }
        hi
    }
}

/// Seconds as a [`Duration`], clamped to `[0, MAX_SAMPLE_SECS]` (NaN gives the cap): the one
/// conversion the simulation uses for computed delays (a sample times fault factors plus added
/// latency), so no combination of valid inputs can overflow a `Duration` or the agenda's
/// nanosecond clock.
#[inline]
pub fn duration_from_secs(x: f64) -> Duration {
    // Rounded to the nanosecond as `Duration::from_secs_f64` does, without its general-purpose
    // decomposition of the float: the simulation converts several delays per verification. In
    // range by the clamp (1e9 s is 1e18 ns, under u64::MAX).
    Duration::from_nanos((clamp_sample(x) * 1e9 + 0.5) as u64)
}

#[inline]
fn clamp_sample(x: f64) -> f64 {
    // NaN falls into the upper branch; the samplers above never produce one.
    if x < MAX_SAMPLE_SECS {
        x.max(0.0)
    } else {
        MAX_SAMPLE_SECS
    }
}

fn weight_at(cumulative: &[f64], i: usize) -> f64 {
    let hi = if i + 1 == cumulative.len() {
        1.0
    } else {
        cumulative[i]
    };
    let lo = if i == 0 { 0.0 } else { cumulative[i - 1] };
    hi - lo
}

fn std_normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ(z), accurate in both tails.
pub fn std_normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p): Acklam's rational approximation refined by one Halley step (full double precision).
pub fn std_normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let x = if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (-p).ln_1p()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let e = std_normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// P(a, x), the regularised lower incomplete gamma function (series below a+1, Lentz's
/// continued fraction above).
fn regularized_lower_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefix = a * x.ln() - x - libm::lgamma(a);
    if x < a + 1.0 {
        let mut ap = a;
        let mut sum = 1.0 / a;
        let mut del = sum;
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum.ln() + ln_prefix).exp().clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - (ln_prefix.exp() * h)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{GLOBAL, Purpose, stream};

    #[derive(Deserialize, Serialize)]
    struct Wrap {
        d: DistributionSpec,
    }

    #[test]
    fn the_fast_conversion_rounds_as_the_standard_one_and_clamps() {
        let mut rng = stream(GLOBAL, Purpose::Arrivals, 7);
        for i in 0..200_000 {
            // Delays from microseconds to days, as the simulation draws them.
            let x = 10f64.powf(rng.random::<f64>() * 11.0 - 6.0);
            let want = Duration::from_secs_f64(x);
            let got = duration_from_secs(x);
            let diff = got.as_nanos().abs_diff(want.as_nanos());
            assert!(diff <= 1, "#{i}: {x} s: {got:?} vs {want:?}");
        }
        for x in [0.0, 1e-9, 0.5e-9, 1.0, 2.5, 3600.0] {
            assert_eq!(duration_from_secs(x), Duration::from_secs_f64(x), "{x}");
        }
        let cap = Duration::from_secs_f64(MAX_SAMPLE_SECS);
        assert_eq!(duration_from_secs(f64::NAN), cap);
        assert_eq!(duration_from_secs(f64::INFINITY), cap);
        assert_eq!(duration_from_secs(1e300), cap);
        assert_eq!(duration_from_secs(-5.0), Duration::ZERO);
    }

    fn parse(toml_value: &str) -> Result<DistributionSpec, String> {
        toml::from_str::<Wrap>(&format!("d = {toml_value}"))
            .map(|w| w.d)
            .map_err(|e| e.to_string())
    }

    fn compile(toml_value: &str) -> Result<Distribution, String> {
        parse(toml_value)?
            .compile(Path::new("."))
            .map_err(|e| e.to_string())
    }

    fn samples(d: &Distribution, n: usize) -> Vec<f64> {
        let mut rng = stream(42, Purpose::ProviderLatency, GLOBAL);
        let mut v: Vec<f64> = (0..n).map(|_| d.sample_secs(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn empirical_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn close(actual: f64, expected: f64, rel: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= rel * expected.abs(),
            "{what}: {actual} vs {expected} (tolerance {rel})"
        );
    }

    #[test]
    fn every_kind_parses_compiles_and_round_trips() {
        // (TOML, analytic mean in seconds if any)
        let check = |text: &str, expect_mean: Option<f64>| {
            let spec = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let back = toml::to_string(&Wrap { d: spec.clone() }).unwrap();
            let reparsed: Wrap = toml::from_str(&back).unwrap();
            assert_eq!(reparsed.d, spec, "round trip of {text} via {back}");
            let d = spec.compile(Path::new(".")).unwrap();
            match (d.mean_secs(), expect_mean) {
                (Some(m), Some(e)) => close(m, e, 1e-9, text),
                (None, None) => {}
                (m, e) => panic!("{text}: mean {m:?}, expected {e:?}"),
            }
        };
        check(r#"{ kind = "constant", value = "2s" }"#, Some(2.0));
        check(r#"{ kind = "uniform", min = "1s", max = "3s" }"#, Some(2.0));
        check(
            r#"{ kind = "normal", mean = "3s", std_dev = "0s" }"#,
            Some(3.0),
        );
        check(
            r#"{ kind = "lognormal", median = "3s", sigma = 0.5 }"#,
            Some(3.0 * (0.125f64).exp()),
        );
        check(r#"{ kind = "exponential", mean = "2s" }"#, Some(2.0));
        check(
            r#"{ kind = "gamma", shape = 2.0, scale = "1s" }"#,
            Some(2.0),
        );
        check(r#"{ kind = "gamma", shape = 2, scale = "1s" }"#, Some(2.0));
        check(
            r#"{ kind = "weibull", shape = 1.0, scale = "3s" }"#,
            Some(3.0),
        );
        check(
            r#"{ kind = "pareto", scale = "1s", shape = 2.5 }"#,
            Some(2.5 / 1.5),
        );
        check(r#"{ kind = "pareto", scale = "1s", shape = 1.0 }"#, None);
        check(
            r#"{ kind = "mixture", components = [
                { weight = 0.9, dist = { kind = "constant", value = "1s" } },
                { weight = 0.1, dist = { kind = "exponential", mean = "10s" } } ] }"#,
            Some(0.9 + 1.0),
        );
        check(
            r#"{ kind = "empirical", samples = ["1s", "2s", "6s"] }"#,
            Some(3.0),
        );
        // Truncated normal: mean shifts up by sd * pdf(alpha) / (1 - cdf(alpha)).
        let d = compile(r#"{ kind = "normal", mean = "0s", std_dev = "1s" }"#).unwrap();
        close(
            d.mean_secs().unwrap(),
            (2.0 / std::f64::consts::PI).sqrt(),
            1e-9,
            "half-normal",
        );
    }

    #[test]
    fn invalid_parameters_name_the_parameter() {
        let check = |text: &str, expect: &str| {
            let err = compile(text).expect_err(text);
            assert!(err.contains(expect), "{text}: {err:?} lacks {expect:?}");
        };
        check(
            r#"{ kind = "uniform", min = "3s", max = "1s" }"#,
            "max: 1s is shorter than min (3s)",
        );
        check(
            r#"{ kind = "lognormal", median = "0s", sigma = 0.5 }"#,
            "median: must be longer than 0s",
        );
        check(
            r#"{ kind = "lognormal", median = "3s" }"#,
            "sigma: give exactly one of",
        );
        check(
            r#"{ kind = "lognormal", median = "3s", sigma = 1.0, p99 = "9s" }"#,
            "sigma: give exactly one of",
        );
        check(
            r#"{ kind = "lognormal", median = "3s", sigma = -1.0 }"#,
            "sigma: -1 must be a finite number > 0",
        );
        check(
            r#"{ kind = "lognormal", median = "3s", p99 = "2s" }"#,
            "p99: 2s must be longer than median (3s)",
        );
        check(
            r#"{ kind = "exponential", mean = "0s" }"#,
            "mean: must be longer than 0s",
        );
        check(
            r#"{ kind = "gamma", shape = 0.0, scale = "1s" }"#,
            "shape: 0 must be a finite number > 0",
        );
        check(
            r#"{ kind = "weibull", shape = 1.5, scale = "0s" }"#,
            "scale: must be longer than 0s",
        );
        check(
            r#"{ kind = "pareto", scale = "1s", shape = -2.0 }"#,
            "shape: -2 must be",
        );
        check(
            r#"{ kind = "mixture", components = [] }"#,
            "components: is empty",
        );
        check(
            r#"{ kind = "mixture", components = [
                { weight = 1.0, dist = { kind = "constant", value = "1s" } },
                { weight = 0.0, dist = { kind = "constant", value = "1s" } } ] }"#,
            "components[1].weight: 0 must be",
        );
        check(
            r#"{ kind = "mixture", components = [
                { weight = 1.0, dist = { kind = "lognormal", median = "1s", sigma = 0.0 } } ] }"#,
            "components[0].dist.sigma: 0 must be",
        );
        check(
            r#"{ kind = "empirical", samples = [] }"#,
            "samples: is empty",
        );
        check(
            r#"{ kind = "empirical", samples = ["1s"], csv = "x.csv" }"#,
            "csv: give either",
        );
        check(
            r#"{ kind = "empirical", csv = "does-not-exist-4711.csv" }"#,
            "csv: cannot read",
        );
        // Shape errors are caught by serde.
        check(
            r#"{ kind = "constant", value = "2s", extra = 1 }"#,
            "unknown field `extra`",
        );
        check(
            r#"{ kind = "triangle", value = "2s" }"#,
            "unknown variant `triangle`",
        );
        check(r#"{ kind = "constant", value = "2" }"#, "has no unit");
    }

    #[test]
    fn lognormal_from_median_and_p99_matches_analytic_quantiles() {
        let d = compile(r#"{ kind = "lognormal", median = "3s", p99 = "20s" }"#).unwrap();
        close(d.quantile_secs(0.5).unwrap(), 3.0, 1e-9, "analytic p50");
        close(d.quantile_secs(0.99).unwrap(), 20.0, 1e-9, "analytic p99");
        let v = samples(&d, 200_000);
        close(empirical_quantile(&v, 0.5), 3.0, 0.02, "sampled p50");
        close(empirical_quantile(&v, 0.99), 20.0, 0.02, "sampled p99");
    }

    #[test]
    fn exponential_mean_within_one_percent() {
        let d = compile(r#"{ kind = "exponential", mean = "2s" }"#).unwrap();
        close(mean(&samples(&d, 200_000)), 2.0, 0.01, "sampled mean");
        close(
            d.quantile_secs(0.5).unwrap(),
            2.0 * 2f64.ln(),
            1e-12,
            "median",
        );
    }

    #[test]
    fn samplers_agree_with_their_cdfs() {
        // For each kind, the sampled share under the analytic quantile is the quantile's level.
        let check = |text: &str| {
            let d = compile(text).unwrap();
            let v = samples(&d, 100_000);
            for q in [0.1, 0.5, 0.9, 0.99] {
                let x = d.quantile_secs(q).unwrap();
                close(
                    d.cdf_secs(x),
                    q,
                    1e-6,
                    &format!("{text} cdf(quantile({q}))"),
                );
                let share = v.partition_point(|&s| s <= x) as f64 / v.len() as f64;
                assert!(
                    (share - q).abs() < 0.006,
                    "{text}: {share} of samples under q{q} = {x}"
                );
            }
        };
        check(r#"{ kind = "uniform", min = "1s", max = "3s" }"#);
        check(r#"{ kind = "normal", mean = "1s", std_dev = "1s" }"#);
        check(r#"{ kind = "gamma", shape = 2.0, scale = "1s" }"#);
        check(r#"{ kind = "gamma", shape = 0.5, scale = "2s" }"#);
        check(r#"{ kind = "weibull", shape = 1.5, scale = "3s" }"#);
        check(r#"{ kind = "pareto", scale = "1s", shape = 2.5 }"#);
        check(
            r#"{ kind = "mixture", components = [
                { weight = 3.0, dist = { kind = "exponential", mean = "1s" } },
                { weight = 1.0, dist = { kind = "lognormal", median = "10s", sigma = 0.3 } } ] }"#,
        );
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let d = compile(r#"{ kind = "normal", mean = "1s", std_dev = "2s" }"#).unwrap();
        let v = samples(&d, 100_000);
        assert!(v[0] >= 0.0);
        close(mean(&v), d.mean_secs().unwrap(), 0.01, "truncated mean");
    }

    #[test]
    fn mixture_weights_are_respected() {
        let d = compile(
            r#"{ kind = "mixture", components = [
                { weight = 9, dist = { kind = "constant", value = "1s" } },
                { weight = 1, dist = { kind = "constant", value = "5s" } } ] }"#,
        )
        .unwrap();
        let v = samples(&d, 100_000);
        let slow = v.iter().filter(|&&x| x == 5.0).count() as f64 / v.len() as f64;
        assert!(
            (slow - 0.1).abs() < 0.005,
            "share of second component {slow}"
        );
        assert!(v.iter().all(|&x| x == 1.0 || x == 5.0));
        assert_eq!(d.quantile_secs(0.85), Some(1.0));
        close(d.quantile_secs(0.95).unwrap(), 5.0, 1e-9, "mixture p95");
    }

    #[test]
    fn empirical_csv_loads_relative_to_base_dir() {
        let dir = std::env::temp_dir().join(format!("failover-lab-dist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lat.csv"), "seconds\n0.5\n1.5\n\n2.5\n").unwrap();
        std::fs::write(dir.join("bad.csv"), "0.5\n\n\n slow\n").unwrap();
        let spec = parse(r#"{ kind = "empirical", csv = "lat.csv" }"#).unwrap();
        let d = spec.compile(&dir).unwrap();
        close(d.mean_secs().unwrap(), 1.5, 1e-12, "csv mean");
        assert_eq!(d.quantile_secs(0.0), Some(0.5));
        assert_eq!(d.quantile_secs(0.5), Some(1.5));
        assert_eq!(d.quantile_secs(1.0), Some(2.5));
        let v = samples(&d, 30_000);
        assert!(v.iter().all(|x| [0.5, 1.5, 2.5].contains(x)));
        let err = parse(r#"{ kind = "empirical", csv = "bad.csv" }"#)
            .unwrap()
            .compile(&dir)
            .unwrap_err();
        assert_eq!(err.param, "csv");
        // At its physical line (after blank lines, which csv's record positions do not count)
        // and column; never quoted.
        assert!(
            err.message
                .ends_with("bad.csv:4:2: not a number of seconds"),
            "{err}"
        );
        for (text, expect) in [
            (
                "0.5\n\n1,2\n",
                "bad.csv:3:1: expected one column of seconds, found 2 columns",
            ),
            (
                "0.5\n\n-1\n",
                "bad.csv:3:1: not a duration in seconds (must be finite and >= 0)",
            ),
            ("seconds\n", "bad.csv holds no samples"),
        ] {
            std::fs::write(dir.join("bad.csv"), text).unwrap();
            let err = parse(r#"{ kind = "empirical", csv = "bad.csv" }"#)
                .unwrap()
                .compile(&dir)
                .unwrap_err();
            assert!(err.message.ends_with(expect), "{text:?}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn heavy_tails_are_capped() {
        let d = compile(r#"{ kind = "pareto", scale = "1s", shape = 0.01 }"#).unwrap();
        let v = samples(&d, 10_000);
        assert!(v.iter().all(|x| x.is_finite() && *x <= MAX_SAMPLE_SECS));
        assert_eq!(v.last(), Some(&MAX_SAMPLE_SECS));
        let _ = d.sample(&mut stream(1, Purpose::Faults, GLOBAL));
    }

    #[test]
    fn standard_normal_helpers_are_accurate() {
        close(std_normal_quantile(0.99), Z99, 1e-13, "z99");
        close(
            std_normal_quantile(0.975),
            1.959_963_984_540_054,
            1e-13,
            "z975",
        );
        close(
            std_normal_quantile(1e-10),
            -6.361_340_902_404_056,
            1e-11,
            "tail",
        );
        close(std_normal_cdf(Z99), 0.99, 1e-14, "cdf");
    }
}
