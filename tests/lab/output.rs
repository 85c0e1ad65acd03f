//! The output directory is one result, never a mix: a run replaces the whole report or leaves
//! the previous one alone (interrupted, refused or failed), writes through no planted symlink,
//! leaves no temporaries behind, and checks `--out` before it simulates anything.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::world::scenario;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_failover-lab"));
    c.env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("failover-lab-output-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const POLICY: &str = r#"
[policies.score]
attempt_timeout = "10s"
"#;

/// A scenario file `name.toml` in `dir`: one policy, `duration` at 50 verifications/s. Two
/// minutes take a fraction of a second; six hours take over half a minute (debug build), far
/// longer than any check below allows.
fn write_scenario(dir: &Path, name: &str, duration: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = scenario(duration, "50/s", POLICY).replacen(
        "name = \"test\"",
        &format!("name = \"{name}\""),
        1,
    );
    std::fs::write(&path, text).unwrap();
    path
}

const LONG: &str = "6h";

fn run(scenario: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap()
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Hidden entries (temporaries, private directories) in `dir`.
fn hidden(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// Every file of a report directory with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn child_stderr(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut s).unwrap();
    }
    s
}

/// Sends `signal` (`INT`, `TERM`) to `pid`.
fn signal(pid: u32, signal: &str) {
    let s = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(s.success(), "kill -{signal} {pid}");
}

/// Waits until a hidden entry (the run's temporaries) appears in one of `dirs`: the child has
/// started writing, so it has checked its inputs and is simulating.
fn wait_until_writing(child: &mut Child, dirs: &[&Path]) {
    let start = Instant::now();
    while dirs.iter().all(|d| !d.is_dir() || hidden(d).is_empty()) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ended before it was interrupted: {status}\n{}",
                child_stderr(child)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no temporaries appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Well into the simulation.
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn a_run_replaces_the_whole_report_so_no_file_of_an_earlier_run_survives() {
    let dir = temp_dir("stale");
    let small = write_scenario(&dir, "small", "2m");
    let out = dir.join("out");
    let o = run(&small, &out, &["--audit"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("audit.jsonl").is_file());
    // An earlier run of another scenario in the same place.
    let other = write_scenario(&dir, "other", "2m");
    let o = run(&other, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !out.join("audit.jsonl").exists(),
        "the earlier run's audit.jsonl survived"
    );
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        !page.contains("audit.jsonl"),
        "index.html links an audit trail this run did not write"
    );
    // Exactly the files a run into a fresh directory writes.
    let fresh = dir.join("fresh");
    assert_eq!(run(&other, &fresh, &[]).status.code(), Some(0));
    assert_eq!(names(&out), names(&fresh));
    // No temporaries, no private directory left beside it.
    assert!(hidden(&out).is_empty(), "{:?}", hidden(&out));
    assert!(hidden(&dir).is_empty(), "{:?}", hidden(&dir));
}

#[test]
fn planted_symlinks_do_not_redirect_a_write() {
    let dir = temp_dir("symlink");
    let small = write_scenario(&dir, "small", "2m");
    let medium = write_scenario(&dir, "medium", "20m");
    let out = dir.join("out");
    assert_eq!(run(&small, &out, &[]).status.code(), Some(0));
    let victim = |name: &str| {
        let v = dir.join(format!("victim-{name}"));
        std::fs::write(&v, b"precious").unwrap();
        v
    };
    let plant = |at: PathBuf, name: &str| {
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(victim(name), at).unwrap();
    };
    // Named like files the run writes.
    plant(out.join("summary.json"), "summary");
    plant(out.join("index.html"), "index");
    let mut child = bin()
        .arg("run")
        .arg(&medium)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // At every temporary name derivable from the process id.
    let pid = child.id();
    for name in ["summary.json", "summary.csv", "index.html", "routes.csv"] {
        plant(
            out.join(format!(".{name}.{pid}.tmp")),
            &format!("tmp-{name}"),
        );
        plant(
            dir.join(format!(".{name}.{pid}.tmp")),
            &format!("tmp-parent-{name}"),
        );
    }
    let status = wait(&mut child, Duration::from_secs(120));
    let err = child_stderr(&mut child);
    assert_eq!(status.code(), Some(0), "{err}");
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("victim-") {
            let now = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            assert!(
                now == "precious",
                "{name} was written through a planted symlink; it now starts {:?}",
                now.chars().take(60).collect::<String>()
            );
        }
    }
    for name in ["summary.json", "index.html"] {
        let meta = std::fs::symlink_metadata(out.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is not a regular file");
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["scenario"]["name"], "medium");
}

#[test]
fn an_unwritable_out_fails_before_simulating() {
    let dir = temp_dir("unwritable");
    let long = write_scenario(&dir, "long", LONG);
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out = file.join("out");
    let start = Instant::now();
    let o = run(&long, &out, &[]);
    let took = start.elapsed();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}: it simulated first"
    );
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert_eq!(names(&dir), ["a-file", "long.toml"]);

    // A read-only parent (root writes anyway, so only as another user).
    let readonly = dir.join("readonly");
    std::fs::create_dir(&readonly).unwrap();
    let mut perms = std::fs::metadata(&readonly).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&readonly, perms).unwrap();
    if std::fs::write(readonly.join("probe"), b"").is_err() {
        let start = Instant::now();
        let o = run(&long, &readonly.join("out"), &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "it simulated first"
        );
        assert!(err.contains(&readonly.display().to_string()), "{err}");
    }
}

