//! What the CLI prints when a sweep ends: the frontier as a table, the recommendation (or why
//! there is none) and the command that runs the recommended point.
//!
//! Plain text in the run report's terminal style ([`crate::report::terminal`]: aligned columns,
//! `99.95% ± 0.02`), so it reads in a terminal and in a CI log. Every name that comes from input
//! (scenario, policy, file, metric names that carry a fault's name) goes through
//! [`printable`], so no escape sequence in a scenario reaches the terminal; that includes the
//! run command, which for such a name is then shown escaped rather than copy-pasteable.

use std::fmt::Write;

use super::html::run_command;
use crate::experiment::sweep::{SweepPoint, SweepSummary};
use crate::metrics::pareto::{Distinguishability, Recommendation};
use crate::report::replicated::{self, Style};
use crate::report::terminal::{Align, aligned_table, printable};

/// Frontier members the table lists; the rest are counted (every one is in `sweep.csv`).
pub const MAX_ROWS: usize = 20;

/// The text printed at the end of a sweep (see the module's documentation).
pub fn render(s: &SweepSummary) -> String {
    let mut out = String::new();
    frontier(s, &mut out);
    out.push('\n');
    recommendation(s, &mut out);
    out
}

fn frontier(s: &SweepSummary, out: &mut String) {
    let members: Vec<&SweepPoint> = s.points.iter().filter(|p| p.frontier).collect();
    let rec = s.recommended().map(|p| p.index);
    let _ = writeln!(
        out,
        "Pareto frontier: {} of {} ({}{})",
        members.len(),
        super::points(s.points.len()),
        if s.seeds.len() >= 2 {
            format!(
                "mean ± half-width of the {} interval over {}",
                replicated::confidence(s.confidence, Style::Terminal),
                super::seeds(s.seeds.len())
            )
        } else {
            "one seed, no intervals".to_owned()
        },
        if members.len() > MAX_ROWS {
            format!("; the first {MAX_ROWS} by point")
        } else {
            String::new()
        }
    );
    if members.is_empty() {
        out.push_str("  no point has a mean for every objective\n");
        return;
    }
    let mut header: Vec<String> = vec!["point".to_owned()];
    header.extend(s.parameters.iter().map(|p| printable(&p.path).into_owned()));
    header.extend(s.objectives.iter().map(|o| {
        let arrow = match o.better {
            crate::metrics::compare::Better::Higher => "↑",
            crate::metrics::compare::Better::Lower => "↓",
        };
        format!("{} {arrow}", printable(&o.metric))
    }));
    let rows: Vec<Vec<String>> = members
        .iter()
        .take(MAX_ROWS)
        .map(|p| {
            let mut row = vec![format!(
                "#{}{}",
                p.index,
                if Some(p.index) == rec { " *" } else { "" }
            )];
            row.extend(p.values.iter().map(ToString::to_string));
            row.extend(
                s.objectives
                    .iter()
                    .map(|o| super::mean_pm(&o.key, p, Style::Terminal)),
            );
            row
        })
        .collect();
    let mut align = vec![Align::Left; 1 + s.parameters.len()];
    align.extend(vec![Align::Right; s.objectives.len()]);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&aligned_table(&header, &rows, &align));
    if members.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "… and {} more on the frontier (sweep.csv, column frontier)",
            members.len() - MAX_ROWS
        );
    }
    if rec.is_some() {
        out.push_str("* recommended\n");
    }
    match &s.distinguishability {
        Distinguishability::Unknown => {
            out.push_str("Members cannot be told apart: fewer than two seeds give no intervals.\n")
        }
        Distinguishability::Known { indistinguishable } if members.len() >= 2 => {
            if indistinguishable.is_empty() {
                out.push_str(
                    "Every pair of members is told apart: their intervals are disjoint on some \
                     objective.\n",
                );
            } else {
                const SHOWN: usize = 8;
                let pairs: Vec<String> = indistinguishable
                    .iter()
                    .take(SHOWN)
                    .map(|(a, b)| format!("#{a} and #{b}"))
                    .collect();
                let more = indistinguishable.len().saturating_sub(SHOWN);
                let _ = writeln!(
                    out,
                    "Indistinguishable (intervals overlap on every objective, the difference \
                     could be noise): {}{}",
                    pairs.join(", "),
                    if more > 0 {
                        format!(", … and {more} more pairs")
                    } else {
                        String::new()
                    }
                );
            }
        }
        Distinguishability::Known { .. } => {}
    }
}

