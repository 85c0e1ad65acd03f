//! What a real-time load test measured (`failover-lab load`): the `load` object of
//! `summary.json`, and the fold that builds it from one record per verification and one
//! sample per interval.
//!
//! Every latency is measured from the arrival's *intended* time, the instant the open-model
//! schedule says it should have started, not from when the generator managed to issue it: a
//! stalled generator or a saturated runtime then shows up as latency (and, beyond
//! [`MAX_LAG`], as dropped arrivals), never as samples that are silently missing (coordinated
//! omission, in Gil Tene's words). Wall-clock figures are the point here, so nothing in this
//! object is reproducible run to run; its fields carry their own [`LOAD_FORMAT_VERSION`].

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Version of the `load` object's fields.
pub const LOAD_FORMAT_VERSION: u32 = 1;

/// An arrival the generator could not issue within this long of its intended time is dropped
/// (k6's dropped iterations): issuing it later would only measure the backlog.
pub const MAX_LAG: Duration = Duration::from_secs(1);

/// The `load` object of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub version: u32,
    /// The world's time runs this many times faster than the wall clock.
    pub speed: f64,
    /// The router runtime's worker threads.
    pub threads: usize,
    /// Logical cores of the machine (CPU utilisation is over all of them).
    pub cores: usize,
    /// Wall seconds of the arrival phase (shorter than planned when interrupted).
    pub duration: f64,
    /// Wall seconds spent draining in-flight verifications after the last arrival.
    pub drain: f64,
    /// Stopped early by a signal (Ctrl-C): the figures cover what ran.
    pub interrupted: bool,
    /// Arrivals the schedule intended per wall second over the arrival phase.
    pub target_rate: f64,
    /// Arrivals issued per wall second over the arrival phase.
    pub achieved_rate: f64,
    pub arrivals: ArrivalCounts,
    pub outcomes: OutcomeCounts,
    /// The most verifications in flight at once.
    pub peak_in_flight: u64,
    /// The in-flight limit beyond which arrivals are dropped (`--max-in-flight`).
    pub max_in_flight: u64,
    /// Issue time minus intended time, every issued arrival (microseconds).
    pub issue_lag: Percentiles,
    /// End of `verify` minus intended time, delivered verifications (microseconds): the time
    /// to verify a user saw, generator and runtime delays included.
    pub time_to_verify: Percentiles,
    /// Start of `verify` to its first adapter call: the first routing decision, lock waits
    /// included (microseconds).
    pub decision: Percentiles,
    /// Wall time of `verify` minus the time an adapter of the verification had an attempt
    /// outstanding: the router's own work, lock waits and audit events (microseconds).
    pub overhead: Percentiles,
    /// Peak resident set size of the process (bytes; `None` where the OS does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// CPU seconds the process used over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// `cpu_seconds` / (wall seconds x cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_utilisation: Option<f64>,
    /// One sample per interval, arrival phase and drain.
    pub series: Vec<LoadSample>,
}

/// Where every intended arrival went: `intended = issued + dropped_late + dropped_in_flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalCounts {
    pub intended: u64,
    pub issued: u64,
    /// Not issued within [`MAX_LAG`] of their intended time.
    pub dropped_late: u64,
    /// Found `max_in_flight` verifications in flight.
    pub dropped_in_flight: u64,
}

impl ArrivalCounts {
    pub fn dropped(&self) -> u64 {
        self.dropped_late + self.dropped_in_flight
    }
}

/// How every issued verification ended: `issued = delivered + failed + caller_gave_up +
/// cut_off`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub delivered: u64,
    /// Ended by the router without a delivery (any status but `delivered`).
    pub failed: u64,
    /// Dropped by their caller (`caller_timeout`).
    pub caller_gave_up: u64,
    /// Still in flight when the drain's limit ran out (or the runtime stopped): dropped.
    pub cut_off: u64,
    /// Users who typed their code in (recorded with the router) before the run ended.
    pub conversions: u64,
}

impl OutcomeCounts {
    pub fn ended(&self) -> u64 {
        self.delivered + self.failed + self.caller_gave_up + self.cut_off
    }

