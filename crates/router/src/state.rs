//! The per-route state machine: healthy -> ejected -> probing -> healthy (or back to ejected).
//!
//! Why hysteresis: a route whose failure rate hovers around one threshold would flip on every
//! few outcomes if the same threshold decided both ways, and each flip moves traffic and costs
//! verifications. So a route leaves on the trip threshold but returns only after `K` probe
//! deliveries *and* a stricter recovery threshold. Why exponential backoff with decay: a route
//! that fails again right after returning is likely still broken, so it stays out longer each
//! time (capped, jittered so routes ejected together do not return together), and a route that
//! has since been healthy for a while is forgiven step by step.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::adapter::{AttemptOutcome, Attribution};
use crate::event::{Override, RouteState, StateReason};
use crate::health::{HealthWindow, QuantileThreshold};
use crate::policy::Policy;

/// Outcomes of the current probing period.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ProbeTally {
    pub attempts: u32,
    pub successes: u32,
    pub failures: u32,
    /// Probe credit: grows by `probe.share` per decision of the group, a probe spends 1.
    pub credit: f64,
}

pub(crate) struct RouteRuntime {
    pub window: HealthWindow,
    pub consecutive: u32,
    /// The state machine's own verdict (in shadow mode, not acted on).
    pub state: RouteState,
    pub ejected_until: Instant,
    pub multiplier: f64,
    pub healthy_since: Instant,
    pub probe: ProbeTally,
    pub capacity_until: Instant,
    pub override_: Override,
    /// The last trip was refused by the ejection cap (logged once per episode).
    pub suppressed: bool,
    /// Long-run delivery record, decayed per outcome: the route's own prior once it has history.
    pub long_run_ok: f64,
    pub long_run_n: f64,
}

/// Per-outcome decay of the long-run record: a memory of roughly the last 100 outcomes.
const LONG_RUN_DECAY: f64 = 0.99;

/// A transition the caller must log (and, unless shadow, act on).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Transition {
    pub from: RouteState,
    pub to: RouteState,
    pub reason: StateReason,
    pub ejected_for: Option<Duration>,
}

/// What recording an outcome asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Verdict {
    None,
    /// The route wants ejecting; the caller checks the group's ejection cap first.
    Trip(StateReason),
    Changed(Transition),
}

impl RouteRuntime {
    pub(crate) fn new(policy: &Policy, now: Instant) -> Self {
        RouteRuntime {
            window: HealthWindow::new(policy.health.window, policy.health.buckets),
            consecutive: 0,
            state: RouteState::Healthy,
            ejected_until: now,
            multiplier: 1.0,
            healthy_since: now,
            probe: ProbeTally::default(),
            capacity_until: now,
            override_: Override::None,
            suppressed: false,
            long_run_ok: 0.0,
            long_run_n: 0.0,
        }
    }

    /// Long-run delivery probability, once the route has any history.
    ///
    /// Why this, not just the window, is the prior: a route abandoned because it degraded gets
    /// no traffic, so its window empties; judged on an empty window it would look like a fresh
    /// route and win again, then fail again (oscillation). Its own history keeps it honest until
    /// exploration shows it has recovered.
    pub(crate) fn long_run_mean(&self) -> Option<f64> {
        (self.long_run_n > 0.0).then(|| self.long_run_ok / self.long_run_n)
    }

    /// The state selection acts on.
    pub(crate) fn effective(&self) -> RouteState {
        match self.override_ {
            Override::None => self.state,
            Override::ForceEject => RouteState::Ejected,
            Override::ForceHealthy | Override::Shadow => RouteState::Healthy,
        }
    }

    fn automatic(&self) -> bool {
        matches!(self.override_, Override::None | Override::Shadow)
    }

    /// Ejected routes whose time is up start probing. Done lazily when the route is looked at.
    pub(crate) fn refresh(&mut self, now: Instant) -> Option<Transition> {
        if self.automatic() && self.state == RouteState::Ejected && now >= self.ejected_until {
            self.state = RouteState::Probing;
            self.probe = ProbeTally {
                credit: 1.0,
                ..ProbeTally::default()
            };
            return Some(Transition {
                from: RouteState::Ejected,
                to: RouteState::Probing,
                reason: StateReason::EjectionExpired,
                ejected_for: None,
            });
        }
        None
    }

