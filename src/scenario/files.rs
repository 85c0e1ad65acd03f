//! Files a scenario references: policy files (`[policies.<name>] file`), traces (`[traffic]
//! trace`) and empirical distributions' samples (`csv`).
//!
//! They are data, not secrets, and a scenario may come from someone else (a pull request that a
//! CI job validates and gates). So they are read with care:
//!
//! - relative paths resolve against the scenario's directory; with strict paths
//!   (`--strict-paths`) a reference must be relative, without `..`, and must not lead outside
//!   that directory through a symbolic link;
//! - anything but a regular file (a directory, a FIFO, a device, a socket; a symbolic link is
//!   judged by its target) is refused before it is opened, so nothing blocks, and the file is
//!   opened non-blocking and checked again in case it was swapped in between;
//! - at most a documented number of bytes is read ([`MAX_POLICY_FILE_BYTES`],
//!   [`MAX_CSV_FILE_BYTES`]), so a huge or endless file is refused, never read whole;
//! - an error never quotes what was read (`/proc/self/environ` given as a policy file must not
//!   print the environment): it names the file, the line and column, and what was expected
//!   there, in words of the scenario format, never of the file.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::locate::{control_character_message, line_col};

/// Most bytes read from a policy file (1 MiB): a policy is a page of settings.
pub const MAX_POLICY_FILE_BYTES: u64 = 1 << 20;

/// Most bytes read from a trace or a CSV of samples (64 MiB): a few million rows.
pub const MAX_CSV_FILE_BYTES: u64 = 64 << 20;

/// Most bytes read from a scenario file (64 MiB): several hundred thousand providers and
/// routes, which validation handles in seconds; beyond it a file is refused unread.
pub const MAX_SCENARIO_FILE_BYTES: u64 = 64 << 20;

/// Most bytes read from a shard's partial result file (4 GiB): every run's full result, for a
/// share of a large sweep.
pub const MAX_PARTIAL_FILE_BYTES: u64 = 4 << 30;

/// What a referenced file holds, which sets its size limit and how errors name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `[policies.<name>] file`: a policy in TOML.
    Policy,
    /// `[traffic] trace`: arrivals in CSV.
    Trace,
    /// An empirical distribution's `csv`: one column of seconds.
    Samples,
    /// The scenario file itself (given on the command line, not referenced), read by the same
    /// rules: a FIFO given as a scenario must not block either.
    Scenario,
    /// A shard's partial result (`failover-lab merge`), given on the command line.
    Partial,
    /// Attempt records (`failover-lab fit`): streamed line by line, so no size limit.
    Records,
}

impl FileKind {
    /// Most bytes read from a file of this kind.
    pub fn limit(self) -> u64 {
        match self {
            FileKind::Policy => MAX_POLICY_FILE_BYTES,
            FileKind::Trace | FileKind::Samples => MAX_CSV_FILE_BYTES,
            FileKind::Scenario => MAX_SCENARIO_FILE_BYTES,
            FileKind::Partial => MAX_PARTIAL_FILE_BYTES,
            FileKind::Records => u64::MAX,
        }
    }

    fn what(self) -> &'static str {
        match self {
            FileKind::Policy => "policy file (TOML)",
            FileKind::Trace => "trace (CSV)",
            FileKind::Samples => "CSV of samples",
            FileKind::Scenario => "scenario file (TOML)",
            FileKind::Partial => "partial result (JSON)",
            FileKind::Records => "file of attempt records",
        }
    }

    /// What to do instead of naming something that is not a regular file.
    fn point_at_regular_file(self) -> String {
        let key = match self {
            FileKind::Policy => "file",
            FileKind::Trace => "trace",
            FileKind::Samples => "csv",
            FileKind::Scenario => return "give the path of a scenario file (TOML)".to_owned(),
            FileKind::Partial => {
                return "give the path of a partial result a shard wrote".to_owned();
            }
            FileKind::Records => {
                return "give the path of an audit trail (.jsonl) or an attempts CSV".to_owned();
            }
        };
        format!("point `{key}` at a regular file, a {}", self.what())
    }
}

/// Where referenced files are looked up, and whether they must stay there.
#[derive(Clone, Copy, Debug)]
pub struct FileRules<'a> {
    /// The scenario file's directory: relative references resolve against it.
    pub base_dir: &'a Path,
    /// Refuse absolute paths, `..` components and symbolic links leading outside `base_dir`
    /// (`--strict-paths`, for scenarios from untrusted sources). Off by default.
    pub strict_paths: bool,
}

