//! The per-route state machine: healthy -> ejected -> probing -> healthy (or back to ejected).
//!
//! Why hysteresis: a route whose failure rate hovers around one threshold would flip on every
//! few outcomes if the same threshold decided both ways, and each flip moves traffic and costs
//! verifications. So a route leaves on the trip threshold but returns only after `K` probe
//! deliveries *and* a stricter recovery threshold. Why exponential backoff with decay: a route
//! that fails again right after returning is likely still broken, so it stays out longer each
//! time (capped, jittered so routes ejected together do not return together), and a route that
//! has since been healthy for a while is forgiven step by step.

use std::collections::VecDeque;
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
    /// Probe credit: grows by `probe.share` per decision of the group and by one per
    /// `probe.interval` of time; a probe spends 1.
    pub credit: f64,
}

/// How an attempt was judged, waiting in the ledger for the attempts launched before it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Judged {
    Outcome {
        outcome: AttemptOutcome,
        latency: Duration,
        probe: bool,
    },
    /// The router stopped watching it before judging it: no evidence either way.
    NoEvidence,
}

/// The route's attempts in launch order, so that outcomes are applied to its health in the
/// order the attempts were *launched*, not the order they came back.
///
/// Why: fast failures (an API error in 0.3 s) come back long before slow deliveries (5 s). A
/// route that suddenly gets traffic would otherwise see a burst of its rare errors before any
/// of its deliveries (five "consecutive" failures out of a 0.5 % error rate, at high traffic)
/// and be ejected while perfectly healthy. In launch order, a healthy route's outcomes are a
/// fair sample whatever their latencies. The cost is that an outcome waits for the attempts
/// launched before it, at most an attempt timeout: every attempt is judged by then.
#[derive(Clone, Default)]
pub(crate) struct Ledger {
    /// Sequence number of the oldest attempt not yet applied.
    base: u64,
    slots: VecDeque<Option<Judged>>,
}

impl Ledger {
    /// A new attempt: its place in the launch order.
    pub(crate) fn launch(&mut self) -> u64 {
        let seq = self.base + self.slots.len() as u64;
        self.slots.push_back(None);
        seq
    }

    /// Files the judgement of attempt `seq` (once; a second judgement is ignored). Returns it
    /// at once if every attempt before it is judged (the usual case: no need to file it), after
    /// which [`Ledger::next_ready`] gives the judgements it was holding up.
    pub(crate) fn judge(&mut self, seq: u64, judged: Judged) -> Option<Judged> {
        if seq == self.base && matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
            return Some(judged);
        }
        if let Some(slot) = seq
            .checked_sub(self.base)
            .and_then(|i| self.slots.get_mut(i as usize))
            && slot.is_none()
        {
            *slot = Some(judged);
        }
        None
    }

    /// The next judgement in launch order, once every attempt before it is judged.
    pub(crate) fn next_ready(&mut self) -> Option<Judged> {
        match self.slots.front() {
            Some(Some(_)) => {
                self.base += 1;
                self.slots.pop_front().flatten()
            }
            _ => None,
        }
    }

    /// Attempts launched and not yet applied.
    pub(crate) fn pending(&self) -> usize {
        self.slots.len()
    }
}

