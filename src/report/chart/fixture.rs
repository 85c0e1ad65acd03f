//! A small simulated run summary for the report's unit tests: two countries, three providers,
//! two policies (one that fails over, one that does not), an outage and a flapping provider.
//! Simulated once per test process.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::experiment::{RunSpec, recorder_config, run_one};
use crate::metrics::{FaultInfo, PolicySummary, RunSummary, SUMMARY_FORMAT_VERSION, ScenarioInfo};
use crate::scenario::Scenario;

const SCENARIO: &str = r#"
format_version = 1
name = "report-fixture"
description = "Two countries, an outage of a and a flapping c"
duration = "6m"
warmup = "30s"
bucket = "10s"
[[regions]]
name = "eu"
latency = { kind = "constant", value = "20ms" }
[[countries]]
code = "DE"
carriers = [{ name = "tde", share = 1.0 }]
conversion = 0.8
think_time = { kind = "exponential", mean = "15s" }
[[countries]]
code = "GB"
carriers = [{ name = "ee", share = 1.0 }]
conversion = 0.75
think_time = { kind = "exponential", mean = "15s" }
[[carriers]]
name = "tde"
country = "DE"
delivery_latency = { kind = "lognormal", median = "3s", p99 = "15s" }
[[carriers]]
name = "ee"
country = "GB"
delivery_latency = { kind = "lognormal", median = "4s", p99 = "20s" }
loss = 0.01
[[providers]]
name = "a"
region = "eu"
api_latency = { kind = "constant", value = "150ms" }
[[providers]]
name = "b"
region = "eu"
api_latency = { kind = "constant", value = "200ms" }
[[providers]]
name = "c"
region = "eu"
api_latency = { kind = "constant", value = "250ms" }
[[router.routes]]
provider = "a"
country = "DE"
number_type = "mobile"
cost = 0.07
priority = 0
[[router.routes]]
provider = "b"
country = "DE"
number_type = "mobile"
cost = 0.072
priority = 1
[[router.routes]]
provider = "c"
country = "DE"
number_type = "mobile"
cost = 0.075
priority = 2
[[router.routes]]
provider = "c"
country = "GB"
number_type = "mobile"
cost = 0.05
priority = 0
[[router.routes]]
provider = "a"
country = "GB"
number_type = "mobile"
cost = 0.06
priority = 1
[traffic]
rate = "15/s"
mix = [{ country = "DE", number_type = "mobile", weight = 0.6 }, { country = "GB", number_type = "mobile", weight = 0.4 }]
[policies.sensible]
attempt_timeout = "10s"
[policies.static]
strategy = "priority"
max_attempts = 1
attempt_timeout = "10s"
[policies.static.ejection]
max_ejected_share = 0.0
[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "1m"
duration = "90s"
[faults.target]
provider = "a"
[[faults]]
name = "c-flapping"
kind = "flapping"
period = "40s"
duty = 0.5
start = "210s"
duration = "2m"
[faults.target]
provider = "c"
"#;

/// The fixture's summary, simulated on first use.
pub(crate) fn summary() -> &'static RunSummary {
    static SUMMARY: OnceLock<RunSummary> = OnceLock::new();
    SUMMARY.get_or_init(simulate)
}

fn simulate() -> RunSummary {
    let scenario =
        Scenario::from_toml_str(SCENARIO, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let description = scenario.description.clone();
    let world = Arc::new(
        scenario
            .compile(Path::new("."))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let config = recorder_config(&world).unwrap();
    let kinds = ["outage", "flapping"];
    let targets = ["provider a", "provider c"];
    let info = ScenarioInfo {
        name: world.name.clone(),
        description,
        hash: "0123456789abcdef".to_string(),
        duration: world.duration.as_secs_f64(),
        warmup: world.warmup.as_secs_f64(),
        bucket: world.bucket.as_secs_f64(),
        faults: world
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| FaultInfo {
                name: f.name.clone(),
                kind: kinds[i].to_string(),
                target: targets[i].to_string(),
                start: f.start.as_secs_f64(),
                end: f.end.as_secs_f64(),
            })
            .collect(),
        restarts: Vec::new(),
        reloads: Vec::new(),
        providers: config.providers.clone(),
        routes: config.routes.iter().map(|r| r.label.clone()).collect(),
    };
    let policies = (0..world.policies.len())
        .map(|policy| {
            let r = run_one(&world, RunSpec { policy, seed: 7 }).unwrap_or_else(|e| panic!("{e}"));
            PolicySummary {
                name: r.policy,
                result: r.run,
            }
        })
        .collect();
    RunSummary {
        format_version: SUMMARY_FORMAT_VERSION,
        scenario: info,
        seed: 7,
        policies,
        experiment: None,
        replications: Vec::new(),
        comparisons: Vec::new(),
        run: None,
        load: None,
    }
}

/// The fixture as a replicated run would report it (`--seeds 6`), built by hand: three
/// policies (`sensible`, the `static` baseline, and `cautious`, a copy of `sensible`'s first
/// run under another name), six seeds of per-seed metrics made up from a shared "luck of the
/// world" per seed plus a little noise per policy, and the estimates and comparisons
/// `metrics::compare` makes of them. No simulation beyond [`summary`]'s.
pub(crate) fn replicated() -> &'static RunSummary {
    static SUMMARY: OnceLock<RunSummary> = OnceLock::new();
    SUMMARY.get_or_init(replicate)
}

