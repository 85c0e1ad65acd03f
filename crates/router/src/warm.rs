//! Warm start: what a router has learnt, carried across a restart.
//!
//! Why: a restart (a deploy, a crash, a scale-out) otherwise forgets every verdict. A route
//! ejected a minute before a deploy gets full traffic again and must fail its way out a second
//! time, costing the verifications a trip costs (each one waits an attempt timeout on a black
//! hole). So [`Router::export_state`](crate::Router::export_state) writes down what the state
//! machine knows, per route, and [`RouterBuilder::state`] hands it to the next router.
//!
//! What is kept is what takes long to learn and is cheap to carry: each route's state, what is
//! left of its ejection, its backoff multiplier and how long it has been healthy (the
//! multiplier's decay clock), its long-run delivery record (the strategies' prior), its probing
//! tally and credit, an operator's override, and the groups in panic. What is not kept ages out
//! within a minute anyway: the sliding health windows, consecutive-failure counts, capacity
//! cooldowns, retry and exploration budgets, and attempts in flight (they belong to the old
//! router, which still judges them).
//!
//! Routes are keyed by (provider, country, number type), never by [`RouteId`], which is only an
//! index into one routing table: the next router may run another table. Times are durations
//! relative to the export, because an `Instant` means nothing to another process; the state's
//! age (export to import) is taken off every remaining ejection. An ejection that ran out while
//! the router was down resumes as probing, never as healthy: the route still earns its way back.
//!
//! The age is measured with the wall clock by default (the state is stamped with `SystemTime`
//! at export, and [`RouterBuilder::state`] reads it again): the only clock two processes share.
//! It is the router's one reading of the wall clock, and it decides nothing but whether the
//! state is too old and how much of each ejection is left. Under a virtual clock (a simulation,
//! a test) the caller knows the age better: [`RouterBuilder::state_aged`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::core::{Core, Shared};
use crate::event::{Override, RestoredRoute, RouteState, secs};
use crate::route::{Country, NumberType, RouteId};
use crate::router::{BuildError, RouterBuilder};
use crate::state::ProbeTally;

/// The [`RouterState`] layout this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// What a router has learnt, in a form another router (in another process, with another
/// routing table) can restore: from [`Router::export_state`](crate::Router::export_state), to
/// [`RouterBuilder::state`]. Serialize it with any serde format; keep it somewhere that
/// outlives the process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedState")]
pub struct RouterState {
    /// Layout version ([`STATE_VERSION`]); a state of another version is refused when read.
    pub version: u32,
    /// When it was exported, in milliseconds since 1970-01-01 UTC by the exporting host's wall
    /// clock: what [`RouterBuilder::state`] measures the state's age from.
    pub exported_at_unix_ms: u64,
    /// Every route of the exporting router's table.
    pub routes: Vec<SavedRoute>,
    /// Groups that were in panic mode (every route out of service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panic: Vec<GroupKey>,
}

/// What one route had learnt, relative to the moment of export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRoute {
    pub provider: String,
    pub country: Country,
    pub number_type: NumberType,
    /// The state machine's own verdict (under an override, `override` says what acts).
    pub state: RouteState,
    /// Ejected: what was left of the ejection, in milliseconds (rounded up, so a restored
    /// route never returns early).
    #[serde(default)]
    pub ejection_left_ms: u64,
    /// Multiplier of the next ejection's length (exponential backoff), >= 1.
    pub backoff_multiplier: f64,
    /// Healthy: for how long without interruption, in milliseconds (the multiplier decays by
    /// one step per `ejection.decay_after` of it).
    #[serde(default)]
    pub healthy_for_ms: u64,
    /// Restored and still ramping up its share (`probe.slow_start`): since how long, in
    /// milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_start_ms: Option<u64>,
    /// Long-run delivery record (decayed sums of deliveries and of judged outcomes): the
    /// route's own prior in `score` and `thompson`.
    pub long_run_ok: f64,
    pub long_run_n: f64,
    /// Probing: this probing period's tally and credit.
    #[serde(default)]
    pub probe: SavedProbe,
    /// An operator's override: it survives the restart (an operator's decision is not learnt
    /// state, and a deploy must not silently undo a force-eject).
    #[serde(default, rename = "override")]
    pub override_: Override,
}

/// A probing period in progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedProbe {
    pub attempts: u32,
    pub successes: u32,
    pub failures: u32,
    /// Probe credit, in [0, 1]: a probe is sent when it reaches 1.
    pub credit: f64,
}

/// A (country, number type): the routes competing for the same traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    pub country: Country,
    pub number_type: NumberType,
}

