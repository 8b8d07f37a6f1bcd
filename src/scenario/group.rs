//! Reading one entry of `groups`, then checking it against what only the whole file knows (its
//! resolved size, the rooms, the deadline, the other groups' names) and assembling the [`Group`].

use std::time::Duration;

use super::arrival;
use super::media::MediaSpec;
use super::media_read;
use super::model::{
    Arrival, Group, GroupSize, NamePattern, Order, OutcomeKey, PatternValue, PatternVars, Rooms,
    Step, TokenKind, TokenSpec, USER_VARS,
};
use super::reader::{Field, Reader};
use super::script;
use crate::token::Permission;

/// Keys of a group.
pub(crate) const KEYS: &[&str] = &[
    "name",
    "per_room",
    "count",
    "weight",
    "user",
    "user_data",
    "order",
    "arrival",
    "token",
    "script",
    "expect",
    "media",
];
/// `order` values, in [`Order`] variant order.
pub(crate) const ORDERS: &[&str] = &["shuffled", "by_room", "interleaved"];
/// `token.kind` values.
pub(crate) const TOKEN_KINDS: &[&str] = &["valid", "expired", "bad_signature"];
/// `token.permission` values.
pub(crate) const PERMISSIONS: &[&str] = &["user", "admin"];

/// `expect` as read: outcome counts in file order.
type OutcomeCounts = Vec<(OutcomeKey, u64)>;

/// How a group's size was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeSpec {
    /// `per_room: N`.
    PerRoom(u32),
    /// `count: N`.
    Count(u32),
    /// `weight: N`, a share of `participants`.
    Weight(u32),
}

