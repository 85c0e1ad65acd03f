//! Validation scales linearly with the size of a scenario, and its output stays readable.
//!
//! Not timed tests: each has a generous limit that a linear validation meets many times over
//! (a few seconds here) and a quadratic one misses by minutes. Before: 100,000 providers and
//! routes took 237 s to validate (a dev build), 20,000 dangling references more than ten
//! minutes, listing every declared provider in every message. Validation itself is checked in
//! memory at 300,000 entities (parsing that much TOML, which is linear, would take most of a
//! test); parsing, locating and printing through the binary at 20,000.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;
use std::sync::mpsc;
use std::time::Duration;

use failover_lab::scenario::{
    CarrierShare, FaultKind, LatencyEffect, MixEntry, Problems, Scenario, ScenarioError,
    TargetEntity,
};
use failover_router::route::RouteSpec;

use crate::cli::{bin, output_within, temp_dir, text};

/// Far above what a linear validation of these scenarios needs (a few seconds), far below
/// what a quadratic one does.
const LIMIT: Duration = Duration::from_secs(60);

fn validate(path: &Path) -> Output {
    let mut cmd = bin();
    cmd.arg("validate").arg(path);
    output_within(cmd, LIMIT)
}

/// A scenario with `n` providers and as many routes, and every other kind of entity and
/// reference in numbers that a quadratic check would notice: `n / 100` regions, `n / 10`
/// carriers (all in one country, each listed there), a path and a failure domain per
/// provider, `n / 10` faults on regions (a tenth of them without a name and with the same
/// label), a policy allowing every provider by name, and `n / 10` mix entries with their own
/// use case. `dangling` more routes name providers that do not exist (near misses).
pub fn large_scenario(n: usize, dangling: usize) -> String {
    let regions = (n / 100).max(1);
    let carriers = (n / 10).max(1);
    let mut s = String::from(
        "format_version = 1\nname = \"large\"\nduration = \"1h\"\nbucket = \"1m\"\n\n",
    );
    for r in 0..regions {
        let _ = writeln!(
            s,
            "[[regions]]\nname = \"region-{r}\"\nlatency = {{ kind = \"constant\", value = \"20ms\" }}\n"
        );
    }
    s.push_str("[[countries]]\ncode = \"DE\"\ncarriers = [\n");
    let share = 1.0 / carriers as f64;
    for c in 0..carriers {
        let _ = writeln!(s, "  {{ name = \"carrier-{c}\", share = {share} }},");
    }
    s.push_str("]\n\n");
    for c in 0..carriers {
        let _ = writeln!(
            s,
            "[[carriers]]\nname = \"carrier-{c}\"\ncountry = \"DE\"\n\
             delivery_latency = {{ kind = \"constant\", value = \"3s\" }}\n"
        );
    }
    for p in 0..n {
        let _ = writeln!(
            s,
            "[[providers]]\nname = \"provider-{p}\"\nregion = \"region-{}\"\n\
             api_latency = {{ kind = \"constant\", value = \"150ms\" }}\n\
             failure_domains = [\"domain-{}\"]\n\
             paths = [{{ carrier = \"carrier-{}\", quality = 0.9 }}]\n",
            p % regions,
            p % 1000,
            p % carriers
        );
    }
    for p in 0..n {
        let _ = writeln!(
            s,
            "[[router.routes]]\nprovider = \"provider-{p}\"\ncountry = \"DE\"\n\
             number_type = \"mobile\"\ncost = 0.07\n"
        );
    }
    for p in 0..dangling {
        let _ = writeln!(
            s,
            "[[router.routes]]\nprovider = \"provider-{p}x\"\ncountry = \"DE\"\n\
             number_type = \"mobile\"\ncost = 0.07\n"
        );
    }
    for f in 0..n / 10 {
        // Different multipliers: different faults, so they may overlap; a tenth share one
        // label (`latency-region-0-10s`, then `#2`, `#3`, ...).
        let (name, region) = if f % 10 == 0 {
            (String::new(), 0)
        } else {
            (format!("name = \"fault-{f}\"\n"), f % regions)
        };
        let _ = writeln!(
            s,
            "[[faults]]\n{name}kind = \"latency\"\nmultiplier = {}\nstart = \"10s\"\n\
             duration = \"10s\"\n[faults.target]\nregion = \"region-{region}\"\n",
            1.0 + f as f64 / n as f64
        );
    }
    s.push_str("[policies.default]\n[[policies.default.compliance]]\nallow = [\n");
    for p in 0..n {
        let _ = writeln!(s, "  \"provider-{p}\",");
    }
    s.push_str("]\n\n[traffic]\nrate = \"1/s\"\nmix = [\n");
    for m in 0..(n / 10).max(1) {
        let _ = writeln!(
            s,
            "  {{ country = \"DE\", number_type = \"mobile\", weight = 1.0, use_case = \"use-{m}\" }},"
        );
    }
    s.push_str("]\n");
    s
}

