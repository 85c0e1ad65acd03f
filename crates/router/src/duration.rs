//! Human durations in configuration: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1.5s"`, and
//! compounds such as `"6m30s"` or `"1h30m"`.
//!
//! Configuration files are written by people, so durations are strings with a unit rather than
//! bare numbers whose unit a reader must guess. The lab's scenario files reuse this parser so that
//! one spelling is valid everywhere.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// The units [`parse`] reads, largest first: spelling, rank (`m` and `min` are one unit),
/// length in seconds.
const UNITS: [(&str, u8, f64); 7] = [
    ("d", 0, 86400.0),
    ("h", 1, 3600.0),
    ("m", 2, 60.0),
    ("min", 2, 60.0),
    ("s", 3, 1.0),
    ("ms", 4, 1e-3),
    ("us", 5, 1e-6),
];

/// Parses `<number><unit>` with unit one of `us`, `ms`, `s`, `m` (or `min`), `h`, `d`, or a
/// compound of them with units from largest to smallest, each once: `"6m30s"`, `"1h30m"`,
/// `"1m0.5s"`. White space may surround a number or a unit (`"1h 30m"`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let mut rest = text.trim_start();
    let mut secs = 0.0;
    // The previous part's unit: its rank and spelling.
    let mut previous: Option<(u8, &str)> = None;
    loop {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(digits);
        if num.is_empty() && previous.is_some() {
            return Err(format!(
                "duration {text:?} is not a number and a unit: write e.g. \"30s\", \"250ms\" or \
                 \"6m30s\""
            ));
        }
        let value: f64 = num
            .parse()
            .map_err(|_| format!("duration {text:?} does not start with a number"))?;
        let after = after.trim_start();
        let letters = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(letters);
        if unit.is_empty() {
            return Err(if after.is_empty() {
                format!("duration {text:?} has no unit: write e.g. \"30s\", \"250ms\", \"5m\"")
            } else {
                format!(
                    "duration {text:?} is not a number and a unit: write e.g. \"30s\", \
                     \"250ms\" or \"6m30s\""
                )
            });
        }
        let Some(&(_, rank, scale)) = UNITS.iter().find(|(u, _, _)| *u == unit) else {
            return Err(format!(
                "duration {text:?} has unknown unit {unit:?}: use us, ms, s, m, h or d"
            ));
        };
        if let Some((before, before_unit)) = previous {
            if rank == before {
                return Err(format!(
                    "duration {text:?} gives {unit} after {before_unit}: give each unit once"
                ));
            }
            if rank < before {
                return Err(format!(
                    "duration {text:?} gives {unit} after {before_unit}: write units from \
                     largest to smallest, e.g. \"1h30m\" or \"6m30s\""
                ));
            }
        }
        previous = Some((rank, unit));
        secs += value * scale;
        rest = after.trim_start();
        if rest.is_empty() {
            break;
        }
    }
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
            "description": "A duration (a number and a unit: us, ms, s, m, h, d; or several, \"6m30s\"), or \"off\".",
            "examples": ["18s", "off"],
        })
    }
}

/// [`HumanDuration::PATTERN`], spelt out: an alternative per largest unit, each followed by
/// the smaller units, all optional (a regex without lookahead cannot say "at least one of").
#[cfg(feature = "schema")]
macro_rules! duration_pattern {
    () => {
        duration_pattern!(@parts
            "(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*d\\s*",
            "(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*h\\s*",
            "(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*(?:m|min)\\s*",
            "(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*s\\s*",
            "(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*ms\\s*",
            "(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*us\\s*"
        )
    };
    (@parts $d:literal, $h:literal, $m:literal, $s:literal, $ms:literal, $us:literal) => {
        concat!(
            "^\\s*(?:",
            $d, "(?:", $h, ")?(?:", $m, ")?(?:", $s, ")?(?:", $ms, ")?(?:", $us, ")?",
            "|", $h, "(?:", $m, ")?(?:", $s, ")?(?:", $ms, ")?(?:", $us, ")?",
            "|", $m, "(?:", $s, ")?(?:", $ms, ")?(?:", $us, ")?",
            "|", $s, "(?:", $ms, ")?(?:", $us, ")?",
            "|", $ms, "(?:", $us, ")?",
            "|", $us,
            ")$"
        )
    };
}

/// JSON Schema stand-in for a [`Duration`] written the way [`parse`] reads it, for fields
/// (de)serialised with [`serde_str`] or [`serde_opt`]:
/// `#[cfg_attr(feature = "schema", schemars(with = "HumanDuration"))]` (or
/// `Option<HumanDuration>`). Its schema is a string with [`HumanDuration::PATTERN`].
#[cfg(feature = "schema")]
pub struct HumanDuration;

#[cfg(feature = "schema")]
impl HumanDuration {
    /// What [`parse`] accepts (ECMA-262 regex, as JSON Schema uses): one or more parts, each
    /// a decimal number without exponent and a unit, units from largest to smallest and each
    /// once, optionally separated and surrounded by white space. The range (at most 1e9 s) is
    /// checked by the parser only.
    pub const PATTERN: &'static str = duration_pattern!();
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
            "description": "A duration: a number and a unit, one of us, ms, s, m (or min), h, d; or several, from the largest unit to the smallest, each once (\"6m30s\").",
            "examples": ["250ms", "30s", "1.5s", "5m", "6m30s", "1h"],
            "patternErrorMessage": "a duration is a number and a unit (us, ms, s, m, h, d), or several from the largest unit to the smallest, e.g. \"30s\", \"250ms\", \"5m\" or \"6m30s\"",
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

    #[test]
    fn compound_durations_add_their_parts() {
        let secs = |text: &str| {
            parse(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"))
                .as_secs_f64()
        };
        assert_eq!(secs("6m30s"), 390.0);
        assert_eq!(secs("1h30m"), 5400.0);
        assert_eq!(secs("1m0.5s"), 60.5);
        assert_eq!(secs("1d2h3m4s5ms6us"), 93_784.005006);
        assert_eq!(secs("5min30s"), 330.0);
        assert_eq!(secs("1h 30m"), 5400.0);
        assert_eq!(secs(" 2 m 5 s "), 125.0);
        assert_eq!(secs("1m5ms"), 60.005);
        assert_eq!(secs("1s500ms"), 1.5);
        // `format` is unchanged; what it writes still reads back.
        assert_eq!(format(parse("6m30s").unwrap()), "390s");
        assert_eq!(
            parse(&format(parse("1h30m").unwrap())).unwrap().as_secs(),
            5400
        );
    }

    #[test]
    fn compound_durations_list_each_unit_once_largest_first() {
        let err = |text: &str| parse(text).expect_err(text);
        for text in ["30s1m", "1ms5s", "1us1ms", "1h1d"] {
            assert!(
                err(text).contains("largest to smallest"),
                "{text}: {}",
                err(text)
            );
        }
        for text in ["1m1m", "1m2min", "1s1s"] {
            assert!(err(text).contains("once"), "{text}: {}", err(text));
        }
        assert!(err("1m30").contains("no unit"));
        assert!(err("1m30x").contains("unknown unit"));
        assert!(err("1m,30s").contains("e.g."));
        assert!(err("1m s").contains("e.g."));
        assert!(err("").contains("does not start with a number"));
        assert!(err("1d999999999d").contains("once"));
        assert!(err("99999999d1s").contains("out of range"));
    }
}
