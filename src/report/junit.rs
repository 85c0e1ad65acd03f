//! The gate as JUnit XML (`--junit`): the format GitHub Actions reporters, GitLab's merge-request
//! widget and Jenkins read test results from, so a regressed policy shows up where a failed test
//! would.
//!
//! One `<testsuite>` per gated scenario, one `<testcase>` per check, classed under the scenario.
//! A test case's name is stable from run to run (`<policy>: <metric> <threshold>` or
//! `<policy>: <metric> vs baseline`), because CI systems track a test's history by name; the
//! numbers, which change, go into the failure message. FAIL and REGRESSED are failures,
//! SKIPPED is skipped, PASS and IMPROVED pass.
//!
//! No timestamps, durations or report ids: the same gate gives the same bytes, so the file can be
//! compared or committed. Escaping is `quick-junit`'s (names come from scenario files).

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::gate::{check_line, details, subject};
use super::replicated::{self, Style};
use crate::metrics::gate::{BaselineState, Check, CheckKind, GateReport, ScenarioGate, Status};

/// The `name` of the `<testsuites>` root.
const REPORT_NAME: &str = "failover-lab gate";

/// The gate as JUnit XML, UTF-8. Serializing into memory fails only if `quick-junit` does.
pub fn junit(report: &GateReport) -> Result<Vec<u8>, quick_junit::SerializeError> {
    let mut r = Report::new(REPORT_NAME);
    r.add_test_suites(report.scenarios.iter().map(suite));
    let mut out = Vec::new();
    r.serialize(&mut out)?;
    Ok(out)
}

/// A test case's name: what was checked on which policy, without any measured number.
pub fn test_name(check: &Check) -> String {
    match check.kind {
        CheckKind::Expectation { .. } => format!("{}: {}", check.policy, subject(check)),
        CheckKind::Regression { .. } => format!("{}: {} vs baseline", check.policy, check.metric),
    }
}

/// Attribute values are one line: parsers turn a newline in an attribute into a space anyway.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r']).collect::<Vec<_>>().join(" ")
}

/// The failure or skip message: the numbers (value and threshold; or baseline, new value,
/// difference, interval and tolerance), then the note.
fn message(check: &Check) -> String {
    let mut m = match &check.kind {
        CheckKind::Expectation { threshold } => format!(
            "{} = {}, expected {}",
            check.metric,
            details(check),
            threshold.display(check.unit)
        ),
        CheckKind::Regression { .. } => format!("{}: {}", check.metric, details(check)),
    };
    if let Some(note) = &check.note {
        m.push_str("; ");
        m.push_str(note);
    }
    one_line(&m)
}

/// As `BaselineState` serializes (serde's `snake_case`), so the property matches the JSON.
fn baseline_state(b: &BaselineState) -> &'static str {
    match b {
        BaselineState::Current => "current",
        BaselineState::Stale => "stale",
        BaselineState::Missing => "missing",
        BaselineState::NotAsked => "not_asked",
    }
}

fn suite(s: &ScenarioGate) -> TestSuite {
    let mut suite = TestSuite::new(&s.scenario);
    suite.add_property(Property::new("file", &s.file));
    suite.add_property(Property::new("seeds", s.seeds.len().to_string()));
    suite.add_property(Property::new(
        "confidence",
        replicated::confidence(s.confidence, Style::Terminal),
    ));
    suite.add_property(Property::new("baseline", baseline_state(&s.baseline)));
    if let Some(f) = &s.baseline_file {
        suite.add_property(Property::new("baseline_file", f));
    }
    if !s.warnings.is_empty() {
        let text: Vec<String> = s.warnings.iter().map(|w| format!("warning: {w}")).collect();
        suite.set_system_out(text.join("\n"));
    }
    suite.add_test_cases(s.checks.iter().map(|c| case(&s.scenario, c)));
    suite
}

