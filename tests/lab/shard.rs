//! `--shard I/N` and `merge` end to end: three shards merged, in any order, give the files one
//! machine writes (apart from wall-clock fields) for `run --seeds`, a 2-D `sweep` and `gate`;
//! every way the parts can be wrong exits 2 with nothing written; `--shard auto` reads each job
//! engine's variables.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::cli::{bin, output_within, temp_dir, text};

const LIMIT: Duration = Duration::from_secs(300);

fn lab(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.current_dir(dir).args(args);
    output_within(cmd, LIMIT)
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o).1);
}

fn outage(dir: &Path) -> PathBuf {
    let path = dir.join("outage.toml");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(manifest.join("scenarios/ci/outage.toml")).unwrap();
    std::fs::create_dir_all(dir.join("../policies")).unwrap();
    for p in ["aggressive", "conservative"] {
        std::fs::copy(
            manifest.join(format!("scenarios/policies/{p}.toml")),
            dir.join(format!("../policies/{p}.toml")),
        )
        .unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// A report file with its wall-clock parts removed: `run` in `summary.json` and the page's
/// execution row.
fn comparable(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    if name == "summary.json" {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v.as_object_mut().unwrap().remove("run");
        return serde_json::to_vec(&v).unwrap();
    }
    if name == "index.html" {
        let page = String::from_utf8(bytes).unwrap();
        let start = page.find("<tr><th class=\"name\">Execution</th>");
        return match start {
            Some(s) => {
                let end = s + page[s..].find("</tr>").unwrap();
                format!("{}{}", &page[..s], &page[end..]).into_bytes()
            }
            None => page.into_bytes(),
        };
    }
    bytes
}

fn assert_same_report(single: &Path, merged: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(single), names(merged));
    for n in names(single) {
        assert!(
            comparable(&single.join(&n)) == comparable(&merged.join(&n)),
            "{n} differs between the single-machine and the merged report"
        );
    }
}

/// Runs `args` as shards 1..=3 (partials p1..p3.json in `dir`).
fn shards(dir: &Path, args: &[&str]) {
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let partial = format!("p{i}.json");
        let mut a = args.to_vec();
        a.extend(["--shard", &shard, "--partial", &partial]);
        let o = lab(dir, &a);
        ok(&o);
        assert!(
            text(&o).1.contains(&format!("shard {i}/3:")),
            "{}",
            text(&o).1
        );
    }
}

#[test]
fn three_shards_of_a_replicated_run_merge_into_the_single_machine_report_in_any_order() {
    let dir = temp_dir("shard-run").join("work");
    std::fs::create_dir_all(&dir).unwrap();
    outage(&dir);
    let args = ["run", "outage.toml", "--seeds", "6", "--quiet"];
    let mut single = args.to_vec();
    single.extend(["--out", "single"]);
    ok(&lab(&dir, &single));
    shards(&dir, &args);
    // The shards wrote no report.
    assert!(!dir.join("reports").exists());
    for (order, out) in [
        (["p1.json", "p2.json", "p3.json"], "a"),
        (["p3.json", "p1.json", "p2.json"], "b"),
    ] {
        let mut m = vec!["merge"];
        m.extend(order);
        m.extend(["--out", out, "--quiet"]);
        ok(&lab(&dir, &m));
        assert_same_report(&dir.join("single"), &dir.join(out));
    }
}

#[test]
fn a_sharded_two_dimensional_sweep_merges_into_the_same_sweep_report() {
    let dir = temp_dir("shard-sweep").join("work");
    std::fs::create_dir_all(&dir).unwrap();
    outage(&dir);
    let args = [
        "sweep",
        "outage.toml",
        "--policy",
        "conservative",
        "--vary",
        "trip.failure_rate=0.2,0.4",
        "--vary",
        "ejection.base=10s,30s",
        "--seeds",
        "2",
        "--quiet",
    ];
    let mut single = args.to_vec();
    single.extend(["--out", "single"]);
    ok(&lab(&dir, &single));
    shards(&dir, &args);
    ok(&lab(
        &dir,
        &[
            "merge", "p2.json", "p3.json", "p1.json", "--out", "merged", "--quiet",
        ],
    ));
    assert_same_report(&dir.join("single"), &dir.join("merged"));
}

#[test]
fn a_sharded_gate_merges_into_the_same_verdict_junit_and_exit_code() {
    let dir = temp_dir("shard-gate").join("work");
    std::fs::create_dir_all(&dir).unwrap();
    outage(&dir);
    // A floor no policy meets: the gate fails (exit 3), sharded or not.
    let mut text_ = std::fs::read_to_string(dir.join("outage.toml")).unwrap();
    text_.push_str(
        "\n[[expect]]\nmetric = \"faults.atlas-outage.detection_delay\"\nthreshold = \"< 1ms\"\n",
    );
    std::fs::write(dir.join("outage.toml"), text_).unwrap();
    let single = lab(
        &dir,
        &[
            "gate",
            "outage.toml",
            "--seeds",
            "3",
            "--quiet",
            "--junit",
            "single.xml",
        ],
    );
    assert_eq!(single.status.code(), Some(3), "{}", text(&single).1);
    shards(
        &dir,
        &[
            "gate",
            "outage.toml",
            "--seeds",
            "3",
            "--quiet",
            "--junit",
            "merged.xml",
        ],
    );
    assert!(
        !dir.join("merged.xml").exists(),
        "a shard wrote the JUnit file"
    );
    let merged = lab(&dir, &["merge", "p1.json", "p2.json", "p3.json"]);
    assert_eq!(merged.status.code(), Some(3), "{}", text(&merged).1);
    assert_eq!(text(&single).0, text(&merged).0);
    assert_eq!(
        std::fs::read(dir.join("single.xml")).unwrap(),
        std::fs::read(dir.join("merged.xml")).unwrap()
    );
}

