//! Semantic validation, done as compilation.
//!
//! Checking a reference and resolving it are the same lookup, so there is one pass: it walks
//! the scenario in document order, resolves every name to an index, compiles every
//! distribution, and records each problem at its field path instead of stopping at the first —
//! an author fixing a file wants the whole list. If any problem was found the half-built
//! compiled form is dropped; otherwise it is exactly what the simulator needs. Keeping the
//! checks here, next to the construction, means a check cannot drift from what it protects.

use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use failover_router::duration::format as fmt_d;
use failover_router::route::{Country, NumberType, ProviderId};

use super::compiled::entity_key;
use super::compiled::*;
use super::fault::{FaultKind, LatencyEffect, LatencyLeg, TargetEntity, fault_labels};
use super::files::{FileKind, FileRules, csv_error, csv_field_at};
use super::locate::Locator;
use super::path::{FieldPath, MAX_SHOWN_PROBLEMS, Problems, unknown_name, unknown_name_with};
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

/// The names of one kind of entity in declaration order, indexed: every check and lookup is
/// one hash probe. Scanning the list per reference made validation quadratic (100,000
/// providers and routes took minutes).
struct Names<'a> {
    list: Vec<&'a str>,
    /// Name -> index of its first declaration.
    first: HashMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    fn new(names: impl IntoIterator<Item = &'a str>) -> Self {
        let list: Vec<&str> = names.into_iter().collect();
        let mut first = HashMap::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            first.entry(*n).or_insert(i);
        }
        Names { list, first }
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.first.get(name).copied()
    }

    fn iter(&self) -> impl Iterator<Item = &'a str> + Clone + '_ {
        self.list.iter().copied()
    }
}

/// Names seen in order of first appearance, each with its index (failure domains, use cases).
#[derive(Default)]
struct Interner {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }
}

struct Cx<'a> {
    files: FileRules<'a>,
    problems: Problems,
    warnings: Problems,
    /// Unknown names still to get a did-you-mean: only as many as can be printed
    /// ([`MAX_SHOWN_PROBLEMS`]), since each suggestion compares the name with every declared
    /// one. A problem of the scenario never comes after more unknown names than problems, so
    /// every printed message has its suggestion.
    suggestions: usize,
}

