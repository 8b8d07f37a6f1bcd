//! Text to [`Scenario`]: parse the YAML with positions, read every key with its type, then the
//! checks that span keys (sizes, weights, deadline), reporting every problem found in one pass.

use std::time::Duration;

use super::faults;
use super::group::{self, SizeSpec};
use super::interpolate::interpolate;
use super::model::{
    DriverKind, EmbeddedServer, GeneratorLimits, GroupSize, JanusTarget, NamePattern, PatternValue,
    PatternVars, ROOM_VARS, Rooms, Scenario, Target,
};
use super::problem::ScenarioErrors;
use super::raw::{self, Mark};
use super::reader::{Field, Map, Reader};
use crate::credentials::KeyPair;

/// Top-level keys.
pub(crate) const KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "seed",
    "deadline",
    "leave_grace",
    "target",
    "app",
    "credentials",
    "rooms",
    "participants",
    "groups",
    "thresholds",
    "reconnect",
    "faults",
    "generator",
];
/// Keys of `generator`.
pub(crate) const GENERATOR_KEYS: &[&str] =
    &["max_lateness_p99", "max_loop_lag_p99", "max_cpu", "fail"];
/// Keys of `target.embedded`.
pub(crate) const EMBEDDED_KEYS: &[&str] = &[
    "max_users",
    "no_auto_kick_user",
    "ping_interval",
    "reconnect_window",
    "silent_timeout",
    "empty_room_close",
    "auth_delay",
];
/// `target.driver` values.
pub(crate) const DRIVERS: &[&str] = &["qiniu", "janus"];
/// Keys of `target`.
pub(crate) const TARGET_KEYS: &[&str] = &[
    "embedded",
    "url",
    "driver",
    "fault_api",
    "token_secret",
    "keepalive",
    "publishers",
];
/// Most rooms a scenario may ask for.
pub(crate) const MAX_ROOMS: u64 = 1_000_000;

/// Parses and validates `text`; `file` names it in problems, `env` resolves `${NAME}`.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Scenario, ScenarioErrors> {
    let mut r = Reader::new(file, env);
    let root = match raw::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            r.problem(Mark { line: 1, column: 1 }, "", "the file is empty: expected a scenario mapping with `version`, `name`, `deadline`, `rooms` and `groups`");
            return Err(ScenarioErrors::invalid(r.into_problems()));
        }
        Err(e) => {
            r.problem(e.mark, "(syntax)", e.message);
            return Err(ScenarioErrors::invalid(r.into_problems()));
        }
    };
    let root = Field {
        node: &root,
        path: String::new(),
    };
    let scenario = read(&mut r, &root);
    match scenario {
        Some(s) if r.problem_count() == 0 => Ok(s),
        _ => Err(ScenarioErrors::invalid(r.into_problems())),
    }
}

