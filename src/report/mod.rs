//! Results of a run: the summary value and its renderings (terminal table, `summary.json`).

pub mod charts;
pub mod html;
pub mod summary;
pub mod text;

use std::path::{Path, PathBuf};

pub use summary::{Summary, Verdict};

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
