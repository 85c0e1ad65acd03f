//! One sweep dimension, `PATH=VALUES`: a policy field by its dotted name and the values it takes.
//!
//! # The policy model
//!
//! A path is checked against the policy as it serialises, not against a hand-kept list of
//! field names, so a field added to `failover_router::policy::Policy` is sweepable at once and a
//! renamed one cannot linger here. The model is `Policy::default()` serialised to TOML, with the
//! fields that serialise to nothing when unset filled in first (see [`model`]):
//!
//! - `adaptive_timeout` (a table, absent by default) and `trip.min_relative_conversion` (a
//!   number, absent by default). Varying one of them sets it at every point: varying
//!   `adaptive_timeout.factor` turns the adaptive timeout on, with the documented defaults for
//!   its other fields, and the base policy's own table, if it has one, is kept otherwise.
//! - `trip.latency` and `probe.recover_latency` serialise as `"off"` when unset: they are
//!   durations that also take `off` (`trip.latency=off,20s,25s`).
//! - `max_attempt_cost` and `max_verification_cost` (numbers, absent by default): varying one
//!   sets the cap at every point.
//! - `limits` is a map keyed by provider (or `provider/CC/number_type` route) name:
//!   `limits.atlas.max_in_flight=2,8,32` varies atlas's entry, created at every point if the
//!   base policy has none (with only that field, plus whatever the base has). The model holds
//!   one entry under [`MAP_ENTRY`] that every name resolves to; whether the name is a provider
//!   of the scenario is checked where the scenario is known (`scenario::limit_name_problem`).
//!
//! The kind of a field (number, whole number, duration, duration-or-off, name, boolean) is read
//! from the model's value, and every value of a dimension is tried on the model before the sweep
//! is planned, so an unknown enum name (`strategy=fastest`) or a negative count fails here, at
//! its flag, with serde's list of the accepted names. Range checks of the policy itself
//! (`trip.failure_rate` in (0, 1]) and combinations of fields are the plan's job
//! ([`super::plan`]), where every invalid point is reported at once.
//!
//! `overrides` and `compliance` (lists) are not sweepable: a path names a field of a table.

use std::fmt;
use std::time::Duration;

use failover_router::duration;
use failover_router::policy::{AdaptiveTimeout, LimitConfig, Policy};
use serde::Serialize;

use crate::scenario::did_you_mean;

/// The key of the model's one entry of a map table (`limits`): any name resolves to it.
pub(crate) const MAP_ENTRY: &str = "*";

/// Tables of the policy keyed by a name (a provider's) rather than by field names.
const MAP_TABLES: &[&str] = &["limits"];

/// Most values one dimension may have: a dimension is a line on a chart or an axis of a
/// heatmap, and a thousand points on one already outnumber its pixels.
pub const MAX_VALUES: usize = 1000;

/// What a policy field holds, which decides how its values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A number: `0.25`.
    Number,
    /// A whole number: `5`.
    Integer,
    /// A duration with a unit: `30s`.
    Duration,
    /// A duration or `off`.
    DurationOrOff,
    /// An enum variant: `score`.
    Name,
    /// `true` or `false`.
    Bool,
}

impl FieldKind {
    fn example(self) -> &'static str {
        match self {
            FieldKind::Number => "0.1,0.2,0.4 or 0.1..0.6:6 or log:0.01..1:5",
            FieldKind::Integer => "3,5,8 or 2..10:5",
            FieldKind::Duration => "10s,30s,1m or 10s..60s:6",
            FieldKind::DurationOrOff => "off,15s,20s or 10s..20s:3",
            FieldKind::Name => "a list of names, e.g. priority,score",
            FieldKind::Bool => "true,false",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            FieldKind::Number => "a number",
            FieldKind::Integer => "a whole number",
            FieldKind::Duration => "a duration",
            FieldKind::DurationOrOff => "a duration or off",
            FieldKind::Name => "a name",
            FieldKind::Bool => "true or false",
        }
    }
}

/// One value of a policy field.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Integer(i64),
    Duration(Duration),
    /// `off`, for a duration that can be turned off.
    Off,
    Name(String),
    Bool(bool),
}