    /// Delivered over those that ended by themselves (not cut off).
    pub fn success_rate(&self) -> f64 {
        let judged = self.delivered + self.failed + self.caller_gave_up;
        if judged == 0 {
            0.0
        } else {
            self.delivered as f64 / judged as f64
        }
    }
}

/// Percentiles of one hdr histogram, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of nanoseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let us = |ns: u64| ns as f64 / 1e3;
        Percentiles {
            count: h.len(),
            mean: h.mean() / 1e3,
            p50: us(h.value_at_quantile(0.5)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
        }
    }
}

/// One interval of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSample {
    /// End of the interval, wall seconds since the first arrival was due.
    pub t: f64,
    /// Intended arrivals per second in the interval.
    pub target_rate: f64,
    /// Issued arrivals per second in the interval.
    pub achieved_rate: f64,
    /// Verifications ended per second in the interval.
    pub completed_rate: f64,
    /// Verifications in flight at the end of the interval.
    pub in_flight: u64,
    /// Arrivals dropped in the interval.
    pub dropped: u64,
    /// Delivered over ended in the interval (`None`: none ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// p99 of the router's overhead in the interval (microseconds; `None`: none ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p99: Option<f64>,
    /// CPU utilisation of the process over the interval, over all cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
}

/// How one issued verification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Delivered,
    Failed,
    CallerGaveUp,
}

/// One verification, as the load generator measured it (nanoseconds since the run's start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerificationRecord {
    pub intended: u64,
    pub issued: u64,
    pub started: u64,
    pub ended_at: u64,
    /// Start of `verify` to the first adapter call (`None`: no attempt was made).
    pub decision: Option<u64>,
    /// Time during which an adapter had an attempt of it outstanding, within `verify`.
    pub in_adapters: u64,
    pub ended: Ended,
}

/// Cumulative counters the sampler reads at the end of each interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub arrivals: ArrivalCounts,
    pub in_flight: u64,
    /// Process CPU time so far (`None` where the OS does not say).
    pub cpu: Option<Duration>,
}

/// Histograms of nanoseconds from 1 ns to an hour, 3 significant digits: a decision takes
/// about a microsecond, so microsecond buckets would round most of them to 0 or 1.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

fn nanos(ns: u64) -> u64 {
    ns.max(1)
}

/// Folds verification records and interval samples into a [`LoadSummary`].
pub struct LoadFold {
    issue_lag: Histogram<u64>,
    time_to_verify: Histogram<u64>,
    decision: Histogram<u64>,
    overhead: Histogram<u64>,
    outcomes: OutcomeCounts,
    peak_in_flight: u64,
    series: Vec<LoadSample>,
    // The interval being filled.
    interval_overhead: Histogram<u64>,
    interval_ended: u64,
    interval_delivered: u64,
    last: Counters,
    last_t: f64,
}

impl Default for LoadFold {
    fn default() -> Self {
        LoadFold {
            issue_lag: histogram(),
            time_to_verify: histogram(),
            decision: histogram(),
            overhead: histogram(),
            outcomes: OutcomeCounts::default(),
            peak_in_flight: 0,
            series: Vec::new(),
            interval_overhead: histogram(),
            interval_ended: 0,
            interval_delivered: 0,
            last: Counters::default(),
            last_t: 0.0,
        }
    }
}

impl LoadFold {
    pub fn record(&mut self, r: &VerificationRecord) {
        self.issue_lag
            .saturating_record(nanos(r.issued.saturating_sub(r.intended)));
        let wall = r.ended_at.saturating_sub(r.started);
        let overhead = nanos(wall.saturating_sub(r.in_adapters));
        self.overhead.saturating_record(overhead);
        self.interval_overhead.saturating_record(overhead);
        if let Some(d) = r.decision {
            self.decision.saturating_record(nanos(d));
        }
        self.interval_ended += 1;
        match r.ended {
            Ended::Delivered => {
                self.outcomes.delivered += 1;
                self.interval_delivered += 1;
                self.time_to_verify
                    .saturating_record(nanos(r.ended_at.saturating_sub(r.intended)));
            }
            Ended::Failed => self.outcomes.failed += 1,
            Ended::CallerGaveUp => self.outcomes.caller_gave_up += 1,
        }
    }

    pub fn converted(&mut self) {
        self.outcomes.conversions += 1;
    }

