//! CSV exports: one row per policy, per (policy, bucket), per (policy, route), per (policy, route,
//! stretch of one state), per (policy, fault); for a replicated run also per comparison and per
//! (policy, seed, metric).
//!
//! Column names match the JSON keys (DESIGN.md section 5), so a metric means the same thing in
//! every file. Empty cells are values that do not exist (e.g. TTV with no delivery).
//!
//! **Formula injection.** A CSV is opened in spreadsheets, and a scenario is input: a policy
//! named `=HYPERLINK("http://x","y")` would be a live formula in the cell. Every cell of
//! scenario-supplied text (policy, provider, route and fault names, metric names built from
//! them) goes through [`text`], which puts a `'` before one that starts like a formula. Numbers
//! are written as numbers and never pass through it, so `-0.5` stays `-0.5`.

use crate::metrics::compare::Better;
use crate::metrics::{RouteStats, RunSummary, TimelineState};
use crate::report::chart::route_spans;

/// The characters a spreadsheet reads as the start of a formula when they begin a cell
/// (OWASP, "CSV Injection"): `=`, `+`, `-`, `@`, tab and carriage return.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell of scenario-supplied text, safe to open in a spreadsheet: prefixed with `'` when it
/// starts with one of [`FORMULA_STARTS`] (spreadsheets take the quote as "this is text" and do
/// not show it), otherwise as it is. Only for text: numbers are never prefixed.
pub fn text(s: &str) -> String {
    if s.starts_with(FORMULA_STARTS) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().expect("writing to memory cannot fail")
}

/// `summary.csv`: one row per policy.
pub fn summary_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "policy",
        "verifications",
        "success_rate",
        "conversion_rate",
        "ttv_p50",
        "ttv_p90",
        "ttv_p99",
        "ttv_p999",
        "ttv_max",
        "attempts_per_verification",
        "failover_rate",
        "cost_total",
        "cost_per_success",
        "duplicate_deliveries",
        "late_deliveries",
        "ejections",
        "flaps",
        "panic_time",
        "caller_abandoned",
    ])
    .expect("in memory");
    for p in &s.policies {
        let m = &p.result.metrics;
        let t = &m.time_to_verify;
        w.write_record([
            text(&p.name),
            m.verifications.to_string(),
            m.success_rate.to_string(),
            m.conversion_rate.to_string(),
            opt(t.p50),
            opt(t.p90),
            opt(t.p99),
            opt(t.p999),
            opt(t.max),
            m.attempts_per_verification.to_string(),
            m.failover_rate.to_string(),
            m.cost_total.to_string(),
            opt(m.cost_per_success),
            m.duplicate_deliveries.to_string(),
            m.late_deliveries.to_string(),
            m.ejections.to_string(),
            m.flaps.to_string(),
            m.panic_time.to_string(),
            m.caller_abandoned.to_string(),
        ])
        .expect("in memory");
    }
    finish(w)
}

/// `timeseries.csv`: one row per (policy, bucket), with each provider's share of attempts.
pub fn timeseries_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "policy",
        "bucket_start",
        "measured",
        "verifications",
        "delivered",
        "success_rate",
        "failovers",
        "conversions",
        "attempts",
        "cost",
        "ejections",
        "ttv_p50",
        "ttv_p99",
        "caller_abandoned",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // `share_` first: a provider's name never starts the cell.
    header.extend(s.scenario.providers.iter().map(|p| format!("share_{p}")));
    w.write_record(&header).expect("in memory");
    for p in &s.policies {
        for b in &p.result.timeseries {
            let mut row = vec![
                text(&p.name),
                b.start.to_string(),
                b.measured.to_string(),
                b.verifications.to_string(),
                b.delivered.to_string(),
                opt(b.success_rate),
                b.failovers.to_string(),
                b.conversions.to_string(),
                b.attempts.to_string(),
                b.cost.to_string(),
                b.ejections.to_string(),
                opt(b.ttv_p50),
                opt(b.ttv_p99),
                b.caller_abandoned.to_string(),
            ];
            for a in &b.provider_attempts {
                row.push(if b.attempts > 0 {
                    (*a as f64 / b.attempts as f64).to_string()
                } else {
                    String::new()
                });
            }
            w.write_record(&row).expect("in memory");
        }
    }
    finish(w)
}

