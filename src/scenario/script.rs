//! Reading a group's `script` (steps and hold/wait distributions, with their well-formedness
//! rules, media steps included) and its `expect` outcome counts.

use super::model::{Dist, OutcomeKey, Step};
use super::raw::{Mark, Value};
use super::reader::{Field, Map, Reader};
use super::suggest;
use crate::codes;

/// Codes a scenario may name: everything a server can answer plus the two client-side ones.
pub(crate) const KNOWN_CODES: [u32; 11] = [
    codes::TOKEN_INVALID,
    codes::TOKEN_EXPIRED,
    codes::RECONNECT_TOKEN_EXPIRED,
    codes::KICKED,
    codes::RECONNECT_FAILED,
    codes::ROOM_FULL,
    codes::ROOM_CLOSED,
    codes::DUPLICATE_LOGIN,
    codes::NO_PERMISSION,
    codes::BAD_REQUEST,
    codes::RECONNECT_TIMED_OUT,
];

/// Step names. To add one: a name here, a branch in [`step`], the state rule in [`check_order`],
/// a variant in [`Step`], and the schema.
pub(crate) const STEPS: &[&str] = &["join", "hold", "wait", "leave", "publish", "unpublish"];
/// Duration distributions, by key.
pub(crate) const DISTS: &[&str] = &["uniform", "exponential", "normal"];
/// Outcome words of `expect` (besides codes).
pub(crate) const OUTCOMES: &[&str] = &["completed", "aborted", "kicked", "transport_error"];

/// Reads `script:`; `None` when any step is wrong.
pub(crate) fn read(r: &mut Reader, f: &Field) -> Option<Vec<Step>> {
    let items = r.seq(
        f,
        "a list of steps (join, hold, wait, leave, publish, unpublish)",
    )?;
    if items.is_empty() {
        r.problem(
            f.mark(),
            &f.path,
            "needs at least one step (a script starts with `join`)",
        );
        return None;
    }
    let before = r.problem_count();
    let steps: Vec<Option<Step>> = items.iter().map(|item| step(r, item)).collect();
    check_order(r, f, &items);
    if r.problem_count() > before {
        return None;
    }
    steps.into_iter().collect()
}

fn step(r: &mut Reader, f: &Field) -> Option<Step> {
    if let Some(s) = f.node.scalar().filter(|_| !f.node.is_null()) {
        return match s.text.as_str() {
            "join" => Some(Step::Join { expect: vec![0] }),
            "leave" => Some(Step::Leave),
            "publish" => Some(Step::Publish { expect: vec![0] }),
            "unpublish" => Some(Step::Unpublish),
            "hold" | "wait" => {
                let name = &s.text;
                r.problem(
                    f.mark(),
                    &f.path,
                    format!("`{name}` needs a duration, e.g. `{name}: 30s`"),
                );
                None
            }
            other => {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!("unknown step `{other}`; {}", suggest::hint(other, STEPS)),
                );
                None
            }
        };
    }
    let m = r.map(f, Some(STEPS))?;
    let (kind, body) = m.exactly_one(r, STEPS)?;
    match kind {
        "join" => {
            let jm = r.map_or_empty(&body, &["expect"])?;
            let expect = match jm.get("expect") {
                Some(e) => codes_list(r, &e, true)?,
                None => vec![0],
            };
            Some(Step::Join { expect })
        }
        "publish" => {
            let pm = r.map_or_empty(&body, &["expect"])?;
            let expect = match pm.get("expect") {
                Some(e) => codes_list(r, &e, true)?,
                None => vec![0],
            };
            Some(Step::Publish { expect })
        }
        "leave" | "unpublish" => {
            if !body.node.is_null() {
                r.problem(
                    body.mark(),
                    &body.path,
                    format!("`{kind}` takes no options; write `- {kind}`"),
                );
                return None;
            }
            Some(match kind {
                "leave" => Step::Leave,
                _ => Step::Unpublish,
            })
        }
        "wait" => {
            let duration = dist(r, &body, DISTS)?;
            Some(Step::Wait { duration })
        }
        _ => {
            if body.node.scalar().is_some() {
                let duration = fixed(r, &body)?;
                return Some(Step::Hold {
                    duration,
                    expect: Vec::new(),
                });
            }
            const HOLD_KEYS: &[&str] = &["for", "expect", "uniform", "exponential", "normal"];
            let hm = r.map(&body, Some(HOLD_KEYS))?;
            let (which, value) = hm.exactly_one(r, &["for", "uniform", "exponential", "normal"])?;
            let expect = match hm.get("expect") {
                Some(e) => codes_list(r, &e, false),
                None => Some(Vec::new()),
            };
            let duration = if which == "for" {
                dist(r, &value, DISTS)
            } else {
                dist_body(r, which, &value)
            };
            Some(Step::Hold {
                duration: duration?,
                expect: expect?,
            })
        }
    }
}

