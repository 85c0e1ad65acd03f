//! `failover-lab fit` throughput and memory: N attempt records (10 million by default) through
//! the whole fit (read, aggregate, fit every route, detect incidents), streamed from an
//! attempts CSV written first to a temporary file.
//!
//! The records: 20 routes (5 providers x 4 countries), one day, exponential gaps, a fast-error
//! rate of 0.5 %, a loss of 1 %, lognormal latencies (median 3 s, sigma 0.8), and one
//! provider erroring at 40 % for an hour, so the fit has an incident to find.
//!
//! Run: `cargo bench --bench fit` (10 million records) or `cargo bench --bench fit -- 1000000`.
//! Prints records/s and the peak RSS of the fit (the generator holds nothing).

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use failover_lab::fit::{FitOptions, fit};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

const PROVIDERS: [&str; 5] = ["atlas", "beacon", "corvid", "delta", "echo"];
const COUNTRIES: [&str; 4] = ["US", "GB", "DE", "FR"];

fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss as f64 / 1024.0
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("attempts.csv");
    let started = Instant::now();
    {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        writeln!(
            out,
            "time,provider,country,number_type,outcome,latency,cost"
        )
        .unwrap();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let latency = LogNormal::new(3f64.ln(), 0.8).unwrap();
        let rate = n as f64 / 86_400.0;
        let mut t = 0.0;
        for _ in 0..n {
            t += -(1.0 - rng.random::<f64>()).ln() / rate;
            let p = rng.random_range(0..PROVIDERS.len());
            let c = rng.random_range(0..COUNTRIES.len());
            let incident = p == 2 && (36_000.0..39_600.0).contains(&t);
            let u: f64 = rng.random();
            let (outcome, lat) = if u < if incident { 0.4 } else { 0.005 } {
                ("unavailable", 0.2)
            } else if u < 0.015 + if incident { 0.4 } else { 0.0 } {
                ("undelivered", latency.sample(&mut rng))
            } else {
                ("delivered", latency.sample(&mut rng))
            };
            writeln!(
                out,
                "{t:.3},{},{},mobile,{outcome},{lat:.3},0.01",
                PROVIDERS[p], COUNTRIES[c]
            )
            .unwrap();
        }
        out.flush().unwrap();
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "wrote {n} records ({:.0} MiB) in {:.1} s",
        bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
    let before = peak_rss_mib();
    let started = Instant::now();
    let run = fit(
        &[path],
        &FitOptions {
            bucket: Duration::from_secs(60),
            max_bad_share: 0.0,
            policy: None,
        },
    )
    .unwrap_or_else(|e| panic!("{:?}", e.problems));
    let wall = started.elapsed().as_secs_f64();
    let incidents: usize = run.model.routes.iter().map(|r| r.incidents.len()).sum();
    println!(
        "fit: {} records in {wall:.2} s = {:.0} records/s; {} routes, {incidents} incident \
         windows; peak RSS {:.1} MiB (before the fit {before:.1} MiB)",
        run.records,
        run.records as f64 / wall,
        run.model.routes.len(),
        peak_rss_mib()
    );
}
