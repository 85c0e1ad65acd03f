//! `failover-lab fit`: the round trip (simulate with `--audit`, fit the trail, and the world
//! comes back: rates within 3 standard errors of the truth, latency median and p99 within 5 %,
//! every fault window found within two buckets, nothing found where nothing happened), the
//! fitted scenario runs as it is, and bad records are located, never quoted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use failover_lab::fit::model::{FitModel, RouteFit};
use failover_lab::fit::{FitOptions, fit};
use failover_lab::scenario::{CompiledScenario, Scenario};
use rand::SeedableRng;

use crate::cli::{bin, output_within, temp_dir, text};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compiled(scenario: &str) -> Arc<CompiledScenario> {
    let path = manifest().join("scenarios").join(scenario);
    let text = std::fs::read_to_string(&path).unwrap();
    let base = path.parent().unwrap();
    let s = Scenario::from_toml_str(&text, base).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(s.compile(base).unwrap_or_else(|e| panic!("{e}")))
}

/// The audit trail of `policy` on a library scenario.
fn audit(dir: &Path, scenario: &str, policy: &str) -> PathBuf {
    let out = dir.join("run");
    let mut cmd = bin();
    cmd.arg("run")
        .arg(manifest().join("scenarios").join(scenario))
        .args(["--policy", policy, "--audit", "--quiet", "--out"])
        .arg(&out);
    let o = output_within(cmd, Duration::from_secs(300));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    out.join("audit.jsonl")
}

fn fitted(trail: &Path, bucket: Duration) -> FitModel {
    let run = fit(
        &[trail.to_owned()],
        &FitOptions {
            bucket,
            max_bad_share: 0.0,
            policy: None,
        },
    )
    .unwrap_or_else(|e| panic!("{:?}", e.problems));
    assert_eq!(run.bad, 0, "{:?}", run.shown);
    run.model
}

/// The truth of one route: (fast-error rate, loss, latency median, latency p99), the latency
/// by Monte Carlo over the world's own distributions (region + API + carrier + path).
fn truth(world: &CompiledScenario, r: &RouteFit) -> (f64, f64, f64, f64) {
    let p = world
        .providers
        .iter()
        .find(|p| p.name == r.provider)
        .unwrap();
    let country = world
        .countries
        .iter()
        .find(|c| c.code == r.country)
        .unwrap();
    let region = &world.regions[p.region.index()];
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let mut samples = Vec::with_capacity(200_000);
    let mut loss = 0.0;
    let n = 200_000;
    for _ in 0..n {
        let u: f64 = rand::Rng::random(&mut rng);
        let c = &world.carriers[country.pick_carrier(u).index()];
        loss += c.loss;
        samples.push(
            region.latency.sample_secs(&mut rng)
                + p.api_latency.sample_secs(&mut rng)
                + c.delivery_latency.sample_secs(&mut rng),
        );
    }
    samples.sort_by(f64::total_cmp);
    (
        p.error_rate,
        loss / n as f64,
        samples[n / 2],
        samples[n * 99 / 100],
    )
}

fn assert_route_matches(world: &CompiledScenario, r: &RouteFit, primary: bool) {
    let (error, loss, median, p99) = truth(world, r);
    let name = format!("{}/{}", r.provider, r.country.as_str());
    if r.error_rate.trials >= 1000 {
        let se = r
            .error_rate
            .standard_error
            .max((error * (1.0 - error) / r.error_rate.trials as f64).sqrt());
        assert!(
            (r.error_rate.value - error).abs() <= 3.0 * se + 1e-9,
            "{name}: error rate {} +- {se}, truth {error}",
            r.error_rate.value
        );
    }
    if r.loss.trials >= 1000 {
        let se = r
            .loss
            .standard_error
            .max((loss * (1.0 - loss) / r.loss.trials as f64).sqrt());
        assert!(
            (r.loss.value - loss).abs() <= 3.0 * se + 1e-9,
            "{name}: loss {} +- {se}, truth {loss}",
            r.loss.value
        );
    }
    if let Some(l) = r.latency.as_ref().filter(|l| l.samples >= 5000) {
        let (m, q99) = l.model_median_p99();
        // What the scenario samples matches what the records saw, on every route.
        assert!(
            (m / l.observed_median - 1.0).abs() < 0.05,
            "{name}: median {m}, seen {}",
            l.observed_median
        );
        assert!(
            (q99 / l.observed_p99 - 1.0).abs() < 0.05,
            "{name}: p99 {q99}, seen {}",
            l.observed_p99
        );
        // And the world's truth, on the primary routes: a backup route carries the retries of
        // verifications whose first attempt was slow, so its own traffic leans to the slower
        // carriers of the country (a real selection effect, not a fitting error).
        if primary {
            assert!(
                (m / median - 1.0).abs() < 0.05,
                "{name}: median {m}, truth {median}"
            );
            assert!(
                (q99 / p99 - 1.0).abs() < 0.05,
                "{name}: p99 {q99}, truth {p99}"
            );
        }
    }
}