/// Checks the in/out-of-room rules: one problem per misplaced step. Judged by each step's name
/// alone, so a step with a bad option still counts where it stands. Publishing is a state inside
/// the room: `publish` only there and not twice, `unpublish` only after a `publish`, and `leave`
/// ends it (a participant that leaves takes its tracks along).
fn check_order(r: &mut Reader, script: &Field, items: &[Field]) {
    let mut inside = false;
    let mut joined = false;
    let mut publishing = false;
    let mut all_known = true;
    for item in items {
        let Some(kind) = kind_of(item) else {
            all_known = false;
            continue;
        };
        let complaint = match (kind, inside) {
            ("publish", false) => Some("`publish` outside the room: `join` first"),
            ("publish", true) if publishing => {
                Some("`publish` while already publishing: add `unpublish` before it")
            }
            ("publish", true) => {
                publishing = true;
                None
            }
            ("unpublish", false) => Some(
                "`unpublish` outside the room: nothing is published there (`leave` ends publishing)",
            ),
            ("unpublish", true) if !publishing => {
                Some("`unpublish` without a preceding `publish`: `publish` first")
            }
            ("unpublish", true) => {
                publishing = false;
                None
            }
            ("join", true) => Some("`join` while already in the room: add `leave` before it"),
            ("join", false) => {
                inside = true;
                joined = true;
                None
            }
            ("hold", false) => {
                Some("`hold` outside the room: `join` first, or use `wait` for time outside")
            }
            ("wait", true) => {
                Some("`wait` inside the room: use `hold` to stay in, or `leave` first")
            }
            ("leave", false) => Some("`leave` outside the room: `join` first"),
            ("leave", true) => {
                inside = false;
                publishing = false;
                None
            }
            _ => None,
        };
        if let Some(message) = complaint {
            r.problem(item.mark(), &item.path, message);
        }
    }
    if all_known && !joined {
        r.problem(
            script.mark(),
            &script.path,
            "the script never joins: add a `join` step",
        );
    }
    if all_known
        && inside
        && let Some(last) = items.last()
    {
        r.problem(
            last.mark(),
            &last.path,
            "script ends inside the room: add `leave`",
        );
    }
}

/// Checks `publish` steps against the group's `media.publish`: each `publish` needs tracks to
/// publish, and tracks set to be published need a `publish` step (else they never would be).
/// `publish_key`: where `media.publish` is written and its path; `None` when the group has none.
/// Like [`check_order`], judged by step names, so it runs even when a step has a bad option.
pub(crate) fn check_media_steps(
    r: &mut Reader,
    script: &Field,
    publish_key: Option<&(Mark, String)>,
) {
    let Value::Seq(nodes) = &script.node.value else {
        return;
    };
    let mut publishes = false;
    let mut all_known = true;
    for (i, node) in nodes.iter().enumerate() {
        let item = Field {
            node,
            path: format!("{}[{i}]", script.path),
        };
        match kind_of(&item) {
            Some("publish") => {
                publishes = true;
                if publish_key.is_none() {
                    r.problem(
                        item.mark(),
                        &item.path,
                        "`publish` without tracks: give the group `media.publish`",
                    );
                }
            }
            Some(_) => {}
            None => all_known = false,
        }
    }
    if let Some((mark, path)) = publish_key
        && all_known
        && !publishes
    {
        r.problem(
            *mark,
            path,
            "media.publish is set but the script has no `publish` step: add `publish` after `join`",
        );
    }
}