impl<'a> FileRules<'a> {
    /// References resolve against `base_dir`; absolute paths and `..` are allowed.
    pub fn new(base_dir: &'a Path) -> Self {
        FileRules {
            base_dir,
            strict_paths: false,
        }
    }

    /// References resolve against `base_dir` and must stay inside it.
    pub fn strict(base_dir: &'a Path) -> Self {
        FileRules {
            base_dir,
            strict_paths: true,
        }
    }

    /// The path a reference names, if these rules allow it (checked on the text of the path;
    /// symbolic links are checked when the file is read).
    pub fn resolve(&self, kind: FileKind, written: &Path) -> Result<PathBuf, String> {
        if self.strict_paths {
            let refuse = |why: &str| {
                Err(format!(
                    "{}: {why}, which --strict-paths refuses: put the {} inside the scenario's \
                     directory ({}) and give its path relative to it, without `..`",
                    written.display(),
                    kind.what(),
                    shown_dir(self.base_dir)
                ))
            };
            if written.has_root() || written.is_absolute() {
                return refuse("an absolute path");
            }
            if written.components().any(|c| c == Component::ParentDir) {
                return refuse("a path with `..`");
            }
        }
        Ok(self.base_dir.join(written))
    }

    /// The bytes of a referenced file, and its path as errors show it.
    pub fn read_bytes(&self, kind: FileKind, written: &Path) -> Result<(PathBuf, Vec<u8>), String> {
        let path = self.resolve(kind, written)?;
        let bytes = read_regular(&path, kind, |path| {
            if self.strict_paths {
                self.inside(path, kind)?;
            }
            Ok(())
        })?;
        Ok((path, bytes))
    }

    /// The text of a referenced file (UTF-8), and its path as errors show it.
    pub fn read_text(&self, kind: FileKind, written: &Path) -> Result<(PathBuf, String), String> {
        let (path, bytes) = self.read_bytes(kind, written)?;
        let text = utf8_text(&path, kind, bytes)?;
        Ok((path, text))
    }

    /// Refuses a file whose real path (symbolic links resolved) is outside `base_dir`.
    fn inside(&self, path: &Path, kind: FileKind) -> Result<(), String> {
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let real = path.canonicalize().map_err(cannot)?;
        // A scenario named without a directory (`s.toml`) has an empty one: the current.
        let dir = match self.base_dir {
            d if d.as_os_str().is_empty() => Path::new("."),
            d => d,
        };
        let base = dir
            .canonicalize()
            .map_err(|e| format!("cannot read the directory {}: {e}", shown_dir(dir)))?;
        if real.starts_with(&base) {
            return Ok(());
        }
        Err(format!(
            "{} leads outside the scenario's directory (a symbolic link to {}), which \
             --strict-paths refuses: put the {} itself inside the scenario's directory ({})",
            path.display(),
            real.display(),
            kind.what(),
            shown_dir(self.base_dir)
        ))
    }
}

fn shown_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        dir.display().to_string()
    }
}

/// The text of the scenario file at `path`, read by the rules of referenced files (regular
/// files only, checked before opening; at most [`MAX_SCENARIO_FILE_BYTES`]; UTF-8, or an error
/// at the first invalid byte that does not quote the file).
pub fn read_scenario_file(path: &Path) -> Result<String, String> {
    let bytes = read_regular(path, FileKind::Scenario, |_| Ok(()))?;
    utf8_text(path, FileKind::Scenario, bytes)
}

/// The bytes of a shard's partial result at `path`, by the rules of referenced files (regular
/// files only, checked before opening; at most [`MAX_PARTIAL_FILE_BYTES`]).
pub fn read_partial_file(path: &Path) -> Result<Vec<u8>, String> {
    read_regular(path, FileKind::Partial, |_| Ok(()))
}

/// Opens a file of attempt records for streaming: a regular file only, checked before opening
/// (a FIFO must not block), with no size limit (it is read line by line, never whole).
pub fn open_data_file(path: &Path) -> Result<File, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let meta = std::fs::metadata(path).map_err(cannot)?;
    refuse_special(path, FileKind::Records, &meta)?;
    let file = open_nonblocking(path).map_err(cannot)?;
    refuse_special(path, FileKind::Records, &file.metadata().map_err(cannot)?)?;
    Ok(file)
}

