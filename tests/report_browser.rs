//! Opens a rendered `report.html` in headless Chromium: the page loads offline with no console
//! message (the report has no scripts, so any message is a blocked fetch or a broken element),
//! every chart is an `<svg>` in the live DOM, and a screenshot lands in the run folder for a
//! person to look at; the media fixture's page shows its media charts too. Skips, saying so,
//! only when `/usr/bin/chromium` is absent (`apt-get install -y chromium`;
//! `scripts/websdk-smoke.sh` installs it too).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHARTS: [&str; 6] = [
    "latency-percentiles",
    "latency-over-time",
    "participants-by-state",
    "arrivals-and-joins",
    "join-errors",
    "generator-lateness",
];
/// The media section's charts, after [`CHARTS`] in a run that moved media.
const MEDIA_CHARTS: [&str; 6] = roomstorm::report::charts::media::STEMS;

fn chromium(args: &[&str], page: &Path) -> (String, String) {
    let profile = page.with_file_name("chromium-profile");
    // Files, not pipes: the dumped DOM outgrows a pipe buffer while we wait on the process.
    let stdout_path = page.with_file_name("chromium.stdout");
    let stderr_path = page.with_file_name("chromium.stderr");
    let file = |p: &Path| std::fs::File::create(p).expect("log file");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(file(&stdout_path))
        .stderr(file(&stderr_path))
        .spawn()
        .expect("chromium starts");
    // A hung browser must fail the test, not the CI job's clock.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on chromium") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    (stdout, stderr)
}

fn run_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "roomstorm-report-browser-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Whether the browser is there; panics where CI requires it, says SKIPPED otherwise.
fn browser_present() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    // The test command installs chromium first and sets this, so CI can never skip.
    assert!(
        std::env::var_os("ROOMSTORM_REQUIRE_BROWSER").is_none(),
        "{CHROMIUM} is missing but ROOMSTORM_REQUIRE_BROWSER is set"
    );
    eprintln!(
        "SKIPPED: {CHROMIUM} is not installed (apt-get update && apt-get install -y chromium)"
    );
    false
}

/// Renders `fixture`'s report, opens it, and checks every one of `charts` is an inline `<svg>`,
/// no console message shows, and the page names `scenario`; leaves a screenshot beside it.
fn opens_offline(name: &str, fixture: &str, charts: &[&str], scenario: &str) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture);
    let summary = roomstorm::report::read_summary(&fixture).expect("fixture reads");
    let dir = run_dir(name);
    let page = roomstorm::report::html::write_report(&summary, &dir).expect("report written");

    let (dom, log) = chromium(&["--dump-dom"], &page);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    for stem in charts {
        let figure = dom
            .find(&format!("<figure id=\"chart-{stem}\">"))
            .unwrap_or_else(|| panic!("no figure for {stem}"));
        assert!(
            dom[figure..]
                .trim_start_matches(|c| c != '\n')
                .trim_start()
                .starts_with("<svg"),
            "{stem} is not an inline svg"
        );
    }
    assert_eq!(dom.matches("<svg").count(), charts.len());
    assert!(dom.contains(scenario));

    let shot = dir.join("report-screenshot.png");
    let (_, log) = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,7200",
            "--hide-scrollbars",
        ],
        &page,
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    eprintln!("screenshot: {}", shot.display());
    let _ = std::fs::remove_dir_all(dir.join("chromium-profile"));
}

#[test]
fn report_opens_offline_without_console_messages() {
    if browser_present() {
        opens_offline(
            "full-room",
            "tests/fixtures/summary/full-room.json",
            &CHARTS,
            "full-room-10011",
        );
    }
}

#[test]
fn a_media_report_opens_offline_with_its_media_charts() {
    if !browser_present() {
        return;
    }
    let charts: Vec<&str> = CHARTS.iter().chain(MEDIA_CHARTS.iter()).copied().collect();
    opens_offline(
        "media-room",
        "tests/fixtures/summary/media-room.json",
        &charts,
        "janus-media-room",
    );
}
