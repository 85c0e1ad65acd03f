//! Per-fault detection and recovery tracking (rules in the module docs of `metrics`).

use std::time::Duration;

use failover_router::{Country, NumberType};

use super::summary::{DetectedBy, FaultImpact};
use super::{FaultWindow, RouteInfo};

/// Length of the spans the traffic-shift rule judges.
pub(crate) const SHIFT_SPAN: Duration = Duration::from_secs(10);
/// The pre-fault reference window.
pub(crate) const PRE_FAULT: Duration = Duration::from_secs(60);
/// "Below half the pre-fault share" / "back to at least half".
pub(crate) const SHIFT_FACTOR: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `start`: counting the pre-fault window.
    Before,
    /// In `[start, end)`: spans aligned on `start`, clipped to `end`.
    During,
    /// After `end`, recovery not yet found: spans aligned on `end`.
    After,
    /// Recovered: nothing more to track.
    Done,
}

#[derive(Clone, Debug)]
pub(crate) struct FaultTracker {
    name: String,
    start: Duration,
    end: Duration,
    affected_ids: Vec<u32>,
    /// Per route: affected by the fault.
    affected: Vec<bool>,
    /// Per route: serves a group that an affected route serves.
    in_scope: Vec<bool>,
    /// The groups of the scope, sorted (few: a linear scan is fastest).
    groups: Vec<(Country, NumberType)>,
    pre_affected: u64,
    pre_total: u64,
    pre_share: Option<f64>,
    phase: Phase,
    span_end: Duration,
    span_affected: u64,
    span_total: u64,
    /// Affected routes currently out of service.
    down: u32,
    detection: Option<(Duration, DetectedBy)>,
    shifted: bool,
    /// The policy reacted: an affected route was out of service at some point since `start`
    /// (already before it, or taken out after), or traffic shifted away.
    reacted: bool,
    traffic_back: bool,
    recovery: Option<Duration>,
    verifications: u64,
    failed: u64,
}

impl FaultTracker {
    pub(crate) fn new(fault: &FaultWindow, routes: &[RouteInfo]) -> Self {
        let mut affected = vec![false; routes.len()];
        for r in &fault.affected_routes {
            affected[r.index()] = true;
        }
        let mut groups: Vec<(Country, NumberType)> = fault
            .affected_routes
            .iter()
            .map(|r| {
                let info = &routes[r.index()];
                (info.country, info.number_type)
            })
            .collect();
        groups.sort();
        groups.dedup();
        let in_scope = routes
            .iter()
            .map(|r| groups.contains(&(r.country, r.number_type)))
            .collect();
        let mut affected_ids: Vec<u32> = fault.affected_routes.iter().map(|r| r.0).collect();
        affected_ids.sort_unstable();
        affected_ids.dedup();
        FaultTracker {
            name: fault.name.clone(),
            start: fault.start,
            end: fault.end,
            affected_ids,
            affected,
            in_scope,
            groups,
            pre_affected: 0,
            pre_total: 0,
            pre_share: None,
            phase: Phase::Before,
            span_end: Duration::ZERO,
            span_affected: 0,
            span_total: 0,
            down: 0,
            detection: None,
            shifted: false,
            reacted: false,
            traffic_back: false,
            recovery: None,
            verifications: 0,
            failed: 0,
        }
    }

    /// The earliest event time at which [`FaultTracker::advance`] has anything to do: events
    /// stamped before it leave the tracker as it is. Only ever grows, so a caller may skip
    /// `advance` for events before the smallest `due` it has seen.
    pub(crate) fn due(&self) -> Duration {
        match self.phase {
            Phase::Before => self.start,
            Phase::During | Phase::After => self.span_end,
            Phase::Done => Duration::MAX,
        }
    }

