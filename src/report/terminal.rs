//! Terminal tables: the policy comparison and the per-fault impact, as plain text.
//!
//! Plain text, fixed column order, right-aligned numbers: readable in a terminal, stable in CI
//! logs, and snapshot-testable. Colour and progress bars are the CLI's business.

use std::fmt::Write;

use crate::metrics::RunSummary;

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |s| format!("{s:.2}s"))
}

fn money(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |c| format!("{c:.4}"))
}

/// Renders rows as aligned columns: first column left-aligned, the others right-aligned.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(s, "{c:<w$}");
            } else {
                let _ = write!(s, "  {c:>w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

/// One row per policy: the numbers a policy author compares first. The `abandoned` column
/// (verifications whose caller gave up waiting) appears only when some policy has any.
pub fn policy_table(s: &RunSummary) -> String {
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
                secs(impact.recovery_delay),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture;

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
