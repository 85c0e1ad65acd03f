//! A fitted model as a scenario file: commented, valid (parsed and compiled before it is
//! returned), runnable as it is.
//!
//! How the fitted numbers map onto the scenario model, since a record sees a route end to end:
//! one region and one carrier per country with no latency and no loss of their own; each
//! provider refuses at its pooled fast-error rate (`error_rate`), and reaches each country's
//! carrier through a path whose quality is one minus the route's loss and whose extra latency
//! is the route's fitted delivery latency (pooled over the number types of that provider and
//! country, the model's granularity); every incident window becomes a fault on its (provider,
//! country, number type).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::model::{FitModel, IncidentKind, LatencyFit, Rate};
use crate::metrics::fit::distribution::Family;
use crate::scenario::{FileRules, Scenario};

/// What to write besides the model.
pub struct ScenarioSource<'a> {
    pub name: &'a str,
    pub sources: &'a [String],
    pub records: u64,
    pub bad: u64,
    /// The policy the records ran under, if they say.
    pub policy: Option<&'a (String, failover_router::Policy)>,
    /// The costs and priorities of the records' routing table.
    pub routes: &'a [failover_router::RouteSpec],
}

fn secs(x: f64) -> String {
    let s = format!("{:.6}", x.max(0.0));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{}s", if s.is_empty() { "0" } else { s })
}

fn carrier_of(country: failover_router::Country) -> String {
    format!("{}-fitted", country.as_str().to_lowercase())
}

fn distribution(l: &LatencyFit) -> Value {
    match &l.fitted {
        Some(f) => match f.family {
            Family::LogNormal => {
                json!({"kind": "lognormal", "median": secs(f.a.exp()), "sigma": f.b})
            }
            Family::Gamma => json!({"kind": "gamma", "shape": f.a, "scale": secs(f.b)}),
            Family::Weibull => json!({"kind": "weibull", "shape": f.a, "scale": secs(f.b)}),
        },
        None => json!({
            "kind": "empirical",
            "samples": l.quantiles.iter().map(|q| secs(*q)).collect::<Vec<_>>(),
        }),
    }
}

fn traffic_value(model: &FitModel, mix: Vec<Value>) -> Value {
    let mut t = json!({
        "rate": format!("{:.6}/s", model.traffic.rate.max(1e-6)),
        "mix": mix,
    });
    if let Some(d) = &model.traffic.diurnal {
        t["diurnal"] = json!({
            "start": secs(d.start),
            "points": d.factors.iter().enumerate().map(|(h, f)| json!({
                "at": format!("{h}h"),
                "factor": f,
            })).collect::<Vec<_>>(),
        });
    }
    t
}

