//! Properties of the scenario model, over generated scenarios (proptest, fixed seed).
//!
//! - Every generated *valid* scenario loads, reads back equal from the TOML it writes, and
//!   every one of its policies runs a short simulation to the end: no panic anywhere in the
//!   world, the conservation law holds (`experiment::run_one` checks it before returning).
//!   The generator covers every entity, every fault kind and distribution (heavy tails
//!   included), varied policies, and numbers on the validation bounds (`MAX_RATE_PER_SECOND`,
//!   `MAX_FACTOR`, `MAX_COST`, `MAX_ADAPTIVE_FACTOR`, the duration parser's 1e9 s), with the
//!   work of a run kept to a few thousand verifications so each case takes milliseconds.
//! - Every generated *invalid* mutation of such a scenario (NaN, infinities, huge or negative
//!   numbers, wrong types, dangling names, bad durations, control characters, deep nesting) is
//!   refused with a diagnostic located on the line that was changed, never a panic.

use std::path::Path;
use std::sync::Arc;

use failover_lab::experiment::estimate::Work;
use failover_lab::experiment::{RunSpec, run_one};
use failover_lab::scenario::{FileRules, MAX_COST, MAX_FACTOR, MAX_RATE_PER_SECOND, Scenario};
use failover_router::policy::MAX_ADAPTIVE_FACTOR;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::fuzz::load;

/// Most verifications one generated run may make: keeps each case to milliseconds.
const WORK_BUDGET: f64 = 3_000.0;

/// A runner with a fixed seed and no persistence: CI never flakes, and a failure prints its
/// shrunk input. `PROPTEST_CASES` raises the number of cases (e.g. for a nightly job).
fn runner(cases: u32, seed: u8) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 500,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

// ---- Pieces -------------------------------------------------------------------------------

/// A duration as written, in microseconds, up to the parser's bound (1e9 s).
fn dur(us: u64) -> String {
    format!("\"{us}us\"")
}

/// A short duration in microseconds, sometimes on an edge.
fn latency_us() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1u64..2_000_000,
        1 => Just(1u64),
        1 => Just(999_999_999_000_000u64),
        1 => 2_000_000u64..600_000_000,
    ]
}

