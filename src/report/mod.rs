//! Results of a run: the summary value and its renderings (terminal table, `summary.json`).

pub mod summary;
pub mod text;

use std::path::{Path, PathBuf};

pub use summary::{Summary, Verdict};

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
