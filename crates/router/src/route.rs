//! The routing table: which provider can carry which (country, number type), at what cost.
//!
//! A route is the unit the router judges: health, ejection and selection are per route, because a
//! provider that is fine for `US/mobile` can be blocked for `DE/voip`. Routes are grouped by
//! (country, number type) at construction so that a decision looks up its candidates in one index
//! access instead of scanning the table; this is what keeps a decision cheap with thousands of routes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// ISO 3166-1 alpha-2 country code, stored as two upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a two-letter code; lower case is accepted and normalised.
    pub fn new(code: &str) -> Result<Self, TableError> {
        let bytes = code.as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(TableError::InvalidCountry(code.to_owned()));
        }
        Ok(Country([
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl FromStr for Country {
    type Err = TableError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::new(s)
    }
}

impl Serialize for Country {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Country::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A string of two ASCII letters, as [`Country::new`] accepts it.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Country {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Country".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Country").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z]{2}$",
            "description": "ISO 3166-1 alpha-2 country code, e.g. \"DE\" (lower case is accepted).",
            "examples": ["DE", "US", "GB"],
            "patternErrorMessage": "a country is a two-letter ISO 3166-1 code, e.g. \"DE\"",
        })
    }
}

/// The kind of number a verification is sent to. Providers are often approved for some kinds only,
/// and regulators block kinds (e.g. VoIP) per country, so this is part of the route key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Mobile,
    Landline,
    Voip,
    TollFree,
    ShortCode,
}

impl NumberType {
    pub const ALL: [NumberType; 5] = [
        NumberType::Mobile,
        NumberType::Landline,
        NumberType::Voip,
        NumberType::TollFree,
        NumberType::ShortCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Mobile => "mobile",
            NumberType::Landline => "landline",
            NumberType::Voip => "voip",
            NumberType::TollFree => "toll_free",
            NumberType::ShortCode => "short_code",
        }
    }
}

impl fmt::Display for NumberType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Index of a route in its [`RoutingTable`]. Stable for the lifetime of the table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RouteId(pub u32);

impl RouteId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a provider in its [`RoutingTable`] (order of first appearance in `providers`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(pub u32);

impl ProviderId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One route as configured: the serde form used in configuration files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Provider name; must be one of the table's providers.
    pub provider: String,
    /// Destination country the route serves (two-letter code, e.g. `"DE"`).
    pub country: Country,
    /// Number type the route serves, e.g. `mobile`.
    pub number_type: NumberType,
    /// Price of one accepted attempt, in the account currency.
    pub cost: f64,
    /// Lower is preferred by the `priority` strategy. Default 0.
    #[serde(default)]
    pub priority: u32,
    /// Relative share for the `weighted` strategy and tie-breaks. Default 1.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Shared upstreams (aggregator, interconnect) this route depends on, as the operator knows them.
    #[serde(default)]
    pub failure_domains: Vec<String>,
}

fn default_weight() -> f64 {
    1.0
}

/// A validated route with its interned ids.
#[derive(Clone, Debug)]
pub struct Route {
    pub id: RouteId,
    pub provider: ProviderId,
    pub provider_name: String,
    pub country: Country,
    pub number_type: NumberType,
    pub cost: f64,
    pub priority: u32,
    pub weight: f64,
    /// Interned failure domain ids, sorted, deduplicated.
    pub failure_domains: Vec<u32>,
    /// Removed from the table by a [`reload`](crate::Router::reload). A router's route ids stay
    /// valid for its whole life (events, receipts and attempts in flight name routes by id), so
    /// a removed route keeps its id and its record but is never a candidate again; a later
    /// reload that lists it again revives it under the same id.
    pub retired: bool,
}