/// How a router started, as [`Router::warm_start`](crate::Router::warm_start) reports it and
/// the `started` event records it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WarmStart {
    /// No state was given: every route starts healthy, with no history.
    Cold,
    /// The state was restored.
    Restored {
        /// Time between export and build.
        #[serde(serialize_with = "secs")]
        age: Duration,
        /// Routes of the table found in the state.
        routes: u32,
        /// Routes of the state that are not in the table: ignored.
        ignored: u32,
        /// Routes of the table that are not in the state: they start cold.
        new: u32,
    },
    /// The state was older than `warm_start.max_age` and was ignored, overrides included:
    /// a cold start.
    Expired {
        #[serde(serialize_with = "secs")]
        age: Duration,
        #[serde(serialize_with = "secs")]
        max_age: Duration,
        /// Operator overrides the ignored state held: set them again.
        overrides_dropped: u32,
    },
}

/// A state that cannot be restored, naming the field (as serialized) and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("router state: {field}: {message}")]
pub struct StateError {
    /// Path of the field, e.g. `version` or `routes[3].backoff_multiplier`.
    pub field: String,
    pub message: String,
}

fn state_err(field: impl Into<String>, message: impl Into<String>) -> StateError {
    StateError {
        field: field.into(),
        message: message.into(),
    }
}

/// The serialized form, read before its version is checked.
#[derive(Deserialize)]
struct UncheckedState {
    version: u32,
    exported_at_unix_ms: u64,
    routes: Vec<SavedRoute>,
    #[serde(default)]
    panic: Vec<GroupKey>,
}

impl TryFrom<UncheckedState> for RouterState {
    type Error = StateError;

    fn try_from(u: UncheckedState) -> Result<Self, StateError> {
        check_version(u.version)?;
        Ok(RouterState {
            version: u.version,
            exported_at_unix_ms: u.exported_at_unix_ms,
            routes: u.routes,
            panic: u.panic,
        })
    }
}

fn check_version(version: u32) -> Result<(), StateError> {
    if version == STATE_VERSION {
        return Ok(());
    }
    Err(state_err(
        "version",
        format!(
            "{version} is not supported: this build reads version {STATE_VERSION}; start the \
             router without the state (cold), or export it again from a router of this build"
        ),
    ))
}

impl RouterState {
    /// Checks the version and every value a hand-edited or corrupted state could get wrong;
    /// the first problem found is returned. [`RouterBuilder::build`] calls it.
    pub fn validate(&self) -> Result<(), StateError> {
        check_version(self.version)?;
        let mut seen: Vec<(&str, Country, NumberType, usize)> = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            let f = |name: &str| format!("routes[{i}].{name}");
            if let Some(&(_, _, _, j)) = seen
                .iter()
                .find(|(p, c, n, _)| *p == r.provider && *c == r.country && *n == r.number_type)
            {
                return Err(state_err(
                    format!("routes[{i}]"),
                    format!(
                        "{}/{}/{} is also routes[{j}]; a state lists each route once",
                        r.provider, r.country, r.number_type
                    ),
                ));
            }
            seen.push((&r.provider, r.country, r.number_type, i));
            let m = r.backoff_multiplier;
            if !(m.is_finite() && m >= 1.0) {
                return Err(state_err(
                    f("backoff_multiplier"),
                    format!("{m} must be a finite number >= 1"),
                ));
            }
            let (ok, n) = (r.long_run_ok, r.long_run_n);
            if !(n.is_finite() && n >= 0.0) {
                return Err(state_err(
                    f("long_run_n"),
                    format!("{n} must be a finite number >= 0"),
                ));
            }
            if !(0.0..=n).contains(&ok) {
                return Err(state_err(
                    f("long_run_ok"),
                    format!("{ok} must be a finite number in [0, long_run_n = {n}]"),
                ));
            }
            let p = &r.probe;
            if p.successes.checked_add(p.failures) != Some(p.attempts) {
                return Err(state_err(
                    f("probe.attempts"),
                    format!(
                        "{} must be successes + failures ({} + {})",
                        p.attempts, p.successes, p.failures
                    ),
                ));
            }
            if !(p.credit.is_finite() && (0.0..=1.0).contains(&p.credit)) {
                return Err(state_err(
                    f("probe.credit"),
                    format!("{} must be a number in [0, 1]", p.credit),
                ));
            }
        }
        Ok(())
    }
}

/// A state handed to the builder, and how its age is known.
pub(crate) struct Offered {
    state: RouterState,
    /// Given by the caller; `None`: measured with the wall clock at build.
    age: Option<Duration>,
}

