//! The loader's fuzz target, on stable Rust: generated inputs through what `failover-lab
//! validate` does with a file (parse, referenced files, validation, the gate's checks, located
//! diagnostics, policy warnings, the work estimate), as `cli/load.rs` does it.
//!
//! Inputs are the library's scenario files under token-level and line-level mutations (values
//! swapped or replaced by extreme numbers, NaN, huge durations and rates, control characters,
//! dangling names, long strings; lines and tables duplicated, deleted or borrowed from another
//! file; bytes flipped; deep nesting; truncation), soups of TOML tokens, and raw bytes. Each
//! input must load or fail with diagnostics that are non-empty and located (`s.toml:L:C:`),
//! never panic, never take longer than a watchdog's limit, and never hold more than
//! [`INPUT_MEMORY_CAP`] bytes at once; a scenario that loads must also read back equal from the
//! TOML it writes.
//!
//! Case `i` is generated from (seed, `i`) alone, so any case can be regenerated from its number:
//! the watchdog and the allocation cap report the offending input that way, and a failing case
//! is shrunk by proptest to a minimal one. `cargo test` runs [`QUICK_CASES`]; the long mode is
//! an ignored test for a nightly job (README, "Fuzzing"):
//!
//! ```text
//! FUZZ_CASES=10000000 cargo test --release --test lab -- --ignored fuzz_loader --nocapture
//! ```
//!
//! `FUZZ_THREADS` (default: every core), `FUZZ_SEED` (default 0), `FUZZ_START` (the first
//! case, default 0: a run can be split into ranges or resumed where a stopped one got to) and
//! `FUZZ_HANG_SECS` (the watchdog's limit per input, default 10) tune it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use failover_lab::experiment::estimate::Work;
use failover_lab::experiment::gate::GateChecks;
use failover_lab::scenario::{
    CompiledScenario, Diagnostic, FileRules, Scenario, ScenarioError, diagnose,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Cases `cargo test` runs: a few seconds in a dev build.
pub const QUICK_CASES: u64 = 10_000;

/// Most bytes one input may hold allocated at once while it is loaded. The library's largest
/// scenario needs under a megabyte; an input that needs 256 MiB is a blow-up.
pub const INPUT_MEMORY_CAP: usize = 256 << 20;

// ---- The allocation cap ---------------------------------------------------------------------

/// The test binary's allocator: the system's, counting what a fuzzing thread holds while it
/// loads one input (armed), and stopping the process with the input's case number when that
/// passes [`INPUT_MEMORY_CAP`]. Unarmed threads (every other test) pay one thread-local read.
pub struct CappedAlloc;

#[global_allocator]
static ALLOCATOR: CappedAlloc = CappedAlloc;

thread_local! {
    /// The case this thread is loading, plus one (0: not armed).
    static ARMED_CASE: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Counts `delta` bytes against the armed case; past the cap, reports it and aborts.
fn track(delta: isize) {
    let case = ARMED_CASE.with(Cell::get);
    if case == 0 {
        return;
    }
    let live = LIVE.with(Cell::get) + delta;
    LIVE.with(|l| l.set(live));
    if live > PEAK.with(Cell::get) {
        PEAK.with(|p| p.set(live));
    }
    if live > INPUT_MEMORY_CAP as isize {
        // Disarmed, this thread allocates untracked: the report may format and write.
        ARMED_CASE.with(|a| a.set(0));
        report_and_abort(
            &format!("holds {live} bytes, over the cap of {INPUT_MEMORY_CAP}"),
            case - 1,
        );
    }
}

unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Arms the cap for `case` on this thread; the guard disarms it and returns the peak.
struct Armed;

impl Armed {
    fn new(case: u64) -> Armed {
        LIVE.with(|l| l.set(0));
        PEAK.with(|p| p.set(0));
        ARMED_CASE.with(|a| a.set(case + 1));
        Armed
    }

    fn peak(&self) -> usize {
        PEAK.with(Cell::get).max(0) as usize
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED_CASE.with(|a| a.set(0));
    }
}

// ---- Inputs ---------------------------------------------------------------------------------

/// One generated input: a scenario text and the directory its references resolve against.
#[derive(Clone)]
pub struct Input {
    pub text: String,
    pub base: PathBuf,
    pub strict_paths: bool,
    /// How it was made, for reports.
    pub origin: String,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (base {}, strict paths {}):\n{:?}",
            self.origin,
            self.base.display(),
            self.strict_paths,
            self.text
        )
    }
}