impl Value {
    /// The value as the policy's TOML form writes it.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            Value::Number(v) => toml::Value::Float(*v),
            Value::Integer(v) => toml::Value::Integer(*v),
            Value::Duration(d) => toml::Value::String(duration::format(*d)),
            Value::Off => toml::Value::String("off".to_owned()),
            Value::Name(n) => toml::Value::String(n.clone()),
            Value::Bool(b) => toml::Value::Boolean(*b),
        }
    }

    /// The value on a numeric axis (durations in seconds); `None` for names, booleans and `off`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            Value::Integer(v) => Some(*v as f64),
            Value::Duration(d) => Some(d.as_secs_f64()),
            Value::Off | Value::Name(_) | Value::Bool(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v}"),
            Value::Integer(v) => write!(f, "{v}"),
            Value::Duration(d) => f.write_str(&duration::format(*d)),
            Value::Off => f.write_str("off"),
            Value::Name(n) => f.write_str(n),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The values of a dimension as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// `10s,30s,1m`, in the order written.
    List(Vec<Value>),
    /// `0.1..0.6:6` (linear) or `log:0.01..1:5` (log spacing): `count` values from `lo` to `hi`,
    /// both ends included, in the field's base unit (seconds for durations). `lo > hi` runs
    /// downwards, in the order written.
    Range {
        lo: f64,
        hi: f64,
        count: usize,
        log: bool,
    },
}

/// One `--vary PATH=VALUES`, checked against the policy model.
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    /// The dotted field path, `trip.failure_rate`.
    pub path: String,
    pub kind: FieldKind,
    pub values: Values,
}

/// A `--vary` that cannot be used, with what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--vary {spec}: {message}")]
pub struct VaryError {
    /// The flag's value as written.
    pub spec: String,
    pub message: String,
}

impl Vary {
    /// Reads `PATH=VALUES`. Every value is tried on the policy model (see the module's
    /// documentation), so a value the field cannot hold fails here, naming the flag.
    pub fn parse(spec: &str) -> Result<Vary, VaryError> {
        let fail = |message: String| VaryError {
            spec: spec.trim().to_owned(),
            message,
        };
        let Some((path, values)) = spec.split_once('=') else {
            return Err(fail(
                "write PATH=VALUES, e.g. trip.failure_rate=0.1..0.6:6 or strategy=priority,score"
                    .to_owned(),
            ));
        };
        let path = path.trim();
        let model = model();
        let kind = kind_at(&model, path).map_err(fail)?;
        let values = parse_values(values.trim(), kind, path).map_err(fail)?;
        let vary = Vary {
            path: path.to_owned(),
            kind,
            values,
        };
        let levels = vary.levels();
        if let Some(dup) = first_repeat(&levels) {
            return Err(fail(format!(
                "gives {dup} more than once; every value must differ (a point run twice is \
                 wasted and breaks a chart's axis){}",
                if matches!(vary.values, Values::Range { .. }) {
                    ": ask for fewer values"
                } else {
                    ""
                }
            )));
        }
        // Try each value on the model: serde knows the enum names and integer ranges.
        for v in &levels {
            let mut t = model.clone();
            set(&mut t, path, v.to_toml());
            if let Err(e) = t.try_into::<Policy>() {
                return Err(fail(format!("{path} = {v}: {}", e.message().trim())));
            }
        }
        Ok(vary)
    }

    /// Every value of the dimension, in order: the list, or the range's points. Ranges of
    /// durations are rounded to milliseconds and of whole numbers to integers, so each value
    /// prints as a policy file would write it.
    pub fn levels(&self) -> Vec<Value> {
        match &self.values {
            Values::List(v) => v.clone(),
            &Values::Range { lo, hi, count, log } => (0..count)
                .map(|i| {
                    let u = if count == 1 {
                        0.0
                    } else {
                        i as f64 / (count - 1) as f64
                    };
                    // The ends exactly as written, not as the interpolation rounds them.
                    let x = match i {
                        0 => lo,
                        _ if i == count - 1 => hi,
                        _ => interpolate(lo, hi, log, u),
                    };
                    self.value_of(x)
                })
                .collect(),
        }
    }