fn read(r: &mut Reader, root: &Field) -> Option<Scenario> {
    let m = r.map(root, Some(KEYS))?;
    if let Some(f) = m.required(r, "version", "the format version, 1")
        && let Some(v) = r.uint(&f, 0, u64::MAX)
        && v != 1
    {
        r.problem(
            f.mark(),
            &f.path,
            format!("unsupported version {v}: this roomstorm reads version 1"),
        );
    }
    let name = m
        .required(r, "name", "a short name used in report folders")
        .and_then(|f| {
            let name = r.string(&f)?;
            let ok = (1..=64).contains(&name.len())
                && name.chars().all(|c| group::id_char(c) || c == '.');
            if !ok {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!("names are 1 to 64 of a-z A-Z 0-9 _ . -, found `{name}`"),
                );
            }
            ok.then_some(name)
        });
    let description = match m.get("description") {
        Some(f) if f.node.is_null() => Some(String::new()),
        Some(f) => r.string(&f),
        None => Some(String::new()),
    };
    let seed = match m.get("seed") {
        Some(f) => r.uint(&f, 0, u64::MAX),
        None => Some(1),
    };
    let deadline = m
        .required(r, "deadline", "a duration such as 2m")
        .and_then(|f| r.positive_duration(&f));
    let leave_grace = match m.get("leave_grace") {
        Some(f) => r.duration(&f),
        None => Some(Duration::from_secs(5)),
    };
    let target = match m.get("target") {
        Some(f) => target(r, &f).inspect(|t| r.driver = t.target.driver()),
        None => Some(TargetRead {
            target: Target::Embedded(EmbeddedServer::default()),
            url_mark: None,
            ping_interval_mark: None,
        }),
    };
    let app = match m.get("app") {
        Some(f) => r.string(&f).and_then(|app| {
            let ok = (1..=64).contains(&app.len()) && app.chars().all(group::id_char);
            if !ok {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!("app ids are 1 to 64 of a-z A-Z 0-9 _ -, found `{app}`"),
                );
            }
            ok.then_some(app)
        }),
        None => Some("roomstorm".to_string()),
    };
    let credentials = match m.get("credentials") {
        Some(f) => credentials(r, &f).map(Some),
        None => {
            if let Some(TargetRead {
                target: Target::External { .. },
                url_mark: Some(url_mark),
                ..
            }) = &target
            {
                r.problem(*url_mark, "credentials", "an external target (`target.url`) needs `credentials` with `access_key` and `secret_key`");
            }
            Some(None)
        }
    };
    let rooms = m
        .required(r, "rooms", "`count` and an optional `name` pattern")
        .and_then(|f| rooms(r, &f));
    let participants = m
        .get("participants")
        .and_then(|f| r.uint(&f, 1, u64::from(u32::MAX)).map(|n| (n, f)));
    let participants_given = m.has("participants");
    let thresholds = match m.get("thresholds") {
        Some(f) => thresholds(r, &f),
        None => Some(Vec::new()),
    };
    let items = m
        .required(r, "groups", "a list of participant groups")
        .and_then(|groups_field| {
            let items = r.seq(&groups_field, "a list of participant groups")?;
            if items.is_empty() {
                r.problem(
                    groups_field.mark(),
                    &groups_field.path,
                    "needs at least one group",
                );
                return None;
            }
            Some(items)
        });
    let mut drafts = Vec::with_capacity(items.as_ref().map_or(0, Vec::len));
    for item in items.iter().flatten() {
        drafts.push(group::read(r, item));
    }
    check_unique_names(r, &drafts);
    group::resolve_media(r, &mut drafts);
    let reconnect_field = m.get("reconnect");
    let ping_interval = match &target {
        Some(TargetRead {
            target: Target::Embedded(e),
            ping_interval_mark,
            ..
        }) => Some((e.ping_interval, *ping_interval_mark)),
        _ => None,
    };
    let reconnect = match &reconnect_field {
        Some(f) => faults::reconnect(r, f, ping_interval.map(|(d, _)| d)),
        None => Some(crate::scenario::ReconnectSettings::SDK),
    };
    if let Some((interval, Some(mark))) = ping_interval
        && !faults::sets_ping_timeout(reconnect_field.as_ref())
    {
        faults::check_ping_interval(r, interval, mark);
    }
    let fault_list = match m.get("faults") {
        Some(f) => {
            let cx = faults::Context {
                deadline,
                target: target.as_ref().map(|t| &t.target),
                groups: items.as_ref().map(|_| {
                    drafts
                        .iter()
                        .map(|d| d.as_ref().and_then(|d| d.name.as_deref()))
                        .collect()
                }),
            };
            faults::faults(r, &f, &cx)
        }
        None => Some(Vec::new()),
    };
    let generator = match m.get("generator") {
        Some(f) => generator(r, &f),
        None => Some(GeneratorLimits::DEFAULT),
    };
    let items = items?;
    let sizes = resolve_sizes(
        r,
        &drafts,
        participants.as_ref(),
        participants_given,
        rooms.as_ref(),
    );
    let rooms = rooms?;
    let mut groups = Vec::with_capacity(drafts.len());
    for (draft, size) in drafts.into_iter().zip(sizes) {
        let (Some(draft), Some((size, count))) = (draft, size) else {
            continue;
        };
        if let Some(g) = group::finish(r, draft, size, count, &rooms, deadline) {
            groups.push(g);
        }
    }
    (groups.len() == items.len()).then_some(())?;
    Some(Scenario {
        name: name?,
        description: description?,
        seed: seed?,
        deadline: deadline?,
        leave_grace: leave_grace?,
        target: target?.target,
        app: app?,
        credentials: credentials?,
        reconnect: reconnect?,
        faults: fault_list?,
        rooms,
        groups,
        thresholds: thresholds?,
        generator: generator?,
    })
}

