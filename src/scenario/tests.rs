use std::path::PathBuf;
use std::time::Duration;

use failover_router::policy::Strategy;
use failover_router::route::{Country, NumberType, ProviderId};

use super::*;

/// Exercises every section and every fault kind. Needs `policies/shared.toml` and
/// `latency.csv` next to it (see [`fixture_dir`]).
pub(super) const EXAMPLE: &str = r#"
format_version = 1
name = "everything"
description = "Every section of the scenario format"
seed = 42
duration = "2h"
warmup = "5m"
bucket = "30s"

[[regions]]
name = "eu-west"
latency = { kind = "lognormal", median = "40ms", p99 = "200ms" }

[[regions]]
name = "us-east"
latency = { kind = "empirical", csv = "latency.csv" }

[[countries]]
code = "DE"
carriers = [{ name = "telekom-de", share = 0.6 }, { name = "vodafone-de", share = 0.4 }]
conversion = 0.85
think_time = { kind = "gamma", shape = 2.0, scale = "10s" }
invalid_share = 0.02

[[countries]]
code = "US"
carriers = [{ name = "att-us", share = 1.0 }]

[[carriers]]
name = "telekom-de"
country = "DE"
delivery_latency = { kind = "lognormal", median = "3s", p99 = "20s" }

[[carriers]]
name = "vodafone-de"
country = "DE"
delivery_latency = { kind = "mixture", components = [
  { weight = 0.9, dist = { kind = "lognormal", median = "2s", sigma = 0.5 } },
  { weight = 0.1, dist = { kind = "pareto", scale = "10s", shape = 2.5 } },
] }
loss = 0.01

[[carriers]]
name = "att-us"
country = "US"
delivery_latency = { kind = "weibull", shape = 1.5, scale = "3s" }

[[providers]]
name = "twilio-like"
region = "us-east"
api_latency = { kind = "normal", mean = "150ms", std_dev = "30ms" }
error_rate = 0.001
rate_limit = "100/s"
failure_domains = ["agg-1"]
paths = [
  { carrier = "telekom-de", quality = 0.98 },
  { carrier = "vodafone-de", quality = 0.9, extra_latency = { kind = "exponential", mean = "1s" } },
]

[[providers]]
name = "vonage-like"
region = "eu-west"
api_latency = { kind = "uniform", min = "100ms", max = "300ms" }
rate_limit = "3000/m"
number_types = ["mobile", "landline"]
failure_domains = ["agg-1", "ic-eu"]

[providers.inventory]
numbers = 20
hold = { kind = "constant", value = "30s" }

[[providers]]
name = "sinch-like"
region = "eu-west"
api_latency = { kind = "empirical", samples = ["100ms", "120ms", "400ms"] }

[providers.inventory]
numbers = 5

[[router.routes]]
provider = "twilio-like"
country = "DE"
number_type = "mobile"
cost = 0.07
priority = 0
failure_domains = ["agg-1"]

[[router.routes]]
provider = "vonage-like"
country = "DE"
number_type = "mobile"
cost = 0.05
priority = 1

[[router.routes]]
provider = "sinch-like"
country = "DE"
number_type = "mobile"
cost = 0.06

[[router.routes]]
provider = "twilio-like"
country = "US"
number_type = "mobile"
cost = 0.01

[[router.routes]]
provider = "sinch-like"
country = "US"
number_type = "voip"
cost = 0.01

[policies.default]

[policies.aggressive]
strategy = "priority"
max_attempts = 2
attempt_timeout = "10s"

[policies.aggressive.trip]
consecutive_failures = 3

[[policies.aggressive.overrides]]
country = "US"
use_case = "login"
max_attempts = 3

[[policies.aggressive.compliance]]
country = "DE"
deny = ["sinch-like"]

[policies.shared]
file = "policies/shared.toml"