#[test]
fn the_generated_scenario_is_valid() {
    // The generator itself, at a size any validation handles: the tests below must fail only
    // for their size.
    let dir = temp_dir("scale-small");
    let path = dir.join("s.toml");
    std::fs::write(&path, large_scenario(1000, 0)).unwrap();
    let o = validate(&path);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("1000 routes, 100 faults"), "{out}");
    let scaled = scaled(1000, false);
    let parsed = Scenario::parse(&large_scenario(1000, 0)).unwrap();
    assert_eq!(
        scaled, parsed,
        "scaled() builds what large_scenario() writes"
    );
}

/// [`large_scenario`]`(n, 0)` built in memory from a small one (parsing 300,000 entities of
/// TOML takes longer than validating them); with `dangling`, `n` more routes and `n` more
/// compliance entries name providers that do not exist.
fn scaled(n: usize, dangling: bool) -> Scenario {
    let small = Scenario::parse(&large_scenario(100, 0)).unwrap();
    let regions = (n / 100).max(1);
    let carriers = (n / 10).max(1);
    let mut s = small.clone();
    s.regions = (0..regions)
        .map(|r| failover_lab::scenario::Region {
            name: format!("region-{r}"),
            ..small.regions[0].clone()
        })
        .collect();
    s.countries[0].carriers = (0..carriers)
        .map(|c| CarrierShare {
            name: format!("carrier-{c}"),
            share: 1.0 / carriers as f64,
        })
        .collect();
    s.carriers = (0..carriers)
        .map(|c| failover_lab::scenario::Carrier {
            name: format!("carrier-{c}"),
            ..small.carriers[0].clone()
        })
        .collect();
    let provider = &small.providers[0];
    s.providers = (0..n)
        .map(|p| {
            let mut path = provider.paths[0].clone();
            path.carrier = format!("carrier-{}", p % carriers);
            failover_lab::scenario::Provider {
                name: format!("provider-{p}"),
                region: format!("region-{}", p % regions),
                failure_domains: vec![format!("domain-{}", p % 1000)],
                paths: vec![path],
                ..provider.clone()
            }
        })
        .collect();
    let route = &small.router.routes[0];
    s.router.routes = (0..n)
        .map(|p| RouteSpec {
            provider: format!("provider-{p}"),
            ..route.clone()
        })
        .collect();
    let fault = &small.faults[1];
    s.faults = (0..n / 10)
        .map(|f| {
            let (name, region) = if f % 10 == 0 {
                (None, 0)
            } else {
                (Some(format!("fault-{f}")), f % regions)
            };
            let mut fault = fault.clone();
            fault.name = name;
            if let FaultKind::Latency { effect, .. } = &mut fault.kind {
                *effect = LatencyEffect::Multiply(1.0 + f as f64 / n as f64);
            }
            fault.target.entity = TargetEntity::Region(format!("region-{region}"));
            fault
        })
        .collect();
    let allow = &mut s.policies.0[0].policy.compliance[0].allow;
    *allow = (0..n).map(|p| format!("provider-{p}")).collect();
    let mix = &small.traffic.mix[0];
    s.traffic.mix = (0..(n / 10).max(1))
        .map(|m| MixEntry {
            use_case: Some(format!("use-{m}")),
            ..mix.clone()
        })
        .collect();
    if dangling {
        let more: Vec<_> = (0..n)
            .map(|p| RouteSpec {
                provider: format!("provider-{p}x"),
                ..route.clone()
            })
            .collect();
        s.router.routes.extend(more);
        allow.extend((0..n).map(|p| format!("provider-{p}y")));
    }
    s
}

