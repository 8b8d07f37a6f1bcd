//! Access/secret key pairs and where they come from (flags, environment, a credentials file).
//!
//! The secret key is wrapped so that it cannot reach a log line, a report or an error message by
//! accident: it has no `Display`, its `Debug` is redacted, and errors about a credentials file
//! name the file and position but never echo its content.

use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable read for the access key when no flag gives one.
pub const ACCESS_KEY_ENV: &str = "ROOMSTORM_ACCESS_KEY";
/// Environment variable read for the secret key when no flag gives one.
pub const SECRET_KEY_ENV: &str = "ROOMSTORM_SECRET_KEY";

/// A secret key: usable for HMACs, never printable.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Box<str>);

impl SecretKey {
    /// Wraps a secret; the caller gives up the plain string.
    pub fn new(secret: impl Into<Box<str>>) -> Self {
        Self(secret.into())
    }

    /// The key bytes, for computing an HMAC and nothing else.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// An access key (public identity) with its secret key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPair {
    /// Public part: appears in tokens and `Authorization` headers.
    pub access_key: String,
    /// Private part: signs tokens and requests.
    pub secret_key: SecretKey,
}

impl KeyPair {
    /// A pair from its two parts.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<Box<str>>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: SecretKey::new(secret_key),
        }
    }

    /// A fresh random pair, for an embedded server whose clients live in the same process.
    pub fn random() -> Self {
        Self::new(
            format!("rs{}", crate::ids::random_hex(8)),
            crate::ids::random_hex(20),
        )
    }
}

/// Why no usable key pair was found; never carries the secret itself.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Neither flags, environment nor a file supplied a key.
    #[error(
        "no {0} given: pass --access-key/--secret-key, set {ACCESS_KEY_ENV}/{SECRET_KEY_ENV}, or pass --credentials FILE"
    )]
    Missing(&'static str),
    /// The credentials file could not be read.
    #[error("cannot read credentials file {path}: {source}")]
    Read {
        /// The file named by `--credentials`.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The credentials file is not the expected shape (content deliberately not echoed).
    #[error(
        "{path}:{line}:{column}: expected a YAML mapping with string keys `access_key` and `secret_key`"
    )]
    Format {
        /// The file named by `--credentials`.
        path: PathBuf,
        /// 1-based line of the problem (1 when unknown).
        line: usize,
        /// 1-based column of the problem (1 when unknown).
        column: usize,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    access_key: String,
    secret_key: String,
}

/// Loads a credentials file: YAML `access_key: …` and `secret_key: …`.
pub fn load_file(path: &Path) -> Result<KeyPair, CredentialsError> {
    let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_file(path, &text)
}

fn parse_file(path: &Path, text: &str) -> Result<KeyPair, CredentialsError> {
    match serde_norway::from_str::<CredentialsFile>(text) {
        Ok(file) if !file.access_key.is_empty() && !file.secret_key.is_empty() => {
            Ok(KeyPair::new(file.access_key, file.secret_key))
        }
        Ok(_) => Err(CredentialsError::Format {
            path: path.to_owned(),
            line: 1,
            column: 1,
        }),
        Err(err) => {
            let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
            Err(CredentialsError::Format {
                path: path.to_owned(),
                line,
                column,
            })
        }
    }
}

/// Key pair options shared by every command that signs or verifies.
#[derive(clap::Args, Clone, Default)]
pub struct KeyArgs {
    /// Access key (public part of the key pair).
    #[arg(long, env = ACCESS_KEY_ENV)]
    pub access_key: Option<String>,
    /// Secret key. Prefer the environment or --credentials: flags are visible to other local users.
    #[arg(long, env = SECRET_KEY_ENV, hide_env_values = true)]
    pub secret_key: Option<String>,
    /// YAML file with `access_key` and `secret_key`, used when the flags/environment give none.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

impl fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyArgs")
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl KeyArgs {
    /// Resolves the pair: flags or environment first, then the credentials file.
    pub fn resolve(&self) -> Result<KeyPair, CredentialsError> {
        match self.resolve_optional()? {
            Some(pair) => Ok(pair),
            None if self.access_key.is_none() => Err(CredentialsError::Missing("access key")),
            None => Err(CredentialsError::Missing("secret key")),
        }
    }

    /// Like [`KeyArgs::resolve`], but `None` when nothing at all was given.
    pub fn resolve_optional(&self) -> Result<Option<KeyPair>, CredentialsError> {
        if let (Some(ak), Some(sk)) = (&self.access_key, &self.secret_key) {
            return Ok(Some(KeyPair::new(ak.clone(), sk.clone())));
        }
        if let Some(path) = &self.credentials {
            return load_file(path).map(Some);
        }
        match (&self.access_key, &self.secret_key) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(CredentialsError::Missing("secret key")),
            _ => Err(CredentialsError::Missing("access key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let pair = KeyPair::new("AK", "very-secret-value");
        let shown = format!("{pair:?} {:?}", pair.secret_key);
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("AK"));
    }

    #[test]
    fn parsed_arguments_debug_without_the_secret() {
        let args = KeyArgs {
            access_key: Some("AK".into()),
            secret_key: Some("hunter2".into()),
            credentials: None,
        };
        let shown = format!("{args:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn file_errors_name_the_position_but_not_the_content() {
        let path = Path::new("creds.yaml");
        let err = parse_file(path, "access_key: AK\nsecret_key: [hunter2]\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("creds.yaml:2:"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let pair = parse_file(path, "access_key: AK\nsecret_key: s3\n").unwrap();
        assert_eq!(pair.access_key, "AK");
        assert_eq!(pair.secret_key.expose_bytes(), b"s3");
    }

    #[test]
    fn flags_win_over_file_and_half_a_pair_is_an_error() {
        let args = KeyArgs {
            access_key: Some("AK".into()),
            secret_key: Some("SK".into()),
            credentials: Some("/nonexistent".into()),
        };
        assert_eq!(args.resolve().unwrap().access_key, "AK");
        let half = KeyArgs {
            access_key: Some("AK".into()),
            ..Default::default()
        };
        assert!(matches!(
            half.resolve(),
            Err(CredentialsError::Missing("secret key"))
        ));
        assert!(KeyArgs::default().resolve_optional().unwrap().is_none());
    }
}
