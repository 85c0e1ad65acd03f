use std::collections::BTreeSet;
use std::time::Duration;

use failover_router::policy::{Policy, Strategy};

use super::vary::{MAP_ENTRY, model};
use super::*;

fn vary(spec: &str) -> Vary {
    Vary::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn err(spec: &str) -> String {
    match Vary::parse(spec) {
        Ok(v) => panic!("{spec} should fail, parsed {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn numbers(v: &Vary) -> Vec<f64> {
    v.levels().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn secs(s: u64) -> Value {
    Value::Duration(Duration::from_secs(s))
}

#[test]
fn lists_read_every_kind_of_field() {
    let v = vary("ejection.base=10s,30s,1m");
    assert_eq!(v.kind, FieldKind::Duration);
    assert_eq!(v.levels(), vec![secs(10), secs(30), secs(60)]);
    let v = vary("strategy=priority,score");
    assert_eq!(v.kind, FieldKind::Name);
    assert_eq!(
        v.levels(),
        vec![Value::Name("priority".into()), Value::Name("score".into())]
    );
    let v = vary(" trip.failure_rate = 0.3, 0.5 ");
    assert_eq!(v.path, "trip.failure_rate");
    assert_eq!(v.kind, FieldKind::Number);
    assert_eq!(numbers(&v), vec![0.3, 0.5]);
    assert_eq!(vary("max_attempts=2,3").kind, FieldKind::Integer);
    assert_eq!(vary("diversity_fallback=true,false").kind, FieldKind::Bool);
    // Defaults to off: a duration that also takes `off`.
    let v = vary("trip.latency=off,15s");
    assert_eq!(v.kind, FieldKind::DurationOrOff);
    assert_eq!(v.levels(), vec![Value::Off, secs(15)]);
    // Fields that serialise to nothing by default are still in the model.
    assert_eq!(
        vary("trip.min_relative_conversion=0.3,0.5").kind,
        FieldKind::Number
    );
    assert_eq!(
        vary("adaptive_timeout.max=20s,40s").kind,
        FieldKind::Duration
    );
}

#[test]
fn linear_ranges_include_both_ends() {
    let v = vary("trip.failure_rate=0.1..0.6:6");
    assert_eq!(numbers(&v), vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    // Durations in ranges, rounded to milliseconds.
    let v = vary("ejection.base=10s..60s:6");
    assert_eq!(
        v.levels(),
        [10, 20, 30, 40, 50, 60].map(secs).to_vec(),
        "{:?}",
        v.levels()
    );
    let v = vary("ejection.base=1s..2s:4");
    assert_eq!(v.levels()[1], Value::Duration(Duration::from_millis(1333)));
    // Downwards, in the order written.
    assert_eq!(
        numbers(&vary("probe.share=0.3..0.1:3")),
        vec![0.3, 0.2, 0.1]
    );
    // Whole numbers are rounded.
    assert_eq!(
        vary("trip.consecutive_failures=2..10:5").levels(),
        [2, 4, 6, 8, 10].map(Value::Integer).to_vec()
    );
}

#[test]
fn log_ranges_space_by_ratio() {
    // `log:` belongs to the values, not the path.
    assert!(err("log:probe.share=0.01..1:5").contains("unknown policy field"));
    let v = vary("probe.share=log:0.01..1:5");
    let xs = numbers(&v);
    assert_eq!(xs.len(), 5);
    assert_eq!((xs[0], xs[4]), (0.01, 1.0));
    for (x, want) in xs
        .iter()
        .zip([0.01, 0.031_622_776_601_7, 0.1, 0.316_227_766_017, 1.0])
    {
        assert!((x - want).abs() < 1e-11, "{xs:?}");
    }
    let ratios: Vec<f64> = xs.windows(2).map(|w| w[1] / w[0]).collect();
    assert!(
        ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-9),
        "{ratios:?}"
    );
    let v = vary("ejection.base=log:1s..100s:3");
    assert_eq!(v.levels(), vec![secs(1), secs(10), secs(100)]);
}

#[test]
fn bad_values_name_the_flag_and_say_what_to_write() {
    let check = |spec: &str, needle: &str| {
        let e = err(spec);
        assert!(e.starts_with("--vary "), "{e}");
        assert!(e.contains(needle), "{spec}: {e}");
    };
    check("trip.failure_rate", "write PATH=VALUES");
    check("trip.failure_rate=", "no values");
    check("trip.failure_rate=0.1..0.6", "has no count");
    check("trip.failure_rate=0.1..0.6:1", "between 2 and 1000");
    check("trip.failure_rate=0.1..0.6:5000", "between 2 and 1000");
    check("trip.failure_rate=0.1..0.6:x", "not a whole number");
    check("trip.failure_rate=0.5..0.5:3", "same value");
    check("probe.share=log:0..1:3", "above zero");
    check("trip.failure_rate=0.1,,0.2", "empty value");
    check("trip.failure_rate=0.1,high", "is not a number");
    check("trip.failure_rate=0.1,0.1", "more than once");
    check("trip.consecutive_failures=1..3:10", "ask for fewer values");
    check("ejection.base=10,20", "has no unit");
    check("ejection.base=10s,5 parsecs", "unknown unit");
    check("strategy=priority..score:3", "not a range");
    check("strategy=priority,fastest", "unknown variant `fastest`");
    check("strategy=1", "is not a name");
    check("health.buckets=-1,12", "health.buckets = -1");
    check("trip.latency=off..20s:3", "off cannot end a range");
    let many = (0..=MAX_VALUES)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    check(&format!("max_stragglers={many}"), "at most 1000");
}

#[test]
fn paths_are_checked_against_the_model_with_did_you_mean() {
    let check = |spec: &str, needle: &str| {
        let e = err(spec);
        assert!(e.contains(needle), "{spec}: {e}");
    };
    check(
        "trip.failure_rat=0.1",
        "unknown policy field \"trip.failure_rat\"; did you mean \"trip.failure_rate\"?",
    );
    check("ejektion.base=10s", "did you mean \"ejection\"?");
    check("stratgy=score", "did you mean \"strategy\"?");
    // No close name: the fields of that level are listed.
    check("trip.zzz=1", "fields of trip: ");
    check(
        "trip=0.1",
        "trip is a table of settings; vary one of its fields: trip.",
    );
    check("strategy.x=1", "strategy is a single setting");
    check("=0.1", "no field before `=`");
    check("overrides=1", "unknown policy field \"overrides\"");
}

/// Provider limits and cost caps are sweepable: a limit by provider (or route) name, a cap as
/// any number; the point's policy carries the value.
#[test]
fn limits_and_cost_caps_are_sweepable_by_path() {
    let v = vary("limits.atlas.max_in_flight=2,8");
    assert_eq!(v.kind, FieldKind::Integer);
    assert_eq!(
        vary("limits.atlas/DE/mobile.rate=1..4:4").kind,
        FieldKind::Number
    );
    assert_eq!(
        vary("max_verification_cost=0.1,0.2").kind,
        FieldKind::Number
    );
    let plan = grid(vec![v, vary("max_attempt_cost=0.05")]).unwrap();
    let base: Policy = toml::from_str("[limits.atlas]\nrate = 5.0\n").unwrap();
    let p = plan.point_policy(&base, 1).unwrap();
    assert_eq!(p.limits["atlas"].max_in_flight, Some(8));
    assert_eq!(
        p.limits["atlas"].rate,
        Some(5.0),
        "the base's other fields are kept"
    );
    assert_eq!(p.max_attempt_cost, Some(0.05));
    assert_eq!(
        plan.varies[0].value_in(&p),
        Some(Value::Integer(8)),
        "read back from a policy"
    );
    // A point that is not a valid limit is refused like any invalid point.
    let bad = grid(vec![vary("limits.atlas.max_in_flight=0,1")]).unwrap();
    let e = bad.policies(&Policy::default()).unwrap_err();
    assert_eq!(e.invalid.len(), 1);
    assert_eq!(e.invalid[0].field, "limits.atlas.max_in_flight");
    let check = |spec: &str, needle: &str| {
        let e = err(spec);
        assert!(e.contains(needle), "{spec}: {e}");
    };
    check("limits.*.rate=1,2", "name a provider");
    check("limits=1", "vary a field of one: limits.<provider>.");
    check("limits.atlas=1", "atlas is a table of settings");
    check(
        "limits.atlas.max_inflight=1",
        "did you mean \"limits.atlas.max_in_flight\"?",
    );
}

/// Walks the policy's JSON Schema (which schemars derives from every field) and the sweep's
/// model to the same set of leaf paths, so a field the model misses (an optional one that
/// serialises to nothing when unset) fails here rather than in a user's sweep.
#[test]
fn model_covers_every_schema_field() {
    let schema = serde_json::to_value(schemars::schema_for!(Policy)).unwrap();
    let defs = |name: &str| -> serde_json::Value {
        ["$defs", "definitions"]
            .iter()
            .find_map(|d| schema.get(*d).and_then(|d| d.get(name)).cloned())
            .unwrap_or_else(|| panic!("no definition {name}"))
    };
    fn properties(
        node: &serde_json::Value,
        defs: &dyn Fn(&str) -> serde_json::Value,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        if let Some(p) = node.get("properties").and_then(|p| p.as_object()) {
            return Some(p.clone());
        }
        if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
            return properties(&defs(r.rsplit('/').next().unwrap()), defs);
        }
        ["allOf", "anyOf", "oneOf"].iter().find_map(|k| {
            node.get(*k)?
                .as_array()?
                .iter()
                .find_map(|n| properties(n, defs))
        })
    }
    fn leaves(
        prefix: &str,
        node: &serde_json::Value,
        defs: &dyn Fn(&str) -> serde_json::Value,
        out: &mut BTreeSet<String>,
    ) {
        match properties(node, defs) {
            Some(p) => {
                for (k, v) in p {
                    let path = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&path, &v, defs, out);
                }
            }
            // A map keyed by name (`limits`): the model's one entry stands for every name.
            None if node
                .get("additionalProperties")
                .is_some_and(|a| a.is_object()) =>
            {
                let entry = &node["additionalProperties"];
                leaves(&format!("{prefix}.{MAP_ENTRY}"), entry, defs, out);
            }
            None => {
                out.insert(prefix.to_owned());
            }
        }
    }
    let mut from_schema = BTreeSet::new();
    leaves("", &schema, &defs, &mut from_schema);
    // Lists are not sweepable (see the vary module's documentation).
    from_schema.retain(|p| !p.starts_with("overrides") && !p.starts_with("compliance"));
    fn model_leaves(prefix: &str, t: &toml::Table, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => model_leaves(&path, t, out),
                _ => {
                    out.insert(path);
                }
            }
        }
    }
    let mut from_model = BTreeSet::new();
    model_leaves("", &model(), &mut from_model);
    assert_eq!(from_model, from_schema);
    // The walk went into the nested tables (health, trip, ...), not just the top level.
    assert!(from_model.len() > 40, "{from_model:?}");
}

