//! Metric paths as users write them (`success_rate`, `time_to_verify.p99`,
//! `faults.<name>.detection_delay`), their units, and the values, thresholds and tolerances
//! written against them.
//!
//! DESIGN section 5 names every metric once; a gate, an expectation, a tolerance and a baseline
//! file all use that name. [`seed_metrics`](super::compare::seed_metrics) keys its per-seed
//! values by a shorter internal name (`ttv_p99`, `<fault>.detection_delay`, the columns of
//! `comparison.csv`); [`MetricPath::parse`] accepts both spellings and keeps the mapping in one
//! place, so the two cannot drift.
//!
//! Units matter because thresholds are read by people: `< 20s` on a latency, `>= 99.5%` on a
//! rate. A value whose unit does not fit its metric (`time_to_verify.p99 < 0.5`, a duration
//! without a unit) is an error that says what to write instead, never a guess.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::compare::{Better, HEADLINE, better};

/// What a metric measures, which decides how its values are written and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share in [0, 1]: written `0.995` or `99.5%`.
    Rate,
    /// Seconds: written with a unit, `20s`, `150ms`.
    Duration,
    /// A count of events.
    Count,
    /// Money, in the routing table's currency.
    Cost,
    /// A plain number (attempts per verification).
    Number,
}

impl Unit {
    /// An example of a value in this unit, for error messages.
    fn example(self) -> &'static str {
        match self {
            Unit::Rate => "0.995 or 99.5%",
            Unit::Duration => "20s or 150ms",
            Unit::Count => "0 or 12",
            Unit::Cost => "0.05",
            Unit::Number => "1.2",
        }
    }

    /// `v` written the way a user would write it for this unit (`99.52%`, `1.25s`, `3`).
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Rate => format!("{}%", sig(v * 100.0, 5)),
            Unit::Duration if v.abs() < 1.0 && v != 0.0 => format!("{}ms", sig(v * 1e3, 4)),
            Unit::Duration => format!("{}s", sig(v, 4)),
            Unit::Count | Unit::Cost | Unit::Number => sig(v, 5),
        }
    }

    /// A difference `d` in this unit: percentage points for rates, signed.
    pub fn format_difference(self, d: f64) -> String {
        let sign = if d > 0.0 { "+" } else { "" };
        match self {
            Unit::Rate => format!("{sign}{} pp", sig(d * 100.0, 3)),
            _ => format!("{sign}{}", self.format(d)),
        }
    }
}

/// `v` with at most `digits` significant digits, without trailing zeros or exponent.
fn sig(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The time-to-verify quantiles: path suffix and internal name.
const TTV: [(&str, &str); 5] = [
    ("p50", "ttv_p50"),
    ("p90", "ttv_p90"),
    ("p99", "ttv_p99"),
    ("p999", "ttv_p999"),
    ("max", "ttv_max"),
];

/// Per-fault metrics and their units.
const FAULT: [(&str, Unit); 3] = [
    ("detection_delay", Unit::Duration),
    ("recovery_delay", Unit::Duration),
    ("failed_during_fault", Unit::Count),
];

fn headline_unit(key: &str) -> Unit {
    match key {
        "success_rate" | "conversion_rate" | "failover_rate" => Unit::Rate,
        "cost_total" | "cost_per_success" => Unit::Cost,
        "attempts_per_verification" => Unit::Number,
        "duplicate_deliveries" | "ejections" | "flaps" | "late_deliveries" => Unit::Count,
        _ => Unit::Duration,
    }
}

/// The unit of a [`seed_metrics`](super::compare::seed_metrics) key (`ttv_p99`,
/// `<fault>.detection_delay`).
fn unit_of_key(key: &str) -> Unit {
    match key.rsplit_once('.') {
        Some((_, m)) => FAULT
            .iter()
            .find(|(name, _)| *name == m)
            .map_or(Unit::Number, |(_, u)| *u),
        None => headline_unit(key),
    }
}

/// A scenario's fault names by position, for resolving many metric paths against them
/// ([`MetricPath::find`]).
pub struct FaultIndex<'a>(HashMap<&'a str, usize>);