/// A group as read, before the file-wide checks; `None` parts had problems.
pub(crate) struct Draft<'a> {
    /// The group's mapping.
    pub field: Field<'a>,
    /// `name`.
    pub name: Option<String>,
    /// The size and where it is written.
    pub size: Option<(SizeSpec, Field<'a>)>,
    user: Option<(NamePattern, Field<'a>)>,
    user_data: Option<String>,
    order: Option<Order>,
    arrival: Option<(Arrival, Field<'a>)>,
    token: Option<TokenSpec>,
    script: Option<Vec<Step>>,
    expect: Option<(OutcomeCounts, Option<Field<'a>>)>,
    /// `media`: `None` when absent, `Some(None)` when it had problems of its own.
    media: Option<Option<media_read::Draft<'a>>>,
    /// `media` with its subscribed group names resolved ([`resolve_media`]).
    resolved_media: Option<Option<MediaSpec>>,
}

/// Reads one group mapping; every part is read even when an earlier one is wrong.
pub(crate) fn read<'a>(r: &mut Reader, f: &Field<'a>) -> Option<Draft<'a>> {
    let m = r.map(f, Some(KEYS))?;
    let name = m.required(r, "name", "a unique group name").and_then(|f| {
        let name = r.string(&f)?;
        let ok = (1..=32).contains(&name.len()) && name.chars().all(id_char);
        if !ok {
            r.problem(
                f.mark(),
                &f.path,
                format!("group names are 1 to 32 of a-z A-Z 0-9 _ -, found `{name}`"),
            );
        }
        ok.then_some(name)
    });
    let size = m
        .exactly_one(r, &["per_room", "count", "weight"])
        .and_then(|(key, f)| {
            let n = u32::try_from(r.uint(&f, 1, u64::from(u32::MAX))?).ok()?;
            let spec = match key {
                "per_room" => SizeSpec::PerRoom(n),
                "count" => SizeSpec::Count(n),
                _ => SizeSpec::Weight(n),
            };
            Some((spec, f))
        });
    let user = match m.get("user") {
        Some(f) => r
            .string(&f)
            .and_then(|text| match NamePattern::parse(&text, USER_VARS) {
                Ok(p) => Some((p, f)),
                Err(e) => {
                    r.problem(f.mark(), &f.path, e);
                    None
                }
            }),
        None => NamePattern::parse("{group}-{index}", USER_VARS)
            .ok()
            .map(|p| (p, m.field.clone())),
    };
    let user_data = match m.get("user_data") {
        Some(f) if f.node.is_null() => Some(String::new()),
        Some(f) => r.string(&f),
        None => Some(String::new()),
    };
    let order = match m.get("order") {
        Some(f) => r
            .word(&f, ORDERS)
            .map(|i| [Order::Shuffled, Order::ByRoom, Order::Interleaved][i]),
        None => Some(Order::default()),
    };
    let arrival = m
        .required(r, "arrival", "one of burst, ramp, constant, phases, closed")
        .and_then(|f| arrival::read(r, &f).map(|a| (a, f)));
    let token = match m.get("token") {
        Some(f) => token(r, &f),
        None => Some(TokenSpec::default()),
    };
    // Known before the script and `expect` are read: what a publishing group may expect.
    r.publishes = m
        .get("media")
        .is_some_and(|f| f.node.get("publish").is_some());
    let script_field = m.required(r, "script", "a list of steps starting with join");
    let script = script_field.as_ref().and_then(|f| script::read(r, f));
    let media = m.get("media").map(|f| media_read::read(r, &f));
    if let Some(f) = m.get("media").filter(|_| !r.driver_has_media()) {
        r.problem(
            m.key_mark("media"),
            &f.path,
            format!(
                "the `{}` driver cannot publish or subscribe media yet; media runs against Janus (`driver: janus`, docs/media.md)",
                r.driver.name()
            ),
        );
    }
    if let Some(f) = &script_field {
        match &media {
            None => script::check_media_steps(r, f, None),
            Some(Some(d)) => script::check_media_steps(r, f, d.publish_key.as_ref()),
            // A `media` that is not even a mapping says nothing about what the script may publish.
            Some(None) => {}
        }
    }
    let expect = match m.get("expect") {
        Some(f) => script::expect_counts(r, &f).map(|c| (c, Some(f))),
        None => Some((Vec::new(), None)),
    };
    Some(Draft {
        field: f.clone(),
        name,
        size,
        user,
        user_data,
        order,
        arrival,
        token,
        script,
        expect,
        media,
        resolved_media: None,
    })
}

/// Resolves every group's `subscribe: {groups: […]}` against the file's group names, after all
/// groups are read (a group may name one written below it).
pub(crate) fn resolve_media(r: &mut Reader, drafts: &mut [Option<Draft>]) {
    let names: Vec<Option<String>> = drafts
        .iter()
        .map(|d| d.as_ref().and_then(|d| d.name.clone()))
        .collect();
    let names: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
    for d in drafts.iter_mut().flatten() {
        d.resolved_media = match d.media.take() {
            None => Some(None),
            Some(None) => None,
            Some(Some(media)) => media_read::resolve(r, media, &names).map(Some),
        };
    }
}

fn token(r: &mut Reader, f: &Field) -> Option<TokenSpec> {
    let m = r.map(f, Some(&["kind", "expires_in", "permission"]))?;
    let defaults = TokenSpec::default();
    let kind = match m.get("kind") {
        Some(f) => r
            .word(&f, TOKEN_KINDS)
            .map(|i| {
                [
                    TokenKind::Valid,
                    TokenKind::Expired,
                    TokenKind::BadSignature,
                ][i]
            })
            .filter(|kind| {
                let refusable = r.tokens_checked || *kind == TokenKind::Valid;
                if !refusable {
                    r.problem(f.mark(), &f.path, format!("this Janus target checks no tokens (no `target.token_secret`), so tokens of kind `{}` would be accepted; set `token_secret` to Janus's `token_auth_secret`", TOKEN_KINDS[*kind as usize]));
                }
                refusable
            }),
        None => Some(defaults.kind),
    };
    let expires_in = match m.get("expires_in") {
        Some(f) => r.positive_duration(&f),
        None => Some(defaults.expires_in),
    };
    let permission = match m.get("permission") {
        Some(f) => r
            .word(&f, PERMISSIONS)
            .map(|i| [Permission::User, Permission::Admin][i]),
        None => Some(defaults.permission),
    };
    Some(TokenSpec {
        kind: kind?,
        expires_in: expires_in?,
        permission: permission?,
    })
}

/// `[a-zA-Z0-9_-]`.
pub(crate) fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The checks that need the group's resolved participant count; `None` when one fails or a part
/// of the group was already wrong.
pub(crate) fn finish(
    r: &mut Reader,
    draft: Draft,
    size: GroupSize,
    participants: u64,
    rooms: &Rooms,
    deadline: Option<Duration>,
) -> Option<Group> {
    let before = r.problem_count();
    let (arrival, arrival_field) = draft.arrival?;
    let name = draft.name?;
    if let Arrival::Phases { phases, .. } = &arrival {
        let capacity = arrival::phases_capacity(phases);
        if capacity + 1e-9 < participants as f64 {
            let f = arrival_field.child("phases");
            r.problem(
                arrival_field.mark(),
                &f,
                format!(
                    "the phases produce at most {} arrivals but the group has {participants} participants: lengthen the phases or raise their rates",
                    capacity.floor() as u64
                ),
            );
        } else if let Some(deadline) = deadline {
            check_deadline(r, &arrival, &arrival_field, participants, deadline);
        }
    } else if let Some(deadline) = deadline {
        check_deadline(r, &arrival, &arrival_field, participants, deadline);
    }
    let iterations = match arrival {
        Arrival::Closed { iterations, .. } => u64::from(iterations),
        _ => 1,
    };
    let lifecycles = participants.saturating_mul(iterations);
    let (expect_counts, expect_field) = draft.expect?;
    let sum = expect_counts
        .iter()
        .fold(0u64, |s, (_, n)| s.saturating_add(*n));
    if let Some(f) = expect_field
        && sum > lifecycles
    {
        r.problem(
            f.mark(),
            &f.path,
            format!("the expected counts add up to {sum}, more than the group's {lifecycles} participant lifecycles"),
        );
    }
    let (user, user_field) = draft.user?;
    check_user_ids(
        r,
        &user,
        &user_field,
        &name,
        participants,
        rooms,
        iterations,
    );
    if r.problem_count() > before {
        return None;
    }
    Some(Group {
        name,
        size,
        user,
        user_data: draft.user_data?,
        arrival,
        order: draft.order?,
        token: draft.token?,
        script: draft.script?,
        expect_counts,
        media: draft.resolved_media?,
    })
}

fn check_deadline(
    r: &mut Reader,
    arrival: &Arrival,
    f: &Field,
    participants: u64,
    deadline: Duration,
) {
    let latest = arrival::latest_offset(arrival, participants);
    if latest > deadline {
        r.problem(
            f.mark(),
            &f.path,
            format!(
                "the last arrival is at {}, after the deadline of {}: raise `deadline` or arrive sooner",
                round(latest),
                humantime::format_duration(deadline)
            ),
        );
    }
}

fn round(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(
        d.as_millis().min(u128::from(u64::MAX)) as u64,
    ))
}