/// A file of the corpus: a library scenario (or policy file, as a donor of lines).
struct CorpusFile {
    name: String,
    text: String,
    base: PathBuf,
}

fn corpus() -> &'static [CorpusFile] {
    static CORPUS: OnceLock<Vec<CorpusFile>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut files = Vec::new();
        for dir in [
            "scenarios",
            "scenarios/ci",
            "scenarios/bench",
            "scenarios/policies",
        ] {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                let name = p.display().to_string();
                let mut text = std::fs::read_to_string(&p).unwrap();
                // Comment lines only make an input slower to parse: two files keep theirs
                // (comments are where control characters used to hide).
                if !matches!(
                    name.as_str(),
                    "scenarios/demo.toml" | "scenarios/ci/outage.toml"
                ) {
                    text = text
                        .lines()
                        .filter(|l| !l.trim_start().starts_with('#'))
                        .map(|l| format!("{l}\n"))
                        .collect();
                }
                files.push(CorpusFile {
                    name,
                    text,
                    base: PathBuf::from(dir),
                });
            }
        }
        files.push(CorpusFile {
            name: "tests/lab/world.rs scenario".into(),
            text: crate::world::scenario(
                "1m",
                "10/s",
                "[policies.default]\n[policies.fast]\nattempt_timeout = \"3s\"\n\
                 [[faults]]\nkind = \"flapping\"\nperiod = \"10s\"\nstart = \"10s\"\n\
                 [faults.target]\nprovider = \"a\"\n",
            ),
            base: PathBuf::from("."),
        });
        files
    })
}

/// Every non-comment line of the corpus: donors for [`Mutation::DonorLine`].
fn donor_lines() -> &'static [&'static str] {
    static LINES: OnceLock<Vec<&'static str>> = OnceLock::new();
    LINES.get_or_init(|| {
        corpus()
            .iter()
            .flat_map(|f| f.text.lines())
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect()
    })
}

/// Values that sit on, just past or far beyond a bound, or have the wrong type.
const INTERESTING: &[&str] = &[
    "0",
    "-0.0",
    "1",
    "-1",
    "0.5",
    "1.0000001",
    "1000",
    "1000.0001",
    "1000000",
    "1000001",
    "1e300",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "5e-324",
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "0x7fffffffffffffff",
    "true",
    "[]",
    "{}",
    "[1, \"a\"]",
    "1979-05-27T07:32:00Z",
    "\"\"",
    "\" \"",
    "\"\\u0000\"",
    "\"\\u001b[31mred\"",
    "\"zz\"",
    "\"DE\"",
    "\"XX\"",
    "\"0s\"",
    "\"1ns\"",
    "\"1us\"",
    "\"0.000001us\"",
    "\"999999999s\"",
    "\"1000000000s\"",
    "\"1000000001s\"",
    "\"1e9s\"",
    "\"1e300s\"",
    "\"nan s\"",
    "\"inf s\"",
    "\"-1s\"",
    "\"1h30m\"",
    "\"6m30s\"",
    "\"30s1h\"",
    "\"1h1h\"",
    "\"24h\"",
    "\"23h59m59s\"",
    "\"10d\"",
    "\"0/s\"",
    "\"-1/s\"",
    "\"1/s\"",
    "\"1000000/s\"",
    "\"1000001/s\"",
    "\"1e300/s\"",
    "\"nan/s\"",
    "\"inf/s\"",
    "\"1/d\"",
    "\"50\"",
    "\"50/w\"",
    "\">= 0.995\"",
    "\"< 1e308s\"",
    "\"== nan\"",
    "\"5%\"",
    "\"0.1pp\"",
    "\"off\"",
    "\"mobile\"",
    "\"voip\"",
    "\"outage\"",
    "\"black_hole\"",
    "\"lognormal\"",
    "\"pareto\"",
    "\"mixture\"",
    "\"empirical\"",
    "\"/dev/zero\"",
    "\"/proc/self/environ\"",
    "\"/etc/passwd\"",
    "\".\"",
    "\"..\"",
    "\"policies\"",
    "\"policies/aggressive.toml\"",
    "\"../policies/conservative.toml\"",
    "\"demo.toml\"",
    "{ kind = \"pareto\", scale = \"1us\", shape = 1e-300 }",
    "{ kind = \"pareto\", scale = \"999999999s\", shape = 0.01 }",
    "{ kind = \"lognormal\", median = \"1us\", sigma = 1e300 }",
    "{ kind = \"lognormal\", median = \"999999999s\", p99 = \"1000000000s\" }",
    "{ kind = \"gamma\", shape = 1e300, scale = \"999999999s\" }",
    "{ kind = \"gamma\", shape = 1e-300, scale = \"1us\" }",
    "{ kind = \"weibull\", shape = 1e-300, scale = \"999999999s\" }",
    "{ kind = \"weibull\", shape = 1e300, scale = \"1us\" }",
    "{ kind = \"normal\", mean = \"0s\", std_dev = \"999999999s\" }",
    "{ kind = \"uniform\", min = \"0s\", max = \"1000000000s\" }",
    "{ kind = \"exponential\", mean = \"1000000000s\" }",
    "{ kind = \"mixture\", components = [{ weight = 1e308, dist = { kind = \"constant\", value = \"1s\" } }, { weight = 1e308, dist = { kind = \"constant\", value = \"2s\" } }] }",
    "{ kind = \"mixture\", components = [] }",
    "{ kind = \"empirical\", samples = [] }",
    "{ kind = \"empirical\", samples = [\"0s\", \"1000000000s\"] }",
    "{ kind = \"empirical\", csv = \"/dev/zero\" }",
    "{ kind = \"empirical\", csv = \"/etc/passwd\" }",
];

