//! Semantic validation, done as compilation.
//!
//! Checking a reference and resolving it are the same lookup, so there is one pass: it walks
//! the scenario in document order, resolves every name to an index, compiles every
//! distribution, and records each problem at its field path instead of stopping at the first —
//! an author fixing a file wants the whole list. If any problem was found the half-built
//! compiled form is dropped; otherwise it is exactly what the simulator needs. Keeping the
//! checks here, next to the construction, means a check cannot drift from what it protects.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use failover_router::duration::format as fmt_d;
use failover_router::route::{Country, NumberType, ProviderId};

use super::compiled::entity_key;
use super::compiled::*;
use super::fault::{FaultKind, LatencyEffect, LatencyLeg, TargetEntity};
use super::files::{FileKind, FileRules, csv_error, csv_field_at};
use super::locate::position_of;
use super::path::{FieldPath, Problems, unknown_name};
use super::{FORMAT_VERSION, Scenario};
use crate::scenario::distribution::{Distribution, DistributionSpec};

const DAY: Duration = Duration::from_secs(86_400);

/// Most seeds a scenario may ask for: far beyond what any interval needs, and a bound on what
/// one file can make the lab do.
pub(crate) const MAX_REPLICATIONS: u32 = 10_000;

/// Largest rate anywhere (traffic, fraud, rate limits), per second: a million verifications a
/// second is far beyond any real verification service.
pub const MAX_RATE_PER_SECOND: f64 = 1e6;

/// Largest factor on a rate or a latency (diurnal points, bursts, latency multipliers): three
/// orders of magnitude already describe a different world, and the bound keeps every product
/// of factors and samples finite.
pub const MAX_FACTOR: f64 = 1000.0;

/// Largest route cost per attempt: costs are summed over millions of attempts.
pub const MAX_COST: f64 = 1e6;

struct Cx<'a> {
    files: FileRules<'a>,
    problems: Problems,
    warnings: Problems,
}

impl Cx<'_> {
    fn push(&mut self, at: FieldPath, message: impl Into<String>) {
        self.problems.push(at, message);
    }

    fn dist(&mut self, at: &FieldPath, spec: &DistributionSpec) -> Distribution {
        match spec.compile_with(self.files) {
            Ok(d) => d,
            Err(e) => {
                self.push(at.join(&FieldPath::parse(&e.param)), e.message);
                Distribution::constant(0.0)
            }
        }
    }

    fn probability(&mut self, at: FieldPath, v: f64) -> f64 {
        if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
            self.push(at, format!("{v} must be a probability in [0, 1]"));
        }
        v
    }

    fn positive(&mut self, at: FieldPath, v: f64) -> f64 {
        if !(v.is_finite() && v > 0.0) {
            self.push(at, format!("{v} must be a finite number > 0"));
        }
        v
    }

    /// A finite number in `(0, max]`, the bound named in the error.
    fn positive_at_most(&mut self, at: FieldPath, v: f64, max: f64, why: &str) -> f64 {
        if !(v.is_finite() && v > 0.0) {
            self.push(at, format!("{v} must be a finite number > 0"));
        } else if v > max {
            self.push(at, format!("{v} is above the limit of {max} ({why})"));
        }
        v
    }

    /// A finite number in `[0, max]`, the bound named in the error.
    fn non_negative_at_most(&mut self, at: FieldPath, v: f64, max: f64, why: &str) -> f64 {
        if !(v.is_finite() && v >= 0.0) {
            self.push(at, format!("{v} must be a finite number >= 0"));
        } else if v > max {
            self.push(at, format!("{v} is above the limit of {max} ({why})"));
        }
        v
    }

    fn unique_names(&mut self, list: &str, names: &[&str], what: &str) {
        for (i, n) in names.iter().enumerate() {
            let at = FieldPath::root().key(list).index(i).key("name");
            if n.trim().is_empty() {
                self.push(at, format!("is empty; give the {what} a name"));
            } else if let Some(j) = names[..i].iter().position(|m| m == n) {
                self.push(
                    at,
                    format!("duplicate {what} name {n:?} (also {list}[{j}]); names must be unique"),
                );
            }
        }
    }

    fn resolve(
        &mut self,
        at: FieldPath,
        what: &str,
        name: &str,
        names: &[&str],
        declare_in: &str,
    ) -> Option<usize> {
        let found = names.iter().position(|n| *n == name);
        if found.is_none() {
            self.push(
                at,
                unknown_name(what, name, names.iter().copied(), declare_in),
            );
        }
        found
    }

    /// A caller's patience must be longer than 0s (a caller that gives up at once would drop
    /// every verification before its first attempt).
    fn caller_timeout(&mut self, at: FieldPath, timeout: Option<Duration>) {
        if timeout.is_some_and(|t| t.is_zero()) {
            self.push(
                at,
                "must be longer than 0s (callers that wait 0s drop every verification); leave it \
                 out for callers that wait until the router answers",
            );
        }
    }

    /// `[start, start + duration)` must lie inside the run.
    fn window(&mut self, at: &FieldPath, start: Duration, length: Duration, run: Duration) {
        if length.is_zero() {
            self.push(at.key("duration"), "must be longer than 0s");
        } else if start >= run {
            self.push(
                at.key("start"),
                format!(
                    "{} is not before the end of the run ({}); move it earlier or raise `duration`",
                    fmt_d(start),
                    fmt_d(run)
                ),
            );
        } else if start + length > run {
            self.push(
                at.key("duration"),
                format!(
                    "the window ends at {}, after the end of the run ({}); shorten it",
                    fmt_d(start + length),
                    fmt_d(run)
                ),
            );
        }
    }
}

