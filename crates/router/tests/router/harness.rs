//! Shared test harness: scripted providers, a recorder that keeps every event as JSON, small
//! worlds (routes in any country and number type) and traffic drivers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failover_router::policy::{Policy, Strategy};
use failover_router::{
    Attempt, AttemptFuture, AttemptOutcome, Country, Destination, EventSink, FailureKind,
    NumberType, ProviderAdapter, RouteSpec, Router, RouterEvent, RoutingTable, VerificationId,
    VerificationOutcome, VerificationRequest, VerificationStatus,
};
use serde_json::Value;

/// What a provider does with one attempt: wait, then resolve (or never, for a black hole).
/// The second argument counts the provider's calls, from 0.
pub(crate) type Script = dyn Fn(&Attempt, u64) -> (Duration, Option<AttemptOutcome>) + Send + Sync;

pub(crate) struct Scripted {
    pub(crate) script: Arc<Script>,
    pub(crate) calls: AtomicU64,
}

impl Scripted {
    pub(crate) fn adapter(script: Arc<Script>) -> Arc<dyn ProviderAdapter> {
        Arc::new(Scripted {
            script,
            calls: AtomicU64::new(0),
        })
    }
}

impl ProviderAdapter for Scripted {
    fn send(&self, attempt: Attempt) -> AttemptFuture {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let (delay, outcome) = (self.script)(&attempt, n);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            match outcome {
                Some(o) => o,
                None => std::future::pending().await,
            }
        })
    }
}

pub(crate) fn ok(ms: u64) -> (Duration, Option<AttemptOutcome>) {
    (Duration::from_millis(ms), Some(AttemptOutcome::Delivered))
}

pub(crate) fn fail(ms: u64, kind: FailureKind) -> (Duration, Option<AttemptOutcome>) {
    (
        Duration::from_millis(ms),
        Some(AttemptOutcome::Failed(kind)),
    )
}

/// Never resolves.
pub(crate) fn black_hole() -> (Duration, Option<AttemptOutcome>) {
    (Duration::ZERO, None)
}

/// Which events a [`Recorder`] keeps.
pub(crate) type Keep = fn(&RouterEvent<'_>) -> bool;

/// Keeps every event as JSON, the way an audit file would (or, built with
/// [`Recorder::keeping`], only the events a filter selects: serialising every event of a
/// high-rate run costs more than the run).
#[derive(Default)]
pub(crate) struct Recorder(pub(crate) Mutex<Vec<Value>>, pub(crate) Option<Keep>);

impl EventSink for Recorder {
    fn emit(&self, event: &RouterEvent<'_>) {
        if self.1.is_some_and(|keep| !keep(event)) {
            return;
        }
        let value = serde_json::to_value(event).unwrap();
        self.0.lock().unwrap().push(value);
    }
}

impl Recorder {
    pub(crate) fn keeping(keep: Keep) -> Self {
        Recorder(Mutex::new(Vec::new()), Some(keep))
    }

    pub(crate) fn of_type(&self, t: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == t)
            .cloned()
            .collect()
    }

    pub(crate) fn transitions(&self, route: u32) -> Vec<(String, String)> {
        self.of_type("state_change")
            .iter()
            .filter(|e| e["route"] == route)
            .map(|e| {
                (
                    e["to"].as_str().unwrap().to_owned(),
                    e["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    pub(crate) fn chosen_counts(&self, routes: usize) -> Vec<usize> {
        let mut c = vec![0; routes];
        for d in self.of_type("decision") {
            if let Some(r) = d["chosen"].as_u64() {
                c[r as usize] += 1;
            }
        }
        c
    }
}

/// A route of a test world. Defaults (see [`r`]): DE mobile, cost 0.01, priority 0, weight 1.
pub(crate) struct Route<'a> {
    pub(crate) provider: &'a str,
    pub(crate) cost: f64,
    pub(crate) priority: u32,
    pub(crate) weight: f64,
    pub(crate) domains: &'a [&'a str],
    pub(crate) country: Country,
    pub(crate) number_type: NumberType,
}

pub(crate) fn r(provider: &str) -> Route<'_> {
    Route {
        provider,
        cost: 0.01,
        priority: 0,
        weight: 1.0,
        domains: &[],
        country: de(),
        number_type: NumberType::Mobile,
    }
}

pub(crate) struct World {
    pub(crate) router: Router,
    pub(crate) events: Arc<Recorder>,
}

pub(crate) fn de() -> Country {
    Country::new("DE").unwrap()
}

pub(crate) fn us() -> Country {
    Country::new("US").unwrap()
}

/// The providers of `routes`, each once, in order of first appearance.
fn providers<'a>(routes: &[Route<'a>]) -> Vec<&'a str> {
    let mut providers: Vec<&str> = Vec::new();
    for r in routes {
        if !providers.contains(&r.provider) {
            providers.push(r.provider);
        }
    }
    providers
}