impl<'a> FaultIndex<'a> {
    pub fn new(faults: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = HashMap::new();
        for (i, f) in faults.into_iter().enumerate() {
            index.entry(f).or_insert(i);
        }
        FaultIndex(index)
    }
}

/// A metric of DESIGN section 5, resolved against a scenario's faults.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricPath {
    /// The name users write and reports show: `time_to_verify.p99`, `faults.outage.detection_delay`.
    path: String,
    /// The name [`seed_metrics`](super::compare::seed_metrics) keys the value by.
    key: String,
}

impl MetricPath {
    /// Reads `text` as a metric of a scenario with these faults. Accepts the DESIGN path and the
    /// short name of `comparison.csv` (`ttv_p99`, `<fault>.detection_delay`). The error carries
    /// every known path, for the caller's "did you mean" (name matching is the scenario layer's).
    pub fn parse<'a>(
        text: &str,
        faults: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<MetricPath, UnknownMetric> {
        Self::find(text, &FaultIndex::new(faults.clone())).ok_or_else(|| UnknownMetric {
            text: text.trim().to_owned(),
            known: Self::all(faults).into_iter().map(|m| m.path).collect(),
        })
    }

    /// [`parse`](Self::parse) against indexed faults, without the list of known paths when
    /// `text` is unknown: one lookup, where building every metric name of every fault for
    /// each of 10,000 `[[expect]]` entries among 10,000 faults took 72 s.
    pub fn find(text: &str, faults: &FaultIndex<'_>) -> Option<MetricPath> {
        let t = text.trim();
        if let Some(m) = Self::all([])
            .into_iter()
            .find(|m| m.path == t || m.key == t)
        {
            return Some(m);
        }
        // `faults.<f>.<m>` or `<f>.<m>`: the suffix says which metric, and the rest can name
        // at most two faults; the earlier one is the one `all` lists first.
        FAULT.iter().find_map(|(m, _)| {
            let rest = t.strip_suffix(m)?.strip_suffix('.')?;
            let f = [Some(rest), rest.strip_prefix("faults.")]
                .into_iter()
                .flatten()
                .filter_map(|f| faults.0.get(f).map(|&i| (i, f)))
                .min()?
                .1;
            Some(MetricPath {
                path: format!("faults.{f}.{m}"),
                key: format!("{f}.{m}"),
            })
        })
    }

    /// Every metric a run of a scenario with these faults reports, in report order.
    pub fn all<'a>(faults: impl IntoIterator<Item = &'a str>) -> Vec<MetricPath> {
        let mut out: Vec<MetricPath> = HEADLINE
            .iter()
            .map(|&key| {
                let path = TTV
                    .iter()
                    .find(|(_, k)| *k == key)
                    .map(|(q, _)| format!("time_to_verify.{q}"))
                    .unwrap_or_else(|| key.to_owned());
                MetricPath {
                    path,
                    key: key.to_owned(),
                }
            })
            .collect();
        for f in faults {
            for (m, _) in FAULT {
                out.push(MetricPath {
                    path: format!("faults.{f}.{m}"),
                    key: format!("{f}.{m}"),
                });
            }
        }
        out
    }

    /// The path as users write it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The key of the metric in [`seed_metrics`](super::compare::seed_metrics).
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn unit(&self) -> Unit {
        unit_of_key(&self.key)
    }

    /// Which way the metric improves.
    pub fn better(&self) -> Better {
        better(&self.key)
    }
}

/// A metric path that names no metric of the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMetric {
    pub text: String,
    /// Every path the scenario's runs report.
    pub known: Vec<String>,
}

