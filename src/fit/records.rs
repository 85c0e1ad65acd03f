//! Attempt records in, one at a time: the router's audit trail (`audit.jsonl`, as `--audit` and
//! production sinks write it) or a plain attempts CSV.
//!
//! Files are read line by line (never whole: a production trail may hold tens of millions of
//! lines), by the rules of files the user points at: regular files only, checked before
//! opening; a bad line is reported as `file:line: problem` without quoting it (a record may
//! hold anything) and skipped; the caller decides how many are too many.

use std::io::{BufRead, BufReader};
use std::path::Path;

use failover_router::{Country, NumberType};
use serde::Deserialize;

/// One route, by name: (provider, country, number type).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    pub provider: String,
    pub country: Country,
    pub number_type: NumberType,
}

/// How an attempt ended, as the fit counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Refused or failed by the provider or the network before any delivery: `unavailable`,
    /// `rejected`, `rate_limited`, `no_inventory`.
    FastError {
        rate_limited: bool,
    },
    /// A failure receipt: the message was lost on its way (`undelivered`).
    Undelivered,
    /// No outcome before the attempt timeout.
    Timeout,
    /// The number does not exist: the user's, not the route's.
    InvalidDestination,
}

/// What the fit uses of each record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A verification arrived (its first routing decision).
    Arrival {
        at: f64,
        country: Country,
        number_type: NumberType,
        use_case: Option<String>,
    },
    /// An attempt ended; `at` is when it started (seconds), `latency` how long it took.
    Attempt {
        at: f64,
        route: usize,
        outcome: Outcome,
        latency: f64,
        cost: Option<f64>,
    },
    /// A delivery receipt after the attempt had timed out: its latency is known after all.
    Late { at: f64, route: usize, latency: f64 },
}

/// How far a record's time may go back behind the latest one seen (seconds): events of
/// concurrent verifications are written a little out of order; more than this is a file out of
/// order (or two files given in the wrong order).
pub const TIME_SLACK: f64 = 1.0;

fn went_back(at: f64, latest: &mut f64) -> Option<String> {
    if at < *latest - TIME_SLACK {
        return Some(format!(
            "time goes back {:.3} s behind an earlier record: records must be in time order \
             (give files in time order too)",
            *latest - at
        ));
    }
    *latest = latest.max(at);
    None
}

/// A line that could not be used, located.
#[derive(Clone, Debug, PartialEq)]
pub struct BadLine {
    pub line: u64,
    pub problem: String,
}

/// The routes a file's records name by index, and the policy they ran under, if it says.
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub routes: Vec<failover_router::RouteSpec>,
    pub policy: Option<(String, failover_router::Policy)>,
}

/// Where a reader's lines went.
#[derive(Debug, Default)]
pub struct Counts {
    pub lines: u64,
    pub used: u64,
    /// Lines of other policies (an audit trail of several), or events the fit does not use.
    pub skipped: u64,
    pub bad: u64,
}

/// Reads `path` as an audit trail (`.jsonl`, `.json`) or a CSV of attempts (anything else),
/// calling `visit` for each record and `bad` for each unusable line. Routes named by the CSV
/// are added to `header.routes` as they appear.
pub fn read(
    path: &Path,
    header: &mut Header,
    policy: &mut Option<String>,
    visit: &mut dyn FnMut(Record),
    bad: &mut dyn FnMut(BadLine),
) -> Result<Counts, String> {
    let file = crate::scenario::open_data_file(path)?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let jsonl = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"));
    if jsonl {
        read_audit(path, reader, header, policy, visit, bad)
    } else {
        read_csv(path, reader, header, visit, bad)
    }
}

#[derive(Deserialize)]
struct AuditLine<'a> {
    #[serde(borrow)]
    policy: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    at: Option<f64>,
    attempt: Option<u64>,
    route: Option<usize>,
    country: Option<Country>,
    number_type: Option<NumberType>,
    use_case: Option<String>,
    outcome: Option<AuditOutcome>,
    latency: Option<f64>,
    cost: Option<f64>,
    /// The config line's routes: each a `RouteSpec` with its index as `route`.
    routes: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    settings: Option<failover_router::Policy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AuditOutcome {
    Delivered,
    Failed(failover_router::FailureKind),
}

fn outcome_of(kind: failover_router::FailureKind) -> Outcome {
    use failover_router::FailureKind as K;
    match kind {
        K::Unavailable | K::Rejected | K::NoInventory => Outcome::FastError {
            rate_limited: false,
        },
        K::RateLimited => Outcome::FastError { rate_limited: true },
        K::Undelivered => Outcome::Undelivered,
        K::Timeout => Outcome::Timeout,
        K::InvalidDestination => Outcome::InvalidDestination,
    }
}