fn replicate() -> RunSummary {
    use crate::metrics::compare::{self, PolicyReplications, SeedMetrics};
    use crate::metrics::{ExperimentInfo, PrecisionTarget, Quantiles};

    const SEEDS: [u64; 6] = [7, 1001, 1002, 1003, 1004, 1005];
    /// The world's luck on each seed: moves every policy alike (common random numbers).
    const LUCK: [f64; 6] = [0.0, 0.8, -0.5, 0.3, -0.9, 0.4];
    const POLICIES: [&str; 3] = ["sensible", "static", "cautious"];
    // metric, value per policy (None: undefined for that policy), spread with the luck, noise.
    #[allow(clippy::type_complexity)]
    let table: [(&str, [Option<f64>; 3], f64, f64); 17] = [
        (
            "success_rate",
            [Some(0.995), Some(0.66), Some(0.994)],
            0.002,
            0.0003,
        ),
        (
            "conversion_rate",
            [Some(0.80), Some(0.53), Some(0.80)],
            0.01,
            0.002,
        ),
        ("ttv_p50", [Some(3.70), Some(3.45), Some(3.72)], 0.1, 0.05),
        ("ttv_p90", [Some(9.0), Some(8.7), Some(8.8)], 0.5, 0.2),
        ("ttv_p99", [Some(18.0), Some(17.4), Some(17.5)], 1.0, 0.8),
        (
            "attempts_per_verification",
            [Some(1.146), Some(1.0), Some(1.10)],
            0.01,
            0.003,
        ),
        ("cost_total", [Some(90.0), Some(80.0), Some(88.0)], 3.0, 1.0),
        (
            "cost_per_success",
            [Some(0.0822), Some(0.1055), Some(0.0830)],
            0.002,
            0.0004,
        ),
        (
            "duplicate_deliveries",
            [Some(71.0), Some(0.0), Some(40.0)],
            5.0,
            3.0,
        ),
        ("ejections", [Some(1.0), Some(0.0), Some(1.0)], 0.5, 0.5),
        ("flaps", [Some(0.0), Some(0.0), Some(0.2)], 0.0, 0.6),
        (
            "a-down.detection_delay",
            [Some(10.7), None, Some(14.0)],
            1.0,
            0.5,
        ),
        (
            "a-down.recovery_delay",
            [Some(30.0), Some(0.0), Some(31.0)],
            0.0,
            1.0,
        ),
        (
            "a-down.failed_during_fault",
            [Some(0.0), Some(399.0), Some(5.0)],
            20.0,
            2.0,
        ),
        (
            "c-flapping.detection_delay",
            [Some(5.0), Some(30.0), Some(6.0)],
            2.0,
            1.0,
        ),
        (
            "c-flapping.failed_during_fault",
            [Some(10.0), Some(120.0), Some(12.0)],
            10.0,
            4.0,
        ),
        ("panic_time", [Some(0.0), Some(0.0), Some(0.0)], 0.0, 0.0),
    ];
    let counts = [
        "duplicate_deliveries",
        "ejections",
        "flaps",
        "a-down.failed_during_fault",
        "c-flapping.failed_during_fault",
    ];
    let confidence = 0.95;
    let replications: Vec<PolicyReplications> = POLICIES
        .iter()
        .enumerate()
        .map(|(p, &policy)| {
            let seeds: Vec<SeedMetrics> = SEEDS
                .iter()
                .zip(LUCK)
                .enumerate()
                .map(|(i, (&seed, luck))| {
                    let metrics = table
                        .iter()
                        .enumerate()
                        .filter_map(|(m, &(name, values, spread, noise))| {
                            // Deterministic noise in {-1, -0.5, 0, 0.5, 1} x noise.
                            let wiggle = ((i * 7 + p * 3 + m) % 5) as f64 / 2.0 - 1.0;
                            let mut v = values[p]? + spread * luck + noise * wiggle;
                            if counts.contains(&name) {
                                v = v.round();
                            }
                            if name.ends_with("_rate") {
                                v = v.min(1.0);
                            }
                            Some((name.to_owned(), v.max(0.0)))
                        })
                        .collect();
                    SeedMetrics { seed, metrics }
                })
                .collect();
            PolicyReplications {
                policy: policy.to_owned(),
                estimates: compare::estimates(&seeds, confidence),
                seeds,
                pooled_ttv: Quantiles {
                    p50: Some(3.5 + p as f64 / 10.0),
                    p90: Some(8.8),
                    p99: Some(17.6),
                    p999: Some(24.0),
                    max: Some(31.0),
                },
            }
        })
        .collect();
    let baseline = &replications[1];
    let comparisons = [&replications[0], &replications[2]]
        .into_iter()
        .flat_map(|r| compare::compare(r, baseline, confidence, &|_| 0.0))
        .collect();
    let mut s = summary().clone();
    let mut cautious = s.policies[0].clone();
    cautious.name = "cautious".to_owned();
    s.policies.push(cautious);
    s.experiment = Some(ExperimentInfo {
        seeds: SEEDS.to_vec(),
        confidence,
        baseline: baseline.policy.clone(),
        precision: vec![PrecisionTarget {
            metric: "success_rate".to_owned(),
            half_width: 0.01,
        }],
        stopped: Some("target_reached".to_owned()),
    });
    s.replications = replications;
    s.comparisons = comparisons;
    s
}