/// The step's name: a bare word, or the single key of a mapping.
fn kind_of(item: &Field) -> Option<&'static str> {
    let name = match &item.node.value {
        Value::Scalar(s) => s.text.as_str(),
        Value::Map(entries) if entries.len() == 1 => entries[0].0.scalar()?.text.as_str(),
        _ => return None,
    };
    STEPS.iter().copied().find(|s| *s == name)
}

/// A duration or a distribution mapping with one key of `kinds`.
fn dist(r: &mut Reader, f: &Field, kinds: &[&str]) -> Option<Dist> {
    if f.node.scalar().is_some() {
        return fixed(r, f);
    }
    let m = r.map(f, Some(kinds))?;
    let (which, body) = one_dist(r, &m)?;
    dist_body(r, which, &body)
}

fn one_dist<'a>(r: &mut Reader, m: &Map<'a>) -> Option<(&'static str, Field<'a>)> {
    m.exactly_one(r, &["uniform", "exponential", "normal"])
}

fn fixed(r: &mut Reader, f: &Field) -> Option<Dist> {
    r.positive_duration(f).map(Dist::Fixed)
}

fn dist_body(r: &mut Reader, which: &str, f: &Field) -> Option<Dist> {
    match which {
        "uniform" => {
            let items = r.seq(f, "a list of two durations, [min, max]")?;
            if items.len() != 2 {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!(
                        "expected two durations, [min, max], found {} items",
                        items.len()
                    ),
                );
                return None;
            }
            let min = r.duration(&items[0]);
            let max = r.positive_duration(&items[1]);
            let (min, max) = (min?, max?);
            if min > max {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!("min {} is greater than max {}", show(min), show(max)),
                );
                return None;
            }
            Some(Dist::Uniform { min, max })
        }
        "exponential" => {
            let m = r.map(f, Some(&["mean", "max"]))?;
            let mean = m
                .required(r, "mean", "the mean, such as 20s")
                .and_then(|f| r.positive_duration(&f));
            let max = m
                .required(r, "max", "the cap, such as 2m")
                .and_then(|f| r.positive_duration(&f));
            let (mean, max) = (mean?, max?);
            if max < mean {
                r.problem(
                    m.key_mark("max"),
                    &m.field.child("max"),
                    format!("max {} is below the mean {}", show(max), show(mean)),
                );
                return None;
            }
            Some(Dist::Exponential { mean, max })
        }
        _ => {
            let m = r.map(f, Some(&["mean", "stddev", "min", "max"]))?;
            let mut get =
                |key: &str, what: &str| m.required(r, key, what).and_then(|f| r.duration(&f));
            let mean = get("mean", "the mean, such as 30s");
            let stddev = get("stddev", "the standard deviation, such as 5s");
            let min = get("min", "the lower clamp");
            let max = get("max", "the upper clamp");
            let (mean, stddev, min, max) = (mean?, stddev?, min?, max?);
            let mut ok = true;
            if stddev.is_zero() {
                let at = m.get("stddev").map_or(f.mark(), |s| s.mark());
                r.problem(at, &m.field.child("stddev"), "must be greater than 0");
                ok = false;
            }
            if !(min <= mean && mean <= max) {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!(
                        "expected min ≤ mean ≤ max, found {} / {} / {}",
                        show(min),
                        show(mean),
                        show(max)
                    ),
                );
                ok = false;
            }
            if max.is_zero() {
                let at = m.get("max").map_or(f.mark(), |s| s.mark());
                r.problem(at, &m.field.child("max"), "must be greater than 0");
                ok = false;
            }
            ok.then_some(Dist::Normal {
                mean,
                stddev,
                min,
                max,
            })
        }
    }
}