#[test]
fn an_out_that_is_not_a_report_directory_is_refused_before_simulating() {
    let dir = temp_dir("refused");
    let long = write_scenario(&dir, "long", LONG);
    let check = |out: &Path, expect: &str| {
        let start = Instant::now();
        let o = run(&long, out, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", out.display());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{}: it simulated first",
            out.display()
        );
        assert!(
            err.contains(&out.display().to_string()) && err.contains(expect),
            "{}: wanted {expect:?} in {err}",
            out.display()
        );
    };
    // A regular file.
    let file = dir.join("file");
    std::fs::write(&file, b"mine").unwrap();
    check(&file, "not a directory");
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    // A symlink to a directory: the run would write somewhere else than it says.
    let target = dir.join("target");
    std::fs::create_dir(&target).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    check(&link, "symbolic link");
    assert!(names(&target).is_empty());
    // A directory with someone's files that no run wrote: replacing it would delete them.
    let notes = dir.join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("todo.txt"), b"mine").unwrap();
    check(&notes, "not a failover-lab report");
    assert_eq!(names(&notes), ["todo.txt"]);
    assert!(hidden(&dir).is_empty(), "{:?}", hidden(&dir));
}

/// Runs a long scenario over a previous report, interrupts it with `sig` and checks the exit
/// code, that nothing was left behind and that the previous report is intact.
fn interrupt_run(name: &str, sig: &str, code: i32) {
    let dir = temp_dir(name);
    let small = write_scenario(&dir, "small", "2m");
    let long = write_scenario(&dir, "long", LONG);
    let out = dir.join("out");
    assert_eq!(run(&small, &out, &[]).status.code(), Some(0));
    let before = snapshot(&out);
    let mut child = bin()
        .arg("run")
        .arg(&long)
        .arg("--out")
        .arg(&out)
        .arg("--audit")
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_writing(&mut child, &[&dir, &out]);
    signal(child.id(), sig);
    let status = wait(&mut child, Duration::from_secs(10));
    let err = child_stderr(&mut child);
    assert_eq!(status.code(), Some(code), "SIG{sig}: {status}\n{err}");
    assert!(hidden(&dir).is_empty(), "SIG{sig} left {:?}", hidden(&dir));
    assert!(hidden(&out).is_empty(), "SIG{sig} left {:?}", hidden(&out));
    assert!(
        snapshot(&out) == before,
        "SIG{sig}: the previous report changed"
    );
}

#[test]
fn sigint_stops_a_run_with_130_and_keeps_the_previous_report() {
    interrupt_run("sigint", "INT", 130);
}

