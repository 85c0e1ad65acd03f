//! `sweep.csv`: one row per point, in point order.
//!
//! Columns: `point,label`, one per parameter (its path as the header, the value as a flag
//! writes it: `30s`, `0.3`, `score`), `ranked,frontier,feasible,recommended`, then for every
//! metric any point has, in name order (the order of a point's estimates),
//! `<metric>_mean,<metric>_lo,<metric>_hi`, and last `n`: the most seeds any of the point's
//! metrics rests on (a metric undefined on some seeds, cost per success without a success,
//! rests on fewer; `sweep.json` has each metric's own count). A value that does not exist (no
//! interval with one seed, a metric a point lacks) is an empty cell.
//!
//! Text cells go through [`text`] (formula neutralisation): labels, names and
//! headers built from metric keys, which carry fault names from the scenario. Numbers never do.

use std::collections::BTreeSet;

use crate::experiment::sweep::{SweepSummary, Value};
use crate::report::csv_export::text;

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

/// A parameter's value: numbers as numbers, the rest (durations, `off`, names, booleans) as
/// text.
fn cell(v: &Value) -> String {
    match v {
        Value::Number(_) | Value::Integer(_) => v.to_string(),
        _ => text(&v.to_string()),
    }
}

/// `sweep.csv` (see the module's documentation).
pub fn sweep_csv(s: &SweepSummary) -> Vec<u8> {
    let keys: BTreeSet<&str> = s
        .points
        .iter()
        .flat_map(|p| p.estimates.iter().map(|e| e.metric.as_str()))
        .collect();
    let recommended = s.recommended().map(|p| p.index);
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["point".into(), "label".into()];
    header.extend(s.parameters.iter().map(|p| text(&p.path)));
    header.extend(
        ["ranked", "frontier", "feasible", "recommended"]
            .iter()
            .map(|h| (*h).to_owned()),
    );
    for k in &keys {
        for suffix in ["mean", "lo", "hi"] {
            header.push(text(&format!("{k}_{suffix}")));
        }
    }
    header.push("n".into());
    w.write_record(&header).expect("in memory");
    for p in &s.points {
        let mut row = vec![p.index.to_string(), text(&p.label)];
        row.extend((0..s.parameters.len()).map(|i| p.values.get(i).map_or_else(String::new, cell)));
        row.extend(
            [
                p.ranked,
                p.frontier,
                p.feasible,
                recommended == Some(p.index),
            ]
            .iter()
            .map(bool::to_string),
        );
        for k in &keys {
            let i = p.estimate(k);
            row.extend([
                opt(i.map(|i| i.mean)),
                opt(i.and_then(|i| i.lo)),
                opt(i.and_then(|i| i.hi)),
            ]);
        }
        row.push(
            p.estimates
                .iter()
                .map(|e| e.interval.n)
                .max()
                .map_or_else(String::new, |n| n.to_string()),
        );
        w.write_record(&row).expect("in memory");
    }
    w.into_inner().expect("writing to memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sweep::fixture;

    fn records(bytes: &[u8]) -> Vec<Vec<String>> {
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn one_row_per_point_with_parameters_flags_and_every_metric() {
        let s = fixture::grid_2d();
        let rows = records(&sweep_csv(&s));
        assert_eq!(rows.len(), 1 + s.points.len());
        let header = &rows[0];
        assert_eq!(
            header[..8],
            [
                "point",
                "label",
                "trip.failure_rate",
                "ejection.base",
                "ranked",
                "frontier",
                "feasible",
                "recommended"
            ]
        );
        // Metrics in name order, three columns each, then n.
        let metrics: Vec<&str> = header[8..header.len() - 1]
            .iter()
            .step_by(3)
            .map(|h| h.strip_suffix("_mean").unwrap())
            .collect();
        assert_eq!(
            metrics,
            [
                "cost_per_success",
                "ejections",
                "flaps",
                "success_rate",
                "ttv_p99"
            ]
        );
        assert_eq!(header.last().unwrap(), "n");
        // Values as written; exactly one recommended row.
        assert_eq!(rows[1][..4], ["0", &s.points[0].label, "0.1", "10s"]);
        let rec = s.recommended().unwrap().index;
        for (i, r) in rows[1..].iter().enumerate() {
            assert_eq!(r.len(), header.len());
            assert_eq!(r[7] == "true", i == rec, "row {i}");
            assert_eq!(r.last().unwrap(), "5");
        }
        let success: f64 = rows[1][header
            .iter()
            .position(|h| h == "success_rate_mean")
            .unwrap()]
        .parse()
        .unwrap();
        assert_eq!(success, s.points[0].mean("success_rate").unwrap());
    }

    #[test]
    fn missing_values_are_empty_cells() {
        // One seed: no interval. LHS point 0: no cost per success.
        let s = fixture::no_feasible();
        let rows = records(&sweep_csv(&s));
        let lo = rows[0].iter().position(|h| h == "success_rate_lo").unwrap();
        assert!(rows[1..].iter().all(|r| r[lo].is_empty()));
        let s = fixture::lhs();
        let rows = records(&sweep_csv(&s));
        let mean = rows[0]
            .iter()
            .position(|h| h == "cost_per_success_mean")
            .unwrap();
        assert_eq!(rows[1][mean], "");
        assert_ne!(rows[2][mean], "");
        // A name parameter is text.
        let strategy = rows[0].iter().position(|h| h == "strategy").unwrap();
        assert!(["priority", "score"].contains(&rows[1][strategy].as_str()));
    }

    #[test]
    fn formula_looking_text_is_neutralised() {
        let mut s = fixture::grid_2d();
        s.points[0].label = "=HYPERLINK(\"http://x\",\"y\")".into();
        s.points[1].estimates[0].metric = "@fault.detection_delay".into();
        let rows = records(&sweep_csv(&s));
        assert_eq!(rows[1][1], "'=HYPERLINK(\"http://x\",\"y\")");
        assert!(rows[0].iter().any(|h| h == "'@fault.detection_delay_mean"));
        // Numbers are never prefixed.
        assert!(rows[1..].iter().all(|r| !r[2].starts_with('\'')));
    }
}
