//! Faults: what goes wrong, where, and when.
//!
//! A failover policy is judged by how it behaves when the world changes under it, so faults are
//! first-class, timed and targeted: a black-hole outage of one provider for German traffic
//! between minute 10 and 25 is one `[[faults]]` table. Faults are written flat — the `kind`
//! plus its few parameters next to the window — because that reads best in TOML:
//!
//! ```toml
//! [[faults]]
//! kind = "outage"
//! mode = "black_hole"
//! start = "10m"
//! duration = "15m"
//! [faults.target]
//! provider = "twilio-like"
//! country = "DE"
//! ```
//!
//! In code the same fault is a typed [`FaultKind`]; the flat file form is converted on load, and
//! a parameter that does not belong to the kind (`duty` on an outage) is rejected there with a
//! message naming the kinds it does belong to. Overlapping faults compose; the simulator decides
//! how (e.g. error probabilities combine as independent events).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use failover_router::duration::{HumanDuration, format as fmt_d, serde_opt, serde_str};
use failover_router::route::{Country, NumberType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::distribution::DistributionSpec;

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawFault", into = "RawFault")]
#[schemars(
    description = "One `[[faults]]` entry: a `kind` with its parameters (written next to \
    it; parameters of other kinds are rejected), a window (`start`, and `duration` or `end`) and \
    a `[faults.target]`."
)]
pub struct Fault {
    /// Name used in reports; default derived from kind, target and start (see [`Fault::label`]).
    pub name: Option<String>,
    pub kind: FaultKind,
    pub start: Duration,
    /// End of the window; `None` lasts until the end of the run. Written as `duration` (or
    /// `end`) in files.
    pub end: Option<Duration>,
    pub target: FaultTarget,
}

/// How an outage fails requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Requests fail fast with a provider error.
    Error,
    /// Requests are accepted and never answered: only a timeout reveals the fault.
    BlackHole,
}

/// What a latency fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencyEffect {
    /// Latency multiplied by a factor (`multiplier = 3.0`).
    Multiply(f64),
    /// A sampled delay added (`add = { kind = "exponential", mean = "5s" }`).
    Add(DistributionSpec),
}

/// Which leg of a provider's path a provider latency fault slows.
///
/// A provider's API answering slowly and its messages reaching handsets slowly are different
/// failures: the first delays every response (and errors), the second only receipts. A latency
/// fault on a region slows its network and on a carrier its delivery, so `leg` is for provider
/// (and failure domain) targets only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatencyLeg {
    /// The provider's API response (accepting or refusing the message).
    #[default]
    Api,
    /// The provider's onward path to the handset (delivery receipts).
    Delivery,
    /// Both.
    Both,
}

impl LatencyLeg {
    pub fn api(self) -> bool {
        matches!(self, LatencyLeg::Api | LatencyLeg::Both)
    }

    pub fn delivery(self) -> bool {
        matches!(self, LatencyLeg::Delivery | LatencyLeg::Both)
    }
}

/// The effect of a fault on its target while active.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// `kind = "outage"`, `mode = "error" | "black_hole"` (default error).
    Outage { mode: OutageMode },
    /// `kind = "brownout"`: extra failure probabilities, `error_rate` and/or `loss` (default 0).
    Brownout { error_rate: f64, loss: f64 },
    /// `kind = "latency"` with `multiplier` or `add`, and for a provider the `leg` it slows
    /// (default its API).
    Latency {
        effect: LatencyEffect,
        leg: Option<LatencyLeg>,
    },
    /// `kind = "flapping"`: down (as an outage of `mode`) for `duty * period` at the start of
    /// every `period`, up for the rest. `duty` defaults to 0.5.
    Flapping {
        period: Duration,
        duty: f64,
        mode: OutageMode,
    },
    /// `kind = "degradation"`: error probability ramping linearly from `from` (default 0) to
    /// `to` over the window.
    Degradation { from: f64, to: f64 },
    /// `kind = "inventory_shock"`: only `remaining` (a share) of the inventory is usable.
    InventoryShock { remaining: f64 },
    /// `kind = "number_type_block"`: the provider rejects the target's `number_type` (a policy
    /// change at the provider or regulator).
    NumberTypeBlock,
    /// `kind = "capacity_cut"`: the rate limit is multiplied by `factor`.
    CapacityCut { factor: f64 },
}

