//! Human durations in configuration: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1.5s"`.
//!
//! Configuration files are written by people, so durations are strings with a unit rather than
//! bare numbers whose unit a reader must guess. The lab's scenario files reuse this parser so that
//! one spelling is valid everywhere.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `<number><unit>` with unit one of `us`, `ms`, `s`, `m`, `h`, `d`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| {
            format!("duration {text:?} has no unit: write e.g. \"30s\", \"250ms\", \"5m\"")
        })?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("duration {text:?} does not start with a number"))?;
    let scale = match unit.trim() {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(format!(
                "duration {text:?} has unknown unit {other:?}: use us, ms, s, m, h or d"
            ));
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration {text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration the way [`parse`] reads it, choosing the largest exact unit.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (unit, n) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ] {
        if nanos >= n && nanos.is_multiple_of(n) {
            return format!("{}{unit}", nanos / n);
        }
    }
    if nanos >= 1_000_000_000 {
        return format!("{}s", d.as_secs_f64());
    }
    if nanos >= 1_000_000 {
        return format!("{}ms", nanos as f64 / 1e6);
    }
    format!("{}us", nanos as f64 / 1e3)
}

/// `#[serde(with = "failover_router::duration::serde_str")]`
pub mod serde_str {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "failover_router::duration::serde_opt")]` for `Option<Duration>`.
pub mod serde_opt {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&format(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `#[serde(with = "failover_router::duration::serde_off")]` for an `Option<Duration>` whose
/// default is `Some`: a duration sets it, `"off"` turns it off (TOML has no null).
pub mod serde_off {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format(*d)),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim() == "off" {
            return Ok(None);
        }
        parse(&s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{e} (or \"off\")")))
    }
}

/// JSON Schema stand-in for a duration field that may also be `"off"` ([`serde_off`]).
#[cfg(feature = "schema")]
pub struct DurationOrOff;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for DurationOrOff {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DurationOrOff".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::DurationOrOff").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let pattern = format!(r"^\s*off\s*$|{}", HumanDuration::PATTERN);
        schemars::json_schema!({
            "type": "string",
            "pattern": pattern,
            "description": "A duration (a number and a unit: us, ms, s, m, h, d), or \"off\".",
            "examples": ["18s", "off"],
        })
    }
}

/// JSON Schema stand-in for a [`Duration`] written the way [`parse`] reads it, for fields
/// (de)serialised with [`serde_str`] or [`serde_opt`]:
/// `#[cfg_attr(feature = "schema", schemars(with = "HumanDuration"))]` (or
/// `Option<HumanDuration>`). Its schema is a string with [`HumanDuration::PATTERN`].
#[cfg(feature = "schema")]
pub struct HumanDuration;

#[cfg(feature = "schema")]
impl HumanDuration {
    /// What [`parse`] accepts (ECMA-262 regex, as JSON Schema uses): a decimal number without
    /// exponent and a unit, optionally separated and surrounded by white space. The range
    /// (at most 1e9 s) is checked by the parser only.
    pub const PATTERN: &'static str = r"^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*(us|ms|s|m|min|h|d)\s*$";
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for HumanDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::HumanDuration").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": Self::PATTERN,
            "description": "A duration: a number and a unit, one of us, ms, s, m (or min), h, d.",
            "examples": ["250ms", "30s", "1.5s", "5m", "1h"],
            "patternErrorMessage": "a duration is a number and a unit (us, ms, s, m, h, d), e.g. \"30s\", \"250ms\" or \"5m\"",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        let check = |text: &str, secs: f64, back: &str| {
            let d = parse(text).unwrap();
            assert!((d.as_secs_f64() - secs).abs() < 1e-9, "{text}");
            assert_eq!(format(d), back);
        };
        check("250ms", 0.25, "250ms");
        check("30s", 30.0, "30s");
        check("1.5s", 1.5, "1500ms");
        check("5m", 300.0, "5m");
        check("2h", 7200.0, "2h");
        check("90s", 90.0, "90s");
        assert!(parse("30").unwrap_err().contains("no unit"));
        assert!(parse("3x").unwrap_err().contains("unknown unit"));
        assert!(parse("s").is_err());
    }
}
