//! Traffic: when verifications arrive and where they go.
//!
//! Arrivals are a non-homogeneous Poisson process — a base `rate` shaped by a daily profile and
//! bursts — because verification traffic is driven by many independent users, and its daily
//! swing is what makes a fixed failure-rate threshold see twenty requests at 4 am and two
//! thousand at 8 pm. Fraud spikes are separate so their effect (traffic that never converts,
//! which lowers conversion without any route fault) can be switched on and off in isolation. A
//! recorded trace can replace the Poisson process when real traffic shape matters.
//!
//! Callers can be impatient: a verification service wraps the router's `verify` in its own
//! timeout (an HTTP handler that answers after 15 s whatever happens) and drops the verification
//! when it fires. `caller_timeout` simulates that, for all the traffic or per mix entry, so
//! what the router makes of verifications dropped under it shows in the report.
//!
//! Rates are written with their unit (`"50/s"`, `"3000/m"`, `"10/h"`) and keep it when written
//! back, so a serialised scenario reads like the one its author wrote.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use failover_router::duration::{HumanDuration, serde_opt, serde_str};
use failover_router::route::{Country, NumberType};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The time unit of a [`Rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    pub fn seconds(self) -> f64 {
        match self {
            RateUnit::Second => 1.0,
            RateUnit::Minute => 60.0,
            RateUnit::Hour => 3600.0,
            RateUnit::Day => 86400.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RateUnit::Second => "s",
            RateUnit::Minute => "m",
            RateUnit::Hour => "h",
            RateUnit::Day => "d",
        }
    }
}

/// Events per unit of time, written `"<amount>/<unit>"` with unit `s`, `m` (or `min`), `h`, `d`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub amount: f64,
    pub unit: RateUnit,
}

impl Rate {
    pub fn per_second(value: f64) -> Self {
        Rate {
            amount: value,
            unit: RateUnit::Second,
        }
    }

    /// The rate in events per second.
    pub fn as_per_second(self) -> f64 {
        self.amount / self.unit.seconds()
    }

    /// Parses `"50/s"`; rejects malformed text and rates that are not > 0.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (amount, unit) = text.split_once('/').ok_or_else(|| {
            format!("rate {text:?} has no unit: write e.g. \"50/s\", \"3000/m\" or \"10/h\"")
        })?;
        let amount: f64 = amount
            .trim()
            .parse()
            .map_err(|_| format!("rate {text:?} does not start with a number"))?;
        let unit = match unit.trim() {
            "s" | "sec" => RateUnit::Second,
            "m" | "min" => RateUnit::Minute,
            "h" => RateUnit::Hour,
            "d" => RateUnit::Day,
            other => {
                return Err(format!(
                    "rate {text:?} has unknown unit {other:?}: use s, m, h or d"
                ));
            }
        };
        if !(amount.is_finite() && amount > 0.0) {
            return Err(format!(
                "rate {text:?} must be greater than 0 (leave the entry out to have no traffic)"
            ));
        }
        Ok(Rate { amount, unit })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.amount, self.unit.as_str())
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rate::parse(s)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rate::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Rate {
    /// What [`Rate::parse`] accepts, as an ECMA-262 regex (the dialect of JSON Schema): an
    /// amount greater than 0 (a decimal number with an optional exponent), `/`, a unit; white
    /// space around the parts. Only amounts that overflow or underflow slip through.
    pub const PATTERN: &'static str = concat!(
        r"^\s*\+?([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)([eE][+-]?[0-9]+)?",
        r"\s*/\s*(s|sec|m|min|h|d)\s*$"
    );
}

impl JsonSchema for Rate {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Rate").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": Self::PATTERN,
            "description": "Events per unit of time: \"<amount>/<unit>\" with amount > 0 and unit s, m (or min), h or d.",
            "examples": ["50/s", "3000/m", "10/h"],
            "patternErrorMessage": "a rate is an amount and a unit, e.g. \"50/s\", \"3000/m\" or \"10/h\"",
        })
    }
}

/// `[traffic]`: arrivals and destinations.
///
/// Either `rate` (Poisson arrivals, shaped by `diurnal` and `bursts`, destinations drawn from
/// `mix`) or `trace` (arrivals replayed from a CSV file); `fraud` spikes apply to both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Base arrival rate of legitimate verifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Daily profile multiplying `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diurnal: Option<Diurnal>,
    /// Windows where `rate` is multiplied by a factor; overlapping bursts multiply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bursts: Vec<Burst>,
    /// Destination mix of legitimate traffic, by relative weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mix: Vec<MixEntry>,
    /// Extra traffic that never converts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fraud: Vec<FraudSpike>,
    /// CSV with header `t_seconds,country,number_type,use_case` (use_case may be empty or
    /// absent), relative to the scenario file. Arrivals at or after `duration` are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<PathBuf>,
    /// How long the caller of `verify` waits (e.g. "15s", longer than 0s): when it runs out,
    /// the caller drops the verification unfinished, as a service's HTTP handler with its own
    /// timeout would; the verification is never delivered to the user and never converts.
    /// Applies to every verification of this table (mix, trace and fraud); a mix entry may set
    /// its own. Default: callers wait for the router's answer.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<HumanDuration>")]
    pub caller_timeout: Option<Duration>,
}