    /// The value at position `u` in [0, 1) along the dimension, for a Latin hypercube: anywhere
    /// between the ends of a range of numbers or durations (spaced as the range is), else the
    /// list entry (or whole-number range value) whose share of [0, 1) holds `u`.
    pub fn value_at(&self, u: f64) -> Value {
        match &self.values {
            &Values::Range { lo, hi, log, .. } if self.is_continuous() => {
                self.value_of(interpolate(lo, hi, log, u))
            }
            _ => {
                let levels = self.levels();
                let i = ((u * levels.len() as f64) as usize).min(levels.len() - 1);
                levels[i].clone()
            }
        }
    }

    /// Whether a Latin hypercube may draw any value between the ends (a range of numbers or
    /// durations), rather than pick among the listed values.
    pub fn is_continuous(&self) -> bool {
        matches!(self.values, Values::Range { .. })
            && matches!(
                self.kind,
                FieldKind::Number | FieldKind::Duration | FieldKind::DurationOrOff
            )
    }

    /// Where `v` lies along the dimension, in [0, 1]: for a Latin hypercube's strata (and for a
    /// chart's axis). `None` for values that are not on a numeric range.
    pub fn position(&self, v: &Value) -> Option<f64> {
        let &Values::Range { lo, hi, log, .. } = &self.values else {
            return None;
        };
        let x = v.as_f64()?;
        Some(if log {
            (x.ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (x - lo) / (hi - lo)
        })
    }

    /// The value `policy` has in this field; `None` when it has none (an optional table or
    /// number left unset).
    pub fn value_in(&self, policy: &Policy) -> Option<Value> {
        let table = toml::Table::try_from(policy).ok()?;
        let mut segments: Vec<&str> = self.path.split('.').collect();
        let last = segments.pop()?;
        let mut t = &table;
        for seg in segments {
            t = t.get(seg)?.as_table()?;
        }
        match (t.get(last)?, self.kind) {
            (toml::Value::Float(v), _) => Some(Value::Number(*v)),
            (toml::Value::Integer(v), FieldKind::Number) => Some(Value::Number(*v as f64)),
            (toml::Value::Integer(v), _) => Some(Value::Integer(*v)),
            (toml::Value::Boolean(b), _) => Some(Value::Bool(*b)),
            (toml::Value::String(s), kind) => parse_one(s.trim(), kind, &self.path).ok(),
            _ => None,
        }
    }

    /// A range value `x` (base unit) as a value of this field.
    fn value_of(&self, x: f64) -> Value {
        match self.kind {
            FieldKind::Integer => Value::Integer(x.round() as i64),
            FieldKind::Duration | FieldKind::DurationOrOff => {
                Value::Duration(Duration::from_millis((x * 1e3).round() as u64))
            }
            _ => Value::Number(tidy(x)),
        }
    }
}

fn interpolate(lo: f64, hi: f64, log: bool, u: f64) -> f64 {
    if log {
        (lo.ln() + (hi.ln() - lo.ln()) * u).exp()
    } else {
        lo + (hi - lo) * u
    }
}

/// `x` to 12 significant digits: `0.1 + 0.5 * 3 / 5` is `0.4`, not `0.39999999999999997`, in
/// the policy, the JSON and the chart's labels.
fn tidy(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

fn first_repeat(levels: &[Value]) -> Option<&Value> {
    levels
        .iter()
        .enumerate()
        .find(|(i, v)| levels[..*i].contains(v))
        .map(|(_, v)| v)
}

/// The policy model paths are checked against: `Policy::default()` as TOML, with the fields
/// that serialise to nothing when unset filled in. `model_covers_every_schema_field` (the
/// tests) compares it with the policy's JSON Schema, which lists every field, so a new
/// optional field cannot be left out of this list unnoticed.
pub(crate) fn model() -> toml::Table {
    let mut full = Policy {
        // Every field of AdaptiveTimeout has a serde default: an empty table is the documented
        // one.
        adaptive_timeout: Some(
            toml::from_str::<AdaptiveTimeout>("").expect("adaptive_timeout's fields have defaults"),
        ),
        ..Policy::default()
    };
    full.trip.min_relative_conversion = Some(0.5);
    full.max_attempt_cost = Some(0.1);
    full.max_verification_cost = Some(0.3);
    full.limits.insert(
        MAP_ENTRY.to_owned(),
        LimitConfig {
            max_in_flight: Some(100),
            rate: Some(10.0),
            burst: Some(10),
        },
    );
    toml::Table::try_from(&full).expect("a policy serialises to TOML")
}

/// The kind of the field at `path`, or what is wrong with the path.
fn kind_at(model: &toml::Table, path: &str) -> Result<FieldKind, String> {
    if path.is_empty() {
        return Err(
            "no field before `=`: write a policy field, e.g. trip.failure_rate=0.1..0.6:6"
                .to_owned(),
        );
    }
    let mut table = model;
    let mut walked = String::new();
    let segments: Vec<&str> = path.split('.').collect();
    for (i, seg) in segments.iter().enumerate() {
        let here = if walked.is_empty() {
            seg.to_string()
        } else {
            format!("{walked}.{seg}")
        };
        let in_map = MAP_TABLES.contains(&walked.as_str());
        if in_map && (seg.trim().is_empty() || *seg == MAP_ENTRY) {
            return Err(format!(
                "{walked}.{seg}: name a provider (or a route provider/CC/number_type), e.g. \
                 {walked}.atlas.max_in_flight=2,8"
            ));
        }
        let found = if in_map {
            table.get(MAP_ENTRY)
        } else {
            table.get(*seg)
        };
        let Some(value) = found else {
            let keys: Vec<&str> = table.keys().map(String::as_str).collect();
            let full = |k: &str| {
                if walked.is_empty() {
                    k.to_owned()
                } else {
                    format!("{walked}.{k}")
                }
            };
            return Err(match did_you_mean(seg, keys.iter().copied()) {
                Some(s) => format!("unknown policy field {path:?}; did you mean {:?}?", full(s)),
                None => format!(
                    "unknown policy field {path:?}; {}: {}",
                    if walked.is_empty() {
                        "policy fields".to_owned()
                    } else {
                        format!("fields of {walked}")
                    },
                    keys.join(", ")
                ),
            });
        };
        let last = i == segments.len() - 1;
        match value {
            toml::Value::Table(t) if last && MAP_TABLES.contains(&here.as_str()) => {
                let entry = t.get(MAP_ENTRY).and_then(toml::Value::as_table);
                let keys: Vec<&str> = entry
                    .map(|e| e.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(format!(
                    "{here} is a table of entries by provider name; vary a field of one: \
                     {here}.<provider>.{}",
                    keys.join(" | ")
                ));
            }
            toml::Value::Table(t) if last => {
                let keys: Vec<&str> = t.keys().map(String::as_str).collect();
                return Err(format!(
                    "{here} is a table of settings; vary one of its fields: {}",
                    keys.iter()
                        .map(|k| format!("{here}.{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            toml::Value::Table(t) => table = t,
            _ if !last => {
                return Err(format!(
                    "{here} is a single setting, it has no field {:?}; vary {here} itself",
                    segments[i + 1]
                ));
            }
            toml::Value::Float(_) => return Ok(FieldKind::Number),
            toml::Value::Integer(_) => return Ok(FieldKind::Integer),
            toml::Value::Boolean(_) => return Ok(FieldKind::Bool),
            toml::Value::String(s) if s.trim() == "off" => return Ok(FieldKind::DurationOrOff),
            toml::Value::String(s) if duration::parse(s).is_ok() => {
                return Ok(FieldKind::Duration);
            }
            toml::Value::String(_) => return Ok(FieldKind::Name),
            toml::Value::Array(_) | toml::Value::Datetime(_) => {
                return Err(format!(
                    "{here} is a list; a sweep varies numbers, durations and names"
                ));
            }
        }
        walked = here;
    }
    unreachable!("the loop returns at the last segment")
}

/// Sets `path` to `value` in a serialised policy, creating the tables on the way (an optional
/// table absent from the base, such as `adaptive_timeout`, is created with this one field).
pub(crate) fn set(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop().expect("split gives at least one segment");
    let mut t = table;
    for seg in segments {
        t = t
            .entry(seg)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect(
                "the path was checked against the model: every segment but the last is a table",
            );
    }
    t.insert(last.to_owned(), value);
}

fn parse_values(text: &str, kind: FieldKind, path: &str) -> Result<Values, String> {
    if text.is_empty() {
        return Err(format!(
            "no values after `=`: write {} for {path}",
            kind.example()
        ));
    }
    let (log, rest) = match text.strip_prefix("log:") {
        Some(r) => (true, r),
        None => (false, text),
    };
    if log || rest.contains("..") {
        return parse_range(rest, log, kind, path);
    }
    let values = text
        .split(',')
        .map(|v| parse_one(v.trim(), kind, path))
        .collect::<Result<Vec<_>, _>>()?;
    if values.len() > MAX_VALUES {
        return Err(format!(
            "{} values; a dimension takes at most {MAX_VALUES}",
            values.len()
        ));
    }
    Ok(Values::List(values))
}

fn parse_range(text: &str, log: bool, kind: FieldKind, path: &str) -> Result<Values, String> {
    let example = if log { "log:0.01..1:5" } else { "0.1..0.6:6" };
    if matches!(kind, FieldKind::Name | FieldKind::Bool) {
        return Err(format!(
            "{path} takes {}, not a range: list the values, e.g. {}",
            kind.noun(),
            kind.example()
        ));
    }
    let Some((range, count)) = text.rsplit_once(':') else {
        return Err(format!(
            "the range {text:?} has no count: write START..END:COUNT, e.g. {example}"
        ));
    };
    let Some((lo, hi)) = range.split_once("..") else {
        return Err(format!(
            "{text:?} is not a range: write START..END:COUNT, e.g. {example}"
        ));
    };
    let count: usize = count.trim().parse().map_err(|_| {
        format!("the range's count {count:?} is not a whole number: write e.g. {example}")
    })?;
    if !(2..=MAX_VALUES).contains(&count) {
        return Err(format!(
            "the range's count {count} must be between 2 and {MAX_VALUES} (one value is a list: \
             write it alone)"
        ));
    }
    let end = |t: &str| -> Result<f64, String> {
        match parse_one(t.trim(), kind, path)? {
            Value::Off => Err(format!(
                "off cannot end a range; list it apart, e.g. {path}=off,10s,20s"
            )),
            v => Ok(v
                .as_f64()
                .expect("numbers and durations have a numeric value")),
        }
    };
    let (lo, hi) = (end(lo)?, end(hi)?);
    if lo == hi {
        return Err(format!(
            "the range starts and ends at the same value: give two different ends, e.g. {example}"
        ));
    }
    if log && !(lo > 0.0 && hi > 0.0) {
        return Err(format!(
            "a log range needs ends above zero (log spacing has no zero): e.g. {example}"
        ));
    }
    Ok(Values::Range { lo, hi, count, log })
}

fn parse_one(t: &str, kind: FieldKind, path: &str) -> Result<Value, String> {
    let wrong = || {
        format!(
            "{t:?} is not {}: {path} takes {}, e.g. {}",
            kind.noun(),
            kind.noun(),
            kind.example()
        )
    };
    if t.is_empty() {
        return Err(format!(
            "an empty value (two commas, or one at an end): write e.g. {}",
            kind.example()
        ));
    }
    match kind {
        FieldKind::Number => t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Value::Number)
            .ok_or_else(wrong),
        FieldKind::Integer => t.parse::<i64>().map(Value::Integer).map_err(|_| wrong()),
        FieldKind::Bool => t.parse::<bool>().map(Value::Bool).map_err(|_| wrong()),
        FieldKind::DurationOrOff if t == "off" => Ok(Value::Off),
        FieldKind::Duration | FieldKind::DurationOrOff => {
            if t.parse::<f64>().is_ok() {
                return Err(format!(
                    "{t:?} has no unit: {path} is a duration, write e.g. {}",
                    kind.example()
                ));
            }
            duration::parse(t)
                .map(Value::Duration)
                .map_err(|e| format!("{e}; {path} takes e.g. {}", kind.example()))
        }
        FieldKind::Name => {
            if t.parse::<f64>().is_ok() {
                return Err(wrong());
            }
            Ok(Value::Name(t.to_owned()))
        }
    }
}
