//! Terminal tables: the policy comparison and the per-fault impact, as plain text; for a
//! replicated run (`--seeds N`, N > 1) the policy table shows means over seeds with their
//! intervals, and [`differences_table`] each policy's paired differences from the baseline.
//!
//! Plain text, fixed column order, right-aligned numbers: readable in a terminal, stable in CI
//! logs, and snapshot-testable. Colour and progress bars are the CLI's business. A single-seed
//! run prints exactly what it always has.

use std::borrow::Cow;
use std::fmt::Write;

use super::replicated::{self, Style};
use crate::metrics::RunSummary;

/// `s` with nothing a terminal would act on, for every name from a scenario file printed to a
/// terminal or a CI log: control characters (C0 such as ESC, CR, BEL and newlines; DEL; C1
/// such as the one-byte CSI U+009B) and the bidirectional formatting characters that reorder
/// what follows them are written as escapes, the way `{:?}` writes them (`\u{1b}`, `\r`).
/// An escape sequence in a policy name must not recolour, retitle or clear a terminal, nor a
/// carriage return overwrite a table row. Borrowed when there is nothing to escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    fn escaped(c: char) -> bool {
        c.is_control()
            || matches!(
                c,
                '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            )
    }
    if !s.chars().any(escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |s| format!("{s:.2}s"))
}

fn money(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |c| format!("{c:.4}"))
}

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Names and words.
    Left,
    /// Numbers.
    Right,
}

/// Renders rows as aligned columns: first column left-aligned, the others right-aligned.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut align = vec![Align::Right; header.len()];
    if let Some(first) = align.first_mut() {
        *first = Align::Left;
    }
    aligned_table(header, rows, &align)
}