fn case(scenario: &str, check: &Check) -> TestCase {
    let status = match check.status {
        Status::Pass | Status::Improved => TestCaseStatus::success(),
        Status::Fail | Status::Regressed => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(message(check))
                .set_type(check.status.as_str())
                .set_description(check_line(check));
            st
        }
        Status::Skipped => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(message(check));
            st
        }
    };
    let mut case = TestCase::new(test_name(check), status);
    case.set_classname(scenario);
    if check.status == Status::Improved {
        // A success that a reviewer may want to lock in by saving a new baseline.
        case.set_system_out(format!("IMPROVED: {}", message(check)));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::super::gate::fixture::{self, HOSTILE_POLICY};
    use super::*;

    fn parse(bytes: &[u8]) -> Report {
        let xml = std::str::from_utf8(bytes).expect("UTF-8");
        Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e:?}\n{xml}"))
    }

    #[test]
    fn every_check_is_a_test_case_and_failures_are_counted() {
        let bytes = junit(&fixture::report()).unwrap();
        let r = parse(&bytes);
        let totals = fixture::report().totals();
        assert_eq!(r.name.as_ref().map(|n| n.as_str()), Some(REPORT_NAME));
        assert_eq!(r.tests, totals.checks);
        assert_eq!(r.failures, totals.failed + totals.regressed);
        assert_eq!(r.skipped, totals.skipped);
        assert_eq!(r.errors, 0);
        assert_eq!(r.test_suites.len(), 2);

        let outage = &r.test_suites[0];
        assert_eq!(outage.name.as_str(), "outage-ci");
        assert_eq!((outage.tests, outage.failures, outage.skipped), (7, 3, 1));
        let props: Vec<(&str, &str)> = outage
            .properties
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert!(
            props.contains(&("file", "scenarios/ci/outage.toml")),
            "{props:?}"
        );
        assert!(props.contains(&("baseline", "current")));
        let names: Vec<&str> = outage.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[0], "default: success_rate >= 99.5%");
        assert_eq!(names[3], "no-trips: success_rate vs baseline");
        assert!(
            outage
                .test_cases
                .iter()
                .all(|c| c.classname.as_ref().map(|n| n.as_str()) == Some("outage-ci"))
        );

        let TestCaseStatus::NonSuccess {
            kind, message, ty, ..
        } = &outage.test_cases[3].status
        else {
            panic!("{:?}", outage.test_cases[3].status)
        };
        assert_eq!(*kind, NonSuccessKind::Failure);
        assert_eq!(ty.as_ref().unwrap().as_str(), "REGRESSED");
        assert_eq!(
            message.as_ref().unwrap().as_str(),
            "success_rate: baseline 99.73% -> now 97.1%, difference -2.63 pp [-2.91, -2.35] \
             (tolerance 0.1 pp)"
        );
        let TestCaseStatus::NonSuccess { message, .. } = &outage.test_cases[1].status else {
            panic!()
        };
        assert_eq!(
            message.as_ref().unwrap().as_str(),
            "time_to_verify.p99 = 23.4s ± 1.2s, expected < 20s"
        );
        assert!(matches!(
            outage.test_cases[6].status,
            TestCaseStatus::Skipped { .. }
        ));
        let improved = &outage.test_cases[4];
        assert!(matches!(improved.status, TestCaseStatus::Success { .. }));
        assert!(
            improved
                .system_out
                .as_ref()
                .unwrap()
                .as_str()
                .starts_with("IMPROVED: time_to_verify.p99: baseline 25s")
        );

        let brownout = &r.test_suites[1];
        assert!(
            brownout
                .system_out
                .as_ref()
                .unwrap()
                .as_str()
                .starts_with("warning: the baseline was measured in a different world")
        );
        assert!(
            brownout
                .properties
                .iter()
                .any(|p| p.name.as_str() == "baseline" && p.value.as_str() == "stale")
        );
    }

    #[test]
    fn output_is_the_same_bytes_every_time_without_clocks() {
        let a = junit(&fixture::report()).unwrap();
        assert_eq!(a, junit(&fixture::report()).unwrap());
        let xml = String::from_utf8(a).unwrap();
        assert!(!xml.contains("timestamp=") && !xml.contains("time=") && !xml.contains("uuid="));
    }

    #[test]
    fn names_from_scenario_files_are_escaped() {
        let bytes = junit(&fixture::hostile()).unwrap();
        let xml = String::from_utf8(bytes.clone()).unwrap();
        assert!(!xml.contains("<script>") && !xml.contains("<b>"), "{xml}");
        let r = parse(&bytes);
        let case = &r.test_suites[0].test_cases[0];
        assert_eq!(
            case.name.as_str(),
            format!("{HOSTILE_POLICY}: success_rate >= 99.5%")
        );
        assert_eq!(r.test_suites[0].name.as_str(), "pipes|and<b>tags</b>");
        assert_eq!(r.failures, 1);
        let TestCaseStatus::NonSuccess { message, .. } = &case.status else {
            panic!()
        };
        assert!(
            message
                .as_ref()
                .unwrap()
                .as_str()
                .ends_with(&format!("policy {HOSTILE_POLICY} has | pipes"))
        );
    }
}
