//! Scenario validation against fixtures: every file in `tests/fixtures/bad/` must produce exactly
//! the problems in its sibling `.expected` file (one per line, file:line:column: path: message),
//! and every file in `tests/fixtures/good/` must validate.
//!
//! After a deliberate change of wording, `ROOMSTORM_BLESS=1 cargo test --test
//! scenario_validation` rewrites the `.expected` files; review the diff before committing.

use std::path::{Path, PathBuf};

use roomstorm::scenario::{self, ScenarioErrors};

/// The environment the fixtures see: only these two variables are set.
fn env(name: &str) -> Option<String> {
    match name {
        "ROOMSTORM_TEST_ACCESS_KEY" => Some("test-ak".into()),
        "ROOMSTORM_TEST_SECRET_KEY" => Some("test-secret-never-printed".into()),
        _ => None,
    }
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_bad_fixture_reports_exactly_its_expected_problems() {
    let bless = std::env::var_os("ROOMSTORM_BLESS").is_some();
    let files = fixtures("bad");
    assert!(files.len() >= 12, "only {} bad fixtures", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = file_name(path);
        let text = std::fs::read_to_string(path).unwrap();
        let got = match scenario::parse(&text, &name, &env) {
            Ok(_) => "(validated without problems)".to_string(),
            Err(e) => e.to_string(),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, format!("{got}\n")).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no {}", name, expected_path.display()));
        if got != expected.trim_end_matches('\n') {
            failures.push(format!("{name}\n  expected:\n{expected}\n  got:\n{got}\n"));
        }
        assert!(
            !got.contains("test-secret"),
            "{name}: a credential reached a message"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_expected_file_has_its_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "expected") {
            assert!(
                path.with_extension("yaml").exists(),
                "{} is orphaned",
                path.display()
            );
        }
    }
}

#[test]
fn every_good_fixture_validates() {
    let files = fixtures("good");
    assert!(!files.is_empty());
    let env = |name: &str| match name {
        "TEST_AK" | "TEST_SK" => Some("x".to_string()),
        other => env(other),
    };
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = scenario::parse(&text, &file_name(&path), &env) {
            panic!("{e}");
        }
    }
}

#[test]
fn load_names_the_file_in_problems_and_io_errors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/missing-key.yaml");
    let err = scenario::load(&path).unwrap_err();
    let shown = path.display().to_string();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].file, shown);
    assert!(
        err.to_string()
            .starts_with(&format!("{shown}:1:1: deadline: ")),
        "{err}"
    );

    let missing = Path::new("no/such/scenario.yaml");
    let err = scenario::load(missing).unwrap_err();
    assert!(matches!(err, ScenarioErrors::Unreadable { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read scenario no/such/scenario.yaml: "),
        "{err}"
    );
}

fn roomstorm(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TEST_AK", "ak")
        .env("TEST_SK", "sk")
        .env_remove("ROOMSTORM_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_command_prints_ok_lines_and_problems_and_exits_2() {
    let (code, stdout, stderr) = roomstorm(&[
        "validate",
        "tests/fixtures/good/full.yaml",
        "tests/fixtures/bad/joins-twice.yaml",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stdout,
        "ok tests/fixtures/good/full.yaml: full.example: 5 groups, 97 participants in 10 rooms\n"
    );
    assert_eq!(
        stderr,
        "tests/fixtures/bad/joins-twice.yaml:13:9: groups[0].script[2]: `join` while already in the room: add `leave` before it\n\
         roomstorm: 1 of 2 scenario files invalid\n"
    );
    let (code, stdout, _) = roomstorm(&["validate", "tests/fixtures/good/minimal.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "ok tests/fixtures/good/minimal.yaml: minimal: 1 group, 2 participants in 1 room\n"
    );
}

#[test]
fn schema_command_prints_the_schema() {
    let (code, stdout, stderr) = roomstorm(&["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, scenario::schema::json_schema());
    assert_eq!(
        printed["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}
