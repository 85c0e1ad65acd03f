//! The JSON Schema of the scenario format, generated from the serde model.
//!
//! Editors validate and complete TOML against a JSON Schema (taplo / Even Better TOML with a
//! `#:schema path/to/schema.json` comment or a `taplo.toml` rule), so `failover-lab schema`
//! prints this one. It is derived from the same types the parser reads, with hand-written
//! schemas where the file form is custom: human durations (`"30s"`), rates (`"50/s"`),
//! country codes, `[policies.<name>]` (a policy or `{ file = ... }`) and the flat `[[faults]]`
//! form, whose per-kind rules become `if` / `then` clauses. Unknown fields are
//! `additionalProperties: false`, as the parser denies them.
//!
//! Draft-07 rather than 2020-12, because it is the draft editors' TOML and JSON language
//! servers support best. Checks that need more than the file itself (names that refer to other
//! entries, shares summing to 1, CSV files, value ranges) stay with validation.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::Value;

use super::{FORMAT_VERSION, Scenario};

/// Title of the root schema, shown by editors.
const TITLE: &str = "failover-lab scenario";

/// The schema as a JSON value.
pub(super) fn json_schema_value() -> serde_json::Value {
    let mut schema = SchemaSettings::draft07()
        .with_transform(RecursiveTransform(tidy as fn(&mut Schema)))
        .into_generator()
        .into_root_schema_for::<Scenario>();
    schema.insert("title".into(), TITLE.into());
    schema.insert(
        "description".into(),
        format!(
            "A failover-lab scenario file (format_version = {FORMAT_VERSION}): the simulated \
             world (regions, countries, carriers, providers), the router's routing table, the \
             policies to compare, the traffic and the faults. Durations are strings with a unit \
             (\"30s\"), rates are \"<amount>/<unit>\" (\"50/s\")."
        )
        .into(),
    );
    schema.to_value()
}

/// Fits a generated (sub)schema to TOML files and editors.
///
/// - TOML has no null (an optional field is left out), so `Option<T>`'s `null` alternative is
///   dropped: `type: [T, "null"]` becomes `type: T`, `anyOf: [X, {type: null}]` becomes
///   `allOf: [X]` (so a `$ref` keeps its sibling description under draft-07).
/// - Descriptions come from doc comments: their hard line breaks are joined (blank lines kept)
///   and rustdoc links (`` [`Name`] ``) become plain code spans.
fn tidy(schema: &mut Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            obj.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(branches)) = obj.get_mut("anyOf") {
        let null = serde_json::json!({ "type": "null" });
        let before = branches.len();
        branches.retain(|b| *b != null);
        if before == 2 && branches.len() == 1 {
            let only = obj.remove("anyOf").expect("present");
            obj.insert("allOf".into(), only);
        }
    }
    if let Some(Value::String(text)) = obj.get_mut("description") {
        *text = plain_description(text);
    }
}

