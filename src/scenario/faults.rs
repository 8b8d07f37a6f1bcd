//! Reading the top-level `reconnect` and `faults` keys: how participants restore a broken
//! connection, and what breaks when. Faults are checked against what only the whole file knows
//! (the deadline, the group names, whether the target can inject server faults), so a scenario
//! that asks for a fault its target cannot perform fails at validation, not mid-run.

use std::time::Duration;

use super::model::{Fault, FaultKind, FaultScope, ReconnectSettings, Target};
use super::raw::Mark;
use super::reader::{Field, Reader};
use super::suggest;

/// Keys of a `reconnect` mapping.
pub(crate) const RECONNECT_KEYS: &[&str] = &[
    "ping_timeout",
    "close_delay",
    "retry_delay",
    "request_timeout",
    "attempts",
];
/// Most reconnect attempts a scenario may ask for.
pub(crate) const MAX_ATTEMPTS: u64 = 100;
/// Keys of one fault.
pub(crate) const FAULT_KEYS: &[&str] = &["at", "kind", "share", "group", "rooms", "for", "by"];
/// Fault kinds as written, in the order of [`RULES`].
pub(crate) const FAULT_KINDS: &[&str] = &[
    "reset",
    "blackhole",
    "delay_frames",
    "media_loss",
    "media_delay",
    "kick",
    "drop_connections",
    "stall",
    "auth_latency",
    "close_rooms",
    "restart",
];

/// Whether a fault key must, may or must not be given for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Missing is a problem.
    Required,
    /// Has a default.
    Optional,
    /// Given is a problem.
    Forbidden,
}

/// Which keys a fault kind takes; one row per entry of [`FAULT_KINDS`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// `share`.
    pub share: Use,
    /// `group` and `rooms` (only participant-level faults can be narrowed).
    pub narrow: bool,
    /// `for`.
    pub duration: Use,
    /// What `for` means for this kind, for "missing" messages.
    pub duration_what: &'static str,
    /// `by`.
    pub by: Use,
    /// Needs the reference server's fault-injection extension.
    pub fault_api: bool,
}

const fn rule(share: Use, narrow: bool, duration: Use, by: Use, fault_api: bool) -> Rule {
    Rule {
        share,
        narrow,
        duration,
        duration_what: "how long, e.g. 3s",
        by,
        fault_api,
    }
}

/// The key rules of each kind, in [`FAULT_KINDS`] order.
pub(crate) const RULES: [Rule; 11] = {
    use Use::{Forbidden as F, Optional as O, Required as R};
    [
        rule(R, true, O, F, false), // reset
        rule(R, true, R, F, false), // blackhole
        rule(R, true, R, R, false), // delay_frames
        rule(R, true, R, R, false), // media_loss
        rule(R, true, R, R, false), // media_delay
        rule(R, true, F, F, false), // kick
        rule(R, false, F, F, true), // drop_connections
        rule(F, false, R, F, true), // stall
        rule(F, false, R, R, true), // auth_latency
        rule(R, false, F, F, true), // close_rooms
        Rule {
            duration_what: "how long connections are refused, e.g. 5s",
            ..rule(F, false, R, F, true)
        }, // restart
    ]
};