struct Sample<'s> {
    group: &'s str,
    index: u64,
    room: &'s str,
    room_index: u64,
    iteration: u64,
}

impl PatternVars for Sample<'_> {
    fn lookup(&self, name: &str) -> Option<PatternValue<'_>> {
        Some(match name {
            "group" => PatternValue::Text(self.group),
            "index" | "n" => PatternValue::Number(self.index),
            "room" => PatternValue::Text(self.room),
            "room_index" => PatternValue::Number(self.room_index),
            "iteration" => PatternValue::Number(self.iteration),
            _ => return None,
        })
    }
}

/// Renders the first and the last participant's id (the extremes of every number) and checks
/// both against `[a-zA-Z0-9_-]{3,50}`.
fn check_user_ids(
    r: &mut Reader,
    user: &NamePattern,
    f: &Field,
    group: &str,
    participants: u64,
    rooms: &Rooms,
    iterations: u64,
) {
    let first_room = super::validate::room_name(&rooms.name, 0);
    let last_room = super::validate::room_name(&rooms.name, rooms.count.saturating_sub(1));
    let samples = [
        Sample {
            group,
            index: 0,
            room: &first_room,
            room_index: 0,
            iteration: 0,
        },
        Sample {
            group,
            index: participants.saturating_sub(1),
            room: &last_room,
            room_index: u64::from(rooms.count.saturating_sub(1)),
            iteration: iterations.saturating_sub(1),
        },
    ];
    for sample in &samples {
        let id = user.render(sample);
        if !((3..=50).contains(&id.len()) && id.chars().all(id_char)) {
            let path = if f.path.ends_with(".user") {
                f.path.clone()
            } else {
                f.child("user")
            };
            r.problem(
                f.mark(),
                &path,
                format!(
                    "user ids must be 3 to 50 of a-z A-Z 0-9 _ -, but `{}` renders `{id}`",
                    user.source()
                ),
            );
            return;
        }
    }
}
