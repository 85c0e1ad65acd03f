//! From aggregates to a fitted world: per route, the incident windows and the rates outside
//! them, the latency distribution; for the traffic, the rate and the mix. Pure functions of an
//! [`Aggregate`]; the statistics themselves are `metrics::fit`'s.

use serde::Serialize;

use crate::metrics::fit::changepoint::incidents;
use crate::metrics::fit::distribution::{Family, Fitted};
use crate::metrics::fit::select::{choose, empirical_quantile};

fn quantile_or_zero(samples: &[(f64, u64)], q: f64) -> f64 {
    empirical_quantile(samples, q).unwrap_or(0.0)
}

use super::aggregate::{Aggregate, Counts};

/// Share of an incident's failures that decides its kind, and the failure rate beyond which a
/// window is an outage rather than a brownout.
const DOMINANT: f64 = 0.5;
const OUTAGE_RATE: f64 = 0.9;

/// A rate with its binomial standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Rate {
    pub value: f64,
    pub standard_error: f64,
    pub trials: u64,
}

impl Rate {
    pub fn of(events: u64, trials: u64) -> Rate {
        if trials == 0 {
            return Rate::default();
        }
        let p = events as f64 / trials as f64;
        Rate {
            value: p,
            standard_error: (p * (1.0 - p) / trials as f64).sqrt(),
            trials,
        }
    }
}

/// What kind of fault an incident window looks like.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Nothing answered: timeouts without receipts.
    BlackHole,
    /// Everything refused at once.
    Errors,
    /// Some more errors and losses: each the probability *added* to the route's baseline
    /// (`1 - (1 - window) / (1 - baseline)`), as a scenario's brownout composes.
    Brownout { error_rate: f64, loss: f64 },
}

/// A detected incident on one route.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// Seconds since the records' first bucket.
    pub start: f64,
    pub end: f64,
    pub kind: IncidentKind,
    /// The window's failure rate, and the baseline it departs from.
    pub failure_rate: f64,
    pub baseline: f64,
    pub attempts: u64,
}

/// A route's latency: the observed quantiles and the distribution chosen for it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyFit {
    pub samples: u64,
    pub observed_median: f64,
    pub observed_p99: f64,
    /// `None`: no family fit well enough; the empirical distribution stands in.
    pub fitted: Option<Fitted>,
    pub candidates: Vec<Fitted>,
    pub reason: String,
    /// Quantiles of the empirical distribution (for the empirical fallback and the report).
    #[serde(skip)]
    pub quantiles: Vec<f64>,
}

impl LatencyFit {
    fn of(samples: &[(f64, u64)]) -> Option<LatencyFit> {
        let n: u64 = samples.iter().map(|s| s.1).sum();
        if n == 0 {
            return None;
        }
        let mut choice = choose(samples);
        let observed_median = quantile_or_zero(samples, 0.5);
        let observed_p99 = quantile_or_zero(samples, 0.99);
        // The tail decides timeouts: a family whose median or p99 misses the records' by more
        // than TAIL_TOLERANCE is not kept, however close its CDF is overall.
        if let Some(f) = &choice.best {
            let off = |model: f64, observed: f64| (model / observed - 1.0).abs();
            let (m, p) = (
                off(f.quantile(0.5), observed_median),
                off(f.quantile(0.99), observed_p99),
            );
            if m > TAIL_TOLERANCE || p > TAIL_TOLERANCE {
                choice.reason = format!(
                    "{} passes the KS check but misses the observed median by {:.1} % and p99 by \
                     {:.1} % (more than {:.0} %): use the empirical distribution",
                    f.family.name(),
                    m * 100.0,
                    p * 100.0,
                    TAIL_TOLERANCE * 100.0
                );
                choice.best = None;
            }
        }
        let quantiles = (0..EMPIRICAL_POINTS)
            .map(|i| quantile_or_zero(samples, (i as f64 + 0.5) / EMPIRICAL_POINTS as f64))
            .collect();
        Some(LatencyFit {
            samples: n,
            observed_median,
            observed_p99,
            fitted: choice.best,
            candidates: choice.candidates,
            reason: choice.reason,
            quantiles,
        })
    }

