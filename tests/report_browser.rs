//! Opens a rendered `report.html` in headless Chromium: the page loads offline with no console
//! message (the report has no scripts, so any message is a blocked fetch or a broken element),
//! every chart is an `<svg>` in the live DOM, and a screenshot lands in the run folder for a
//! person to look at. Skips, saying so, only when `/usr/bin/chromium` is absent
//! (`apt-get install -y chromium`; `scripts/websdk-smoke.sh` installs it too).

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

fn run_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("roomstorm-report-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn report_opens_offline_without_console_messages() {
    if !Path::new(CHROMIUM).exists() {
        // The test command installs chromium first and sets this, so CI can never skip.
        assert!(
            std::env::var_os("ROOMSTORM_REQUIRE_BROWSER").is_none(),
            "{CHROMIUM} is missing but ROOMSTORM_REQUIRE_BROWSER is set"
        );
        eprintln!(
            "SKIPPED: {CHROMIUM} is not installed (apt-get update && apt-get install -y chromium)"
        );
        return;
    }
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/summary/full-room.json");
    let summary = roomstorm::report::read_summary(&fixture).expect("fixture reads");
    let dir = run_dir();
    let page = roomstorm::report::html::write_report(&summary, &dir).expect("report written");

    let (dom, log) = chromium(&["--dump-dom"], &page);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    for stem in CHARTS {
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
    assert_eq!(dom.matches("<svg").count(), CHARTS.len());
    assert!(dom.contains("full-room-10011"));

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