impl Cx<'_> {
    fn push(&mut self, at: FieldPath, message: impl Into<String>) {
        self.problems.push(at, message);
    }

    /// "unknown provider "x"; did you mean "y"?" (see [`Cx::suggestions`]).
    fn unknown<'n>(
        &mut self,
        what: &str,
        name: &str,
        candidates: impl IntoIterator<Item = &'n str> + Clone,
        declare_in: &str,
    ) -> String {
        let suggest = self.suggestions > 0;
        self.suggestions = self.suggestions.saturating_sub(1);
        unknown_name_with(what, name, candidates, declare_in, suggest)
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

    fn unique_names(&mut self, list: &str, names: &Names<'_>, what: &str) {
        for (i, n) in names.list.iter().enumerate() {
            let at = FieldPath::root().key(list).index(i).key("name");
            if n.trim().is_empty() {
                self.push(at, format!("is empty; give the {what} a name"));
            } else if let Some(j) = names.get(n).filter(|&j| j < i) {
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
        names: &Names<'_>,
        declare_in: &str,
    ) -> Option<usize> {
        let found = names.get(name);
        if found.is_none() {
            let message = self.unknown(what, name, names.iter(), declare_in);
            self.push(at, message);
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

/// Resolves destinations (mix entries, fraud spikes, trace rows).
struct Destinations<'a> {
    /// Country -> index of its first `[[countries]]` entry.
    countries: &'a HashMap<Country, usize>,
    served: &'a BTreeSet<(Country, NumberType)>,
    use_cases: Interner,
}

impl Destinations<'_> {
    fn resolve(
        &mut self,
        country: Country,
        number_type: NumberType,
        use_case: Option<&str>,
    ) -> Result<Destination, (&'static str, String)> {
        let c = self.countries.get(&country).copied().ok_or_else(|| {
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
            Some(u) => Some(UseCaseId(self.use_cases.intern(u))),
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
        suggestions: MAX_SHOWN_PROBLEMS,
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
    let region_names = Names::new(s.regions.iter().map(|r| r.name.as_str()));
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
    let mut country_index: HashMap<Country, usize> = HashMap::with_capacity(s.countries.len());
    for (i, c) in s.countries.iter().enumerate() {
        country_index.entry(c.code).or_insert(i);
    }
    let carrier_names = Names::new(s.carriers.iter().map(|c| c.name.as_str()));
    cx.unique_names("carriers", &carrier_names, "carrier");
    let mut carriers = Vec::with_capacity(s.carriers.len());
    for (i, c) in s.carriers.iter().enumerate() {
        let at = root.key("carriers").index(i);
        let country = match country_index.get(&c.country) {
            Some(&k) => CountryId(k as u32),
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
    // The country whose list last named each carrier: a carrier listed twice in one country
    // is found without searching the list so far.
    let mut listed_in = vec![usize::MAX; s.carriers.len()];
    for (i, c) in s.countries.iter().enumerate() {
        let at = root.key("countries").index(i);
        if let Some(j) = country_index.get(&c.code).copied().filter(|&j| j < i) {
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
            if std::mem::replace(&mut listed_in[k], i) == i {
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
    let provider_names = Names::new(s.providers.iter().map(|p| p.name.as_str()));
    cx.unique_names("providers", &provider_names, "provider");
    if s.providers.is_empty() {
        cx.push(
            root.key("providers"),
            "no providers; declare at least one [[providers]] entry",
        );
    }
    let mut failure_domains = Interner::default();
    // The provider that last listed a path to each carrier: two paths to one carrier are found
    // without searching the provider's paths so far.
    let mut path_of = vec![usize::MAX; s.carriers.len()];
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
            domains.push(DomainId(failure_domains.intern(d)));
        }
        domains.sort_unstable();
        domains.dedup();
        let mut paths = Vec::with_capacity(p.paths.len());
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
            if std::mem::replace(&mut path_of[k], i) == i {
                cx.push(
                    at_j.key("carrier"),
                    format!(
                        "carrier {:?} has two paths in this provider; keep one",
                        path.carrier
                    ),
                );
                continue;
            }
            paths.push((
                CarrierId(k as u32),
                PathModel {
                    quality,
                    extra_latency,
                },
            ));
        }
        paths.sort_unstable_by_key(|(c, _)| *c);
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
    let mut route_index: HashMap<(&str, Country, NumberType), usize> =
        HashMap::with_capacity(s.router.routes.len());
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
        if let Some(&j) = route_index.get(&(r.provider.as_str(), r.country, r.number_type)) {
            cx.push(
                at,
                format!(
                    "route {}/{}/{} duplicates router.routes[{j}]; merge the two entries",
                    r.provider, r.country, r.number_type
                ),
            );
        } else {
            route_index.insert((r.provider.as_str(), r.country, r.number_type), i);
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
        // Where a problem of a policy loaded from a file is written in that file: the file is
        // read again (by the same rules) and indexed once, when a first problem needs it.
        let source: OnceCell<Option<(PathBuf, String)>> = OnceCell::new();
        let locator = OnceCell::new();
        let origin = |field: &FieldPath| {
            let Some(file) = &p.file else {
                return String::new();
            };
            match source.get_or_init(|| files.read_text(FileKind::Policy, file).ok()) {
                Some((path, text)) => {
                    match locator.get_or_init(|| Locator::new(text)).position(field) {
                        Some((line, col)) => format!(" (in {}:{line}:{col})", path.display()),
                        None => format!(" (in {})", path.display()),
                    }
                }
                None => format!(" (in {})", file.display()),
            }
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
        for key in p.policy.limits.keys() {
            // A malformed key is `validate`'s to report (above).
            if let Some(msg) = limit_name_problem(s, key)
                .filter(|_| failover_router::policy::LimitKey::parse(key).is_ok())
            {
                let field = FieldPath::root().key("limits").key(key);
                cx.push(at.join(&field), format!("{msg}{}", origin(&field)));
            }
        }
        let routes = s.router.routes.iter();
        for w in p
            .policy
            .cost_cap_warnings(routes.map(|r| (r.country, r.number_type, r.cost)))
        {
            let field = FieldPath::parse(&w.field);
            cx.warnings
                .push(at.join(&field), format!("{}{}", w.message, origin(&field)));
        }
        for (j, rule) in p.policy.compliance.iter().enumerate() {
            for (list, names) in [("allow", &rule.allow), ("deny", &rule.deny)] {
                for (k, name) in names.iter().enumerate() {
                    if provider_names.get(name).is_none() {
                        let msg =
                            cx.unknown("provider", name, provider_names.iter(), "[[providers]]");
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
                None => {
                    let message = cx.unknown(
                        "policy",
                        b,
                        s.policies.iter().map(|p| p.name.as_str()),
                        "[policies.<name>]",
                    );
                    cx.push(at.key("baseline"), message);
                }
            }
        }
    }

    // ---- Traffic ----
    let at_t = root.key("traffic");
    let t = &s.traffic;
    let mut dests = Destinations {
        countries: &country_index,
        served: &served,
        use_cases: Interner::default(),
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
    let use_cases = dests.use_cases.list;
    let traffic = TrafficModel::new(arrivals, mix, fraud, t.caller_timeout);

    // ---- Faults ----
    let failure_domains = failure_domains.list;
    let domain_names = Names::new(failure_domains.iter().map(String::as_str));
    // The providers of every region and failure domain, collected once and shared by the
    // faults on them (filtering every provider per fault was quadratic).
    let targets = Targets::new(&providers, region_names.list.len(), failure_domains.len());
    let labels = fault_labels(&s.faults);
    let target_names = TargetNames {
        providers: &provider_names,
        carriers: &carrier_names,
        regions: &region_names,
        domains: &domain_names,
    };
    let overlaps = same_fault_overlaps(s, &target_names);
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
        let kind = target_names.kind(&f.target.entity);
        let entity = cx
            .resolve(at_t.key(key), kind.what, name, kind.names, kind.declare_in)
            .map(|k| (kind.to_ref)(k as u32));
        let target = targets.of(entity, &providers);
        let targeted = &target.providers;
        if matches!(entity, Some(TargetRef::Region(_))) && targeted.is_empty() {
            cx.push(
                at_t.key(key),
                format!("no provider is hosted in region {name:?}; the fault would do nothing"),
            );
        }
        let country = f.target.country.and_then(|code| {
            let found = country_index.get(&code).copied();
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
                if !targeted.is_empty() && !target.any_inventory {
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
                if !targeted.is_empty() && !target.any_rate_limit {
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
        if let Some(j) = overlaps[i] {
            cx.push(
                at.key("start"),
                format!(
                    "overlaps faults[{j}] ({:?}), the same fault on the same target: remove \
                     one, or change its window (different faults on one target compose)",
                    labels[j].0
                ),
            );
        }
        let (label, taken) = &labels[i];
        if *taken && f.name.is_some() {
            cx.push(
                at.key("name"),
                format!("duplicate fault name {:?}; names must be unique", f.label()),
            );
        }
        faults.push(FaultModel {
            name: label.clone(),
            start: f.start,
            end,
            effect,
            target: TargetModel {
                entity: entity.unwrap_or(TargetRef::Provider(ProviderId(0))),
                country,
                number_type: f.target.number_type,
                providers: target.providers.clone(),
            },
        });
    }

    // ---- Restarts and reloads: router events at a time inside the run ----
    let restart_times: Vec<Duration> = s.restarts.iter().map(|r| r.at).collect();
    let mut restarts: Vec<RestartModel> = Vec::with_capacity(s.restarts.len());
    for (i, r) in s.restarts.iter().enumerate() {
        check_event_time(
            &mut cx,
            root.key("restarts").index(i).key("at"),
            &restart_times[..=i],
            s.duration,
            (
                "restarts",
                "a router restarted before any traffic is just the first router",
            ),
            "two restarts at one instant are one restart",
        );
        restarts.push(RestartModel {
            at: r.at,
            warm: r.warm,
        });
    }
    restarts.sort_by_key(|r| r.at);

    let reload_times: Vec<Duration> = s.reloads.iter().map(|r| r.at).collect();
    let mut reloads: Vec<ReloadModel> = Vec::with_capacity(s.reloads.len());
    for (i, r) in s.reloads.iter().enumerate() {
        let path = root.key("reloads").index(i);
        check_event_time(
            &mut cx,
            path.key("at"),
            &reload_times[..=i],
            s.duration,
            ("reloads", "a policy from the start is the run's policy"),
            "two policies cannot both take over at one instant",
        );
        match s.policies.0.iter().position(|p| p.name == r.policy) {
            Some(policy) => reloads.push(ReloadModel { at: r.at, policy }),
            None => {
                let message = cx.unknown("policy", &r.policy, s.policies.names(), "[policies]");
                cx.push(path.key("policy"), message);
            }
        }
    }
    reloads.sort_by_key(|r| r.at);

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
        restarts,
        reloads,
        experiment,
        warnings: cx.warnings,
        fingerprint: 0,
    })
}

/// The providers a fault on a region or failure domain acts on, gathered once per region and
/// domain, and whether any of them has an inventory or a rate limit (for the checks of
/// inventory shocks and capacity cuts).
#[derive(Clone, Default)]
struct Target {
    providers: Arc<[ProviderId]>,
    any_inventory: bool,
    any_rate_limit: bool,
}

impl Target {
    fn of(ids: Vec<ProviderId>, providers: &[ProviderModel]) -> Self {
        let any = |f: fn(&ProviderModel) -> bool| ids.iter().any(|p| f(&providers[p.index()]));
        Target {
            any_inventory: any(|p| p.inventory.is_some()),
            any_rate_limit: any(|p| p.rate_limit.is_some()),
            providers: ids.into(),
        }
    }
}

/// The names a fault's target is looked up among.
struct TargetNames<'n, 'a> {
    providers: &'n Names<'a>,
    carriers: &'n Names<'a>,
    regions: &'n Names<'a>,
    domains: &'n Names<'a>,
}

/// One kind of fault target: what it is called, its names, where they are declared, and the
/// reference an index among them makes.
struct TargetKind<'n, 'a> {
    what: &'static str,
    names: &'n Names<'a>,
    declare_in: &'static str,
    to_ref: fn(u32) -> TargetRef,
}

impl<'n, 'a> TargetNames<'n, 'a> {
    fn kind(&self, entity: &TargetEntity) -> TargetKind<'n, 'a> {
        let (what, names, declare_in, to_ref): (_, _, _, fn(u32) -> TargetRef) = match entity {
            TargetEntity::Provider(_) => ("provider", self.providers, "[[providers]]", |k| {
                TargetRef::Provider(ProviderId(k))
            }),
            TargetEntity::Carrier(_) => ("carrier", self.carriers, "[[carriers]]", |k| {
                TargetRef::Carrier(CarrierId(k))
            }),
            TargetEntity::Region(_) => ("region", self.regions, "[[regions]]", |k| {
                TargetRef::Region(RegionId(k))
            }),
            TargetEntity::FailureDomain(_) => (
                "failure domain",
                self.domains,
                "a provider's failure_domains",
                |k| TargetRef::FailureDomain(DomainId(k)),
            ),
        };
        TargetKind {
            what,
            names,
            declare_in,
            to_ref,
        }
    }
}

/// [`Target`]s of every region and failure domain.
struct Targets {
    regions: Vec<Target>,
    domains: Vec<Target>,
}

impl Targets {
    fn new(providers: &[ProviderModel], regions: usize, domains: usize) -> Self {
        let mut by_region = vec![Vec::new(); regions];
        let mut by_domain = vec![Vec::new(); domains];
        for (k, p) in providers.iter().enumerate() {
            let id = ProviderId(k as u32);
            // A provider whose region did not resolve sits in region 0 (a placeholder; that
            // is a problem already), or in none when there is no region at all.
            if let Some(r) = by_region.get_mut(p.region.index()) {
                r.push(id);
            }
            for d in &p.failure_domains {
                by_domain[d.index()].push(id);
            }
        }
        let all = |lists: Vec<Vec<ProviderId>>| {
            lists
                .into_iter()
                .map(|ids| Target::of(ids, providers))
                .collect()
        };
        Targets {
            regions: all(by_region),
            domains: all(by_domain),
        }
    }

    /// What a fault on `entity` acts on (nothing for a carrier or an unresolved target).
    fn of(&self, entity: Option<TargetRef>, providers: &[ProviderModel]) -> Target {
        match entity {
            Some(TargetRef::Provider(p)) => Target::of(vec![p], providers),
            Some(TargetRef::Region(r)) => self.regions[r.index()].clone(),
            Some(TargetRef::FailureDomain(d)) => self.domains[d.index()].clone(),
            Some(TargetRef::Carrier(_)) | None => Target::default(),
        }
    }
}

/// For each fault, an earlier-starting fault it overlaps that is the same fault (same kind and
/// parameters) on the same target (entity, country, number type), if any.
///
/// Faults are grouped by all of that and each group is swept in order of start, keeping the
/// one that ends last: a fault overlaps an earlier-starting one exactly when it starts before
/// that one ends. Comparing every fault with every earlier one was quadratic. Kinds are
/// grouped by their `Debug` text, which is exact for the numbers they hold.
fn same_fault_overlaps(s: &Scenario, names: &TargetNames<'_, '_>) -> Vec<Option<usize>> {
    type Key = (TargetRef, Option<Country>, Option<NumberType>, String);
    let mut groups: HashMap<Key, Vec<(Duration, Duration, usize)>> = HashMap::new();
    for (i, f) in s.faults.iter().enumerate() {
        let end = f.end.unwrap_or(s.duration);
        let kind = names.kind(&f.target.entity);
        let entity = kind
            .names
            .get(f.target.entity.key_and_name().1)
            .map(|k| (kind.to_ref)(k as u32));
        // An unknown target or an empty window is a problem of its own.
        let Some(entity) = entity.filter(|_| f.start < end) else {
            continue;
        };
        let key = (
            entity,
            f.target.country,
            f.target.number_type,
            format!("{:?}", f.kind),
        );
        groups.entry(key).or_default().push((f.start, end, i));
    }
    let mut overlaps = vec![None; s.faults.len()];
    for mut group in groups.into_values() {
        group.sort_unstable();
        let mut last: Option<(Duration, usize)> = None;
        for (start, end, i) in group {
            if let Some((last_end, j)) = last
                && start < last_end
            {
                overlaps[i] = Some(j);
            }
            if last.is_none_or(|(last_end, _)| end > last_end) {
                last = Some((end, i));
            }
        }
    }
    overlaps
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

/// What is wrong with a policy's `limits` key for this scenario, if anything: it must name a
/// provider (or a route, `provider/CC/number_type`) the scenario declares, or the router would
/// refuse to build. Also asked by the sweep, whose `--vary limits.<name>.<field>` names one.
pub fn limit_name_problem(s: &Scenario, key: &str) -> Option<String> {
    use failover_router::policy::LimitKey;
    let providers = || s.providers.iter().map(|p| p.name.as_str());
    let unknown_provider = |name: &str| {
        Some(format!(
            "limits: {}",
            unknown_name("provider", name, providers(), "[[providers]]")
        ))
    };
    match LimitKey::parse(key) {
        Err(message) => Some(format!("limits: {message}")),
        Ok(LimitKey::Provider(name)) => {
            if providers().any(|p| p == name) {
                None
            } else {
                unknown_provider(name)
            }
        }
        Ok(LimitKey::Route {
            provider,
            country,
            number_type,
        }) => {
            if !providers().any(|p| p == provider) {
                return unknown_provider(provider);
            }
            let exists = s.router.routes.iter().any(|r| {
                r.provider == provider && r.country == country && r.number_type == number_type
            });
            (!exists).then(|| {
                format!(
                    "limits: no route {key:?} in [[router.routes]]; name one of its routes as \
                     provider/CC/number_type, or limit the whole provider ({provider:?})"
                )
            })
        }
    }
}

/// Checks the time of entry `times.last()` of a list of router events (`[[restarts]]`,
/// `[[reloads]]`): after 0s (`(list, why_not_zero)` says why), before the end of the run, and
/// not the time of an earlier entry (`same_instant` says why).
fn check_event_time(
    cx: &mut Cx<'_>,
    at: FieldPath,
    times: &[Duration],
    duration: Duration,
    (list, why_not_zero): (&str, &str),
    same_instant: &str,
) {
    let Some((&t, earlier)) = times.split_last() else {
        return;
    };
    if t.is_zero() {
        cx.push(
            at,
            format!(
                "must be after 0s: {why_not_zero}; give a time inside the run, e.g. at = \"10m\""
            ),
        );
    } else if t >= duration && !duration.is_zero() {
        cx.push(
            at,
            format!(
                "{} is not before the end of the run ({}); move it earlier or raise `duration`",
                fmt_d(t),
                fmt_d(duration)
            ),
        );
    } else if let Some(j) = earlier.iter().position(|o| *o == t) {
        cx.push(
            at,
            format!(
                "{} is also {list}[{j}]'s time: {same_instant}; remove one",
                fmt_d(t)
            ),
        );
    }
}
