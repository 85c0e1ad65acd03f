//! Field paths and the problems found at them.
//!
//! A validation error is only useful if the author can find the offending line. Paths are kept as
//! segments (`providers`, `[2]`, `paths`, `[0]`, `carrier`) rather than pre-rendered strings so a
//! later pass can walk the same segments through the TOML document and map each problem to a
//! `file:line:col` span; rendering to `providers[2].paths[0].carrier` happens only for display.

use std::fmt;

/// One step of a [`FieldPath`]: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Location of a value in a scenario file, e.g. `providers[2].paths[0].carrier`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The document root (displays as `(root)`).
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.into()));
        p
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    /// This path extended by every segment of `rest`.
    pub fn join(&self, rest: &FieldPath) -> Self {
        let mut p = self.clone();
        p.0.extend(rest.0.iter().cloned());
        p
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a dotted path with indices, as produced by [`PolicyError::field`] and
    /// [`DistributionError::param`] (`overrides[1].max_attempts`). Keys must be bare.
    ///
    /// [`PolicyError::field`]: failover_router::policy::PolicyError
    /// [`DistributionError::param`]: crate::scenario::distribution::DistributionError
    pub fn parse(text: &str) -> Self {
        let mut segments = Vec::new();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let (key, mut rest) = match part.find('[') {
                Some(i) => part.split_at(i),
                None => (part, ""),
            };
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_owned()));
            }
            while let Some(close) = rest.find(']') {
                let inner = &rest[1..close];
                match inner.parse() {
                    Ok(i) => segments.push(Segment::Index(i)),
                    Err(_) => segments.push(Segment::Key(inner.to_owned())),
                }
                rest = &rest[close + 1..];
            }
        }
        FieldPath(segments)
    }
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One thing wrong with a scenario: where, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: FieldPath,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem validation found, in document order of discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, path: FieldPath, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// `Ok(())` if there is no problem.
    pub fn into_result(self) -> Result<(), Problems> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            writeln!(f, "{} problems in scenario:", self.0.len())?;
        }
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if self.0.len() > 1 {
                f.write_str("  ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Levenshtein distance over chars, case-insensitive.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Longest name, in characters, compared by edit distance, which costs the product of the two
/// lengths (two names of 100,000 characters would take minutes): a typo in a longer name is
/// still suggested when one name is a prefix of the other.
const MAX_TYPO_CHARS: usize = 64;

/// The closest candidate to a misspelt `name`, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Typos: up to a third of the longer name. Dropped or extra suffixes ("sinch" for
    // "sinch-like"): one name a prefix of the other, at least 3 characters shared.
    let lower = name.to_lowercase();
    let n = name.chars().count();
    let distance = |c: &str| -> Option<usize> {
        let m = c.chars().count();
        let cl = c.to_lowercase();
        if n.min(m) >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl)) {
            // One is the other plus a suffix: the distance is the suffix's length.
            return Some(lower.chars().count().abs_diff(cl.chars().count()));
        }
        // The distance is at least the difference in length: skip what cannot be close.
        let limit = (n.max(m) / 3).max(1);
        if n.abs_diff(m) > limit || n.max(m) > MAX_TYPO_CHARS {
            return None;
        }
        let d = edit_distance(name, c);
        (d <= limit && d < n.max(1)).then_some(d)
    };
    candidates
        .into_iter()
        .filter_map(|c| distance(c).map(|d| (d, c)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// "unknown provider "x"; did you mean "y"?" or a list of what is declared.
pub(crate) fn unknown_name<'a>(
    what: &str,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    declare_in: &str,
) -> String {
    if let Some(s) = did_you_mean(name, candidates.clone()) {
        return format!("unknown {what} {name:?}; did you mean {s:?}?");
    }
    let all: Vec<String> = candidates.into_iter().map(|c| format!("{c:?}")).collect();
    if all.is_empty() {
        format!("unknown {what} {name:?}: none is declared; declare it in {declare_in}")
    } else {
        format!(
            "unknown {what} {name:?}; declared: {} (or declare it in {declare_in})",
            all.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_and_parse() {
        let p = FieldPath::root()
            .key("providers")
            .index(2)
            .key("paths")
            .index(0)
            .key("carrier");
        assert_eq!(p.to_string(), "providers[2].paths[0].carrier");
        assert_eq!(FieldPath::parse("providers[2].paths[0].carrier"), p);
        let q = FieldPath::root().key("policies").key("fast.eject");
        assert_eq!(q.to_string(), "policies.\"fast.eject\"");
        assert_eq!(
            q.join(&FieldPath::parse("overrides[1].max_attempts"))
                .to_string(),
            "policies.\"fast.eject\".overrides[1].max_attempts"
        );
        assert_eq!(FieldPath::parse("").to_string(), "(root)");
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let names = ["twilio-like", "vonage-like", "sinch-like"];
        let check = |name: &str, expect: Option<&str>| {
            assert_eq!(did_you_mean(name, names), expect, "{name}");
        };
        check("twilio-lik", Some("twilio-like"));
        check("Twillio-like", Some("twilio-like"));
        check("sinch_like", Some("sinch-like"));
        check("messagebird", None);
        check("x", None);
        check("twilio", Some("twilio-like"));
        check("sinch-like-eu", Some("sinch-like"));
    }

    /// Fuzzing found it (tests/lab/fuzz.rs): a provider renamed to 100,000 characters and a
    /// reference of 10,000 made `validate` compute edit distances of 10^9 cells per unknown
    /// name, over 10 s for a 115 KB file; two names of 100,000 would take minutes.
    #[test]
    fn suggestions_for_long_names_take_no_time() {
        let long = "ab".repeat(50_000);
        let other = "ba".repeat(50_000);
        let started = std::time::Instant::now();
        for _ in 0..10 {
            assert_eq!(did_you_mean(&long, [other.as_str(), "x"]), None);
            assert_eq!(
                did_you_mean(&long[..10_000], [long.as_str()]),
                Some(long.as_str())
            );
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        // A typo in a name of up to 64 characters is still found.
        let name = "a-provider-with-a-rather-long-name-of-sixty-characters-or-so";
        let typo = name.replace("rather", "rahter");
        assert_eq!(did_you_mean(&typo, [name]), Some(name));
    }
}