    /// Closes every span that ended at or before `t` and moves through the phases. Call before
    /// applying an event stamped `t`.
    pub(crate) fn advance(&mut self, t: Duration) {
        loop {
            match self.phase {
                Phase::Before => {
                    if t < self.start {
                        return;
                    }
                    self.pre_share = (self.pre_total > 0 && self.pre_affected > 0)
                        .then(|| self.pre_affected as f64 / self.pre_total as f64);
                    self.reacted = self.down > 0;
                    if self.end <= self.start {
                        self.enter_after();
                    } else {
                        self.phase = Phase::During;
                        self.span_end = (self.start + SHIFT_SPAN).min(self.end);
                        self.reset_span();
                    }
                }
                Phase::During => {
                    if t < self.span_end {
                        return;
                    }
                    if let Some(share) = self.span_share()
                        && let Some(pre) = self.pre_share
                        && share < SHIFT_FACTOR * pre
                    {
                        self.shifted = true;
                        self.reacted = true;
                        if self.detection.is_none() {
                            self.detection = Some((self.span_end, DetectedBy::TrafficShift));
                        }
                    }
                    if self.span_end >= self.end {
                        self.enter_after();
                    } else {
                        self.span_end = (self.span_end + SHIFT_SPAN).min(self.end);
                        self.reset_span();
                    }
                }
                Phase::After => {
                    if t < self.span_end {
                        return;
                    }
                    if self.shifted
                        && let Some(share) = self.span_share()
                        && let Some(pre) = self.pre_share
                        && share >= SHIFT_FACTOR * pre
                    {
                        self.traffic_back = true;
                    }
                    let at = self.span_end;
                    self.check_recovered(at);
                    self.span_end += SHIFT_SPAN;
                    self.reset_span();
                }
                Phase::Done => return,
            }
        }
    }

    fn enter_after(&mut self) {
        self.phase = Phase::After;
        self.span_end = self.end + SHIFT_SPAN;
        self.reset_span();
        self.check_recovered(self.end);
    }

    fn check_recovered(&mut self, at: Duration) {
        if self.phase == Phase::After && self.down == 0 && (!self.shifted || self.traffic_back) {
            self.recovery = Some(at);
            self.phase = Phase::Done;
        }
    }

    fn reset_span(&mut self) {
        self.span_affected = 0;
        self.span_total = 0;
    }

    fn span_share(&self) -> Option<f64> {
        (self.span_total > 0).then(|| self.span_affected as f64 / self.span_total as f64)
    }

    /// A decision sent an attempt to `route` at `t` (after [`FaultTracker::advance`]`(t)`).
    pub(crate) fn on_send(&mut self, t: Duration, route: usize) {
        if !self.in_scope[route] {
            return;
        }
        let hit = u64::from(self.affected[route]);
        match self.phase {
            Phase::Before => {
                if t >= self.start.saturating_sub(PRE_FAULT) {
                    self.pre_total += 1;
                    self.pre_affected += hit;
                }
            }
            Phase::During | Phase::After => {
                self.span_total += 1;
                self.span_affected += hit;
            }
            Phase::Done => {}
        }
    }

    /// An effective state change of `route` at `t` (after `advance(t)`).
    pub(crate) fn on_state_change(
        &mut self,
        t: Duration,
        route: usize,
        was_in_service: bool,
        in_service: bool,
        ejected: bool,
    ) {
        if !self.affected[route] {
            return;
        }
        match (was_in_service, in_service) {
            (true, false) => {
                self.down += 1;
                // After recovery was found (`Done`), a new outage is no reaction to this fault.
                self.reacted |= matches!(self.phase, Phase::During | Phase::After);
            }
            (false, true) => self.down = self.down.saturating_sub(1),
            _ => {}
        }
        if ejected && self.phase == Phase::During && self.detection.is_none() {
            self.detection = Some((t, DetectedBy::Ejection));
        }
        self.check_recovered(t);
    }

    /// A measured verification finished.
    pub(crate) fn on_finished(
        &mut self,
        started: Duration,
        country: Country,
        number_type: NumberType,
        delivered: bool,
    ) {
        if started >= self.start
            && started < self.end
            && self.groups.contains(&(country, number_type))
        {
            self.verifications += 1;
            self.failed += u64::from(!delivered);
        }
    }

    /// The impact as of `end` (spans ending after `end` are not judged).
    pub(crate) fn impact(&self, end: Duration) -> FaultImpact {
        let mut t = self.clone();
        t.advance(end);
        FaultImpact {
            name: t.name,
            start: t.start.as_secs_f64(),
            end: t.end.as_secs_f64(),
            affected_routes: t.affected_ids,
            pre_fault_share: t.pre_share,
            detection_delay: t.detection.map(|(at, _)| (at - t.start).as_secs_f64()),
            detected_by: t.detection.map(|(_, by)| by),
            traffic_shifted: t.shifted,
            reacted: t.reacted,
            recovery_delay: t
                .recovery
                .filter(|r| t.reacted && *r <= end)
                .map(|r| (r - t.end).as_secs_f64()),
            verifications_during_fault: t.verifications,
            failed_during_fault: t.failed,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.name.capacity()
            + self.affected_ids.capacity() * 4
            + self.affected.capacity()
            + self.in_scope.capacity()
            + self.groups.capacity() * std::mem::size_of::<(Country, NumberType)>()
    }
}