#[test]
fn sigterm_stops_a_run_with_143_and_keeps_the_previous_report() {
    interrupt_run("sigterm", "TERM", 143);
}

#[test]
fn gate_and_baseline_save_stop_on_a_signal_and_keep_their_files() {
    let dir = temp_dir("gate-signal");
    let long = write_scenario(&dir, "long", LONG);
    let junit = dir.join("junit.xml");
    std::fs::write(&junit, b"<previous/>").unwrap();
    let baselines = dir.join("baselines");
    std::fs::create_dir(&baselines).unwrap();
    std::fs::write(baselines.join("long.json"), b"{}").unwrap();
    let commands: [(&str, Vec<&std::ffi::OsStr>, i32); 2] = [
        (
            "TERM",
            vec![
                "gate".as_ref(),
                long.as_os_str(),
                "--seeds".as_ref(),
                "2".as_ref(),
                "--junit".as_ref(),
                junit.as_os_str(),
            ],
            143,
        ),
        (
            "INT",
            vec![
                "baseline".as_ref(),
                "save".as_ref(),
                long.as_os_str(),
                "--seeds".as_ref(),
                "2".as_ref(),
                "--dir".as_ref(),
                baselines.as_os_str(),
            ],
            130,
        ),
    ];
    for (sig, args, code) in commands {
        let mut child = bin()
            .args(&args)
            .arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Loading and checking take milliseconds; the simulation takes minutes.
        std::thread::sleep(Duration::from_millis(1000));
        assert!(child.try_wait().unwrap().is_none(), "{args:?} ended early");
        signal(child.id(), sig);
        let status = wait(&mut child, Duration::from_secs(10));
        let err = child_stderr(&mut child);
        assert_eq!(
            status.code(),
            Some(code),
            "{args:?} SIG{sig}: {status}\n{err}"
        );
    }
    assert_eq!(std::fs::read(&junit).unwrap(), b"<previous/>");
    assert_eq!(std::fs::read(baselines.join("long.json")).unwrap(), b"{}");
    assert!(hidden(&dir).is_empty(), "{:?}", hidden(&dir));
    assert!(hidden(&baselines).is_empty(), "{:?}", hidden(&baselines));
}

#[test]
fn baseline_save_writes_through_no_planted_symlink() {
    let dir = temp_dir("baseline-symlink");
    let medium = write_scenario(&dir, "medium", "10m");
    let baselines = dir.join("baselines");
    std::fs::create_dir(&baselines).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let mut child = bin()
        .args(["baseline", "save"])
        .arg(&medium)
        .args(["--seeds", "2", "--quiet", "--dir"])
        .arg(&baselines)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::os::unix::fs::symlink(&victim, baselines.join(format!(".medium.json.{pid}.tmp"))).unwrap();
    let status = wait(&mut child, Duration::from_secs(120));
    let err = child_stderr(&mut child);
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(baselines.join("medium.json")).unwrap();
    assert!(meta.is_file());
}

#[test]
fn a_sweep_stops_on_a_signal_and_keeps_the_previous_sweep_report() {
    let dir = temp_dir("sweep-signal");
    let small = write_scenario(&dir, "small", "2m");
    let long = write_scenario(&dir, "long", LONG);
    let out = dir.join("out");
    let sweep = |scenario: &Path| {
        let mut c = bin();
        c.arg("sweep")
            .arg(scenario)
            .args(["--vary", "ejection.base=10s,1m", "--seeds", "2", "--quiet"])
            .arg("--out")
            .arg(&out);
        c
    };
    let first = sweep(&small).output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let before = snapshot(&out);
    assert!(before.iter().any(|(n, _)| n == "sweep.json"));
    let mut child = sweep(&long)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_writing(&mut child, &[&dir, &out]);
    signal(child.id(), "INT");
    let status = wait(&mut child, Duration::from_secs(10));
    let err = child_stderr(&mut child);
    assert_eq!(status.code(), Some(130), "{status}\n{err}");
    assert!(hidden(&dir).is_empty(), "left {:?}", hidden(&dir));
    assert!(
        snapshot(&out) == before,
        "the previous sweep report changed"
    );
}