/// `generator:` the limits beyond which the run is generator-limited, each optional.
fn generator(r: &mut Reader, f: &Field) -> Option<GeneratorLimits> {
    let m = r.map_or_empty(f, GENERATOR_KEYS)?;
    let d = GeneratorLimits::DEFAULT;
    let max_lateness_p99 = match m.get("max_lateness_p99") {
        Some(f) => r.positive_duration(&f),
        None => Some(d.max_lateness_p99),
    };
    let max_loop_lag_p99 = match m.get("max_loop_lag_p99") {
        Some(f) => r.positive_duration(&f),
        None => Some(d.max_loop_lag_p99),
    };
    let max_cpu_percent = match m.get("max_cpu") {
        Some(f) => r.share(&f, true).and_then(|share| {
            if share == 0.0 {
                r.problem(
                    f.mark(),
                    &f.path,
                    "a CPU limit of 0% marks every interval: use a share of one core such as 95%",
                );
                return None;
            }
            Some(share * 100.0)
        }),
        None => Some(d.max_cpu_percent),
    };
    let fail = match m.get("fail") {
        Some(f) => r.boolean(&f),
        None => Some(d.fail),
    };
    Some(GeneratorLimits {
        max_lateness_p99: max_lateness_p99?,
        max_loop_lag_p99: max_loop_lag_p99?,
        max_cpu_percent: max_cpu_percent?,
        fail: fail?,
    })
}

/// `thresholds:` a list of expressions (`join.p99 < 200ms`) or `{expr, abort_on_fail}` mappings;
/// the grammar is in [`crate::threshold`].
fn thresholds(r: &mut Reader, f: &Field) -> Option<Vec<crate::threshold::ThresholdSpec>> {
    let items = r.seq(f, "a list of thresholds such as `join.p99 < 200ms`")?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in &items {
        let (expr_field, abort_on_fail) = if matches!(item.node.value, raw::Value::Map(_)) {
            let Some(m) = r.map(item, Some(&["expr", "abort_on_fail"])) else {
                ok = false;
                continue;
            };
            let abort = match m.get("abort_on_fail") {
                Some(a) => r.boolean(&a),
                None => Some(false),
            };
            match (
                m.required(r, "expr", "a threshold such as `join.p99 < 200ms`"),
                abort,
            ) {
                (Some(e), Some(a)) => (e, a),
                _ => {
                    ok = false;
                    continue;
                }
            }
        } else {
            (item.clone(), false)
        };
        let Some(text) = r.string(&expr_field) else {
            ok = false;
            continue;
        };
        match crate::threshold::parse(&text) {
            Ok(threshold) => out.push(crate::threshold::ThresholdSpec {
                threshold,
                abort_on_fail,
            }),
            Err(e) => {
                ok = false;
                // Point at the offending character: the expression sits on one line, after the
                // opening quote when it is quoted.
                let mut mark = expr_field.mark();
                if let Some(scalar) = expr_field.node.scalar()
                    && !text.contains('\n')
                {
                    mark.column += e.offset + usize::from(!scalar.plain);
                }
                r.problem(mark, &expr_field.path, format!("`{text}`: {}", e.message));
            }
        }
    }
    ok.then_some(out)
}

/// The target as read, with the positions later checks point at.
struct TargetRead {
    target: Target,
    /// Where `url` is written (external targets).
    url_mark: Option<Mark>,
    /// Where `embedded.ping_interval` is written, when it is.
    ping_interval_mark: Option<Mark>,
}