/// The columns that name a policy's route, first in `routes.csv` and `route_states.csv`.
const ROUTE_KEY: [&str; 5] = ["policy", "route", "provider", "country", "number_type"];

/// The [`ROUTE_KEY`] cells of `policy`'s route `r`.
fn route_key(policy: &str, r: &RouteStats) -> [String; 5] {
    [
        text(policy),
        text(&r.label),
        text(&r.provider),
        r.country.to_string(),
        r.number_type.to_string(),
    ]
}

/// `routes.csv`: one row per (policy, route).
pub fn routes_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(ROUTE_KEY.into_iter().chain([
        "attempts",
        "deliveries",
        "unavailable",
        "timeout",
        "rate_limited",
        "no_inventory",
        "rejected",
        "undelivered",
        "invalid_destination",
        "late_deliveries",
        "cost",
        "ejections",
        "flaps",
        "time_ejected",
    ]))
    .expect("in memory");
    for p in &s.policies {
        for r in &p.result.routes {
            let f = &r.failures;
            w.write_record(route_key(&p.name, r).into_iter().chain([
                r.attempts.to_string(),
                r.deliveries.to_string(),
                f.unavailable.to_string(),
                f.timeout.to_string(),
                f.rate_limited.to_string(),
                f.no_inventory.to_string(),
                f.rejected.to_string(),
                f.undelivered.to_string(),
                f.invalid_destination.to_string(),
                r.late_deliveries.to_string(),
                r.cost.to_string(),
                r.ejections.to_string(),
                r.flaps.to_string(),
                r.time_ejected.to_string(),
            ]))
            .expect("in memory");
        }
    }
    finish(w)
}

/// `route_states.csv`: one row per (policy, route, stretch of one state): every route's states
/// over the run (healthy from 0, then as its transitions say), `start` and `end` in seconds from
/// the run's start, routes in summary order. What the route-states chart draws, for every route
/// even when the chart summarises a large table.
pub fn route_states_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(ROUTE_KEY.into_iter().chain(["start", "end", "state"]))
        .expect("in memory");
    for p in &s.policies {
        for r in &p.result.routes {
            for (start, end, state) in route_spans(r, s.scenario.duration) {
                let state = match state {
                    TimelineState::Healthy => "healthy",
                    TimelineState::Probing => "probing",
                    TimelineState::Ejected => "ejected",
                };
                w.write_record(route_key(&p.name, r).into_iter().chain([
                    start.to_string(),
                    end.to_string(),
                    state.to_owned(),
                ]))
                .expect("in memory");
            }
        }
    }
    finish(w)
}

/// `faults.csv`: one row per (policy, fault).
pub fn faults_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "policy",
        "fault",
        "start",
        "end",
        "detection_delay",
        "recovery_delay",
        "verifications_during_fault",
        "failed_during_fault",
    ])
    .expect("in memory");
    for p in &s.policies {
        for f in &p.result.faults {
            w.write_record([
                text(&p.name),
                text(&f.name),
                f.start.to_string(),
                f.end.to_string(),
                opt(f.detection_delay),
                opt(f.recovery_delay),
                f.verifications_during_fault.to_string(),
                f.failed_during_fault.to_string(),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}

/// `comparison.csv`: one row per comparison of a policy with the baseline on one metric, in
/// `summary.json`'s order: the paired mean difference (`policy - baseline`) and its interval,
/// the verdict, and the unpaired (Welch) half-width with the variance reduction pairing gave.
/// Only the header for a single seed (which has no comparisons; the CLI writes the file only
/// with two or more seeds).
pub fn comparison_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "policy",
        "baseline",
        "metric",
        "better",
        "n",
        "mean_difference",
        "lo",
        "hi",
        "half_width",
        "verdict",
        "unpaired_half_width",
        "variance_reduction",
    ])
    .expect("in memory");
    for c in &s.comparisons {
        let better = match c.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        };
        w.write_record([
            text(&c.policy),
            text(&c.baseline),
            text(&c.metric),
            better.to_string(),
            c.n.to_string(),
            c.mean_difference.to_string(),
            opt(c.lo),
            opt(c.hi),
            opt(c.half_width),
            c.verdict.as_str().to_string(),
            opt(c.unpaired_half_width),
            opt(c.variance_reduction),
        ])
        .expect("in memory");
    }
    finish(w)
}

