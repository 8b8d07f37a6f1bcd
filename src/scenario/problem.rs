//! What validation reports: one [`Problem`] per mistake, with its file position and key path,
//! gathered into [`ScenarioErrors`] so a user fixes a whole file in one round.

use std::fmt;

/// One mistake in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line of the offending value (or key, for unknown and duplicate keys).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Where in the document, e.g. `groups[0].arrival.ramp.over`; `(syntax)` for YAML errors.
    pub path: String,
    /// What was expected, never echoing a credential.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.path, self.message
        )
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioErrors {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read scenario {file}: {source}")]
    Unreadable {
        /// The file as the user named it.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read and has these problems, sorted by position.
    #[error("{}", Lines(.0))]
    Invalid(Vec<Problem>),
}

impl ScenarioErrors {
    /// The problems found (empty for an unreadable file), so callers and tests can inspect them.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioErrors::Unreadable { .. } => &[],
            ScenarioErrors::Invalid(p) => p,
        }
    }

    /// Sorts problems by position (stable, so problems at one spot keep the order found) and
    /// wraps them.
    pub(crate) fn invalid(mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| (p.line, p.column));
        problems.dedup();
        ScenarioErrors::Invalid(problems)
    }
}

struct Lines<'a>(&'a [Problem]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