fn read_audit(
    path: &Path,
    reader: impl BufRead,
    header: &mut Header,
    policy: &mut Option<String>,
    visit: &mut dyn FnMut(Record),
    bad: &mut dyn FnMut(BadLine),
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    let mut latest = f64::NEG_INFINITY;
    let mut buf = Vec::new();
    let mut reader = reader;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        counts.lines += 1;
        let line = counts.lines;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim_end(),
            Err(_) => {
                counts.bad += 1;
                bad(BadLine {
                    line,
                    problem: "not UTF-8 text".into(),
                });
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        let parsed: AuditLine<'_> = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                counts.bad += 1;
                bad(BadLine {
                    line,
                    problem: match e.classify() {
                        serde_json::error::Category::Eof => {
                            "truncated JSON (the line ends inside a record)".into()
                        }
                        serde_json::error::Category::Syntax => {
                            format!("not JSON (column {})", e.column())
                        }
                        _ => format!(
                            "not an audit record (column {}: a field has the wrong type)",
                            e.column()
                        ),
                    },
                });
                continue;
            }
        };
        // One policy's trail: the first one met, or the one asked for.
        if let Some(p) = &parsed.policy {
            match policy {
                None => *policy = Some(p.to_string()),
                Some(wanted) if wanted.as_str() != p.as_ref() => {
                    counts.skipped += 1;
                    continue;
                }
                Some(_) => {}
            }
        }
        let mut problem = |what: &str| {
            counts.bad += 1;
            bad(BadLine {
                line,
                problem: what.to_owned(),
            });
        };
        if let Some(back) = parsed
            .at
            .filter(|at| at.is_finite())
            .and_then(|at| went_back(at, &mut latest))
        {
            problem(&back);
            continue;
        }
        match parsed.kind.as_ref() {
            "config" => {
                let Some(routes) = parsed.routes else {
                    problem("a config record without `routes`");
                    continue;
                };
                let specs: Result<Vec<failover_router::RouteSpec>, usize> = routes
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut r)| {
                        r.remove("route");
                        serde_json::from_value(serde_json::Value::Object(r)).map_err(|_| i)
                    })
                    .collect();
                match specs {
                    Ok(specs) => header.routes = specs,
                    Err(i) => {
                        problem(&format!(
                            "route {i} of the config record is not a route (provider, country, \
                             number_type, cost)"
                        ));
                        continue;
                    }
                }
                header.policy = parsed
                    .settings
                    .map(|s| (policy.clone().unwrap_or_else(|| "recorded".into()), s));
            }
            "decision" if parsed.attempt == Some(1) => {
                match (parsed.at, parsed.country, parsed.number_type) {
                    (Some(at), Some(country), Some(number_type)) if at.is_finite() => {
                        visit(Record::Arrival {
                            at,
                            country,
                            number_type,
                            use_case: parsed.use_case,
                        })
                    }
                    _ => {
                        problem("a decision without a finite `at`, `country` or `number_type`");
                        continue;
                    }
                }
            }
            "attempt" => {
                let (Some(at), Some(route), Some(outcome), Some(latency)) =
                    (parsed.at, parsed.route, parsed.outcome, parsed.latency)
                else {
                    problem("an attempt without `at`, `route`, `outcome` or `latency`");
                    continue;
                };
                if !(latency >= 0.0 && latency.is_finite() && at.is_finite()) {
                    problem("a negative or non-finite latency or time");
                    continue;
                }
                if route >= header.routes.len() {
                    problem(&format!(
                        "route {route} is not in the trail's config record ({} routes): the \
                         config line must come first",
                        header.routes.len()
                    ));
                    continue;
                }
                let outcome = match outcome {
                    AuditOutcome::Delivered => Outcome::Delivered,
                    AuditOutcome::Failed(k) => outcome_of(k),
                };
                visit(Record::Attempt {
                    at: at - latency,
                    route,
                    outcome,
                    latency,
                    cost: parsed.cost,
                });
            }
            "late_delivery" => {
                let (Some(at), Some(route), Some(latency)) =
                    (parsed.at, parsed.route, parsed.latency)
                else {
                    problem("a late delivery without `at`, `route` or `latency`");
                    continue;
                };
                if !(latency >= 0.0 && latency.is_finite() && at.is_finite()) {
                    problem("a negative or non-finite latency or time");
                    continue;
                }
                if route >= header.routes.len() {
                    problem(&format!(
                        "route {route} is not in the trail's config record"
                    ));
                    continue;
                }
                visit(Record::Late {
                    at: at - latency,
                    route,
                    latency,
                });
            }
            _ => {
                counts.skipped += 1;
                continue;
            }
        }
        counts.used += 1;
    }
    Ok(counts)
}

/// The columns of an attempts CSV (README, "Replay an incident").
pub const CSV_COLUMNS: &str =
    "time,provider,country,number_type,outcome,latency[,cost][,use_case][,attempt]";