#[test]
fn an_outage_comes_back_from_its_audit_trail() {
    let dir = temp_dir("fit-outage");
    let trail = audit(&dir, "provider-outage.toml", "aggressive");
    let world = compiled("provider-outage.toml");
    let bucket = Duration::from_secs(30);
    let model = fitted(&trail, bucket);
    assert_eq!(model.routes.len(), world.routes.len());
    for r in &model.routes {
        assert_route_matches(&world, r, r.provider == "atlas");
    }
    // The black hole of atlas (15 to 30 minutes) is found on each of its routes that still
    // carries traffic, within two buckets, as a black hole; nothing anywhere else.
    let fault = &world.faults[0];
    for r in &model.routes {
        if r.provider == "atlas" {
            assert!(
                !r.incidents.is_empty(),
                "{}/{}: no incident",
                r.provider,
                r.country.as_str()
            );
            let inc = &r.incidents[0];
            assert!(
                (inc.start - fault.start.as_secs_f64()).abs() <= 2.0 * 30.0,
                "{inc:?}"
            );
            assert!(
                inc.end >= fault.start.as_secs_f64()
                    && inc.end <= fault.end.as_secs_f64() + 2.0 * 30.0,
                "{inc:?}"
            );
        } else {
            assert!(r.incidents.is_empty(), "{}: {:?}", r.provider, r.incidents);
        }
    }
}

#[test]
fn a_fitted_scenario_is_valid_and_runs_as_it_is() {
    let dir = temp_dir("fit-cli");
    let trail = audit(&dir, "provider-outage.toml", "aggressive");
    let out = dir.join("fitted.toml");
    let mut cmd = bin();
    cmd.arg("fit")
        .arg(&trail)
        .args(["--bucket", "30s", "--out"])
        .arg(&out)
        .arg("--report")
        .arg(dir.join("fit-report"));
    let o = output_within(cmd, Duration::from_secs(120));
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("scenario: "), "{stdout}");
    let scenario = std::fs::read_to_string(&out).unwrap();
    assert!(
        scenario.starts_with("# Fitted by `failover-lab fit`"),
        "{scenario}"
    );
    assert!(
        scenario.contains("black_hole"),
        "the outage is not a fault:\n{scenario}"
    );
    // The fit report: a page and, per route, its three charts.
    let report = dir.join("fit-report");
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(page.contains("atlas"), "the page names no route");
    for chart in ["fit_latency_0", "fit_qq_0", "fit_failures_0"] {
        for ext in ["svg", "png"] {
            assert!(
                report.join(format!("{chart}.{ext}")).is_file(),
                "{chart}.{ext}"
            );
        }
    }
    assert!(stdout.contains("report: "), "{stdout}");
    // The recorded policy came along.
    assert!(scenario.contains("[policies.aggressive]"), "{scenario}");
    let mut cmd = bin();
    cmd.arg("run")
        .arg(&out)
        .args(["--quiet", "--out"])
        .arg(dir.join("replay"));
    let o = output_within(cmd, Duration::from_secs(300));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
}

#[test]
fn bad_records_are_located_and_never_quoted() {
    let dir = temp_dir("fit-bad");
    let run = |name: &str, content: &str, extra: &[&str]| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let mut cmd = bin();
        cmd.arg("fit")
            .arg(&path)
            .args(extra)
            .arg("--out")
            .arg(dir.join("out.toml"));
        let o = output_within(cmd, Duration::from_secs(60));
        let (_, stderr) = text(&o);
        assert!(!stderr.contains("hunter2"), "{stderr}");
        if o.status.code() != Some(0) {
            assert!(!dir.join("out.toml").exists(), "{name} wrote a scenario");
        }
        (o.status.code(), stderr)
    };
    let csv_head = "time,provider,country,number_type,outcome,latency\n";
    let good = "10.0,atlas,DE,mobile,delivered,2.5\n";
    // An empty file.
    let (code, e) = run("empty.csv", "", &[]);
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("no usable attempt records") || e.contains("empty.csv"),
        "{e}"
    );
    // A negative latency, a non-monotone time, a provider left empty, an unknown outcome.
    let rows = format!(
        "{csv_head}{good}11.0,atlas,DE,mobile,delivered,-1\n0.1,atlas,DE,mobile,delivered,1\n\
         12.0,,DE,mobile,delivered,1\n13.0,atlas,DE,mobile,hunter2,1\n"
    );
    let (code, e) = run("rows.csv", &rows, &[]);
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("rows.csv:3: `latency` is negative"), "{e}");
    assert!(e.contains("rows.csv:4: time goes back"), "{e}");
    assert!(e.contains("rows.csv:5: `provider` is empty"), "{e}");
    assert!(e.contains("rows.csv:6: `outcome` is neither"), "{e}");
    assert!(e.contains("4 of 5 lines are unusable"), "{e}");
    // A missing column names the columns a CSV needs.
    let (code, e) = run("cols.csv", "time,provider\n1,hunter2\n", &[]);
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("no `country` column"), "{e}");
    // A truncated JSON line in an audit trail, and one without its config line.
    let trail = "{\"type\":\"config\",\"routes\":[{\"route\":0,\"provider\":\"a\",\"country\":\"DE\",\
                 \"number_type\":\"mobile\",\"cost\":0.01}]}\n\
                 {\"type\":\"attempt\",\"at\":1.0,\"route\":0,\"outcome\":\"delivered\",\"latency\":0.5}\n\
                 {\"type\":\"attempt\",\"at\":2.0,\"route\":0,\"outc\n\
                 {\"type\":\"attempt\",\"at\":3.0,\"route\":7,\"outcome\":\"delivered\",\"latency\":0.5}\n";
    let (code, e) = run("trail.jsonl", trail, &[]);
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("trail.jsonl:3: truncated JSON"), "{e}");
    assert!(
        e.contains("trail.jsonl:4: route 7 is not in the trail's config record"),
        "{e}"
    );
    // A CSV read after a trail's config line: a provider the table does not have is a bad row.
    let config = dir.join("config.jsonl");
    std::fs::write(&config, trail.lines().next().unwrap()).unwrap();
    let unknown = dir.join("unknown.csv");
    std::fs::write(
        &unknown,
        format!("{csv_head}1.0,a,DE,mobile,delivered,1\n2.0,hunter2,DE,mobile,delivered,1\n"),
    )
    .unwrap();
    let mut cmd = bin();
    cmd.arg("fit")
        .arg(&config)
        .arg(&unknown)
        .arg("--out")
        .arg(dir.join("out.toml"));
    let o = output_within(cmd, Duration::from_secs(60));
    let (_, e) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("unknown.csv:3: the row's (provider"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    // Within --max-bad, bad lines are warnings and the fit goes on.
    let (code, e) = run("trail2.jsonl", trail, &["--max-bad", "0.6"]);
    assert_eq!(code, Some(0), "{e}");
    assert!(e.contains("warning: "), "{e}");
    std::fs::remove_file(dir.join("out.toml")).ok();
}