impl FaultKind {
    /// The `kind` tag as written in files.
    pub fn tag(&self) -> &'static str {
        match self {
            FaultKind::Outage { .. } => "outage",
            FaultKind::Brownout { .. } => "brownout",
            FaultKind::Latency { .. } => "latency",
            FaultKind::Flapping { .. } => "flapping",
            FaultKind::Degradation { .. } => "degradation",
            FaultKind::InventoryShock { .. } => "inventory_shock",
            FaultKind::NumberTypeBlock => "number_type_block",
            FaultKind::CapacityCut { .. } => "capacity_cut",
        }
    }

    /// Kinds that act on a provider's capacity or acceptance and so need provider targets.
    pub fn needs_provider_target(&self) -> bool {
        matches!(
            self,
            FaultKind::InventoryShock { .. }
                | FaultKind::NumberTypeBlock
                | FaultKind::CapacityCut { .. }
        )
    }
}

/// What a fault hits: one entity, optionally narrowed to a country and/or number type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawTarget", into = "RawTarget")]
pub struct FaultTarget {
    pub entity: TargetEntity,
    pub country: Option<Country>,
    pub number_type: Option<NumberType>,
}

/// The entity a fault targets, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetEntity {
    Provider(String),
    Carrier(String),
    /// Every provider hosted in the region.
    Region(String),
    /// Every provider whose (world) `failure_domains` contains it.
    FailureDomain(String),
}

impl TargetEntity {
    /// `("provider", "twilio-like")`.
    pub fn key_and_name(&self) -> (&'static str, &str) {
        match self {
            TargetEntity::Provider(n) => ("provider", n),
            TargetEntity::Carrier(n) => ("carrier", n),
            TargetEntity::Region(n) => ("region", n),
            TargetEntity::FailureDomain(n) => ("failure_domain", n),
        }
    }
}

impl Fault {
    /// The report name: `name`, or `<kind>-<target>-<start>` (e.g. `outage-twilio-like-10m`).
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!(
                "{}-{}-{}",
                self.kind.tag(),
                self.target.entity.key_and_name().1,
                fmt_d(self.start)
            ),
        }
    }
}

/// The report names of `faults` in order ([`Fault::label`], repeats numbered `#2`, `#3`, ...),
/// each with whether its label was already taken (an error for a fault named by its author).
///
/// Linear: taken labels are in a set, and the next number to try per label is remembered
/// (labels are never released, so every number below it stays taken); trying from `#2` for
/// each of 10,000 faults with one label was cubic.
pub(crate) fn fault_labels(faults: &[Fault]) -> Vec<(String, bool)> {
    let mut taken: HashSet<String> = HashSet::with_capacity(faults.len());
    let mut next: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(faults.len());
    for f in faults {
        let base = f.label();
        if taken.insert(base.clone()) {
            out.push((base, false));
            continue;
        }
        let n = next.entry(base.clone()).or_insert(2);
        let label = loop {
            let label = format!("{base}#{n}");
            *n += 1;
            if taken.insert(label.clone()) {
                break label;
            }
        };
        out.push((label, true));
    }
    out
}

// ---- The flat file form -------------------------------------------------------------------

/// The `kind` of a fault, as written in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "FaultKind")]
enum KindTag {
    /// The target fails every request (`mode` = "error" or "black_hole").
    Outage,
    /// Extra failure probabilities: `error_rate` and/or `loss`.
    Brownout,
    /// Slower responses: `multiplier` or `add` (a distribution).
    Latency,
    /// Down for `duty * period` at the start of every `period`, up for the rest.
    Flapping,
    /// Error probability ramping linearly from `from` to `to` over the window.
    Degradation,
    /// Only `remaining` (a share) of the provider's inventory is usable.
    InventoryShock,
    /// The provider rejects the target's `number_type`.
    NumberTypeBlock,
    /// The provider's rate limit is multiplied by `factor`.
    CapacityCut,
}

