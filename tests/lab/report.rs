//! The HTML report as a person sees it: a small simulated two-policy run rendered to
//! `index.html`, opened in headless Chromium, and the screenshot checked for the charts. And the
//! report of a hostile scenario (names and description holding script tags, closing tags of the
//! page's style, SVG and title, quotes, newlines and spreadsheet formulas), rendered by `run`
//! and by the renderer directly: Chromium runs none of it (the DOM it dumps keeps the page's
//! title and holds the names as text), and no CSV cell starts a formula.
//!
//! Needs Debian's `chromium` at /usr/bin/chromium (`apt-get install -y chromium`; CI installs it
//! in .ci/run). Without it the test fails and says so: a skipped check would hide a broken
//! report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use failover_lab::experiment::recorder_config;
use failover_lab::metrics::{
    FaultInfo, PolicySummary, RunSummary, SUMMARY_FORMAT_VERSION, ScenarioInfo,
};
use failover_lab::report::{csv_export, html, palette};

use crate::world::{compile, policy_index, run, scenario};

const CHROMIUM: &str = "/usr/bin/chromium";
const WINDOW: (u32, u32) = (1280, 2400);

/// Two policies against an outage of the top-priority provider: one fails over, one cannot.
fn summary() -> RunSummary {
    let world = compile(&scenario(
        "4m",
        "10/s",
        r#"
[policies.failover]
attempt_timeout = "10s"
[policies.single-shot]
strategy = "priority"
max_attempts = 1
attempt_timeout = "10s"
[policies.single-shot.ejection]
max_ejected_share = 0.0
[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "1m"
duration = "90s"
[faults.target]
provider = "a"
"#,
    ));
    let config = recorder_config(&world).unwrap();
    let policies = ["failover", "single-shot"]
        .into_iter()
        .map(|name| PolicySummary {
            name: name.to_string(),
            result: run(&world, policy_index(&world, name), 3).run,
        })
        .collect();
    RunSummary {
        format_version: SUMMARY_FORMAT_VERSION,
        scenario: ScenarioInfo {
            name: "screenshot".to_string(),
            description: Some("An outage of provider a".to_string()),
            hash: "00000000deadbeef".to_string(),
            duration: world.duration.as_secs_f64(),
            warmup: world.warmup.as_secs_f64(),
            bucket: world.bucket.as_secs_f64(),
            faults: world
                .faults
                .iter()
                .map(|f| FaultInfo {
                    name: f.name.clone(),
                    kind: "outage".to_string(),
                    target: "provider a".to_string(),
                    start: f.start.as_secs_f64(),
                    end: f.end.as_secs_f64(),
                })
                .collect(),
            restarts: Vec::new(),
            reloads: Vec::new(),
            providers: config.providers.clone(),
            routes: config.routes.iter().map(|r| r.label.clone()).collect(),
        },
        seed: 3,
        policies,
        experiment: None,
        replications: Vec::new(),
        comparisons: Vec::new(),
        run: None,
        load: None,
    }
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("failover-lab-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs headless Chromium on `page` with `action` (`--screenshot=...`, `--dump-dom`), its
/// standard output to `stdout`; fails the test with a way to fix it when Chromium is missing,
/// fails, or hangs.
fn chromium(page: &Path, dir: &Path, action: &str, stdout: Stdio) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: the report tests need Debian's chromium. \
         Install it with `apt-get update && apt-get install -y chromium` (CI does so in .ci/run)."
    );
    let profile = dir.join("chromium-profile");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {CHROMIUM}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{CHROMIUM} {action} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{CHROMIUM} {action} failed: {status}");
}

/// Headless Chromium's screenshot of `page`.
fn screenshot(page: &Path, dir: &Path) -> PathBuf {
    let shot = dir.join("screenshot.png");
    chromium(
        page,
        dir,
        &format!("--screenshot={}", shot.display()),
        Stdio::null(),
    );
    assert!(shot.exists(), "{CHROMIUM} wrote no screenshot");
    shot
}

/// The DOM of `page` as headless Chromium serialises it once the page has loaded (its scripts
/// run, its images tried).
fn dump_dom(page: &Path, dir: &Path) -> String {
    let out = dir.join("dom.html");
    chromium(
        page,
        dir,
        "--dump-dom",
        std::fs::File::create(&out).unwrap().into(),
    );
    let dom = std::fs::read_to_string(&out).unwrap();
    assert!(dom.contains("</html>"), "{CHROMIUM} dumped no DOM: {dom:?}");
    dom
}

/// An RGB image decoded from a PNG.
struct Image {
    width: u32,
    height: u32,
    /// RGB, row by row.
    rgb: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            bytes[..8],
            [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']
        );
        let mut decoder = png::Decoder::new(bytes.as_slice());
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let channels = match frame.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Indexed => unreachable!("expanded"),
        };
        let rgb = buf[..frame.buffer_size()]
            .chunks(channels)
            .flat_map(|px| match channels {
                1 | 2 => [px[0], px[0], px[0]],
                _ => [px[0], px[1], px[2]],
            })
            .collect();
        Image {
            width: frame.width,
            height: frame.height,
            rgb,
        }
    }

    /// Pixels within `tolerance` (per channel) of `colour`, in rows `rows`.
    fn count(&self, colour: palette::Rgb, tolerance: u8, rows: std::ops::Range<u32>) -> usize {
        let row_bytes = self.width as usize * 3;
        let near = |a: u8, b: u8| a.abs_diff(b) <= tolerance;
        self.rgb[rows.start as usize * row_bytes..rows.end.min(self.height) as usize * row_bytes]
            .chunks(3)
            .filter(|p| near(p[0], colour.0) && near(p[1], colour.1) && near(p[2], colour.2))
            .count()
    }
}