impl Route {
    /// A human label `provider/CC/number_type` used in events and errors.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.provider_name, self.country, self.number_type
        )
    }

    pub fn shares_domain_with(&self, other: &Route) -> bool {
        // Both lists are sorted: a merge walk.
        let (mut i, mut j) = (0, 0);
        while i < self.failure_domains.len() && j < other.failure_domains.len() {
            match self.failure_domains[i].cmp(&other.failure_domains[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

/// Candidates of one (country, number type): the unit of the ejection cap and of panic mode.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct GroupId(pub u32);

/// Errors found while building a routing table. Each names the offending route or provider.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    #[error("invalid country code {0:?}: use a two-letter ISO 3166-1 alpha-2 code such as \"DE\"")]
    InvalidCountry(String),
    #[error("route {route}: unknown provider {provider:?}; declare it in the table's providers")]
    UnknownProvider { route: String, provider: String },
    #[error("route {route} is declared twice; merge the two entries")]
    DuplicateRoute { route: String },
    #[error("route {route}: cost {cost} must be a finite number >= 0")]
    InvalidCost { route: String, cost: f64 },
    #[error("route {route}: weight {weight} must be a finite number > 0")]
    InvalidWeight { route: String, weight: f64 },
    #[error("provider {0:?} is declared twice")]
    DuplicateProvider(String),
    #[error("the routing table has no routes")]
    Empty,
}

const NO_GROUP: u32 = u32::MAX;
const NUMBER_TYPES: usize = 5;
pub(crate) const DENSE_GROUPS: usize = 26 * 26 * NUMBER_TYPES;

/// The position of (country, number type) in the dense group index. A `Country` holds two
/// upper-case ASCII letters by construction.
pub(crate) fn dense(country: Country, number_type: NumberType) -> usize {
    let [a, b] = country.0;
    let letter = |c: u8| usize::from(c.wrapping_sub(b'A')).min(25);
    (letter(a) * 26 + letter(b)) * NUMBER_TYPES + number_type as usize
}

/// The validated, indexed routing table. Immutable once built; the router shares it.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    providers: Vec<String>,
    /// Provider name -> id, for [`Self::provider_id`] (read by key only).
    provider_index: HashMap<String, ProviderId>,
    routes: Vec<Route>,
    domains: Vec<String>,
    /// (country, number type) -> group, as a dense array over every two-letter code and number
    /// type (3,380 entries): every verification looks its group up, and an index is several
    /// times cheaper than a tree search. `NO_GROUP` where no route covers the pair.
    group_index: Box<[u32]>,
    group_routes: Vec<Vec<RouteId>>,
    route_group: Vec<GroupId>,
}

impl RoutingTable {
    /// Builds the table. `providers` fixes provider ids (their index), so adapters can be
    /// registered by id; every route must name one of them.
    pub fn new<P: AsRef<str>>(providers: &[P], specs: &[RouteSpec]) -> Result<Self, TableError> {
        Self::build(providers, specs, &[])
    }

    /// The table a router moves to when it is reloaded with `next`: this table's routes keep
    /// their ids (with `next`'s cost, priority, weight and failure domains where `next` still
    /// lists them, retired where it does not), `next`'s other routes are appended, and so are
    /// its new providers. Routes are matched by (provider, country, number type).
    pub(crate) fn merged(&self, next: &RoutingTable) -> RoutingTable {
        let key = |r: &Route| (r.provider_name.clone(), r.country, r.number_type);
        let by_key: HashMap<_, usize> = next
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (key(r), i))
            .collect();
        let mut providers = self.providers.clone();
        for p in &next.providers {
            if !self.provider_index.contains_key(p) {
                providers.push(p.clone());
            }
        }
        let spec_of = |t: &RoutingTable, r: &Route| RouteSpec {
            provider: r.provider_name.clone(),
            country: r.country,
            number_type: r.number_type,
            cost: r.cost,
            priority: r.priority,
            weight: r.weight,
            failure_domains: r
                .failure_domains
                .iter()
                .map(|d| t.domain_name(*d).to_owned())
                .collect(),
        };
        let mut used = vec![false; next.routes.len()];
        let mut specs = Vec::with_capacity(self.routes.len() + next.routes.len());
        let mut retired = Vec::with_capacity(specs.capacity());
        for r in &self.routes {
            match by_key.get(&key(r)) {
                Some(&i) => {
                    used[i] = true;
                    specs.push(spec_of(next, &next.routes[i]));
                    retired.push(false);
                }
                None => {
                    specs.push(spec_of(self, r));
                    retired.push(true);
                }
            }
        }
        for (i, r) in next.routes.iter().enumerate() {
            if !used[i] {
                specs.push(spec_of(next, r));
                retired.push(false);
            }
        }
        // Both tables were valid, and the merge keeps one entry per key and every provider.
        Self::build(&providers, &specs, &retired).expect("a merge of two valid tables is valid")
    }

    fn build<P: AsRef<str>>(
        providers: &[P],
        specs: &[RouteSpec],
        retired: &[bool],
    ) -> Result<Self, TableError> {
        // Names are looked up through hash maps, never by scanning the names before them: a
        // scan per name made building a table of 100,000 providers take minutes. The maps are
        // only read by key, so their order reaches nothing.
        let mut provider_names: Vec<String> = Vec::with_capacity(providers.len());
        let mut provider_index: HashMap<&str, usize> = HashMap::with_capacity(providers.len());
        for (i, p) in providers.iter().enumerate() {
            let p = p.as_ref();
            if provider_index.insert(p, i).is_some() {
                return Err(TableError::DuplicateProvider(p.to_owned()));
            }
            provider_names.push(p.to_owned());
        }
        if specs.is_empty() {
            return Err(TableError::Empty);
        }
        let mut domains: Vec<String> = Vec::new();
        let mut domain_index: HashMap<&str, u32> = HashMap::new();
        let mut routes = Vec::with_capacity(specs.len());
        let mut seen = BTreeMap::new();
        for (i, spec) in specs.iter().enumerate() {
            let label = format!("{}/{}/{}", spec.provider, spec.country, spec.number_type);
            let provider = provider_index
                .get(spec.provider.as_str())
                .copied()
                .ok_or_else(|| TableError::UnknownProvider {
                    route: label.clone(),
                    provider: spec.provider.clone(),
                })?;
            if !(spec.cost.is_finite() && spec.cost >= 0.0) {
                return Err(TableError::InvalidCost {
                    route: label,
                    cost: spec.cost,
                });
            }
            if !(spec.weight.is_finite() && spec.weight > 0.0) {
                return Err(TableError::InvalidWeight {
                    route: label,
                    weight: spec.weight,
                });
            }
            if seen
                .insert((provider, spec.country, spec.number_type), i)
                .is_some()
            {
                return Err(TableError::DuplicateRoute { route: label });
            }
            let mut fd: Vec<u32> = spec
                .failure_domains
                .iter()
                .map(|d| {
                    *domain_index.entry(d.as_str()).or_insert_with(|| {
                        domains.push(d.clone());
                        (domains.len() - 1) as u32
                    })
                })
                .collect();
            fd.sort_unstable();
            fd.dedup();
            routes.push(Route {
                id: RouteId(i as u32),
                provider: ProviderId(provider as u32),
                provider_name: spec.provider.clone(),
                country: spec.country,
                number_type: spec.number_type,
                cost: spec.cost,
                priority: spec.priority,
                weight: spec.weight,
                failure_domains: fd,
                retired: retired.get(i).copied().unwrap_or(false),
            });
        }
        // Group ids are given in order of first appearance over every route, retired ones
        // included, so a reload (which keeps route order and appends) keeps them too; a group
        // whose routes are all retired has no members and no coverage.
        let mut group_index = vec![NO_GROUP; DENSE_GROUPS].into_boxed_slice();
        let mut group_routes: Vec<Vec<RouteId>> = Vec::new();
        let mut route_group = Vec::with_capacity(routes.len());
        for r in &routes {
            let slot = &mut group_index[dense(r.country, r.number_type)];
            if *slot == NO_GROUP {
                group_routes.push(Vec::new());
                *slot = (group_routes.len() - 1) as u32;
            }
            let g = GroupId(*slot);
            if !r.retired {
                group_routes[g.0 as usize].push(r.id);
            }
            route_group.push(g);
        }
        for slot in group_index.iter_mut() {
            if *slot != NO_GROUP && group_routes[*slot as usize].is_empty() {
                *slot = NO_GROUP;
            }
        }
        let provider_index = provider_index
            .into_iter()
            .map(|(name, i)| (name.to_owned(), ProviderId(i as u32)))
            .collect();
        Ok(RoutingTable {
            providers: provider_names,
            provider_index,
            routes,
            domains,
            group_index,
            group_routes,
            route_group,
        })
    }

    /// Every route, by id; after a reload this includes retired ones (see [`Route::retired`]).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route of `provider` (by name) serving (country, number type), retired or not.
    pub fn find(
        &self,
        provider: &str,
        country: Country,
        number_type: NumberType,
    ) -> Option<RouteId> {
        let p = self.provider_id(provider)?;
        self.routes
            .iter()
            .find(|r| r.provider == p && r.country == country && r.number_type == number_type)
            .map(|r| r.id)
    }

    pub fn route(&self, id: RouteId) -> &Route {
        &self.routes[id.index()]
    }

    pub fn providers(&self) -> &[String] {
        &self.providers
    }

    /// The id of provider `name`: one hash lookup, since registering adapters and resolving
    /// compliance lists ask once per provider.
    pub fn provider_id(&self, name: &str) -> Option<ProviderId> {
        self.provider_index.get(name).copied()
    }

    pub fn domain_name(&self, id: u32) -> &str {
        &self.domains[id as usize]
    }

    /// The group serving (country, number type), if any route covers it.
    pub fn group(&self, country: Country, number_type: NumberType) -> Option<GroupId> {
        let g = self.group_index[dense(country, number_type)];
        (g != NO_GROUP).then_some(GroupId(g))
    }

    pub fn group_of(&self, route: RouteId) -> GroupId {
        self.route_group[route.index()]
    }

    pub fn group_routes(&self, group: GroupId) -> &[RouteId] {
        &self.group_routes[group.0 as usize]
    }

    pub fn group_count(&self) -> usize {
        self.group_routes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(p: &str, c: &str, cost: f64) -> RouteSpec {
        RouteSpec {
            provider: p.into(),
            country: Country::new(c).unwrap(),
            number_type: NumberType::Mobile,
            cost,
            priority: 0,
            weight: 1.0,
            failure_domains: vec![],
        }
    }

    #[test]
    fn table_rejects_bad_routes_naming_them() {
        let check = |specs: Vec<RouteSpec>, expect: &str| {
            let err = RoutingTable::new(&["a", "b"], &specs).unwrap_err();
            assert!(err.to_string().contains(expect), "{err} lacks {expect}");
        };
        check(
            vec![spec("zz", "DE", 0.1)],
            "route zz/DE/mobile: unknown provider",
        );
        check(
            vec![spec("a", "DE", 0.1), spec("a", "DE", 0.2)],
            "route a/DE/mobile is declared twice",
        );
        check(vec![spec("a", "DE", -1.0)], "route a/DE/mobile: cost -1");
        check(vec![spec("a", "DE", f64::NAN)], "must be a finite number");
        check(vec![], "no routes");
        assert!(Country::new("DEU").is_err());
        assert_eq!(Country::new("de").unwrap().as_str(), "DE");
    }

    #[test]
    fn candidates_are_indexed_by_country_and_number_type() {
        let mut specs = vec![
            spec("a", "DE", 0.07),
            spec("b", "DE", 0.05),
            spec("a", "US", 0.01),
        ];
        specs[1].failure_domains = vec!["agg".into(), "agg".into()];
        let t = RoutingTable::new(&["a", "b"], &specs).unwrap();
        let de = t
            .group(Country::new("DE").unwrap(), NumberType::Mobile)
            .unwrap();
        assert_eq!(t.group_routes(de), &[RouteId(0), RouteId(1)]);
        assert!(
            t.group(Country::new("US").unwrap(), NumberType::Voip)
                .is_none()
        );
        assert_eq!(t.route(RouteId(1)).failure_domains, vec![0]);
        assert_eq!(t.group_of(RouteId(2)), GroupId(1));
        // Every other (country, number type), the corners of the code space included, has no
        // group; lower case is the same country.
        let covered = [("DE", NumberType::Mobile), ("US", NumberType::Mobile)];
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                for nt in [
                    NumberType::Mobile,
                    NumberType::Landline,
                    NumberType::Voip,
                    NumberType::TollFree,
                    NumberType::ShortCode,
                ] {
                    let c = Country::new(&code).unwrap();
                    let expected = covered.contains(&(code.as_str(), nt));
                    assert_eq!(t.group(c, nt).is_some(), expected, "{code} {nt:?}");
                }
            }
        }
        assert_eq!(
            t.group(Country::new("us").unwrap(), NumberType::Mobile),
            Some(GroupId(1))
        );
    }
}