/// Names that try to break out of HTML, SVG and CSV: script and image tags, closing tags of the
/// page's style, SVG and title, both quotes, newlines, and spreadsheet formulas (every cell
/// start OWASP lists: `=`, `+`, `-`, `@`, tab, carriage return).
pub(crate) const HOSTILE_POLICIES: [&str; 3] = [
    "=HYPERLINK(\"http://x\",\"y\") <script>document.title='pw'+'ned'</script>",
    "+static</style></svg><img src=x onerror=\"document.title='pw'+'ned'\">",
    "@cautious \"double\" 'single'\nsecond line",
];
pub(crate) const HOSTILE_PROVIDERS: [&str; 3] = [
    "-a<script>alert(1)</script>",
    "\tb</style></svg>",
    "\rc\"'\n</title>",
];
pub(crate) const HOSTILE_FAULTS: [&str; 2] = [
    "=1+2 <b>outage</b>",
    "-c</title></svg><script>alert(1)</script>",
];
pub(crate) const HOSTILE_SCENARIO: &str = "@SUM(1+1) </style><script>alert(1)</script>";
pub(crate) const HOSTILE_DESCRIPTION: &str =
    "=HYPERLINK(\"http://x\",\"y\")\n<script>alert(1)</script></style></svg> \"quoted\" 'single'";