/// A piece of TOML for token soups.
const SOUP: &[&str] = &[
    "format_version = 1\n",
    "name = \"x\"\n",
    "duration = \"10s\"\n",
    "[[regions]]\n",
    "[[countries]]\n",
    "[[carriers]]\n",
    "[[providers]]\n",
    "[[router.routes]]\n",
    "[[faults]]\n",
    "[faults.target]\n",
    "[traffic]\n",
    "[policies.p]\n",
    "[policies.p.trip]\n",
    "[[policies.p.overrides]]\n",
    "[experiment]\n",
    "[[expect]]\n",
    "[a.b.c]\n",
    "[[a]]\n",
    "\n",
    "# c\n",
    " = ",
    "=",
    ".",
    ",",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\\",
    "\r\n",
    "\r",
    "\t",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
    "é",
    "kind",
    "rate",
    "mix",
    "latency",
    "provider",
    "country",
    "share",
    "weight",
    "start",
    "end",
    "cost",
];

/// One change to a text, by positions taken modulo what the text has (so that a shrunk list of
/// mutations still applies).
#[derive(Clone, Debug)]
enum Mutation {
    /// Replaces a token by an [`INTERESTING`] one.
    ReplaceToken {
        at: usize,
        with: usize,
    },
    /// Replaces a value (a token after `=`, `,` or `[`) by an [`INTERESTING`] one.
    ReplaceValue {
        at: usize,
        with: usize,
    },
    /// Multiplies a number by `10^exp` (negated with `negate`), keeping it a number.
    Scale {
        at: usize,
        exp: i8,
        negate: bool,
    },
    SwapTokens {
        a: usize,
        b: usize,
    },
    DeleteToken {
        at: usize,
    },
    DuplicateToken {
        at: usize,
    },
    /// A string token replaced by one of `len` characters.
    LongString {
        at: usize,
        len: usize,
    },
    DuplicateLine {
        at: usize,
        to: usize,
    },
    DeleteLine {
        at: usize,
    },
    /// The table (header to the next header) holding line `at`, copied after itself.
    DuplicateTable {
        at: usize,
    },
    /// A line of another corpus file inserted.
    DonorLine {
        from: usize,
        to: usize,
    },
    InsertByte {
        at: usize,
        byte: u8,
    },
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        at: usize,
    },
    /// `depth` nested arrays or inline tables inserted as a value.
    Nest {
        at: usize,
        depth: usize,
        table: bool,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>;
    prop_oneof![
        2 => (pos(), 0..INTERESTING.len()).prop_map(|(at, with)| Mutation::ReplaceToken { at, with }),
        8 => (pos(), 0..INTERESTING.len()).prop_map(|(at, with)| Mutation::ReplaceValue { at, with }),
        6 => (pos(), -6i8..=6, prop::bool::weighted(0.1))
            .prop_map(|(at, exp, negate)| Mutation::Scale { at, exp, negate }),
        2 => (pos(), pos()).prop_map(|(a, b)| Mutation::SwapTokens { a, b }),
        1 => pos().prop_map(|at| Mutation::DeleteToken { at }),
        1 => pos().prop_map(|at| Mutation::DuplicateToken { at }),
        1 => (pos(), prop::sample::select(&[1usize, 100, 1_000, 10_000, 100_000][..]))
            .prop_map(|(at, len)| Mutation::LongString { at, len }),
        2 => (pos(), pos()).prop_map(|(at, to)| Mutation::DuplicateLine { at, to }),
        2 => pos().prop_map(|at| Mutation::DeleteLine { at }),
        2 => pos().prop_map(|at| Mutation::DuplicateTable { at }),
        3 => (pos(), pos()).prop_map(|(from, to)| Mutation::DonorLine { from, to }),
        1 => (pos(), any::<u8>()).prop_map(|(at, byte)| Mutation::InsertByte { at, byte }),
        1 => (pos(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        1 => pos().prop_map(|at| Mutation::Truncate { at }),
        1 => (pos(), prop::sample::select(&[2usize, 50, 200, 10_000][..]), any::<bool>())
            .prop_map(|(at, depth, table)| Mutation::Nest { at, depth, table }),
    ]
}

/// Byte ranges of the tokens of `text`: quoted strings, runs of word characters (keys,
/// numbers, dates), and single punctuation characters.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || b"_-+.:".contains(&c);
    while i < b.len() {
        let c = b[i];
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.push((start, i));
        } else if word(c) {
            let start = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            out.push((start, i));
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else {
            let start = i;
            i += 1;
            while i < b.len() && !text.is_char_boundary(i) {
                i += 1;
            }
            out.push((start, i));
        }
    }
    out
}

/// The tokens of `text` that are values: after `=`, `,` or `[` (numbers, strings, booleans,
/// inline tables' first token).
fn values(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    tokens(text)
        .into_iter()
        .filter(|&(start, _)| {
            let before = text[..start].trim_end_matches([' ', '\t']);
            before
                .as_bytes()
                .last()
                .is_some_and(|c| matches!(c, b'=' | b',' | b'['))
                && b[start] != b'['
        })
        .collect()
}

/// Byte ranges of the lines of `text`, each with its newline.
fn lines(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.bytes().enumerate() {
        if c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push((start, text.len()));
    }
    out
}

fn char_floor(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn replace(text: &mut String, (start, end): (usize, usize), with: &str) {
    text.replace_range(start..end, with);
}

impl Mutation {
    fn apply(&self, text: &mut String) {
        let len = text.len().max(1);
        match *self {
            Mutation::ReplaceToken { at, with } => {
                let t = tokens(text);
                if !t.is_empty() {
                    replace(text, t[at % t.len()], INTERESTING[with]);
                }
            }
            Mutation::ReplaceValue { at, with } => {
                let v = values(text);
                if !v.is_empty() {
                    replace(text, v[at % v.len()], INTERESTING[with]);
                }
            }
            Mutation::Scale { at, exp, negate } => {
                let numbers: Vec<(usize, usize, f64)> = values(text)
                    .into_iter()
                    .filter_map(|(a, b)| text[a..b].parse::<f64>().ok().map(|x| (a, b, x)))
                    .collect();
                if !numbers.is_empty() {
                    let (a, b, x) = numbers[at % numbers.len()];
                    let y = x * 10f64.powi(i32::from(exp)) * if negate { -1.0 } else { 1.0 };
                    // Integers stay integers where they can (counts, seeds, priorities).
                    let shown = if !text[a..b].contains(['.', 'e', 'E'])
                        && y.fract() == 0.0
                        && y.abs() < 9e15
                    {
                        format!("{}", y as i64)
                    } else {
                        format!("{y:?}")
                    };
                    replace(text, (a, b), &shown);
                }
            }
            Mutation::SwapTokens { a, b } => {
                let t = tokens(text);
                if t.len() >= 2 {
                    let (x, y) = (t[a % t.len()], t[b % t.len()]);
                    let (x, y) = if x.0 <= y.0 { (x, y) } else { (y, x) };
                    if x != y {
                        let (sx, sy) = (text[x.0..x.1].to_owned(), text[y.0..y.1].to_owned());
                        replace(text, y, &sx);
                        replace(text, x, &sy);
                    }
                }
            }
            Mutation::DeleteToken { at } => {
                let t = tokens(text);
                if !t.is_empty() {
                    replace(text, t[at % t.len()], "");
                }
            }
            Mutation::DuplicateToken { at } => {
                let t = tokens(text);
                if !t.is_empty() {
                    let r = t[at % t.len()];
                    let copy = text[r.0..r.1].to_owned();
                    text.insert_str(r.1, &copy);
                }
            }
            Mutation::LongString { at, len } => {
                let t = tokens(text);
                let strings: Vec<_> = t
                    .into_iter()
                    .filter(|r| text.as_bytes()[r.0] == b'"')
                    .collect();
                if !strings.is_empty() {
                    let long = format!("\"{}\"", "ab".repeat(len / 2 + 1));
                    replace(text, strings[at % strings.len()], &long);
                }
            }
            Mutation::DuplicateLine { at, to } => {
                let l = lines(text);
                if !l.is_empty() {
                    let r = l[at % l.len()];
                    let copy = text[r.0..r.1].to_owned();
                    let dest = l[to % l.len()].0;
                    text.insert_str(dest, &copy);
                }
            }
            Mutation::DeleteLine { at } => {
                let l = lines(text);
                if !l.is_empty() {
                    replace(text, l[at % l.len()], "");
                }
            }
            Mutation::DuplicateTable { at } => {
                let l = lines(text);
                if !l.is_empty() {
                    let is_header =
                        |r: &(usize, usize)| text[r.0..r.1].trim_start().starts_with('[');
                    let k = at % l.len();
                    let start = (0..=k).rev().find(|&i| is_header(&l[i])).unwrap_or(0);
                    let end = (k + 1..l.len())
                        .find(|&i| is_header(&l[i]))
                        .unwrap_or(l.len());
                    let (from, to) = (l[start].0, l[end - 1].1);
                    let mut copy = text[from..to].to_owned();
                    if !copy.ends_with('\n') {
                        copy.insert(0, '\n');
                    }
                    text.insert_str(to, &copy);
                }
            }
            Mutation::DonorLine { from, to } => {
                let donors = donor_lines();
                let l = lines(text);
                let dest = if l.is_empty() { 0 } else { l[to % l.len()].0 };
                text.insert_str(dest, &format!("{}\n", donors[from % donors.len()]));
            }
            Mutation::InsertByte { at, byte } => {
                let i = char_floor(text, at % len);
                text.insert(i, char::from(byte));
            }
            Mutation::FlipBit { at, bit } => {
                let i = char_floor(text, at % len);
                if i < text.len() {
                    let mut bytes = std::mem::take(text).into_bytes();
                    bytes[i] ^= 1 << bit;
                    *text = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
            Mutation::Truncate { at } => {
                let i = char_floor(text, at % len);
                text.truncate(i);
            }
            Mutation::Nest { at, depth, table } => {
                let t = tokens(text);
                if !t.is_empty() {
                    let nested = if table {
                        format!("{}1{}", "{ a = ".repeat(depth), " }".repeat(depth))
                    } else {
                        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
                    };
                    replace(text, t[at % t.len()], &nested);
                }
            }
        }
    }
}

/// Inputs: mostly mutated corpus files, some token soups and raw bytes.
pub fn input() -> impl Strategy<Value = Input> {
    let files = corpus().len();
    let mutated = (
        0..files,
        prop::collection::vec(mutation(), 1..5),
        any::<bool>(),
    )
        .prop_map(|(file, mutations, strict_paths)| {
            let f = &corpus()[file];
            let mut text = f.text.clone();
            for m in &mutations {
                m.apply(&mut text);
            }
            Input {
                text,
                base: f.base.clone(),
                strict_paths,
                origin: format!("{} with {mutations:?}", f.name),
            }
        });
    let soup = prop::collection::vec(prop::sample::select(SOUP), 0..64).prop_map(|parts| Input {
        text: parts.concat(),
        base: PathBuf::from("scenarios"),
        strict_paths: false,
        origin: "token soup".into(),
    });
    let bytes = prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| Input {
        text: String::from_utf8_lossy(&b).into_owned(),
        base: PathBuf::from("scenarios"),
        strict_paths: false,
        origin: "bytes".into(),
    });
    prop_oneof![16 => mutated, 2 => soup, 1 => bytes]
}

// ---- The loader -----------------------------------------------------------------------------

/// What `failover-lab validate` does with a file (`cli/load.rs`, which a test cannot import):
/// the scenario and its compiled form, or every diagnostic, located in `s.toml`.
pub fn load(
    text: &str,
    files: FileRules<'_>,
) -> Result<(Scenario, CompiledScenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    let path = Path::new("s.toml");
    let fail = |e: ScenarioError| diagnose(path, text, &e);
    let scenario = match Scenario::from_toml_str_with(text, files) {
        Ok(s) => s,
        Err(ScenarioError::Invalid(mut problems)) => {
            if let Ok(raw) = toml::from_str::<Scenario>(text) {
                problems
                    .0
                    .extend(GateChecks::from_scenario(&raw).err().unwrap_or_default().0);
            }
            return Err(fail(ScenarioError::Invalid(problems)));
        }
        Err(e) => return Err(fail(e)),
    };
    GateChecks::from_scenario(&scenario).map_err(|p| fail(ScenarioError::Invalid(p)))?;
    let world = scenario.compile_with(files).map_err(fail)?;
    let warnings = if world.warnings.is_empty() {
        Vec::new()
    } else {
        diagnose(path, text, &ScenarioError::Invalid(world.warnings.clone()))
    };
    Ok((scenario, world, warnings))
}

/// What one input did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Loaded,
    Refused,
}

/// `s.toml:<line>:<col>: <message>` with a non-empty message.
fn check_diagnostic(d: &Diagnostic, text: &str) -> Result<(), TestCaseError> {
    let shown = d.to_string();
    prop_assert!(!d.message.trim().is_empty(), "empty message: {shown:?}");
    let (Some(line), Some(col)) = (d.line, d.column) else {
        return Err(TestCaseError::fail(format!("not located: {shown:?}")));
    };
    prop_assert!(
        shown.starts_with(&format!("s.toml:{line}:{col}: ")),
        "{shown:?}"
    );
    prop_assert!(
        line >= 1 && line <= text.split('\n').count().max(1) && col >= 1,
        "position {line}:{col} is outside the text: {shown:?}"
    );
    // Referenced files are never quoted (scenario/files.rs).
    prop_assert!(
        !shown.contains("root:x:0:0"),
        "quotes /etc/passwd: {shown:?}"
    );
    Ok(())
}

/// Loads `input` and checks what came out: located diagnostics, or a scenario that reads back
/// equal from the TOML it writes and whose work can be estimated.
pub fn check(input: &Input) -> Result<Verdict, TestCaseError> {
    let files = FileRules {
        base_dir: &input.base,
        strict_paths: input.strict_paths,
    };
    match load(&input.text, files) {
        Err(diagnostics) => {
            prop_assert!(!diagnostics.is_empty(), "refused without a diagnostic");
            for d in &diagnostics {
                check_diagnostic(d, &input.text)?;
            }
            Ok(Verdict::Refused)
        }
        Ok((scenario, world, warnings)) => {
            for d in &warnings {
                check_diagnostic(d, &input.text)?;
            }
            let work = Work::of(&world);
            prop_assert!(
                work.verifications >= 0.0 && !work.verifications.is_nan(),
                "{work:?}"
            );
            let written = scenario
                .to_toml_string()
                .map_err(|e| TestCaseError::fail(format!("cannot write it back: {e}")))?;
            match Scenario::from_toml_str_with(&written, files) {
                Ok(back) => prop_assert_eq!(back, scenario, "written as:\n{}", written),
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "does not read back ({e}); written as:\n{written}"
                    )));
                }
            }
            Ok(Verdict::Loaded)
        }
    }
}