/// `replications.csv`: one row per (policy, seed, metric) with the metric's value on that
/// seed, long format (policies and seeds in `summary.json`'s order, metrics by name). A metric
/// undefined on a seed (cost per success without a success) has no row. Only the header for a
/// single seed.
pub fn replications_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["policy", "seed", "metric", "value"])
        .expect("in memory");
    for r in &s.replications {
        for seed in &r.seeds {
            for (metric, value) in &seed.metrics {
                w.write_record([
                    text(&r.policy),
                    seed.seed.to_string(),
                    text(metric),
                    value.to_string(),
                ])
                .expect("in memory");
            }
        }
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    /// `csv` parsed back: header and rows.
    fn parse(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::Reader::from_reader(bytes);
        let header = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    #[test]
    fn a_single_seed_has_only_the_headers() {
        let s = fixture::summary();
        let check = |csv: Vec<u8>, expect: &str| assert_eq!(text(csv), expect);
        check(
            comparison_csv(s),
            "policy,baseline,metric,better,n,mean_difference,lo,hi,half_width,verdict,\
             unpaired_half_width,variance_reduction\n",
        );
        check(replications_csv(s), "policy,seed,metric,value\n");
    }

    #[test]
    fn comparison_rows_carry_every_field_and_empty_cells_for_none() {
        let s = fixture::replicated();
        let (header, rows) = parse(&comparison_csv(s));
        assert_eq!(header.len(), 12);
        assert_eq!(rows.len(), s.comparisons.len());
        for (row, c) in rows.iter().zip(&s.comparisons) {
            let check = |column: &str, expect: String| {
                let i = header.iter().position(|h| h == column).unwrap();
                assert_eq!(row[i], expect, "{} {} {column}", c.policy, c.metric);
            };
            let num = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
            check("policy", c.policy.clone());
            check("baseline", c.baseline.clone());
            check("metric", c.metric.clone());
            check("n", c.n.to_string());
            check("mean_difference", c.mean_difference.to_string());
            check("lo", num(c.lo));
            check("hi", num(c.hi));
            check("half_width", num(c.half_width));
            check("verdict", c.verdict.as_str().to_string());
            check("unpaired_half_width", num(c.unpaired_half_width));
            check("variance_reduction", num(c.variance_reduction));
            // Values round-trip exactly.
            let i = header.iter().position(|h| h == "mean_difference").unwrap();
            assert_eq!(row[i].parse::<f64>().unwrap(), c.mean_difference);
        }
        let better = |metric: &str| {
            let row = rows.iter().find(|r| r[2] == metric).unwrap();
            row[3].clone()
        };
        assert_eq!(better("success_rate"), "higher");
        assert_eq!(better("ttv_p99"), "lower");
        // A comparison without an interval leaves its cells empty.
        let mut s = s.clone();
        let c = &mut s.comparisons[0];
        (
            c.lo,
            c.hi,
            c.half_width,
            c.unpaired_half_width,
            c.variance_reduction,
        ) = (None, None, None, None, None);
        c.verdict = crate::metrics::compare::Verdict::NoDetectableDifference;
        let (_, rows) = parse(&comparison_csv(&s));
        assert_eq!(
            &rows[0][6..],
            ["", "", "", "no detectable difference", "", ""]
        );
    }

    #[test]
    fn replication_rows_are_one_per_policy_seed_and_metric() {
        let s = fixture::replicated();
        let (header, rows) = parse(&replications_csv(s));
        assert_eq!(header, ["policy", "seed", "metric", "value"]);
        let expected: usize = s
            .replications
            .iter()
            .flat_map(|r| &r.seeds)
            .map(|seed| seed.metrics.len())
            .sum();
        assert_eq!(rows.len(), expected);
        let mut i = 0;
        for r in &s.replications {
            for seed in &r.seeds {
                for (metric, value) in &seed.metrics {
                    assert_eq!(
                        rows[i],
                        [
                            r.policy.clone(),
                            seed.seed.to_string(),
                            metric.clone(),
                            value.to_string()
                        ]
                    );
                    i += 1;
                }
            }
        }
    }

    /// Every CSV the report writes, by file name.
    fn every_csv(s: &RunSummary) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("summary.csv", summary_csv(s)),
            ("timeseries.csv", timeseries_csv(s)),
            ("routes.csv", routes_csv(s)),
            ("route_states.csv", route_states_csv(s)),
            ("faults.csv", faults_csv(s)),
            ("comparison.csv", comparison_csv(s)),
            ("replications.csv", replications_csv(s)),
        ]
    }

    #[test]
    fn no_cell_of_a_hostile_scenario_starts_a_formula() {
        let s = fixture::hostile();
        for (file, bytes) in every_csv(s) {
            let (header, rows) = parse(&bytes);
            assert!(!rows.is_empty(), "{file} has no rows to check");
            for cell in header.iter().chain(rows.iter().flatten()) {
                // Numbers are written as numbers (a negative difference starts with `-`).
                if cell.parse::<f64>().is_ok() {
                    continue;
                }
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{file}: {cell:?} would be read as a formula"
                );
            }
        }
    }

    #[test]
    fn hostile_names_keep_their_text_behind_a_quote() {
        let s = fixture::hostile();
        let cells =
            |bytes: Vec<u8>| -> Vec<String> { parse(&bytes).1.into_iter().flatten().collect() };
        let summary = cells(summary_csv(s));
        for name in fixture::HOSTILE_POLICIES {
            assert!(summary.contains(&format!("'{name}")), "{name:?}");
        }
        let routes = cells(routes_csv(s));
        for name in fixture::HOSTILE_PROVIDERS {
            assert!(routes.contains(&format!("'{name}")), "{name:?}");
            assert!(
                routes.iter().any(|c| c.starts_with(&format!("'{name}/"))),
                "{name:?} label"
            );
        }
        let faults = cells(faults_csv(s));
        for name in fixture::HOSTILE_FAULTS {
            assert!(faults.contains(&format!("'{name}")), "{name:?}");
        }
        let replications = cells(replications_csv(s));
        let fault = fixture::HOSTILE_FAULTS[0];
        assert!(replications.contains(&format!("'{fault}.detection_delay")));
        // A text cell that starts harmlessly is left as it is.
        let mut plain = s.clone();
        plain.policies[0].name = "a=b".to_owned();
        assert!(cells(summary_csv(&plain)).contains(&"a=b".to_owned()));
    }

    #[test]
    fn numbers_are_never_quoted_even_when_negative() {
        let s = fixture::hostile();
        let (header, rows) = parse(&comparison_csv(s));
        let i = header.iter().position(|h| h == "mean_difference").unwrap();
        let negative: Vec<&Vec<String>> = rows.iter().filter(|r| r[i].starts_with('-')).collect();
        assert!(!negative.is_empty(), "the fixture has negative differences");
        for (row, c) in rows.iter().zip(&s.comparisons) {
            assert_eq!(row[i], c.mean_difference.to_string());
            assert_eq!(row[i].parse::<f64>().unwrap(), c.mean_difference);
        }
    }

    #[test]
    fn route_states_hold_every_route_of_a_large_table_over_the_whole_run() {
        let s = fixture::large(1000, 10);
        let (header, rows) = parse(&route_states_csv(&s));
        assert_eq!(
            header,
            [
                "policy",
                "route",
                "provider",
                "country",
                "number_type",
                "start",
                "end",
                "state"
            ]
        );
        for p in &s.policies {
            for r in &p.result.routes {
                let spans: Vec<&Vec<String>> = rows
                    .iter()
                    .filter(|row| row[0] == p.name && row[1] == r.label)
                    .collect();
                assert!(!spans.is_empty(), "{} {} has no row", p.name, r.label);
                // From 0 to the run's end without a gap.
                assert_eq!(spans[0][5], "0");
                assert_eq!(spans.last().unwrap()[6], s.scenario.duration.to_string());
                for w in spans.windows(2) {
                    assert_eq!(w[0][6], w[1][5]);
                }
            }
        }
        let routes: std::collections::BTreeSet<(&str, &str)> = rows
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        assert_eq!(routes.len(), 1000 * s.policies.len());
        let states: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[7].as_str()).collect();
        assert!(
            states.contains("ejected") && states.contains("healthy"),
            "{states:?}"
        );
    }

    #[test]
    fn names_with_commas_and_quotes_are_quoted() {
        let mut s = fixture::replicated().clone();
        s.comparisons[0].policy = "a,\"b\"".to_string();
        s.replications[0].policy = "x\ny".to_string();
        let (_, rows) = parse(&comparison_csv(&s));
        assert_eq!(rows[0][0], "a,\"b\"");
        let (_, rows) = parse(&replications_csv(&s));
        assert_eq!(rows[0][0], "x\ny");
    }
}