    /// Closes the interval ending at `t` (seconds since the start) with the counters then.
    /// Returns the sample, for a live view.
    pub fn sample(&mut self, t: f64, now: Counters, cores: usize) -> LoadSample {
        let span = (t - self.last_t).max(1e-9);
        let per_second = |n: u64| n as f64 / span;
        let a = &now.arrivals;
        let b = &self.last.arrivals;
        let cpu = match (now.cpu, self.last.cpu) {
            (Some(now), Some(before)) => {
                Some(now.saturating_sub(before).as_secs_f64() / (span * cores.max(1) as f64))
            }
            _ => None,
        };
        let sample = LoadSample {
            t,
            target_rate: per_second(a.intended - b.intended),
            achieved_rate: per_second(a.issued - b.issued),
            completed_rate: per_second(self.interval_ended),
            in_flight: now.in_flight,
            dropped: a.dropped() - b.dropped(),
            success_rate: (self.interval_ended > 0)
                .then(|| self.interval_delivered as f64 / self.interval_ended as f64),
            overhead_p99: (!self.interval_overhead.is_empty())
                .then(|| self.interval_overhead.value_at_quantile(0.99) as f64 / 1e3),
            cpu,
        };
        self.peak_in_flight = self.peak_in_flight.max(now.in_flight);
        self.series.push(sample);
        self.interval_overhead.reset();
        self.interval_ended = 0;
        self.interval_delivered = 0;
        self.last = now;
        self.last_t = t;
        sample
    }

    /// Raises the peak in flight (the generator sees every increase; samples see only ends of
    /// intervals).
    pub fn saw_in_flight(&mut self, n: u64) {
        self.peak_in_flight = self.peak_in_flight.max(n);
    }

    /// Success so far, and the overhead p99 so far (microseconds): the live view's figures.
    pub fn so_far(&self) -> (f64, f64) {
        let overhead = if self.overhead.is_empty() {
            0.0
        } else {
            self.overhead.value_at_quantile(0.99) as f64 / 1e3
        };
        (self.outcomes.success_rate(), overhead)
    }

    pub fn finish(self, run: RunFacts) -> LoadSummary {
        let mut outcomes = self.outcomes;
        outcomes.cut_off = run.cut_off;
        let phase = run.duration.max(1e-9);
        LoadSummary {
            version: LOAD_FORMAT_VERSION,
            speed: run.speed,
            threads: run.threads,
            cores: run.cores,
            duration: run.duration,
            drain: run.drain,
            interrupted: run.interrupted,
            target_rate: run.arrivals.intended as f64 / phase,
            achieved_rate: run.arrivals.issued as f64 / phase,
            arrivals: run.arrivals,
            outcomes,
            peak_in_flight: self.peak_in_flight,
            max_in_flight: run.max_in_flight,
            issue_lag: Percentiles::of(&self.issue_lag),
            time_to_verify: Percentiles::of(&self.time_to_verify),
            decision: Percentiles::of(&self.decision),
            overhead: Percentiles::of(&self.overhead),
            peak_rss_bytes: run.peak_rss_bytes,
            cpu_seconds: run.cpu.map(|c| c.as_secs_f64()),
            cpu_utilisation: run.cpu.map(|c| {
                c.as_secs_f64() / ((run.duration + run.drain).max(1e-9) * run.cores as f64)
            }),
            series: self.series,
        }
    }
}

/// The facts of the run the fold cannot see from records.
#[derive(Clone, Copy, Debug)]
pub struct RunFacts {
    pub speed: f64,
    pub threads: usize,
    pub cores: usize,
    pub duration: f64,
    pub drain: f64,
    pub interrupted: bool,
    pub arrivals: ArrivalCounts,
    pub cut_off: u64,
    pub max_in_flight: u64,
    pub peak_rss_bytes: Option<u64>,
    pub cpu: Option<Duration>,
}