impl fmt::Display for MetricPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// Reads a value of `unit` as written in a threshold or tolerance, into the metric's base unit
/// (a share for rates, seconds for durations).
pub fn parse_value(text: &str, unit: Unit) -> Result<f64, String> {
    let t = text.trim();
    let number = |s: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{t:?} is not a number; write e.g. {}", unit.example()))
    };
    let starts_with_digit = t
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if !starts_with_digit {
        return Err(format!(
            "{t:?} is not a value; write e.g. {}",
            unit.example()
        ));
    }
    match unit {
        Unit::Rate => {
            let v = match t.strip_suffix('%') {
                Some(p) => number(p)? / 100.0,
                None => number(t)?,
            };
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "{t:?} is not a rate: write a share in [0, 1] or a percentage, e.g. {}",
                    unit.example()
                ));
            }
            Ok(v)
        }
        Unit::Duration => {
            if t.parse::<f64>().is_ok() {
                return Err(format!(
                    "{t:?} has no unit: this metric is a duration, write e.g. {}",
                    unit.example()
                ));
            }
            failover_router::duration::parse(t).map(|d| d.as_secs_f64())
        }
        Unit::Count | Unit::Cost | Unit::Number => {
            if t.ends_with('%') {
                return Err(format!(
                    "{t:?}: a percentage fits rates only; this metric is a {}, write e.g. {}",
                    unit.noun(),
                    unit.example()
                ));
            }
            let v = number(t)?;
            if v < 0.0 {
                return Err(format!("{t:?} must not be negative"));
            }
            Ok(v)
        }
    }
}

impl Unit {
    fn noun(self) -> &'static str {
        match self {
            Unit::Rate => "rate",
            Unit::Duration => "duration",
            Unit::Count => "count",
            Unit::Cost => "cost",
            Unit::Number => "number",
        }
    }
}

/// A comparison operator of a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }

    /// Whether `value op limit` holds.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Eq => value == limit,
        }
    }
}

/// An operator and a value in the metric's base unit, as in `threshold = ">= 0.995"`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub op: Op,
    pub value: f64,
}

impl Threshold {
    /// Reads `"<op> <value>"` for a metric of `unit`.
    pub fn parse(text: &str, unit: Unit) -> Result<Threshold, String> {
        let t = text.trim();
        // Longest operators first, so `<=` is not read as `<` followed by `=...`.
        let op = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find(|(s, _)| t.starts_with(s));
        let Some((s, op)) = op else {
            return Err(format!(
                "{t:?} has no operator: write an operator (<, <=, >, >=, ==) and a value, e.g. \
                 \">= {}\"",
                unit.example().split(" or ").next().unwrap_or("1")
            ));
        };
        let value = parse_value(&t[s.len()..], unit)?;
        Ok(Threshold { op, value })
    }

    /// As users write it, in the metric's unit: `>= 99.5%`.
    pub fn display(&self, unit: Unit) -> String {
        format!("{} {}", self.op.as_str(), unit.format(self.value))
    }
}

/// How far a metric may move the worse way before a gate calls it a regression.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// In the metric's base unit (a share for rates: 0.001 is 0.1 percentage point).
    Absolute(f64),
    /// A fraction of the baseline's mean (`5%` is 0.05).
    Relative(f64),
}

impl Tolerance {
    /// The documented default (README, "Gating CI"): 0.1 percentage point on rates, one event
    /// on counts, 5 % of the baseline's mean on everything else. Zero would call every
    /// detectable change of a latency quantile a regression, however small: a gate must fail on
    /// what matters. Counts get an absolute step because their baseline is often near zero
    /// (flaps, verifications failed during a fault), where 5 % of it is no tolerance at all.
    pub fn default_for(unit: Unit) -> Tolerance {
        match unit {
            Unit::Rate => Tolerance::Absolute(0.001),
            Unit::Count => Tolerance::Absolute(1.0),
            _ => Tolerance::Relative(0.05),
        }
    }