    /// Median and p99 of what the scenario will sample.
    pub fn model_median_p99(&self) -> (f64, f64) {
        match &self.fitted {
            Some(f) => (f.quantile(0.5), f.quantile(0.99)),
            None => (
                quantile_of(&self.quantiles, 0.5),
                quantile_of(&self.quantiles, 0.99),
            ),
        }
    }

    pub fn family(&self) -> Option<Family> {
        self.fitted.as_ref().map(|f| f.family)
    }
}

/// How far a kept family's median and p99 may be from the records' (relative).
pub const TAIL_TOLERANCE: f64 = 0.03;

/// Points of an empirical latency distribution written into a scenario.
pub const EMPIRICAL_POINTS: usize = 1000;

fn quantile_of(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64) as usize).min(sorted.len() - 1);
    sorted[i]
}

/// One route, fitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteFit {
    pub provider: String,
    pub country: failover_router::Country,
    pub number_type: failover_router::NumberType,
    pub cost: f64,
    pub totals: CountsView,
    /// Outside incident windows: fast errors per judged attempt.
    pub error_rate: Rate,
    /// Outside incident windows: losses (failure receipts and silent timeouts) per attempt
    /// that got past the provider.
    pub loss: Rate,
    pub latency: Option<LatencyFit>,
    pub incidents: Vec<Incident>,
    /// Per bucket: failure rate (`None`: no attempt), for the report.
    #[serde(skip)]
    pub failure_series: Vec<Option<f64>>,
    /// Per bucket: fast errors per judged attempt, and losses per attempt past the provider
    /// (`None`: no such attempt), for the report.
    #[serde(skip)]
    pub error_series: Vec<Option<f64>>,
    #[serde(skip)]
    pub loss_series: Vec<Option<f64>>,
}

/// The counts a report shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CountsView {
    pub attempts: u64,
    pub delivered: u64,
    pub fast_errors: u64,
    pub rate_limited: u64,
    pub undelivered: u64,
    pub timeouts: u64,
    pub late: u64,
}

impl From<&Counts> for CountsView {
    fn from(c: &Counts) -> Self {
        CountsView {
            attempts: c.attempts,
            delivered: c.delivered,
            fast_errors: c.fast_errors,
            rate_limited: c.rate_limited,
            undelivered: c.undelivered,
            timeouts: c.timeouts,
            late: c.late,
        }
    }
}

/// The traffic, fitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrafficFit {
    /// Arrivals per second over the records' span.
    pub rate: f64,
    pub arrivals: u64,
    /// (country, number type, use case, share).
    pub mix: Vec<(
        failover_router::Country,
        failover_router::NumberType,
        Option<String>,
        f64,
    )>,
    /// Records spanning a day or more: the rate of each hour of the day over the mean (24
    /// points, from midnight of the records' clock), and the time of day of the first bucket.
    pub diurnal: Option<Diurnal>,
}

/// A daily profile: hourly factors of the mean rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diurnal {
    /// Seconds after midnight of the records' first bucket (their clock taken as seconds since
    /// a midnight, as epoch seconds are).
    pub start: f64,
    pub factors: [f64; 24],
}

/// A provider account's rate limit, where its refusals show one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateLimitFit {
    pub provider: String,
    /// Accepted attempts per second: the median over the buckets with refusals.
    pub per_second: f64,
    pub refused: u64,
    pub buckets: usize,
}

/// Everything fitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitModel {
    pub span: f64,
    pub bucket: f64,
    pub routes: Vec<RouteFit>,
    pub traffic: TrafficFit,
    /// Providers whose refusals (`rate_limited`) reach [`RATE_LIMITED_SHARE`] of their attempts.
    pub rate_limits: Vec<RateLimitFit>,
}

