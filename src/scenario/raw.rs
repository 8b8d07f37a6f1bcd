//! The raw document: YAML text parsed into a tree whose every node remembers its line and column.
//!
//! serde-based YAML loaders stop at the first error and forget positions once a value is
//! deserialized, so the validator walks this tree instead. Built from `yaml-rust2`'s marked event
//! stream with an explicit stack (no recursion on input depth). Duplicate keys are kept here and
//! reported by the reader, which knows their path. Aliases are expanded, within a node budget, so
//! an alias bomb is refused instead of exhausting memory.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; a scenario needs about eight levels.
const MAX_DEPTH: usize = 64;
/// Most nodes accepted after alias expansion.
const MAX_NODES: usize = 200_000;

/// A 1-based position in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Mark {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl From<Marker> for Mark {
    fn from(m: Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Mark {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }
}

/// A scalar as written: its text and whether it was quoted or a block (then always a string).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    /// The text after YAML unescaping.
    pub text: String,
    /// Plain (unquoted) scalars may be numbers, booleans or null; quoted ones are strings.
    pub plain: bool,
}

/// The shape of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order, duplicates kept.
    Map(Vec<(Node, Node)>),
}

/// A node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Its content.
    pub value: Value,
    /// Its start.
    pub mark: Mark,
}

impl Node {
    /// `~`, `null` or nothing at all (`key:` with no value).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value of `key`, if this is a mapping that has it (the first, when repeated).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar().is_some_and(|s| s.text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Words for "found …" in messages; scalars are quoted, and truncated to stay readable.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
            Value::Scalar(_) if self.is_null() => "nothing (null)".into(),
            Value::Scalar(s) => {
                let mut text: String = s.text.chars().take(40).collect();
                if text.len() < s.text.len() {
                    text.push('…');
                }
                format!("`{text}`")
            }
        }
    }

    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
        }
    }
}

/// A problem found while reading the YAML itself (no key path is known yet).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxProblem {
    /// Where.
    pub mark: Mark,
    /// What.
    pub message: String,
}

enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        mark: Mark,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses the first document of `text`. `Ok(None)` is an empty file. A syntax error ends the
/// parse: positions after it would be guesses.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxProblem> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| SyntaxProblem {
            mark: Mark::from(*e.marker()),
            message: e.info().to_string(),
        })?;
        let mark = Mark::from(marker);
        let finished = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxProblem {
                        mark,
                        message: "a scenario file holds one YAML document; remove the second `---`"
                            .into(),
                    });
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(SyntaxProblem {
                        mark,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                nodes += target.size();
                if nodes > MAX_NODES {
                    return Err(too_large(mark));
                }
                let mut node = target.clone();
                node.mark = mark;
                node
            }
            Event::Scalar(text, style, anchor, _tag) => {
                nodes += 1;
                let node = Node {
                    value: Value::Scalar(Scalar {
                        text,
                        plain: style == TScalarStyle::Plain,
                    }),
                    mark,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                nodes += 1;
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxProblem {
                        mark,
                        message: format!("nested more than {MAX_DEPTH} levels deep"),
                    });
                }
                if nodes > MAX_NODES {
                    return Err(too_large(mark));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        mark,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        mark,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq {
                        mark,
                        anchor,
                        items,
                    }) => (
                        Node {
                            value: Value::Seq(items),
                            mark,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        mark,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            value: Value::Map(entries),
                            mark,
                        },
                        anchor,
                    ),
                    None => continue,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
        };
        match stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(finished),
            Some(Frame::Map {
                entries, key, mark, ..
            }) => match key.take() {
                None => {
                    // A block mapping's start event points at its first `:`; users expect the
                    // mapping to start where its first key does (a flow `{` stays first).
                    if entries.is_empty() {
                        *mark = (*mark).min(finished.mark);
                    }
                    *key = Some(finished)
                }
                Some(k) => {
                    let mut value = finished;
                    // `key:` with nothing after it: the parser marks the next token, possibly
                    // lines below; the key is where the user looks.
                    if matches!(&value.value, Value::Scalar(s) if s.plain && s.text.is_empty()) {
                        value.mark = k.mark;
                    }
                    entries.push((k, value))
                }
            },
            None => root = Some(finished),
        }
    }
    Ok(root)
}

fn too_large(mark: Mark) -> SyntaxProblem {
    SyntaxProblem {
        mark,
        message: format!("more than {MAX_NODES} values once aliases are expanded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_duplicates_kept() {
        let root = parse("a: 1\nb:\n  - x\n  - 'y'\na: 2\n").unwrap().unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].0.mark, Mark { line: 1, column: 1 });
        assert_eq!(entries[0].1.mark, Mark { line: 1, column: 4 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[1].mark, Mark { line: 4, column: 5 });
        assert!(!items[1].scalar().unwrap().plain);
        assert_eq!(entries[2].0.mark, Mark { line: 5, column: 1 });
    }

    #[test]
    fn aliases_expand_and_bombs_are_refused() {
        let root = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert_eq!(entries[1].1.mark, Mark { line: 2, column: 4 });
        assert!(matches!(&entries[1].1.value, Value::Seq(v) if v.len() == 2));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("aliases"));
    }

    #[test]
    fn deep_nesting_and_syntax_errors_are_problems() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.mark.line >= 1);
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }
}
