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

/// Bytes per block of [`LineIndex`]'s character counts.
const BLOCK: usize = 4096;

/// Where the lines of a text start, and how many characters precede every [`BLOCK`]th byte:
/// built once, so that locating each of many problems costs a binary search and at most one
/// block of counting, not a scan from the start of the text ([`line_col`] per problem made
/// 20,000 problems in a large file quadratic).
pub(crate) struct LineIndex {
    line_starts: Vec<usize>,
    block_chars: Vec<usize>,
}

/// Whether `b` starts a character (is not a UTF-8 continuation byte).
fn starts_char(b: &u8) -> bool {
    b & 0xC0 != 0x80
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut block_chars = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut chars = 0;
        for block in bytes.chunks(BLOCK) {
            block_chars.push(chars);
            chars += block.iter().filter(|b| starts_char(b)).count();
        }
        block_chars.push(chars);
        LineIndex {
            line_starts,
            block_chars,
        }
    }

    /// Characters of `text` (the text this index was built from) before byte `offset`.
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let block = offset / BLOCK;
        let from = block * BLOCK;
        self.block_chars[block]
            + text.as_bytes()[from..offset]
                .iter()
                .filter(|b| starts_char(b))
                .count()
    }

    /// [`line_col`] of `offset` in `text`, the text this index was built from.
    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.chars_before(text, offset) - self.chars_before(text, start) + 1;
        (line, column)
    }
}

/// A TOML text ready to locate field paths in: parsed once with spans, its lines indexed.
pub(crate) struct Locator<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
    lines: LineIndex,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: ImDocument::parse(text).ok(),
            lines: LineIndex::new(text),
        }
    }

    /// Span of the deepest part of `path` written in the text, if it parses.
    fn span(&self, path: &FieldPath) -> Option<Range<usize>> {
        self.doc.as_ref().and_then(|d| locate(d.as_table(), path))
    }

    /// 1-based line and column of byte `offset`.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines.line_col(self.text, offset)
    }

    /// 1-based line and column where `path` (the deepest part of it that exists) is written.
    pub(crate) fn position(&self, path: &FieldPath) -> Option<(usize, usize)> {
        self.span(path).map(|s| self.line_col(s.start))
    }
}

/// Every diagnostic for `err`, which came from loading `text` (the contents of `file`).
pub fn diagnose(file: &Path, text: &str, err: &ScenarioError) -> Vec<Diagnostic> {
    // Parsed and indexed once for all the problems, however many.
    let locator = Locator::new(text);
    let at = |span: Option<Range<usize>>, message: String| {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = locator.line_col(s.start);
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
        ScenarioError::Invalid(problems) => problems
            .0
            .iter()
            .map(|p| {
                let span = locator.span(&p.path);
                at(span.or(Some(0..0)), format!("{}: {}", p.path, p.message))
            })
            .collect(),
        ScenarioError::MissingVersion => vec![at(Some(0..0), err.to_string())],
        ScenarioError::UnsupportedVersion { .. } => {
            let span = locator.span(&FieldPath::root().key("format_version"));
            vec![at(span.or(Some(0..0)), err.to_string())]
        }
        ScenarioError::Read(message) => vec![at(None, message.clone())],
        ScenarioError::Serialize(_) => vec![at(None, err.to_string())],
    }
}

/// The message of a parse error of the scenario, on one line and never empty. toml reports a
/// control character in a comment with an empty message (or "expected newline" after a value),
/// so one at the error's position is named instead.
fn syntax_message(text: &str, e: &toml_edit::de::Error) -> String {
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

    /// The index agrees with a scan from the start, across block edges and multi-byte
    /// characters, on one long line as on many short ones.
    #[test]
    fn the_line_index_agrees_with_a_scan() {
        let long_line = "é".repeat(3 * BLOCK) + "x\n" + &"ab\n".repeat(BLOCK) + "€";
        for text in [
            "",
            "a",
            "a\n",
            "\n\n",
            "a = 1\nbé = 2\n",
            long_line.as_str(),
        ] {
            let index = LineIndex::new(text);
            let edges =
                (1..=text.len() / BLOCK).flat_map(|k| [k * BLOCK - 1, k * BLOCK, k * BLOCK + 1]);
            let offsets = (0..=text.len() + 2)
                .step_by(37)
                .chain(edges)
                .chain([text.len()]);
            for offset in offsets.filter(|&o| o > text.len() || text.is_char_boundary(o)) {
                assert_eq!(
                    index.line_col(text, offset),
                    line_col(text, offset),
                    "{offset} of {} bytes",
                    text.len()
                );
            }
        }
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