impl RouterBuilder {
    /// Restores `state` (from [`Router::export_state`](crate::Router::export_state), usually
    /// of the previous process) at build: routes are matched by (provider, country, number
    /// type), routes no longer in the table are ignored and new ones start cold, and the
    /// state's age, measured with the wall clock from its `exported_at_unix_ms`, is taken off
    /// every remaining ejection. A state older than the policy's `warm_start.max_age` is
    /// ignored: the router starts cold and says so ([`Router::warm_start`], a `tracing`
    /// warning, the `started` event). A state stamped later than now (clocks of two hosts
    /// disagree) counts as fresh.
    ///
    /// [`Router::warm_start`]: crate::Router::warm_start
    pub fn state(mut self, state: RouterState) -> Self {
        self.warm = Some(Offered { state, age: None });
        self
    }

    /// Like [`RouterBuilder::state`], with the age given rather than read from the wall clock:
    /// for a router under a virtual clock (a simulation, a test), or a caller that measured the
    /// downtime itself.
    pub fn state_aged(mut self, state: RouterState, age: Duration) -> Self {
        self.warm = Some(Offered {
            state,
            age: Some(age),
        });
        self
    }

    /// The instant event times (`at`) count from. Default: when `build` runs. A router that
    /// replaces another in the same process (a simulated restart, a blue-green swap) gives the
    /// old one's epoch, so the audit trail's clock runs on across the swap; a new process shares
    /// no clock with the old one and keeps the default. Must not be later than `build`.
    pub fn epoch(mut self, epoch: Instant) -> Self {
        self.epoch = Some(epoch);
        self
    }
}

/// What restoring produced: the outcome, and what the `started` event lists.
pub(crate) struct Restored {
    pub outcome: WarmStart,
    pub routes: Vec<RestoredRoute>,
    pub panic: Vec<GroupKey>,
}

fn whole_ms(d: Duration, round_up: bool) -> u64 {
    let ms = d.as_millis();
    let up = round_up && !d.as_nanos().is_multiple_of(1_000_000);
    u64::try_from(ms + u128::from(up)).unwrap_or(u64::MAX)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| whole_ms(d, false))
}

/// The router's state at `now`, without changing it (an ejection whose time is up but which no
/// decision has looked at yet is exported as ejected with nothing left, and restored probing).
pub(crate) fn export(shared: &Shared, core: &Core, now: Instant) -> RouterState {
    let table = &shared.table;
    let routes = table
        .routes()
        .iter()
        .zip(&core.routes)
        // A route retired by a reload is no longer the router's to remember.
        .filter(|(route, _)| !route.retired)
        .map(|(route, rt)| {
            let since = |t: Instant| now.saturating_duration_since(t);
            let slow_start = rt
                .restored_at
                .map(since)
                .filter(|d| *d < shared.policy.probe.slow_start);
            SavedRoute {
                provider: route.provider_name.clone(),
                country: route.country,
                number_type: route.number_type,
                state: rt.state,
                ejection_left_ms: match rt.state {
                    RouteState::Ejected => {
                        whole_ms(rt.ejected_until.saturating_duration_since(now), true)
                    }
                    _ => 0,
                },
                backoff_multiplier: rt.multiplier,
                healthy_for_ms: match rt.state {
                    RouteState::Healthy => whole_ms(since(rt.healthy_since), false),
                    _ => 0,
                },
                slow_start_ms: slow_start.map(|d| whole_ms(d, false)),
                long_run_ok: rt.long_run_ok,
                long_run_n: rt.long_run_n,
                probe: match rt.state {
                    RouteState::Probing => SavedProbe {
                        attempts: rt.probe.attempts,
                        successes: rt.probe.successes,
                        failures: rt.probe.failures,
                        credit: rt.probe.credit.clamp(0.0, 1.0),
                    },
                    _ => SavedProbe::default(),
                },
                override_: rt.override_,
            }
        })
        .collect();
    let panic = core
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.panic)
        .filter_map(|(g, _)| {
            let first = *table
                .group_routes(crate::route::GroupId(g as u32))
                .first()?;
            let r = table.route(first);
            Some(GroupKey {
                country: r.country,
                number_type: r.number_type,
            })
        })
        .collect();
    RouterState {
        version: STATE_VERSION,
        // The one wall-clock reading of the router (see the module docs).
        exported_at_unix_ms: unix_ms(SystemTime::now()),
        routes,
        panic,
    }
}

