//! Records folded into fixed-size aggregates as they stream by: per route, totals, one row of
//! counts per time bucket and a log-binned latency histogram; for the traffic, arrivals per
//! bucket and the mix. Memory is bounded by routes x buckets (and 0.2 %-wide latency bins per
//! route), never by the number of records.

use std::collections::BTreeMap;
use std::time::Duration;

use failover_router::{Country, NumberType};

use super::records::{Outcome, Record};

/// Most time buckets a fit keeps (a week at 1-minute buckets is 10,080).
pub const MAX_BUCKETS: usize = 1_000_000;
/// Latency bins: 0.2 % wide from 1 ms to about 3.6 h (1 ms x 1.002^8200).
const BIN_RATIO: f64 = 1.002;
const BIN_FLOOR: f64 = 1e-3;
const BINS: usize = 8_200;

/// One route's counts over a span of time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    pub attempts: u64,
    pub delivered: u64,
    /// Refused or failed before any delivery (unavailable, rejected, rate limited, no
    /// inventory).
    pub fast_errors: u64,
    pub rate_limited: u64,
    /// Failure receipts: lost messages.
    pub undelivered: u64,
    pub timeouts: u64,
    /// Timed-out attempts whose receipt came later (their latency is known).
    pub late: u64,
    pub invalid: u64,
    pub cost: f64,
    pub costed: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome, cost: Option<f64>) {
        self.attempts += 1;
        match outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::FastError { rate_limited } => {
                self.fast_errors += 1;
                self.rate_limited += u64::from(rate_limited);
            }
            Outcome::Undelivered => self.undelivered += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::InvalidDestination => self.invalid += 1,
        }
        if let Some(c) = cost {
            self.cost += c;
            self.costed += 1;
        }
    }

    pub fn merge(&mut self, o: &Counts) {
        self.attempts += o.attempts;
        self.delivered += o.delivered;
        self.fast_errors += o.fast_errors;
        self.rate_limited += o.rate_limited;
        self.undelivered += o.undelivered;
        self.timeouts += o.timeouts;
        self.late += o.late;
        self.invalid += o.invalid;
        self.cost += o.cost;
        self.costed += o.costed;
    }

    /// Timeouts never answered, even late: black holes, or deliveries slower than the grace.
    pub fn silent(&self) -> u64 {
        self.timeouts.saturating_sub(self.late)
    }

    /// Attempts that failed on the route's account: fast errors, losses, silences.
    pub fn failures(&self) -> u64 {
        self.fast_errors + self.undelivered + self.silent()
    }

    /// Attempts the route's world judged (invalid numbers are the user's).
    pub fn judged(&self) -> u64 {
        self.attempts - self.invalid
    }
}

/// One route's aggregates.
#[derive(Clone, Debug, Default)]
pub struct RouteAggregate {
    pub total: Counts,
    pub buckets: Vec<Counts>,
    /// Latency histogram: bin index -> count (allocated at the first sample).
    bins: Vec<u64>,
}

impl RouteAggregate {
    fn bucket(&mut self, i: usize) -> &mut Counts {
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, Counts::default());
        }
        &mut self.buckets[i]
    }

    fn latency(&mut self, seconds: f64) {
        if self.bins.is_empty() {
            self.bins = vec![0; BINS];
        }
        let i = if seconds <= BIN_FLOOR {
            0
        } else {
            ((seconds / BIN_FLOOR).ln() / BIN_RATIO.ln()) as usize
        };
        self.bins[i.min(BINS - 1)] += 1;
    }

    /// The latency samples (delivered and late deliveries) as (bin midpoint, count), ascending.
    pub fn latencies(&self) -> Vec<(f64, u64)> {
        self.bins
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(i, &n)| (BIN_FLOOR * BIN_RATIO.powf(i as f64 + 0.5), n))
            .collect()
    }
}

/// What the traffic did.
#[derive(Clone, Debug, Default)]
pub struct TrafficAggregate {
    pub arrivals: Vec<u64>,
    pub mix: BTreeMap<(Country, NumberType, Option<String>), u64>,
}

/// Everything the fit needs, folded from the records.
#[derive(Clone, Debug)]
pub struct Aggregate {
    pub bucket: Duration,
    /// Time of bucket 0's start (seconds, the records' clock).
    pub origin: Option<f64>,
    /// End of the last record (seconds since `origin`).
    pub span: f64,
    pub routes: Vec<RouteAggregate>,
    pub traffic: TrafficAggregate,
    pub records: u64,
}

impl Aggregate {
    pub fn new(bucket: Duration) -> Self {
        Aggregate {
            bucket,
            origin: None,
            span: 0.0,
            routes: Vec::new(),
            traffic: TrafficAggregate::default(),
            records: 0,
        }
    }

    /// The bucket of time `at`, or an error past [`MAX_BUCKETS`].
    fn index(&mut self, at: f64) -> Result<usize, String> {
        let b = self.bucket.as_secs_f64();
        let origin = *self.origin.get_or_insert((at / b).floor() * b);
        let since = (at - origin).max(0.0);
        self.span = self.span.max(since);
        let i = (since / b) as usize;
        if i >= MAX_BUCKETS {
            return Err(format!(
                "the records span more than {MAX_BUCKETS} buckets of {}: use a larger --bucket",
                failover_router::duration::format(self.bucket)
            ));
        }
        Ok(i)
    }

    fn route(&mut self, r: usize) -> &mut RouteAggregate {
        if r >= self.routes.len() {
            self.routes.resize_with(r + 1, RouteAggregate::default);
        }
        &mut self.routes[r]
    }

    /// Folds one record in.
    pub fn add(&mut self, record: Record) -> Result<(), String> {
        self.records += 1;
        match record {
            Record::Arrival {
                at,
                country,
                number_type,
                use_case,
            } => {
                let i = self.index(at)?;
                let a = &mut self.traffic.arrivals;
                if i >= a.len() {
                    a.resize(i + 1, 0);
                }
                a[i] += 1;
                *self
                    .traffic
                    .mix
                    .entry((country, number_type, use_case))
                    .or_default() += 1;
            }
            Record::Attempt {
                at,
                route,
                outcome,
                latency,
                cost,
            } => {
                let i = self.index(at)?;
                self.span = self.span.max(at + latency - self.origin.unwrap_or(0.0));
                let r = self.route(route);
                r.total.add(outcome, cost);
                r.bucket(i).add(outcome, None);
                if outcome == Outcome::Delivered {
                    r.latency(latency);
                }
            }
            Record::Late { at, route, latency } => {
                let i = self.index(at)?;
                let r = self.route(route);
                r.total.late += 1;
                r.bucket(i).late += 1;
                r.latency(latency);
            }
        }
        Ok(())
    }

    /// Number of buckets covering the records.
    pub fn buckets(&self) -> usize {
        (self.span / self.bucket.as_secs_f64()).ceil().max(1.0) as usize
    }
}