fn recommendation(s: &SweepSummary, out: &mut String) {
    match &s.recommendation {
        Recommendation::Point { on_frontier, .. } => {
            let Some(p) = s.recommended() else { return };
            let _ = writeln!(
                out,
                "Recommended: point #{} ({}){}",
                p.index,
                printable(&p.label),
                if *on_frontier {
                    ""
                } else {
                    ", off the frontier of all points: a point that breaks a constraint on a \
                     metric that is no objective dominates it"
                }
            );
            for m in s.charted_metrics() {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    printable(&m.metric),
                    super::mean_pm(&m.key, p, Style::Terminal)
                );
            }
            if let Some(cmd) = run_command(s) {
                let _ = writeln!(out, "\nRun it:\n  {}", printable(&cmd));
            }
        }
        Recommendation::NoFeasible { binding, misses } => {
            out.push_str("No point meets every constraint: nothing is recommended.\n");
            if s.constraints.is_empty() {
                out.push_str("No point could be ranked: none has a mean for every objective.\n");
                return;
            }
            if let Some(c) = binding.and_then(|b| s.constraints.get(b)) {
                let _ = writeln!(out, "Binding constraint: {}", printable(&c.text));
            }
            for m in misses {
                let Some(c) = s.constraints.get(m.constraint) else {
                    continue;
                };
                let closest = match m.closest {
                    Some((i, v)) => format!(
                        "closest: point #{i} at {}",
                        super::value(&c.key, v, Style::Terminal)
                    ),
                    None if m.violated_by == 0 => "every point meets it".to_owned(),
                    None => "no point has a value".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "  {}: violated by {} of {}; {closest}",
                    printable(&c.text),
                    m.violated_by,
                    super::points(s.points.len())
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sweep::fixture;

    #[test]
    fn the_frontier_the_recommendation_and_the_command() {
        let s = fixture::grid_3d();
        let text = render(&s);
        let rec = s.recommended().unwrap();
        let members = s.points.iter().filter(|p| p.frontier).count();
        assert!(text.starts_with(&format!(
            "Pareto frontier: {members} of 18 points (mean ± half-width of the 95% interval \
             over 5 seeds)\npoint"
        )));
        assert!(text.contains("success_rate ↑"));
        assert!(text.contains(&format!("#{} *", rec.index)));
        assert!(text.contains(&format!(
            "Recommended: point #{} ({})",
            rec.index, rec.label
        )));
        for m in s.charted_metrics() {
            assert!(text.contains(&format!(
                "  {}: {}",
                m.metric,
                super::super::mean_pm(&m.key, rec, Style::Terminal)
            )));
        }
        assert!(text.contains("Indistinguishable (intervals overlap"));
        assert!(text.ends_with(&format!("Run it:\n  {}\n", run_command(&s).unwrap())));
        assert_eq!(text, render(&s));
    }

    #[test]
    fn no_feasible_point_names_the_binding_constraint() {
        let s = fixture::no_feasible();
        let text = render(&s);
        assert!(text.contains("No point meets every constraint"));
        assert!(text.contains("Binding constraint: success_rate >= 99.99%"));
        assert!(text.contains("  cost_per_success <= 0.07: violated by"));
        assert!(text.contains("closest: point #"));
        assert!(text.contains("fewer than two seeds"));
        assert!(!text.contains("Run it"));
    }

    #[test]
    fn names_from_input_cannot_drive_the_terminal() {
        let mut s = fixture::grid_2d();
        s.scenario.file = "evil\u{1b}]0;pwned\u{7}.toml".into();
        s.objectives[0].metric = "faults.\u{1b}[2J.detection_delay".into();
        let text = render(&s);
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
        assert!(text.contains("\\u{1b}]0;pwned"));
    }

    #[test]
    fn long_frontiers_are_cut_and_counted() {
        let plan =
            crate::experiment::sweep::grid(vec![fixture::vary("trip.failure_rate=0.01..0.99:60")])
                .unwrap();
        let s = fixture::build(&plan, 3, &[]);
        let members = s.points.iter().filter(|p| p.frontier).count();
        assert!(members > MAX_ROWS);
        let text = render(&s);
        assert!(text.contains(&format!(
            "… and {} more on the frontier",
            members - MAX_ROWS
        )));
    }
}
