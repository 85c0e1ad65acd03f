//! `[policies.<name>]`: the failover policies a scenario compares, in file order.
//!
//! Comparing policies is the point of the lab, so one scenario holds several, each run against
//! the identical world. Their order is the order of the file — it is the order of columns in
//! reports, and a map that sorted names would reorder an author's deliberate "baseline first"
//! layout. A policy is either written inline (it *is* a `failover_router::policy::Policy`, with
//! the router's own defaults and validation) or loaded from a separate file with
//! `file = "policies/x.toml"` so that policies shared by several scenarios — and the exact
//! file that ships to production — are written once.

use std::fmt;
use std::path::{Path, PathBuf};

use failover_router::policy::Policy;
use schemars::JsonSchema;
use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::files::{FileKind, FileRules, toml_error};
use super::path::{FieldPath, Problems};

/// The scenario's policies in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policies(pub Vec<NamedPolicy>);

/// One `[policies.<name>]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedPolicy {
    pub name: String,
    /// The file the policy was loaded from, relative to the scenario, if it was not inline.
    /// Kept so the scenario serialises back to the same reference.
    pub file: Option<PathBuf>,
    /// The policy (after loading, for file entries).
    pub policy: Policy,
}

impl Policies {
    pub fn iter(&self) -> std::slice::Iter<'_, NamedPolicy> {
        self.0.iter()
    }

    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.0.iter().find(|p| p.name == name).map(|p| &p.policy)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.iter().map(|p| p.name.as_str())
    }

    /// Loads every `file = ...` entry by `files`' rules (relative to the scenario's directory),
    /// reporting failures at `policies.<name>.file`. Errors locate the problem in the policy
    /// file without quoting it (see [`FileRules`]).
    pub fn load_files(&mut self, files: FileRules<'_>) -> Problems {
        let mut problems = Problems::default();
        for p in &mut self.0 {
            let Some(file) = &p.file else { continue };
            let at = FieldPath::root().key("policies").key(&p.name).key("file");
            match files.read_text(FileKind::Policy, file) {
                Err(message) => problems.push(at, message),
                Ok((path, text)) => match toml::from_str::<Policy>(&text) {
                    Ok(policy) => p.policy = policy,
                    Err(e) => problems.push(at, toml_error(&path, &text, &e, "policy")),
                },
            }
        }
        problems
    }

    /// Replaces file references by the loaded policies, making the scenario self-contained
    /// (e.g. to archive it next to a report).
    pub fn inline_files(&mut self) {
        for p in &mut self.0 {
            p.file = None;
        }
    }
}

impl Serialize for Policies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct FileRef<'a> {
            file: &'a Path,
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for p in &self.0 {
            match &p.file {
                Some(file) => map.serialize_entry(&p.name, &FileRef { file })?,
                None => map.serialize_entry(&p.name, &p.policy)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Policies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PoliciesVisitor;
        impl<'de> Visitor<'de> for PoliciesVisitor {
            type Value = Policies;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of named policies, e.g. [policies.default]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Policies, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let entry: Entry = map.next_value()?;
                    out.push(NamedPolicy {
                        name,
                        file: entry.file,
                        policy: entry.policy,
                    });
                }
                Ok(Policies(out))
            }
        }
        d.deserialize_map(PoliciesVisitor)
    }
}

/// The file form that [`Deserialize`] accepts: a table of named entries, each either
/// `{ file = "..." }` alone or the policy's own fields (all optional, so `{}` is the default
/// policy).
impl JsonSchema for Policies {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Policies".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Policies").into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let policy = generator.subschema_for::<Policy>();
        schemars::json_schema!({
            "type": "object",
            "description": "The failover policies to compare, by name, in file order: \
                [policies.<name>] holds a policy's settings (empty: the default policy), or \
                file = \"policies/<name>.toml\" alone to load them from a file.",
            "additionalProperties": {
                "anyOf": [
                    {
                        "type": "object",
                        "title": "Policy file",
                        "description": "A policy loaded from a file, relative to the scenario \
                            file; cannot be combined with inline settings.",
                        "properties": {
                            "file": {
                                "type": "string",
                                "description": "Path of a policy file (the TOML form of a \
                                    policy), relative to the scenario file.",
                                "examples": ["policies/aggressive.toml"],
                            }
                        },
                        "required": ["file"],
                        "additionalProperties": false,
                    },
                    policy,
                ]
            }
        })
    }
}

/// One entry: `{ file = "..." }` alone, or the policy's own fields.
struct Entry {
    file: Option<PathBuf>,
    policy: Policy,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a policy table, or { file = \"policies/name.toml\" }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                let Some(first) = map.next_key::<String>()? else {
                    return Ok(Entry {
                        file: None,
                        policy: Policy::default(),
                    });
                };
                if first == FILE_KEY {
                    let file: PathBuf = map.next_value()?;
                    if let Some(other) = map.next_key::<String>()? {
                        return Err(de::Error::custom(combined_message(Some(&other))));
                    }
                    return Ok(Entry {
                        file: Some(file),
                        policy: Policy::default(),
                    });
                }
                // Stream the rest straight into `Policy` (keeping the parser's error locations),
                // replaying the key already read.
                let policy = Policy::deserialize(de::value::MapAccessDeserializer::new(Replay {
                    first: Some(first),
                    inner: map,
                }))?;
                Ok(Entry { file: None, policy })
            }
        }
        d.deserialize_map(EntryVisitor)
    }
}

const FILE_KEY: &str = "file";

fn combined_message(found: Option<&str>) -> String {
    let found = found.map(|k| format!(" (found `{k}`)")).unwrap_or_default();
    format!(
        "`file` cannot be combined with inline policy settings{found}: \
         move them into the file, or drop `file`"
    )
}

/// A `MapAccess` that yields an already-consumed key before the rest of the map.
struct Replay<A> {
    first: Option<String>,
    inner: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let key = match self.first.take() {
            Some(k) => k,
            None => match self.inner.next_key::<String>()? {
                Some(k) => k,
                None => return Ok(None),
            },
        };
        if key == FILE_KEY {
            return Err(de::Error::custom(combined_message(None)));
        }
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}