    /// Reads a tolerance: `5%` (relative to the baseline's mean), `0.1pp` (rates), or an
    /// absolute value in the metric's unit (`0.001`, `500ms`).
    pub fn parse(text: &str, unit: Unit) -> Result<Tolerance, String> {
        let t = text.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("{t:?}: the percentage must be a number >= 0, e.g. 5%"))?;
            return Ok(Tolerance::Relative(v / 100.0));
        }
        if let Some(pp) = t.strip_suffix("pp") {
            if unit != Unit::Rate {
                return Err(format!(
                    "{t:?}: percentage points fit rates only; write e.g. 5% or {}",
                    unit.example()
                ));
            }
            let v: f64 = pp
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && (0.0..=100.0).contains(v))
                .ok_or_else(|| format!("{t:?}: write percentage points in [0, 100], e.g. 0.1pp"))?;
            return Ok(Tolerance::Absolute(v / 100.0));
        }
        parse_value(t, unit).map(Tolerance::Absolute)
    }

    /// The tolerance in the metric's base unit, for a baseline whose mean is `baseline_mean`.
    pub fn absolute(&self, baseline_mean: f64) -> f64 {
        match *self {
            Tolerance::Absolute(v) => v.abs(),
            Tolerance::Relative(r) => (r * baseline_mean).abs(),
        }
    }

    /// As users write it: `5%`, `0.1 pp`, `500ms`.
    pub fn display(&self, unit: Unit) -> String {
        match *self {
            Tolerance::Relative(r) => format!("{}%", sig(r * 100.0, 4)),
            Tolerance::Absolute(v) if unit == Unit::Rate => format!("{} pp", sig(v * 100.0, 4)),
            Tolerance::Absolute(v) => unit.format(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAULTS: [&str; 1] = ["outage"];

    fn path(t: &str) -> MetricPath {
        MetricPath::parse(t, FAULTS).unwrap()
    }

    #[test]
    fn paths_and_short_names_name_the_same_metric() {
        assert_eq!(path("time_to_verify.p99"), path("ttv_p99"));
        assert_eq!(path("time_to_verify.p99").key(), "ttv_p99");
        assert_eq!(
            path("outage.detection_delay").path(),
            "faults.outage.detection_delay"
        );
        assert_eq!(path("success_rate").unit(), Unit::Rate);
        assert_eq!(path("time_to_verify.max").unit(), Unit::Duration);
        assert_eq!(
            path("faults.outage.failed_during_fault").unit(),
            Unit::Count
        );
        assert_eq!(path("faults.outage.recovery_delay").unit(), Unit::Duration);
        assert_eq!(path("cost_per_success").unit(), Unit::Cost);
        assert_eq!(path("panic_time").unit(), Unit::Duration);
        assert_eq!(path("flaps").unit(), Unit::Count);
        assert_eq!(path("success_rate").better(), Better::Higher);
        assert_eq!(
            path("faults.outage.detection_delay").better(),
            Better::Lower
        );
        // Every metric seed_metrics can report has a path, and every path a distinct key.
        let all = MetricPath::all(FAULTS);
        let keys = super::super::compare::metric_names(FAULTS);
        assert_eq!(
            all.iter().map(|m| m.key().to_owned()).collect::<Vec<_>>(),
            keys
        );
    }

    /// Parsing finds the first metric of `all` with that path or key, whatever the fault
    /// names look like, without building `all`.
    #[test]
    fn parsing_finds_what_searching_every_metric_finds() {
        let faults = [
            "outage",
            "faults.outage",
            "a.b",
            "detection_delay",
            "x.recovery_delay",
        ];
        let all = MetricPath::all(faults);
        for m in &all {
            for t in [m.path(), m.key()] {
                let first = all.iter().find(|x| x.path == t || x.key == t).unwrap();
                assert_eq!(&MetricPath::parse(t, faults).unwrap(), first, "{t}");
            }
        }
    }

    #[test]
    fn an_unknown_path_lists_the_known_ones() {
        let e = MetricPath::parse("time_to_verify.p98", FAULTS).unwrap_err();
        assert_eq!(e.text, "time_to_verify.p98");
        assert!(e.known.iter().any(|k| k == "time_to_verify.p99"), "{e:?}");
        assert!(e.known.iter().any(|k| k == "faults.outage.detection_delay"));
        assert!(MetricPath::parse("faults.other.detection_delay", FAULTS).is_err());
    }

    #[test]
    fn thresholds_read_every_operator_and_unit() {
        let check = |text: &str, unit: Unit, op: Op, value: f64| {
            let t = Threshold::parse(text, unit).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.op, op, "{text}");
            assert!((t.value - value).abs() < 1e-12, "{text}: {}", t.value);
        };
        check(">= 0.995", Unit::Rate, Op::Ge, 0.995);
        check(">=99.5%", Unit::Rate, Op::Ge, 0.995);
        check("> 0.9", Unit::Rate, Op::Gt, 0.9);
        check("< 20s", Unit::Duration, Op::Lt, 20.0);
        check("<= 150ms", Unit::Duration, Op::Le, 0.15);
        check("== 0", Unit::Count, Op::Eq, 0.0);
        check("<= 0.07", Unit::Cost, Op::Le, 0.07);
        check(" <  1.5 ", Unit::Number, Op::Lt, 1.5);
        check("< 2m", Unit::Duration, Op::Lt, 120.0);

        let fails = |text: &str, unit: Unit, needle: &str| {
            let e = Threshold::parse(text, unit).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        };
        fails("0.995", Unit::Rate, "no operator");
        fails("=> 0.995", Unit::Rate, "no operator");
        fails(">= 1.5", Unit::Rate, "not a rate");
        fails(">= 150%", Unit::Rate, "not a rate");
        fails("< 20", Unit::Duration, "has no unit");
        fails("< 20 parsecs", Unit::Duration, "unknown unit");
        fails("<= 5%", Unit::Count, "fits rates only");
        fails(">= abc", Unit::Number, "not a value");
        fails("<= -1", Unit::Count, "must not be negative");
        fails(">= ", Unit::Rate, "not a value");
    }

    #[test]
    fn operators_hold_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && !Op::Le.holds(2.1, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
        assert!(Op::Ge.holds(2.0, 2.0) && !Op::Ge.holds(1.9, 2.0));
        assert!(Op::Eq.holds(0.0, 0.0) && !Op::Eq.holds(0.1, 0.0));
    }

    #[test]
    fn tolerances_are_relative_absolute_or_points() {
        assert_eq!(
            Tolerance::parse("5%", Unit::Duration),
            Ok(Tolerance::Relative(0.05))
        );
        assert_eq!(
            Tolerance::parse("0.1pp", Unit::Rate),
            Ok(Tolerance::Absolute(0.001))
        );
        assert_eq!(
            Tolerance::parse("0.002", Unit::Rate),
            Ok(Tolerance::Absolute(0.002))
        );
        assert_eq!(
            Tolerance::parse("500ms", Unit::Duration),
            Ok(Tolerance::Absolute(0.5))
        );
        assert!(Tolerance::parse("0.1pp", Unit::Duration).is_err());
        assert!(Tolerance::parse("-5%", Unit::Cost).is_err());
        assert_eq!(Tolerance::Relative(0.05).absolute(-2.0), 0.1);
        assert_eq!(
            Tolerance::default_for(Unit::Rate),
            Tolerance::Absolute(0.001)
        );
        assert_eq!(
            Tolerance::default_for(Unit::Count),
            Tolerance::Absolute(1.0)
        );
        assert_eq!(
            Tolerance::default_for(Unit::Duration),
            Tolerance::Relative(0.05)
        );
        assert_eq!(Tolerance::Absolute(0.001).display(Unit::Rate), "0.1 pp");
        assert_eq!(Tolerance::Relative(0.05).display(Unit::Duration), "5%");
    }

    #[test]
    fn values_print_in_their_unit() {
        assert_eq!(Unit::Rate.format(0.99512), "99.512%");
        assert_eq!(Unit::Duration.format(12.345_67), "12.35s");
        assert_eq!(Unit::Duration.format(0.15), "150ms");
        assert_eq!(Unit::Count.format(3.0), "3");
        assert_eq!(Unit::Rate.format_difference(-0.0263), "-2.63 pp");
        assert_eq!(Unit::Duration.format_difference(1.5), "+1.5s");
    }
}
