//! Exit codes and the error type commands return to `main`.
//!
//! The codes are a stable contract for CI: a threshold failure must never look like a typo in a
//! scenario, and neither may look like an unreachable target.

/// Everything passed (or the command did what was asked).
pub const EXIT_OK: u8 = 0;
/// The command ran, and what it checked failed (thresholds, expectations, an invalid token).
pub const EXIT_FAILED: u8 = 1;
/// The input was invalid (bad flags, scenario, config, token syntax); nothing was run.
pub const EXIT_INVALID_INPUT: u8 = 2;
/// The command could not complete (target unreachable, port in use, interrupted).
pub const EXIT_INCOMPLETE: u8 = 3;

/// A command's failure, carrying the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Exit 1: the check the command performs failed.
    #[error("{0}")]
    Failed(String),
    /// Exit 2: bad input.
    #[error("{0}")]
    InvalidInput(String),
    /// Exit 3: could not complete.
    #[error("{0}")]
    Incomplete(String),
}

impl CommandError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Failed(_) => EXIT_FAILED,
            CommandError::InvalidInput(_) => EXIT_INVALID_INPUT,
            CommandError::Incomplete(_) => EXIT_INCOMPLETE,
        }
    }
}

impl From<crate::credentials::CredentialsError> for CommandError {
    fn from(e: crate::credentials::CredentialsError) -> Self {
        CommandError::InvalidInput(e.to_string())
    }
}
