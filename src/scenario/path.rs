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

/// Most problems printed at once ([`Problems`]' `Display`, the command line): an author fixes
/// a file from the top, and 20,000 messages about one pasted block bury the first.
pub const MAX_SHOWN_PROBLEMS: usize = 50;

/// The line that replaces the `hidden` problems beyond [`MAX_SHOWN_PROBLEMS`].
pub fn more_problems(hidden: usize) -> String {
    let s = if hidden == 1 { "" } else { "s" };
    format!("… and {hidden} more problem{s} (fix the above and run again)")
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            writeln!(f, "{} problems in scenario:", self.0.len())?;
        }
        for (i, p) in self.0.iter().take(MAX_SHOWN_PROBLEMS).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if self.0.len() > 1 {
                f.write_str("  ")?;
            }
            write!(f, "{p}")?;
        }
        if self.0.len() > MAX_SHOWN_PROBLEMS {
            write!(
                f,
                "\n  {}",
                more_problems(self.0.len() - MAX_SHOWN_PROBLEMS)
            )?;
        }
        Ok(())
    }
}

/// Levenshtein distance between `a` and `b` if it is at most `limit` (`None` beyond it),
/// with `row` and `next` as scratch space. Only the band of cells within `limit` of the
/// diagonal is computed, and the search stops as soon as a row exceeds the limit, so ruling a
/// candidate out costs a few characters' work, not the whole table.
fn bounded_distance(
    a: &[char],
    b: &[char],
    limit: usize,
    row: &mut Vec<usize>,
    next: &mut Vec<usize>,
) -> Option<usize> {
    let (la, lb) = (a.len(), b.len());
    // No distance exceeds the longer length: a larger limit changes nothing.
    let limit = limit.min(la.max(lb));
    if la.abs_diff(lb) > limit {
        return None;
    }
    if limit == 0 {
        return (a == b).then_some(0);
    }
    // Cells outside the band count as "beyond the limit".
    let beyond = limit + 1;
    row.clear();
    row.extend((0..=lb).map(|j| j.min(beyond)));
    for i in 1..=la {
        next.clear();
        next.resize(lb + 1, beyond);
        next[0] = i.min(beyond);
        let mut row_min = next[0];
        for j in i.saturating_sub(limit).max(1)..=(i + limit).min(lb) {
            let sub = row[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let cell = sub.min(row[j] + 1).min(next[j - 1] + 1).min(beyond);
            next[j] = cell;
            row_min = row_min.min(cell);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(row, next);
    }
    Some(row[lb]).filter(|&d| d <= limit)
}

/// The closest candidate to a misspelt `name`, if one is close enough to be a plausible typo.
///
/// Linear in the candidates and cheap for each: a candidate is compared only as far as it
/// could still beat the best so far, without allocating. Still, callers ask only for the
/// names they print (at most [`MAX_SHOWN_PROBLEMS`] of them), so that 20,000 dangling names
/// among 20,000 declared ones do not cost 400 million comparisons.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Typos: up to a third of the longer name. Dropped or extra suffixes ("sinch" for
    // "sinch-like"): one name a prefix of the other, at least 3 characters shared.
    let lower: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let n = name.chars().count();
    let (mut row, mut next, mut other) = (Vec::new(), Vec::new(), Vec::new());
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        // ASCII, the usual case, is compared in place: no lowercased copy for a candidate that
        // its length or its first characters already rule out.
        let ascii = name.is_ascii() && c.is_ascii();
        let m = if ascii { c.len() } else { c.chars().count() };
        let prefix = n.min(m) >= 3
            && if ascii {
                let k = n.min(m);
                name.as_bytes()[..k].eq_ignore_ascii_case(&c.as_bytes()[..k])
            } else {
                other.clear();
                other.extend(c.chars().flat_map(char::to_lowercase));
                other.starts_with(&lower) || lower.starts_with(&other)
            };
        let typo = (n.max(m) / 3).max(1).min(n.max(1) - 1);
        // Only a strictly closer candidate replaces the best: the first of equals wins.
        let limit = match best {
            Some((0, _)) => break,
            Some((d, _)) if prefix => d - 1,
            Some((d, _)) => typo.min(d - 1),
            None if prefix => usize::MAX,
            None => typo,
        };
        if ascii {
            if n.abs_diff(m) > limit {
                continue;
            }
            if limit == 0 {
                if name.eq_ignore_ascii_case(c) {
                    best = Some((0, c));
                }
                continue;
            }
        }
        other.clear();
        other.extend(c.chars().flat_map(char::to_lowercase));
        if let Some(d) = bounded_distance(&lower, &other, limit, &mut row, &mut next) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// At most this many declared names are listed after an unknown one.
const LISTED_NAMES: usize = 10;

/// "unknown provider "x"; did you mean "y"?" or a list of what is declared.
pub(crate) fn unknown_name<'a>(
    what: &str,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    declare_in: &str,
) -> String {
    unknown_name_with(what, name, candidates, declare_in, true)
}

/// [`unknown_name`], or without a suggestion nor a list unless `suggest`: for messages that
/// will not be printed (see [`did_you_mean`]), which are only counted. Lists at most ten
/// declared names, then how many more there are.
pub(crate) fn unknown_name_with<'a>(
    what: &str,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    declare_in: &str,
    suggest: bool,
) -> String {
    if !suggest {
        return format!("unknown {what} {name:?}; declare it in {declare_in}");
    }
    if let Some(s) = did_you_mean(name, candidates.clone()) {
        return format!("unknown {what} {name:?}; did you mean {s:?}?");
    }
    let mut all = candidates.into_iter();
    let listed: Vec<String> = all
        .by_ref()
        .take(LISTED_NAMES)
        .map(|c| format!("{c:?}"))
        .collect();
    let more = all.count();
    if listed.is_empty() {
        format!("unknown {what} {name:?}: none is declared; declare it in {declare_in}")
    } else if more == 0 {
        format!(
            "unknown {what} {name:?}; declared: {} (or declare it in {declare_in})",
            listed.join(", ")
        )
    } else {
        format!(
            "unknown {what} {name:?}; declared: {} and {more} more (or declare it in \
             {declare_in})",
            listed.join(", ")
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
        // The first of equally close candidates; a closer one later still wins.
        assert_eq!(did_you_mean("abcx", ["abcd", "abce"]), Some("abcd"));
        assert_eq!(did_you_mean("abcdef", ["abcxyz", "abcdeg"]), Some("abcdeg"));
        assert_eq!(did_you_mean("ABC", ["x", "abc"]), Some("abc"));
        assert_eq!(did_you_mean("", ["a", "b"]), None);
    }

    /// The bounded search finds what comparing every candidate in full finds.
    #[test]
    fn suggestions_agree_with_the_full_comparison() {
        // The whole table, the textbook way.
        fn distance(a: &str, b: &str) -> usize {
            let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
            let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
            let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
            for (i, row) in d.iter_mut().enumerate() {
                row[0] = i;
            }
            d[0] = (0..=b.len()).collect();
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let sub = d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
                    d[i][j] = sub.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
                }
            }
            d[a.len()][b.len()]
        }
        let (mut row, mut next) = (Vec::new(), Vec::new());
        for a in [
            "",
            "a",
            "kitten",
            "sitting",
            "flaw",
            "lawn",
            "provider-12",
            "pr0vider-21x",
        ] {
            for b in [
                "",
                "ab",
                "sitting",
                "kitten",
                "lawn",
                "provider-21",
                "provider-12x",
            ] {
                let full = distance(a, b);
                let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                for limit in 0..=full + 1 {
                    assert_eq!(
                        bounded_distance(&ca, &cb, limit, &mut row, &mut next),
                        (full <= limit).then_some(full),
                        "{a:?} {b:?} within {limit}"
                    );
                }
            }
        }
        fn full<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
            let lower = name.to_lowercase();
            let n = name.chars().count();
            let plausible = |d: usize, c: &str| {
                let cl = c.to_lowercase();
                let prefix = n.min(c.chars().count()) >= 3
                    && (cl.starts_with(&lower) || lower.starts_with(&cl));
                prefix || (d <= (n.max(c.chars().count()) / 3).max(1) && d < n.max(1))
            };
            candidates
                .iter()
                .map(|&c| (distance(name, c), c))
                .filter(|&(d, c)| plausible(d, c))
                .min_by_key(|&(d, _)| d)
                .map(|(_, c)| c)
        }
        let names = [
            "twilio-like",
            "vonage-like",
            "sinch-like",
            "sinch",
            "Sinch-EU",
            "a",
            "ab",
            "abc",
            "abd",
            "provider-1",
            "provider-10",
            "provider-1x",
            "pr0vider-1",
            "télékom",
            "telekom",
            "TELEKOM-de",
            "x",
            "",
            "TWILIO-LIKE",
            "Provider-1",
            "SINCH-like-eu",
        ];
        for name in names {
            for k in 0..names.len() {
                let candidates: Vec<&str> = names.iter().copied().cycle().skip(k).take(9).collect();
                assert_eq!(
                    did_you_mean(name, candidates.iter().copied()),
                    full(name, &candidates),
                    "{name:?} among {candidates:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_names_list_ten_declared_names_then_a_count() {
        let names: Vec<String> = (0..25).map(|i| format!("p{i}")).collect();
        let message = unknown_name(
            "provider",
            "zzz",
            names.iter().map(String::as_str),
            "[[providers]]",
        );
        assert_eq!(
            message,
            "unknown provider \"zzz\"; declared: \"p0\", \"p1\", \"p2\", \"p3\", \"p4\", \
             \"p5\", \"p6\", \"p7\", \"p8\", \"p9\" and 15 more (or declare it in [[providers]])"
        );
    }

    #[test]
    fn problems_display_at_most_fifty() {
        let mut problems = Problems::default();
        for i in 0..60 {
            problems.push(FieldPath::root().key("providers").index(i), "bad");
        }
        let text = problems.to_string();
        assert_eq!(text.lines().count(), 1 + 50 + 1, "{text}");
        assert!(text.starts_with("60 problems in scenario:\n  providers[0]: bad\n"));
        assert!(
            text.ends_with(
                "  providers[49]: bad\n  … and 10 more problems (fix the above and run again)"
            ),
            "{text}"
        );
    }
}