/// The target, and where `url` or `embedded.ping_interval` is written.
fn target(r: &mut Reader, f: &Field) -> Option<TargetRead> {
    let m = r.map(f, Some(TARGET_KEYS))?;
    let (kind, body) = m.exactly_one(r, &["embedded", "url"])?;
    if kind == "embedded" {
        if m.has("driver") {
            r.problem(
                m.key_mark("driver"),
                &m.field.child("driver"),
                "`driver` applies to an external `url` only",
            );
        }
        if m.has("fault_api") {
            r.problem(
                m.key_mark("fault_api"),
                &m.field.child("fault_api"),
                "`fault_api` applies to an external `url` only: the embedded server always has the fault-injection extension",
            );
        }
        let e = r.map_or_empty(&body, EMBEDDED_KEYS)?;
        let d = EmbeddedServer::default();
        let max_users = match e.get("max_users") {
            Some(f) => r.uint(&f, 1, u64::from(u32::MAX)).map(|n| n as u32),
            None => Some(d.max_users),
        };
        let no_auto_kick_user = match e.get("no_auto_kick_user") {
            Some(f) => r.boolean(&f),
            None => Some(d.no_auto_kick_user),
        };
        let mut timing = |key: &str, default: Duration| match e.get(key) {
            Some(f) => r.positive_duration(&f),
            None => Some(default),
        };
        let ping_interval = timing("ping_interval", d.ping_interval);
        let reconnect_window = timing("reconnect_window", d.reconnect_window);
        let silent_timeout = timing("silent_timeout", d.silent_timeout);
        let empty_room_close = timing("empty_room_close", d.empty_room_close);
        // Injected latency may be zero (the default): not a timer that must be positive.
        let auth_delay = match e.get("auth_delay") {
            Some(f) => r.duration(&f),
            None => Some(d.auth_delay),
        };
        return Some(TargetRead {
            target: Target::Embedded(EmbeddedServer {
                max_users: max_users?,
                no_auto_kick_user: no_auto_kick_user?,
                ping_interval: ping_interval?,
                reconnect_window: reconnect_window?,
                silent_timeout: silent_timeout?,
                empty_room_close: empty_room_close?,
                auth_delay: auth_delay?,
            }),
            url_mark: None,
            ping_interval_mark: e.get("ping_interval").map(|f| f.mark()),
        });
    }
    let driver = match m.get("driver") {
        Some(f) => r
            .word(&f, DRIVERS)
            .map(|i| [DriverKind::Qiniu, DriverKind::Janus][i]),
        None => Some(DriverKind::Qiniu),
    };
    if driver == Some(DriverKind::Janus) {
        return janus_target(r, &m, &body);
    }
    for key in ["token_secret", "keepalive", "publishers"] {
        if m.has(key) {
            r.problem(
                m.key_mark(key),
                &m.field.child(key),
                format!("`{key}` applies to `driver: janus` only"),
            );
        }
    }
    let url = r.string(&body).and_then(|url| {
        let host = url.strip_prefix("http://");
        let ok = host.is_some_and(|h| !h.is_empty() && !h.starts_with('/') && !h.contains(char::is_whitespace));
        if url.starts_with("https://") {
            r.problem(body.mark(), &body.path, format!("https:// (TLS) is not supported yet; expected an http:// base URL such as http://127.0.0.1:7788, found `{url}`"));
        } else if !ok {
            r.problem(body.mark(), &body.path, format!("expected an http:// base URL such as http://127.0.0.1:7788, found `{url}`"));
        }
        ok.then(|| url.trim_end_matches('/').to_string())
    });
    let fault_api = match m.get("fault_api") {
        Some(f) => r.boolean(&f),
        None => Some(false),
    };
    Some(TargetRead {
        target: Target::External {
            url: url?,
            driver: driver?,
            fault_api: fault_api?,
        },
        url_mark: Some(body.mark()),
        ping_interval_mark: None,
    })
}