#[test]
fn the_html_report_shows_its_charts_in_a_browser() {
    let summary = summary();
    let dir = TempDir::new("report");
    let files = ["summary.json", "timeseries.csv"];
    let page = dir.0.join("index.html");
    std::fs::write(&page, html::render(&summary, &files)).unwrap();
    let shot = screenshot(&page, &dir.0);
    let image = Image::read(&shot);
    assert_eq!((image.width, image.height), WINDOW, "screenshot size");

    // The page's top (header and tables) has no chart: charts start lower down. The stacked
    // areas of the provider-share chart fill whole regions with the providers' exact colours;
    // nothing else on the page is filled with them.
    let all = 0..image.height;
    let providers: usize = (0..summary.scenario.providers.len())
        .map(|i| image.count(palette::provider(i), 0, all.clone()))
        .sum();
    assert!(
        providers > 20_000,
        "only {providers} pixels in provider colours: the provider-share chart did not render"
    );
    // Both policies' success-rate lines (and table swatches): the policy colours, allowing for
    // anti-aliasing of 2-pixel lines.
    for (i, p) in summary.policies.iter().enumerate() {
        let n = image.count(palette::policy(i), 24, all.clone());
        assert!(n > 1_000, "policy {} drawn in only {n} pixels", p.name);
    }
    // Fault windows are shaded (translucent grey over white) in the success-rate chart.
    let shaded = image.count(palette::Rgb(0xe7, 0xe7, 0xe7), 6, all.clone());
    assert!(shaded > 5_000, "fault shading covers only {shaded} pixels");
    // Not a blank page: a healthy share of the screenshot is not white.
    let white = image.count(palette::Rgb(255, 255, 255), 0, all);
    let total = (image.width * image.height) as usize;
    assert!(
        white < total * 9 / 10,
        "{white} of {total} pixels are white"
    );
}

/// What a hostile name's script would make of the page's title if it ran: built at run time
/// (`'pw'+'ned'`), so the word itself is nowhere in the page's source.
const PWNED: &str = "pwned";

/// A script, an image whose error handler runs one, closing tags of the page's style, SVG and
/// title, quotes, a newline and a spreadsheet formula.
const HOSTILE_POLICY: &str =
    "=HYPERLINK(\"http://x\",\"y\") <script>document.title='pw'+'ned'</script>";
const HOSTILE_STATIC: &str =
    "+static</style></svg><img src=x onerror=\"document.title='pw'+'ned'\">";
const HOSTILE_PROVIDER: &str = "@a<img src=x onerror=\"document.title='pw'+'ned'\">";
const HOSTILE_FAULT: &str = "-c</title></svg><script>document.title='pw'+'ned'</script>";
const HOSTILE_SCENARIO: &str = "@SUM(1+1) </style><script>document.title='pw'+'ned'</script>";
const HOSTILE_DESCRIPTION: &str = "=HYPERLINK(\"http://x\",\"y\")\n<script>document.title='pw'+'ned'</script></style></svg> \"quoted\" 'single'";

/// Every hostile name but the scenario's (which is also the page's title).
const HOSTILE_NAMES: [&str; 5] = [
    HOSTILE_POLICY,
    HOSTILE_STATIC,
    HOSTILE_PROVIDER,
    HOSTILE_FAULT,
    HOSTILE_DESCRIPTION,
];

/// `s` as a TOML basic string (also a valid quoted key).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Checks that headless Chromium ran nothing of `page` and shows every one of `names` as text.
fn assert_inert(page: &Path, dir: &Path, title: &str, names: &[&str]) {
    let dom = dump_dom(page, dir);
    assert!(!dom.contains(PWNED), "a hostile name ran as script");
    // The page's own title, the scenario's name as text in it; no element a name would add.
    let expected_title = format!("<title>{} · failover-lab report</title>", dom_text(title));
    assert!(
        dom.contains(&expected_title),
        "no {expected_title} in the DOM"
    );
    for element in ["<script", "<img", "<b>"] {
        assert!(!dom.contains(element), "{element} is an element of the DOM");
    }
    assert_eq!(dom.matches("<style>").count(), 1, "one style element");
    for name in names {
        assert!(
            dom.contains(&dom_text(name)),
            "{name:?} is not text in the DOM"
        );
    }
}