/// Any distribution, as an inline table.
fn distribution() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        latency_us().prop_map(|v| format!("{{ kind = \"constant\", value = {} }}", dur(v))),
        (latency_us(), latency_us()).prop_map(|(a, b)| format!(
            "{{ kind = \"uniform\", min = {}, max = {} }}",
            dur(a.min(b)),
            dur(a.max(b))
        )),
        (latency_us(), latency_us()).prop_map(|(m, s)| format!(
            "{{ kind = \"normal\", mean = {}, std_dev = {} }}",
            dur(m),
            dur(s)
        )),
        (latency_us(), 1u64..50).prop_map(|(m, k)| format!(
            "{{ kind = \"lognormal\", median = {}, p99 = {} }}",
            dur(m),
            dur((m * k + 1).min(1_000_000_000_000_000))
        )),
        (
            latency_us(),
            prop_oneof![0.01f64..5.0, Just(50.0), Just(1e300)]
        )
            .prop_map(|(m, s)| {
                format!(
                    "{{ kind = \"lognormal\", median = {}, sigma = {s:?} }}",
                    dur(m)
                )
            }),
        latency_us().prop_map(|m| format!("{{ kind = \"exponential\", mean = {} }}", dur(m))),
        (
            prop_oneof![0.01f64..10.0, Just(1e-300), Just(1e300)],
            latency_us()
        )
            .prop_map(|(k, s)| format!(
                "{{ kind = \"gamma\", shape = {k:?}, scale = {} }}",
                dur(s)
            )),
        (
            prop_oneof![0.05f64..10.0, Just(1e-300), Just(1e300)],
            latency_us()
        )
            .prop_map(|(k, s)| format!(
                "{{ kind = \"weibull\", shape = {k:?}, scale = {} }}",
                dur(s)
            )),
        // Heavy tails: shape under 1 has no mean.
        (
            latency_us(),
            prop_oneof![0.05f64..3.0, Just(1e-300), Just(0.01)]
        )
            .prop_map(|(s, k)| {
                format!("{{ kind = \"pareto\", scale = {}, shape = {k:?} }}", dur(s))
            }),
        prop::collection::vec(latency_us(), 1..6).prop_map(|v| format!(
            "{{ kind = \"empirical\", samples = [{}] }}",
            v.iter().map(|&u| dur(u)).collect::<Vec<_>>().join(", ")
        )),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(
            (
                prop_oneof![0.001f64..10.0, Just(1e300), Just(5e-324)],
                inner,
            ),
            1..4,
        )
        .prop_map(|c| {
            format!(
                "{{ kind = \"mixture\", components = [{}] }}",
                c.iter()
                    .map(|(w, d)| format!("{{ weight = {w:?}, dist = {d} }}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    })
}

fn probability() -> impl Strategy<Value = f64> {
    prop_oneof![3 => 0.0f64..=1.0, 1 => Just(0.0), 1 => Just(1.0)]
}

const COUNTRIES: [&str; 3] = ["DE", "US", "GB"];
const NUMBER_TYPES: [&str; 5] = ["mobile", "landline", "voip", "toll_free", "short_code"];

/// A name with, sometimes, characters a report must escape.
fn decorated(base: String, suffix: usize) -> String {
    const SUFFIXES: [&str; 5] = ["", " x", "é", "\\\"<q>\\\"", "=1+2"];
    format!("{base}{}", SUFFIXES[suffix % SUFFIXES.len()])
}

/// A policy as `[policies.<name>]` lines: every strategy, varied settings, and values on the
/// validation bounds.
/// A policy, its deadline and its `late_delivery_grace` (in ms: what the run's drain needs).
fn policy() -> impl Strategy<Value = (String, u64, u64)> {
    let head = (
        prop::sample::select(&["priority", "weighted", "score", "thompson"][..]),
        1u32..=10,
        prop_oneof![4 => 1u64..30_000, 1 => Just(999_999_999_000u64)],
        prop_oneof![4 => 1u64..60_000, 1 => Just(999_999_999_000u64)],
        prop::sample::select(&["none", "provider", "failure_domain"][..]),
        any::<bool>(),
        probability(),
        prop_oneof![0.0f64..20.0, Just(1e300)],
        0.0f64..=4.0,
        prop_oneof![0.0f64..5.0, Just(1e300)],
    );
    let tail = (
        prop::option::of((
            0.01f64..0.99,
            prop_oneof![1.0f64..3.0, Just(MAX_ADAPTIVE_FACTOR)],
        )),
        (1u64..120_000, 1u32..=600, 0u32..50),
        (0.01f64..=1.0, 0.0f64..1.0, prop::option::of(0.01f64..=1.0)),
        (
            1u64..60_000,
            prop_oneof![1.0f64..4.0, Just(1e300)],
            0.0f64..0.99,
            probability(),
        ),
        (0.01f64..=1.0, 1u32..10, 1u64..30_000),
        (
            prop_oneof![0.0f64..2.0, Just(1e300)],
            prop_oneof![0.0f64..20.0, Just(1e300)],
        ),
        prop_oneof![3 => 1usize..10_000, 1 => Just(1usize)],
        prop_oneof![3 => 1u64..300_000, 1 => Just(999_999_999_000u64)],
    );
    (head, tail).prop_map(
        |(
            (strategy, attempts, timeout_ms, deadline_ms, diversity, fallback, explore, prior, sens, penalty),
            (adaptive, (window_ms, buckets, min_volume), (fail_rate, recover, conversion), (base_ms, backoff, jitter, share), (probe_share, successes, slow_ms), (ratio, per_second), stragglers, grace_ms),
        )| {
            let mut t = format!(
                "strategy = \"{strategy}\"\nmax_attempts = {attempts}\nattempt_timeout = \"{timeout_ms}ms\"\n\
                 deadline = \"{deadline_ms}ms\"\ndiversity = \"{diversity}\"\ndiversity_fallback = {fallback}\n\
                 exploration = {explore:?}\nprior_strength = {prior:?}\ncost_sensitivity = {sens:?}\n\
                 failure_penalty = {penalty:?}\nmax_stragglers = {stragglers}\n\
                 late_delivery_grace = \"{grace_ms}ms\"\n"
            );
            if let Some((q, f)) = adaptive {
                t += &format!(
                    "adaptive_timeout = {{ quantile = {q:?}, factor = {f:?}, min = \"1ms\", max = \"999999999s\" }}\n"
                );
            }
            t += &format!(
                "health = {{ window = \"{window_ms}ms\", buckets = {buckets}, min_volume = {min_volume} }}\n\
                 trip = {{ failure_rate = {fail_rate:?}{}, conversion_lag = \"{}ms\" }}\n\
                 ejection = {{ base = \"{base_ms}ms\", backoff = {backoff:?}, max = \"999999999s\", jitter = {jitter:?}, max_ejected_share = {share:?} }}\n\
                 probe = {{ share = {probe_share:?}, successes = {successes}, recover_failure_rate = {:?}, slow_start = \"{slow_ms}ms\" }}\n\
                 retry_budget = {{ ratio = {ratio:?}, min_per_second = {per_second:?} }}\n",
                conversion.map_or(String::new(), |c| format!(", min_relative_conversion = {c:?}")),
                window_ms / 2,
                fail_rate * recover,
            );
            (t, deadline_ms, grace_ms)
        },
    )
}

/// A generated valid scenario, as TOML text.
#[derive(Clone, Debug)]
struct World {
    text: String,
}

#[derive(Clone, Debug)]
struct Provider {
    region: usize,
    api: String,
    error_rate: f64,
    rate_limit: Option<f64>,
    inventory: Option<(u32, Option<String>)>,
    domains: Vec<bool>,
    number_types: Vec<usize>,
    paths: Vec<(usize, f64, Option<String>)>,
}

fn provider() -> impl Strategy<Value = Provider> {
    (
        0usize..3,
        distribution(),
        probability(),
        prop::option::of(prop_oneof![0.5f64..1000.0, Just(MAX_RATE_PER_SECOND)]),
        prop::option::of((
            prop_oneof![1u32..20, Just(u32::MAX)],
            prop::option::of(distribution()),
        )),
        prop::collection::vec(any::<bool>(), 2),
        prop::collection::vec(0usize..5, 0..3),
        prop::collection::vec(
            (0usize..9, probability(), prop::option::of(distribution())),
            0..3,
        ),
    )
        .prop_map(
            |(region, api, error_rate, rate_limit, inventory, domains, number_types, paths)| {
                Provider {
                    region,
                    api,
                    error_rate,
                    rate_limit,
                    inventory,
                    domains,
                    number_types,
                    paths,
                }
            },
        )
}

#[derive(Clone, Debug)]
struct Fault {
    kind: usize,
    params: (f64, f64, u64, bool, String),
    window: (f64, Option<f64>),
    target: (usize, usize),
    country: Option<usize>,
    number_type: Option<usize>,
}

fn fault() -> impl Strategy<Value = Fault> {
    (
        0usize..8,
        (
            probability(),
            probability(),
            1u64..10_000_000,
            any::<bool>(),
            distribution(),
        ),
        (0.0f64..1.0, prop::option::of(0.0f64..=1.0)),
        (0usize..4, 0usize..9),
        prop::option::of(0usize..3),
        prop::option::of(0usize..5),
    )
        .prop_map(
            |(kind, params, window, target, country, number_type)| Fault {
                kind,
                params,
                window,
                target,
                country,
                number_type,
            },
        )
}

#[derive(Clone, Debug)]
struct Shape {
    /// Run length in microseconds.
    duration_us: u64,
    bucket_share: f64,
    warmup_share: f64,
    /// Expected legitimate verifications (before factors), or the rate at the bound.
    verifications: f64,
    max_rate: bool,
    diurnal: Option<Vec<f64>>,
    bursts: Vec<(f64, f64, f64)>,
    fraud: Vec<(f64, f64, f64, usize)>,
    caller_timeout: Option<u64>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop_oneof![4 => 100_000u64..20_000_000, 1 => 1_000u64..100_000],
        prop_oneof![0.01f64..=1.0, Just(1.0)],
        prop_oneof![Just(0.0), 0.0f64..0.9],
        1.0f64..400.0,
        prop::bool::weighted(0.1),
        prop::option::of(prop::collection::vec(
            prop_oneof![0.0f64..3.0, Just(MAX_FACTOR)],
            1..5,
        )),
        prop::collection::vec(
            (
                0.0f64..1.0,
                0.0f64..1.0,
                prop_oneof![0.0f64..5.0, Just(MAX_FACTOR)],
            ),
            0..3,
        ),
        prop::collection::vec(
            (
                0.0f64..1.0,
                0.0f64..1.0,
                prop_oneof![1.0f64..200.0, Just(MAX_RATE_PER_SECOND)],
                0usize..10,
            ),
            0..2,
        ),
        prop::option::of(prop_oneof![1u64..30_000_000, Just(1u64)]),
    )
        .prop_map(
            |(
                duration_us,
                bucket_share,
                warmup_share,
                verifications,
                max_rate,
                diurnal,
                bursts,
                fraud,
                caller_timeout,
            )| Shape {
                duration_us,
                bucket_share,
                warmup_share,
                verifications,
                max_rate,
                diurnal,
                bursts,
                fraud,
                caller_timeout,
            },
        )
}

/// A window `[start, start + length)` inside `[0, run)` from two shares, in whole
/// microseconds, with a length of at least 1 µs; limited to `max_us` long.
fn window(run_us: u64, a: f64, b: f64, max_us: u64) -> (u64, u64) {
    let start = ((run_us - 1) as f64 * a) as u64;
    let room = run_us - start;
    let len = ((room as f64 * b) as u64).clamp(1, room.min(max_us.max(1)));
    (start, len)
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(distribution(), 1..3),
        prop::collection::vec(
            (
                prop::collection::vec((probability(), distribution()), 1..4),
                probability(),
                probability(),
                prop::option::of(distribution()),
            ),
            1..3,
        ),
        prop::collection::vec(provider(), 1..4),
        prop::collection::vec(
            (
                0usize..4,
                0usize..3,
                0usize..5,
                prop_oneof![0.0f64..1.0, Just(MAX_COST)],
                0u32..3,
                prop_oneof![0.1f64..10.0, Just(1e300)],
            ),
            1..8,
        ),
        prop::collection::vec(policy(), 1..3),
        shape(),
        prop::collection::vec(fault(), 0..5),
        (
            prop::collection::vec(
                (
                    0usize..20,
                    prop_oneof![0.1f64..10.0, Just(1e300)],
                    prop::option::of(0usize..2),
                ),
                1..4,
            ),
            0usize..5,
            // TOML integers are i64.
            0u64..=i64::MAX as u64,
        ),
    )
        .prop_map(
            |(
                regions,
                countries,
                providers,
                routes,
                policies,
                shape,
                faults,
                (mix, decoration, seed),
            )| {
                build(
                    regions, countries, providers, routes, policies, shape, faults, mix,
                    decoration, seed,
                )
            },
        )
}

type CountryGen = (Vec<(f64, String)>, f64, f64, Option<String>);

#[allow(clippy::too_many_arguments)]
fn build(
    regions: Vec<String>,
    countries: Vec<CountryGen>,
    providers: Vec<Provider>,
    routes: Vec<(usize, usize, usize, f64, u32, f64)>,
    policies: Vec<(String, u64, u64)>,
    shape: Shape,
    faults: Vec<Fault>,
    mix: Vec<(usize, f64, Option<usize>)>,
    decoration: usize,
    seed: u64,
) -> World {
    use std::fmt::Write;
    // The time series covers the run and its drain (the longest deadline or the conversion
    // horizon, then the late-delivery grace): buckets wide enough to stay within the work
    // estimate's limit, and a run at least one bucket long.
    let drain_us = 1000
        * (policies
            .iter()
            .map(|p| p.1)
            .max()
            .unwrap_or(0)
            .max(3_600_000)
            + policies.iter().map(|p| p.2).max().unwrap_or(0));
    let min_bucket = (shape.duration_us + drain_us) / 90_000 + 1;
    let run_us = shape.duration_us.max(min_bucket);
    let mut t = String::new();
    let bucket = ((run_us as f64 * shape.bucket_share) as u64)
        .max(min_bucket)
        .min(run_us);
    let warmup = (run_us as f64 * shape.warmup_share) as u64;
    writeln!(
        t,
        "format_version = 1\nname = {}\nseed = {seed}\nduration = {}\nbucket = {}\nwarmup = {}\n",
        quoted(&decorated("generated".into(), decoration)),
        dur(run_us),
        dur(bucket),
        dur(warmup.min(run_us - 1))
    )
    .unwrap();
    let region_name = |i: usize| decorated(format!("r{i}"), decoration + i);
    for (i, latency) in regions.iter().enumerate() {
        writeln!(
            t,
            "[[regions]]\nname = {}\nlatency = {latency}\n",
            quoted(&region_name(i))
        )
        .unwrap();
    }
    // Countries and their carriers; shares normalised so they sum to 1.
    let mut carriers: Vec<(String, usize)> = Vec::new();
    for (c, (shares, conversion, invalid, think)) in countries.iter().enumerate() {
        let weights: Vec<f64> = shares.iter().map(|(w, _)| w + 0.1).collect();
        let total: f64 = weights.iter().sum();
        let mut list = Vec::new();
        let mut left = 1.0;
        for (k, w) in weights.iter().enumerate() {
            let name = format!("c{k}-{}", COUNTRIES[c]);
            let share = if k + 1 == weights.len() {
                left
            } else {
                w / total
            };
            left -= share;
            list.push(format!("{{ name = {}, share = {share:?} }}", quoted(&name)));
            carriers.push((name, c));
        }
        writeln!(
            t,
            "[[countries]]\ncode = \"{}\"\ncarriers = [{}]\nconversion = {conversion:?}\ninvalid_share = {:?}",
            COUNTRIES[c],
            list.join(", "),
            invalid * 0.5
        )
        .unwrap();
        if let Some(d) = think {
            writeln!(t, "think_time = {d}").unwrap();
        }
        t.push('\n');
    }
    let mut k = 0;
    for (c, (shares, ..)) in countries.iter().enumerate() {
        for (loss, delivery) in shares {
            writeln!(
                t,
                "[[carriers]]\nname = {}\ncountry = \"{}\"\ndelivery_latency = {delivery}\nloss = {loss:?}\n",
                quoted(&carriers[k].0),
                COUNTRIES[c]
            )
            .unwrap();
            k += 1;
        }
    }
    let provider_name = |i: usize| decorated(format!("p{i}"), decoration + 2 * i);
    for (i, p) in providers.iter().enumerate() {
        writeln!(
            t,
            "[[providers]]\nname = {}\nregion = {}\napi_latency = {}\nerror_rate = {:?}",
            quoted(&provider_name(i)),
            quoted(&region_name(p.region % regions.len())),
            p.api,
            p.error_rate
        )
        .unwrap();
        if let Some(r) = p.rate_limit {
            writeln!(t, "rate_limit = \"{r:?}/s\"").unwrap();
        }
        if let Some((numbers, hold)) = &p.inventory {
            write!(t, "inventory = {{ numbers = {numbers}").unwrap();
            if let Some(h) = hold {
                write!(t, ", hold = {h}").unwrap();
            }
            writeln!(t, " }}").unwrap();
        }
        let domains: Vec<String> = ["\"agg\"", "\"cloud\""]
            .iter()
            .zip(&p.domains)
            .filter(|(_, on)| **on)
            .map(|(d, _)| d.to_string())
            .collect();
        if !domains.is_empty() {
            writeln!(t, "failure_domains = [{}]", domains.join(", ")).unwrap();
        }
        let mut types: Vec<usize> = p.number_types.clone();
        types.sort_unstable();
        types.dedup();
        if !types.is_empty() {
            let list: Vec<String> = types
                .iter()
                .map(|&n| format!("\"{}\"", NUMBER_TYPES[n]))
                .collect();
            writeln!(t, "number_types = [{}]", list.join(", ")).unwrap();
        }
        let mut seen = Vec::new();
        for (c, quality, extra) in &p.paths {
            let c = c % carriers.len();
            if seen.contains(&c) {
                continue;
            }
            seen.push(c);
            write!(
                t,
                "[[providers.paths]]\ncarrier = {}\nquality = {quality:?}\n",
                quoted(&carriers[c].0)
            )
            .unwrap();
            if let Some(d) = extra {
                writeln!(t, "extra_latency = {d}").unwrap();
            }
        }
        t.push('\n');
    }
    // Routes: unique (provider, country, number type).
    let mut served: Vec<(usize, usize)> = Vec::new();
    let mut keys = Vec::new();
    for (p, c, n, cost, priority, weight) in &routes {
        let (p, c) = (p % providers.len(), c % countries.len());
        if keys.contains(&(p, c, *n)) {
            continue;
        }
        keys.push((p, c, *n));
        if !served.contains(&(c, *n)) {
            served.push((c, *n));
        }
        let domain = if providers[p].domains[0] {
            "\nfailure_domains = [\"agg\"]"
        } else {
            ""
        };
        writeln!(
            t,
            "[[router.routes]]\nprovider = {}\ncountry = \"{}\"\nnumber_type = \"{}\"\ncost = {cost:?}\n\
             priority = {priority}\nweight = {weight:?}{domain}\n",
            quoted(&provider_name(p)),
            COUNTRIES[c],
            NUMBER_TYPES[*n]
        )
        .unwrap();
    }
    for (i, (p, ..)) in policies.iter().enumerate() {
        writeln!(
            t,
            "[policies.{}]\n{p}",
            quoted(&decorated(format!("policy{i}"), decoration + i))
        )
        .unwrap();
    }
    // Traffic: the rate is set so that the expected work stays within the budget whatever the
    // factors (the largest diurnal factor, bursts at MAX_FACTOR over short windows).
    let run_s = run_us as f64 / 1e6;
    // At the rate bound, a daily profile of one small factor brings the work back in budget
    // (the product of the two at its bounds is what the arithmetic must take).
    let diurnal = if shape.max_rate {
        Some(vec![shape.verifications / run_s / MAX_RATE_PER_SECOND])
    } else {
        shape.diurnal.clone()
    };
    let peak_diurnal = diurnal
        .as_ref()
        .map_or(1.0, |f| f.iter().copied().fold(0.0, f64::max).max(0.01));
    let rate = if shape.max_rate {
        MAX_RATE_PER_SECOND
    } else {
        (shape.verifications / run_s / peak_diurnal).min(MAX_RATE_PER_SECOND)
    };
    writeln!(t, "[traffic]\nrate = \"{rate:?}/s\"").unwrap();
    if let Some(factors) = &diurnal {
        let mut points: Vec<String> = factors
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{{ at = \"{}m\", factor = {f:?} }}", i * 300))
            .collect();
        if factors.iter().all(|f| *f == 0.0) {
            points[0] = "{ at = \"0m\", factor = 1.0 }".into();
        }
        writeln!(
            t,
            "diurnal = {{ start = \"0h\", points = [{}] }}",
            points.join(", ")
        )
        .unwrap();
    }
    let budget_us = |per_second: f64| (WORK_BUDGET / 4.0 / per_second * 1e6) as u64;
    let bursts: Vec<String> = shape
        .bursts
        .iter()
        .map(|&(a, b, factor)| {
            let (start, len) = window(
                run_us,
                a,
                b,
                budget_us(rate * peak_diurnal * factor.max(1.0)),
            );
            format!(
                "{{ start = {}, duration = {}, factor = {factor:?} }}",
                dur(start),
                dur(len)
            )
        })
        .collect();
    if !bursts.is_empty() {
        writeln!(t, "bursts = [{}]", bursts.join(", ")).unwrap();
    }
    let mut entries = Vec::new();
    for (m, weight, use_case) in &mix {
        let (c, n) = served[m % served.len()];
        let mut e = format!(
            "{{ country = \"{}\", number_type = \"{}\", weight = {weight:?}",
            COUNTRIES[c], NUMBER_TYPES[n]
        );
        if let Some(u) = use_case {
            e += &format!(", use_case = \"{}\"", ["login", "signup"][*u]);
        }
        entries.push(e + " }");
    }
    writeln!(t, "mix = [{}]", entries.join(", ")).unwrap();
    let fraud: Vec<String> = shape
        .fraud
        .iter()
        .map(|&(a, b, r, dest)| {
            let (c, n) = served[dest % served.len()];
            let (start, len) = window(run_us, a, b, budget_us(r));
            format!(
                "{{ start = {}, duration = {}, extra_rate = \"{r:?}/s\", country = \"{}\", number_type = \"{}\" }}",
                dur(start), dur(len), COUNTRIES[c], NUMBER_TYPES[n]
            )
        })
        .collect();
    if !fraud.is_empty() {
        writeln!(t, "fraud = [{}]", fraud.join(", ")).unwrap();
    }
    if let Some(ct) = shape.caller_timeout {
        writeln!(t, "caller_timeout = {}", dur(ct)).unwrap();
    }
    t.push('\n');
    // Faults: each (kind, target) once, so no two identical faults overlap.
    let mut seen: Vec<(usize, String)> = Vec::new();
    for f in &faults {
        let (a, b) = f.window;
        let start = ((run_us - 1) as f64 * a) as u64;
        let (e, loss, period, flag, add) = &f.params;
        let (kind, params) = match f.kind {
            0 => (
                "outage",
                format!("mode = \"{}\"", if *flag { "black_hole" } else { "error" }),
            ),
            1 => ("brownout", format!("error_rate = {e:?}\nloss = {loss:?}")),
            2 if *flag => (
                "latency",
                format!("multiplier = {:?}", (e * MAX_FACTOR).max(1e-9)),
            ),
            2 => ("latency", format!("add = {add}")),
            3 => (
                "flapping",
                format!(
                    "period = {}\nduty = {:?}\nmode = \"{}\"",
                    dur(*period),
                    e.clamp(0.01, 0.99),
                    if *flag { "black_hole" } else { "error" }
                ),
            ),
            4 => ("degradation", format!("from = {e:?}\nto = {loss:?}")),
            5 => ("inventory_shock", format!("remaining = {e:?}")),
            6 => ("number_type_block", String::new()),
            _ => ("capacity_cut", format!("factor = {e:?}")),
        };
        // Targets: kinds acting on providers' capacity need a provider that has it.
        let needs = |p: &Provider| match kind {
            "inventory_shock" => p.inventory.is_some(),
            "capacity_cut" => p.rate_limit.is_some(),
            _ => true,
        };
        let provider_target = matches!(
            kind,
            "inventory_shock" | "capacity_cut" | "number_type_block"
        );
        let (key, name, carrier_country) = match (f.target.0, provider_target) {
            (0, _) | (1, true) | (2, true) | (3, true) => {
                let Some(p) = (0..providers.len())
                    .map(|k| (k + f.target.1) % providers.len())
                    .find(|&k| needs(&providers[k]))
                else {
                    continue;
                };
                ("provider", provider_name(p), None)
            }
            (1, false) => {
                let c = &carriers[f.target.1 % carriers.len()];
                ("carrier", c.0.clone(), Some(c.1))
            }
            (2, false) => {
                let used: Vec<usize> = providers.iter().map(|p| p.region % regions.len()).collect();
                ("region", region_name(used[f.target.1 % used.len()]), None)
            }
            _ => {
                let Some(d) = providers.iter().find_map(|p| {
                    p.domains
                        .iter()
                        .position(|on| *on)
                        .map(|i| ["agg", "cloud"][i])
                }) else {
                    continue;
                };
                ("failure_domain", d.to_string(), None)
            }
        };
        let target_key = format!("{kind}/{key}/{name}");
        if seen.iter().any(|(_, k)| *k == target_key) {
            continue;
        }
        seen.push((f.kind, target_key));
        write!(t, "[[faults]]\nkind = \"{kind}\"\nstart = {}\n", dur(start)).unwrap();
        if let Some(b) = b {
            let len = (((run_us - start) as f64 * b) as u64)
                .max(1)
                .min(run_us - start);
            writeln!(t, "duration = {}", dur(len)).unwrap();
        }
        if !params.is_empty() {
            writeln!(t, "{params}").unwrap();
        }
        writeln!(t, "[faults.target]\n{key} = {}", quoted(&name)).unwrap();
        let country = carrier_country.or(f.country.map(|c| c % countries.len()));
        if let Some(c) = country {
            writeln!(t, "country = \"{}\"", COUNTRIES[c]).unwrap();
        }
        match (kind, f.number_type) {
            ("number_type_block", n) => {
                writeln!(t, "number_type = \"{}\"", NUMBER_TYPES[n.unwrap_or(0)]).unwrap()
            }
            (_, Some(n)) => writeln!(t, "number_type = \"{}\"", NUMBER_TYPES[n]).unwrap(),
            _ => {}
        }
        t.push('\n');
    }
    World { text: t }
}

/// `s` as a TOML basic string (its escapes are already written as such).
fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

// ---- Valid scenarios ----------------------------------------------------------------------

/// Loads a generated world, which must be valid.
fn load_valid(text: &str) -> Result<Scenario, TestCaseError> {
    let files = FileRules::new(Path::new("."));
    match load(text, files) {
        Ok((s, ..)) => Ok(s),
        Err(d) => Err(TestCaseError::fail(format!(
            "a generated valid scenario was refused: {}\n{text}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

#[test]
fn generated_valid_scenarios_run_to_the_end_and_conserve() {
    runner(48, 1)
        .run(&world(), |w| {
            let scenario = load_valid(&w.text)?;
            let back = Scenario::from_toml_str(&scenario.to_toml_string().unwrap(), Path::new("."))
                .map_err(|e| TestCaseError::fail(format!("does not read back: {e}")))?;
            prop_assert_eq!(&back, &scenario);
            let world = Arc::new(scenario.compile(Path::new(".")).unwrap());
            let work = Work::of(&world);
            prop_assert!(work.over_limits(1).is_empty(), "{:?}", work);
            prop_assume!(work.verifications <= WORK_BUDGET, "over budget: {:?}", work);
            for policy in 0..world.policies.len() {
                // `run_one` checks the conservation law before returning a result.
                let r = run_one(&world, RunSpec { policy, seed: 1 }).map_err(|e| {
                    TestCaseError::fail(format!("policy {policy}: {e}\n{}", w.text))
                })?;
                // Memory as estimated: the time series is no longer than the estimate.
                prop_assert!(
                    r.run.timeseries.len() as f64 <= work.buckets,
                    "{} rows, estimated {:?}",
                    r.run.timeseries.len(),
                    work
                );
            }
            Ok(())
        })
        .unwrap();
}

// ---- Invalid mutations --------------------------------------------------------------------

/// Values no field accepts: every number in a scenario is bounded and finite, every other
/// field has another type.
const NEVER_VALID: &[&str] = &[
    "nan",
    "-nan",
    "inf",
    "-inf",
    "-1e308",
    "-1",
    "1e400",
    "18446744073709551616",
    "1979-05-27",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
];

/// Replacements for a value of a given form.
fn invalid_for(value: &str, key: &str, pick: usize) -> Option<String> {
    let is_duration = value.starts_with('"') && value.ends_with("us\"");
    let is_reference = matches!(key, "region" | "provider" | "carrier");
    let options: Vec<String> = if is_duration {
        [
            "\"5 parsecs\"",
            "\"-1s\"",
            "\"1000000001s\"",
            "\"1e300s\"",
            "\"\"",
            "\"1h1h\"",
            "\"nan s\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else if is_reference && value.starts_with('"') {
        vec!["\"nowhere\"".into(), "\"\"".into()]
    } else if value.starts_with('"') {
        // A raw control character inside a string is a TOML error.
        vec![format!("\"a{}b\"", '\u{7}'), format!("\"{}\"", '\u{1b}')]
    } else {
        return NEVER_VALID
            .get(pick % NEVER_VALID.len())
            .map(|s| s.to_string());
    };
    Some(options[pick % options.len()].clone())
}

/// Value tokens of a line with the key each belongs to: `(start, end, key)`.
type Values = Vec<(usize, usize, String)>;

/// Every value token of `line` with the key it belongs to.
fn line_values(line: &str) -> Values {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut key = String::new();
    let mut i = 0;
    let mut last_word = String::new();
    while i < b.len() {
        let c = b[i];
        if c == b'#' {
            break;
        }
        if c == b'=' {
            key = last_word.clone();
            i += 1;
            continue;
        }
        let before = line[..i].trim_end();
        let after_sep = before.ends_with(['=', ',', '[']);
        if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            if after_sep && (before.ends_with('=') || !key.is_empty()) {
                out.push((start, i, key.clone()));
            }
            last_word = line[start..i].trim_matches('"').to_owned();
        } else if c.is_ascii_alphanumeric() || b"-+.".contains(&c) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"-+._".contains(&b[i])) {
                i += 1;
            }
            let word = &line[start..i];
            if before.ends_with('=')
                || (before.ends_with([',', '[']) && word.parse::<f64>().is_ok())
            {
                out.push((start, i, key.clone()));
            }
            last_word = word.to_owned();
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn generated_invalid_mutations_are_refused_on_their_line() {
    let strategy = (world(), any::<usize>(), any::<usize>(), any::<usize>());
    runner(200, 2)
        .run(&strategy, |(w, line_pick, value_pick, how)| {
            let lines: Vec<&str> = w.text.lines().collect();
            let candidates: Vec<(usize, Values)> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.starts_with('['))
                .map(|(i, l)| (i, line_values(l)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let (line, values) = &candidates[line_pick % candidates.len()];
            let (start, end, key) = &values[value_pick % values.len()];
            let old = &lines[*line][*start..*end];
            let Some(new) = invalid_for(old, key, how) else {
                return Ok(());
            };
            let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            mutated[*line].replace_range(*start..*end, &new);
            let text = mutated.join("\n");
            let files = FileRules::new(Path::new("."));
            let diagnostics = match load(&text, files) {
                Ok(_) => {
                    return Err(TestCaseError::fail(format!(
                        "line {}: {key} = {new} (was {old}) was accepted:\n{}",
                        line + 1,
                        mutated[*line]
                    )));
                }
                Err(d) => d,
            };
            prop_assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                prop_assert!(!d.message.trim().is_empty(), "{d}");
                prop_assert!(d.line.is_some() && d.column.is_some(), "{d}");
            }
            prop_assert!(
                diagnostics.iter().any(|d| d.line == Some(line + 1)),
                "{key} = {new} (was {old}) on line {}:\n{}\nis not reported there: {:#?}",
                line + 1,
                mutated[*line],
                diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
            );
            Ok(())
        })
        .unwrap();
}
