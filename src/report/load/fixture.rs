//! A hand-built load test for the views' unit tests, attached to a clone of the report's
//! simulated fixture ([`crate::report::chart::fixture::summary`]).
//!
//! [`summary`]: 60 one-second intervals of arrival phase and 3 of drain. The target ramps from
//! 100/s to 1,000/s over the first 36 s and holds; the router keeps up to 700/s, then saturates:
//! in flight climbs to the cap of 2,000 and arrivals are dropped; the drain ends with some still
//! in flight (cut off).
//! Its figures add up (conservation holds). [`empty`]: a run interrupted before its first
//! interval ended: no sample, no latency, no resource figures.

use std::sync::OnceLock;

use crate::metrics::RunSummary;
use crate::metrics::load::{
    ArrivalCounts, LOAD_FORMAT_VERSION, LoadSample, LoadSummary, OutcomeCounts, Percentiles,
};

/// Arrival-phase intervals (one second each).
pub(crate) const SECONDS: usize = 60;
/// Drain intervals after them.
pub(crate) const DRAIN: usize = 3;
/// The in-flight cap (`--max-in-flight`).
pub(crate) const CAP: u64 = 2_000;

fn percentiles(count: u64, p50: f64, p99: f64, p999: f64, max: f64) -> Percentiles {
    Percentiles {
        count,
        mean: p50 * 1.1,
        p50,
        p99,
        p999,
        max,
    }
}

/// The samples of [`summary`]'s load test.
fn series() -> Vec<LoadSample> {
    let mut out = Vec::with_capacity(SECONDS + DRAIN);
    let mut in_flight = 0u64;
    for i in 0..SECONDS + DRAIN {
        let t = (i + 1) as f64;
        let draining = i >= SECONDS;
        let target = if draining {
            0.0
        } else {
            (100.0 + 25.0 * i as f64).min(1_000.0)
        };
        // Up to 700/s the router keeps up; beyond, the excess piles up in flight until the
        // cap, and what does not fit is dropped.
        let served = target.min(700.0);
        let excess = target - served;
        let room = CAP.saturating_sub(in_flight) as f64;
        let admitted_excess = excess.min(room);
        let dropped = (excess - admitted_excess).round() as u64;
        let achieved = target - dropped as f64;
        in_flight += admitted_excess as u64;
        let completed = if draining {
            let done = in_flight.min(600);
            in_flight -= done;
            done as f64
        } else {
            served
        };
        out.push(LoadSample {
            t,
            target_rate: target,
            achieved_rate: achieved,
            completed_rate: completed,
            in_flight,
            dropped,
            // Nothing had ended by the end of the first interval.
            success_rate: (i > 0 && completed > 0.0)
                .then(|| 0.999 - 0.0005 * (in_flight as f64 / CAP as f64)),
            overhead_p99: (i > 0 && completed > 0.0).then_some(180.0 + 0.4 * in_flight as f64),
            cpu: (i > 0).then(|| (0.2 + 0.5 * target / 1_000.0).min(0.95)),
        });
    }
    out
}

/// [`summary`]'s load test.
pub(crate) fn load() -> LoadSummary {
    let series = series();
    let intended: u64 = series.iter().map(|s| s.target_rate as u64).sum();
    let dropped: u64 = series.iter().map(|s| s.dropped).sum();
    let issued = intended - dropped;
    // A fifth of the drops were late, the rest found the cap.
    let dropped_late = dropped / 5;
    let arrivals = ArrivalCounts {
        intended,
        issued,
        dropped_late,
        dropped_in_flight: dropped - dropped_late,
    };
    let cut_off = series.last().map_or(0, |s| s.in_flight);
    let failed = 37;
    let caller_gave_up = 12;
    let outcomes = OutcomeCounts {
        delivered: issued - cut_off - failed - caller_gave_up,
        failed,
        caller_gave_up,
        cut_off,
        conversions: (issued * 4) / 5,
    };
    let peak = series.iter().map(|s| s.in_flight).max().unwrap_or(0);
    LoadSummary {
        version: LOAD_FORMAT_VERSION,
        speed: 10.0,
        threads: 2,
        cores: 8,
        duration: SECONDS as f64,
        drain: DRAIN as f64,
        interrupted: false,
        target_rate: intended as f64 / SECONDS as f64,
        achieved_rate: issued as f64 / SECONDS as f64,
        arrivals,
        outcomes,
        peak_in_flight: peak,
        max_in_flight: CAP,
        issue_lag: percentiles(issued, 38.0, 4_120.0, 612_000.0, 998_000.0),
        time_to_verify: percentiles(
            outcomes.delivered,
            3_450_000.0,
            15_800_000.0,
            19_900_000.0,
            24_100_000.0,
        ),
        decision: percentiles(issued, 9.0, 57.0, 310.0, 2_480.0),
        overhead: percentiles(issued, 212.0, 1_180.0, 8_650.0, 41_300.0),
        peak_rss_bytes: Some(185 * 1024 * 1024 + 300 * 1024),
        cpu_seconds: Some(143.56),
        cpu_utilisation: Some(143.56 / ((SECONDS + DRAIN) as f64 * 8.0)),
        series,
    }
}

/// The report fixture with [`load`] attached.
pub(crate) fn summary() -> &'static RunSummary {
    static SUMMARY: OnceLock<RunSummary> = OnceLock::new();
    SUMMARY.get_or_init(|| {
        let mut s = crate::report::chart::fixture::summary().clone();
        s.load = Some(load());
        s
    })
}

/// A load test interrupted at once: no sample ended, nothing was measured, the OS said nothing
/// about memory or CPU.
pub(crate) fn empty_load() -> LoadSummary {
    LoadSummary {
        version: LOAD_FORMAT_VERSION,
        speed: 1.0,
        threads: 1,
        cores: 2,
        duration: 0.2,
        drain: 0.0,
        interrupted: true,
        target_rate: 0.0,
        achieved_rate: 0.0,
        arrivals: ArrivalCounts::default(),
        outcomes: OutcomeCounts::default(),
        peak_in_flight: 0,
        max_in_flight: 10_000,
        issue_lag: Percentiles::default(),
        time_to_verify: Percentiles::default(),
        decision: Percentiles::default(),
        overhead: Percentiles::default(),
        peak_rss_bytes: None,
        cpu_seconds: None,
        cpu_utilisation: None,
        series: Vec::new(),
    }
}

/// The report fixture with [`empty_load`] attached.
pub(crate) fn empty() -> &'static RunSummary {
    static SUMMARY: OnceLock<RunSummary> = OnceLock::new();
    SUMMARY.get_or_init(|| {
        let mut s = crate::report::chart::fixture::summary().clone();
        s.load = Some(empty_load());
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_adds_up_and_saturates() {
        let l = load();
        assert_eq!(l.check_conservation(), Ok(()));
        assert_eq!(l.series.len(), SECONDS + DRAIN);
        // A ramp, then drops once in flight reaches the cap.
        let first_drop = l.series.iter().position(|s| s.dropped > 0).unwrap();
        assert!(first_drop > 20 && first_drop < SECONDS, "{first_drop}");
        assert_eq!(l.series[first_drop].in_flight, CAP);
        assert!(l.arrivals.dropped_late > 0 && l.arrivals.dropped_in_flight > 0);
        assert_eq!(l.peak_in_flight, CAP);
        // The drain's limit ran out with verifications in flight.
        assert!(l.outcomes.cut_off > 0);
        assert_eq!(l.series[0].success_rate, None);
        assert_eq!(empty_load().check_conservation(), Ok(()));
    }
}