[traffic]
rate = "50/s"
diurnal = { start = "8h", points = [
  { at = "0h", factor = 0.2 },
  { at = "9h", factor = 1.0 },
  { at = "20h", factor = 1.5 },
] }
bursts = [{ start = "10m", duration = "5m", factor = 3.0 }]
mix = [
  { country = "DE", number_type = "mobile", use_case = "login", weight = 0.6 },
  { country = "US", number_type = "mobile", use_case = "signup", weight = 0.3 },
  { country = "US", number_type = "voip", weight = 0.1, caller_timeout = "10s" },
]
fraud = [{ start = "30m", duration = "10m", extra_rate = "20/s", country = "US", number_type = "voip" }]
caller_timeout = "15s"

[[faults]]
name = "twilio DE black hole"
kind = "outage"
mode = "black_hole"
start = "10m"
duration = "15m"
[faults.target]
provider = "twilio-like"
country = "DE"

[[faults]]
kind = "brownout"
error_rate = 0.3
loss = 0.1
start = "20m"
end = "30m"
[faults.target]
carrier = "vodafone-de"

[[faults]]
kind = "latency"
multiplier = 3.0
start = "40m"
duration = "10m"
[faults.target]
region = "eu-west"

[[faults]]
kind = "latency"
add = { kind = "exponential", mean = "5s" }
start = "40m"
duration = "10m"
[faults.target]
failure_domain = "agg-1"
number_type = "mobile"

[[faults]]
kind = "flapping"
period = "2m"
duty = 0.25
start = "50m"
duration = "20m"
[faults.target]
provider = "vonage-like"

[[faults]]
kind = "degradation"
from = 0.0
to = 0.6
start = "1h"
duration = "20m"
[faults.target]
provider = "sinch-like"

[[faults]]
kind = "inventory_shock"
remaining = 0.1
start = "70m"
duration = "10m"
[faults.target]
provider = "vonage-like"

[[faults]]
kind = "number_type_block"
start = "80m"
[faults.target]
provider = "sinch-like"
number_type = "voip"

[[faults]]
kind = "capacity_cut"
factor = 0.2
start = "90m"
duration = "10m"
[faults.target]
failure_domain = "ic-eu"

[[restarts]]
at = "15m"

[[restarts]]
at = "45m"
warm = false

[[reloads]]
at = "30m"
policy = "aggressive"

[experiment]
replications = 5
baseline = "aggressive"
confidence = 0.9
tolerance = { success_rate = "0.05pp", "time_to_verify.p99" = "10%", flaps = 1 }

[sweep]
policy = "aggressive"
vary = ["trip.failure_rate=0.1..0.6:6", "ejection.base=10s,30s,1m"]
seeds = 3
objectives = ["success_rate", "cost_per_success"]
constraints = ["success_rate >= 0.99"]

[[expect]]
metric = "success_rate"
threshold = ">= 0.99"

[[expect]]
metric = "time_to_verify.p99"
policy = "aggressive"
threshold = "< 30s"
"#;

const SHARED_POLICY: &str = r#"
strategy = "thompson"
exploration = 0.05

[ejection]
base = "1m"
"#;

/// A directory with the files [`EXAMPLE`] refers to, unique per test.
fn fixture_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "failover-lab-scenario-{}-{test}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/shared.toml"), SHARED_POLICY).unwrap();
    std::fs::write(dir.join("latency.csv"), "seconds\n0.02\n0.03\n0.08\n").unwrap();
    std::fs::write(
        dir.join("trace.csv"),
        "t_seconds,country,number_type,use_case\n2.5,US,mobile,login\n1.0,DE,mobile,\n9999,DE,mobile,\n",
    )
    .unwrap();
    dir
}

fn example(test: &str) -> (Scenario, PathBuf) {
    let dir = fixture_dir(test);
    let s = Scenario::from_toml_str(EXAMPLE, &dir).unwrap_or_else(|e| panic!("{e}"));
    (s, dir)
}