// ---- The harness ----------------------------------------------------------------------------

fn case_rng(seed: u64, case: u64) -> TestRng {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..].copy_from_slice(&case.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::XorShift, &bytes)
}

fn runner(seed: u64, case: u64) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            max_shrink_iters: 2_000,
            ..Config::default()
        },
        case_rng(seed, case),
    )
}

/// Case `case` of the run seeded with `seed`: the same input whatever the thread or order.
pub fn generate(seed: u64, case: u64) -> Input {
    let mut runner = runner(seed, case);
    input()
        .new_tree(&mut runner)
        .expect("the input strategy never rejects")
        .current()
}

static RUN_SEED: AtomicU64 = AtomicU64::new(0);

/// Writes case `case` to a file, prints where and why, and stops the process: for failures a
/// test cannot recover from (a hang, an allocation blow-up).
fn report_and_abort(why: &str, case: u64) -> ! {
    let seed = RUN_SEED.load(Ordering::Relaxed);
    let input = generate(seed, case);
    let file = std::env::temp_dir().join(format!("failover-lab-fuzz-{seed}-{case}.toml"));
    let _ = std::fs::write(&file, &input.text);
    let mut shown = format!("{input:?}");
    if shown.len() > 4000 {
        shown.truncate(char_floor(&shown, 4000));
        shown.push_str("...");
    }
    eprintln!(
        "\nfuzz_loader: case {case} (FUZZ_SEED={seed}) {why}; input written to {}\n{shown}",
        file.display()
    );
    std::process::abort();
}