/// Daily profile: points `{ at, factor }` over one day, linearly interpolated between
/// neighbours and wrapping around midnight (from the last point to the first one a day later).
/// A single point is a constant factor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diurnal {
    /// Time of day at the scenario's t = 0. Default "0h".
    #[serde(default, with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub start: Duration,
    /// Strictly increasing `at` within [0h, 24h).
    pub points: Vec<DiurnalPoint>,
}

/// One point of a [`Diurnal`] profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiurnalPoint {
    /// Time of day, in [0h, 24h).
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub at: Duration,
    /// Multiplier of the base rate at that time, >= 0.
    pub factor: f64,
}

/// A temporary change of the legitimate arrival rate (a launch, a campaign, a dip).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// Start of the window, from the scenario's t = 0.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub start: Duration,
    /// Length of the window.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub duration: Duration,
    /// Multiplier of the rate during the window (>= 0; below 1 is a dip).
    pub factor: f64,
}

/// One destination class of the traffic mix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixEntry {
    /// Destination country; needs a `[[countries]]` entry.
    pub country: Country,
    /// Destination number type. Default `mobile`.
    #[serde(default = "mobile")]
    pub number_type: NumberType,
    /// Use case for per-use-case policy overrides and compliance rules (e.g. `"login"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
    /// Relative weight, > 0. Default 1.
    #[serde(default = "one")]
    pub weight: f64,
    /// How long callers of this destination class wait before dropping the verification
    /// (longer than 0s); overrides `[traffic] caller_timeout`. Default: that one.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<HumanDuration>")]
    pub caller_timeout: Option<Duration>,
}

/// A window of extra, never-converting traffic to one destination class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudSpike {
    /// Start of the window, from the scenario's t = 0.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub start: Duration,
    /// Length of the window.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub duration: Duration,
    /// Arrival rate of the fraudulent traffic (`"20/s"`), on top of the legitimate traffic.
    pub extra_rate: Rate,
    /// Destination country; needs a `[[countries]]` entry.
    pub country: Country,
    /// Destination number type. Default `mobile`.
    #[serde(default = "mobile")]
    pub number_type: NumberType,
    /// Use case the fraud hits (e.g. `"signup"`). Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
}

fn mobile() -> NumberType {
    NumberType::Mobile
}

fn one() -> f64 {
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_to_per_second_and_keep_their_unit() {
        let check = |text: &str, per_second: f64, back: &str| {
            let r = Rate::parse(text).unwrap();
            assert!((r.as_per_second() - per_second).abs() < 1e-12, "{text}");
            assert_eq!(r.to_string(), back);
            assert_eq!(Rate::parse(back).unwrap(), r);
        };
        check("50/s", 50.0, "50/s");
        check("3000/m", 50.0, "3000/m");
        check("3000 / min", 50.0, "3000/m");
        check("10/h", 10.0 / 3600.0, "10/h");
        check("0.5/s", 0.5, "0.5/s");
        check("864/d", 0.01, "864/d");
        let fails = |text: &str, expect: &str| {
            let e = Rate::parse(text).unwrap_err();
            assert!(e.contains(expect), "{text}: {e}");
        };
        fails("50", "has no unit");
        fails("0/s", "must be greater than 0");
        fails("-3/s", "must be greater than 0");
        fails("fast/s", "does not start with a number");
        fails("5/w", "unknown unit");
    }
}
