//! The HTML report as a person sees it: a small simulated two-policy run rendered to
//! `index.html`, opened in headless Chromium, and the screenshot checked for the charts.
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
use failover_lab::report::{html, palette};

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
            providers: config.providers.clone(),
            routes: config.routes.iter().map(|r| r.label.clone()).collect(),
        },
        seed: 3,
        policies,
        experiment: None,
        replications: Vec::new(),
        comparisons: Vec::new(),
        run: None,
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

/// Runs headless Chromium on `page` and returns the screenshot's path; fails the test with a
/// way to fix it when Chromium is missing, fails, or hangs.
fn screenshot(page: &Path, dir: &Path) -> PathBuf {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: the report screenshot test needs Debian's chromium. \
         Install it with `apt-get update && apt-get install -y chromium` (CI does so in .ci/run)."
    );
    let shot = dir.join("screenshot.png");
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
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
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
            panic!("{CHROMIUM} did not finish its screenshot within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{CHROMIUM} failed: {status}");
    assert!(shot.exists(), "{CHROMIUM} wrote no screenshot");
    shot
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
