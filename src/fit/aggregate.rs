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
/// Most routes a fit keeps (each has its latency bins, 66 KiB).
pub const MAX_ROUTES: usize = 10_000;
/// Most (route, bucket) rows of counts in all (80 bytes each: 800 MB), so no record file can
/// make the fit's memory unbounded: many routes need larger buckets.
pub const MAX_CELLS: usize = 10_000_000;
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
    /// Rows of counts allocated over every route.
    cells: usize,
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
            cells: 0,
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

    /// Route `r` with room for bucket `i`, or an error past [`MAX_ROUTES`] or [`MAX_CELLS`].
    fn route(&mut self, r: usize, i: usize) -> Result<&mut RouteAggregate, String> {
        if r >= MAX_ROUTES {
            return Err(format!(
                "the records name more than {MAX_ROUTES} routes: fit a share of them at a time"
            ));
        }
        if r >= self.routes.len() {
            self.routes.resize_with(r + 1, RouteAggregate::default);
        }
        let grow = (i + 1).saturating_sub(self.routes[r].buckets.len());
        if self.cells + grow > MAX_CELLS {
            return Err(format!(
                "routes x buckets pass {MAX_CELLS} rows of counts: use a larger --bucket (now {})",
                failover_router::duration::format(self.bucket)
            ));
        }
        self.cells += grow;
        let route = &mut self.routes[r];
        route.bucket(i);
        Ok(route)
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
                let r = self.route(route, i)?;
                r.total.add(outcome, cost);
                r.bucket(i).add(outcome, None);
                if outcome == Outcome::Delivered {
                    r.latency(latency);
                }
            }
            Record::Late { at, route, latency } => {
                let i = self.index(at)?;
                let r = self.route(route, i)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(at: f64, route: usize) -> Record {
        Record::Attempt {
            at,
            route,
            outcome: Outcome::Delivered,
            latency: 1.0,
            cost: None,
        }
    }

    /// No record file makes the fit's memory unbounded: too many routes, or too many routes x
    /// buckets, is an error naming what to change, not an allocation.
    #[test]
    fn routes_and_buckets_are_bounded() {
        let mut agg = Aggregate::new(Duration::from_secs(1));
        assert!(agg.add(attempt(0.0, MAX_ROUTES - 1)).is_ok());
        let e = agg.add(attempt(0.0, MAX_ROUTES)).unwrap_err();
        assert!(e.contains("routes"), "{e}");
        // 100 routes over 200,000 one-second buckets would be 20 million rows.
        let mut agg = Aggregate::new(Duration::from_secs(1));
        agg.add(attempt(0.0, 0)).unwrap();
        let mut failed = None;
        for r in 0..100 {
            if let Err(e) = agg.add(attempt(199_999.0, r)) {
                failed = Some((r, e));
                break;
            }
        }
        let (r, e) = failed.expect("the cap was not reached");
        assert_eq!(r, MAX_CELLS / 200_000);
        assert!(e.contains("--bucket"), "{e}");
    }
}