/// The bytes of the regular file at `path`, at most `kind`'s limit; `check` runs on the path
/// once it is known to be a regular file, before it is opened.
fn read_regular(
    path: &Path,
    kind: FileKind,
    check: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let cannot = |e: std::io::Error| format!("cannot read {shown}: {e}");
    // The type first, following symbolic links and without opening: opening a FIFO blocks.
    let meta = std::fs::metadata(path).map_err(cannot)?;
    refuse_special(path, kind, &meta)?;
    check(path)?;
    let too_large = || {
        format!(
            "{shown} is larger than {}, the limit for a {}: use a smaller file",
            size_text(kind.limit()),
            kind.what()
        )
    };
    if meta.len() > kind.limit() {
        return Err(too_large());
    }
    let file = open_nonblocking(path).map_err(cannot)?;
    // Swapped for something else since the check?
    refuse_special(path, kind, &file.metadata().map_err(cannot)?)?;
    // Sizes of files such as those in /proc are not known in advance: read one byte more
    // than the limit to tell.
    let mut bytes = Vec::new();
    file.take(kind.limit() + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > kind.limit() {
        return Err(too_large());
    }
    Ok(bytes)
}

/// `bytes` as UTF-8 text, or an error at the first invalid byte (`path:line:col`).
fn utf8_text(path: &Path, kind: FileKind, bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = std::str::from_utf8(&e.as_bytes()[..valid]).unwrap_or_default();
        let (line, col) = line_col(before, before.len());
        format!(
            "{}:{line}:{col}: not UTF-8 text (the first invalid byte is here): save the {} as \
             UTF-8",
            path.display(),
            kind.what()
        )
    })
}

/// `1 MiB`, `64 MiB`, or bytes.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// An error unless `meta` is a regular file's.
fn refuse_special(path: &Path, kind: FileKind, meta: &Metadata) -> Result<(), String> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let what = if t.is_dir() {
        "a directory"
    } else {
        special_kind(&t)
    };
    Err(format!(
        "{} is {what}, not a regular file: {}",
        path.display(),
        kind.point_at_regular_file()
    ))
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

/// Opens for reading without blocking, should a FIFO have replaced the file since it was
/// checked (the caller checks the opened file again).
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// `file:line:col: message` for a parse error of a referenced TOML file (`what`: "policy"),
/// without quoting the file: toml's own message includes the offending line, and its
/// description of a wrong value quotes the value. The description is built from the error's
/// kind and what the format expected there.
pub(crate) fn toml_error(shown: &Path, text: &str, e: &toml::de::Error, what: &str) -> String {
    let (span, description) = match toml_edit::ImDocument::parse(text) {
        Err(syntax) => {
            let span = syntax.span().or(e.span());
            let at = span
                .as_ref()
                .and_then(|s| text.get(s.start..))
                .and_then(|rest| rest.chars().next());
            let why = if at.and_then(control_character_message).is_some() {
                " (a control character is not allowed here, not even in a comment)"
            } else if syntax.message().starts_with("duplicate key") {
                " (a key is defined twice)"
            } else {
                ""
            };
            (span, format!("not valid TOML{why}"))
        }
        Ok(_) => (
            e.span(),
            format!("not a valid {what}: {}", shape_error(e.message())),
        ),
    };
    let (line, col) = line_col(text, span.map_or(0, |s| s.start));
    format!("{}:{line}:{col}: {description}", shown.display())
}

