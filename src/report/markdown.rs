//! The gate as a pull-request comment or job summary in GitHub-flavoured Markdown (`--markdown`):
//! the verdict in the heading, then per scenario its seeds and baseline, its warnings and a table
//! of its checks in the gate's order, with the same numbers and words as the terminal
//! ([`super::gate`]).
//!
//! Names come from scenario files, so they are escaped: policy names, metric paths and file
//! names go into code spans (nothing inside is Markdown or HTML), notes and warnings are
//! backslash-escaped, and in a table cell `|` is `\|` and a newline a space, so no name can add a
//! column, end a row or inject a tag. Markers are text (`**FAIL**`, `PASS`), not emoji, so the
//! comment reads the same in a terminal, an e-mail notification and a screen reader.

use std::fmt::Write as _;

use super::gate::{difference_text, estimate_text, tolerance_text, value_text};
use super::replicated::{self, Style};
use crate::metrics::gate::{
    BaselineState, Check, CheckKind, GateReport, ScenarioGate, Status, Totals,
};

/// Where text goes: a table cell must also escape `|`'s meaning as a cell separator, which
/// GitHub applies even inside code spans.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Prose,
    Cell,
}

/// Newlines would end a paragraph or a table row.
fn flatten(s: &str) -> String {
    s.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// `s` as literal text: a backslash before every character Markdown or HTML could read as
/// syntax.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in flatten(s).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` in a code span, with a fence longer than any run of backticks in it.
fn code(s: &str, place: Place) -> String {
    let s = flatten(s);
    let s = if place == Place::Cell {
        s.replace('|', "\\|")
    } else {
        s
    };
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space to keep it off the fence; one
    // space on each side is stripped again when rendered.
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// `FAILED (2 failed, 1 regressed of 9 checks)`, `passed (9 checks, 1 improved, 2 skipped)`.
fn verdict(t: &Totals) -> String {
    let checks = format!("{} check{}", t.checks, if t.checks == 1 { "" } else { "s" });
    let count = |n: usize, what: &str| (n > 0).then(|| format!("{n} {what}"));
    if t.fails() {
        let why: Vec<String> = [count(t.failed, "failed"), count(t.regressed, "regressed")]
            .into_iter()
            .flatten()
            .collect();
        format!("FAILED ({} of {checks})", why.join(", "))
    } else {
        let mut parts = vec![checks];
        parts.extend(
            [count(t.improved, "improved"), count(t.skipped, "skipped")]
                .into_iter()
                .flatten(),
        );
        format!("passed ({})", parts.join(", "))
    }
}

/// The status cell: bold where the gate fails because of the check.
fn marker(status: Status) -> String {
    if status.fails() {
        format!("**{}**", status.as_str())
    } else {
        status.as_str().to_owned()
    }
}

fn baseline_words(s: &ScenarioGate) -> String {
    let file = s
        .baseline_file
        .as_deref()
        .map(|f| format!(" {}", code(f, Place::Prose)));
    let file = file.as_deref().unwrap_or("");
    match s.baseline {
        BaselineState::Current => format!("baseline{file}"),
        BaselineState::Stale => {
            format!("baseline{file} **(stale: measured in a different world)**")
        }
        BaselineState::Missing if !file.is_empty() => {
            format!("no baseline at{file}: regressions not checked")
        }
        BaselineState::Missing | BaselineState::NotAsked => {
            "no baseline: regressions not checked".to_owned()
        }
    }
}

/// One table row: status, check (and note), policy, baseline, now, difference.
fn row(check: &Check) -> String {
    let unit = check.unit;
    let dash = || "–".to_owned();
    let metric = code(&check.metric, Place::Cell);
    let (what, baseline, now, difference) = match &check.kind {
        CheckKind::Expectation { threshold } => (
            format!("{metric} {}", threshold.display(unit)),
            String::new(),
            check
                .value
                .as_ref()
                .map_or_else(dash, |e| estimate_text(unit, e)),
            String::new(),
        ),
        CheckKind::Regression {
            baseline_policy,
            tolerance,
            tolerance_absolute,
            baseline,
            difference,
        } => {
            let mut base = baseline.map_or_else(dash, |b| value_text(unit, b));
            if *baseline_policy != check.policy {
                let _ = write!(base, " (of {})", code(baseline_policy, Place::Cell));
            }
            let tolerance = tolerance_text(unit, *tolerance, baseline.map(|_| *tolerance_absolute));
            let difference = match difference {
                Some(d) => format!("{} (tolerance {tolerance})", difference_text(unit, d)),
                None => format!("– (tolerance {tolerance})"),
            };
            (
                format!("{metric} vs baseline"),
                base,
                check.value.map_or_else(dash, |e| value_text(unit, e.mean)),
                difference,
            )
        }
    };
    let what = match &check.note {
        Some(note) => format!("{what} ({})", text(note)),
        None => what,
    };
    format!(
        "| {} | {what} | {} | {baseline} | {now} | {difference} |",
        marker(check.status),
        code(&check.policy, Place::Cell),
    )
}

fn scenario(out: &mut String, s: &ScenarioGate) {
    let seeds = s.seeds.len();
    let _ = writeln!(
        out,
        "**{}** ({}): {seeds} seed{}, {}\n",
        text(&s.scenario),
        code(&s.file, Place::Prose),
        if seeds == 1 { "" } else { "s" },
        baseline_words(s),
    );
    if !s.warnings.is_empty() {
        for w in &s.warnings {
            let _ = writeln!(out, "- warning: {}", text(w));
        }
        out.push('\n');
    }
    if s.checks.is_empty() {
        out.push_str("No checks.\n\n");
        return;
    }
    let _ = writeln!(
        out,
        "| | Check | Policy | Baseline | Now | Difference ({} interval) |",
        replicated::confidence(s.confidence, Style::Terminal)
    );
    out.push_str("|---|---|---|---|---|---|\n");
    for c in &s.checks {
        out.push_str(&row(c));
        out.push('\n');
    }
    out.push('\n');
}

/// The gate as a Markdown comment: `### failover-lab gate: FAILED (1 failed, 1 regressed of 14
/// checks)`, then each scenario. Ends with a blank line, so that reports appended to one file (a
/// job summary) stay separate blocks.
pub fn markdown(report: &GateReport) -> String {
    let mut out = format!("### failover-lab gate: {}\n\n", verdict(&report.totals()));
    for s in &report.scenarios {
        scenario(&mut out, s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::gate::fixture::{self, HOSTILE_POLICY};
    use super::*;

    #[test]
    fn the_comment_reads_right() {
        insta::assert_snapshot!(markdown(&fixture::report()));
    }

    #[test]
    fn the_heading_gives_the_verdict_and_why() {
        let mut r = fixture::report();
        assert!(
            markdown(&r)
                .starts_with("### failover-lab gate: FAILED (2 failed, 1 regressed of 9 checks)\n")
        );
        for s in &mut r.scenarios {
            s.checks.retain(|c| !c.status.fails());
        }
        assert!(
            markdown(&r)
                .starts_with("### failover-lab gate: passed (6 checks, 1 improved, 2 skipped)\n")
        );
        assert_eq!(
            markdown(&GateReport::default()),
            "### failover-lab gate: passed (0 checks)\n\n"
        );
    }

    /// Cells separated by `|` not escaped with a backslash.
    fn cells(row: &str) -> usize {
        let bytes = row.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count()
            - 1
    }

    #[test]
    fn names_cannot_break_the_table_or_inject_html() {
        let md = markdown(&fixture::hostile());
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 3, "{md}");
        for r in &rows {
            assert_eq!(cells(r), 6, "{r}");
        }
        // In the table the policy is a code span (literal text), its pipe escaped for GitHub's
        // table parser, its backticks inside a longer fence.
        let policy = format!("| ``{}`` |", HOSTILE_POLICY.replace('|', "\\|"));
        assert!(rows[2].contains(&policy), "{}", rows[2]);
        // In prose (warnings, notes, the scenario's name) every tag is escaped.
        let prose: String = md
            .lines()
            .filter(|l| !l.starts_with('|'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !prose.contains("<script>") && !prose.contains("<b>"),
            "{prose}"
        );
        assert!(
            prose.contains("**pipes\\|and\\<b\\>tags\\</b\\>**"),
            "{prose}"
        );
        assert!(
            prose.contains("- warning: policy a\\|b \\<script\\>alert('x')\\</script\\> \\& \\`c\\` \\*\\*d\\*\\* is odd"),
            "{prose}"
        );
        // The note's newline does not end the row.
        assert!(rows[2].contains("(policy a\\|b") && rows[2].ends_with(" |"));
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a", Place::Prose), "`a`");
        assert_eq!(code("a`b", Place::Prose), "``a`b``");
        assert_eq!(code("`a", Place::Prose), "`` `a ``");
        assert_eq!(code("a|b", Place::Cell), "`a\\|b`");
        assert_eq!(code("a\nb", Place::Prose), "`a b`");
    }
}
