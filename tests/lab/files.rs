//! Files a scenario references (`[policies.<name>] file`, `[traffic] trace`, empirical `csv`)
//! end to end: they are data, never secrets. The binary refuses what is not a regular file
//! without blocking, reads a bounded amount, never quotes what it read, and locates every
//! problem; `--strict-paths` keeps references inside the scenario's directory.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::cli::{bin, temp_dir, text};
use crate::world::scenario;

/// Where a test scenario references a file.
#[derive(Clone, Copy, Debug)]
enum Ref {
    Policy,
    Trace,
    Csv,
}

const REFS: [Ref; 3] = [Ref::Policy, Ref::Trace, Ref::Csv];

/// The documented limits (README, "Referenced files"; `scenario::MAX_POLICY_FILE_BYTES` and
/// `MAX_CSV_FILE_BYTES`).
const MAX_POLICY_FILE_BYTES: u64 = 1 << 20;
const MAX_CSV_FILE_BYTES: u64 = 64 << 20;

const RATE_AND_MIX: &str =
    "rate = \"10/s\"\nmix = [{ country = \"DE\", number_type = \"mobile\", weight = 1.0 }]";
const REGION_LATENCY: &str = "latency = { kind = \"constant\", value = \"20ms\" }";

/// A valid scenario whose `r` reference is `file` (written as a TOML basic string).
fn scenario_referencing(r: Ref, file: &str) -> String {
    let file = file.replace('\\', "\\\\").replace('"', "\\\"");
    match r {
        Ref::Policy => scenario("2m", "10/s", &format!("[policies.x]\nfile = \"{file}\"\n")),
        Ref::Trace => scenario("2m", "10/s", "[policies.default]\n")
            .replace(RATE_AND_MIX, &format!("trace = \"{file}\"")),
        Ref::Csv => scenario("2m", "10/s", "[policies.default]\n").replace(
            REGION_LATENCY,
            &format!("latency = {{ kind = \"empirical\", csv = \"{file}\" }}"),
        ),
    }
}

/// Writes the scenario as `dir/s.toml`.
fn write_scenario(dir: &Path, r: Ref, file: &str) -> PathBuf {
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario_referencing(r, file)).unwrap();
    path
}

/// Runs `cmd`, failing if it has not exited within 30 s: a referenced FIFO or endless file
/// must never make the binary hang.
fn output_within(cmd: Command) -> Output {
    crate::cli::output_within(cmd, Duration::from_secs(30))
}

/// `validate` of the scenario at `path`: its exit code and standard error.
fn validate(path: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = bin();
    cmd.arg("validate").args(extra).arg(path);
    let o = output_within(cmd);
    let (out, err) = text(&o);
    (o.status.code(), format!("{out}{err}"))
}

/// Every line of `err` that is not a warning names its file and says something after it.
fn assert_no_empty_message(err: &str) {
    for line in err.lines().filter(|l| !l.trim().is_empty()) {
        let rest = line.rsplit_once(": ").map(|(_, m)| m.trim());
        assert!(
            rest.is_some_and(|m| !m.is_empty() && m.chars().any(char::is_alphanumeric)),
            "a diagnostic without a message: {line:?}"
        );
    }
}