/// A description of a serde error message that keeps only what the format supplied: the kind
/// of error, the names it expected and its own description of the expected value; never the
/// key or value found, which come from the file.
fn shape_error(message: &str) -> String {
    // serde's messages put what was expected last: "unknown field `x`, expected one of `a`,
    // `b`", "invalid type: string \"x\", expected u32". The last separator is serde's own,
    // since what follows it comes from the format, never from the file.
    let expected = message
        .rfind(", expected ")
        .map(|i| &message[i + ", expected ".len()..]);
    let names_only = |t: &&str| {
        let t = t.strip_prefix("one of ").unwrap_or(t);
        t.split(", ").all(|n| {
            n.len() > 2
                && n.starts_with('`')
                && n.ends_with('`')
                && n[1..n.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    };
    let with_expected = |kind: &str, expected: Option<&str>| match expected {
        Some(e) => format!("{kind} (expected {})", friendly(e)),
        None => kind.to_owned(),
    };
    let backticked = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
            .filter(|n| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
    };
    if message.starts_with("unknown field") {
        with_expected("unknown field", expected.filter(names_only))
    } else if message.starts_with("unknown variant") {
        with_expected("unknown value", expected.filter(names_only))
    } else if message.starts_with("invalid type") {
        with_expected("wrong type", expected)
    } else if message.starts_with("invalid value") {
        with_expected("invalid value", expected)
    } else if message.starts_with("invalid length") {
        with_expected("wrong number of items", expected)
    } else if let Some(field) = backticked("missing field `") {
        format!("missing field `{field}`")
    } else if let Some(field) = backticked("duplicate field `") {
        format!("field `{field}` is given twice")
    } else if message.starts_with("duration ") {
        // The router's duration parser (see `failover_router::duration::parse`).
        "not a valid duration: write a number and a unit, e.g. \"30s\", \"250ms\" or \"6m30s\""
            .to_owned()
    } else if message.starts_with("invalid country code") {
        "not a valid country code: use a two-letter ISO 3166-1 alpha-2 code such as \"DE\""
            .to_owned()
    } else {
        "invalid value".to_owned()
    }
}

/// Rust type names as a reader of the file knows them.
fn friendly(expected: &str) -> &str {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number >= 0",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        other => other,
    }
}

/// 1-based line and column of field `field` (0-based) of the CSV record at byte `start` of
/// `text`, past leading blanks (the readers trim fields). The csv crate's own record positions
/// count records, not the blank lines it skips (rust-csv#208), so lines are counted here from
/// the record's byte offset; that offset is where the previous record ended, before the blank
/// lines, which are skipped here too.
pub(crate) fn csv_field_at(text: &str, start: u64, field: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut at = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
        at += 1;
    }
    let mut quoted = false;
    let mut seen = 0;
    while seen < field && at < bytes.len() {
        match bytes[at] {
            b'"' => quoted = !quoted,
            b',' if !quoted => seen += 1,
            _ => {}
        }
        at += 1;
    }
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t') {
        at += 1;
    }
    line_col(text, at)
}

