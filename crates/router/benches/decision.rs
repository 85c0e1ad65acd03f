//! Router decision cost and full `verify` cost against an instant adapter, with 10, 100 and
//! 1000 routes in the table. Every table has ten providers per (country, number type), so the
//! candidate set is the same size throughout: a flat line across table sizes shows that
//! candidates are looked up through the index, not scanned.
//!
//! Run: `cargo bench -p failover-router --bench decision`; with `--features metrics`, the
//! routers record their metrics into a Prometheus recorder installed for the whole bench (no
//! HTTP listener), so the figures include what a service pays for them.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use failover_router::{Country, Destination, NumberType, VerificationId, VerificationRequest};

mod common;
use common::router;

fn request(i: u64) -> VerificationRequest {
    VerificationRequest {
        id: VerificationId(i),
        destination: Destination::new("+4915112345678"),
        country: Country::new("US").unwrap(),
        number_type: NumberType::Mobile,
        use_case: None,
    }
}

/// Installs `metrics-exporter-prometheus`'s recorder globally, as a service would, before any
/// router is built (a router registers its series when it is built).
#[cfg(feature = "metrics")]
fn install_recorder() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the bench installs the only recorder");
    // Upkeep drains histogram samples into their summaries, as the exporter's own task does
    // every 5 s: without it the samples of millions of iterations would pile up in memory.
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            handle.run_upkeep();
        }
    });
}

fn benches(c: &mut Criterion) {
    #[cfg(feature = "metrics")]
    install_recorder();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("decision");
    for n in [10, 100, 1000] {
        let r = rt.block_on(async { router(n) });
        let req = request(1);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| r.dry_run(&req))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("verify");
    for n in [10, 100, 1000] {
        let r = rt.block_on(async { router(n) });
        let mut i = 0;
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.to_async(&rt).iter(|| {
                i += 1;
                let req = request(i);
                let r = r.clone();
                async move { r.verify(req).await }
            })
        });
    }
    g.finish();
}

criterion_group!(decision, benches);
criterion_main!(decision);
