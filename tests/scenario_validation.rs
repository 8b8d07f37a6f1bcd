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
            Ok(_) => format!("(validated without problems)"),
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