#[test]
fn secret_files_as_references_are_named_never_quoted() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let passwd_lines: Vec<&str> = passwd.lines().filter(|l| l.len() > 4).collect();
    let dir = temp_dir("secrets");
    for r in REFS {
        for file in ["/proc/self/environ", "/etc/passwd"] {
            let path = write_scenario(&dir, r, file);
            let mut cmd = bin();
            cmd.arg("validate")
                .arg(&path)
                .env("FAILOVER_LAB_TEST_SECRET", "hunter2-do-not-print");
            let o = output_within(cmd);
            let (out, err) = text(&o);
            let all = format!("{out}{err}");
            assert_eq!(o.status.code(), Some(2), "{r:?} {file}: {all}");
            assert!(
                all.contains(file),
                "{r:?} {file}: the file is not named: {all}"
            );
            assert!(
                !all.contains("hunter2") && !all.contains("PATH=") && !all.contains("HOME="),
                "{r:?} {file}: the environment leaks: {all}"
            );
            for l in &passwd_lines {
                assert!(!all.contains(l), "{r:?} {file}: /etc/passwd leaks: {all}");
            }
            for field in passwd_lines.iter().flat_map(|l| l.split(':')) {
                if field.len() > 4 && field.starts_with('/') {
                    assert!(!all.contains(field), "{r:?} {file}: {field} leaks: {all}");
                }
            }
            assert!(!all.contains("root:"), "{r:?} {file}: {all}");
            assert_no_empty_message(&all);
            // Located inside the referenced file when it was read.
            let located = format!("{file}:");
            if !(matches!(r, Ref::Csv) && file == "/proc/self/environ") {
                assert!(
                    all.lines().any(|l| {
                        l.split_once(&located).is_some_and(|(_, rest)| {
                            rest.split(':').take(2).all(|n| n.parse::<usize>().is_ok())
                        })
                    }),
                    "{r:?} {file}: no `{file}:line:col:` in {all}"
                );
            }
        }
    }
}

#[test]
fn a_secret_policy_file_is_not_quoted_by_run_either() {
    let dir = temp_dir("secrets-run");
    let path = write_scenario(&dir, Ref::Policy, "/etc/passwd");
    let mut cmd = bin();
    cmd.arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--quiet");
    let o = output_within(cmd);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("/etc/passwd:1:"), "{err}");
    assert!(!err.contains("root"), "{err}");
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn special_files_are_refused_without_blocking() {
    let dir = temp_dir("special");
    mkfifo(&dir.join("fifo"));
    std::fs::create_dir(dir.join("a-dir")).unwrap();
    symlink("/dev/zero", dir.join("zero-link")).unwrap();
    let cases = [
        ("fifo", "FIFO"),
        ("a-dir", "directory"),
        ("/dev/zero", "character device"),
        ("zero-link", "character device"),
    ];
    for r in REFS {
        for (file, kind) in cases {
            let path = write_scenario(&dir, r, file);
            let (code, err) = validate(&path, &[]);
            assert_eq!(code, Some(2), "{r:?} {file}: {err}");
            assert!(
                err.contains(file) && err.contains(kind) && err.contains("not a regular file"),
                "{r:?} {file}: {err}"
            );
            assert_no_empty_message(&err);
        }
    }
}