/// Applies `offered` (if any) to a fresh `core` at `now`, the build's instant.
pub(crate) fn restore(
    shared: &Shared,
    core: &mut Core,
    offered: Option<Offered>,
    now: Instant,
) -> Result<Restored, BuildError> {
    let cold = |outcome| Restored {
        outcome,
        routes: Vec::new(),
        panic: Vec::new(),
    };
    let Some(Offered { state, age }) = offered else {
        return Ok(cold(WarmStart::Cold));
    };
    state.validate()?;
    let age = age.unwrap_or_else(|| {
        let exported = UNIX_EPOCH + Duration::from_millis(state.exported_at_unix_ms);
        SystemTime::now()
            .duration_since(exported)
            .unwrap_or(Duration::ZERO)
    });
    let policy = &shared.policy;
    let max_age = policy.warm_start.max_age;
    if age > max_age {
        let overrides_dropped = state
            .routes
            .iter()
            .filter(|r| r.override_ != Override::None)
            .count() as u32;
        tracing::warn!(
            age = %crate::duration::format(age),
            max_age = %crate::duration::format(max_age),
            overrides_dropped,
            "router state older than warm_start.max_age ignored: starting cold"
        );
        return Ok(cold(WarmStart::Expired {
            age,
            max_age,
            overrides_dropped,
        }));
    }
    let table = &shared.table;
    let mut found = vec![false; table.routes().len()];
    let mut ignored = 0u32;
    for saved in &state.routes {
        let id = table.group(saved.country, saved.number_type).and_then(|g| {
            table
                .group_routes(g)
                .iter()
                .copied()
                .find(|r| table.route(*r).provider_name == saved.provider)
        });
        let Some(id) = id else {
            ignored += 1;
            continue;
        };
        found[id.index()] = true;
        let rt = &mut core.routes[id.index()];
        let ago = |ms: u64| now.checked_sub(Duration::from_millis(ms));
        rt.multiplier = saved.backoff_multiplier;
        rt.long_run_ok = saved.long_run_ok;
        rt.long_run_n = saved.long_run_n;
        rt.override_ = saved.override_;
        rt.state = saved.state;
        match saved.state {
            RouteState::Healthy => {
                rt.healthy_since = ago(saved.healthy_for_ms).unwrap_or(now);
                rt.restored_at = saved.slow_start_ms.and_then(ago);
            }
            RouteState::Ejected => {
                // The downtime counts against the ejection: the route was out all along. The
                // new policy's cap holds, as for any ejection it would make.
                let left = Duration::from_millis(saved.ejection_left_ms)
                    .saturating_sub(age)
                    .min(policy.ejection.max);
                if left.is_zero() {
                    rt.state = RouteState::Probing;
                    rt.probe = ProbeTally {
                        credit: 1.0,
                        ..ProbeTally::default()
                    };
                } else {
                    rt.ejected_until = now + left;
                }
            }
            RouteState::Probing => {
                let p = &saved.probe;
                rt.probe = ProbeTally {
                    attempts: p.attempts,
                    successes: p.successes,
                    failures: p.failures,
                    credit: p.credit,
                };
            }
        }
        rt.credit_at = now;
    }
    let mut routes = Vec::new();
    for (i, rt) in core.routes.iter().enumerate() {
        if rt.state != RouteState::Healthy || rt.override_ != Override::None {
            routes.push(RestoredRoute {
                route: RouteId(i as u32),
                state: rt.effective(),
                ejected_for: (rt.state == RouteState::Ejected)
                    .then(|| rt.ejected_until.saturating_duration_since(now)),
                backoff_multiplier: rt.multiplier,
                override_: rt.override_,
            });
        }
    }
    let mut panic = Vec::new();
    for key in &state.panic {
        if let Some(g) = table.group(key.country, key.number_type)
            && !core.groups[g.0 as usize].panic
        {
            core.groups[g.0 as usize].panic = true;
            panic.push(*key);
        }
    }
    let restored = found.iter().filter(|f| **f).count() as u32;
    let outcome = WarmStart::Restored {
        age,
        routes: restored,
        ignored,
        new: found.len() as u32 - restored,
    };
    tracing::info!(
        age = %crate::duration::format(age),
        routes = restored,
        ignored,
        out_of_service = routes.iter().filter(|r| r.state != RouteState::Healthy).count(),
        "router state restored"
    );
    Ok(Restored {
        outcome,
        routes,
        panic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_the_safe_way() {
        let d = Duration::from_nanos(1_500_000);
        assert_eq!(whole_ms(d, true), 2);
        assert_eq!(whole_ms(d, false), 1);
        assert_eq!(whole_ms(Duration::from_millis(7), true), 7);
    }
}