fn read_csv(
    path: &Path,
    reader: impl BufRead,
    header: &mut Header,
    visit: &mut dyn FnMut(Record),
    bad: &mut dyn FnMut(BadLine),
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let columns = csv
        .headers()
        .map_err(|e| format!("{}:1: cannot read the header: {}", path.display(), kind(&e)))?
        .clone();
    let find = |name: &str| columns.iter().position(|c| c.trim() == name);
    let need = |name: &str| {
        find(name).ok_or_else(|| {
            format!(
                "{}:1: no `{name}` column: an attempts CSV has the columns {CSV_COLUMNS}",
                path.display()
            )
        })
    };
    let (time, provider, country, number_type, outcome, latency) = (
        need("time")?,
        need("provider")?,
        need("country")?,
        need("number_type")?,
        need("outcome")?,
        need("latency")?,
    );
    let (cost, use_case, attempt) = (find("cost"), find("use_case"), find("attempt"));
    let mut index: std::collections::HashMap<RouteKey, usize> = header
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                RouteKey {
                    provider: r.provider.clone(),
                    country: r.country,
                    number_type: r.number_type,
                },
                i,
            )
        })
        .collect();
    // With a routing table already known (an audit trail's config line read first), a row must
    // name one of its routes; without one, the rows define the routes.
    let table_known = !header.routes.is_empty();
    let mut record = csv::StringRecord::new();
    let mut latest = f64::NEG_INFINITY;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                counts.lines += 1;
                counts.bad += 1;
                bad(BadLine {
                    line: e.position().map_or(counts.lines + 1, |p| p.line()),
                    problem: kind(&e),
                });
                continue;
            }
        }
        counts.lines += 1;
        let line = record.position().map_or(counts.lines + 1, |p| p.line());
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or_default();
        let parsed = (|| -> Result<(Record, Option<Record>), String> {
            let at: f64 = field(time)
                .parse()
                .map_err(|_| "`time` is not a number of seconds".to_owned())?;
            let lat: f64 = field(latency)
                .parse()
                .map_err(|_| "`latency` is not a number of seconds".to_owned())?;
            if !(at.is_finite() && lat.is_finite()) {
                return Err("`time` or `latency` is not finite".into());
            }
            if lat < 0.0 {
                return Err("`latency` is negative".into());
            }
            if let Some(back) = went_back(at, &mut latest) {
                return Err(back);
            }
            let c: Country = field(country)
                .parse()
                .map_err(|_| "`country` is not a two-letter country code".to_owned())?;
            let nt: NumberType =
                serde_json::from_value(serde_json::Value::String(field(number_type).into()))
                    .map_err(|_| {
                        "`number_type` is not a number type (mobile, landline, voip, toll_free)"
                            .to_owned()
                    })?;
            let name = field(provider);
            if name.is_empty() {
                return Err("`provider` is empty".into());
            }
            let out = match field(outcome) {
                "delivered" => Outcome::Delivered,
                other => {
                    let k: failover_router::FailureKind = serde_json::from_value(
                        serde_json::Value::String(other.into()),
                    )
                    .map_err(|_| {
                        "`outcome` is neither `delivered` nor a failure kind (unavailable, \
                                 timeout, rate_limited, no_inventory, rejected, undelivered, \
                                 invalid_destination)"
                            .to_owned()
                    })?;
                    outcome_of(k)
                }
            };
            let cost = match cost.map(field).filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => Some(
                    c.parse::<f64>()
                        .ok()
                        .filter(|c| c.is_finite() && *c >= 0.0)
                        .ok_or_else(|| "`cost` is not a non-negative number".to_owned())?,
                ),
            };
            let first = match attempt.map(field).filter(|a| !a.is_empty()) {
                None => true,
                Some(a) => {
                    a.parse::<u32>()
                        .map_err(|_| "`attempt` is not a whole number".to_owned())?
                        == 1
                }
            };
            let key = RouteKey {
                provider: name.to_owned(),
                country: c,
                number_type: nt,
            };
            if table_known && !index.contains_key(&key) {
                return Err(
                    "the row's (provider, country, number_type) is not a route of the routing \
                     table the records came with (an earlier audit trail's config line)"
                        .into(),
                );
            }
            let next = index.len();
            let route = *index.entry(key).or_insert(next);
            if route == header.routes.len() {
                header.routes.push(failover_router::RouteSpec {
                    provider: name.to_owned(),
                    country: c,
                    number_type: nt,
                    cost: cost.unwrap_or(0.0),
                    priority: 0,
                    weight: 1.0,
                    failure_domains: Vec::new(),
                });
            }
            let arrival = first.then(|| Record::Arrival {
                at,
                country: c,
                number_type: nt,
                use_case: use_case
                    .map(field)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned),
            });
            Ok((
                Record::Attempt {
                    at,
                    route,
                    outcome: out,
                    latency: lat,
                    cost,
                },
                arrival,
            ))
        })();
        match parsed {
            Ok((attempt, arrival)) => {
                if let Some(a) = arrival {
                    visit(a);
                }
                visit(attempt);
                counts.used += 1;
            }
            Err(problem) => {
                counts.bad += 1;
                bad(BadLine { line, problem });
            }
        }
    }
    Ok(counts)
}

/// What went wrong in a CSV error, without the content.
fn kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        csv::ErrorKind::UnequalLengths { .. } => "a different number of fields".into(),
        csv::ErrorKind::Io(e) => format!("cannot read: {e}"),
        _ => "not a CSV record".into(),
    }
}