fn intern(list: &mut Vec<String>, name: &str) -> u32 {
    match list.iter().position(|n| n == name) {
        Some(i) => i as u32,
        None => {
            list.push(name.to_owned());
            (list.len() - 1) as u32
        }
    }
}

/// Resolves destinations (mix entries, fraud spikes, trace rows).
struct Destinations<'a> {
    countries: &'a [Country],
    served: &'a BTreeSet<(Country, NumberType)>,
    use_cases: Vec<String>,
}

impl Destinations<'_> {
    fn resolve(
        &mut self,
        country: Country,
        number_type: NumberType,
        use_case: Option<&str>,
    ) -> Result<Destination, (&'static str, String)> {
        let c = self
            .countries
            .iter()
            .position(|&k| k == country)
            .ok_or_else(|| {
                (
                    "country",
                    format!("no [[countries]] entry for {country}; declare it with its carriers"),
                )
            })?;
        if !self.served.contains(&(country, number_type)) {
            return Err((
                "number_type",
                format!(
                    "no route serves {country}/{number_type}; add a [[router.routes]] entry for \
                     it or remove this traffic"
                ),
            ));
        }
        let use_case = match use_case {
            Some(u) if u.trim().is_empty() => {
                return Err(("use_case", "is empty; leave it out for no use case".into()));
            }
            Some(u) => Some(UseCaseId(intern(&mut self.use_cases, u))),
            None => None,
        };
        Ok(Destination {
            country: CountryId(c as u32),
            number_type,
            use_case,
        })
    }
}

const PLACEHOLDER: Destination = Destination {
    country: CountryId(0),
    number_type: NumberType::Mobile,
    use_case: None,
};