/// A Janus target: a `ws://` URL, optionally the token secret and the keepalive interval.
fn janus_target(r: &mut Reader, m: &Map, url: &Field) -> Option<TargetRead> {
    // Known even when a value below is wrong: what Janus cannot produce is refused all the same.
    r.driver = DriverKind::Janus;
    r.tokens_checked = m.has("token_secret");
    if m.has("fault_api") {
        r.problem(
            m.key_mark("fault_api"),
            &m.field.child("fault_api"),
            "`fault_api` is roomstorm's own extension; a Janus target takes server faults through Janus's API (`kick`, `close_rooms`) without it",
        );
    }
    let text = r.string(url)?;
    let host = text.strip_prefix("ws://");
    let ok = host
        .is_some_and(|h| !h.is_empty() && !h.starts_with('/') && !h.contains(char::is_whitespace));
    if !ok {
        let hint = if text.starts_with("wss://") {
            "wss:// (TLS) is not supported yet; "
        } else {
            ""
        };
        r.problem(url.mark(), &url.path, format!("{hint}expected Janus's WebSocket URL such as ws://127.0.0.1:8188 (Janus listens on 127.0.0.1, not ::1), found `{text}`"));
    }
    let token_secret = match m.get("token_secret") {
        Some(f) => {
            let text = r.string(&f)?;
            match interpolate(&text, r.env) {
                Ok(value) if value.is_empty() => {
                    r.problem(f.mark(), &f.path, "must not be empty");
                    None
                }
                Ok(value) => Some(Some(crate::credentials::SecretKey::new(value))),
                Err(messages) => {
                    for message in messages {
                        r.problem(f.mark(), &f.path, message);
                    }
                    None
                }
            }
        }
        None => Some(None),
    };
    let keepalive = match m.get("keepalive") {
        Some(f) => r.positive_duration(&f),
        None => Some(JanusTarget::DEFAULT_KEEPALIVE),
    };
    let publishers = match m.get("publishers") {
        Some(f) => r.uint(&f, 1, 100_000).map(|n| Some(n as u32)),
        None => Some(None),
    };
    let token_secret = token_secret?;
    Some(TargetRead {
        target: Target::Janus(JanusTarget {
            url: ok.then(|| text.trim_end_matches('/').to_string())?,
            token_secret,
            keepalive: keepalive?,
            publishers: publishers?,
        }),
        url_mark: Some(url.mark()),
        ping_interval_mark: None,
    })
}

fn credentials(r: &mut Reader, f: &Field) -> Option<KeyPair> {
    let m = r.map(f, Some(&["access_key", "secret_key"]))?;
    let mut read = |key: &str, what: &str| {
        let f = m.required(r, key, what)?;
        let text = r.string(&f)?;
        match interpolate(&text, r.env) {
            Ok(value) if value.is_empty() => {
                r.problem(f.mark(), &f.path, "must not be empty");
                None
            }
            Ok(value) => Some(value),
            Err(messages) => {
                for message in messages {
                    r.problem(f.mark(), &f.path, message);
                }
                None
            }
        }
    };
    let access_key = read("access_key", "e.g. ${ROOMSTORM_ACCESS_KEY}");
    let secret_key = read("secret_key", "e.g. ${ROOMSTORM_SECRET_KEY}");
    Some(KeyPair::new(access_key?, secret_key?))
}

fn rooms(r: &mut Reader, f: &Field) -> Option<Rooms> {
    let m = r.map(f, Some(&["count", "name"]))?;
    let count = m
        .required(r, "count", "how many rooms, 1 to 1000000")
        .and_then(|f| r.uint(&f, 1, MAX_ROOMS))
        .map(|n| n as u32);
    let name = match m.get("name") {
        Some(f) => r
            .string(&f)
            .and_then(|text| match NamePattern::parse(&text, ROOM_VARS) {
                Ok(p) => Some((p, Some(f))),
                Err(e) => {
                    r.problem(f.mark(), &f.path, e);
                    None
                }
            }),
        None => NamePattern::parse("room-{index}", ROOM_VARS)
            .ok()
            .map(|p| (p, None)),
    };
    let (count, (name, name_field)) = (count?, name?);
    for index in [0, count - 1] {
        let rendered = room_name(&name, index);
        if !((3..=64).contains(&rendered.len()) && rendered.chars().all(group::id_char)) {
            let (mark, path) = match &name_field {
                Some(nf) => (nf.mark(), nf.path.clone()),
                None => (m.field.mark(), m.field.child("name")),
            };
            r.problem(mark, &path, format!("room names must be 3 to 64 of a-z A-Z 0-9 _ -, but `{}` renders `{rendered}` for room {index}", name.source()));
            return None;
        }
    }
    Some(Rooms { count, name })
}

struct RoomIndex(u32);