/// The kinds whose rule gives `key` this use, for "applies to … only" messages.
fn kinds_where(pick: impl Fn(&Rule) -> bool) -> String {
    let names: Vec<&str> = FAULT_KINDS
        .iter()
        .zip(RULES.iter())
        .filter(|(_, r)| pick(r))
        .map(|(n, _)| *n)
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `reconnect: sdk` or a mapping of the settings to change from the SDK's. `ping_interval` is
/// the embedded server's (`None` for an external target, whose interval roomstorm cannot know).
pub(crate) fn reconnect(
    r: &mut Reader,
    f: &Field,
    ping_interval: Option<Duration>,
) -> Option<ReconnectSettings> {
    if let Some(s) = f.node.scalar().filter(|_| !f.node.is_null()) {
        if s.text == "sdk" {
            return Some(ReconnectSettings::SDK);
        }
        r.problem(
            f.mark(),
            &f.path,
            format!(
                "expected `sdk` or a mapping with keys {}, found `{}`",
                suggest::one_of(RECONNECT_KEYS),
                s.text
            ),
        );
        return None;
    }
    let m = r.map(f, Some(RECONNECT_KEYS))?;
    let sdk = ReconnectSettings::SDK;
    let mut timer = |key: &str, default: Duration, zero_ok: bool| match m.get(key) {
        Some(f) if zero_ok => r.duration(&f),
        Some(f) => r.positive_duration(&f),
        None => Some(default),
    };
    let ping_timeout = timer("ping_timeout", sdk.ping_timeout, false);
    // The old socket may be closed at once when the ping timer fires.
    let close_delay = timer("close_delay", sdk.close_delay, true);
    let retry_delay = timer("retry_delay", sdk.retry_delay, false);
    let request_timeout = timer("request_timeout", sdk.request_timeout, false);
    let attempts = match m.get("attempts") {
        Some(f) => r.uint(&f, 1, MAX_ATTEMPTS).map(|n| n as u32),
        None => Some(sdk.attempts),
    };
    let ping_timeout = match (ping_timeout, ping_interval, m.get("ping_timeout")) {
        (Some(timeout), Some(interval), Some(f)) if timeout <= interval => {
            r.problem(
                f.mark(),
                &f.path,
                format!(
                    "must be longer than the embedded server's `ping_interval` ({}), or participants time out between two pings and reconnect all the time",
                    humantime::format_duration(interval),
                ),
            );
            None
        }
        (timeout, ..) => timeout,
    };
    Some(ReconnectSettings {
        ping_timeout: ping_timeout?,
        close_delay: close_delay?,
        retry_delay: retry_delay?,
        request_timeout: request_timeout?,
        attempts: attempts?,
    })
}

/// Whether `reconnect` (when given) sets its own `ping_timeout`; otherwise the SDK's applies.
pub(crate) fn sets_ping_timeout(reconnect: Option<&Field>) -> bool {
    reconnect.is_some_and(|f| match &f.node.value {
        super::raw::Value::Map(entries) => entries
            .iter()
            .any(|(k, _)| k.scalar().is_some_and(|s| s.text == "ping_timeout")),
        _ => false,
    })
}

/// The embedded server's `ping_interval` (written at `mark`) against the SDK's ping timeout, for
/// scenarios that do not tune `reconnect.ping_timeout`: participants that see no ping for that
/// long reconnect, so the interval must be shorter.
pub(crate) fn check_ping_interval(r: &mut Reader, ping_interval: Duration, mark: Mark) {
    let timeout = ReconnectSettings::SDK.ping_timeout;
    if ping_interval < timeout {
        return;
    }
    r.problem(
        mark,
        "target.embedded.ping_interval",
        format!(
            "must be shorter than the participants' ping timeout ({}, the SDK's), or they time out between two pings and reconnect all the time: shorten it or set a longer `reconnect.ping_timeout`",
            humantime::format_duration(timeout)
        ),
    );
}

/// What the fault checks need from the rest of the file; `None` parts had problems of their own.
pub(crate) struct Context<'a> {
    /// The run's deadline: every fault must start before it.
    pub deadline: Option<Duration>,
    /// The target: server faults beyond kick need the fault-injection extension.
    pub target: Option<&'a Target>,
    /// Group names by position (`None` where a group's name had a problem).
    pub groups: Option<Vec<Option<&'a str>>>,
}

