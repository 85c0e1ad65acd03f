//! One router instance under sustained load, as a service runs it: a multi-thread tokio runtime
//! with 1 and then 2 worker threads, an instant in-process adapter (so every microsecond
//! measured is the router's own), and 10, 100 and 1000 routes in the table.
//!
//! Closed loop: `CLIENTS` tasks each call `verify` again as soon as the last one returns, so
//! the router is never idle and the completion rate is the rate it sustains. Every `verify` is
//! timed (with an instant adapter, its wall time is the router's overhead: the decision, the
//! launch, the outcome applied, the audit events). One more task takes a routing decision
//! (`dry_run`) every `DECISION_EVERY` and times it: a decision's latency while the clients keep
//! the core busy, contention included. Percentiles from hdr histograms (microsecond
//! resolution below a second).
//!
//! Run: `cargo bench -p failover-router --bench load` (3 s a configuration);
//! `cargo bench -p failover-router --bench load -- 10` for 10 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use failover_router::{Country, Destination, NumberType, VerificationId, VerificationRequest};
use hdrhistogram::Histogram;

mod common;
use common::{COUNTRIES, router};

/// Verifications in flight at once: enough to keep two workers busy whatever the scheduling.
const CLIENTS: usize = 64;
/// How often the decision sampler decides.
const DECISION_EVERY: Duration = Duration::from_micros(200);

/// Verification `i`, spread over the countries the table covers (at 10 routes: US only).
fn request(i: u64, routes: usize) -> VerificationRequest {
    let countries = (routes / (10 * NumberType::ALL.len())).clamp(1, COUNTRIES.len());
    VerificationRequest {
        id: VerificationId(i),
        destination: Destination::new("+4915112345678"),
        country: Country::new(COUNTRIES[i as usize % countries]).unwrap(),
        number_type: NumberType::Mobile,
        use_case: None,
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

struct Measured {
    rate: f64,
    verify: Histogram<u64>,
    decision: Histogram<u64>,
}

fn measure(workers: usize, routes: usize, seconds: f64) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move {
        let router = router(routes);
        let stop = Arc::new(AtomicBool::new(false));
        // Warm up the router's state (windows, scores) before anything is timed.
        for i in 0..10_000 {
            router.verify(request(i, routes)).await;
        }
        // Each client counts its own completions and takes its own ids, so the bench adds no
        // shared cache line for the two workers to pass back and forth.
        let clients: Vec<_> = (0..CLIENTS as u64)
            .map(|c| {
                let (router, stop) = (router.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut h = histogram();
                    let mut i = 10_000 + c;
                    let mut completed = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        router.verify(request(i, routes)).await;
                        h.saturating_record(t.elapsed().as_nanos() as u64);
                        completed += 1;
                        i += CLIENTS as u64;
                        // With an instant adapter `verify` never waits: without a yield a
                        // client would hold its worker forever, as a handler that never
                        // awaits would in a service. A service's next request is a new poll.
                        tokio::task::yield_now().await;
                    }
                    (h, completed)
                })
            })
            .collect();
        let sampler = {
            let (router, stop) = (router.clone(), stop.clone());
            tokio::spawn(async move {
                let mut h = histogram();
                let mut i = u64::MAX / 2;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let req = request(i, routes);
                    let t = Instant::now();
                    std::hint::black_box(router.dry_run(&req));
                    h.saturating_record(t.elapsed().as_nanos() as u64);
                    tokio::time::sleep(DECISION_EVERY).await;
                }
                h
            })
        };
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut verify = histogram();
        let mut completed = 0;
        for c in clients {
            let (h, n) = c.await.unwrap();
            verify.add(h).unwrap();
            completed += n;
        }
        let elapsed = started.elapsed().as_secs_f64();
        Measured {
            rate: completed as f64 / elapsed,
            verify,
            decision: sampler.await.unwrap(),
        }
    })
}

/// `p50 / p99 / p999 / max` in microseconds.
fn quantiles(h: &Histogram<u64>) -> String {
    let us = |v: u64| v as f64 / 1e3;
    format!(
        "{:.2} / {:.2} / {:.2} / {:.0}",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max())
    )
}

fn main() {
    // Cargo passes `--bench`; the one positional argument is the seconds per configuration.
    let seconds: f64 = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .and_then(|a| a.parse().ok())
        .unwrap_or(3.0);
    println!(
        "| workers | routes | verifications/s | verify us p50 / p99 / p999 / max | decision us \
         p50 / p99 / p999 / max |"
    );
    println!("|---|---|---|---|---|");
    for workers in [1, 2] {
        for routes in [10, 100, 1000] {
            let m = measure(workers, routes, seconds);
            println!(
                "| {workers} | {routes} | {:.0} | {} | {} |",
                m.rate,
                quantiles(&m.verify),
                quantiles(&m.decision)
            );
        }
    }
}