/// What a fuzzing run did.
#[derive(Debug, Default)]
pub struct Stats {
    pub cases: u64,
    pub loaded: u64,
    pub refused: u64,
    pub slowest: Duration,
    pub slowest_case: u64,
    pub peak_bytes: usize,
    pub peak_case: u64,
    pub wall: Duration,
}

/// Runs cases `cases` (e.g. `0..10_000_000`) on `threads` threads under the watchdog (`hang`
/// per input) and the allocation cap; the first failing case is shrunk and returned as an
/// error. With `progress`, prints every minute how far it got and what it found so far (every
/// case below the count printed has passed), so a run can be split or resumed.
pub fn fuzz(
    seed: u64,
    cases: std::ops::Range<u64>,
    threads: usize,
    hang: Duration,
    progress: bool,
) -> Result<Stats, String> {
    corpus();
    donor_lines();
    RUN_SEED.store(seed, Ordering::Relaxed);
    let started = Instant::now();
    let next = AtomicU64::new(cases.start);
    let done = AtomicUsize::new(0);
    // Running totals for the progress lines: loaded, refused, slowest (ns), largest peak.
    let so_far: [AtomicU64; 4] = Default::default();
    // Per thread: the case it is loading plus one (0: idle), and when it started (ns since
    // `started`).
    let slots: Vec<(AtomicU64, AtomicU64)> = (0..threads)
        .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
        .collect();
    let failure: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let results: Vec<Stats> = std::thread::scope(|scope| {
        let watchdog = scope.spawn(|| {
            let mut shown = Instant::now();
            while done.load(Ordering::Relaxed) < threads {
                std::thread::sleep(Duration::from_millis(50));
                if progress && shown.elapsed() >= Duration::from_secs(60) {
                    shown = Instant::now();
                    // Cases below the oldest one in flight have all passed.
                    let in_flight = slots
                        .iter()
                        .map(|(c, _)| c.load(Ordering::Acquire))
                        .filter(|&c| c != 0)
                        .map(|c| c - 1)
                        .min();
                    let passed = in_flight
                        .unwrap_or(next.load(Ordering::Relaxed))
                        .min(cases.end);
                    let [loaded, refused, slowest, peak] =
                        so_far.each_ref().map(|a| a.load(Ordering::Relaxed));
                    eprintln!(
                        "fuzz_loader: cases {}..{passed} passed ({loaded} loaded, {refused} \
                         refused, slowest {:.1} ms, largest peak {:.1} MiB) after {:.0} s",
                        cases.start,
                        slowest as f64 / 1e6,
                        peak as f64 / (1 << 20) as f64,
                        started.elapsed().as_secs_f64()
                    );
                }
                let now = started.elapsed().as_nanos() as u64;
                for (case, since) in &slots {
                    let c = case.load(Ordering::Acquire);
                    let s = since.load(Ordering::Acquire);
                    if c != 0
                        && now.saturating_sub(s) > hang.as_nanos() as u64
                        && case.load(Ordering::Acquire) == c
                    {
                        report_and_abort(&format!("did not finish within {hang:?}"), c - 1);
                    }
                }
            }
        });
        let workers: Vec<_> = slots
            .iter()
            .map(|(slot_case, slot_since)| {
                let (next, failure, done, so_far, cases) =
                    (&next, &failure, &done, &so_far, cases.clone());
                scope.spawn(move || {
                    let mut stats = Stats::default();
                    let strategy = input();
                    loop {
                        let case = next.fetch_add(1, Ordering::Relaxed);
                        if case >= cases.end || failure.lock().unwrap().is_some() {
                            break;
                        }
                        let mut runner = runner(seed, case);
                        let tree = strategy.new_tree(&mut runner).expect("never rejects");
                        let value = tree.current();
                        slot_since.store(started.elapsed().as_nanos() as u64, Ordering::Release);
                        slot_case.store(case + 1, Ordering::Release);
                        let t0 = Instant::now();
                        let armed = Armed::new(case);
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                check(&value)
                            }));
                        let peak = armed.peak();
                        drop(armed);
                        let took = t0.elapsed();
                        slot_case.store(0, Ordering::Release);
                        match outcome {
                            Ok(Ok(v)) => {
                                so_far[usize::from(v == Verdict::Refused)]
                                    .fetch_add(1, Ordering::Relaxed);
                                so_far[2].fetch_max(took.as_nanos() as u64, Ordering::Relaxed);
                                so_far[3].fetch_max(peak as u64, Ordering::Relaxed);
                                stats.cases += 1;
                                match v {
                                    Verdict::Loaded => stats.loaded += 1,
                                    Verdict::Refused => stats.refused += 1,
                                }
                                if took > stats.slowest {
                                    (stats.slowest, stats.slowest_case) = (took, case);
                                }
                                if peak > stats.peak_bytes {
                                    (stats.peak_bytes, stats.peak_case) = (peak, case);
                                }
                            }
                            _ => {
                                // Shrink to a minimal failing input (panics included).
                                let minimal = match runner.run_one(tree, |i| check(&i).map(|_| ()))
                                {
                                    Err(TestError::Fail(why, minimal)) => {
                                        format!("{why}\nminimal input: {minimal:?}")
                                    }
                                    other => format!("{other:?} (did not fail again)"),
                                };
                                *failure.lock().unwrap() = Some(format!(
                                    "case {case} (FUZZ_SEED={seed}) failed: {minimal}\n\
                                     generated input: {value:?}"
                                ));
                                break;
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    stats
                })
            })
            .collect();
        let out = workers.into_iter().map(|w| w.join().unwrap()).collect();
        watchdog.join().unwrap();
        out
    });
    if let Some(f) = failure.into_inner().unwrap() {
        return Err(f);
    }
    let mut total = Stats {
        wall: started.elapsed(),
        ..Stats::default()
    };
    for s in results {
        total.cases += s.cases;
        total.loaded += s.loaded;
        total.refused += s.refused;
        if s.slowest > total.slowest {
            (total.slowest, total.slowest_case) = (s.slowest, s.slowest_case);
        }
        if s.peak_bytes > total.peak_bytes {
            (total.peak_bytes, total.peak_case) = (s.peak_bytes, s.peak_case);
        }
    }
    Ok(total)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn summary(stats: &Stats) -> String {
    format!(
        "{} inputs in {:.1} s ({:.0}/s): {} loaded, {} refused; slowest input {:.1} ms (case {}), \
         largest peak {:.1} MiB (case {})",
        stats.cases,
        stats.wall.as_secs_f64(),
        stats.cases as f64 / stats.wall.as_secs_f64().max(1e-9),
        stats.loaded,
        stats.refused,
        stats.slowest.as_secs_f64() * 1e3,
        stats.slowest_case,
        stats.peak_bytes as f64 / (1 << 20) as f64,
        stats.peak_case,
    )
}

/// `cargo test`: a fixed seed and [`QUICK_CASES`] cases, so CI never flakes.
#[test]
fn fuzz_loader_quick() {
    let stats = fuzz(0, 0..QUICK_CASES, 1, Duration::from_secs(30), false)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("fuzz_loader_quick: {}", summary(&stats));
    assert_eq!(stats.cases, QUICK_CASES);
    // The mutations keep a share of inputs valid, so the loaded path is exercised too.
    assert!(stats.loaded > 0 && stats.refused > 0, "{stats:?}");
}

/// The long mode for a nightly job: `FUZZ_CASES` inputs (default 10 million) on `FUZZ_THREADS`
/// threads.
#[test]
#[ignore = "long: FUZZ_CASES=10000000 cargo test --release --test lab -- --ignored fuzz_loader"]
fn fuzz_loader() {
    let cases = env_or("FUZZ_CASES", 10_000_000u64);
    let start = env_or("FUZZ_START", 0u64);
    let threads = env_or("FUZZ_THREADS", failover_lab::experiment::default_threads());
    let seed = env_or("FUZZ_SEED", 0u64);
    let hang = Duration::from_secs(env_or("FUZZ_HANG_SECS", 10u64));
    let stats =
        fuzz(seed, start..start + cases, threads, hang, true).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "fuzz_loader (FUZZ_SEED={seed}, cases {start}..{}, {threads} threads): {}",
        start + cases,
        summary(&stats)
    );
    assert_eq!(stats.cases, cases);
}