#[test]
fn full_example_parses_validates_and_round_trips() {
    let (s, dir) = example("roundtrip");
    assert_eq!(s.seed, 42);
    assert_eq!(s.warmup, Duration::from_secs(300));
    assert_eq!(s.providers.len(), 3);
    assert_eq!(s.faults.len(), 9);
    assert_eq!(
        s.restarts,
        [
            Restart {
                at: Duration::from_secs(900),
                warm: true
            },
            Restart {
                at: Duration::from_secs(2700),
                warm: false
            }
        ]
    );
    // Policies keep file order, and the file entry is loaded.
    let names: Vec<&str> = s.policies.names().collect();
    assert_eq!(names, ["default", "aggressive", "shared"]);
    assert_eq!(
        s.policies.get("shared").unwrap().strategy,
        Strategy::Thompson
    );
    assert_eq!(
        s.policies
            .get("aggressive")
            .unwrap()
            .trip
            .consecutive_failures,
        3
    );

    let text = s.to_toml_string().unwrap();
    let back = Scenario::from_toml_str(&text, &dir).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, s, "round trip through\n{text}");
    assert!(text.contains("file = \"policies/shared.toml\""), "{text}");

    // Inlined, the scenario no longer needs the policy file.
    let mut inlined = s.clone();
    inlined.policies.inline_files();
    let text = inlined.to_toml_string().unwrap();
    std::fs::remove_file(dir.join("policies/shared.toml")).unwrap();
    let back = Scenario::from_toml_str(&text, &dir).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, inlined);
}

#[test]
fn example_compiles_to_index_form() {
    let (s, dir) = example("compile");
    let c = s.compile(&dir).unwrap();
    assert_eq!(
        c.provider_names(),
        ["twilio-like", "vonage-like", "sinch-like"]
    );
    assert_eq!(c.failure_domains, ["agg-1", "ic-eu"]);
    assert_eq!(c.use_cases, ["login", "signup"]);
    let de = c.country_id(Country::new("DE").unwrap()).unwrap();
    assert_eq!(c.country(de).carriers.len(), 2);
    assert_eq!(c.country(de).pick_carrier(0.59), CarrierId(0));
    assert_eq!(c.country(de).pick_carrier(0.61), CarrierId(1));
    assert_eq!(c.country(de).pick_carrier(0.999_999), CarrierId(1));

    let twilio = c.provider(ProviderId(0));
    assert_eq!(twilio.region, RegionId(1));
    assert_eq!(twilio.rate_limit, Some(100.0));
    assert_eq!(twilio.path(CarrierId(1)).quality, 0.9);
    assert!(twilio.path(CarrierId(1)).extra_latency.is_some());
    assert_eq!(twilio.path(CarrierId(2)).quality, 1.0, "unlisted carrier");
    let vonage = c.provider(ProviderId(1));
    assert_eq!(vonage.rate_limit, Some(50.0));
    assert!(vonage.serves.contains(NumberType::Landline));
    assert!(!vonage.serves.contains(NumberType::Voip));
    assert!(c.provider(ProviderId(2)).serves.contains(NumberType::Voip));

    let Arrivals::Poisson(profile) = &c.traffic.arrivals else {
        panic!("expected Poisson arrivals")
    };
    // t = 0 is 08:00: between 0h (0.2) and 9h (1.0).
    let at8 = 0.2 + 0.8 * 8.0 / 9.0;
    assert!((profile.rate_at(Duration::ZERO) - 50.0 * at8).abs() < 1e-9);
    // In the burst window, x3.
    let t = Duration::from_secs(12 * 60);
    let f = profile.diurnal.as_ref().unwrap().factor_at(t);
    assert!((profile.rate_at(t) - 50.0 * f * 3.0).abs() < 1e-9);
    assert!((profile.max_rate() - 50.0 * 1.5 * 3.0).abs() < 1e-9);
    assert_eq!(c.traffic.pick_destination(0.0).use_case, Some(UseCaseId(0)));
    assert_eq!(
        c.traffic.pick_destination(0.95).number_type,
        NumberType::Voip
    );
    assert_eq!(c.traffic.fraud[0].rate, 20.0);
    // Callers give up after 15 s, except the VoIP entry's, after its own 10 s.
    assert_eq!(c.traffic.caller_timeout, Some(Duration::from_secs(15)));
    let first = c.traffic.pick_class(0.0);
    assert_eq!(first.destination, c.traffic.pick_destination(0.0));
    assert_eq!(first.caller_timeout, Some(Duration::from_secs(15)));
    assert_eq!(
        c.traffic.pick_class(0.95).caller_timeout,
        Some(Duration::from_secs(10))
    );

    let names: Vec<&str> = c.faults.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names[0], "twilio DE black hole");
    assert_eq!(names[1], "brownout-vodafone-de-20m");
    // Region and failure-domain targets resolve to the providers they hit.
    assert_eq!(
        &*c.faults[2].target.providers,
        [ProviderId(1), ProviderId(2)]
    );
    assert_eq!(
        &*c.faults[3].target.providers,
        [ProviderId(0), ProviderId(1)]
    );
    assert_eq!(&*c.faults[8].target.providers, [ProviderId(1)]);
    assert_eq!(
        c.faults[7].end, s.duration,
        "open-ended fault lasts to the end"
    );
    // Flapping: down for the first 30s of each 2m period.
    let flap = &c.faults[4];
    assert!(flap.is_down(flap.start + Duration::from_secs(29)));
    assert!(!flap.is_down(flap.start + Duration::from_secs(31)));
    assert!(flap.is_down(flap.start + Duration::from_secs(121)));
    let ramp = &c.faults[5];
    let mid = ramp.start + (ramp.end - ramp.start) / 2;
    assert!((ramp.degradation_at(mid) - 0.3).abs() < 1e-9);
    assert_eq!(ramp.degradation_at(ramp.end), 0.0);
    let de_only = &c.faults[0].target;
    assert!(de_only.matches(de, NumberType::Mobile));
    assert!(!de_only.matches(CountryId(1), NumberType::Mobile));
}