#[derive(Clone)]
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
    /// Outcomes waiting to be applied in launch order.
    pub ledger: Ledger,
    /// Probes sent and not yet answered (across probing periods: a probe of an earlier period
    /// still occupies the route).
    pub probes_in_flight: u32,
    /// When probe credit was last earned by time.
    pub credit_at: Instant,
    /// Restored at this moment and still ramping up (`probe.slow_start`).
    pub restored_at: Option<Instant>,
    /// Who set `override_`, why, and until when (boxed: most routes never have one).
    pub operator: Option<Box<crate::operator::OverrideNote>>,
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
            ledger: Ledger::default(),
            probes_in_flight: 0,
            credit_at: now,
            restored_at: None,
            operator: None,
        }
    }

    /// Earns probe credit for one decision of the group at `now`: `probe.share` per decision
    /// and one per `probe.interval` of time, capped at one probe's worth.
    pub(crate) fn earn_probe_credit(&mut self, policy: &Policy, now: Instant) {
        let elapsed = now.saturating_duration_since(self.credit_at);
        let by_time = elapsed.as_secs_f64() / policy.probe.interval.as_secs_f64();
        self.probe.credit = (self.probe.credit + policy.probe.share + by_time).min(1.0);
        self.credit_at = now;
    }

    /// Whether a probe may be sent now: credit, and fewer probes in flight than the successes
    /// needed (more could not restore the route any sooner, only flood a suspect route).
    pub(crate) fn may_probe(&self, policy: &Policy) -> bool {
        self.probes_in_flight < policy.probe.successes
    }

    /// Share of first attempts a restored route may take now: ramps from 10 % to all over
    /// `probe.slow_start`; `None` once the ramp is over.
    pub(crate) fn slow_start_share(&mut self, policy: &Policy, now: Instant) -> Option<f64> {
        let since = self.restored_at?;
        let ramp = policy.probe.slow_start;
        let elapsed = now.saturating_duration_since(since);
        if ramp.is_zero() || elapsed >= ramp {
            self.restored_at = None;
            return None;
        }
        Some((elapsed.as_secs_f64() / ramp.as_secs_f64()).max(0.1))
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
            self.credit_at = now;
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
                    // The cooldown was applied when the refusal arrived (core).
                    Attribution::Capacity => false,
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

    /// Records a conversion of a delivery made at `delivered_at` (judged against the route's
    /// peers by the core).
    pub(crate) fn record_conversion(&mut self, since_epoch: Duration, delivered_at: Duration) {
        self.window.advance(since_epoch);
        self.window.record_conversion_of(delivered_at);
    }

    /// Whether this route, healthy and under automatic control, converts worse than
    /// `min_ratio` x its group's pooled conversion rate (`group_rate`), on `mature`
    /// (deliveries, conversions) old enough to have converted.
    pub(crate) fn converts_too_little(
        &self,
        policy: &Policy,
        mature: (u32, u32),
        group_rate: f64,
        min_ratio: f64,
    ) -> bool {
        let (deliveries, conversions) = mature;
        self.automatic()
            && self.state == RouteState::Healthy
            && deliveries >= policy.health.min_volume
            && f64::from(conversions) / f64::from(deliveries) < min_ratio * group_rate
    }

    /// Whether the route, healthy and automatic, can be tripped at all now.
    pub(crate) fn trippable(&self) -> bool {
        self.automatic() && self.state == RouteState::Healthy
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
        // Like resilience4j's half-open state, a probing period is judged on at least as many
        // probes as a restore needs: one slow or unlucky probe is not a verdict.
        if p.attempts >= policy.probe.successes && rate > policy.trip.failure_rate {
            return Verdict::Changed(self.eject(policy, StateReason::ProbeFailed, now, rng));
        }
        if p.successes >= policy.probe.successes && rate <= policy.probe.recover_failure_rate {
            self.state = RouteState::Healthy;
            self.healthy_since = now;
            self.restored_at = Some(now);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ok: bool) -> Judged {
        Judged::Outcome {
            outcome: if ok {
                AttemptOutcome::Delivered
            } else {
                AttemptOutcome::Failed(crate::adapter::FailureKind::Unavailable)
            },
            latency: Duration::from_secs(1),
            probe: false,
        }
    }

    fn drain(l: &mut Ledger) -> Vec<bool> {
        // What the core applies: outcomes, in order (no evidence is skipped).
        std::iter::from_fn(|| l.next_ready())
            .filter_map(|j| match j {
                Judged::Outcome { outcome, .. } => Some(outcome == AttemptOutcome::Delivered),
                Judged::NoEvidence => None,
            })
            .collect()
    }

    #[test]
    fn the_ledger_releases_judgements_in_launch_order() {
        let mut l = Ledger::default();
        let (a, b, c) = (l.launch(), l.launch(), l.launch());
        // A fast failure of the last attempt waits for the two before it.
        assert!(l.judge(c, outcome(false)).is_none());
        assert!(drain(&mut l).is_empty());
        // The oldest comes straight back.
        assert!(matches!(
            l.judge(a, outcome(true)),
            Some(Judged::Outcome { .. })
        ));
        assert!(drain(&mut l).is_empty());
        assert!(matches!(
            l.judge(b, Judged::NoEvidence),
            Some(Judged::NoEvidence)
        ));
        // b was no evidence itself, but unblocks c.
        assert_eq!(drain(&mut l), [false]);
        assert_eq!(l.pending(), 0);
        // Judging twice, or an attempt already released, changes nothing.
        assert!(l.judge(a, outcome(false)).is_none());
        let d = l.launch();
        let e = l.launch();
        assert!(l.judge(e, outcome(true)).is_none());
        assert!(l.judge(e, outcome(false)).is_none());
        assert!(l.judge(d, outcome(false)).is_some());
        assert_eq!(drain(&mut l), [true]);
    }
}
