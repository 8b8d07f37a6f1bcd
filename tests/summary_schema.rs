//! `reports/schema.json` is the JSON Schema of `summary.json`: generated from the Rust types (so
//! it cannot drift from them) and checked against the output of a real run.

use std::path::PathBuf;
use std::process::Command;

fn committed_schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reports/schema.json")
}

fn generated() -> serde_json::Value {
    serde_json::to_value(roomstorm::report::schema()).unwrap()
}

#[test]
fn the_committed_schema_is_the_one_the_types_generate() {
    let generated = generated();
    if std::env::var_os("ROOMSTORM_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(committed_schema_path(), text).unwrap();
    }
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed_schema_path()).unwrap()).unwrap();
    assert_eq!(
        committed, generated,
        "reports/schema.json is stale: rerun with ROOMSTORM_BLESS=1"
    );
}

#[test]
fn a_real_summary_is_valid_against_the_schema_and_a_broken_one_is_not() {
    let dir = std::env::temp_dir().join(format!("roomstorm-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.yaml");
    std::fs::write(
        &scenario,
        "version: 1
name: schema-check
deadline: 20s
target: { embedded: { max_users: 2 } }
rooms: { count: 2 }
groups:
  - name: member
    per_room: 3
    arrival: { ramp: { over: 500ms } }
    script: [{ join: { expect: [0, 10011] } }, { hold: 1s }, leave]
",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .arg("run")
        .arg(&scenario)
        .arg("--quiet")
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let validator = jsonschema::draft202012::new(&generated()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(summary["outcomes"]["by_outcome"]["10011"]["expected"], 2);
    let mut broken = summary.clone();
    broken["conservation"]["scheduled"] = serde_json::json!("six");
    assert!(!validator.is_valid(&broken));
    let mut missing = summary;
    missing.as_object_mut().unwrap().remove("verdict");
    assert!(!validator.is_valid(&missing));
}

#[test]
fn the_committed_example_report_matches_the_schema_and_re_renders() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("reports/example/summary.json");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&example).unwrap()).unwrap();
    let validator = jsonschema::draft202012::new(&generated()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "reports/example is stale: {errors:#?}");
    // Re-rendering it (into a copy) works from the stored summary alone.
    let dir = std::env::temp_dir().join(format!("roomstorm-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&example, dir.join("summary.json")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "report.html",
        "junit.xml",
        "hlog/join.hlog",
        "charts/latency-percentiles.svg",
        "charts/latency-percentiles.png",
    ] {
        assert!(dir.join(file).exists(), "{file}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