/// Applies `edit` to the example and expects a problem at `path` whose message contains
/// `message`.
fn check(edit: impl FnOnce(&mut Scenario), path: &str, message: &str) {
    let (mut s, dir) = example(&format!(
        "check-{}",
        path.replace(['[', ']', '.', '"'], "_")
    ));
    edit(&mut s);
    let err = s.validate(&dir).expect_err(path);
    let found = err
        .problems()
        .iter()
        .any(|p| p.path.to_string() == path && p.message.contains(message));
    assert!(found, "expected {path}: ...{message}...; got:\n{err}");
}

#[test]
fn each_validation_error_names_its_field() {
    check(|s| s.format_version = 2, "format_version", "not supported");
    let experiment = |f: fn(&mut ExperimentSpec)| {
        move |s: &mut Scenario| f(s.experiment.get_or_insert_with(Default::default))
    };
    check(
        experiment(|e| e.replications = Some(0)),
        "experiment.replications",
        "between 1 and 10000",
    );
    check(
        experiment(|e| e.confidence = Some(1.0)),
        "experiment.confidence",
        "(0, 1)",
    );
    check(
        experiment(|e| e.baseline = Some("agressive".into())),
        "experiment.baseline",
        "did you mean \"aggressive\"",
    );
    check(|s| s.name = " ".into(), "name", "is empty");
    check(
        |s| s.duration = Duration::ZERO,
        "duration",
        "longer than 0s",
    );
    check(
        |s| s.warmup = Duration::from_secs(7200),
        "warmup",
        "nothing would be measured",
    );
    check(
        |s| s.bucket = Duration::from_secs(3 * 3600),
        "bucket",
        "longer than duration",
    );
    check(
        |s| s.regions[1].name = "eu-west".into(),
        "regions[1].name",
        "duplicate region",
    );
    check(
        |s| {
            s.regions[0].latency =
                DistributionSpec::lognormal_p99(Duration::from_secs(1), Duration::from_millis(500))
        },
        "regions[0].latency.p99",
        "must be longer than median",
    );
    check(
        |s| s.countries[0].carriers[1].share = 0.3,
        "countries[0].carriers",
        "sum to 0.900",
    );
    check(
        |s| s.countries[0].carriers[1].name = "att-us".into(),
        "countries[0].carriers[1].name",
        "belongs to US",
    );
    check(
        |s| s.countries[0].carriers[0].name = "telekom".into(),
        "countries[0].carriers[0].name",
        "did you mean \"telekom-de\"?",
    );
    check(
        |s| s.countries[1].conversion = 1.5,
        "countries[1].conversion",
        "probability",
    );
    check(
        |s| s.countries[1].code = Country::new("DE").unwrap(),
        "countries[1].code",
        "declared twice",
    );
    check(
        |s| s.carriers[0].country = Country::new("FR").unwrap(),
        "carriers[0].country",
        "no [[countries]] entry",
    );
    check(
        |s| s.carriers[1].loss = -0.1,
        "carriers[1].loss",
        "probability in [0, 1]",
    );
    check(
        |s| s.providers[1].region = "eu-wset".into(),
        "providers[1].region",
        "did you mean \"eu-west\"?",
    );
    check(
        |s| s.providers[0].error_rate = 2.0,
        "providers[0].error_rate",
        "probability",
    );
    check(
        |s| s.providers[0].paths[1].carrier = "vodafone".into(),
        "providers[0].paths[1].carrier",
        "unknown carrier \"vodafone\"",
    );
    check(
        |s| s.providers[0].paths[1].carrier = "telekom-de".into(),
        "providers[0].paths[1].carrier",
        "two paths",
    );
    check(
        |s| s.providers[0].paths[0].quality = 1.2,
        "providers[0].paths[0].quality",
        "probability",
    );
    check(
        |s| s.providers[2].inventory.as_mut().unwrap().numbers = 0,
        "providers[2].inventory.numbers",
        "at least 1",
    );
    check(
        |s| s.providers[2].name = "twilio-like".into(),
        "providers[2].name",
        "duplicate provider",
    );
    check(
        |s| s.router.routes[2].provider = "sinch".into(),
        "router.routes[2].provider",
        "unknown provider \"sinch\"; did you mean \"sinch-like\"?",
    );
    check(
        |s| s.router.routes[0].cost = -1.0,
        "router.routes[0].cost",
        ">= 0",
    );
    check(
        |s| s.router.routes[1].provider = "twilio-like".into(),
        "router.routes[1]",
        "duplicates router.routes[0]",
    );
    check(|s| s.router.routes.clear(), "router.routes", "no routes");
    check(|s| s.policies.0.clear(), "policies", "no policies");
    check(
        |s| s.policies.0[1].policy.trip.failure_rate = 0.0,
        "policies.aggressive.trip.failure_rate",
        "must be a number in (0, 1]",
    );
    check(
        |s| s.policies.0[2].policy.max_attempts = 0,
        "policies.shared.max_attempts",
        "(in ",
    );
    check(
        |s| s.policies.0[1].policy.compliance[0].deny[0] = "sinch-lik".into(),
        "policies.aggressive.compliance[0].deny[0]",
        "did you mean \"sinch-like\"?",
    );
    let limit = || failover_router::policy::LimitConfig {
        max_in_flight: Some(2),
        ..Default::default()
    };
    check(
        |s| {
            s.policies.0[1]
                .policy
                .limits
                .insert("sinch-lik".into(), limit());
        },
        "policies.aggressive.limits.sinch-lik",
        "unknown provider \"sinch-lik\"; did you mean \"sinch-like\"?",
    );
    check(
        |s| {
            s.policies.0[1]
                .policy
                .limits
                .insert("vonage-like/US/mobile".into(), limit());
        },
        "policies.aggressive.limits.\"vonage-like/US/mobile\"",
        "no route \"vonage-like/US/mobile\"",
    );
    check(|s| s.traffic.rate = None, "traffic.rate", "is missing");
    check(
        |s| s.traffic.trace = Some("t.csv".into()),
        "traffic.trace",
        "not both",
    );
    check(|s| s.traffic.mix.clear(), "traffic.mix", "is empty");
    check(
        |s| s.traffic.caller_timeout = Some(Duration::ZERO),
        "traffic.caller_timeout",
        "must be longer than 0s",
    );
    check(
        |s| s.traffic.mix[2].caller_timeout = Some(Duration::ZERO),
        "traffic.mix[2].caller_timeout",
        "must be longer than 0s",
    );
    check(
        |s| s.traffic.mix[1].weight = 0.0,
        "traffic.mix[1].weight",
        "> 0",
    );
    check(
        |s| s.traffic.mix[0].country = Country::new("FR").unwrap(),
        "traffic.mix[0].country",
        "no [[countries]] entry for FR",
    );
    check(
        |s| s.traffic.mix[0].number_type = NumberType::TollFree,
        "traffic.mix[0].number_type",
        "no route serves DE/toll_free",
    );
    check(
        |s| s.traffic.diurnal.as_mut().unwrap().points[2].at = Duration::from_secs(3600),
        "traffic.diurnal.points[2].at",
        "later than the previous point",
    );
    check(
        |s| s.traffic.bursts[0].start = Duration::from_secs(7000),
        "traffic.bursts[0].duration",
        "after the end of the run (2h)",
    );
    check(
        |s| s.traffic.fraud[0].start = Duration::from_secs(7200),
        "traffic.fraud[0].start",
        "not before the end of the run",
    );
    check(
        |s| s.faults[0].end = Some(Duration::from_secs(3 * 3600)),
        "faults[0]",
        "after the end of the run",
    );
    check(
        |s| s.faults[0].target.entity = TargetEntity::Provider("twilio-lik".into()),
        "faults[0].target.provider",
        "did you mean \"twilio-like\"?",
    );
    check(
        |s| s.faults[1].target.entity = TargetEntity::Carrier("nope".into()),
        "faults[1].target.carrier",
        "declared: \"telekom-de\", \"vodafone-de\", \"att-us\"",
    );
    check(
        |s| s.faults[2].target.entity = TargetEntity::Region("ap-south".into()),
        "faults[2].target.region",
        "unknown region",
    );
    check(
        |s| s.faults[3].target.entity = TargetEntity::FailureDomain("agg-2".into()),
        "faults[3].target.failure_domain",
        "did you mean \"agg-1\"?",
    );
    check(
        |s| s.faults[1].target.country = Some(Country::new("US").unwrap()),
        "faults[1].target.country",
        "matches nothing",
    );
    check(
        |s| s.faults[0].target.country = Some(Country::new("FR").unwrap()),
        "faults[0].target.country",
        "no traffic goes to FR",
    );
    check(
        |s| {
            s.faults[1].kind = FaultKind::Brownout {
                error_rate: 1.5,
                loss: 0.0,
            }
        },
        "faults[1].error_rate",
        "probability",
    );
    check(
        |s| {
            s.faults[2].kind = FaultKind::Latency {
                effect: LatencyEffect::Multiply(0.0),
                leg: None,
            }
        },
        "faults[2].multiplier",
        "> 0",
    );
    check(
        |s| {
            s.faults[3].kind = FaultKind::Latency {
                effect: LatencyEffect::Add(DistributionSpec::Exponential {
                    mean: Duration::ZERO,
                }),
                leg: None,
            }
        },
        "faults[3].add.mean",
        "longer than 0s",
    );
    check(
        |s| {
            s.faults[2].kind = FaultKind::Latency {
                effect: LatencyEffect::Multiply(3.0),
                leg: Some(LatencyLeg::Delivery),
            }
        },
        "faults[2].leg",
        "a latency fault on a region slows its network",
    );
    check(
        |s| {
            s.faults[4].kind = FaultKind::Flapping {
                period: Duration::from_secs(60),
                duty: 1.0,
                mode: OutageMode::Error,
            }
        },
        "faults[4].duty",
        "must be in (0, 1)",
    );
    check(
        |s| s.faults[5].kind = FaultKind::Degradation { from: 0.0, to: 7.0 },
        "faults[5].to",
        "probability",
    );
    check(
        |s| s.faults[6].target.entity = TargetEntity::Provider("twilio-like".into()),
        "faults[6].kind",
        "has an `inventory`",
    );
    check(
        |s| s.faults[7].target.number_type = None,
        "faults[7].target.number_type",
        "needs the blocked number type",
    );
    check(
        |s| s.faults[8].kind = FaultKind::CapacityCut { factor: 2.0 },
        "faults[8].factor",
        "in [0, 1]",
    );
    check(
        |s| s.faults[8].target.entity = TargetEntity::Carrier("att-us".into()),
        "faults[8].target.carrier",
        "acts on providers",
    );
    check(
        |s| s.faults[1].name = Some("twilio DE black hole".into()),
        "faults[1].name",
        "duplicate fault name",
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let (mut s, dir) = example("many");
    s.providers[0].error_rate = 3.0;
    s.carriers[2].loss = 3.0;
    let err = s.validate(&dir).unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("2 problems in scenario:\n  carriers[2].loss: 3 must be"),
        "{text}"
    );
}