/// `file:line:col: message` for an error of the csv reader, never quoting the file.
pub(crate) fn csv_error(shown: &Path, text: &str, e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let (line, col) = csv_field_at(text, pos.as_ref().map_or(0, |p| p.byte()), 0);
            format!(
                "{}:{line}:{col}: this row has {len} fields, the header {expected_len}",
                shown.display()
            )
        }
        _ => format!("{}: not a valid CSV file", shown.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(test: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("failover-lab-files-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn limits_are_the_documented_ones() {
        assert_eq!(FileKind::Policy.limit(), 1024 * 1024);
        assert_eq!(FileKind::Trace.limit(), 64 * 1024 * 1024);
        assert_eq!(FileKind::Samples.limit(), 64 * 1024 * 1024);
        assert_eq!(size_text(MAX_POLICY_FILE_BYTES), "1 MiB");
        assert_eq!(size_text(MAX_CSV_FILE_BYTES), "64 MiB");
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_read_within_the_limit() {
        let d = dir("regular");
        let rules = FileRules::new(&d);
        std::fs::write(d.join("ok.toml"), "max_attempts = 2\n").unwrap();
        let (path, text) = rules
            .read_text(FileKind::Policy, Path::new("ok.toml"))
            .unwrap();
        assert_eq!(
            (path, text.as_str()),
            (d.join("ok.toml"), "max_attempts = 2\n")
        );
        let err = |written: &str| {
            rules
                .read_text(FileKind::Policy, Path::new(written))
                .unwrap_err()
        };
        std::fs::create_dir(d.join("sub")).unwrap();
        assert!(
            err("sub").contains("is a directory, not a regular file"),
            "{}",
            err("sub")
        );
        assert!(
            err("/dev/null").contains("a character device"),
            "{}",
            err("/dev/null")
        );
        assert!(
            err("missing.toml").starts_with("cannot read"),
            "{}",
            err("missing.toml")
        );
        let status = std::process::Command::new("mkfifo")
            .arg(d.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        assert!(err("fifo").contains("a FIFO (named pipe), not a regular file"));
        std::os::unix::fs::symlink("/dev/zero", d.join("zero")).unwrap();
        assert!(
            err("zero").contains("a character device"),
            "{}",
            err("zero")
        );
        // One byte over the limit; at the limit.
        let f = File::create(d.join("big.toml")).unwrap();
        f.set_len(MAX_POLICY_FILE_BYTES + 1).unwrap();
        assert!(
            err("big.toml").contains("larger than 1 MiB"),
            "{}",
            err("big.toml")
        );
        f.set_len(MAX_POLICY_FILE_BYTES).unwrap();
        let (_, bytes) = rules
            .read_bytes(FileKind::Policy, Path::new("big.toml"))
            .unwrap();
        assert_eq!(bytes.len() as u64, MAX_POLICY_FILE_BYTES);
        // Sizes the file system does not know are found by reading.
        let (_, environ) = rules
            .read_bytes(FileKind::Policy, Path::new("/proc/self/environ"))
            .unwrap();
        assert!(environ.len() as u64 <= MAX_POLICY_FILE_BYTES);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn invalid_utf8_is_located_not_quoted() {
        let d = dir("utf8");
        std::fs::write(d.join("p.toml"), b"a = 1\nb = \"s\xc3\xa9cr\xffet\"\n").unwrap();
        let e = FileRules::new(&d)
            .read_text(FileKind::Policy, Path::new("p.toml"))
            .unwrap_err();
        assert!(e.ends_with("p.toml:2:10: not UTF-8 text (the first invalid byte is here): save the policy file (TOML) as UTF-8"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn strict_paths_stay_inside_the_scenario_directory() {
        let d = dir("strict");
        std::fs::create_dir_all(d.join("s/x")).unwrap();
        std::fs::write(d.join("out.csv"), "1\n").unwrap();
        std::fs::write(d.join("s/in.csv"), "1\n").unwrap();
        std::os::unix::fs::symlink(d.join("out.csv"), d.join("s/link.csv")).unwrap();
        std::os::unix::fs::symlink("in.csv", d.join("s/inner-link.csv")).unwrap();
        let base = d.join("s");
        let (lax, strict) = (FileRules::new(&base), FileRules::strict(&base));
        for ok in ["in.csv", "./in.csv", "inner-link.csv"] {
            strict.read_text(FileKind::Samples, Path::new(ok)).unwrap();
        }
        let out = d.join("out.csv");
        for (written, why) in [
            ("../out.csv", "a path with `..`"),
            ("x/../in.csv", "a path with `..`"),
            (out.to_str().unwrap(), "an absolute path"),
            ("link.csv", "leads outside the scenario's directory"),
        ] {
            lax.read_text(FileKind::Samples, Path::new(written))
                .unwrap();
            let e = strict
                .read_text(FileKind::Samples, Path::new(written))
                .unwrap_err();
            assert!(
                e.contains(why) && e.contains("--strict-paths"),
                "{written}: {e}"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn policy_error(text: &str) -> String {
        let e = toml::from_str::<failover_router::policy::Policy>(text).unwrap_err();
        toml_error(Path::new("p.toml"), text, &e, "policy")
    }

    #[test]
    fn toml_errors_say_what_was_expected_without_quoting() {
        for (text, expect) in [
            (
                "max_attempts = 2\nSECRET = 1\n",
                "p.toml:2:1: not a valid policy: unknown field (expected one of `strategy`, \
                 `max_attempts`,",
            ),
            (
                "max_attempts = \"SECRET\"\n",
                "p.toml:1:16: not a valid policy: wrong type (expected a whole number >= 0)",
            ),
            (
                "strategy = \"SECRET\"\n",
                "p.toml:1:12: not a valid policy: unknown value (expected one of `priority`, \
                 `weighted`, `score`, `thompson`)",
            ),
            (
                "deadline = \"1 SECRET\"\n",
                "p.toml:1:12: not a valid policy: not a valid duration",
            ),
            ("SECRET", "p.toml:1:7: not valid TOML"),
            (
                "a = 1\na = 2 # SECRET\n",
                "p.toml:2:1: not valid TOML (a key is defined twice)",
            ),
            (
                "# SECRET \u{7} SECRET\n",
                "p.toml:1:10: not valid TOML (a control character",
            ),
            // A key that looks like serde's separator is still not quoted.
            (
                "\"SECRET, expected `x`\" = 1\n",
                "p.toml:1:1: not a valid policy: unknown field (expected one of",
            ),
        ] {
            let e = policy_error(text);
            assert!(e.starts_with(expect), "{text:?}: {e}");
            assert!(!e.contains("SECRET") && !e.contains("`x`"), "{text:?}: {e}");
        }
    }

    #[test]
    fn csv_positions_count_physical_lines() {
        let text = "a,b,c\n\n\n1, 2 ,\"x,\ny\",4\n";
        let start = text.find('1').unwrap() as u64;
        assert_eq!(csv_field_at(text, start, 0), (4, 1));
        assert_eq!(csv_field_at(text, start, 1), (4, 4));
        assert_eq!(csv_field_at(text, start, 2), (4, 7));
        assert_eq!(csv_field_at(text, start, 3), (5, 4));
        assert_eq!(csv_field_at(text, start, 9), (6, 1));
        // From where the previous record ended, as the csv crate reports a record's position.
        let end_of_header = text.find('\n').unwrap() as u64;
        assert_eq!(csv_field_at(text, end_of_header, 1), (4, 4));
    }
}