/// `s` as Chromium serialises a text node: `&`, `<`, `>` and no-break spaces escaped.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

#[test]
fn the_dom_dump_sees_a_script_that_runs() {
    // The check below is only worth something if a script that does run is seen: an image's
    // error handler (which runs last, once the image has failed) changes the title.
    let dir = TempDir::new("control");
    let page = dir.0.join("index.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><title>t</title></head><body>\
         <img src=x onerror=\"document.title='pw'+'ned'\"></body></html>",
    )
    .unwrap();
    let dom = dump_dom(&page, &dir.0);
    assert!(dom.contains("<title>pwned</title>"), "{dom}");
}

#[test]
fn hostile_names_render_as_inert_text_in_chromium() {
    // The renderer directly, every name hostile (validation may refuse some of them one day; the
    // page must not depend on it).
    let mut s = summary();
    s.scenario.name = HOSTILE_SCENARIO.to_owned();
    s.scenario.description = Some(HOSTILE_DESCRIPTION.to_owned());
    s.policies[0].name = HOSTILE_POLICY.to_owned();
    s.policies[1].name = HOSTILE_STATIC.to_owned();
    s.scenario.providers[0] = HOSTILE_PROVIDER.to_owned();
    s.scenario.faults[0].name = HOSTILE_FAULT.to_owned();
    s.scenario.faults[0].kind = HOSTILE_STATIC.to_owned();
    s.scenario.faults[0].target = HOSTILE_POLICY.to_owned();
    for p in &mut s.policies {
        p.result.providers[0] = HOSTILE_PROVIDER.to_owned();
        p.result.faults[0].name = HOSTILE_FAULT.to_owned();
    }
    let dir = TempDir::new("hostile");
    let page = dir.0.join("index.html");
    std::fs::write(&page, html::render(&s, &["summary.json"])).unwrap();
    assert_inert(&page, &dir.0, HOSTILE_SCENARIO, &HOSTILE_NAMES);
}

#[test]
fn a_hostile_scenario_file_gives_an_inert_page_and_safe_csv_cells() {
    // Through `run`, as a pull request's scenario would be: everything validation lets through.
    let hostile_provider = toml_string(HOSTILE_PROVIDER);
    let world = scenario(
        "2m",
        "10/s",
        &format!(
            r#"
[policies.{policy}]
attempt_timeout = "10s"
[policies.{fixed}]
strategy = "priority"
max_attempts = 1
[[faults]]
name = {fault}
kind = "outage"
mode = "black_hole"
start = "40s"
duration = "40s"
[faults.target]
provider = {hostile_provider}
"#,
            policy = toml_string(HOSTILE_POLICY),
            fixed = toml_string(HOSTILE_STATIC),
            fault = toml_string(HOSTILE_FAULT),
        ),
    )
    .replace(
        "name = \"test\"\n",
        &format!(
            "name = {}\ndescription = {}\n",
            toml_string(HOSTILE_SCENARIO),
            toml_string(HOSTILE_DESCRIPTION)
        ),
    )
    .replace("name = \"a\"", &format!("name = {hostile_provider}"))
    .replace(
        "provider = \"a\"",
        &format!("provider = {hostile_provider}"),
    );
    let dir = TempDir::new("hostile-run");
    let file = dir.0.join("hostile.toml");
    std::fs::write(&file, world).unwrap();
    let out = dir.0.join("out");
    let run = crate::cli::bin()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--seeds", "2", "--quiet"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{:?}", crate::cli::text(&run));

    assert_inert(
        &out.join("index.html"),
        &dir.0,
        HOSTILE_SCENARIO,
        &HOSTILE_NAMES,
    );

    // Every CSV of the report: a text cell never starts a formula, a number is left alone, and
    // the names are there behind their quote.
    let mut csvs = 0;
    let mut cells = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        csvs += 1;
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header = reader.headers().unwrap().clone();
        for record in reader.records() {
            for cell in header.iter().chain(&record.unwrap()) {
                if cell.parse::<f64>().is_err() {
                    assert!(
                        !cell.starts_with(csv_export::FORMULA_STARTS),
                        "{}: {cell:?} starts a formula",
                        path.display()
                    );
                }
                cells.push(cell.to_owned());
            }
        }
    }
    assert!(csvs >= 6, "only {csvs} CSV files");
    for name in [
        HOSTILE_POLICY,
        HOSTILE_STATIC,
        HOSTILE_PROVIDER,
        HOSTILE_FAULT,
    ] {
        assert!(
            cells.contains(&format!("'{name}")),
            "{name:?} is not a cell"
        );
    }
    assert!(
        cells
            .iter()
            .any(|c| c.starts_with('-') && c.parse::<f64>().is_ok()),
        "a negative number (a difference between the policies) keeps its sign"
    );
}