/// Renders rows as columns aligned as `align` says (right for columns it does not cover), two
/// spaces apart, trailing spaces trimmed.
pub(crate) fn aligned_table(header: &[&str], rows: &[Vec<String>], align: &[Align]) -> String {
    // Cells hold names from the scenario file: escaped before they are measured.
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if align.get(i) == Some(&Align::Left) {
                let _ = write!(s, "{c:<w$}");
            } else {
                let _ = write!(s, "{c:>w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in &rows {
        line(&mut r.iter().map(|c| c.as_ref()));
    }
    out
}

/// One row per policy: the numbers a policy author compares first. The `abandoned` column
/// (verifications whose caller gave up waiting) appears only when some policy has any.
///
/// For a replicated run (`replications` not empty) it is instead a title line naming the number
/// of seeds and the confidence, then one row per policy of `replications` with each headline
/// metric as `mean ± half-width` over seeds (`99.95% ± 0.02`: percentage points for rates,
/// seconds for times). `verifications` and `abandoned` are not replicated metrics, so that
/// table has no such columns.
pub fn policy_table(s: &RunSummary) -> String {
    if !s.replications.is_empty() {
        return replicated_policy_table(s);
    }
    let abandoned = s
        .policies
        .iter()
        .any(|p| p.result.metrics.caller_abandoned > 0);
    let rows: Vec<Vec<String>> = s
        .policies
        .iter()
        .map(|p| {
            let m = &p.result.metrics;
            let mut row = vec![
                p.name.clone(),
                m.verifications.to_string(),
                pct(m.success_rate),
            ];
            if abandoned {
                row.push(m.caller_abandoned.to_string());
            }
            row.extend([
                pct(m.conversion_rate),
                secs(m.time_to_verify.p50),
                secs(m.time_to_verify.p99),
                format!("{:.3}", m.attempts_per_verification),
                money(m.cost_per_success),
                m.duplicate_deliveries.to_string(),
                m.ejections.to_string(),
                m.flaps.to_string(),
            ]);
            row
        })
        .collect();
    let mut header = vec!["policy", "verifications", "success"];
    if abandoned {
        header.push("abandoned");
    }
    header.extend([
        "conversion",
        "ttv p50",
        "ttv p99",
        "attempts",
        "cost/success",
        "duplicates",
        "ejections",
        "flaps",
    ]);
    table(&header, &rows)
}

/// The policy table of a replicated run: a title line naming the number of seeds and the
/// confidence, then one row per policy of `replications` with each headline metric as `mean ±
/// half-width` over seeds (`99.95% ± 0.02`: percentage points for rates, seconds for times).
///
/// `verifications` and `abandoned` are not among the replicated metrics, so they have no column
/// here (the first seed's run, with them, is in `summary.csv` and the HTML report).
fn replicated_policy_table(s: &RunSummary) -> String {
    const COLUMNS: [(&str, &str); 9] = [
        ("success", "success_rate"),
        ("conversion", "conversion_rate"),
        ("ttv p50", "ttv_p50"),
        ("ttv p99", "ttv_p99"),
        ("attempts", "attempts_per_verification"),
        ("cost/success", "cost_per_success"),
        ("duplicates", "duplicate_deliveries"),
        ("ejections", "ejections"),
        ("flaps", "flaps"),
    ];
    let rows: Vec<Vec<String>> = s
        .replications
        .iter()
        .map(|r| {
            let mut row = vec![r.policy.clone()];
            row.extend(
                COLUMNS
                    .iter()
                    .map(|(_, m)| replicated::mean_pm(m, r.estimate(m), Style::Terminal)),
            );
            row
        })
        .collect();
    let mut header = vec!["policy"];
    header.extend(COLUMNS.iter().map(|(h, _)| *h));
    format!(
        "mean ± half-width of the {} over {} seeds\n{}",
        interval_name(s),
        replicated::seed_count(s),
        table(&header, &rows)
    )
}

/// `95% confidence interval`, or `confidence interval` when the summary does not say.
fn interval_name(s: &RunSummary) -> String {
    replicated::run_confidence(s).map_or_else(
        || "confidence interval".to_owned(),
        |c| {
            format!(
                "{} confidence interval",
                replicated::confidence(c, Style::Terminal)
            )
        },
    )
}

/// Each policy against the baseline over seeds: a title line (baseline, seeds, confidence),
/// then one row per (policy, headline metric) ([`replicated::headline_metrics`]: the policy
/// table's metrics and each fault's detection delay and failed verifications) with the mean
/// paired difference `policy - baseline` in the metric's unit (percentage points for rates),
/// its interval `[lo, hi]`, the verdict, and the variance reduction pairing gave (`x12.3`: the
/// unpaired interval is that many times wider). Empty when there are no comparisons (one seed).
pub fn differences_table(s: &RunSummary) -> String {
    let comparisons = replicated::headline_comparisons(s);
    if comparisons.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = comparisons
        .iter()
        .map(|c| {
            let (difference, interval) = replicated::difference(c, Style::Terminal);
            vec![
                c.policy.clone(),
                c.metric.clone(),
                difference,
                interval,
                c.verdict.as_str().to_owned(),
                replicated::reduction(c.variance_reduction, Style::Terminal),
            ]
        })
        .collect();
    use Align::{Left, Right};
    format!(
        "differences from baseline {} (policy - baseline, paired by seed over {} seeds, {}s)\n{}",
        printable(replicated::baseline(s).unwrap_or("-")),
        replicated::seed_count(s),
        interval_name(s),
        aligned_table(
            &[
                "policy",
                "metric",
                "difference",
                "interval",
                "verdict",
                "variance reduction",
            ],
            &rows,
            &[Left, Left, Right, Right, Left, Right],
        )
    )
}

/// One row per (fault, policy): how fast each policy noticed, recovered, and what it cost.
pub fn fault_table(s: &RunSummary) -> String {
    let mut rows = Vec::new();
    for (i, f) in s.scenario.faults.iter().enumerate() {
        for p in &s.policies {
            let Some(impact) = p.result.faults.get(i) else {
                continue;
            };
            rows.push(vec![
                f.name.clone(),
                p.name.clone(),
                secs(impact.detection_delay),
                if impact.reacted {
                    secs(impact.recovery_delay)
                } else {
                    // Not "0.00s": a policy that ignored the fault had nothing to recover from.
                    "no reaction".into()
                },
                format!(
                    "{} / {}",
                    impact.failed_during_fault, impact.verifications_during_fault
                ),
            ]);
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    table(
        &[
            "fault",
            "policy",
            "detection",
            "recovery",
            "failed during fault",
        ],
        &rows,
    )
}

/// One row per (restart, policy): what the new router started with. A warm restart keeps the
/// routes the old router had taken out; a cold one puts every route back in service.
pub fn restart_table(s: &RunSummary) -> String {
    let mut rows = Vec::new();
    for (i, r) in s.scenario.restarts.iter().enumerate() {
        for p in &s.policies {
            let Some(seen) = p.result.restarts.get(i) else {
                continue;
            };
            let kind = match (r.warm, seen.warm) {
                (true, true) => "warm",
                // Asked for warm, yet the state was not restored (never happens in the lab,
                // where the state has no age: kept honest rather than hidden).
                (true, false) => "warm (state not restored)",
                (false, _) => "cold",
            };
            rows.push(vec![
                failover_router::duration::format(std::time::Duration::from_secs_f64(r.at)),
                p.name.clone(),
                kind.to_owned(),
                format!(
                    "{} ejected, {} probing",
                    seen.routes_out, seen.routes_probing
                ),
            ]);
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    table(
        &["restart", "policy", "start", "routes out at start"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::{
        Comparison, Interval, MetricEstimate, PolicyReplications, Verdict, better,
    };
    use crate::metrics::{ExperimentInfo, Quantiles};
    use crate::report::chart::fixture;

    /// A replicated run of 5 seeds at 95 % with baseline `static`, built by hand: per policy
    /// its estimates `(metric, mean, half-width)`, and the comparisons `(policy, metric, mean
    /// difference, interval, verdict, variance reduction)`.
    type Estimates<'a> = &'a [(&'a str, &'a [(&'a str, f64, Option<f64>)])];
    type Differences<'a> = &'a [(
        &'a str,
        &'a str,
        f64,
        Option<(f64, f64)>,
        Verdict,
        Option<f64>,
    )];

    fn replicated_summary(estimates: Estimates, differences: Differences) -> RunSummary {
        let mut s = fixture::summary().clone();
        s.experiment = Some(ExperimentInfo {
            seeds: vec![1, 2, 3, 4, 5],
            confidence: 0.95,
            baseline: "static".into(),
            precision: Vec::new(),
            stopped: None,
        });
        s.replications = estimates
            .iter()
            .map(|(policy, metrics)| PolicyReplications {
                policy: (*policy).into(),
                seeds: Vec::new(),
                estimates: metrics
                    .iter()
                    .map(|&(metric, mean, hw)| MetricEstimate {
                        metric: metric.into(),
                        better: better(metric),
                        interval: Interval {
                            n: 5,
                            mean,
                            half_width: hw,
                            lo: hw.map(|h| mean - h),
                            hi: hw.map(|h| mean + h),
                        },
                    })
                    .collect(),
                pooled_ttv: Quantiles::default(),
            })
            .collect();
        s.comparisons = differences
            .iter()
            .map(
                |&(policy, metric, mean, interval, verdict, reduction)| Comparison {
                    policy: policy.into(),
                    baseline: "static".into(),
                    metric: metric.into(),
                    better: better(metric),
                    n: 5,
                    mean_difference: mean,
                    half_width: interval.map(|(lo, hi)| (hi - lo) / 2.0),
                    lo: interval.map(|i| i.0),
                    hi: interval.map(|i| i.1),
                    verdict,
                    unpaired_half_width: None,
                    variance_reduction: reduction,
                },
            )
            .collect();
        s
    }

    fn check_policy_table(estimates: Estimates, expect: &str) {
        let s = replicated_summary(estimates, &[]);
        assert_eq!(policy_table(&s), expect, "\n{}", policy_table(&s));
    }

    fn check_differences(differences: Differences, expect: &str) {
        let s = replicated_summary(&[], differences);
        assert_eq!(differences_table(&s), expect, "\n{}", differences_table(&s));
    }

    #[test]
    fn replicated_policy_tables_show_means_with_half_widths() {
        check_policy_table(
            &[
                (
                    "score",
                    &[
                        ("success_rate", 0.9995, Some(0.0002)),
                        ("conversion_rate", 0.7973, Some(0.0051)),
                        ("ttv_p50", 3.5213, Some(0.04)),
                        ("ttv_p99", 17.99, Some(0.61)),
                        ("attempts_per_verification", 1.1456, Some(0.004)),
                        ("cost_per_success", 0.0822, Some(0.0011)),
                        ("duplicate_deliveries", 71.4, Some(3.21)),
                        ("ejections", 1.2, Some(0.4)),
                        ("flaps", 0.0, Some(0.0)),
                    ],
                ),
                // Undefined metrics show as dashes, a single defined seed without its interval.
                (
                    "static",
                    &[
                        ("success_rate", 0.6636, None),
                        ("ttv_p50", 3.44, Some(0.05)),
                    ],
                ),
            ],
            "mean ± half-width of the 95% confidence interval over 5 seeds\n\
             policy        success     conversion       ttv p50        ttv p99       attempts     cost/success  duplicates  ejections      flaps\n\
             score   99.95% ± 0.02  79.73% ± 0.51  3.52s ± 0.04  17.99s ± 0.61  1.146 ± 0.004  0.0822 ± 0.0011  71.4 ± 3.2  1.2 ± 0.4  0.0 ± 0.0\n\
             static     66.36% ± -              -  3.44s ± 0.05              -              -                -           -          -          -\n",
        );
    }

    #[test]
    fn a_single_seed_policy_table_is_unchanged_and_has_no_differences() {
        let s = fixture::summary();
        let t = policy_table(s);
        assert!(t.starts_with("policy  "), "{t}");
        assert!(t.contains(" verifications  success  conversion"), "{t}");
        assert!(!t.contains('±'));
        assert_eq!(differences_table(s), "");
    }

    #[test]
    fn differences_follow_the_headline_order_with_units_and_verdicts() {
        use Verdict::{Better as B, NoDetectableDifference as N, Worse as W};
        check_differences(
            &[
                // In summary order (by name), shown in headline order per policy.
                (
                    "score",
                    "a-down.detection_delay",
                    -4.2,
                    Some((-6.0, -2.4)),
                    B,
                    Some(3.1),
                ),
                ("score", "cost_total", 1.0, Some((0.5, 1.5)), W, Some(2.0)),
                ("score", "flaps", 0.4, Some((-0.3, 1.1)), N, Some(1.04)),
                (
                    "score",
                    "success_rate",
                    0.3356,
                    Some((0.3301, 0.3411)),
                    B,
                    Some(12.34),
                ),
                ("score", "ttv_p99", 0.58, Some((0.12, 1.04)), W, None),
                (
                    "quick",
                    "success_rate",
                    0.0012,
                    Some((-0.0003, 0.0027)),
                    N,
                    Some(8.0),
                ),
                ("quick", "a-down.failed_during_fault", -12.0, None, N, None),
            ],
            "differences from baseline static (policy - baseline, paired by seed over 5 seeds, 95% confidence intervals)\n\
             policy  metric                      difference          interval  verdict                   variance reduction\n\
             score   success_rate                 +33.56 pp  [+33.01, +34.11]  better                                 x12.3\n\
             score   ttv_p99                         +0.58s    [+0.12, +1.04]  worse                                      -\n\
             score   flaps                             +0.4      [-0.3, +1.1]  no detectable difference                x1.0\n\
             score   a-down.detection_delay          -4.20s    [-6.00, -2.40]  better                                  x3.1\n\
             quick   success_rate                  +0.12 pp    [-0.03, +0.27]  no detectable difference                x8.0\n\
             quick   a-down.failed_during_fault       -12.0                 -  no detectable difference                   -\n",
        );
        check_differences(&[], "");
    }

    #[test]
    fn the_differences_of_the_fixture_list_every_headline_comparison() {
        let s = fixture::replicated();
        let t = differences_table(s);
        let rows: Vec<&str> = t.lines().skip(2).collect();
        assert_eq!(rows.len(), replicated::headline_comparisons(s).len());
        // Not headline metrics: compared in summary.json, not shown here.
        assert!(!t.contains("cost_total") && !t.contains("ttv_p90"), "{t}");
        // The baseline never detects a-down, so there is nothing to pair.
        assert!(!t.contains("a-down.detection_delay"), "{t}");
        assert!(t.contains("c-flapping.detection_delay"), "{t}");
        assert!(t.starts_with("differences from baseline static"), "{t}");
        assert!(t.contains("over 6 seeds, 95% confidence intervals"), "{t}");
    }

    #[test]
    fn the_abandoned_column_appears_only_when_a_caller_gave_up() {
        let mut s = fixture::summary().clone();
        let header = |s: &RunSummary| policy_table(s).lines().next().unwrap().to_owned();
        assert!(!header(&s).contains("abandoned"), "{}", header(&s));
        s.policies[1].result.metrics.caller_abandoned = 1234;
        let t = policy_table(&s);
        assert!(header(&s).contains("success  abandoned  conversion"), "{t}");
        let rows: Vec<&str> = t.lines().skip(1).collect();
        assert!(rows[1].contains(" 1234 "), "{t}");
        assert!(rows[0].contains("%          0 "), "{t}");
    }

    #[test]
    fn names_print_with_controls_escaped() {
        assert!(matches!(printable("twilio-like é"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\u{1b}[31m\r\n\t\u{7}\u{7f}\u{9b}b\u{202e}c\u{2066}"),
            "a\\u{1b}[31m\\r\\n\\t\\u{7}\\u{7f}\\u{9b}b\\u{202e}c\\u{2066}"
        );
    }

    #[test]
    fn columns_align_and_missing_values_show_as_dashes() {
        let t = table(
            &["policy", "success", "ttv p50"],
            &[
                vec!["score".into(), pct(0.99123), secs(Some(3.456))],
                vec!["static-priority".into(), pct(0.5), secs(None)],
            ],
        );
        assert_eq!(
            t,
            "policy           success  ttv p50\n\
             score             99.12%    3.46s\n\
             static-priority   50.00%        -\n"
        );
    }
}