impl PatternVars for RoomIndex {
    fn lookup(&self, name: &str) -> Option<PatternValue<'_>> {
        (name == "index").then_some(PatternValue::Number(u64::from(self.0)))
    }
}

/// The name of room `index` under `pattern`.
pub(crate) fn room_name(pattern: &NamePattern, index: u32) -> String {
    pattern.render(&RoomIndex(index))
}

fn check_unique_names(r: &mut Reader, drafts: &[Option<group::Draft>]) {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for d in drafts.iter().flatten() {
        let Some(name) = d.name.as_deref() else {
            continue;
        };
        let f = d.field.child("name");
        if let Some((_, line)) = seen.iter().find(|(n, _)| *n == name) {
            let mark = d.field.node.mark;
            let mark = name_mark(d).unwrap_or(mark);
            r.problem(
                mark,
                &f,
                format!("duplicate group name `{name}` (first used on line {line})"),
            );
        } else if let Some(mark) = name_mark(d) {
            seen.push((name, mark.line));
        }
    }
}

fn name_mark(d: &group::Draft) -> Option<Mark> {
    match &d.field.node.value {
        raw::Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar().is_some_and(|s| s.text == "name"))
            .map(|(_, v)| v.mark),
        _ => None,
    }
}

/// Each group's model size and participant count; weights are shared out of `participants` by
/// largest remainder (ties to the earlier group).
fn resolve_sizes(
    r: &mut Reader,
    drafts: &[Option<group::Draft>],
    participants: Option<&(u64, Field)>,
    participants_given: bool,
    rooms: Option<&Rooms>,
) -> Vec<Option<(GroupSize, u64)>> {
    let weights: Vec<(usize, u32)> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d.as_ref()?.size.as_ref()? {
            (SizeSpec::Weight(w), _) => Some((i, *w)),
            _ => None,
        })
        .collect();
    let any_weight_key = drafts.iter().flatten().any(|d| {
        matches!(&d.field.node.value, raw::Value::Map(e) if e.iter().any(|(k, _)| k.scalar().is_some_and(|s| s.text == "weight")))
    });
    let mut shares = vec![None; drafts.len()];
    match participants {
        Some((total, _)) => {
            let split =
                largest_remainder(*total, &weights.iter().map(|(_, w)| *w).collect::<Vec<_>>());
            for ((i, _), share) in weights.iter().zip(split) {
                shares[*i] = Some(share);
            }
        }
        None if !participants_given => {
            for d in drafts.iter().flatten() {
                if let Some((SizeSpec::Weight(_), f)) = &d.size {
                    r.problem(
                        f.mark(),
                        &f.path,
                        "`weight` shares out the top-level `participants`, which is not set",
                    );
                }
            }
        }
        None => {}
    }
    if let Some((_, f)) = participants
        && !any_weight_key
    {
        r.problem(f.mark(), &f.path, "`participants` is shared out by group `weight`s, and no group has one: use `per_room` or `count` alone, or give groups a `weight`");
    }
    drafts
        .iter()
        .zip(shares)
        .map(|(d, share)| {
            let (spec, f) = d.as_ref()?.size.as_ref()?;
            let (size, count) = match *spec {
                SizeSpec::PerRoom(n) => (GroupSize::PerRoom(n), u64::from(n) * u64::from(rooms?.count)),
                SizeSpec::Count(n) => (GroupSize::Total(n), u64::from(n)),
                SizeSpec::Weight(_) => {
                    let share = share?;
                    if share == 0 {
                        let total = participants.map_or(0, |p| p.0);
                        r.problem(f.mark(), &f.path, format!("this weight gets 0 of the {total} participants: raise `participants` or the weight"));
                        return None;
                    }
                    (GroupSize::Total(u32::try_from(share).ok()?), share)
                }
            };
            Some((size, count))
        })
        .collect()
}

/// Splits `total` in proportion to `weights`: floors first, then one more to the largest
/// remainders, earlier entries first on ties.
pub(crate) fn largest_remainder(total: u64, weights: &[u32]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<u64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = u128::from(total) * u128::from(*w);
        shares.push((exact / sum) as u64);
        remainders.push((exact % sum, i));
    }
    let left = total - shares.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