/// The fixture (replicated, so every view and CSV has rows) with every scenario-supplied name
/// replaced by a hostile one: the policies, providers (and so route labels), faults (and so
/// fault metrics), the scenario's name, description, and faults' kinds and targets.
pub(crate) fn hostile() -> &'static RunSummary {
    static SUMMARY: OnceLock<RunSummary> = OnceLock::new();
    SUMMARY.get_or_init(|| {
        let mut s = replicated().clone();
        let policies: Vec<(String, &str)> = s
            .policies
            .iter()
            .map(|p| p.name.clone())
            .zip(HOSTILE_POLICIES)
            .collect();
        let providers: Vec<(String, &str)> = s
            .scenario
            .providers
            .iter()
            .cloned()
            .zip(HOSTILE_PROVIDERS)
            .collect();
        let faults: Vec<(String, &str)> = s
            .scenario
            .faults
            .iter()
            .map(|f| f.name.clone())
            .zip(HOSTILE_FAULTS)
            .collect();
        let swap = |name: &mut String, table: &[(String, &str)]| {
            if let Some((_, new)) = table.iter().find(|(old, _)| old == name) {
                *name = (*new).to_owned();
            }
        };
        // A fault's metrics are `<fault>.<metric>`.
        let metric = |m: &mut String| {
            if let Some((_, new)) = faults
                .iter()
                .find(|(old, _)| m.starts_with(&format!("{old}.")))
            {
                let (_, rest) = m.split_once('.').expect("a fault metric");
                *m = format!("{new}.{rest}");
            }
        };
        s.scenario.name = HOSTILE_SCENARIO.to_owned();
        s.scenario.description = Some(HOSTILE_DESCRIPTION.to_owned());
        for p in &mut s.scenario.providers {
            swap(p, &providers);
        }
        for f in &mut s.scenario.faults {
            swap(&mut f.name, &faults);
            f.kind = format!("-{}<i>", f.kind);
            f.target = format!("={}\"'", f.target);
        }
        for p in &mut s.policies {
            swap(&mut p.name, &policies);
            for name in &mut p.result.providers {
                swap(name, &providers);
            }
            for r in &mut p.result.routes {
                swap(&mut r.provider, &providers);
                r.label = format!("{}/{}/{}", r.provider, r.country, r.number_type);
            }
            for f in &mut p.result.faults {
                swap(&mut f.name, &faults);
            }
        }
        s.scenario.routes = route_labels(&s);
        for r in &mut s.replications {
            swap(&mut r.policy, &policies);
            for seed in &mut r.seeds {
                seed.metrics = std::mem::take(&mut seed.metrics)
                    .into_iter()
                    .map(|(mut m, v)| {
                        metric(&mut m);
                        (m, v)
                    })
                    .collect();
            }
            for e in &mut r.estimates {
                metric(&mut e.metric);
            }
        }
        for c in &mut s.comparisons {
            swap(&mut c.policy, &policies);
            swap(&mut c.baseline, &policies);
            metric(&mut c.metric);
        }
        if let Some(e) = &mut s.experiment {
            swap(&mut e.baseline, &policies);
        }
        s
    })
}

/// The fixture's run with a large routing table: `providers` providers (`p0000`, ...) and
/// `routes` routes per policy, four to each (country, number type) group (countries `AA`, `AB`,
/// ...), each route a copy of one of the fixture's routes (its counts and state timeline) with
/// its own time out of service, so the worst routes are well defined.
pub(crate) fn large(routes: usize, providers: usize) -> RunSummary {
    use failover_router::{Country, NumberType};
    let mut s = summary().clone();
    let names: Vec<String> = (0..providers).map(|i| format!("p{i:04}")).collect();
    s.scenario.providers = names.clone();
    for p in &mut s.policies {
        let base = std::mem::take(&mut p.result.routes);
        p.result.routes = (0..routes)
            .map(|i| {
                let mut r = base[i % base.len()].clone();
                let group = i / 4;
                let letters = [
                    b'A' + (group / 5 / 26 % 26) as u8,
                    b'A' + (group / 5 % 26) as u8,
                ];
                r.route = i as u32;
                r.provider = names[i % providers].clone();
                r.country = Country::new(std::str::from_utf8(&letters).unwrap()).unwrap();
                r.number_type = NumberType::ALL[group % 5];
                r.label = format!("{}/{}/{}", r.provider, r.country, r.number_type);
                // Distinct and deterministic, neither monotone in the index nor in the label.
                r.time_ejected = ((i * 7919) % routes) as f64 / 10.0;
                r
            })
            .collect();
        let old = std::mem::replace(&mut p.result.providers, names.clone());
        for b in &mut p.result.timeseries {
            let per = std::mem::take(&mut b.provider_attempts);
            b.provider_attempts = (0..providers).map(|j| per[j % old.len()]).collect();
        }
    }
    s.scenario.routes = route_labels(&s);
    s
}

/// The first policy's route labels, as `scenario.routes` lists them.
fn route_labels(s: &RunSummary) -> Vec<String> {
    s.policies[0]
        .result
        .routes
        .iter()
        .map(|r| r.label.clone())
        .collect()
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// (width, height) from a PNG's IHDR chunk: what every chart test checks a raster against.
pub(crate) fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(bytes[..8], PNG_SIGNATURE, "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// (width, height) from an SVG's root attributes.
pub(crate) fn svg_size(svg: &str) -> (u32, u32) {
    let attr = |name: &str| -> u32 {
        let start = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end].parse().unwrap()
    };
    (attr("width"), attr("height"))
}
