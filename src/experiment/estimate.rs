//! The work a run will do, estimated before it starts, and the documented limits above which
//! the lab refuses to start it without `--allow-large`.
//!
//! A scenario is input, often from a pull request: a 1 µs bucket over an hour asks for 3.6e9
//! time-series rows up front, a million verifications a second over a year for 3e13
//! verifications. Better to say so in a second than to be killed by the OOM killer an hour in.

use std::time::Duration;

use failover_router::Policy;

use crate::scenario::{Arrivals, CompiledScenario};
use crate::sim::CONVERSION_HORIZON;

/// Most verifications one run may simulate without `--allow-large`: a simulated day at about
/// 2,300 a second, minutes of CPU per run.
pub const MAX_VERIFICATIONS: f64 = 2e8;

/// Most time-series buckets one run may allocate without `--allow-large` (each costs about
/// 1.5 KiB of recorder memory per run in flight: 100,000 is ~150 MB).
pub const MAX_BUCKETS: f64 = 1e5;

/// What one run of a scenario will do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    /// Expected verifications (legitimate and fraudulent) per run.
    pub verifications: f64,
    /// Time-series buckets allocated per run: over `duration` and the drain after it (see
    /// [`drain`]).
    pub buckets: f64,
}

impl Work {
    /// The estimate for one run of `world`.
    pub fn of(world: &CompiledScenario) -> Work {
        let duration = world.duration;
        let legitimate = match &world.traffic.arrivals {
            Arrivals::Trace(t) => t.len() as f64,
            Arrivals::Poisson(profile) => integrate(|t| profile.rate_at(t), duration),
        };
        let fraud: f64 = world
            .traffic
            .fraud
            .iter()
            .map(|f| f.rate * f.end.saturating_sub(f.start).as_secs_f64())
            .sum();
        let span = duration.saturating_add(drain(world));
        Work {
            verifications: legitimate + fraud,
            buckets: (span.as_secs_f64() / world.bucket.as_secs_f64().max(1e-9)).ceil(),
        }
    }

    /// What exceeds the limits, each as a sentence naming the estimate, the limit and what to
    /// change; empty when the run may start.
    pub fn over_limits(&self, runs: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.verifications > MAX_VERIFICATIONS {
            out.push(format!(
                "one run would simulate about {:.3e} verifications (limit {MAX_VERIFICATIONS:.0e} \
                 per run{}): shorten the duration or lower the rate",
                self.verifications,
                if runs > 1 {
                    format!(", and this command makes {runs} runs")
                } else {
                    String::new()
                }
            ));
        }
        if self.buckets > MAX_BUCKETS {
            out.push(format!(
                "one run would allocate {:.3e} time-series buckets (limit {MAX_BUCKETS:.0e}): \
                 use a longer `bucket`",
                self.buckets
            ));
        }
        out
    }
}

/// The longest a run of `world` can go on after `duration`, which its time series covers too:
/// the last verifications run to their deadline, users convert up to [`CONVERSION_HORIZON`]
/// after the end, and attempts still pending are then watched for `late_delivery_grace`.
pub fn drain(world: &CompiledScenario) -> Duration {
    let longest_deadline = |p: &Policy| {
        p.overrides
            .iter()
            .filter_map(|o| o.deadline)
            .fold(p.deadline, Duration::max)
    };
    world
        .policies
        .iter()
        .map(|named| {
            let p = &named.policy;
            longest_deadline(p)
                .max(CONVERSION_HORIZON)
                .saturating_add(p.late_delivery_grace)
        })
        .max()
        .unwrap_or(CONVERSION_HORIZON)
}

/// The integral of `rate` over `[0, end)`: midpoint rule on 1-second steps for runs up to a
/// day, on 2^16 steps beyond (rates are piecewise linear or constant; an estimate needs no
/// more).
fn integrate(rate: impl Fn(Duration) -> f64, end: Duration) -> f64 {
    let total = end.as_secs_f64();
    if total <= 0.0 {
        return 0.0;
    }
    let steps = total.ceil().clamp(1.0, 65_536.0) as u64;
    let step = total / steps as f64;
    (0..steps)
        .map(|i| rate(Duration::from_secs_f64((i as f64 + 0.5) * step)) * step)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_integral_of_a_constant_and_a_ramp() {
        let hour = Duration::from_secs(3600);
        assert!((integrate(|_| 50.0, hour) - 180_000.0).abs() < 1e-6);
        // A ramp from 0 to 2 per second over 10 s: 10 arrivals.
        let ramp = |t: Duration| t.as_secs_f64() / 5.0;
        assert!((integrate(ramp, Duration::from_secs(10)) - 10.0).abs() < 1e-9);
        assert_eq!(integrate(|_| 1.0, Duration::ZERO), 0.0);
    }

    /// The CI outage scenario (a black hole for four minutes of ten, 30 s buckets) with
    /// `extra` appended.
    fn ci_outage(extra: &str) -> CompiledScenario {
        let base = std::path::Path::new("scenarios/ci");
        let text = std::fs::read_to_string(base.join("outage.toml")).unwrap() + extra;
        let s =
            crate::scenario::Scenario::from_toml_str(&text, base).unwrap_or_else(|e| panic!("{e}"));
        s.compile(base).unwrap()
    }

    /// Fuzzing found it (tests/lab/properties.rs): a verification may stay open until its
    /// deadline, and the recorder allocates a time-series row per bucket up to the run's end.
    /// A generated policy with a deadline and attempt timeout of ~31 years (the duration
    /// parser's bound) against slow providers asked for 145 GB of rows and aborted the process,
    /// while the estimate, `duration / bucket`, saw a handful of buckets and let it start. The
    /// estimate now covers the drain: here a 100-day deadline.
    #[test]
    fn the_estimate_covers_the_drain_after_the_run() {
        let patient = ci_outage("\n[policies.patient]\ndeadline = \"100d\"\n");
        assert_eq!(drain(&patient), Duration::from_secs(100 * 86_400 + 120));
        let work = Work::of(&patient);
        assert_eq!(
            work.buckets,
            ((600 + 100 * 86_400 + 120) as f64 / 30.0).ceil()
        );
        assert!(!work.over_limits(1).is_empty(), "{work:?}");
        // The library's policies: the conversion horizon and the late-delivery grace.
        let shipped = ci_outage("");
        assert_eq!(
            drain(&shipped),
            CONVERSION_HORIZON + Duration::from_secs(120)
        );
        assert_eq!(
            Work::of(&shipped).buckets,
            ((600 + 3600 + 120) as f64 / 30.0).ceil()
        );
        assert!(Work::of(&shipped).over_limits(1).is_empty());
    }

    #[test]
    fn limits_name_the_estimate_and_what_to_change() {
        let ok = Work {
            verifications: 1e6,
            buckets: 1e3,
        };
        assert!(ok.over_limits(1).is_empty());
        let big = Work {
            verifications: 3.6e12,
            buckets: 3.6e9,
        };
        let why = big.over_limits(3);
        assert_eq!(why.len(), 2);
        assert!(
            why[0].contains("3.600e12") && why[0].contains("3 runs"),
            "{why:?}"
        );
        assert!(
            why[1].contains("3.600e9") && why[1].contains("bucket"),
            "{why:?}"
        );
    }
}