fn show(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A list of RTC codes; `0` (success) only for a join.
fn codes_list(r: &mut Reader, f: &Field, join: bool) -> Option<Vec<u32>> {
    let items = r.seq(f, "a list of codes, such as [0, 10011]")?;
    if join && items.is_empty() {
        r.problem(
            f.mark(),
            &f.path,
            "must list at least one code (0 is success)",
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in &items {
        match r.uint(item, 0, u64::from(u32::MAX)).map(|c| c as u32) {
            Some(0) if !join => {
                r.problem(
                    item.mark(),
                    &item.path,
                    "0 is success, not a disconnect code",
                );
                ok = false;
            }
            Some(code) if code == 0 || KNOWN_CODES.contains(&code) => {
                ok &= driver_can_produce(r, code, item.mark(), &item.path);
                out.push(code);
            }
            Some(code) => {
                r.problem(
                    item.mark(),
                    &item.path,
                    format!("unknown code {code}; known codes: {}", known_codes(join)),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Whether the target's driver can ever report `code`; if not, says so at `mark` (a scenario
/// that expects an outcome its server cannot produce would fail for the wrong reason).
fn driver_can_produce(
    r: &mut Reader,
    code: u32,
    mark: crate::scenario::raw::Mark,
    path: &str,
) -> bool {
    let why = match (r.driver, code) {
        (crate::scenario::DriverKind::Janus, codes::ROOM_FULL) if !r.publishes => {
            "Janus limits only publishers with media (432), and this group publishes none, so its room never answers 10011; give the group `media.publish` and a `publish: {expect: [0, 10011]}` step, or use the embedded server for room-full scenarios"
        }
        (crate::scenario::DriverKind::Janus, codes::DUPLICATE_LOGIN) => {
            "Janus has no equivalent of 10022: a second join with the same id is refused (436) and the member already in is never told; use the embedded server for duplicate-login scenarios"
        }
        (_, codes::TOKEN_INVALID | codes::TOKEN_EXPIRED) if !r.tokens_checked => {
            "this Janus target checks no tokens (no `target.token_secret`), so every token is accepted; set `token_secret` to Janus's `token_auth_secret`"
        }
        _ => return true,
    };
    r.problem(
        mark,
        path,
        format!(
            "the `{}` driver cannot produce {code}: {why}",
            r.driver.name()
        ),
    );
    false
}

fn known_codes(with_zero: bool) -> String {
    let list = KNOWN_CODES
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if with_zero {
        format!("0 (success), {list}")
    } else {
        list
    }
}

/// Reads `expect:` outcome counts, in file order, with each count's position.
pub(crate) fn expect_counts(r: &mut Reader, f: &Field) -> Option<Vec<(OutcomeKey, u64)>> {
    let m = r.map(f, None)?;
    let mut out: Vec<(OutcomeKey, u64, u32)> = Vec::new();
    let mut ok = true;
    for (key, mark, value) in m.entries() {
        let outcome = match key {
            "completed" => Some(OutcomeKey::Completed),
            "aborted" => Some(OutcomeKey::Aborted),
            "kicked" => Some(OutcomeKey::Kicked),
            "transport_error" => Some(OutcomeKey::TransportError),
            _ => match key.parse::<u32>() {
                Ok(codes::KICKED) => Some(OutcomeKey::Kicked),
                Ok(code) if KNOWN_CODES.contains(&code) => {
                    driver_can_produce(r, code, mark, &value.path).then_some(OutcomeKey::Code(code))
                }
                Ok(0) => {
                    r.problem(
                        mark,
                        &value.path,
                        "0 is not an outcome: successful participants count as `completed`",
                    );
                    None
                }
                Ok(code) => {
                    r.problem(
                        mark,
                        &value.path,
                        format!("unknown code {code}; known codes: {}", known_codes(false)),
                    );
                    None
                }
                Err(_) => {
                    let tail = match suggest::closest(key, OUTCOMES) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "expected {} or an RTC code such as 10011",
                            suggest::one_of(OUTCOMES)
                        ),
                    };
                    r.problem(
                        mark,
                        &value.path,
                        format!("unknown outcome `{key}`; {tail}"),
                    );
                    None
                }
            },
        };
        let count = r.uint(&value, 0, u64::MAX);
        match (outcome, count) {
            (Some(o), Some(c)) => {
                if let Some((_, _, line)) = out.iter().find(|(k, _, _)| *k == o) {
                    r.problem(
                        mark,
                        &value.path,
                        format!("this outcome is already counted on line {line}"),
                    );
                    ok = false;
                } else {
                    out.push((o, c, mark.line as u32));
                }
            }
            _ => ok = false,
        }
    }
    ok.then(|| out.into_iter().map(|(k, c, _)| (k, c)).collect())
}
