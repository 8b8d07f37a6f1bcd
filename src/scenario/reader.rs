//! Typed reads from the raw tree that record a problem (with position and path) instead of
//! failing: the validator asks for "a duration at `deadline`" and gets `None` plus a problem when
//! the file holds something else, then carries on to find the next mistake.

use std::time::Duration;

use super::problem::Problem;
use super::raw::{Mark, Node, Value};
use super::suggest;

/// A node and its key path, e.g. `groups[1].arrival`.
#[derive(Debug, Clone)]
pub(crate) struct Field<'a> {
    /// The value.
    pub node: &'a Node,
    /// Where it sits.
    pub path: String,
}

impl<'a> Field<'a> {
    /// Where the value starts.
    pub fn mark(&self) -> Mark {
        self.node.mark
    }

    /// The path of a key below this one.
    pub fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

/// A mapping whose keys were checked: no duplicates, none unknown.
#[derive(Debug, Clone)]
pub(crate) struct Map<'a> {
    /// The mapping itself.
    pub field: Field<'a>,
    entries: Vec<(&'a str, Mark, &'a Node)>,
}

impl<'a> Map<'a> {
    /// The value at `key`, when present.
    pub fn get(&self, key: &str) -> Option<Field<'a>> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(k, _, node)| Field {
                node,
                path: self.field.child(k),
            })
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| *k == key)
    }

    /// Where `key` is written (the mapping's start when absent).
    pub fn key_mark(&self, key: &str) -> Mark {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(self.field.mark(), |(_, m, _)| *m)
    }

    /// The value at `key`, or a "missing" problem naming what belongs there.
    pub fn required(&self, r: &mut Reader, key: &str, what: &str) -> Option<Field<'a>> {
        let found = self.get(key);
        if found.is_none() {
            r.problem(
                self.field.mark(),
                &self.field.child(key),
                format!("missing required key `{key}` ({what})"),
            );
        }
        found
    }

    /// All entries in file order, with each key's position.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Mark, Field<'a>)> + '_ {
        self.entries.iter().map(|(k, m, node)| {
            (
                *k,
                *m,
                Field {
                    node,
                    path: self.field.child(k),
                },
            )
        })
    }

    /// The single key of `keys` that is present: a problem when none or several are.
    pub fn exactly_one(
        &self,
        r: &mut Reader,
        keys: &[&'static str],
    ) -> Option<(&'static str, Field<'a>)> {
        let present: Vec<&'static str> = keys.iter().copied().filter(|k| self.has(k)).collect();
        match present.as_slice() {
            [] => {
                r.problem(
                    self.field.mark(),
                    &self.field.path,
                    format!("expected one of {}", suggest::one_of(keys)),
                );
                None
            }
            [one] => self.get(one).map(|f| (*one, f)),
            [first, rest @ ..] => {
                for other in rest {
                    r.problem(
                        self.key_mark(other),
                        &self.field.child(other),
                        format!(
                            "`{other}` conflicts with `{first}`: give only one of {}",
                            suggest::one_of(keys)
                        ),
                    );
                }
                None
            }
        }
    }
}

/// Collects problems while reading one file.
pub(crate) struct Reader<'e> {
    file: String,
    problems: Vec<Problem>,
    /// Environment lookup for `${NAME}`.
    pub env: &'e dyn Fn(&str) -> Option<String>,
    /// The target's driver, once `target` is read: what it cannot produce is refused where
    /// the scenario expects it.
    pub driver: crate::scenario::DriverKind,
    /// Whether the target checks tokens (a Janus target without `token_secret` does not), so
    /// that bad and expired tokens can be refused at all.
    pub tokens_checked: bool,
    /// Whether the group being read publishes media (Janus answers a publisher beyond the
    /// room's limit with 432, which is 10011: only such groups may expect it on Janus).
    pub publishes: bool,
}

impl<'e> Reader<'e> {
    /// Whether the target's driver carries media (publish, subscribe).
    pub fn driver_has_media(&self) -> bool {
        crate::signaling::new_driver(self.driver).has_media()
    }