    /// Records one attempt outcome and evaluates the state machine.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        policy: &Policy,
        trip_latency: Option<QuantileThreshold>,
        outcome: AttemptOutcome,
        latency: Duration,
        probe: bool,
        now: Instant,
        since_epoch: Duration,
        rng: &mut impl Rng,
    ) -> Verdict {
        self.window.advance(since_epoch);
        let health_relevant = match outcome {
            AttemptOutcome::Delivered => {
                self.window.record_delivery(latency);
                self.consecutive = 0;
                true
            }
            AttemptOutcome::Failed(kind) => {
                self.window.record_failure(kind);
                match kind.attribution() {
                    Attribution::Health => {
                        self.consecutive += 1;
                        true
                    }
                    Attribution::Capacity => {
                        self.capacity_until = now + policy.capacity_cooldown;
                        false
                    }
                    Attribution::User => false,
                }
            }
        };
        if !health_relevant {
            return Verdict::None;
        }
        let ok = f64::from(u8::from(outcome == AttemptOutcome::Delivered));
        self.long_run_ok = self.long_run_ok * LONG_RUN_DECAY + ok;
        self.long_run_n = self.long_run_n * LONG_RUN_DECAY + 1.0;
        if !self.automatic() {
            return Verdict::None;
        }
        match self.state {
            RouteState::Healthy => {
                self.decay(policy, now);
                match self.trip_reason(policy, trip_latency) {
                    Some(reason) => Verdict::Trip(reason),
                    None => {
                        self.suppressed = false;
                        Verdict::None
                    }
                }
            }
            // In shadow mode traffic is not restricted, so every outcome is a probe outcome.
            RouteState::Probing if probe || self.override_ == Override::Shadow => {
                self.probe_outcome(policy, outcome, latency, now, rng)
            }
            _ => Verdict::None,
        }
    }

    /// Records a conversion (judged against the route's peers by the core).
    pub(crate) fn record_conversion(&mut self, since_epoch: Duration) {
        self.window.advance(since_epoch);
        self.window.record_conversion();
    }

    /// Whether this route, healthy and under automatic control, converts worse than
    /// `min_ratio` x its group's pooled conversion rate (`group_rate`).
    pub(crate) fn converts_too_little(
        &self,
        policy: &Policy,
        group_rate: f64,
        min_ratio: f64,
    ) -> bool {
        self.automatic()
            && self.state == RouteState::Healthy
            && self.window.deliveries() >= policy.health.min_volume
            && self
                .window
                .conversion_rate()
                .is_some_and(|c| c < min_ratio * group_rate)
    }

    /// `trip_latency` is `policy.trip.latency`, prepared for comparing quantiles with it.
    fn trip_reason(
        &self,
        policy: &Policy,
        trip_latency: Option<QuantileThreshold>,
    ) -> Option<StateReason> {
        let t = &policy.trip;
        if t.consecutive_failures > 0 && self.consecutive >= t.consecutive_failures {
            return Some(StateReason::ConsecutiveFailures);
        }
        let min = policy.health.min_volume;
        if self.window.volume() >= min
            && self
                .window
                .failure_rate()
                .is_some_and(|r| r >= t.failure_rate)
        {
            return Some(StateReason::FailureRate);
        }
        if let Some(limit) = trip_latency
            && self.window.deliveries() >= min
            && self
                .window
                .latency_quantile_exceeds(policy.health.latency_quantile, limit)
        {
            return Some(StateReason::Latency);
        }
        None
    }

    /// Forgives one backoff step per `decay_after` of uninterrupted health.
    fn decay(&mut self, policy: &Policy, now: Instant) {
        if self.multiplier > 1.0 && now >= self.healthy_since + policy.ejection.decay_after {
            self.multiplier = (self.multiplier / policy.ejection.backoff).max(1.0);
            self.healthy_since = now;
        }
    }

    /// Ejects the route now (the caller has checked the cap).
    pub(crate) fn eject(
        &mut self,
        policy: &Policy,
        reason: StateReason,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Transition {
        let e = &policy.ejection;
        let base = e.base.as_secs_f64() * self.multiplier;
        let jitter = if e.jitter > 0.0 {
            1.0 + e.jitter * (2.0 * rng.random::<f64>() - 1.0)
        } else {
            1.0
        };
        let secs = (base * jitter).min(e.max.as_secs_f64());
        let dur = Duration::from_secs_f64(secs);
        let max_multiplier = e.max.as_secs_f64() / e.base.as_secs_f64();
        self.multiplier = (self.multiplier * e.backoff).min(max_multiplier.max(1.0));
        let from = self.state;
        self.state = RouteState::Ejected;
        self.ejected_until = now + dur;
        self.consecutive = 0;
        self.suppressed = false;
        Transition {
            from,
            to: RouteState::Ejected,
            reason,
            ejected_for: Some(dur),
        }
    }

    fn probe_outcome(
        &mut self,
        policy: &Policy,
        outcome: AttemptOutcome,
        latency: Duration,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Verdict {
        let p = &mut self.probe;
        p.attempts += 1;
        let slower_than = |limit: Option<Duration>| limit.is_some_and(|l| latency > l);
        match outcome {
            // Slower than the trip threshold: the route would be ejected if it were healthy.
            AttemptOutcome::Delivered if slower_than(policy.trip.latency) => {
                return Verdict::Changed(self.eject(policy, StateReason::ProbeFailed, now, rng));
            }
            // Delivered, but too slowly to vouch for the route: counts as a failed probe. (Not
            // a veto: one slow probe must not keep a route out forever; enough clean ones
            // outweigh it, as the recovery rate allows.)
            AttemptOutcome::Delivered if slower_than(policy.probe.recover_latency) => {
                p.failures += 1;
            }
            AttemptOutcome::Delivered => p.successes += 1,
            AttemptOutcome::Failed(_) => p.failures += 1,
        }
        let rate = f64::from(p.failures) / f64::from(p.attempts);
        if rate > policy.trip.failure_rate {
            return Verdict::Changed(self.eject(policy, StateReason::ProbeFailed, now, rng));
        }
        if p.successes >= policy.probe.successes && rate <= policy.probe.recover_failure_rate {
            self.state = RouteState::Healthy;
            self.healthy_since = now;
            self.consecutive = 0;
            // The window still remembers the outage that ejected the route; judging the restored
            // route on it would eject it again at once (a flap). The probes vouched for it, so
            // they also replace its long-run record: otherwise `score` would keep avoiding a
            // route the state machine just restored, until exploration slowly rebuilt it.
            self.window.clear();
            self.long_run_ok = f64::from(p.successes);
            self.long_run_n = f64::from(p.attempts);
            return Verdict::Changed(Transition {
                from: RouteState::Probing,
                to: RouteState::Healthy,
                reason: StateReason::Recovered,
                ejected_for: None,
            });
        }
        Verdict::None
    }
}