/// Parses `EXAMPLE` with `from` replaced by `to`; expects an error containing `expect`.
fn check_text(from: &str, to: &str, expect: &str) {
    assert_eq!(EXAMPLE.matches(from).count(), 1, "{from:?} must occur once");
    let dir = fixture_dir("text");
    let err = Scenario::from_toml_str(&EXAMPLE.replace(from, to), &dir).expect_err(to);
    let text = err.to_string();
    assert!(text.contains(expect), "{to}: {text}");
}

#[test]
fn file_level_errors_are_explained() {
    // Unknown fields anywhere are rejected, with the position.
    check_text(
        "error_rate = 0.001",
        "eror_rate = 0.001",
        "unknown field `eror_rate`",
    );
    check_text(
        "loss = 0.01",
        "loss = 0.01\nlatency = 1",
        "unknown field `latency`",
    );
    check_text("seed = 42", "seed = 42\nsed = 1", "unknown field `sed`");
    check_text(
        "strategy = \"priority\"",
        "strategy = \"priority\"\nmax_attemps = 1",
        "unknown field `max_attemps`",
    );
    check_text(
        "rate = \"50/s\"",
        "rate = \"0/s\"",
        "must be greater than 0",
    );
    check_text("rate = \"50/s\"", "rate = \"50\"", "has no unit");
    check_text("duration = \"2h\"", "duration = \"2\"", "has no unit");
    check_text(
        "format_version = 1",
        "format_version = 2",
        "format_version = 2 is not supported",
    );
    check_text("format_version = 1", "", "format_version is missing");
    check_text(
        "file = \"policies/shared.toml\"",
        "file = \"policies/shared.toml\"\nmax_attempts = 2",
        "`file` cannot be combined with inline policy settings (found `max_attempts`)",
    );
    check_text(
        "file = \"policies/shared.toml\"",
        "max_attempts = 2\nfile = \"policies/shared.toml\"",
        "`file` cannot be combined",
    );
    check_text(
        "file = \"policies/shared.toml\"",
        "file = \"policies/missing.toml\"",
        "policies.shared.file: cannot read",
    );
    check_text(
        "mode = \"black_hole\"",
        "mode = \"black_hole\"\nduty = 0.5",
        "`duty` does not apply to kind = \"outage\"",
    );
}