/// Runs `work` on its own thread, failing if it has not finished within [`LIMIT`].
fn within_limit<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{what} took over {LIMIT:?}"))
}

/// 300,000 providers and routes, 30,000 carriers, faults and use cases, 3,000 regions and a
/// compliance list naming every provider: linear, about a second; a quadratic check or lookup
/// of any of them takes minutes.
#[test]
fn validating_300k_entities_is_linear() {
    const N: usize = 300_000;
    let world = within_limit("validating 300,000 entities", || {
        let s = scaled(N, false);
        s.compile(Path::new("."))
            .map(|w| (w.providers.len(), w.routes.len(), w.faults.len()))
    });
    match world {
        Ok(counts) => assert_eq!(counts, (N, N, N / 10)),
        Err(e) => panic!("{}", e),
    }
}

/// 200,000 providers, and as many routes and compliance entries naming providers that do not
/// exist: every problem is found, and the first 50 (those printed) get their suggestion.
#[test]
fn dangling_references_at_scale_are_found_in_linear_time() {
    const N: usize = 200_000;
    let result = within_limit("validating 400,000 dangling references", || {
        scaled(N, true).compile(Path::new(".")).map(|_| ())
    });
    let Err(ScenarioError::Invalid(Problems(problems))) = result else {
        panic!("expected problems, got {result:?}");
    };
    assert_eq!(problems.len(), 2 * N);
    assert_eq!(
        problems[0].path.to_string(),
        format!("router.routes[{N}].provider")
    );
    assert_eq!(
        problems[0].message,
        "unknown provider \"provider-0x\"; did you mean \"provider-0\"?"
    );
    assert!(
        problems[49]
            .message
            .contains("did you mean \"provider-49\"")
    );
    // Beyond those printed, which are only counted, no suggestion is looked for.
    assert_eq!(
        problems[50].message,
        "unknown provider \"provider-50x\"; declare it in [[providers]]"
    );
}

/// At most 50 problems are printed, then how many more there are; each printed one is located
/// and has its suggestion.
#[test]
fn twenty_thousand_dangling_references_print_fifty_and_a_count() {
    let dir = temp_dir("scale-dangling");
    let path = dir.join("s.toml");
    std::fs::write(&path, large_scenario(20_000, 20_000)).unwrap();
    let o = validate(&path);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 51, "{}", &err[..err.len().min(4000)]);
    // Each route of the generated file takes 6 lines, after the first 20,000.
    let first_dangling = large_scenario(20_000, 0)
        .lines()
        .position(|l| l.starts_with("[[faults]]"))
        .unwrap();
    for (i, line) in lines[..50].iter().enumerate() {
        let at = format!("{}:{}:12: ", path.display(), first_dangling + 2 + 6 * i);
        assert!(
            line.starts_with(&at)
                && line.ends_with(&format!(
                    "router.routes[{}].provider: unknown provider \"provider-{i}x\"; did you \
                     mean \"provider-{i}\"?",
                    20_000 + i
                )),
            "{line}\nwanted {at}..."
        );
    }
    assert_eq!(
        lines[50],
        "… and 19950 more problems (fix the above and run again)"
    );
}