#[test]
fn grid_is_the_cartesian_product_last_dimension_fastest() {
    let plan = grid(vec![
        vary("trip.failure_rate=0.3,0.5"),
        vary("ejection.base=10s,30s,1m"),
    ])
    .unwrap();
    assert_eq!(plan.design, Design::Grid);
    assert_eq!(plan.points.len(), 6);
    let labels: Vec<String> = (0..6).map(|i| plan.label(i)).collect();
    assert_eq!(
        labels,
        [
            "trip.failure_rate=0.3, ejection.base=10s",
            "trip.failure_rate=0.3, ejection.base=30s",
            "trip.failure_rate=0.3, ejection.base=1m",
            "trip.failure_rate=0.5, ejection.base=10s",
            "trip.failure_rate=0.5, ejection.base=30s",
            "trip.failure_rate=0.5, ejection.base=1m",
        ]
    );
    // Deterministic.
    assert_eq!(
        plan,
        grid(vec![
            vary("trip.failure_rate=0.3,0.5"),
            vary("ejection.base=10s,30s,1m"),
        ])
        .unwrap()
    );
}

#[test]
fn grid_limits_say_what_to_do() {
    let e = grid(vec![
        vary("trip.failure_rate=0.01..0.99:100"),
        vary("probe.share=0.01..0.99:200"),
    ])
    .unwrap_err();
    assert!(e.0.contains("20000 points (100 x 200)"), "{e}");
    assert!(e.0.contains("--samples K"), "{e}");
    assert!(grid(vec![]).unwrap_err().0.contains("--vary"));
    let e = grid(vec![vary("probe.share=0.1"), vary("probe.share=0.2")]).unwrap_err();
    assert!(e.0.contains("given twice"), "{e}");
}