/// The file form of a [`Fault`] (its schema is the fault's).
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Fault", transform = fault_rules)]
struct RawFault {
    /// Name used in reports. Default `<kind>-<target>-<start>`, e.g. `outage-twilio-like-10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// What goes wrong; each kind takes its own parameters.
    kind: KindTag,
    /// Start of the window, from the scenario's t = 0.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    start: Duration,
    /// Length of the window (or give `end`). Neither: until the end of the run.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<HumanDuration>")]
    duration: Option<Duration>,
    /// End of the window, after `start` (or give `duration`). Neither: until the end of the run.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<HumanDuration>")]
    end: Option<Duration>,
    /// `outage`, `flapping`: how requests fail. Default `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<OutageMode>,
    /// `brownout`: extra probability that an API call fails with a provider error. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_rate: Option<f64>,
    /// `brownout`: extra probability that a message is silently lost. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loss: Option<f64>,
    /// `latency`: latency multiplied by this factor (or give `add`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multiplier: Option<f64>,
    /// `flapping` (required): length of one down-and-up cycle.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<HumanDuration>")]
    period: Option<Duration>,
    /// `flapping`: share of each `period` the target is down, from its start. Default 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duty: Option<f64>,
    /// `degradation`: error probability at the start of the window. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<f64>,
    /// `degradation` (required): error probability at the end of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<f64>,
    /// `inventory_shock` (required): share of the inventory still usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remaining: Option<f64>,
    /// `capacity_cut` (required): multiplier of the provider's rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    factor: Option<f64>,
    /// `latency`: a sampled delay added to latency (or give `multiplier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add: Option<DistributionSpec>,
    /// `latency` on a provider: which leg it slows, `api` (default), `delivery` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leg: Option<LatencyLeg>,
    /// `[faults.target]`: the entity hit, optionally narrowed to a country and/or number type.
    target: FaultTarget,
}

/// Parameters a kind cannot do without (checked in `TryFrom<RawFault>`).
const REQUIRED: &[(&str, &str)] = &[
    ("flapping", "period"),
    ("degradation", "to"),
    ("inventory_shock", "remaining"),
    ("capacity_cut", "factor"),
];

/// The checks `TryFrom<RawFault>` makes beyond the shape, as JSON Schema, so that editors flag
/// them too: parameters of another kind, missing required parameters, `duration` with `end`.
fn fault_rules(schema: &mut schemars::Schema) {
    use serde_json::json;
    let when_kind = |kind: &str, then: serde_json::Value| {
        json!({
            "if": { "required": ["kind"], "properties": { "kind": { "const": kind } } },
            "then": then,
        })
    };
    let mut rules = Vec::new();
    for (param, kinds) in PARAMS {
        rules.push(json!({
            "if": { "required": [param] },
            "then": { "properties": { "kind": { "enum": kinds } } },
        }));
    }
    for (kind, param) in REQUIRED {
        rules.push(when_kind(kind, json!({ "required": [param] })));
    }
    rules.push(when_kind(
        "brownout",
        json!({ "anyOf": [{ "required": ["error_rate"] }, { "required": ["loss"] }] }),
    ));
    rules.push(when_kind(
        "latency",
        json!({ "oneOf": [{ "required": ["multiplier"] }, { "required": ["add"] }] }),
    ));
    rules.push(json!({ "not": { "required": ["duration", "end"] } }));
    schema.insert("allOf".into(), rules.into());
}

/// Which kinds each parameter belongs to (for the "does not apply" message).
const PARAMS: &[(&str, &[&str])] = &[
    ("mode", &["outage", "flapping"]),
    ("error_rate", &["brownout"]),
    ("loss", &["brownout"]),
    ("multiplier", &["latency"]),
    ("add", &["latency"]),
    ("leg", &["latency"]),
    ("period", &["flapping"]),
    ("duty", &["flapping"]),
    ("from", &["degradation"]),
    ("to", &["degradation"]),
    ("remaining", &["inventory_shock"]),
    ("factor", &["capacity_cut"]),
];

impl RawFault {
    fn present_params(&self) -> Vec<&'static str> {
        let flags = [
            ("mode", self.mode.is_some()),
            ("error_rate", self.error_rate.is_some()),
            ("loss", self.loss.is_some()),
            ("multiplier", self.multiplier.is_some()),
            ("add", self.add.is_some()),
            ("leg", self.leg.is_some()),
            ("period", self.period.is_some()),
            ("duty", self.duty.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("remaining", self.remaining.is_some()),
            ("factor", self.factor.is_some()),
        ];
        flags
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(n, _)| n)
            .collect()
    }
}

fn required<T>(v: Option<T>, kind: &str, param: &str, example: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("kind = \"{kind}\" needs `{param}` (e.g. {example})"))
}

impl TryFrom<RawFault> for Fault {
    type Error = String;