#[test]
fn policy_file_errors_point_at_the_file() {
    let dir = fixture_dir("badpolicy");
    std::fs::write(dir.join("policies/shared.toml"), "strategy = \"fastest\"\n").unwrap();
    let err = Scenario::from_toml_str(EXAMPLE, &dir).unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.path.to_string(), "policies.shared.file");
    // Located in the policy file, with what was expected, without quoting the file.
    assert!(
        p.message.contains(
            "policies/shared.toml:1:12: not a valid policy: unknown value \
             (expected one of `priority`"
        ),
        "{p}"
    );
    assert!(!p.message.contains("fastest"), "{p}");

    // A policy file that parses but does not validate: located in the file too.
    std::fs::write(
        dir.join("policies/shared.toml"),
        "strategy = \"thompson\"\n\n[ejection]\nbase = \"1m\"\n[trip]\nfailure_rate = 0.0\n",
    )
    .unwrap();
    let err = Scenario::from_toml_str(EXAMPLE, &dir).unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.path.to_string(), "policies.shared.trip.failure_rate");
    assert!(p.message.ends_with("policies/shared.toml:6:16)"), "{p}");
}

#[test]
fn trace_replaces_poisson_arrivals() {
    let dir = fixture_dir("trace");
    let text = EXAMPLE
        .replace("rate = \"50/s\"", "trace = \"trace.csv\"")
        .replace("diurnal = {", "# diurnal = {")
        .replace("  { at = ", "# { at = ")
        .replace("] }\nbursts", "# ] }\n# bursts");
    let start = text.find("mix = [").unwrap();
    let end = start + text[start..].find("]\n").unwrap() + 2;
    let text = format!("{}{}", &text[..start], &text[end..]);
    let s = Scenario::from_toml_str(&text, &dir).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let c = s.compile(&dir).unwrap();
    let Arrivals::Trace(arrivals) = &c.traffic.arrivals else {
        panic!("expected a trace")
    };
    // Sorted by time; the row after the end of the run is dropped.
    assert_eq!(arrivals.len(), 2);
    assert_eq!(arrivals[0].at, Duration::from_secs(1));
    assert_eq!(arrivals[0].destination.use_case, None);
    assert_eq!(
        arrivals[1].destination.use_case.map(|u| c.use_case(u)),
        Some("login")
    );

    std::fs::write(
        dir.join("trace.csv"),
        "t_seconds,country,number_type\n1,FR,mobile\n",
    )
    .unwrap();
    let err = Scenario::from_toml_str(&text, &dir).unwrap_err();
    assert_eq!(err.problems()[0].path.to_string(), "traffic.trace");
    assert!(
        err.problems()[0].message.ends_with(
            "trace.csv:2:3: the row's country has no [[countries]] entry; declare it with its \
             carriers"
        ),
        "{err}"
    );

    // Errors name the physical line and column of the field, never its content, also after
    // blank lines (which the csv crate's record positions do not count).
    for (rows, expect) in [
        (
            "\n1,DE,mobile\n\n\n2, DE_SECRET ,mobile\n",
            "trace.csv:6:4: country is not a two-letter",
        ),
        (
            "1,DE,mobile\n\n\n\nSECRET,DE,mobile\n",
            "trace.csv:6:1: t_seconds is not a time in seconds >= 0",
        ),
        (
            "1,DE,mobile\n\n2,DE,SECRET\n",
            "trace.csv:4:6: number_type is not one of mobile, landline",
        ),
        (
            "1,DE,mobile\n\n2,DE\n",
            "trace.csv:4:1: this row has 2 fields, the header 3",
        ),
        (
            "1,DE,mobile\n\n\"2\",\"D\nE\",mobile\n",
            "trace.csv:4:5: country is not a two-letter",
        ),
    ] {
        std::fs::write(
            dir.join("trace.csv"),
            format!("t_seconds,country,number_type\n{rows}"),
        )
        .unwrap();
        let err = Scenario::from_toml_str(&text, &dir).unwrap_err();
        let message = &err.problems()[0].message;
        assert!(message.contains(expect), "{rows:?}: {message}");
        assert!(!message.contains("SECRET"), "{message}");
    }
    std::fs::write(dir.join("trace.csv"), "SECRET,country\n1,DE\n").unwrap();
    let err = Scenario::from_toml_str(&text, &dir).unwrap_err();
    let message = &err.problems()[0].message;
    assert!(
        message.contains("trace.csv:1:1: the header must name the columns"),
        "{message}"
    );
    assert!(!message.contains("SECRET"), "{message}");
}

use crate::scenario::distribution::DistributionSpec;

#[test]
fn fault_names_are_the_compiled_names() {
    let (s, dir) = example("fault-names");
    let compiled = s.compile(&dir).unwrap();
    let names: Vec<String> = compiled.faults.iter().map(|f| f.name.clone()).collect();
    assert_eq!(s.fault_names(), names);
    // Unnamed repeats are numbered as compilation numbers them.
    let mut twice = s.clone();
    twice.faults[0].name = None;
    twice.faults.push(twice.faults[0].clone());
    let names = twice.fault_names();
    let (a, b) = (&names[0], names.last().unwrap());
    assert_eq!(*b, format!("{a}#2"));
}

#[test]
fn expectations_and_tolerances_round_trip() {
    let (s, dir) = example("expect-roundtrip");
    assert_eq!(s.expect.len(), 2);
    assert_eq!(s.expect[1].policy.as_deref(), Some("aggressive"));
    let tol = &s.experiment.as_ref().unwrap().tolerance;
    assert_eq!(tol["flaps"], crate::scenario::ToleranceSpec::Number(1.0));
    let back = Scenario::from_toml_str(&s.to_toml_string().unwrap(), &dir).unwrap();
    assert_eq!(back, s);
}
