//! Hand-built fitted models for the fit report's unit tests.
//!
//! [`model`]: two hours of records in one-minute buckets, three routes: `alpha` DE/mobile, a
//! lognormal fitted to a lognormal-shaped histogram (`metrics::fit::fit_lognormal` on a small
//! weighted sample), with a brownout from minute 40 to 50 and a gap without attempts; `beta`
//! FR/landline, a two-humped histogram no family fits, so the empirical distribution is kept;
//! `gamma` US/voip, no attempts at all. [`many`]: `n` routes for the bounds.

use failover_router::{Country, NumberType};

use crate::fit::model::{
    CountsView, FitModel, Incident, IncidentKind, LatencyFit, Rate, RouteFit, TrafficFit,
};
use crate::metrics::fit::{
    empirical_quantile, fit_gamma, fit_lognormal, fit_weibull, ks_threshold,
};

use super::FitReportMeta;

pub(crate) const BUCKET: f64 = 60.0;
pub(crate) const BUCKETS: usize = 120;

/// A lognormal-shaped weighted histogram: median `exp(mu)` seconds, spread `sigma`.
fn lognormal_samples(mu: f64, sigma: f64) -> Vec<(f64, u64)> {
    (-200..=200)
        .map(|i| {
            let z = f64::from(i) / 50.0;
            let weight = (1000.0 * (-0.5 * z * z).exp()).round() as u64;
            ((mu + sigma * z).exp(), weight)
        })
        .collect()
}

/// Two humps, at about 0.3 s and 4 s.
fn two_humps() -> Vec<(f64, u64)> {
    let mut out = lognormal_samples(0.3f64.ln(), 0.2);
    out.extend(lognormal_samples(4.0f64.ln(), 0.15));
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn latency_of(samples: &[(f64, u64)], keep: bool) -> LatencyFit {
    let n: u64 = samples.iter().map(|s| s.1).sum();
    let candidates: Vec<_> = [
        fit_lognormal(samples),
        fit_gamma(samples),
        fit_weibull(samples),
    ]
    .into_iter()
    .flatten()
    .collect();
    let best = candidates
        .iter()
        .min_by(|a, b| a.aic.total_cmp(&b.aic))
        .copied();
    let (fitted, reason) = match best {
        Some(f) if keep => (
            Some(f),
            format!(
                "{} has the lowest AIC and KS distance {:.4} < {:.4}",
                f.family,
                f.ks,
                ks_threshold(n)
            ),
        ),
        Some(f) => (
            None,
            format!(
                "{} has the lowest AIC but KS distance {:.4} >= {:.4}: use the empirical \
                 distribution",
                f.family,
                f.ks,
                ks_threshold(n)
            ),
        ),
        None => (None, "nothing to fit".to_owned()),
    };
    let q = |p: f64| empirical_quantile(samples, p).unwrap_or(0.0);
    LatencyFit {
        samples: n,
        observed_median: q(0.5),
        observed_p99: q(0.99),
        fitted,
        candidates,
        reason,
        quantiles: (0..500).map(|i| q((f64::from(i) + 0.5) / 500.0)).collect(),
    }
}

/// The lognormal latency of route `alpha`.
pub(crate) fn lognormal_latency() -> LatencyFit {
    let l = latency_of(&lognormal_samples(0.5f64.ln(), 0.4), true);
    assert_eq!(
        l.family(),
        Some(crate::metrics::fit::Family::LogNormal),
        "the fixture's lognormal histogram should fit a lognormal best"
    );
    l
}

fn counts(attempts: u64) -> CountsView {
    CountsView {
        attempts,
        delivered: attempts * 95 / 100,
        fast_errors: attempts / 50,
        rate_limited: 0,
        undelivered: attempts / 100,
        timeouts: attempts / 50,
        late: attempts / 200,
    }
}

fn route(provider: &str, country: &str, number_type: NumberType, attempts: u64) -> RouteFit {
    RouteFit {
        provider: provider.to_owned(),
        country: Country::new(country).unwrap(),
        number_type,
        cost: 0.05,
        totals: counts(attempts),
        error_rate: Rate::of(attempts / 50, attempts),
        loss: Rate::of(attempts / 40, attempts - attempts / 50),
        latency: None,
        incidents: Vec::new(),
        failure_series: vec![None; BUCKETS],
        error_series: vec![None; BUCKETS],
        loss_series: vec![None; BUCKETS],
    }
}

/// Route `alpha`'s failure rate per bucket: about 4 %, 60 % from bucket 40 to 50, no attempt in
/// buckets 80 to 84.
fn alpha_series() -> Vec<Option<f64>> {
    (0..BUCKETS)
        .map(|i| match i {
            40..50 => Some(0.6 + 0.01 * (i % 3) as f64),
            80..85 => None,
            _ => Some(0.04 + 0.01 * ((i * 7) % 5) as f64 / 4.0),
        })
        .collect()
}

pub(crate) fn model() -> FitModel {
    let mut alpha = route("alpha", "DE", NumberType::Mobile, 12_000);
    alpha.latency = Some(lognormal_latency());
    alpha.failure_series = alpha_series();
    alpha.incidents = vec![Incident {
        start: 40.0 * BUCKET,
        end: 50.0 * BUCKET,
        kind: IncidentKind::Brownout {
            error_rate: 0.2,
            loss: 0.45,
        },
        failure_rate: 0.61,
        baseline: 0.045,
        attempts: 1_000,
    }];
    let mut beta = route("beta", "FR", NumberType::Landline, 3_000);
    beta.latency = Some(latency_of(&two_humps(), false));
    beta.failure_series = (0..BUCKETS)
        .map(|i| Some(0.05 + 0.002 * (i % 4) as f64))
        .collect();
    let mut gamma = route("gamma", "US", NumberType::Voip, 0);
    gamma.error_rate = Rate::default();
    gamma.loss = Rate::default();
    FitModel {
        span: BUCKETS as f64 * BUCKET,
        bucket: BUCKET,
        routes: vec![alpha, beta, gamma],
        traffic: TrafficFit {
            rate: 2.1,
            arrivals: 15_000,
            mix: Vec::new(),
            diurnal: None,
        },
        rate_limits: Vec::new(),
    }
}

pub(crate) fn meta() -> FitReportMeta {
    FitReportMeta {
        sources: vec![
            "records/day1.jsonl".to_owned(),
            "records/day2.csv".to_owned(),
        ],
        records: 15_000,
        lines: 15_010,
        bad: 10,
        scenario_file: Some("fitted.toml".to_owned()),
    }
}

/// `n` routes `p<k>`: route k has (k + 1) hundred attempts and the lognormal latency, except
/// every ninth (k % 9 == 0), which has none and no latency. Short failure series.
pub(crate) fn many(n: usize) -> FitModel {
    let latency = lognormal_latency();
    let routes = (0..n)
        .map(|k| {
            let attempts = if k % 9 == 0 { 0 } else { (k as u64 + 1) * 100 };
            let mut r = route(&format!("p{k}"), "DE", NumberType::Mobile, attempts);
            r.failure_series = (0..30)
                .map(|i| (attempts > 0).then_some(0.02 + 0.001 * i as f64))
                .collect();
            if attempts > 0 {
                r.latency = Some(latency.clone());
            }
            r
        })
        .collect();
    FitModel {
        span: 30.0 * BUCKET,
        bucket: BUCKET,
        routes,
        traffic: TrafficFit {
            rate: 1.0,
            arrivals: 1_000,
            mix: Vec::new(),
            diurnal: None,
        },
        rate_limits: Vec::new(),
    }
}