    fn try_from(raw: RawFault) -> Result<Self, String> {
        let kind_name = serde_plain_tag(raw.kind);
        for param in raw.present_params() {
            let (_, kinds) = PARAMS.iter().find(|(p, _)| *p == param).expect("listed");
            if !kinds.contains(&kind_name) {
                return Err(format!(
                    "`{param}` does not apply to kind = \"{kind_name}\"; it belongs to kind = {}",
                    kinds
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
        }
        let kind = match raw.kind {
            KindTag::Outage => FaultKind::Outage {
                mode: raw.mode.unwrap_or(OutageMode::Error),
            },
            KindTag::Brownout => {
                if raw.error_rate.is_none() && raw.loss.is_none() {
                    return Err(
                        "kind = \"brownout\" needs `error_rate` and/or `loss` (e.g. error_rate = 0.3)"
                            .into(),
                    );
                }
                FaultKind::Brownout {
                    error_rate: raw.error_rate.unwrap_or(0.0),
                    loss: raw.loss.unwrap_or(0.0),
                }
            }
            KindTag::Latency => match (raw.multiplier, raw.add) {
                (Some(m), None) => FaultKind::Latency {
                    effect: LatencyEffect::Multiply(m),
                    leg: raw.leg,
                },
                (None, Some(d)) => FaultKind::Latency {
                    effect: LatencyEffect::Add(d),
                    leg: raw.leg,
                },
                _ => {
                    return Err("kind = \"latency\" needs exactly one of `multiplier` (e.g. \
                         multiplier = 3.0) or `add` (e.g. add = { kind = \"constant\", value = \"5s\" })"
                        .into());
                }
            },
            KindTag::Flapping => FaultKind::Flapping {
                period: required(raw.period, "flapping", "period", "period = \"2m\"")?,
                duty: raw.duty.unwrap_or(0.5),
                mode: raw.mode.unwrap_or(OutageMode::Error),
            },
            KindTag::Degradation => FaultKind::Degradation {
                from: raw.from.unwrap_or(0.0),
                to: required(raw.to, "degradation", "to", "to = 0.6")?,
            },
            KindTag::InventoryShock => FaultKind::InventoryShock {
                remaining: required(
                    raw.remaining,
                    "inventory_shock",
                    "remaining",
                    "remaining = 0.1",
                )?,
            },
            KindTag::NumberTypeBlock => FaultKind::NumberTypeBlock,
            KindTag::CapacityCut => FaultKind::CapacityCut {
                factor: required(raw.factor, "capacity_cut", "factor", "factor = 0.2")?,
            },
        };
        let end = match (raw.duration, raw.end) {
            (Some(_), Some(_)) => {
                return Err("give either `duration` or `end`, not both".into());
            }
            (Some(d), None) => {
                if d.is_zero() {
                    return Err("`duration` must be longer than 0s".into());
                }
                Some(raw.start + d)
            }
            (None, Some(e)) => {
                if e <= raw.start {
                    return Err(format!(
                        "`end` ({}) must be after `start` ({})",
                        fmt_d(e),
                        fmt_d(raw.start)
                    ));
                }
                Some(e)
            }
            (None, None) => None,
        };
        Ok(Fault {
            name: raw.name,
            kind,
            start: raw.start,
            end,
            target: raw.target,
        })
    }
}

fn serde_plain_tag(k: KindTag) -> &'static str {
    match k {
        KindTag::Outage => "outage",
        KindTag::Brownout => "brownout",
        KindTag::Latency => "latency",
        KindTag::Flapping => "flapping",
        KindTag::Degradation => "degradation",
        KindTag::InventoryShock => "inventory_shock",
        KindTag::NumberTypeBlock => "number_type_block",
        KindTag::CapacityCut => "capacity_cut",
    }
}

impl From<Fault> for RawFault {
    fn from(f: Fault) -> Self {
        let mut raw = RawFault {
            name: f.name,
            kind: KindTag::Outage,
            start: f.start,
            duration: f.end.map(|e| e.saturating_sub(f.start)),
            end: None,
            mode: None,
            error_rate: None,
            loss: None,
            multiplier: None,
            period: None,
            duty: None,
            from: None,
            to: None,
            remaining: None,
            factor: None,
            add: None,
            leg: None,
            target: f.target,
        };
        match f.kind {
            FaultKind::Outage { mode } => {
                raw.kind = KindTag::Outage;
                raw.mode = Some(mode);
            }
            FaultKind::Brownout { error_rate, loss } => {
                raw.kind = KindTag::Brownout;
                raw.error_rate = Some(error_rate);
                raw.loss = Some(loss);
            }
            FaultKind::Latency { effect, leg } => {
                raw.kind = KindTag::Latency;
                raw.leg = leg;
                match effect {
                    LatencyEffect::Multiply(m) => raw.multiplier = Some(m),
                    LatencyEffect::Add(d) => raw.add = Some(d),
                }
            }
            FaultKind::Flapping { period, duty, mode } => {
                raw.kind = KindTag::Flapping;
                raw.period = Some(period);
                raw.duty = Some(duty);
                raw.mode = Some(mode);
            }
            FaultKind::Degradation { from, to } => {
                raw.kind = KindTag::Degradation;
                raw.from = Some(from);
                raw.to = Some(to);
            }
            FaultKind::InventoryShock { remaining } => {
                raw.kind = KindTag::InventoryShock;
                raw.remaining = Some(remaining);
            }
            FaultKind::NumberTypeBlock => raw.kind = KindTag::NumberTypeBlock,
            FaultKind::CapacityCut { factor } => {
                raw.kind = KindTag::CapacityCut;
                raw.factor = Some(factor);
            }
        }
        raw
    }
}

/// `[faults.target]`: exactly one of `provider`, `carrier`, `region` or `failure_domain`,
/// optionally narrowed by `country` and/or `number_type`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "FaultTarget",
    extend("oneOf" = [
        { "required": ["provider"] },
        { "required": ["carrier"] },
        { "required": ["region"] },
        { "required": ["failure_domain"] },
    ])
)]
struct RawTarget {
    /// Name of a `[[providers]]` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    /// Name of a `[[carriers]]` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carrier: Option<String>,
    /// Name of a `[[regions]]` entry: every provider hosted there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    /// A shared upstream: every provider whose (world) `failure_domains` contains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_domain: Option<String>,
    /// Only traffic to this country. Default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<Country>,
    /// Only traffic to this number type. Default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number_type: Option<NumberType>,
}

