//! `${NAME}` substitution from the environment, for the credential values of a scenario.
//!
//! Only the two credential strings are interpolated, so a `$` anywhere else is plain text.
//! Messages name variables, never their values.

/// Replaces `${NAME}` with `env(NAME)` and `$$` with `$`; a `$` before anything else stays as is.
/// Errors are messages, one per unset variable or malformed reference.
pub(crate) fn interpolate(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(close) = inner.find('}') else {
                errors.push("unclosed `${`: write `${NAME}`, or `$$` for a literal `$`".into());
                rest = "";
                break;
            };
            let name = &inner[..close];
            if !valid_name(name) {
                errors.push(format!(
                    "`${{{name}}}` is not a variable name: expected letters, digits and `_`, not starting with a digit"
                ));
            } else {
                match env(name) {
                    Some(value) => out.push_str(&value),
                    None => errors.push(format!("environment variable {name} is not set")),
                }
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "v$1".to_string())
    }

    #[test]
    fn substitutes_escapes_and_reports() {
        assert_eq!(interpolate("${KEY}", &env).unwrap(), "v$1");
        assert_eq!(interpolate("a$$b${KEY}c", &env).unwrap(), "a$bv$1c");
        assert_eq!(interpolate("price $5", &env).unwrap(), "price $5");
        assert_eq!(
            interpolate("${NOPE}-${ALSO}", &env).unwrap_err(),
            vec![
                "environment variable NOPE is not set".to_string(),
                "environment variable ALSO is not set".to_string()
            ]
        );
        assert!(interpolate("${KEY", &env).unwrap_err()[0].contains("unclosed"));
        assert!(interpolate("${1X}", &env).unwrap_err()[0].contains("not a variable name"));
    }
}