#[test]
fn parts_that_do_not_make_one_plan_are_refused_before_anything_is_written() {
    let dir = temp_dir("shard-bad").join("work");
    std::fs::create_dir_all(&dir).unwrap();
    outage(&dir);
    let args = ["run", "outage.toml", "--seeds", "3", "--quiet"];
    shards(&dir, &args);
    let refused = |merge: &[&str], expect: &str| {
        let mut m = vec!["merge"];
        m.extend(merge);
        m.extend(["--out", "out"]);
        let o = lab(&dir, &m);
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{merge:?}: {stderr}");
        assert!(stderr.contains(expect), "{merge:?}: {stderr}");
        assert!(!dir.join("out").exists(), "{merge:?} wrote a report");
        stderr
    };
    refused(&["p1.json", "p3.json"], "missing shard 2 of 3");
    refused(
        &["p1.json", "p2.json", "p2.json", "p3.json"],
        "shard 2 of 3 given 2 times",
    );
    // A shard of another plan (another seed count).
    let other = lab(
        &dir,
        &[
            "run",
            "outage.toml",
            "--seeds",
            "4",
            "--quiet",
            "--shard",
            "2/3",
            "--partial",
            "o2.json",
        ],
    );
    ok(&other);
    refused(&["p1.json", "o2.json", "p3.json"], "another plan");
    // Another version.
    let p3 = std::fs::read_to_string(dir.join("p3.json")).unwrap();
    let older = p3.replacen(
        &format!("\"tool_version\":\"{}\"", env!("CARGO_PKG_VERSION")),
        "\"tool_version\":\"0.0.1\"",
        1,
    );
    assert_ne!(older, p3);
    std::fs::write(dir.join("v3.json"), older).unwrap();
    refused(&["p1.json", "p2.json", "v3.json"], "0.0.1");
    // Not a partial at all: named, never quoted.
    std::fs::write(dir.join("secret.json"), "{\"password\": \"hunter2\"}").unwrap();
    let e = refused(&["p1.json", "secret.json"], "not a partial result");
    assert!(!e.contains("hunter2"), "{e}");
    std::fs::write(dir.join("garbage.json"), "hunter2 is not json").unwrap();
    let e = refused(&["garbage.json"], "garbage.json:1:1");
    assert!(!e.contains("hunter2"), "{e}");
    // The scenario edited after the shards ran: the merge notices before writing.
    let scenario = std::fs::read_to_string(dir.join("outage.toml")).unwrap();
    std::fs::write(
        dir.join("outage.toml"),
        scenario.replace("rate = \"20/s\"", "rate = \"21/s\""),
    )
    .unwrap();
    refused(
        &["p1.json", "p2.json", "p3.json"],
        "changed since the shards ran",
    );
}

#[test]
fn shard_auto_reads_the_job_engines_index() {
    let dir = temp_dir("shard-auto").join("work");
    std::fs::create_dir_all(&dir).unwrap();
    outage(&dir);
    let run = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = bin();
        cmd.current_dir(&dir)
            .args([
                "run",
                "outage.toml",
                "--seeds",
                "2",
                "--quiet",
                "--shard",
                "auto",
            ])
            .args(extra);
        for v in [
            "JOB_COMPLETION_INDEX",
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_COUNT",
            "FAILOVER_LAB_SHARD",
        ] {
            cmd.env_remove(v);
        }
        cmd.envs(env.iter().copied());
        output_within(cmd, LIMIT)
    };
    let o = run(&[("JOB_COMPLETION_INDEX", "1")], &["--shards", "3"]);
    ok(&o);
    assert!(text(&o).1.contains("shard 2/3:"), "{}", text(&o).1);
    assert!(dir.join("failover-lab-partial-2-of-3.json").is_file());
    let o = run(
        &[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ],
        &[],
    );
    ok(&o);
    assert!(text(&o).1.contains("shard 2/2:"), "{}", text(&o).1);
    let o = run(&[("FAILOVER_LAB_SHARD", "1/4")], &[]);
    ok(&o);
    assert!(text(&o).1.contains("shard 1/4:"), "{}", text(&o).1);
    // Nothing to read: a clear error, exit 2.
    let o = run(&[], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no job index"), "{}", text(&o).1);
    // Flags that cannot be sharded.
    let mut cmd = bin();
    cmd.current_dir(&dir)
        .args(["run", "outage.toml", "--audit", "--shard", "1/2"]);
    let o = output_within(cmd, LIMIT);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    assert!(text(&o).1.contains("--audit"), "{}", text(&o).1);
}