impl TryFrom<RawTarget> for FaultTarget {
    type Error = String;

    fn try_from(raw: RawTarget) -> Result<Self, String> {
        let mut entities = [
            raw.provider.map(TargetEntity::Provider),
            raw.carrier.map(TargetEntity::Carrier),
            raw.region.map(TargetEntity::Region),
            raw.failure_domain.map(TargetEntity::FailureDomain),
        ]
        .into_iter()
        .flatten();
        let entity = entities.next().ok_or(
            "a fault target needs one of `provider`, `carrier`, `region` or `failure_domain`",
        )?;
        if entities.next().is_some() {
            return Err(
                "a fault target names exactly one of `provider`, `carrier`, `region` or \
                 `failure_domain`; use one [[faults]] entry per entity"
                    .into(),
            );
        }
        Ok(FaultTarget {
            entity,
            country: raw.country,
            number_type: raw.number_type,
        })
    }
}

impl From<FaultTarget> for RawTarget {
    fn from(t: FaultTarget) -> Self {
        let mut raw = RawTarget {
            provider: None,
            carrier: None,
            region: None,
            failure_domain: None,
            country: t.country,
            number_type: t.number_type,
        };
        match t.entity {
            TargetEntity::Provider(n) => raw.provider = Some(n),
            TargetEntity::Carrier(n) => raw.carrier = Some(n),
            TargetEntity::Region(n) => raw.region = Some(n),
            TargetEntity::FailureDomain(n) => raw.failure_domain = Some(n),
        }
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Doc {
        faults: Vec<Fault>,
    }

    fn parse(body: &str) -> Result<Fault, String> {
        let text = format!("[[faults]]\nstart = \"10m\"\n{body}");
        toml::from_str::<Doc>(&text)
            .map(|mut d| d.faults.remove(0))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_parses_and_round_trips() {
        let check = |body: &str, expect: FaultKind| {
            let f = parse(body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(f.kind, expect, "{body}");
            let text = toml::to_string(&Doc {
                faults: vec![f.clone()],
            })
            .unwrap();
            let back: Doc = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back.faults[0], f, "{text}");
        };
        let t = "[faults.target]\nprovider = \"p\"\n";
        check(
            &format!("kind = \"outage\"\nmode = \"black_hole\"\nduration = \"5m\"\n{t}"),
            FaultKind::Outage {
                mode: OutageMode::BlackHole,
            },
        );
        check(
            &format!("kind = \"outage\"\n{t}"),
            FaultKind::Outage {
                mode: OutageMode::Error,
            },
        );
        check(
            &format!("kind = \"brownout\"\nloss = 0.2\n{t}"),
            FaultKind::Brownout {
                error_rate: 0.0,
                loss: 0.2,
            },
        );
        check(
            &format!("kind = \"latency\"\nmultiplier = 3.0\n{t}"),
            FaultKind::Latency {
                effect: LatencyEffect::Multiply(3.0),
                leg: None,
            },
        );
        check(
            &format!("kind = \"latency\"\nadd = {{ kind = \"constant\", value = \"5s\" }}\n{t}"),
            FaultKind::Latency {
                effect: LatencyEffect::Add(DistributionSpec::Constant {
                    value: Duration::from_secs(5),
                }),
                leg: None,
            },
        );
        check(
            &format!("kind = \"flapping\"\nperiod = \"2m\"\n{t}"),
            FaultKind::Flapping {
                period: Duration::from_secs(120),
                duty: 0.5,
                mode: OutageMode::Error,
            },
        );
        check(
            &format!("kind = \"degradation\"\nto = 0.6\nend = \"20m\"\n{t}"),
            FaultKind::Degradation { from: 0.0, to: 0.6 },
        );
        check(
            &format!("kind = \"inventory_shock\"\nremaining = 0.1\n{t}"),
            FaultKind::InventoryShock { remaining: 0.1 },
        );
        check(
            "kind = \"number_type_block\"\n[faults.target]\nprovider = \"p\"\nnumber_type = \"voip\"\n",
            FaultKind::NumberTypeBlock,
        );
        check(
            &format!("kind = \"capacity_cut\"\nfactor = 0.2\n{t}"),
            FaultKind::CapacityCut { factor: 0.2 },
        );
    }

    #[test]
    fn window_is_start_plus_duration_or_end() {
        let t = "[faults.target]\ncarrier = \"c\"\n";
        let f = parse(&format!("kind = \"outage\"\nduration = \"15m\"\n{t}")).unwrap();
        assert_eq!(f.end, Some(Duration::from_secs(25 * 60)));
        assert_eq!(f.label(), "outage-c-10m");
        let f = parse(&format!("kind = \"outage\"\nend = \"15m\"\n{t}")).unwrap();
        assert_eq!(f.end, Some(Duration::from_secs(15 * 60)));
        let f = parse(&format!("kind = \"outage\"\nname = \"x\"\n{t}")).unwrap();
        assert_eq!((f.end, f.label().as_str()), (None, "x"));
    }

    #[test]
    fn misplaced_or_missing_parameters_are_explained() {
        let check = |body: &str, expect: &str| {
            let e = parse(body).expect_err(body);
            assert!(e.contains(expect), "{body}: {e}");
        };
        let t = "[faults.target]\nprovider = \"p\"\n";
        check(
            &format!("kind = \"outage\"\nduty = 0.5\n{t}"),
            "`duty` does not apply to kind = \"outage\"; it belongs to kind = \"flapping\"",
        );
        check(
            &format!("kind = \"capacity_cut\"\n{t}"),
            "kind = \"capacity_cut\" needs `factor`",
        );
        check(
            &format!("kind = \"latency\"\n{t}"),
            "needs exactly one of `multiplier`",
        );
        check(
            &format!("kind = \"brownout\"\n{t}"),
            "needs `error_rate` and/or `loss`",
        );
        check(
            &format!("kind = \"meteor\"\n{t}"),
            "unknown variant `meteor`",
        );
        check(
            &format!("kind = \"outage\"\nseverity = 3\n{t}"),
            "unknown field `severity`",
        );
        check(
            &format!("kind = \"outage\"\nduration = \"1m\"\nend = \"20m\"\n{t}"),
            "either `duration` or `end`",
        );
        check(
            &format!("kind = \"outage\"\nend = \"5m\"\n{t}"),
            "`end` (5m) must be after `start` (10m)",
        );
        check(
            "kind = \"outage\"\n[faults.target]\nprovider = \"p\"\ncarrier = \"c\"\n",
            "exactly one of",
        );
        check(
            "kind = \"outage\"\n[faults.target]\ncountry = \"DE\"\n",
            "needs one of",
        );
    }
}