#[test]
fn files_beyond_the_size_limits_are_refused() {
    let dir = temp_dir("limits");
    // A policy file one byte over its limit, made of comments (valid TOML if it were read).
    let line = format!("# {}\n", "x".repeat(1021));
    let mut big = line.repeat((MAX_POLICY_FILE_BYTES / 1024) as usize);
    big.push('\n');
    assert_eq!(big.len() as u64, MAX_POLICY_FILE_BYTES + 1);
    std::fs::write(dir.join("big.toml"), &big).unwrap();
    let (code, err) = validate(&write_scenario(&dir, Ref::Policy, "big.toml"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("big.toml") && err.contains("1 MiB"), "{err}");
    // Exactly at the limit is fine.
    std::fs::write(dir.join("big.toml"), &big[..big.len() - 1]).unwrap();
    let (code, err) = validate(&write_scenario(&dir, Ref::Policy, "big.toml"), &[]);
    assert_eq!(code, Some(0), "{err}");
    // CSVs: a sparse file over the limit is refused without reading it.
    let f = std::fs::File::create(dir.join("big.csv")).unwrap();
    f.set_len(MAX_CSV_FILE_BYTES + 1).unwrap();
    for r in [Ref::Trace, Ref::Csv] {
        let (code, err) = validate(&write_scenario(&dir, r, "big.csv"), &[]);
        assert_eq!(code, Some(2), "{r:?}: {err}");
        assert!(
            err.contains("big.csv") && err.contains("64 MiB"),
            "{r:?}: {err}"
        );
    }
}

#[test]
fn non_utf8_references_are_located_at_the_first_invalid_byte() {
    let dir = temp_dir("utf8");
    std::fs::write(dir.join("p.toml"), b"max_attempts = 3\n# caf\xe9 \xff\n").unwrap();
    std::fs::write(
        dir.join("t.csv"),
        b"t_seconds,country,number_type\n1,DE,mob\xffile\n",
    )
    .unwrap();
    std::fs::write(dir.join("l.csv"), b"seconds\n0.5\n 1\xc3\n").unwrap();
    for (r, file, at) in [
        (Ref::Policy, "p.toml", "p.toml:2:6:"),
        (Ref::Trace, "t.csv", "t.csv:2:9:"),
        (Ref::Csv, "l.csv", "l.csv:3:3:"),
    ] {
        let (code, err) = validate(&write_scenario(&dir, r, file), &[]);
        assert_eq!(code, Some(2), "{r:?}: {err}");
        assert!(err.contains(at) && err.contains("UTF-8"), "{r:?}: {err}");
        assert!(!err.contains("caf") && !err.contains("mob"), "{r:?}: {err}");
    }
}

#[test]
fn bad_policy_files_are_located_with_what_was_expected_never_quoted() {
    let dir = temp_dir("policy-errors");
    let cases = [
        (
            "max_attempts = 3\n\nmax_atempts_SECRET = 3\n",
            "p.toml:3:1: not a valid policy: unknown field (expected one of",
        ),
        (
            "max_attempts = \"SECRET\"\n",
            "p.toml:1:16: not a valid policy: wrong type (expected",
        ),
        (
            "attempt_timeout = \"10 SECRETs\"\n",
            "p.toml:1:19: not a valid policy: not a valid duration",
        ),
        (
            "strategy = \"SECRET\"\n",
            "p.toml:1:12: not a valid policy: unknown value (expected one of",
        ),
        ("[SECRET\n", "p.toml:1:8: not valid TOML"),
        (
            "max_attempts = 3\nmax_attempts = 4 # SECRET\n",
            "p.toml:2:1: not valid TOML",
        ),
    ];
    for (content, expect) in cases {
        std::fs::write(dir.join("p.toml"), content).unwrap();
        let (code, err) = validate(&write_scenario(&dir, Ref::Policy, "p.toml"), &[]);
        assert_eq!(code, Some(2), "{content}: {err}");
        assert!(
            err.contains(expect),
            "{content}: wanted {expect:?} in {err}"
        );
        assert!(!err.contains("SECRET"), "{content}: {err}");
        assert_no_empty_message(&err);
    }
}

/// rust-csv counts records, not lines: a bad row after blank lines must still be reported at
/// its physical line.
#[test]
fn csv_errors_name_the_physical_line() {
    let dir = temp_dir("csv-lines");
    std::fs::write(
        dir.join("t.csv"),
        "t_seconds,country,number_type\n0.5,DE,mobile\n\n\n1.0, DE ,landline_SECRET\n",
    )
    .unwrap();
    std::fs::write(dir.join("l.csv"), "seconds\n0.5\n\n\n\nslow_SECRET\n").unwrap();
    for (r, file, at) in [
        (Ref::Trace, "t.csv", "t.csv:5:10: number_type is not"),
        (Ref::Csv, "l.csv", "l.csv:6:1: not a number of seconds"),
    ] {
        let (code, err) = validate(&write_scenario(&dir, r, file), &[]);
        assert_eq!(code, Some(2), "{r:?}: {err}");
        assert!(err.contains(at), "{r:?}: wanted {at:?} in {err}");
        assert!(!err.contains("SECRET"), "{r:?}: {err}");
    }
    // A row with the wrong number of fields, after blank lines.
    std::fs::write(
        dir.join("t.csv"),
        "t_seconds,country,number_type\n\n0.5,DE,mobile\n\n\n1.0,DE\n",
    )
    .unwrap();
    let (code, err) = validate(&write_scenario(&dir, Ref::Trace, "t.csv"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("t.csv:6:1: "), "{err}");
}

#[test]
fn strict_paths_keep_references_inside_the_scenario_directory() {
    let dir = temp_dir("strict");
    let sub = dir.join("scenarios");
    std::fs::create_dir_all(sub.join("policies")).unwrap();
    let policy = "max_attempts = 2\n";
    std::fs::write(dir.join("outside.toml"), policy).unwrap();
    std::fs::write(sub.join("policies/inside.toml"), policy).unwrap();
    symlink(dir.join("outside.toml"), sub.join("link.toml")).unwrap();
    let absolute = dir.join("outside.toml");
    let absolute = absolute.to_str().unwrap();
    let refused = [
        ("../outside.toml", ".."),
        ("policies/../../outside.toml", ".."),
        (absolute, "absolute"),
        ("link.toml", "outside"),
        // Strict paths take no `..` at all, even one that comes back inside: the rule is
        // easy to state and to check.
        ("policies/../policies/inside.toml", ".."),
    ];
    for (file, why) in refused {
        let path = write_scenario(&sub, Ref::Policy, file);
        // Allowed by default.
        let (code, err) = validate(&path, &[]);
        assert_eq!(code, Some(0), "{file}: {err}");
        let (code, err) = validate(&path, &["--strict-paths"]);
        assert_eq!(code, Some(2), "{file}: {err}");
        assert!(
            err.contains(file) && err.contains(why) && err.contains("--strict-paths"),
            "{file}: {err}"
        );
        assert_no_empty_message(&err);
    }
    // Inside.
    for file in ["policies/inside.toml", "./policies/inside.toml"] {
        let (code, err) = validate(
            &write_scenario(&sub, Ref::Policy, file),
            &["--strict-paths"],
        );
        assert_eq!(code, Some(0), "{file}: {err}");
    }
    // A scenario named without a directory lives in the current one.
    write_scenario(&sub, Ref::Policy, "policies/inside.toml");
    let mut c = bin();
    c.args(["validate", "--strict-paths", "s.toml"])
        .current_dir(&sub);
    let o = output_within(c);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // Every reference kind, and every command that loads scenarios.
    std::fs::write(
        dir.join("t.csv"),
        "t_seconds,country,number_type\n1,DE,mobile\n",
    )
    .unwrap();
    for r in REFS {
        let file = match r {
            Ref::Policy => "../outside.toml",
            _ => "../t.csv",
        };
        let path = write_scenario(&sub, r, file);
        for cmd in [
            vec!["validate", "--strict-paths"],
            vec!["run", "--strict-paths", "--quiet"],
            vec!["gate", "--strict-paths", "--quiet"],
            vec!["baseline", "save", "--strict-paths", "--quiet"],
        ] {
            let mut c = bin();
            c.args(&cmd).arg(&path).current_dir(&dir);
            let o = output_within(c);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{r:?} {cmd:?}: {out}{err}");
            assert!(err.contains("--strict-paths"), "{r:?} {cmd:?}: {err}");
        }
    }
}

/// A control character in a comment is an error the TOML parser reports with an empty message
/// (on a line of its own) or a misleading one (after a value).
#[test]
fn control_characters_in_comments_are_explained() {
    let dir = temp_dir("control");
    let path = dir.join("s.toml");
    let base = scenario("2m", "10/s", "[policies.default]\n");
    for (c, name) in [
        ('\u{7}', "U+0007"),
        ('\u{1b}', "U+001B"),
        ('\u{0}', "U+0000"),
    ] {
        for (comment, col) in [
            (format!("name = \"test\" # a bell {c} here"), 24),
            (format!("name = \"test\"\n# a bell {c} here"), 10),
        ] {
            let t = base.replacen("name = \"test\"", &comment, 1);
            std::fs::write(&path, &t).unwrap();
            let line = t.lines().position(|l| l.contains("# a bell")).unwrap() + 1;
            let (code, err) = validate(&path, &[]);
            assert_eq!(code, Some(2), "{err}");
            assert!(
                err.contains(&format!("{}:{line}:{col}: ", path.display())),
                "{name}: {err}"
            );
            assert!(
                err.contains(&format!("control character {name}")),
                "{name}: {err}"
            );
            assert_no_empty_message(&err);
        }
    }
}

/// Whatever is wrong, `validate` says what: every diagnostic has text after its location.
#[test]
fn validate_never_prints_an_empty_message() {
    let dir = temp_dir("nonempty");
    let base = scenario("2m", "10/s", "[policies.default]\n");
    let broken: Vec<Vec<u8>> = vec![
        base.replace("name = \"test\"", "name = \"test\" # \u{7f}")
            .into_bytes(),
        base.replace("name = \"test\"", "name = \"test\"\n# \u{7f}")
            .into_bytes(),
        base.replace("[[regions]]", "# \u{1}\n[[regions]]")
            .into_bytes(),
        base.replace("name = \"test\"", "name = \"te\u{1}st\"")
            .into_bytes(),
        base.replace("name = \"test\"", "name = 'te\u{8}st'")
            .into_bytes(),
        base.replace("name = \"test\"", "name = \"\"\"\u{1f}\"\"\"")
            .into_bytes(),
        base.replace("name = \"test\"", "name = \"test\"\rseed = 2")
            .into_bytes(),
        base.replace("name = \"test\"", "name = \"test\" = 3")
            .into_bytes(),
        base.replace("duration = \"2m\"", "duration = ")
            .into_bytes(),
        base.replace("[[regions]]", "[[regions]").into_bytes(),
        base.replace("[[regions]]", "[regions]").into_bytes(),
        base.replace("format_version = 1", "format_version = 2")
            .into_bytes(),
        base.replace("format_version = 1", "").into_bytes(),
        format!("{base}\u{0}").into_bytes(),
        [base.as_bytes(), b"# \xff\n"].concat(),
        b"\xef\xbb\xbf".to_vec(),
        Vec::new(),
        b"=".to_vec(),
        b"[".to_vec(),
        b"\"".to_vec(),
        b"a.b = 1\na = 2".to_vec(),
    ];
    for (i, text) in broken.iter().enumerate() {
        let path = dir.join(format!("broken-{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let (code, err) = validate(&path, &[]);
        assert_eq!(code, Some(2), "case {i}: {err}");
        assert!(!err.trim().is_empty(), "case {i}: nothing printed");
        assert_no_empty_message(&err);
    }
}

/// The scenario file itself is read by the rules of referenced files: a FIFO, a device or a
/// directory is refused without blocking, a file beyond the limit without reading it, and
/// text that is not UTF-8 is located at its first invalid byte, for every command.
#[test]
fn the_scenario_file_itself_is_read_with_the_same_care() {
    let dir = temp_dir("scenario-file");
    mkfifo(&dir.join("fifo.toml"));
    std::fs::create_dir(dir.join("dir.toml")).unwrap();
    symlink("/dev/zero", dir.join("zero.toml")).unwrap();
    let big = std::fs::File::create(dir.join("big.toml")).unwrap();
    big.set_len(MAX_CSV_FILE_BYTES + 1).unwrap();
    let cases = [
        ("fifo.toml", "a FIFO (named pipe), not a regular file"),
        ("dir.toml", "a directory, not a regular file"),
        ("zero.toml", "a character device, not a regular file"),
        ("/dev/null", "a character device, not a regular file"),
        ("big.toml", "64 MiB"),
    ];
    for (file, expect) in cases {
        let path = dir.join(file);
        for command in [&["validate"][..], &["run", "--quiet"], &["gate", "--quiet"]] {
            let mut cmd = bin();
            cmd.args(command)
                .arg(&path)
                .current_dir(&dir)
                .env_remove("GITHUB_STEP_SUMMARY");
            let o = output_within(cmd);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{command:?} {file}: {out}{err}");
            assert!(
                err.contains(&path.display().to_string()) && err.contains(expect),
                "{command:?} {file}: {err}"
            );
            assert_no_empty_message(&err);
        }
    }
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"format_version = 1\nname = \"caf\xe9\"\n").unwrap();
    let (code, err) = validate(&latin1, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:2:12: not UTF-8", latin1.display())),
        "{err}"
    );
    assert!(!err.contains("caf"), "{err}");
}