/// The scenario text for `model`, validated; `dir` is where it will be written (for the
/// validation's file rules).
pub fn scenario_text(
    model: &FitModel,
    src: &ScenarioSource<'_>,
    dir: &Path,
) -> Result<String, String> {
    let bucket = model.bucket;
    let duration = (model.span / bucket).ceil().max(1.0) * bucket;
    let mut countries: Vec<failover_router::Country> =
        model.routes.iter().map(|r| r.country).collect();
    countries.sort();
    countries.dedup();

    // Per provider: pooled fast errors; per (provider, country): loss and latency.
    let mut providers: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut paths: BTreeMap<(&str, failover_router::Country), Vec<usize>> = BTreeMap::new();
    for (i, r) in model.routes.iter().enumerate() {
        let e = providers.entry(&r.provider).or_default();
        e.0 += (r.error_rate.value * r.error_rate.trials as f64).round() as u64;
        e.1 += r.error_rate.trials;
        paths.entry((&r.provider, r.country)).or_default().push(i);
    }
    let provider_values: Vec<Value> = providers
        .iter()
        .map(|(name, (errors, trials))| {
            let error_rate = if *trials > 0 {
                *errors as f64 / *trials as f64
            } else {
                0.0
            };
            let paths: Vec<Value> = paths
                .iter()
                .filter(|((p, _), _)| p == name)
                .map(|((_, c), routes)| {
                    // The route with the most latency samples speaks for the path.
                    let best = routes
                        .iter()
                        .map(|&i| &model.routes[i])
                        .max_by_key(|r| r.latency.as_ref().map_or(0, |l| l.samples));
                    let (lost, passed) = routes.iter().fold((0.0, 0u64), |(l, n), &i| {
                        let loss = &model.routes[i].loss;
                        (l + loss.value * loss.trials as f64, n + loss.trials)
                    });
                    let quality = if passed > 0 {
                        1.0 - lost / passed as f64
                    } else {
                        1.0
                    };
                    let mut v =
                        json!({"carrier": carrier_of(*c), "quality": quality.clamp(0.0, 1.0)});
                    if let Some(l) = best.and_then(|r| r.latency.as_ref()) {
                        v["extra_latency"] = distribution(l);
                    }
                    v
                })
                .collect();
            let mut v = json!({
                "name": name,
                "region": "fitted",
                "api_latency": {"kind": "constant", "value": "0s"},
                "error_rate": error_rate.clamp(0.0, 1.0),
                "paths": paths,
            });
            if let Some(limit) = model.rate_limits.iter().find(|l| l.provider == *name) {
                v["rate_limit"] = json!(format!("{:.3}/s", limit.per_second.max(0.001)));
            }
            v
        })
        .collect();

    let mut faults = Vec::new();
    for r in &model.routes {
        for (k, inc) in r.incidents.iter().enumerate() {
            let mut f = json!({
                "name": format!(
                    "{}-{}-{}-incident-{}",
                    r.provider,
                    r.country.as_str().to_lowercase(),
                    serde_json::to_value(r.number_type).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    k + 1
                ),
                "start": secs(inc.start),
                "duration": secs((inc.end - inc.start).max(bucket)),
                "target": {
                    "provider": r.provider,
                    "country": r.country.as_str(),
                    "number_type": r.number_type,
                },
            });
            match inc.kind {
                IncidentKind::BlackHole => {
                    f["kind"] = json!("outage");
                    f["mode"] = json!("black_hole");
                }
                IncidentKind::Errors => {
                    f["kind"] = json!("outage");
                    f["mode"] = json!("error");
                }
                IncidentKind::Brownout { error_rate, loss } => {
                    f["kind"] = json!("brownout");
                    f["error_rate"] = json!(error_rate);
                    f["loss"] = json!(loss);
                }
            }
            faults.push(f);
        }
    }

    let routes: Vec<Value> = src
        .routes
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let (policy_name, policy) = match src.policy {
        Some((name, p)) => (name.clone(), serde_json::to_value(p).unwrap_or(json!({}))),
        None => ("default".to_owned(), json!({})),
    };
    let mix: Vec<Value> = model
        .traffic
        .mix
        .iter()
        .map(|(c, nt, u, w)| {
            let mut v = json!({"country": c.as_str(), "number_type": nt, "weight": w});
            if let Some(u) = u {
                v["use_case"] = json!(u);
            }
            v
        })
        .collect();
    let scenario = json!({
        "format_version": 1,
        "name": src.name,
        "description": format!("Fitted by failover-lab fit from {} attempt records", src.records),
        "seed": 1,
        "duration": secs(duration),
        "warmup": "0s",
        "bucket": secs(bucket),
        "regions": [{"name": "fitted", "latency": {"kind": "constant", "value": "0s"}}],
        "countries": countries.iter().map(|c| json!({
            "code": c.as_str(),
            "carriers": [{"name": carrier_of(*c), "share": 1.0}],
        })).collect::<Vec<_>>(),
        "carriers": countries.iter().map(|c| json!({
            "name": carrier_of(*c),
            "country": c.as_str(),
            "delivery_latency": {"kind": "constant", "value": "0s"},
        })).collect::<Vec<_>>(),
        "providers": provider_values,
        "router": {"routes": routes},
        "policies": {policy_name.clone(): policy},
        "traffic": traffic_value(model, mix),
        "faults": faults,
    });
    let parsed: Scenario = serde_json::from_value(scenario)
        .map_err(|e| format!("the fitted scenario does not fit the scenario model: {e}"))?;
    let body = toml::to_string(&parsed)
        .map_err(|e| format!("the fitted scenario cannot be written as TOML: {e}"))?;
    let text = format!("{}\n{body}", header(model, src, &policy_name));
    // Valid before it is written: parsed and compiled as `run` will.
    let check =
        Scenario::parse(&text).map_err(|e| format!("the fitted scenario does not parse: {e}"))?;
    check
        .compile_with(FileRules::new(dir))
        .map_err(|e| format!("the fitted scenario does not validate: {e}"))?;
    Ok(text)
}