pub(crate) fn compile(s: &Scenario, files: FileRules<'_>) -> Result<CompiledScenario, Problems> {
    let root = FieldPath::root();
    let mut cx = Cx {
        files,
        problems: Problems::default(),
        warnings: Problems::default(),
    };

    // ---- Top level ----
    if s.format_version != FORMAT_VERSION {
        cx.push(
            root.key("format_version"),
            format!(
                "{} is not supported; this build reads format_version = {FORMAT_VERSION}",
                s.format_version
            ),
        );
    }
    if s.name.trim().is_empty() {
        cx.push(
            root.key("name"),
            "is empty; name the scenario (it names the report)",
        );
    }
    if s.duration.is_zero() {
        cx.push(
            root.key("duration"),
            "must be longer than 0s (e.g. duration = \"1h\")",
        );
    } else if s.warmup >= s.duration {
        cx.push(
            root.key("warmup"),
            format!(
                "{} is not shorter than duration ({}): nothing would be measured",
                fmt_d(s.warmup),
                fmt_d(s.duration)
            ),
        );
    }
    if s.bucket.is_zero() {
        cx.push(
            root.key("bucket"),
            "must be longer than 0s (e.g. bucket = \"1m\")",
        );
    } else if !s.duration.is_zero() && s.bucket > s.duration {
        cx.push(
            root.key("bucket"),
            format!(
                "{} is longer than duration ({}); pick a bucket that splits the run into several",
                fmt_d(s.bucket),
                fmt_d(s.duration)
            ),
        );
    }

    // ---- Regions ----
    let region_names: Vec<&str> = s.regions.iter().map(|r| r.name.as_str()).collect();
    cx.unique_names("regions", &region_names, "region");
    let mut regions = Vec::with_capacity(s.regions.len());
    for (i, r) in s.regions.iter().enumerate() {
        let at = root.key("regions").index(i);
        regions.push(RegionModel {
            name: r.name.clone(),
            entity: entity_key(&r.name),
            latency: cx.dist(&at.key("latency"), &r.latency),
        });
    }

    // ---- Carriers ----
    let country_codes: Vec<Country> = s.countries.iter().map(|c| c.code).collect();
    let carrier_names: Vec<&str> = s.carriers.iter().map(|c| c.name.as_str()).collect();
    cx.unique_names("carriers", &carrier_names, "carrier");
    let mut carriers = Vec::with_capacity(s.carriers.len());
    for (i, c) in s.carriers.iter().enumerate() {
        let at = root.key("carriers").index(i);
        let country = match country_codes.iter().position(|&k| k == c.country) {
            Some(k) => CountryId(k as u32),
            None => {
                cx.push(
                    at.key("country"),
                    format!(
                        "country {} has no [[countries]] entry; add one with code = \"{}\" \
                         listing this carrier's share",
                        c.country, c.country
                    ),
                );
                CountryId(0)
            }
        };
        carriers.push(CarrierModel {
            name: c.name.clone(),
            entity: entity_key(&c.name),
            country,
            delivery_latency: cx.dist(&at.key("delivery_latency"), &c.delivery_latency),
            loss: cx.probability(at.key("loss"), c.loss),
        });
    }

    // ---- Countries ----
    let mut countries = Vec::with_capacity(s.countries.len());
    for (i, c) in s.countries.iter().enumerate() {
        let at = root.key("countries").index(i);
        if let Some(j) = country_codes[..i].iter().position(|&k| k == c.code) {
            cx.push(
                at.key("code"),
                format!("country {} is declared twice (also countries[{j}])", c.code),
            );
        }
        if c.carriers.is_empty() {
            cx.push(
                at.key("carriers"),
                "is empty; list the country's carriers with subscriber shares, e.g. \
                 carriers = [{ name = \"telekom-de\", share = 1.0 }]",
            );
        }
        let mut shares: Vec<(CarrierId, f64)> = Vec::new();
        let mut shares_ok = true;
        for (j, sh) in c.carriers.iter().enumerate() {
            let at_j = at.key("carriers").index(j);
            let Some(k) = cx.resolve(
                at_j.key("name"),
                "carrier",
                &sh.name,
                &carrier_names,
                "[[carriers]]",
            ) else {
                shares_ok = false;
                continue;
            };
            if s.carriers[k].country != c.code {
                cx.push(
                    at_j.key("name"),
                    format!(
                        "carrier {:?} belongs to {} (carriers[{k}].country), not {}",
                        sh.name, s.carriers[k].country, c.code
                    ),
                );
            }
            if shares.iter().any(|(id, _)| id.index() == k) {
                cx.push(
                    at_j.key("name"),
                    format!("carrier {:?} is listed twice; merge its shares", sh.name),
                );
            }
            if !(sh.share.is_finite() && sh.share > 0.0 && sh.share <= 1.0) {
                cx.push(
                    at_j.key("share"),
                    format!("{} must be a share in (0, 1]", sh.share),
                );
                shares_ok = false;
                continue;
            }
            shares.push((CarrierId(k as u32), sh.share));
        }
        let sum: f64 = shares.iter().map(|(_, s)| s).sum();
        if shares_ok && !shares.is_empty() && (sum - 1.0).abs() > 0.01 {
            cx.push(
                at.key("carriers"),
                format!("subscriber shares sum to {sum:.3}; they must sum to 1 (±0.01)"),
            );
        }
        let conversion = cx.probability(at.key("conversion"), c.conversion);
        let invalid_share = cx.probability(at.key("invalid_share"), c.invalid_share);
        let think_time = cx.dist(&at.key("think_time"), &c.think_time);
        countries.push(CountryModel::new(
            c.code,
            shares,
            conversion,
            think_time,
            invalid_share,
        ));
    }

    // ---- Providers ----
    let provider_names: Vec<&str> = s.providers.iter().map(|p| p.name.as_str()).collect();
    cx.unique_names("providers", &provider_names, "provider");
    if s.providers.is_empty() {
        cx.push(
            root.key("providers"),
            "no providers; declare at least one [[providers]] entry",
        );
    }
    let mut failure_domains: Vec<String> = Vec::new();
    let mut providers = Vec::with_capacity(s.providers.len());
    for (i, p) in s.providers.iter().enumerate() {
        let at = root.key("providers").index(i);
        let region = cx
            .resolve(
                at.key("region"),
                "region",
                &p.region,
                &region_names,
                "[[regions]]",
            )
            .map_or(RegionId(0), |k| RegionId(k as u32));
        let api_latency = cx.dist(&at.key("api_latency"), &p.api_latency);
        let error_rate = cx.probability(at.key("error_rate"), p.error_rate);
        let rate_limit = p.rate_limit.map(|r| {
            cx.positive_at_most(
                at.key("rate_limit"),
                r.as_per_second(),
                MAX_RATE_PER_SECOND,
                "per second",
            )
        });
        let inventory = p.inventory.as_ref().map(|inv| {
            let at_inv = at.key("inventory");
            if inv.numbers == 0 {
                cx.push(
                    at_inv.key("numbers"),
                    "must be at least 1 (leave out `inventory` for an unlimited pool)",
                );
            }
            InventoryModel {
                numbers: inv.numbers,
                hold: inv.hold.as_ref().map(|h| cx.dist(&at_inv.key("hold"), h)),
            }
        });
        let mut domains = Vec::new();
        for (j, d) in p.failure_domains.iter().enumerate() {
            if d.trim().is_empty() {
                cx.push(at.key("failure_domains").index(j), "is empty");
            }
            domains.push(DomainId(intern(&mut failure_domains, d)));
        }
        domains.sort_unstable();
        domains.dedup();
        let mut paths = vec![
            PathModel {
                quality: 1.0,
                extra_latency: None,
            };
            s.carriers.len()
        ];
        let mut seen = Vec::new();
        for (j, path) in p.paths.iter().enumerate() {
            let at_j = at.key("paths").index(j);
            let quality = cx.probability(at_j.key("quality"), path.quality);
            let extra_latency = path
                .extra_latency
                .as_ref()
                .map(|d| cx.dist(&at_j.key("extra_latency"), d));
            let Some(k) = cx.resolve(
                at_j.key("carrier"),
                "carrier",
                &path.carrier,
                &carrier_names,
                "[[carriers]]",
            ) else {
                continue;
            };
            if seen.contains(&k) {
                cx.push(
                    at_j.key("carrier"),
                    format!(
                        "carrier {:?} has two paths in this provider; keep one",
                        path.carrier
                    ),
                );
            }
            seen.push(k);
            paths[k] = PathModel {
                quality,
                extra_latency,
            };
        }
        providers.push(ProviderModel {
            name: p.name.clone(),
            entity: entity_key(&p.name),
            region,
            api_latency,
            error_rate,
            rate_limit,
            inventory,
            failure_domains: domains.into_boxed_slice(),
            paths: paths.into_boxed_slice(),
            serves: NumberTypeSet::from_types(&p.number_types),
        });
    }

    // ---- Router ----
    let at_routes = root.key("router").key("routes");
    if s.router.routes.is_empty() {
        cx.push(
            at_routes.clone(),
            "no routes; add [[router.routes]] entries (provider, country, number_type, cost)",
        );
    }
    let mut served = BTreeSet::new();
    for (i, r) in s.router.routes.iter().enumerate() {
        let at = at_routes.index(i);
        cx.resolve(
            at.key("provider"),
            "provider",
            &r.provider,
            &provider_names,
            "[[providers]]",
        );
        served.insert((r.country, r.number_type));
        cx.non_negative_at_most(at.key("cost"), r.cost, MAX_COST, "per attempt");
        cx.positive(at.key("weight"), r.weight);
        if let Some(j) = s.router.routes[..i].iter().position(|q| {
            q.provider == r.provider && q.country == r.country && q.number_type == r.number_type
        }) {
            cx.push(
                at,
                format!(
                    "route {}/{}/{} duplicates router.routes[{j}]; merge the two entries",
                    r.provider, r.country, r.number_type
                ),
            );
        }
    }

    // ---- Policies ----
    if s.policies.0.is_empty() {
        cx.push(
            root.key("policies"),
            "no policies; add at least one, e.g. [policies.default] (an empty table uses the \
             documented defaults)",
        );
    }
    let files = cx.files;
    for p in s.policies.iter() {
        let at = root.key("policies").key(&p.name);
        // Where a problem of a policy loaded from a file is written in that file.
        let origin = |field: &FieldPath| match &p.file {
            Some(file) => policy_origin(files, file, field),
            None => String::new(),
        };
        if p.name.trim().is_empty() {
            cx.push(at.clone(), "policy name is empty");
        }
        if let Err(e) = p.policy.validate() {
            let field = FieldPath::parse(&e.field);
            cx.push(at.join(&field), format!("{}{}", e.message, origin(&field)));
        }
        for w in p.policy.warnings() {
            let field = FieldPath::parse(&w.field);
            cx.warnings
                .push(at.join(&field), format!("{}{}", w.message, origin(&field)));
        }
        for (j, rule) in p.policy.compliance.iter().enumerate() {
            for (list, names) in [("allow", &rule.allow), ("deny", &rule.deny)] {
                for (k, name) in names.iter().enumerate() {
                    if !provider_names.contains(&name.as_str()) {
                        let msg = unknown_name(
                            "provider",
                            name,
                            provider_names.iter().copied(),
                            "[[providers]]",
                        );
                        let field = FieldPath::root()
                            .key("compliance")
                            .index(j)
                            .key(list)
                            .index(k);
                        cx.push(at.join(&field), format!("{msg}{}", origin(&field)));
                    }
                }
            }
        }
    }

    // ---- Experiment ----
    let mut experiment = ExperimentModel::default();
    if let Some(e) = &s.experiment {
        let at = root.key("experiment");
        if let Some(n) = e.replications {
            if n == 0 || n > MAX_REPLICATIONS {
                cx.push(
                    at.key("replications"),
                    format!("{n} must be between 1 and {MAX_REPLICATIONS}"),
                );
            }
            experiment.replications = n.max(1);
        }
        if let Some(c) = e.confidence {
            if !(c > 0.0 && c < 1.0) {
                cx.push(
                    at.key("confidence"),
                    format!("{c} must be in (0, 1), e.g. 0.95"),
                );
            }
            experiment.confidence = c;
        }
        if let Some(b) = &e.baseline {
            match s.policies.iter().position(|p| &p.name == b) {
                Some(i) => experiment.baseline = i,
                None => cx.push(
                    at.key("baseline"),
                    unknown_name(
                        "policy",
                        b,
                        s.policies.iter().map(|p| p.name.as_str()),
                        "[policies.<name>]",
                    ),
                ),
            }
        }
    }

    // ---- Traffic ----
    let at_t = root.key("traffic");
    let t = &s.traffic;
    let mut dests = Destinations {
        countries: &country_codes,
        served: &served,
        use_cases: Vec::new(),
    };
    let mut mix = Vec::new();
    let arrivals = match (t.rate, &t.trace) {
        (Some(_), Some(_)) => {
            cx.push(
                at_t.key("trace"),
                "give either `rate` (Poisson arrivals) or `trace` (replayed arrivals), not both",
            );
            Arrivals::Trace(Box::new([]))
        }
        (None, None) => {
            cx.push(
                at_t.key("rate"),
                "is missing: set rate = \"50/s\" (Poisson arrivals) or trace = \"arrivals.csv\"",
            );
            Arrivals::Trace(Box::new([]))
        }
        (Some(rate), None) => {
            let base = cx.positive_at_most(
                at_t.key("rate"),
                rate.as_per_second(),
                MAX_RATE_PER_SECOND,
                "per second",
            );
            let diurnal = t.diurnal.as_ref().map(|d| {
                let at_d = at_t.key("diurnal");
                if d.start >= DAY {
                    cx.push(at_d.key("start"), "must be a time of day under 24h");
                }
                if d.points.is_empty() {
                    cx.push(
                        at_d.key("points"),
                        "is empty; add points such as { at = \"0h\", factor = 0.2 }",
                    );
                }
                for (j, pt) in d.points.iter().enumerate() {
                    let at_p = at_d.key("points").index(j);
                    if pt.at >= DAY {
                        cx.push(at_p.key("at"), "must be a time of day under 24h");
                    } else if j > 0 && pt.at <= d.points[j - 1].at {
                        cx.push(
                            at_p.key("at"),
                            format!(
                                "{} must be later than the previous point ({}); list points in \
                                 time order",
                                fmt_d(pt.at),
                                fmt_d(d.points[j - 1].at)
                            ),
                        );
                    }
                    cx.non_negative_at_most(at_p.key("factor"), pt.factor, MAX_FACTOR, "a factor");
                }
                if !d.points.is_empty() && d.points.iter().all(|p| p.factor == 0.0) {
                    cx.push(
                        at_d.key("points"),
                        "every factor is 0: no traffic would arrive",
                    );
                }
                DiurnalProfile::new(d.start, d.points.iter().map(|p| (p.at, p.factor)).collect())
            });
            let mut bursts = Vec::new();
            for (j, b) in t.bursts.iter().enumerate() {
                let at_b = at_t.key("bursts").index(j);
                cx.window(&at_b, b.start, b.duration, s.duration);
                cx.non_negative_at_most(at_b.key("factor"), b.factor, MAX_FACTOR, "a factor");
                bursts.push(BurstModel {
                    start: b.start,
                    end: b.start + b.duration,
                    factor: b.factor,
                });
            }
            if t.mix.is_empty() {
                cx.push(
                    at_t.key("mix"),
                    "is empty; add destinations, e.g. mix = [{ country = \"US\", \
                     number_type = \"mobile\", weight = 1.0 }]",
                );
            }
            for (j, m) in t.mix.iter().enumerate() {
                let at_m = at_t.key("mix").index(j);
                let weight = cx.positive(at_m.key("weight"), m.weight);
                cx.caller_timeout(at_m.key("caller_timeout"), m.caller_timeout);
                match dests.resolve(m.country, m.number_type, m.use_case.as_deref()) {
                    Ok(d) => mix.push((d, weight, m.caller_timeout)),
                    Err((field, msg)) => cx.push(at_m.key(field), msg),
                }
            }
            Arrivals::Poisson(RateProfile::new(base, diurnal, bursts))
        }
        (None, Some(path)) => {
            let present = [
                ("diurnal", t.diurnal.is_some()),
                ("bursts", !t.bursts.is_empty()),
                ("mix", !t.mix.is_empty()),
            ];
            for (field, _) in present.iter().filter(|(_, p)| *p) {
                cx.push(
                    at_t.key(*field),
                    "applies only to Poisson arrivals (`rate`); a trace replays its own arrival \
                     times and destinations",
                );
            }
            let read = files
                .read_text(FileKind::Trace, path)
                .and_then(|(path, text)| read_trace(&path, &text, s.duration, &mut dests));
            match read {
                Ok(arrivals) => Arrivals::Trace(arrivals.into_boxed_slice()),
                Err(msg) => {
                    cx.push(at_t.key("trace"), msg);
                    Arrivals::Trace(Box::new([]))
                }
            }
        }
    };
    let mut fraud = Vec::new();
    for (j, f) in t.fraud.iter().enumerate() {
        let at_f = at_t.key("fraud").index(j);
        cx.window(&at_f, f.start, f.duration, s.duration);
        let rate = cx.positive_at_most(
            at_f.key("extra_rate"),
            f.extra_rate.as_per_second(),
            MAX_RATE_PER_SECOND,
            "per second",
        );
        let destination = match dests.resolve(f.country, f.number_type, f.use_case.as_deref()) {
            Ok(d) => d,
            Err((field, msg)) => {
                cx.push(at_f.key(field), msg);
                PLACEHOLDER
            }
        };
        fraud.push(FraudModel {
            start: f.start,
            end: f.start + f.duration,
            rate,
            destination,
        });
    }
    cx.caller_timeout(at_t.key("caller_timeout"), t.caller_timeout);
    let use_cases = dests.use_cases;
    let traffic = TrafficModel::new(arrivals, mix, fraud, t.caller_timeout);

    // ---- Faults ----
    let mut faults: Vec<FaultModel> = Vec::with_capacity(s.faults.len());
    for (i, f) in s.faults.iter().enumerate() {
        let at = root.key("faults").index(i);
        let end = f.end.unwrap_or(s.duration);
        if f.start >= s.duration && !s.duration.is_zero() {
            cx.push(
                at.key("start"),
                format!(
                    "{} is not before the end of the run ({}); move it earlier or raise `duration`",
                    fmt_d(f.start),
                    fmt_d(s.duration)
                ),
            );
        } else if end > s.duration {
            cx.push(
                at.clone(),
                format!(
                    "the fault ends at {}, after the end of the run ({}); shorten it, or leave \
                     out duration/end to last until the end",
                    fmt_d(end),
                    fmt_d(s.duration)
                ),
            );
        }

        let at_t = at.key("target");
        let (key, name) = f.target.entity.key_and_name();
        let entity = match &f.target.entity {
            TargetEntity::Provider(n) => cx
                .resolve(
                    at_t.key(key),
                    "provider",
                    n,
                    &provider_names,
                    "[[providers]]",
                )
                .map(|k| TargetRef::Provider(ProviderId(k as u32))),
            TargetEntity::Carrier(n) => cx
                .resolve(at_t.key(key), "carrier", n, &carrier_names, "[[carriers]]")
                .map(|k| TargetRef::Carrier(CarrierId(k as u32))),
            TargetEntity::Region(n) => cx
                .resolve(at_t.key(key), "region", n, &region_names, "[[regions]]")
                .map(|k| TargetRef::Region(RegionId(k as u32))),
            TargetEntity::FailureDomain(n) => {
                let names: Vec<&str> = failure_domains.iter().map(String::as_str).collect();
                cx.resolve(
                    at_t.key(key),
                    "failure domain",
                    n,
                    &names,
                    "a provider's failure_domains",
                )
                .map(|k| TargetRef::FailureDomain(DomainId(k as u32)))
            }
        };
        let targeted: Vec<ProviderId> = match entity {
            Some(TargetRef::Provider(p)) => vec![p],
            Some(TargetRef::Region(r)) => (0..providers.len())
                .filter(|&k| providers[k].region == r)
                .map(|k| ProviderId(k as u32))
                .collect(),
            Some(TargetRef::FailureDomain(d)) => (0..providers.len())
                .filter(|&k| providers[k].in_domain(d))
                .map(|k| ProviderId(k as u32))
                .collect(),
            Some(TargetRef::Carrier(_)) | None => Vec::new(),
        };
        if matches!(entity, Some(TargetRef::Region(_))) && targeted.is_empty() {
            cx.push(
                at_t.key(key),
                format!("no provider is hosted in region {name:?}; the fault would do nothing"),
            );
        }
        let country = f.target.country.and_then(|code| {
            let found = country_codes.iter().position(|&k| k == code);
            if found.is_none() {
                cx.push(
                    at_t.key("country"),
                    format!("no traffic goes to {code}: it has no [[countries]] entry"),
                );
            }
            found.map(|k| CountryId(k as u32))
        });
        if let (Some(TargetRef::Carrier(c)), Some(code)) = (entity, f.target.country)
            && s.carriers[c.index()].country != code
        {
            cx.push(
                at_t.key("country"),
                format!(
                    "carrier {name:?} serves {}, so country = \"{code}\" matches nothing",
                    s.carriers[c.index()].country
                ),
            );
        }
        if f.kind.needs_provider_target() && matches!(f.target.entity, TargetEntity::Carrier(_)) {
            cx.push(
                at_t.key("carrier"),
                format!(
                    "kind = \"{}\" acts on providers; target a provider, region or failure_domain",
                    f.kind.tag()
                ),
            );
        }
        let effect = match &f.kind {
            FaultKind::Outage { mode } => FaultEffect::Outage(*mode),
            FaultKind::Brownout { error_rate, loss } => FaultEffect::Brownout {
                error_rate: cx.probability(at.key("error_rate"), *error_rate),
                loss: cx.probability(at.key("loss"), *loss),
            },
            FaultKind::Latency { effect, leg } => {
                let leg = match (&f.target.entity, leg) {
                    (TargetEntity::Provider(_) | TargetEntity::FailureDomain(_), leg) => {
                        leg.unwrap_or_default()
                    }
                    (_, None) => LatencyLeg::Api,
                    (entity, Some(_)) => {
                        cx.push(
                            at.key("leg"),
                            format!(
                                "`leg` chooses a provider's API or delivery leg; a latency fault \
                                 on a {} slows its {}: remove `leg` or target a provider",
                                entity.key_and_name().0,
                                if matches!(entity, TargetEntity::Carrier(_)) {
                                    "delivery"
                                } else {
                                    "network"
                                }
                            ),
                        );
                        LatencyLeg::Api
                    }
                };
                match effect {
                    LatencyEffect::Multiply(m) => FaultEffect::LatencyMultiply(
                        cx.positive_at_most(at.key("multiplier"), *m, MAX_FACTOR, "a factor"),
                        leg,
                    ),
                    LatencyEffect::Add(d) => {
                        FaultEffect::LatencyAdd(cx.dist(&at.key("add"), d), leg)
                    }
                }
            }
            FaultKind::Flapping { period, duty, mode } => {
                if period.is_zero() {
                    cx.push(at.key("period"), "must be longer than 0s");
                }
                if !(*duty > 0.0 && *duty < 1.0) {
                    cx.push(
                        at.key("duty"),
                        format!(
                            "{duty} must be in (0, 1): the share of each period the target is down"
                        ),
                    );
                }
                FaultEffect::Flapping {
                    period: *period,
                    duty: *duty,
                    mode: *mode,
                }
            }
            FaultKind::Degradation { from, to } => FaultEffect::Degradation {
                from: cx.probability(at.key("from"), *from),
                to: cx.probability(at.key("to"), *to),
            },
            FaultKind::InventoryShock { remaining } => {
                let remaining = cx.probability(at.key("remaining"), *remaining);
                if !targeted.is_empty()
                    && targeted
                        .iter()
                        .all(|p| providers[p.index()].inventory.is_none())
                {
                    cx.push(
                        at.key("kind"),
                        "none of the targeted providers has an `inventory`; the shock would do \
                         nothing",
                    );
                }
                FaultEffect::InventoryShock { remaining }
            }
            FaultKind::NumberTypeBlock => {
                if f.target.number_type.is_none() {
                    cx.push(
                        at_t.key("number_type"),
                        "kind = \"number_type_block\" needs the blocked number type, e.g. \
                         number_type = \"voip\"",
                    );
                }
                FaultEffect::NumberTypeBlock
            }
            FaultKind::CapacityCut { factor } => {
                if !(factor.is_finite() && (0.0..=1.0).contains(factor)) {
                    cx.push(
                        at.key("factor"),
                        format!("{factor} must be in [0, 1]: the share of the rate limit left"),
                    );
                }
                if !targeted.is_empty()
                    && targeted
                        .iter()
                        .all(|p| providers[p.index()].rate_limit.is_none())
                {
                    cx.push(
                        at.key("kind"),
                        "none of the targeted providers has a `rate_limit`; the cut would do \
                         nothing",
                    );
                }
                FaultEffect::CapacityCut { factor: *factor }
            }
        };
        // The same fault twice at once (same kind, parameters and target) is a copy-paste slip:
        // it would silently double the effect. Different faults on one target compose.
        if let Some(entity) = entity
            && let Some((j, other)) = faults.iter().enumerate().find(|(j, g)| {
                s.faults[*j].kind == f.kind
                    && g.target.entity == entity
                    && g.target.country == country
                    && g.target.number_type == f.target.number_type
                    && g.start < end
                    && f.start < g.end
            })
        {
            cx.push(
                at.key("start"),
                format!(
                    "overlaps faults[{j}] ({:?}), the same fault on the same target: remove \
                     one, or change its window (different faults on one target compose)",
                    other.name
                ),
            );
        }
        let mut label = f.label();
        if faults.iter().any(|g| g.name == label) {
            if f.name.is_some() {
                cx.push(
                    at.key("name"),
                    format!("duplicate fault name {label:?}; names must be unique"),
                );
            }
            let base = label.clone();
            let mut n = 2;
            while faults.iter().any(|g| g.name == label) {
                label = format!("{base}#{n}");
                n += 1;
            }
        }
        faults.push(FaultModel {
            name: label,
            start: f.start,
            end,
            effect,
            target: TargetModel {
                entity: entity.unwrap_or(TargetRef::Provider(ProviderId(0))),
                country,
                number_type: f.target.number_type,
                providers: targeted.into_boxed_slice(),
            },
        });
    }

    cx.problems.into_result()?;
    Ok(CompiledScenario {
        name: s.name.clone(),
        seed: s.seed,
        duration: s.duration,
        warmup: s.warmup,
        bucket: s.bucket,
        regions,
        countries,
        carriers,
        providers,
        failure_domains,
        use_cases,
        routes: s.router.routes.clone(),
        policies: s.policies.0.clone(),
        traffic,
        faults,
        experiment,
        warnings: cx.warnings,
    })
}