/// Share of a provider's attempts refused as rate limited from which a limit is fitted.
pub const RATE_LIMITED_SHARE: f64 = 0.01;

/// Fits every route of `routes` (the records' table) and the traffic.
pub fn fit_model(agg: &Aggregate, routes: &[failover_router::RouteSpec]) -> FitModel {
    let bucket = agg.bucket.as_secs_f64();
    let n = agg.buckets();
    let empty = super::aggregate::RouteAggregate::default();
    let fitted = routes
        .iter()
        .enumerate()
        .map(|(r, spec)| {
            let a = agg.routes.get(r).unwrap_or(&empty);
            let counts = |i: usize| a.buckets.get(i).copied().unwrap_or_default();
            let failures: Vec<u64> = (0..n).map(|i| counts(i).failures()).collect();
            let trials: Vec<u64> = (0..n).map(|i| counts(i).judged()).collect();
            let mut found = incidents(&failures, &trials);
            // A window ends at its last failing bucket with trials; traffic the router kept
            // away after it says nothing, so the incident lasts until the next bucket with
            // trials (the latest it can have ended).
            for w in &mut found.windows {
                while w.end < n && trials[w.end] == 0 {
                    w.end += 1;
                }
            }
            let mut inside = vec![false; n];
            for w in &found.windows {
                inside[w.start..w.end.min(n)]
                    .iter_mut()
                    .for_each(|x| *x = true);
            }
            let mut outside = Counts::default();
            for (i, &within) in inside.iter().enumerate() {
                if !within {
                    outside.merge(&counts(i));
                }
            }
            let error_rate = Rate::of(outside.fast_errors, outside.judged());
            let passed = outside.judged().saturating_sub(outside.fast_errors);
            let loss = Rate::of(outside.undelivered + outside.silent(), passed);
            let incidents = found
                .windows
                .iter()
                .map(|w| {
                    let mut c = Counts::default();
                    for i in w.start..w.end.min(n) {
                        c.merge(&counts(i));
                    }
                    Incident {
                        start: w.start as f64 * bucket,
                        end: w.end as f64 * bucket,
                        kind: classify(&c, error_rate.value, loss.value),
                        failure_rate: w.rate,
                        baseline: found.baseline,
                        attempts: c.attempts,
                    }
                })
                .collect();
            RouteFit {
                provider: spec.provider.clone(),
                country: spec.country,
                number_type: spec.number_type,
                cost: spec.cost,
                totals: CountsView::from(&a.total),
                error_rate,
                loss,
                latency: LatencyFit::of(&a.latencies()),
                incidents,
                failure_series: (0..n)
                    .map(|i| {
                        let c = counts(i);
                        (c.judged() > 0).then(|| c.failures() as f64 / c.judged() as f64)
                    })
                    .collect(),
                error_series: (0..n)
                    .map(|i| {
                        let c = counts(i);
                        (c.judged() > 0).then(|| c.fast_errors as f64 / c.judged() as f64)
                    })
                    .collect(),
                loss_series: (0..n)
                    .map(|i| {
                        let c = counts(i);
                        let passed = c.judged().saturating_sub(c.fast_errors);
                        (passed > 0).then(|| (c.undelivered + c.silent()) as f64 / passed as f64)
                    })
                    .collect(),
            }
        })
        .collect();
    FitModel {
        span: agg.span,
        bucket,
        routes: fitted,
        traffic: traffic(agg, routes),
        rate_limits: rate_limits(agg, routes),
    }
}

