//! CSV exports: one row per policy, per (policy, bucket), per (policy, route), per (policy, fault).
//!
//! Column names match the JSON keys (DESIGN.md section 5), so a metric means the same thing in
//! every file. Empty cells are values that do not exist (e.g. TTV with no delivery).

use crate::metrics::RunSummary;

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().expect("writing to memory cannot fail")
}

/// `summary.csv`: one row per policy.
pub fn summary_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "policy",
        "verifications",
        "success_rate",
        "conversion_rate",
        "ttv_p50",
        "ttv_p90",
        "ttv_p99",
        "ttv_p999",
        "ttv_max",
        "attempts_per_verification",
        "failover_rate",
        "cost_total",
        "cost_per_success",
        "duplicate_deliveries",
        "late_deliveries",
        "ejections",
        "flaps",
        "panic_time",
        "caller_abandoned",
    ])
    .expect("in memory");
    for p in &s.policies {
        let m = &p.result.metrics;
        let t = &m.time_to_verify;
        w.write_record([
            p.name.clone(),
            m.verifications.to_string(),
            m.success_rate.to_string(),
            m.conversion_rate.to_string(),
            opt(t.p50),
            opt(t.p90),
            opt(t.p99),
            opt(t.p999),
            opt(t.max),
            m.attempts_per_verification.to_string(),
            m.failover_rate.to_string(),
            m.cost_total.to_string(),
            opt(m.cost_per_success),
            m.duplicate_deliveries.to_string(),
            m.late_deliveries.to_string(),
            m.ejections.to_string(),
            m.flaps.to_string(),
            m.panic_time.to_string(),
            m.caller_abandoned.to_string(),
        ])
        .expect("in memory");
    }
    finish(w)
}

/// `timeseries.csv`: one row per (policy, bucket), with each provider's share of attempts.
pub fn timeseries_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "policy",
        "bucket_start",
        "measured",
        "verifications",
        "delivered",
        "success_rate",
        "failovers",
        "conversions",
        "attempts",
        "cost",
        "ejections",
        "ttv_p50",
        "ttv_p99",
        "caller_abandoned",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(s.scenario.providers.iter().map(|p| format!("share_{p}")));
    w.write_record(&header).expect("in memory");
    for p in &s.policies {
        for b in &p.result.timeseries {
            let mut row = vec![
                p.name.clone(),
                b.start.to_string(),
                b.measured.to_string(),
                b.verifications.to_string(),
                b.delivered.to_string(),
                opt(b.success_rate),
                b.failovers.to_string(),
                b.conversions.to_string(),
                b.attempts.to_string(),
                b.cost.to_string(),
                b.ejections.to_string(),
                opt(b.ttv_p50),
                opt(b.ttv_p99),
                b.caller_abandoned.to_string(),
            ];
            for a in &b.provider_attempts {
                row.push(if b.attempts > 0 {
                    (*a as f64 / b.attempts as f64).to_string()
                } else {
                    String::new()
                });
            }
            w.write_record(&row).expect("in memory");
        }
    }
    finish(w)
}

/// `routes.csv`: one row per (policy, route).
pub fn routes_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "policy",
        "route",
        "provider",
        "country",
        "number_type",
        "attempts",
        "deliveries",
        "unavailable",
        "timeout",
        "rate_limited",
        "no_inventory",
        "rejected",
        "undelivered",
        "invalid_destination",
        "late_deliveries",
        "cost",
        "ejections",
        "flaps",
        "time_ejected",
    ])
    .expect("in memory");
    for p in &s.policies {
        for r in &p.result.routes {
            let f = &r.failures;
            w.write_record([
                p.name.clone(),
                r.label.clone(),
                r.provider.clone(),
                r.country.to_string(),
                r.number_type.to_string(),
                r.attempts.to_string(),
                r.deliveries.to_string(),
                f.unavailable.to_string(),
                f.timeout.to_string(),
                f.rate_limited.to_string(),
                f.no_inventory.to_string(),
                f.rejected.to_string(),
                f.undelivered.to_string(),
                f.invalid_destination.to_string(),
                r.late_deliveries.to_string(),
                r.cost.to_string(),
                r.ejections.to_string(),
                r.flaps.to_string(),
                r.time_ejected.to_string(),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}

/// `faults.csv`: one row per (policy, fault).
pub fn faults_csv(s: &RunSummary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "policy",
        "fault",
        "start",
        "end",
        "detection_delay",
        "recovery_delay",
        "verifications_during_fault",
        "failed_during_fault",
    ])
    .expect("in memory");
    for p in &s.policies {
        for f in &p.result.faults {
            w.write_record([
                p.name.clone(),
                f.name.clone(),
                f.start.to_string(),
                f.end.to_string(),
                opt(f.detection_delay),
                opt(f.recovery_delay),
                f.verifications_during_fault.to_string(),
                f.failed_during_fault.to_string(),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}