    /// A reader for `file` (as the user named it).
    pub fn new(file: &str, env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            file: file.to_string(),
            problems: Vec::new(),
            env,
            driver: crate::scenario::DriverKind::Qiniu,
            tokens_checked: true,
            publishes: false,
        }
    }

    /// Records a problem; an empty path means the document root.
    pub fn problem(&mut self, mark: Mark, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: mark.line,
            column: mark.column,
            path: if path.is_empty() {
                "(root)".into()
            } else {
                path.into()
            },
            message: message.into(),
        });
    }

    /// Whether anything was recorded so far.
    pub fn problem_count(&self) -> usize {
        self.problems.len()
    }

    /// The problems, in the order found.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    fn wrong_type(&mut self, f: &Field, expected: &str) {
        let found = f.node.describe();
        self.problem(
            f.mark(),
            &f.path,
            format!("expected {expected}, found {found}"),
        );
    }

    /// A mapping whose keys must be among `allowed` (`None`: any scalar key).
    pub fn map<'a>(&mut self, f: &Field<'a>, allowed: Option<&[&str]>) -> Option<Map<'a>> {
        let Value::Map(pairs) = &f.node.value else {
            let expected = match allowed {
                Some(keys) if !keys.is_empty() => {
                    format!("a mapping with keys {}", suggest::one_of(keys))
                }
                _ => "a mapping".into(),
            };
            self.wrong_type(f, &expected);
            return None;
        };
        let mut entries: Vec<(&'a str, Mark, &'a Node)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let Some(name) = key.scalar().map(|s| s.text.as_str()) else {
                self.problem(
                    key.mark,
                    &f.path,
                    "keys must be plain words, not lists or mappings",
                );
                continue;
            };
            if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == name) {
                let first_line = first.line;
                self.problem(
                    key.mark,
                    &f.child(name),
                    format!("duplicate key `{name}` (first given on line {first_line})"),
                );
                continue;
            }
            if let Some(keys) = allowed
                && !keys.contains(&name)
            {
                self.problem(
                    key.mark,
                    &f.child(name),
                    format!("unknown key `{name}`; {}", suggest::hint(name, keys)),
                );
                continue;
            }
            entries.push((name, key.mark, value));
        }
        Some(Map {
            field: f.clone(),
            entries,
        })
    }

    /// Like [`Reader::map`], but a null value (`key:` alone) reads as an empty mapping.
    pub fn map_or_empty<'a>(&mut self, f: &Field<'a>, allowed: &[&str]) -> Option<Map<'a>> {
        if f.node.is_null() {
            return Some(Map {
                field: f.clone(),
                entries: Vec::new(),
            });
        }
        self.map(f, Some(allowed))
    }

    /// A list; each item's path gets its `[index]`.
    pub fn seq<'a>(&mut self, f: &Field<'a>, expected: &str) -> Option<Vec<Field<'a>>> {
        let Value::Seq(items) = &f.node.value else {
            self.wrong_type(f, expected);
            return None;
        };
        Some(
            items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    node,
                    path: format!("{}[{i}]", f.path),
                })
                .collect(),
        )
    }

    /// Any scalar as text (numbers included); null and collections are refused.
    pub fn string(&mut self, f: &Field) -> Option<String> {
        match f.node.scalar() {
            Some(s) if !f.node.is_null() => Some(s.text.clone()),
            _ => {
                self.wrong_type(f, "a string");
                None
            }
        }
    }

    /// A whole number in `min..=max`, written unquoted (`_` separators allowed).
    pub fn uint(&mut self, f: &Field, min: u64, max: u64) -> Option<u64> {
        let parsed = f
            .node
            .scalar()
            .filter(|s| s.plain)
            .and_then(|s| parse_int(&s.text));
        let Some(value) = parsed else {
            self.wrong_type(f, "a whole number");
            return None;
        };
        if value < i128::from(min) {
            self.problem(
                f.mark(),
                &f.path,
                format!("must be at least {min}, found {value}"),
            );
            None
        } else if value > i128::from(max) {
            self.problem(
                f.mark(),
                &f.path,
                format!("must be at most {max}, found {value}"),
            );
            None
        } else {
            u64::try_from(value).ok()
        }
    }

    /// `true` or `false`, unquoted.
    pub fn boolean(&mut self, f: &Field) -> Option<bool> {
        match f.node.scalar() {
            Some(s) if s.plain && s.text == "true" => Some(true),
            Some(s) if s.plain && s.text == "false" => Some(false),
            _ => {
                self.wrong_type(f, "`true` or `false`");
                None
            }
        }
    }

    /// A duration string such as `500ms`, `20s` or `1m30s`; zero allowed.
    pub fn duration(&mut self, f: &Field) -> Option<Duration> {
        let text = f
            .node
            .scalar()
            .filter(|_| !f.node.is_null())
            .map(|s| s.text.trim());
        let Some(text) = text else {
            self.wrong_type(f, "a duration such as 500ms, 20s or 1m30s");
            return None;
        };
        if text.starts_with('-') {
            self.problem(
                f.mark(),
                &f.path,
                format!("durations cannot be negative, found `{text}`"),
            );
            return None;
        }
        match humantime::parse_duration(text) {
            Ok(d) => Some(d),
            Err(_) if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) => {
                self.problem(
                    f.mark(),
                    &f.path,
                    format!("`{text}` needs a unit, e.g. `{text}s` or `{text}ms`"),
                );
                None
            }
            Err(_) => {
                self.problem(
                    f.mark(),
                    &f.path,
                    format!("expected a duration such as 500ms, 20s or 1m30s, found `{text}`"),
                );
                None
            }
        }
    }

    /// A duration greater than zero.
    pub fn positive_duration(&mut self, f: &Field) -> Option<Duration> {
        let d = self.duration(f)?;
        if d.is_zero() {
            self.problem(f.mark(), &f.path, "must be greater than 0");
            return None;
        }
        Some(d)
    }

    /// A rate: `N/s`, `N/m` or a bare number (per second). Zero only when `allow_zero`.
    pub fn rate(&mut self, f: &Field, allow_zero: bool) -> Option<f64> {
        let parsed = f.node.scalar().filter(|_| !f.node.is_null()).and_then(|s| {
            let text = s.text.trim();
            let (number, per) = match text.split_once('/') {
                Some((n, unit)) => (n.trim(), unit_seconds(unit.trim())?),
                None if s.plain => (text, 1.0),
                None => return None,
            };
            let n: f64 = number.parse().ok()?;
            n.is_finite().then_some(n / per)
        });
        let Some(rate) = parsed else {
            self.wrong_type(f, "a rate such as 100/s, 30/m or a number per second");
            return None;
        };
        if rate < 0.0 || (rate == 0.0 && !allow_zero) {
            let bound = if allow_zero {
                "at least 0"
            } else {
                "greater than 0"
            };
            self.problem(f.mark(), &f.path, format!("rate must be {bound}"));
            return None;
        }
        Some(rate)
    }

    /// A share of a whole: `30%` (0 to 100 percent) or a plain number in `0..=1`; zero only
    /// when `allow_zero`. Faults use it for "how many of the participants or rooms".
    pub fn share(&mut self, f: &Field, allow_zero: bool) -> Option<f64> {
        let scalar = f.node.scalar().filter(|_| !f.node.is_null());
        let parsed = scalar.and_then(|s| {
            let text = s.text.trim();
            match text.strip_suffix('%') {
                Some(number) => {
                    let n: f64 = number.trim().parse().ok()?;
                    n.is_finite().then_some((n / 100.0, true, text))
                }
                None if s.plain => {
                    let n: f64 = text.parse().ok()?;
                    n.is_finite().then_some((n, false, text))
                }
                None => None,
            }
        });
        let Some((share, percent, text)) = parsed else {
            self.wrong_type(f, "a share such as 30% or a number from 0 to 1");
            return None;
        };
        let (low, high) = if percent { ("0%", "100%") } else { ("0", "1") };
        if share < 0.0 {
            self.problem(
                f.mark(),
                &f.path,
                format!("must be at least {low}, found `{text}`"),
            );
            return None;
        }
        if share > 1.0 {
            self.problem(
                f.mark(),
                &f.path,
                format!("must be at most {high}, found `{text}`"),
            );
            return None;
        }
        if share == 0.0 && !allow_zero {
            self.problem(
                f.mark(),
                &f.path,
                format!("a share of {low} hits nothing: raise it or remove the fault"),
            );
            return None;
        }
        Some(share)
    }

    /// One of `allowed` words (index into it), with a suggestion when misspelt.
    pub fn word(&mut self, f: &Field, allowed: &[&str]) -> Option<usize> {
        let text = f
            .node
            .scalar()
            .filter(|_| !f.node.is_null())
            .map(|s| s.text.as_str());
        match text.and_then(|t| allowed.iter().position(|a| *a == t)) {
            Some(i) => Some(i),
            None => {
                let message = match text {
                    Some(t) => format!("unknown value `{t}`; {}", suggest::hint(t, allowed)),
                    None => format!(
                        "expected {}, found {}",
                        suggest::one_of(allowed),
                        f.node.describe()
                    ),
                };
                self.problem(f.mark(), &f.path, message);
                None
            }
        }
    }
}

fn parse_int(text: &str) -> Option<i128> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, digits),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let value: i128 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -value } else { value })
}

fn unit_seconds(unit: &str) -> Option<f64> {
    match unit {
        "s" | "sec" => Some(1.0),
        "m" | "min" => Some(60.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_separators_and_sign() {
        assert_eq!(parse_int("1_000_000"), Some(1_000_000));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("+7"), Some(7));
        for bad in [
            "",
            "_1",
            "1_",
            "1.5",
            "0x10",
            "ten",
            "99999999999999999999999999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }
}
