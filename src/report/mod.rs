//! Results of a run: the summary value and its renderings: terminal table, `summary.json`,
//! `junit.xml`, HdrHistogram logs, charts and the HTML report; and baseline comparison.

pub mod charts;
pub mod compare;
pub mod generator;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod media;
pub mod summary;
pub mod text;

use std::path::{Path, PathBuf};

pub use summary::{Summary, Verdict};

/// The JSON Schema of `summary.json` (committed as `reports/schema.json`).
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(Summary)
}

/// Reads the `summary.json` of a run folder (what `report` and `compare` start from).
pub fn read_summary(dir: &Path) -> Result<Summary, String> {
    let path = if dir.is_dir() {
        dir.join("summary.json")
    } else {
        dir.to_path_buf()
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a roomstorm summary: {e}", path.display()))
}

/// Writes everything derived from the summary into the run folder: `junit.xml` and the `.hlog`
/// files (the HTML report and charts too, once rendered). `roomstorm report` calls this again on
/// a stored summary, so every output can be re-rendered after the fact.
pub fn write_derived(summary: &Summary, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let junit = dir.join("junit.xml");
    std::fs::write(&junit, junit::render(summary))
        .map_err(|e| format!("cannot write {}: {e}", junit.display()))?;
    written.push(junit);
    written.extend(hlog::write_all(summary, dir)?);
    // A comparison stored by `run --baseline` stays part of the page when it is re-rendered.
    let mut sections = Vec::new();
    let stored = dir.join(COMPARISON_FILE);
    if let Ok(text) = std::fs::read_to_string(&stored) {
        let c: compare::Comparison =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", stored.display()))?;
        sections.push(compare::html_section(&c));
    }
    written.push(html::write_report_with(summary, dir, &sections).map_err(|e| e.to_string())?);
    Ok(written)
}

/// Where `run --baseline` keeps its comparison inside the run folder.
pub const COMPARISON_FILE: &str = "compare.json";

/// Writes `summary.json` into `dir` (created if needed); returns the file's path.
pub fn write_json(dir: &Path, summary: &Summary) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("summary.json");
    let text = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
    let tmp = dir.join(".summary.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