/// Doc-comment text as editor text: lines of a paragraph joined, rustdoc links unwrapped.
fn plain_description(doc: &str) -> String {
    doc.split("\n\n")
        .map(|paragraph| {
            paragraph
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
        .replace("[`", "`")
        .replace("`]", "`")
}

/// The schema, pretty-printed (no trailing newline), with the root's keys in reading order (`$schema`, `title`,
/// `description`, the top-level `properties`, ..., `definitions` last); nested objects keep
/// `serde_json`'s sorted order.
pub(super) fn json_schema_string() -> String {
    let schema = json_schema_value();
    let Value::Object(root) = &schema else {
        unreachable!("a root schema is an object")
    };
    const FIRST: [&str; 7] = [
        "$schema",
        "title",
        "description",
        "type",
        "required",
        "properties",
        "additionalProperties",
    ];
    let mut ordered: Vec<(&String, &Value)> = Vec::with_capacity(root.len());
    for key in FIRST {
        ordered.extend(root.get_key_value(key));
    }
    ordered.extend(
        root.iter()
            .filter(|(k, _)| !FIRST.contains(&k.as_str()) && *k != "definitions"),
    );
    ordered.extend(root.get_key_value("definitions"));
    serde_json::to_string_pretty(&OrderedMap(ordered))
        .expect("a serde_json::Value always serialises")
}

/// A JSON object serialised in the order of its entries.
struct OrderedMap<'a>(Vec<(&'a String, &'a Value)>);

impl serde::Serialize for OrderedMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use failover_router::duration::HumanDuration;
    use serde_json::{Value, json};

    use super::*;
    use crate::scenario::Rate;
    use crate::scenario::tests::EXAMPLE;

    fn schema() -> Value {
        serde_json::from_str(&crate::scenario::json_schema()).expect("the schema is valid JSON")
    }

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&schema()).expect("the schema compiles")
    }

    /// A validator for one definition of the schema (e.g. `Policy`), with the others in reach.
    fn definition_validator(name: &str) -> jsonschema::Validator {
        let mut schema = schema();
        assert!(
            schema["definitions"].get(name).is_some(),
            "no definition {name}"
        );
        let root = schema.as_object_mut().unwrap();
        root.retain(|k, _| k == "$schema" || k == "definitions");
        root.insert("$ref".into(), format!("#/definitions/{name}").into());
        jsonschema::validator_for(&schema).expect("the schema compiles")
    }

    fn toml_to_json(text: &str) -> Result<Value, String> {
        let value: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        serde_json::to_value(value).map_err(|e| e.to_string())
    }

    /// The schema's complaints about a TOML document, one line each; empty if it conforms.
    fn complaints(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
        let doc = toml_to_json(text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"));
        validator
            .iter_errors(&doc)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect()
    }

    /// Whether the parser takes the text (shape only: the version check and serde, not the
    /// semantic validation, which the schema does not attempt).
    fn parser_accepts(text: &str) -> Result<(), String> {
        let doc: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        if doc.get("format_version").and_then(toml::Value::as_integer)
            != Some(i64::from(FORMAT_VERSION))
        {
            return Err("format_version".into());
        }
        toml::from_str::<Scenario>(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn schema_is_draft_07_with_title_and_every_top_level_field() {
        let schema = schema();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["title"], TITLE);
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert_eq!(schema["additionalProperties"], false);
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("not a valid draft-07 schema: {e}"));

        let properties = schema["properties"].as_object().unwrap();
        let expected = [
            "format_version",
            "name",
            "description",
            "seed",
            "duration",
            "warmup",
            "bucket",
            "regions",
            "countries",
            "carriers",
            "providers",
            "router",
            "policies",
            "traffic",
            "faults",
            "restarts",
            "reloads",
            "experiment",
            "sweep",
            "expect",
        ];
        // The example uses every section; written back, its keys are all the model's fields.
        let scenario: Scenario = toml::from_str(EXAMPLE).unwrap();
        let written: toml::Table = toml::from_str(&scenario.to_toml_string().unwrap()).unwrap();
        for key in expected
            .iter()
            .copied()
            .chain(written.keys().map(String::as_str))
        {
            let p = properties
                .get(key)
                .unwrap_or_else(|| panic!("no property {key}"));
            assert!(
                p.get("description").and_then(Value::as_str).is_some(),
                "{key} has no description: {p}"
            );
        }
        assert_eq!(properties.len(), expected.len(), "{:?}", properties.keys());
        assert_eq!(schema["properties"]["format_version"]["const"], 1);
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["duration", "format_version", "name"]);
    }

    #[test]
    fn custom_representations_have_string_schemas() {
        let schema = schema();
        let duration = &schema["properties"]["duration"];
        assert_eq!(duration["type"], "string");
        assert_eq!(duration["pattern"], HumanDuration::PATTERN);
        assert_eq!(schema["properties"]["bucket"]["default"], "1m");
        let defs = &schema["definitions"];
        assert_eq!(
            defs["Traffic"]["properties"]["rate"]["pattern"],
            Rate::PATTERN
        );
        assert_eq!(
            defs["CountrySpec"]["properties"]["code"]["pattern"],
            "^[A-Za-z]{2}$"
        );
        // Policy defaults come from `Policy::default()`, durations written as in files.
        assert_eq!(
            defs["Policy"]["properties"]["attempt_timeout"]["default"],
            "20s"
        );
        assert_eq!(defs["Policy"]["properties"]["max_attempts"]["default"], 3);
        assert_eq!(defs["Policy"]["additionalProperties"], false);
    }

    /// The test that matters: every scenario file in the repository conforms to the schema.
    #[test]
    fn every_scenario_file_and_the_full_example_conform() {
        let validator = validator();
        let policy = definition_validator("Policy");
        let errors = complaints(&validator, EXAMPLE);
        assert!(errors.is_empty(), "EXAMPLE: {errors:#?}");

        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let files = toml_files(&root);
        assert!(
            files.iter().any(|f| f.ends_with("demo.toml")),
            "no scenarios found under {}",
            root.display()
        );
        let mut failures = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            // Shared policy files (`scenarios/**/policies/*.toml`) hold one policy each.
            let is_policy = file
                .parent()
                .is_some_and(|d| d.file_name().is_some_and(|n| n == "policies"));
            let (v, what) = if is_policy {
                (&policy, "policy")
            } else {
                (&validator, "scenario")
            };
            for e in complaints(v, &text) {
                failures.push(format!("{} ({what}) {e}", file.display()));
            }
        }
        assert!(
            failures.is_empty(),
            "files that do not conform to the schema (a .toml under scenarios/ that is neither \
             a scenario nor in a policies/ directory needs a rule here):\n{}",
            failures.join("\n")
        );
    }

    fn toml_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                out.extend(toml_files(&path));
            } else if path.extension().is_some_and(|x| x == "toml") {
                out.push(path);
            }
        }
        out
    }

    /// Mistakes the parser rejects are rejected by the schema too, each for the right field.
    #[test]
    fn schema_rejects_what_the_parser_rejects() {
        let validator = validator();
        let cases: &[(&str, &str, &str)] = &[
            // (replace, with, expected in a complaint)
            ("loss = 0.01", "los = 0.01", "los"),
            ("warmup = \"5m\"", "warmup = \"5 minutes\"", "/warmup"),
            ("warmup = \"5m\"", "warmup = \"5\"", "/warmup"),
            ("warmup = \"5m\"", "warmup = 300", "/warmup"),
            ("bucket = \"30s\"", "bucket = \"1e3s\"", "/bucket"),
            ("rate = \"50/s\"", "rate = \"50\"", "/traffic/rate"),
            ("rate = \"50/s\"", "rate = \"0/s\"", "/traffic/rate"),
            ("rate = \"50/s\"", "rate = \"50/w\"", "/traffic/rate"),
            ("code = \"US\"", "code = \"USA\"", "/countries/1/code"),
            (
                "format_version = 1",
                "format_version = 2",
                "/format_version",
            ),
            ("max_attempts = 2", "max_attemps = 2", "max_attemps"),
            (
                "attempt_timeout = \"10s\"",
                "attempt_timeout = \"10\"",
                "attempt_timeout",
            ),
            (
                "file = \"policies/shared.toml\"",
                "file = \"policies/shared.toml\"\nstrategy = \"score\"",
                "/policies/shared",
            ),
            (
                "kind = \"weibull\"",
                "kind = \"triangle\"",
                "delivery_latency",
            ),
            (
                "shape = 1.5, scale = \"3s\"",
                "shape = 1.5, scale = \"3s\", extra = 1",
                "delivery_latency",
            ),
            (
                "number_types = [\"mobile\", \"landline\"]",
                "number_types = [\"mobile\", \"fax\"]",
                "/providers/1/number_types/1",
            ),
            (
                "kind = \"capacity_cut\"",
                "kind = \"capacity_drop\"",
                "/faults/8",
            ),
            (
                "mode = \"black_hole\"",
                "mode = \"black_hole\"\nduty = 0.5",
                "/faults/0",
            ),
            ("period = \"2m\"\n", "", "/faults/4"),
            ("at = \"45m\"\n", "", "/restarts/1"),
            ("warm = false\n", "warm = \"no\"\n", "/restarts/1/warm"),
            ("to = 0.6\n", "", "/faults/5"),
            (
                "multiplier = 3.0",
                "multiplier = 3.0\nadd = { kind = \"constant\", value = \"1s\" }",
                "/faults/2",
            ),
            (
                "end = \"30m\"",
                "end = \"30m\"\nduration = \"1m\"",
                "/faults/1",
            ),
            (
                "carrier = \"vodafone-de\"\n",
                "carrier = \"vodafone-de\"\nregion = \"eu-west\"\n",
                "/faults/1/target",
            ),
            ("region = \"eu-west\"\n\n", "\n", "/faults/2/target"),
            (
                "[faults.target]\nprovider = \"twilio-like\"\ncountry = \"DE\"",
                "[faults.target]\nprovider = \"twilio-like\"\ncountry = \"DE\"\nwhen = 1",
                "/faults/0/target",
            ),
        ];
        for &(from, to, expect) in cases {
            assert_eq!(EXAMPLE.matches(from).count(), 1, "{from:?} must occur once");
            let text = EXAMPLE.replace(from, to);
            let parsed = parser_accepts(&text);
            assert!(parsed.is_err(), "the parser accepts {to:?}");
            let errors = complaints(&validator, &text);
            assert!(
                errors.iter().any(|e| e.contains(expect)),
                "the schema does not reject {to:?} at {expect:?} (the parser says {}): {errors:#?}",
                parsed.unwrap_err()
            );
        }
    }

    /// Spellings the parser takes (white space, `min`, lower-case countries, exponents) are not
    /// flagged by an editor.
    #[test]
    fn schema_accepts_what_the_parser_accepts() {
        let validator = validator();
        let cases: &[(&str, &str)] = &[
            ("warmup = \"5m\"", "warmup = \" 5 min \""),
            ("warmup = \"5m\"", "warmup = \".5h\""),
            ("warmup = \"5m\"", "warmup = \"300000.ms\""),
            ("rate = \"50/s\"", "rate = \"3000 / min\""),
            ("rate = \"50/s\"", "rate = \"+5e1/sec\""),
            ("rate = \"50/s\"", "rate = \"0.5/d\""),
            ("code = \"US\"", "code = \"us\""),
            ("seed = 42\n", ""),
            (
                "[policies.default]\n",
                "[policies.default]\nstrategy = \"thompson\"\n",
            ),
        ];
        for &(from, to) in cases {
            assert_eq!(EXAMPLE.matches(from).count(), 1, "{from:?} must occur once");
            let text = EXAMPLE.replace(from, to);
            parser_accepts(&text).unwrap_or_else(|e| panic!("the parser rejects {to:?}: {e}"));
            let errors = complaints(&validator, &text);
            assert!(errors.is_empty(), "the schema rejects {to:?}: {errors:#?}");
        }
    }

    /// The duration and rate patterns agree with the parsers, string by string.
    #[test]
    fn patterns_match_the_parsers() {
        let string_with = |pattern: &str| {
            jsonschema::validator_for(&json!({ "type": "string", "pattern": pattern })).unwrap()
        };
        let duration = string_with(HumanDuration::PATTERN);
        for text in [
            "30s",
            "250ms",
            "5m",
            "5min",
            "2h",
            "1d",
            "10us",
            "1.5s",
            "1.s",
            ".5s",
            "0s",
            " 3 s ",
            "30",
            "s",
            "",
            "3x",
            "1e3s",
            "-1s",
            "1.2.3s",
            "3 sec",
            "inf s",
            "3S",
            "1,5s",
            ". s",
            // Compound: units from largest to smallest, each once.
            "6m30s",
            "1h30m",
            "1m0.5s",
            "1h 30m",
            " 2 m 5 s ",
            "5min30s",
            "1d2h3m4s5ms6us",
            "1s500ms",
            "1m5ms",
            "30s1m",
            "1ms5s",
            "1m1m",
            "1m2min",
            "1m30",
            "1m s",
            "1m,30s",
            "1m30x",
            "1mins",
        ] {
            let parsed = failover_router::duration::parse(text);
            assert_eq!(
                duration.is_valid(&json!(text)),
                parsed.is_ok(),
                "duration {text:?}: parser says {parsed:?}"
            );
        }
        let rate = string_with(Rate::PATTERN);
        for text in [
            "50/s",
            "3000/m",
            "3000 / min",
            "10/h",
            "864/d",
            "0.5/s",
            "5/sec",
            ".5/s",
            "5./s",
            "1e2/s",
            "1E-2/h",
            "+5/s",
            " 5/s ",
            "50",
            "0/s",
            "0.0/s",
            "00/m",
            "-3/s",
            "fast/s",
            "5/w",
            "5/S",
            "inf/s",
            "NaN/s",
            "5/s/s",
            "/s",
            "5/",
        ] {
            let parsed = Rate::parse(text);
            assert_eq!(
                rate.is_valid(&json!(text)),
                parsed.is_ok(),
                "rate {text:?}: parser says {parsed:?}"
            );
        }
    }
}