/// Per provider with enough refusals: the accepted rate in the buckets where refusals happened
/// (the median over them: a provider refuses once its account's rate is reached).
fn rate_limits(agg: &Aggregate, routes: &[failover_router::RouteSpec]) -> Vec<RateLimitFit> {
    let bucket = agg.bucket.as_secs_f64();
    let n = agg.buckets();
    let mut providers: Vec<&str> = routes.iter().map(|r| r.provider.as_str()).collect();
    providers.sort_unstable();
    providers.dedup();
    providers
        .into_iter()
        .filter_map(|p| {
            let mine: Vec<&super::aggregate::RouteAggregate> = routes
                .iter()
                .zip(&agg.routes)
                .filter(|(r, _)| r.provider == p)
                .map(|(_, a)| a)
                .collect();
            let (attempts, refused) = mine.iter().fold((0, 0), |(a, r), x| {
                (a + x.total.attempts, r + x.total.rate_limited)
            });
            if attempts == 0 || (refused as f64) < RATE_LIMITED_SHARE * attempts as f64 {
                return None;
            }
            let mut accepted: Vec<f64> = (0..n)
                .filter_map(|i| {
                    let (a, r) = mine.iter().fold((0, 0), |(a, r), x| {
                        let c = x.buckets.get(i).copied().unwrap_or_default();
                        (a + c.attempts, r + c.rate_limited)
                    });
                    (r > 0).then(|| (a - r) as f64 / bucket)
                })
                .collect();
            accepted.sort_by(f64::total_cmp);
            let per_second = *accepted.get(accepted.len() / 2)?;
            Some(RateLimitFit {
                provider: p.to_owned(),
                per_second,
                refused,
                buckets: accepted.len(),
            })
        })
        .collect()
}

/// Hourly factors of the mean arrival rate, for records spanning a day or more.
fn diurnal(agg: &Aggregate) -> Option<Diurnal> {
    const DAY: f64 = 86_400.0;
    let bucket = agg.bucket.as_secs_f64();
    if agg.span < DAY || bucket > 3600.0 {
        return None;
    }
    let start = agg.origin.unwrap_or(0.0).rem_euclid(DAY);
    let (mut arrivals, mut seconds) = ([0u64; 24], [0f64; 24]);
    for i in 0..agg.buckets() {
        let hour = (((start + i as f64 * bucket).rem_euclid(DAY)) / 3600.0) as usize % 24;
        arrivals[hour] += agg.traffic.arrivals.get(i).copied().unwrap_or(0);
        seconds[hour] += bucket;
    }
    let total: u64 = arrivals.iter().sum();
    let mean = total as f64 / seconds.iter().sum::<f64>();
    if mean <= 0.0 {
        return None;
    }
    let mut factors = [1.0; 24];
    for (h, f) in factors.iter_mut().enumerate() {
        if seconds[h] > 0.0 {
            *f = arrivals[h] as f64 / seconds[h] / mean;
        }
    }
    Some(Diurnal { start, factors })
}

/// What a window looks like, from its counts and the route's baseline rates.
fn classify(c: &Counts, base_error: f64, base_loss: f64) -> IncidentKind {
    let judged = c.judged().max(1) as f64;
    let failures = c.failures().max(1) as f64;
    if c.silent() as f64 / failures >= DOMINANT && c.silent() as f64 / judged >= OUTAGE_RATE {
        return IncidentKind::BlackHole;
    }
    if c.fast_errors as f64 / failures >= DOMINANT && c.fast_errors as f64 / judged >= OUTAGE_RATE {
        return IncidentKind::Errors;
    }
    let window_error = c.fast_errors as f64 / judged;
    let passed = (c.judged() - c.fast_errors).max(1) as f64;
    let window_loss = (c.undelivered + c.silent()) as f64 / passed;
    let added = |window: f64, base: f64| {
        if base >= 1.0 {
            0.0
        } else {
            (1.0 - (1.0 - window) / (1.0 - base)).clamp(0.0, 1.0)
        }
    };
    IncidentKind::Brownout {
        error_rate: added(window_error, base_error),
        loss: added(window_loss, base_loss),
    }
}