/// `faults:` a list of fault mappings, kept in file order.
pub(crate) fn faults(r: &mut Reader, f: &Field, cx: &Context) -> Option<Vec<Fault>> {
    let items = r.seq(f, "a list of faults, each with `at` and `kind`")?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in &items {
        match fault(r, item, cx) {
            Some(fault) => out.push(fault),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn fault(r: &mut Reader, item: &Field, cx: &Context) -> Option<Fault> {
    let m = r.map(item, Some(FAULT_KEYS))?;
    let at = m
        .required(r, "at", "when, from the run's start, e.g. 20s")
        .and_then(|f| {
            let at = r.duration(&f)?;
            if let Some(deadline) = cx.deadline
                && at >= deadline
            {
                r.problem(
                    f.mark(),
                    &f.path,
                    format!(
                        "must be before the deadline ({}), found {}",
                        humantime::format_duration(deadline),
                        humantime::format_duration(at)
                    ),
                );
                return None;
            }
            Some(at)
        });
    let kind_field = m.required(
        r,
        "kind",
        &format!("what breaks: {}", suggest::one_of(FAULT_KINDS)),
    );
    let kind = kind_field.as_ref().and_then(|f| r.word(f, FAULT_KINDS));
    let name = kind.map(|k| FAULT_KINDS[k]);
    let rule = kind.map(|k| RULES[k]);

    // Reads `key` under its rule for this kind: a problem when it is given but does not apply,
    // or missing but required; `Ok(None)` when absent and optional (or the kind is unknown).
    let take = |r: &mut Reader,
                key: &str,
                usage: Option<Use>,
                applies: String,
                what: &str|
     -> Result<Option<Field>, ()> {
        match (usage, m.get(key)) {
            (Some(Use::Forbidden), Some(_)) => {
                let kind = name.unwrap_or_default();
                let why = match (key, kind) {
                    ("share", _) => format!(
                        "`share` does not apply to `{kind}`, which acts on the whole server"
                    ),
                    ("rooms", "close_rooms") => "`rooms` does not apply to `close_rooms`: give the share of rooms to close in `share`".to_string(),
                    _ => format!("`{key}` does not apply to `{kind}`; it applies to {applies} only"),
                };
                r.problem(m.key_mark(key), &m.field.child(key), why);
                Err(())
            }
            (Some(Use::Required), None) => {
                let kind = name.unwrap_or_default();
                m.required(r, key, &format!("{what}; required for `{kind}`"));
                Err(())
            }
            (_, found) => Ok(found),
        }
    };
    let narrow = rule.map(|r| {
        if r.narrow {
            Use::Optional
        } else {
            Use::Forbidden
        }
    });
    let share = take(
        r,
        "share",
        rule.map(|r| r.share),
        String::new(),
        "how many to hit, e.g. 30%",
    );
    let group = take(
        r,
        "group",
        narrow,
        kinds_where(|r| r.narrow),
        "a group name",
    );
    let rooms = take(
        r,
        "rooms",
        narrow,
        kinds_where(|r| r.narrow),
        "a share of rooms",
    );
    let duration = take(
        r,
        "for",
        rule.map(|r| r.duration),
        kinds_where(|r| r.duration != Use::Forbidden),
        rule.map_or("how long, e.g. 3s", |r| r.duration_what),
    );
    let by = take(
        r,
        "by",
        rule.map(|r| r.by),
        kinds_where(|r| r.by != Use::Forbidden),
        if name == Some("media_loss") {
            "the share of packets dropped, e.g. 5%"
        } else {
            "the added delay, e.g. 200ms"
        },
    );

    let share = match share {
        Ok(Some(f)) => r.share(&f, false).ok_or(()),
        Ok(None) => Ok(1.0),
        Err(()) => Err(()),
    };
    let group = match group {
        Ok(Some(f)) => group_index(r, &f, cx).ok_or(()).map(Some),
        Ok(None) => Ok(None),
        Err(()) => Err(()),
    };
    let rooms = match rooms {
        Ok(Some(f)) => r.share(&f, false).ok_or(()).map(Some),
        Ok(None) => Ok(None),
        Err(()) => Err(()),
    };
    let duration = match duration {
        // A reset may leave the network up at once: the socket is still reset.
        Ok(Some(f)) if name == Some("reset") => r.duration(&f).ok_or(()),
        Ok(Some(f)) => r.positive_duration(&f).ok_or(()),
        Ok(None) => Ok(Duration::ZERO),
        Err(()) => Err(()),
    };
    // `by` is a share for media_loss, a delay otherwise.
    let mut loss = 0.0;
    let by = match by {
        Ok(Some(f)) if name == Some("media_loss") => r.share(&f, false).map(|s| {
            loss = s;
            Duration::ZERO
        }),
        Ok(Some(f)) => r.positive_duration(&f),
        Ok(None) => Some(Duration::ZERO),
        Err(()) => None,
    }
    .ok_or(());

    if let (Some(rule), Some(kind), Some(kf)) = (rule, name, &kind_field)
        && rule.fault_api
        && let Some(Target::External {
            fault_api: false, ..
        }) = cx.target
    {
        r.problem(
            kf.mark(),
            &kf.path,
            format!("fault `{kind}` needs the reference server's fault-injection extension; the external target does not declare it: add `fault_api: true` under `target` if it is `roomstorm serve`, or remove this fault"),
        );
        return None;
    }
    if let (Some(rule), Some(kind), Some(kf)) = (rule, name, &kind_field)
        && rule.fault_api
        && kind != "close_rooms"
        && let Some(Target::Janus(_)) = cx.target
    {
        r.problem(
            kf.mark(),
            &kf.path,
            format!("the `janus` driver cannot inject `{kind}`: Janus's API can only destroy rooms (`close_rooms`) and kick members (`kick`); client faults (reset, blackhole, delay_frames, media_loss, media_delay) work against any server"),
        );
        return None;
    }

    let (at, kind) = (at?, kind?);
    let (share, group, rooms, duration, by) = (
        share.ok()?,
        group.ok()?,
        rooms.ok()?,
        duration.ok()?,
        by.ok()?,
    );
    let kind = match FAULT_KINDS[kind] {
        "reset" => FaultKind::Reset { offline: duration },
        "blackhole" => FaultKind::Blackhole { duration },
        "delay_frames" => FaultKind::DelayFrames { by, duration },
        "media_loss" => FaultKind::MediaLoss {
            share: loss,
            duration,
        },
        "media_delay" => FaultKind::MediaDelay { by, duration },
        "kick" => FaultKind::Kick,
        "drop_connections" => FaultKind::DropConnections,
        "stall" => FaultKind::Stall { duration },
        "auth_latency" => FaultKind::AuthLatency { by, duration },
        "close_rooms" => FaultKind::CloseRooms,
        _ => FaultKind::Restart { outage: duration },
    };
    Some(Fault {
        at,
        kind,
        scope: FaultScope {
            share,
            group,
            rooms,
        },
    })
}

/// The index of the group `f` names; a problem (with a suggestion) when no group has that name.
fn group_index(r: &mut Reader, f: &Field, cx: &Context) -> Option<u16> {
    let name = r.string(f)?;
    // A group whose own name is wrong is reported there; the fault cannot be resolved meanwhile.
    let names: Vec<&str> = cx.groups.as_ref()?.iter().copied().collect::<Option<_>>()?;
    match names.iter().position(|n| *n == name) {
        Some(i) => u16::try_from(i).ok(),
        None => {
            let message = format!("unknown group `{name}`; {}", suggest::hint(&name, &names));
            r.problem(f.mark(), &f.path, message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_agree_with_the_model() {
        let d = Duration::from_secs(1);
        let kinds = [
            FaultKind::Reset { offline: d },
            FaultKind::Blackhole { duration: d },
            FaultKind::DelayFrames { by: d, duration: d },
            FaultKind::MediaLoss {
                share: 0.05,
                duration: d,
            },
            FaultKind::MediaDelay { by: d, duration: d },
            FaultKind::Kick,
            FaultKind::DropConnections,
            FaultKind::Stall { duration: d },
            FaultKind::AuthLatency { by: d, duration: d },
            FaultKind::CloseRooms,
            FaultKind::Restart { outage: d },
        ];
        assert_eq!(kinds.len(), FAULT_KINDS.len());
        for ((kind, name), rule) in kinds.iter().zip(FAULT_KINDS).zip(RULES) {
            assert_eq!(kind.name(), *name);
            assert_eq!(kind.needs_fault_api(), rule.fault_api, "{name}");
            // Only participant-level faults (client faults and kick) can be narrowed.
            assert_eq!(
                kind.is_client_side() || *kind == FaultKind::Kick,
                rule.narrow,
                "{name}"
            );
        }
        assert_eq!(
            kinds_where(|r| r.by != Use::Forbidden),
            "delay_frames, media_loss, media_delay and auth_latency"
        );
    }
}