fn rate(r: &Rate) -> String {
    format!(
        "{:.4} % +- {:.4} % ({} trials)",
        r.value * 100.0,
        r.standard_error * 100.0,
        r.trials
    )
}

/// The header: where every number came from and how well it fits.
fn header(model: &FitModel, src: &ScenarioSource<'_>, policy: &str) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "# Fitted by `failover-lab fit` from {} records in:",
        src.records
    );
    for s in src.sources {
        let _ = writeln!(h, "#   {s}");
    }
    let _ = writeln!(
        h,
        "# ({} unusable lines skipped). Span {} in buckets of {}.",
        src.bad,
        secs(model.span),
        secs(model.bucket)
    );
    let _ = writeln!(h, "#");
    let _ = writeln!(
        h,
        "# How it maps: one region and one carrier per country with no latency or loss of their"
    );
    let _ = writeln!(
        h,
        "# own; a provider's error_rate is its routes' pooled fast-error rate; a path's quality is"
    );
    let _ = writeln!(
        h,
        "# 1 - the route's loss (failure receipts and timeouts never answered); its extra_latency"
    );
    let _ = writeln!(
        h,
        "# is the fitted submit-to-receipt latency. Rates are measured outside incident windows;"
    );
    let _ = writeln!(
        h,
        "# each incident window (binary segmentation of the failure rate per bucket) is a fault."
    );
    let _ = writeln!(
        h,
        "# Traffic: {:.3}/s over the span, the mix as recorded; {}.",
        model.traffic.rate,
        if model.traffic.diurnal.is_some() {
            "a daily profile of hourly factors (the records span a day or more)"
        } else {
            "no daily profile (the records span less than a day)"
        }
    );
    for l in &model.rate_limits {
        let _ = writeln!(
            h,
            "# Provider {} refused {} attempts as rate limited: rate_limit {:.3}/s, the median \
             accepted rate over the {} buckets with refusals.",
            l.provider, l.refused, l.per_second, l.buckets
        );
    }
    match src.policy {
        Some(_) => {
            let _ = writeln!(
                h,
                "# Policy `{policy}`: as recorded in the trail's config line."
            );
        }
        None => {
            let _ = writeln!(
                h,
                "# Policy `default`: the records name none, so the router's defaults stand in."
            );
        }
    }
    let _ = writeln!(h, "#");
    for r in &model.routes {
        let nt = serde_json::to_value(r.number_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "# {}/{}/{}: {} attempts; errors {}; loss {}",
            r.provider,
            r.country.as_str(),
            nt,
            r.totals.attempts,
            rate(&r.error_rate),
            rate(&r.loss)
        );
        if let Some(l) = &r.latency {
            let (m, p99) = l.model_median_p99();
            let fit = match &l.fitted {
                Some(f) => format!("{} (KS distance {:.4})", f.family.name(), f.ks),
                None => format!(
                    "empirical, {} points ({})",
                    super::model::EMPIRICAL_POINTS,
                    l.reason
                ),
            };
            let _ = writeln!(
                h,
                "#   latency {fit}: median {} (observed {}), p99 {} (observed {}), {} samples",
                secs(m),
                secs(l.observed_median),
                secs(p99),
                secs(l.observed_p99),
                l.samples
            );
        }
        for inc in &r.incidents {
            let _ = writeln!(
                h,
                "#   incident {} .. {}: failure rate {:.2} % against {:.2} % ({} attempts)",
                secs(inc.start),
                secs(inc.end),
                inc.failure_rate * 100.0,
                inc.baseline * 100.0,
                inc.attempts
            );
        }
    }
    h
}