/// The traffic: arrivals (first decisions, or rows with `attempt` 1) per second and their mix;
/// records without arrivals stand in with their attempts, by route.
fn traffic(agg: &Aggregate, routes: &[failover_router::RouteSpec]) -> TrafficFit {
    let arrivals: u64 = agg.traffic.arrivals.iter().sum();
    if arrivals == 0 {
        let mut mix: std::collections::BTreeMap<_, u64> = std::collections::BTreeMap::new();
        for (spec, a) in routes.iter().zip(&agg.routes) {
            *mix.entry((spec.country, spec.number_type)).or_default() += a.total.attempts;
        }
        let attempts: u64 = mix.values().sum();
        return TrafficFit {
            rate: if agg.span > 0.0 {
                attempts as f64 / agg.span
            } else {
                0.0
            },
            diurnal: None,
            arrivals: attempts,
            mix: mix
                .into_iter()
                .map(|((c, nt), n)| (c, nt, None, n as f64 / attempts.max(1) as f64))
                .collect(),
        };
    }
    let total = arrivals.max(1) as f64;
    TrafficFit {
        rate: if agg.span > 0.0 {
            arrivals as f64 / agg.span
        } else {
            0.0
        },
        arrivals,
        diurnal: diurnal(agg),
        mix: agg
            .traffic
            .mix
            .iter()
            .map(|((c, nt, u), n)| (*c, *nt, u.clone(), *n as f64 / total))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use failover_router::{Country, NumberType, RouteSpec};

    use super::super::records::{Outcome, Record};
    use super::*;

    fn route(provider: &str) -> RouteSpec {
        RouteSpec {
            provider: provider.into(),
            country: Country::new("DE").unwrap(),
            number_type: NumberType::Mobile,
            cost: 0.01,
            priority: 0,
            weight: 1.0,
            failure_domains: Vec::new(),
        }
    }

    /// Two days of arrivals, twice as many from 12:00 to 18:00: the daily profile says so; and
    /// a provider refusing everything above 10 accepted attempts a second gets that limit.
    #[test]
    fn a_daily_profile_and_a_rate_limit_come_back() {
        let mut agg = Aggregate::new(Duration::from_secs(60));
        let de = Country::new("DE").unwrap();
        for minute in 0..2 * 24 * 60 {
            let t = minute as f64 * 60.0;
            let hour = (minute / 60) % 24;
            let n = if (12..18).contains(&hour) { 20 } else { 10 };
            for k in 0..n {
                agg.add(Record::Arrival {
                    at: t + k as f64,
                    country: de,
                    number_type: NumberType::Mobile,
                    use_case: None,
                })
                .unwrap();
            }
            // 900 attempts a minute: 600 accepted (10/s), 300 refused.
            for k in 0..900 {
                let outcome = if k < 600 {
                    Outcome::Delivered
                } else {
                    Outcome::FastError { rate_limited: true }
                };
                agg.add(Record::Attempt {
                    at: t + k as f64 / 15.0,
                    route: 0,
                    outcome,
                    latency: 1.0,
                    cost: None,
                })
                .unwrap();
            }
        }
        let model = fit_model(&agg, &[route("atlas")]);
        let d = model.traffic.diurnal.as_ref().expect("two days of records");
        assert_eq!(d.start, 0.0);
        let mean = (18.0 * 10.0 + 6.0 * 20.0) / 24.0;
        for (h, f) in d.factors.iter().enumerate() {
            let expect = if (12..18).contains(&h) { 20.0 } else { 10.0 } / mean;
            assert!((f - expect).abs() < 0.01, "hour {h}: {f} against {expect}");
        }
        assert_eq!(model.rate_limits.len(), 1);
        let l = &model.rate_limits[0];
        assert!((l.per_second - 10.0).abs() < 0.2, "{l:?}");
    }

    #[test]
    fn less_than_a_day_has_no_daily_profile() {
        let mut agg = Aggregate::new(Duration::from_secs(60));
        for minute in 0..600 {
            agg.add(Record::Arrival {
                at: minute as f64 * 60.0,
                country: Country::new("DE").unwrap(),
                number_type: NumberType::Mobile,
                use_case: None,
            })
            .unwrap();
        }
        let model = fit_model(&agg, &[]);
        assert!(model.traffic.diurnal.is_none());
        assert!(model.rate_limits.is_empty());
    }
}
