//! "Did you mean …?": the closest allowed word to a misspelt key or value.

/// The allowed word closest to `given`, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(given: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let given_lower = given.to_ascii_lowercase();
    allowed
        .iter()
        .map(|a| (strsim::jaro_winkler(&given_lower, a), *a))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, a)| a)
}

/// `` `a`, `b` or `c` `` for messages.
pub(crate) fn one_of(allowed: &[&str]) -> String {
    match allowed {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} or `{last}`",
            init.iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The tail of an "unknown …" message: a suggestion when one is close, else the whole list.
pub(crate) fn hint(given: &str, allowed: &[&str]) -> String {
    match closest(given, allowed) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected {}", one_of(allowed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_words_only() {
        let keys = ["name", "per_room", "count", "weight", "arrival"];
        assert_eq!(closest("nmae", &keys), Some("name"));
        assert_eq!(closest("perroom", &keys), Some("per_room"));
        assert_eq!(closest("arival", &keys), Some("arrival"));
        assert_eq!(closest("zzz", &keys), None);
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(hint("zzz", &["a", "b"]), "expected `a` or `b`");
    }
}