#[test]
fn latin_hypercube_hits_every_stratum_once_per_dimension() {
    let k = 20;
    let varies = vec![
        vary("trip.failure_rate=0.2..0.8:4"),
        vary("probe.share=log:0.01..1:3"),
        vary("ejection.base=10s..70s:2"),
        vary("strategy=priority,weighted,score,thompson"),
    ];
    let plan = latin_hypercube(varies.clone(), k, 7).unwrap();
    assert_eq!(plan.points.len(), k);
    assert_eq!(
        plan.design,
        Design::LatinHypercube {
            samples: k,
            seed: 7
        }
    );
    for (d, v) in plan.varies.iter().enumerate().take(3) {
        let strata: BTreeSet<usize> = plan
            .points
            .iter()
            .map(|p| {
                let u = v.position(&p.values[d]).unwrap();
                assert!((0.0..=1.0).contains(&u), "{u}");
                ((u * k as f64) as usize).min(k - 1)
            })
            .collect();
        assert_eq!(strata.len(), k, "{}: {strata:?}", v.path);
    }
    // A list's K strata spread evenly over its values.
    for name in ["priority", "weighted", "score", "thompson"] {
        let n = plan
            .points
            .iter()
            .filter(|p| p.values[3] == Value::Name(name.into()))
            .count();
        assert_eq!(n, k / 4, "{name}");
    }
    // The same seed gives the same points; another seed other pairings.
    assert_eq!(plan, latin_hypercube(varies.clone(), k, 7).unwrap());
    assert_ne!(
        plan.points,
        latin_hypercube(varies.clone(), k, 8).unwrap().points
    );
    // Adding a dimension leaves the others' draws alone (one stream per path).
    let mut more = varies.clone();
    more.push(vary("max_attempts=2,3"));
    let wider = latin_hypercube(more, k, 7).unwrap();
    for (a, b) in plan.points.iter().zip(&wider.points) {
        assert_eq!(a.values[..], b.values[..4]);
    }
    assert!(
        latin_hypercube(varies, 1, 7)
            .unwrap_err()
            .0
            .contains("--samples 1")
    );
}