/// A world whose providers follow `scripts`: one script per provider, in order of first
/// appearance in `routes` (one per route when every route has its own provider). A script
/// serving several routes tells them apart by the attempt's route, country or number type.
pub(crate) fn world(
    routes: &[Route<'_>],
    scripts: Vec<Arc<Script>>,
    policy: Policy,
    seed: u64,
) -> World {
    let adapters = scripts.into_iter().map(Scripted::adapter).collect();
    let events = Arc::new(Recorder::default());
    world_with(routes, adapters, policy, seed, events.clone(), events)
}

/// Like [`world`], with a recorder that keeps only what `keep` selects.
pub(crate) fn world_keeping(
    routes: &[Route<'_>],
    scripts: Vec<Arc<Script>>,
    policy: Policy,
    seed: u64,
    keep: Keep,
) -> World {
    let adapters = scripts.into_iter().map(Scripted::adapter).collect();
    let events = Arc::new(Recorder::keeping(keep));
    world_with(routes, adapters, policy, seed, events.clone(), events)
}

/// The general form: any adapters (one per provider, as for [`world`]) and any sink; `events`
/// is the recorder the world reports (the sink normally feeds it).
pub(crate) fn world_with(
    routes: &[Route<'_>],
    adapters: Vec<Arc<dyn ProviderAdapter>>,
    policy: Policy,
    seed: u64,
    events: Arc<Recorder>,
    sink: Arc<dyn EventSink>,
) -> World {
    let providers = providers(routes);
    assert_eq!(
        providers.len(),
        adapters.len(),
        "one adapter per provider: {providers:?}"
    );
    let specs: Vec<RouteSpec> = routes
        .iter()
        .map(|r| RouteSpec {
            provider: r.provider.into(),
            country: r.country,
            number_type: r.number_type,
            cost: r.cost,
            priority: r.priority,
            weight: r.weight,
            failure_domains: r.domains.iter().map(|d| d.to_string()).collect(),
        })
        .collect();
    let table = RoutingTable::new(&providers, &specs).unwrap();
    let mut b = Router::builder(table, policy).sink(sink).seed(seed);
    for (p, a) in providers.iter().zip(adapters) {
        b = b.adapter(p, a);
    }
    World {
        router: b.build().unwrap(),
        events,
    }
}

/// A DE mobile verification.
pub(crate) fn request(id: u64) -> VerificationRequest {
    request_to(id, de(), NumberType::Mobile)
}

/// A verification to any country and number type.
pub(crate) fn request_to(
    id: u64,
    country: Country,
    number_type: NumberType,
) -> VerificationRequest {
    let prefix = match country.as_str() {
        "DE" => "+49",
        "US" => "+1",
        _ => "+99",
    };
    VerificationRequest {
        id: VerificationId(id),
        destination: Destination::new(format!("{prefix}15112345{id:03}")),
        country,
        number_type,
        use_case: None,
    }
}

/// Starts `n` verifications `every` apart, each in its own task, and waits for all.
pub(crate) async fn drive(
    router: &Router,
    first_id: u64,
    n: u64,
    every: Duration,
) -> Vec<VerificationStatus> {
    drive_outcomes(router, first_id, n, 1, every)
        .await
        .into_iter()
        .map(|o| o.status)
        .collect()
}

/// Starts `n` DE mobile verifications, `per_tick` at a time every `tick` (so rates above one
/// per millisecond, the timer's resolution, are possible), and waits for all.
pub(crate) async fn drive_outcomes(
    router: &Router,
    first_id: u64,
    n: u64,
    per_tick: u64,
    tick: Duration,
) -> Vec<VerificationOutcome> {
    let mut handles = Vec::new();
    for i in 0..n {
        let r = router.clone();
        handles.push(tokio::spawn(async move {
            r.verify(request(first_id + i)).await
        }));
        if (i + 1) % per_tick == 0 {
            tokio::time::sleep(tick).await;
        }
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

pub(crate) fn script(
    f: impl Fn(&Attempt, u64) -> (Duration, Option<AttemptOutcome>) + Send + Sync + 'static,
) -> Arc<Script> {
    Arc::new(f)
}

pub(crate) fn healthy() -> Arc<Script> {
    script(|_, _| ok(2000))
}

pub(crate) fn down() -> Arc<Script> {
    script(|_, _| fail(50, FailureKind::Unavailable))
}

pub(crate) fn priority_policy() -> Policy {
    Policy {
        strategy: Strategy::Priority,
        exploration: 0.0,
        ..Policy::default()
    }
}

pub(crate) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

pub(crate) fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}
