//! From errors to `file:line:col`: every problem in a scenario is reported where it is written.
//!
//! Parse errors carry a byte span already. Semantic problems carry a field path
//! (`providers[2].paths[0].carrier`); the path is walked through a span-preserving parse of the
//! same text (toml_edit) to the deepest node that exists, so even a missing field points at the
//! table it is missing from.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item, Table, Value};

use super::ScenarioError;
use super::path::{FieldPath, Segment};

/// One located problem, printed as `path:line:col: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; `None` when the problem has no position (e.g. the file cannot be read).
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// 1-based (line, column) of byte `offset` in `text` (columns count characters).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Every diagnostic for `err`, which came from loading `text` (the contents of `file`).
pub fn diagnose(file: &Path, text: &str, err: &ScenarioError) -> Vec<Diagnostic> {
    let at = |span: Option<Range<usize>>, message: String| {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = line_col(text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        // Never an empty message, whatever a parser said.
        let message = if message.trim().is_empty() {
            "not valid here".to_owned()
        } else {
            message
        };
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            message,
        }
    };
    match err {
        ScenarioError::Parse(e) => vec![at(e.span(), syntax_message(text, e))],
        ScenarioError::Invalid(problems) => {
            let doc = ImDocument::parse(text).ok();
            problems
                .0
                .iter()
                .map(|p| {
                    let span = doc.as_ref().and_then(|d| locate(d.as_table(), &p.path));
                    at(span.or(Some(0..0)), format!("{}: {}", p.path, p.message))
                })
                .collect()
        }
        ScenarioError::MissingVersion => vec![at(Some(0..0), err.to_string())],
        ScenarioError::UnsupportedVersion { .. } => {
            let doc = ImDocument::parse(text).ok();
            let span = doc
                .as_ref()
                .and_then(|d| locate(d.as_table(), &FieldPath::root().key("format_version")));
            vec![at(span.or(Some(0..0)), err.to_string())]
        }
        ScenarioError::Read { source, .. } => vec![at(None, format!("cannot read: {source}"))],
        ScenarioError::Serialize(_) => vec![at(None, err.to_string())],
    }
}

/// The message of a parse error of the scenario, on one line and never empty. toml reports a
/// control character in a comment with an empty message (or "expected newline" after a value),
/// so one at the error's position is named instead.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    if let Some(c) = e
        .span()
        .and_then(|s| text.get(s.start..))
        .and_then(|rest| rest.chars().next())
        .and_then(control_character_message)
    {
        return c;
    }
    let message: Vec<&str> = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if message.is_empty() {
        "not valid TOML here".to_owned()
    } else {
        message.join("; ")
    }
}

/// What is wrong with control character `c` in a TOML file, if it is one TOML refuses (every
/// control character but tab and the line feed, and a carriage return not before a line feed;
/// the caller only asks at an error's position).
pub(crate) fn control_character_message(c: char) -> Option<String> {
    if !c.is_control() || c == '\t' || c == '\n' {
        return None;
    }
    let code = format!("U+{:04X}", u32::from(c));
    Some(if c == '\r' {
        format!(
            "control character {code} (carriage return) not followed by a line feed: end lines \
             with \\n or \\r\\n"
        )
    } else {
        format!(
            "control character {code} is not allowed in TOML, not even in a comment: remove it \
             (in a \"...\" string, write it as \\u{:04X})",
            u32::from(c)
        )
    })
}

/// 1-based line and column where `path` is written in the TOML `text` (the deepest part of
/// it that exists), if the text parses.
pub(crate) fn position_of(text: &str, path: &FieldPath) -> Option<(usize, usize)> {
    let doc = ImDocument::parse(text).ok()?;
    locate(doc.as_table(), path).map(|s| line_col(text, s.start))
}

enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

impl<'a> Node<'a> {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
        }
    }

    fn key(&self, k: &str) -> Option<Node<'a>> {
        match self {
            Node::Item(Item::Table(t)) => t.get(k).map(Node::Item),
            Node::Table(t) => t.get(k).map(Node::Item),
            Node::Item(Item::Value(Value::InlineTable(t))) | Node::Value(Value::InlineTable(t)) => {
                t.get(k).map(Node::Value)
            }
            _ => None,
        }
    }

    fn index(&self, i: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(Item::ArrayOfTables(a)) => a.get(i).map(Node::Table),
            Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                a.get(i).map(Node::Value)
            }
            _ => None,
        }
    }
}

/// Span of the deepest node of `path` present in `root`.
fn locate(root: &Table, path: &FieldPath) -> Option<Range<usize>> {
    let mut node = Node::Table(root);
    let mut best = None;
    for seg in path.segments() {
        let next = match seg {
            Segment::Key(k) => node.key(k),
            Segment::Index(i) => node.index(*i),
        };
        match next {
            Some(n) => {
                if let Some(s) = n.span() {
                    best = Some(s);
                } else if let Segment::Key(k) = seg {
                    // Sub-tables written as headers have no span of their own; their key does.
                    let table: Option<&Table> = match &node {
                        Node::Item(Item::Table(t)) => Some(t),
                        Node::Table(t) => Some(t),
                        _ => None,
                    };
                    if let Some(key) = table.and_then(|t| t.key(k)) {
                        best = key.span().or(best);
                    }
                }
                node = n;
            }
            None => break,
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 10), (2, 4));
    }

    #[test]
    fn field_paths_find_their_text() {
        let text = "name = \"x\"\n\n[[providers]]\nname = \"a\"\n\n[[providers]]\nname = \"b\"\npaths = [{ carrier = \"zz\" }]\n";
        let doc = ImDocument::parse(text).unwrap();
        let check = |path: FieldPath, line: usize, col: usize| {
            let span = locate(doc.as_table(), &path).unwrap();
            assert_eq!(line_col(text, span.start), (line, col), "{path}");
        };
        let p = FieldPath::root().key("providers");
        check(p.clone().index(1).key("name"), 7, 8);
        check(
            p.clone().index(1).key("paths").index(0).key("carrier"),
            8,
            22,
        );
        // A missing field points at the deepest node that exists.
        check(p.clone().index(0).key("region"), 3, 1);
    }

    /// toml reports a control character in a comment with an empty message.
    #[test]
    fn control_characters_are_named_where_they_are() {
        for (text, at, name) in [
            ("format_version = 1 # bell \u{7}\n", (1, 27), "U+0007"),
            ("format_version = 1\n# \u{1b}[31m\n", (2, 3), "U+001B"),
            ("# \u{0}\nformat_version = 1\n", (1, 3), "U+0000"),
            ("format_version = 1\rname = \"a\"\n", (1, 19), "U+000D"),
            (
                "format_version = 1\nname = \"a\u{7f}\"\n",
                (2, 10),
                "U+007F",
            ),
        ] {
            let err = crate::scenario::Scenario::from_toml_str(text, Path::new(".")).unwrap_err();
            let d = diagnose(Path::new("s.toml"), text, &err);
            assert_eq!(
                (d[0].line, d[0].column),
                (Some(at.0), Some(at.1)),
                "{text:?}"
            );
            assert!(
                d[0].message.contains(&format!("control character {name}")),
                "{text:?}: {}",
                d[0]
            );
        }
    }
}