/// ` (in <file>:<line>:<col>)`: where `field` of a policy loaded from `file` is written. The
/// file is read again by the same rules; without a position if that fails.
fn policy_origin(files: FileRules<'_>, file: &Path, field: &FieldPath) -> String {
    match files.read_text(FileKind::Policy, file) {
        Ok((path, text)) => match position_of(&text, field) {
            Some((line, col)) => format!(" (in {}:{line}:{col})", path.display()),
            None => format!(" (in {})", path.display()),
        },
        Err(_) => format!(" (in {})", file.display()),
    }
}

/// Reads a trace from `text` (the contents of `path`): header
/// `t_seconds,country,number_type[,use_case]`; rows at or after the end of the run are dropped;
/// the result is sorted by time. Errors name the physical line and column of the field and what
/// was expected there, never the content.
fn read_trace(
    path: &Path,
    text: &str,
    run: Duration,
    dests: &mut Destinations<'_>,
) -> Result<Vec<TraceArrival>, String> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, text, &e))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(t_col), Some(c_col), Some(n_col)) =
        (col("t_seconds"), col("country"), col("number_type"))
    else {
        let (line, col) = csv_field_at(text, headers.position().map_or(0, |p| p.byte()), 0);
        return Err(format!(
            "{shown}:{line}:{col}: the header must name the columns \
             t_seconds,country,number_type[,use_case]"
        ));
    };
    let u_col = col("use_case");
    let run = run.as_secs_f64();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, text, &e))?;
        let start = record.position().map_or(0, |p| p.byte());
        // Only for an error: counting lines is linear in the text.
        let at = |i: usize| {
            let (line, col) = csv_field_at(text, start, i);
            format!("{shown}:{line}:{col}")
        };
        let field = |i: usize| record.get(i).unwrap_or("");
        let t: f64 = field(t_col)
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| format!("{}: t_seconds is not a time in seconds >= 0", at(t_col)))?;
        if t >= run {
            continue;
        }
        let country = Country::new(field(c_col)).map_err(|_| {
            format!(
                "{}: country is not a two-letter ISO 3166-1 alpha-2 code such as \"DE\"",
                at(c_col)
            )
        })?;
        let nt_text = field(n_col);
        let number_type = NumberType::ALL
            .into_iter()
            .find(|n| n.as_str() == nt_text)
            .ok_or_else(|| {
                format!(
                    "{}: number_type is not one of mobile, landline, voip, toll_free, short_code",
                    at(n_col)
                )
            })?;
        let use_case = u_col.map(field).filter(|u| !u.is_empty());
        let destination =
            dests
                .resolve(country, number_type, use_case)
                .map_err(|(column, _)| {
                    let i = match column {
                        "country" => c_col,
                        "number_type" => n_col,
                        _ => u_col.unwrap_or(0),
                    };
                    format!("{}: {}", at(i), trace_row_problem(column))
                })?;
        out.push(TraceArrival {
            at: Duration::from_secs_f64(t),
            destination,
        });
    }
    out.sort_by_key(|a| a.at);
    Ok(out)
}

/// What is wrong with a trace row whose `column` does not resolve ([`Destinations::resolve`]'s
/// messages name the value, which a trace's errors never quote).
fn trace_row_problem(column: &str) -> &'static str {
    match column {
        "country" => "the row's country has no [[countries]] entry; declare it with its carriers",
        "number_type" => {
            "no [[router.routes]] entry serves the row's country and number type; add one or \
             remove these rows"
        }
        _ => "use_case is blank; leave it empty for no use case",
    }
}