#[test]
fn points_become_validated_policies() {
    let plan = grid(vec![
        vary("strategy=priority,score"),
        vary("adaptive_timeout.factor=1.5,2"),
        vary("trip.latency=off,15s"),
    ])
    .unwrap();
    let base = Policy {
        max_attempts: 2,
        ..Policy::default()
    };
    let out = plan.policies(&base).unwrap();
    assert_eq!(out.policies.len(), 8);
    let p = &out.policies[7];
    assert_eq!(p.strategy, Strategy::Score);
    assert_eq!(p.trip.latency, Some(Duration::from_secs(15)));
    // An optional table absent from the base is created with its defaults.
    let a = p.adaptive_timeout.unwrap();
    assert_eq!((a.factor, a.quantile), (2.0, 0.95));
    // The base's other settings are kept.
    assert!(out.policies.iter().all(|p| p.max_attempts == 2));
    assert_eq!(out.policies[0].trip.latency, None);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(plan.point_policy(&base, 7).unwrap(), *p);
}

#[test]
fn every_invalid_combination_is_reported_at_once() {
    // probe.recover_failure_rate must stay below trip.failure_rate.
    let plan = grid(vec![
        vary("trip.failure_rate=0.1,0.3,0.5"),
        vary("probe.recover_failure_rate=0.05,0.2,0.4"),
    ])
    .unwrap();
    let e = plan.policies(&Policy::default()).unwrap_err();
    assert_eq!(e.total, 9);
    let bad: Vec<usize> = e.invalid.iter().map(|p| p.point).collect();
    // (0.1, 0.2), (0.1, 0.4), (0.3, 0.4).
    assert_eq!(bad, vec![1, 2, 5]);
    assert!(
        e.invalid
            .iter()
            .all(|p| p.field == "probe.recover_failure_rate")
    );
    let text = e.to_string();
    assert!(
        text.starts_with("3 of 9 sweep points are not valid policies"),
        "{text}"
    );
    assert!(
        text.contains(
            "point 5 (trip.failure_rate=0.3, probe.recover_failure_rate=0.4): \
             probe.recover_failure_rate: 0.4 must be stricter"
        ),
        "{text}"
    );
    // Single-field ranges are the policy's own checks, per point.
    let plan = grid(vec![vary("trip.failure_rate=0.5..1.5:3")]).unwrap();
    let e = plan.policies(&Policy::default()).unwrap_err();
    assert_eq!(e.invalid.len(), 1);
    assert_eq!(e.invalid[0].field, "trip.failure_rate");
}

#[test]
fn warnings_of_valid_points_are_kept() {
    let plan = grid(vec![vary("trip.latency=10s,25s")]).unwrap();
    let out = plan.policies(&Policy::default()).unwrap();
    // 25s is above the 20s attempt timeout: valid, but it trips late or never.
    assert_eq!(out.warnings.len(), 1);
    assert_eq!(out.warnings[0].0, 1);
    assert_eq!(out.warnings[0].1.field, "trip.latency");
}

#[test]
fn a_base_policy_value_is_read_in_the_field_kind() {
    let mut p = Policy::default();
    p.trip.failure_rate = 0.35;
    p.ejection.base = Duration::from_secs(45);
    p.trip.latency = None;
    assert_eq!(
        vary("trip.failure_rate=0.1,0.2").value_in(&p),
        Some(Value::Number(0.35))
    );
    assert_eq!(vary("ejection.base=10s,1m").value_in(&p), Some(secs(45)));
    assert_eq!(vary("trip.latency=off,20s").value_in(&p), Some(Value::Off));
    assert_eq!(
        vary("strategy=priority,score").value_in(&p),
        Some(Value::Name(
            toml::Value::try_from(p.strategy)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        ))
    );
    assert_eq!(
        vary("max_attempts=1,2").value_in(&p),
        Some(Value::Integer(i64::from(p.max_attempts)))
    );
    // An optional table the base leaves unset has no value.
    assert_eq!(vary("adaptive_timeout.factor=2,3").value_in(&p), None);
}