impl LoadSummary {
    /// The load test's conservation law: every intended arrival was issued or dropped, and
    /// every issued verification ended exactly once (delivered, failed, given up or cut off).
    pub fn check_conservation(&self) -> Result<(), String> {
        let a = &self.arrivals;
        if a.issued + a.dropped() != a.intended {
            return Err(format!(
                "{} arrivals were intended but {} were issued and {} dropped",
                a.intended,
                a.issued,
                a.dropped()
            ));
        }
        if self.outcomes.ended() != a.issued {
            return Err(format!(
                "{} verifications were issued but {} ended",
                a.issued,
                self.outcomes.ended()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(intended: u64, started: u64, ended_at: u64, in_adapters: u64) -> VerificationRecord {
        VerificationRecord {
            intended,
            issued: started,
            started,
            ended_at,
            decision: Some(2_000),
            in_adapters,
            ended: Ended::Delivered,
        }
    }

    /// Latency counts from the intended time, so a late start is not hidden; overhead is the
    /// wall time of `verify` minus the time inside adapters.
    #[test]
    fn latency_counts_from_the_intended_time_and_overhead_excludes_adapters() {
        let mut fold = LoadFold::default();
        // Intended at 0, issued 50 ms late, verify took 100 ms of which 99 ms in adapters.
        fold.record(&record(0, 50_000_000, 150_000_000, 99_000_000));
        let arrivals = ArrivalCounts {
            intended: 1,
            issued: 1,
            ..ArrivalCounts::default()
        };
        let s = fold.finish(RunFacts {
            speed: 1.0,
            threads: 1,
            cores: 1,
            duration: 1.0,
            drain: 0.0,
            interrupted: false,
            arrivals,
            cut_off: 0,
            max_in_flight: 10,
            peak_rss_bytes: None,
            cpu: None,
        });
        let close = |a: f64, b: f64| (a - b).abs() / b < 0.001;
        assert!(
            close(s.time_to_verify.max, 150_000.0),
            "{:?}",
            s.time_to_verify
        );
        assert!(close(s.issue_lag.max, 50_000.0), "{:?}", s.issue_lag);
        assert!(close(s.overhead.max, 1_000.0), "{:?}", s.overhead);
        assert!(close(s.decision.p50, 2.0), "{:?}", s.decision);
        assert_eq!(s.check_conservation(), Ok(()));
    }

    #[test]
    fn conservation_refuses_lost_arrivals_and_lost_verifications() {
        let mut fold = LoadFold::default();
        fold.record(&record(0, 1, 2, 0));
        let facts = |intended, issued, dropped_late, cut_off| RunFacts {
            speed: 1.0,
            threads: 1,
            cores: 1,
            duration: 1.0,
            drain: 0.0,
            interrupted: false,
            arrivals: ArrivalCounts {
                intended,
                issued,
                dropped_late,
                dropped_in_flight: 0,
            },
            cut_off,
            max_in_flight: 10,
            peak_rss_bytes: None,
            cpu: None,
        };
        let summary = |f| {
            let mut fold = LoadFold::default();
            fold.record(&record(0, 1, 2, 0));
            fold.finish(f)
        };
        assert_eq!(summary(facts(3, 2, 1, 1)).check_conservation(), Ok(()));
        let e = summary(facts(4, 2, 1, 1)).check_conservation().unwrap_err();
        assert!(e.contains("4 arrivals were intended"), "{e}");
        let e = summary(facts(3, 2, 1, 0)).check_conservation().unwrap_err();
        assert!(e.contains("2 verifications were issued but 1 ended"), "{e}");
    }

    #[test]
    fn samples_are_rates_over_their_interval() {
        let mut fold = LoadFold::default();
        let counters = |intended, issued, in_flight| Counters {
            arrivals: ArrivalCounts {
                intended,
                issued,
                dropped_late: intended - issued,
                dropped_in_flight: 0,
            },
            in_flight,
            cpu: Some(Duration::from_millis(100)),
        };
        fold.sample(0.5, counters(100, 100, 7), 2);
        fold.record(&record(0, 1, 2, 0));
        let s = fold.sample(1.0, counters(300, 250, 3), 2);
        assert_eq!(s.target_rate, 400.0);
        assert_eq!(s.achieved_rate, 300.0);
        assert_eq!(s.dropped, 50);
        assert_eq!(s.completed_rate, 2.0);
        assert_eq!(s.success_rate, Some(1.0));
        assert_eq!(s.cpu, Some(0.0));
        assert_eq!(s.in_flight, 3);
        assert_eq!(fold.peak_in_flight, 7);
    }
}
