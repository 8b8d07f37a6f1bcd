//! Generator self-health through the real binary: a deliberately starved generator (one worker,
//! a burst of 1000 participants at t=0, a 1 ms lateness limit) is marked generator-limited in the
//! summary, the terminal report and JUnit, and exits 3 with `generator.fail`; a gentle run with
//! generous limits is not limited.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::scratch::ScratchDir as Scratch;

/// Runs `scenario` with one worker; returns the exit code, the run folder and stdout.
fn run(dir: &Path, name: &str, scenario: &str) -> (i32, PathBuf, String) {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, scenario).unwrap();
    common::run_scenario_file(&file, &dir.join(name), &["--quiet", "--workers", "1"])
}

fn summary(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_starved_generator_is_marked_generator_limited_and_exits_3() {
    let s = Scratch::new("generator-starved");
    let starved = "version: 1
name: starved
deadline: 30s
leave_grace: 5s
rooms: { count: 100 }
generator: { max_lateness_p99: 1ms, fail: true }
groups:
  - name: member
    per_room: 10
    arrival: { burst: { at: 0s } }
    script: [join, { hold: 500ms }, leave]
";
    let (code, dir, output) = run(s.path(), "starved", starved);
    assert_eq!(
        code, 3,
        "generator-limited with generator.fail exits 3\n{output}"
    );
    let j = summary(&dir);
    let g = &j["generator"];
    assert_eq!(g["limited"], true, "{g}");
    assert_eq!(g["limits"]["max_lateness_p99_us"], 1000);
    assert_eq!(g["limits"]["fail"], true);
    let intervals = g["intervals"].as_array().unwrap();
    assert!(!intervals.is_empty(), "{g}");
    for i in intervals {
        assert!(!i["cause"].as_str().unwrap().is_empty(), "{i}");
        assert!(!i["exceeded"].as_array().unwrap().is_empty(), "{i}");
    }
    // 1000 starts in one burst: the interval that started them was late by far more than 1 ms.
    let first = &intervals[0];
    assert!(first["lateness_p99_us"].as_u64().unwrap() > 1000, "{first}");
    // Every participant was started and measured, and each series row has the health figures.
    assert_eq!(j["latency"]["lateness"]["count"], 1000);
    assert!(j["latency"]["loop_lag"]["count"].as_u64().unwrap() > 0);
    let rows = j["series"].as_array().unwrap();
    assert!(rows.iter().all(|r| r.get("handshakes_waiting").is_some()));
    assert!(
        rows.iter().any(|r| r["latency"].get("loop_lag").is_some()),
        "the probe records loop lag every 100 ms"
    );
    // The verdict itself is the target's: the run is not failed for being generator-limited.
    assert_ne!(j["verdict"], "interrupted");
    assert!(
        output.contains("GENERATOR-LIMITED: interval ending at"),
        "{output}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("classname=\"roomstorm.starved.generator\" name=\"generator not limited\""),
        "{junit}"
    );
    assert!(
        junit.contains("<failure message=\"GENERATOR-LIMITED"),
        "{junit}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("GENERATOR-LIMITED"), "the page says it too");
}

#[test]
fn a_gentle_run_with_generous_limits_is_not_limited() {
    let s = Scratch::new("generator-relaxed");
    let relaxed = "version: 1
name: relaxed
deadline: 30s
rooms: { count: 2 }
generator: { max_lateness_p99: 5s, max_loop_lag_p99: 5s, max_cpu: 100%, fail: true }
groups:
  - name: member
    per_room: 5
    arrival: { ramp: { over: 2s } }
    script: [join, { hold: 500ms }, leave]
";
    let (code, dir, output) = run(s.path(), "relaxed", relaxed);
    assert_eq!(code, 0, "{output}");
    let j = summary(&dir);
    assert_eq!(j["generator"]["limited"], false, "{}", j["generator"]);
    assert_eq!(j["generator"]["intervals"].as_array().unwrap().len(), 0);
    assert_eq!(j["latency"]["lateness"]["count"], 10);
    assert!(!output.contains("GENERATOR-LIMITED"), "{output}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("name=\"generator not limited\" time=\"0\"/>"),
        "a passed case\n{junit}"
    );
}