#[test]
fn nothing_is_detected_where_nothing_happened() {
    let dir = temp_dir("fit-quiet");
    // The load benchmark's world: one route, no fault, 200 verifications/s for 10 minutes.
    let trail = audit(&dir, "bench/load.toml", "p");
    let model = fitted(&trail, Duration::from_secs(10));
    assert_eq!(model.routes.len(), 1);
    let r = &model.routes[0];
    assert!(r.incidents.is_empty(), "{:?}", r.incidents);
    assert_eq!(r.error_rate.value, 0.0);
    assert_eq!(r.loss.value, 0.0);
    // Every delivery took exactly 2 s: no family has two distinct values to fit, the
    // empirical distribution stands in, at 2 s within the histogram's 0.2 % bins.
    let l = r.latency.as_ref().unwrap();
    assert!(l.fitted.is_none(), "{:?}", l.fitted);
    let (m, p99) = l.model_median_p99();
    assert!(
        (m - 2.0).abs() < 0.01 && (p99 - 2.0).abs() < 0.01,
        "{m} {p99}"
    );
    assert!(
        (model.traffic.rate - 200.0).abs() < 5.0,
        "{}",
        model.traffic.rate
    );
}

/// The fault windows of `world` on one (provider, country) as one span: (first start, last end).
fn fault_span(world: &CompiledScenario) -> (f64, f64) {
    let start = world
        .faults
        .iter()
        .map(|f| f.start.as_secs_f64())
        .fold(f64::MAX, f64::min);
    let end = world
        .faults
        .iter()
        .map(|f| f.end.as_secs_f64())
        .fold(0.0, f64::max);
    (start, end)
}

/// Degradations come back too: regional-degradation's 20-minute slowdown and loss on
/// meridian in India as one window, within two buckets; gradual-degradation's three
/// overlapping faults on orbit in the US (2 % then 5 % more errors, a loss ramp from 2 % to
/// 70 %) as one window spanning them, within two buckets (a ramp has no crisp edge of its own:
/// the segmentation cannot, and does not try to, cut the union into the faults that made it);
/// nothing on any other route.
#[test]
fn degradations_come_back_from_their_audit_trails() {
    for (scenario, bucket, provider, country) in [
        ("regional-degradation.toml", 30, "meridian", "IN"),
        ("gradual-degradation.toml", 60, "orbit", "US"),
    ] {
        let dir = temp_dir("fit-degradation");
        let trail = audit(&dir, scenario, "static-priority");
        let world = compiled(scenario);
        let model = fitted(&trail, Duration::from_secs(bucket));
        let (start, end) = fault_span(&world);
        let slack = 2.0 * bucket as f64;
        for r in &model.routes {
            if r.provider == provider && r.country.as_str() == country {
                assert_eq!(r.incidents.len(), 1, "{scenario}: {:?}", r.incidents);
                let inc = &r.incidents[0];
                assert!(
                    (inc.start - start).abs() <= slack && (inc.end - end).abs() <= slack,
                    "{scenario}: {inc:?} against {start}..{end}"
                );
            } else {
                assert!(
                    r.incidents.is_empty(),
                    "{scenario}: {}: {:?}",
                    r.provider,
                    r.incidents
                );
            }
        }
    }
}
