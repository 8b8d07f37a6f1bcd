//! The terminal summary: outcomes, codes (expected and not), latency percentiles per metric,
//! generator lateness, expectations and the verdict.

use std::fmt::Write as _;

use super::summary::{Summary, Verdict};
use crate::codes;
use crate::coordinator::progress::format_us;

/// Renders the summary as plain text tables.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "roomstorm {} · scenario {} ({}) · target {} {}",
        s.roomstorm_version, s.scenario.name, s.scenario.file, s.target.kind, s.target.url
    );
    let _ = writeln!(
        o,
        "started {} · ran {:.1}s · ended: {} · {} rooms, {} participants, {} lifecycles · {} workers",
        s.started_at,
        s.duration_s,
        serde_json::to_value(s.end_reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        s.plan.rooms,
        s.plan.participants,
        s.plan.lifecycles,
        s.workers
    );

    let _ = writeln!(o, "\noutcomes                     expected  unexpected");
    for (name, split) in &s.outcomes.by_outcome {
        let label = match name.parse::<u32>() {
            Ok(code) => format!("{name} {}", codes::message(code)),
            Err(_) => name.clone(),
        };
        let _ = writeln!(
            o,
            "  {label:<26} {:>8}  {:>10}",
            split.expected, split.unexpected
        );
    }
    let _ = writeln!(
        o,
        "  {:<26} {:>8}  {:>10}",
        "total", s.outcomes.expected, s.outcomes.unexpected
    );
    let _ = writeln!(
        o,
        "conservation: {} scheduled = {} with an outcome: {}",
        s.conservation.scheduled,
        s.conservation.accounted,
        if s.conservation.holds {
            "ok"
        } else {
            "VIOLATED"
        }
    );
    if s.outcomes.by_group.len() > 1 {
        let _ = writeln!(o, "\nby group");
        for (group, outcomes) in &s.outcomes.by_group {
            let parts: Vec<String> = outcomes
                .iter()
                .map(|(k, v)| {
                    if v.unexpected > 0 {
                        format!("{k} {} ({} unexpected)", v.total(), v.unexpected)
                    } else {
                        format!("{k} {}", v.total())
                    }
                })
                .collect();
            let _ = writeln!(o, "  {group:<20} {}", parts.join(", "));
        }
    }

    let join: Vec<String> = s
        .codes
        .join
        .iter()
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    let _ = writeln!(o, "\njoin answers: {}", join.join(" "));
    let t: Vec<String> = s
        .transitions
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(o, "state transitions: {}", t.join(" · "));
    if !s.codes.disconnect.is_empty() {
        let d: Vec<String> = s
            .codes
            .disconnect
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect();
        let _ = writeln!(o, "server disconnects: {}", d.join(" "));
    }
    if !s.codes.reauth.is_empty() {
        let _ = writeln!(o, "re-auths refused: {}", counts(&s.codes.reauth));
    }
    if !s.failures.is_empty() {
        let f: Vec<String> = s.failures.iter().map(|(k, n)| format!("{k}×{n}")).collect();
        let _ = writeln!(o, "transport failures: {}", f.join(" "));
        for (stage, text) in &s.failure_examples {
            let _ = writeln!(o, "  first {stage}: {text}");
        }
    }

    let _ = writeln!(
        o,
        "\nlatency              count       p50       p90       p99     p99.9       max"
    );
    for (name, p) in &s.latency {
        if p.count == 0 {
            continue;
        }
        let _ = writeln!(
            o,
            "  {name:<17} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            p.count,
            format_us(p.p50),
            format_us(p.p90),
            format_us(p.p99),
            format_us(p.p999),
            format_us(p.max)
        );
    }
    let _ = writeln!(
        o,
        "presence: {} errors in {} stays ({} notices before the peer's answer, {} unresolved)",
        s.presence.errors,
        s.presence.stays,
        s.presence.notices_before_reference,
        s.presence.notices_unresolved
    );
    recovery(&mut o, s);
    if let Some(m) = &s.media {
        super::media::render(m, &mut o);
    }
    if let Some(server) = &s.server {
        let a: Vec<String> = server
            .auths
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect();
        let d: Vec<String> = server
            .departures
            .iter()
            .map(|(c, n)| format!("{c}×{n}"))
            .collect();
        let _ = writeln!(
            o,
            "server saw: auths {} · departures {} · members now {}",
            a.join(" "),
            d.join(" "),
            server.members
        );
    }

    let _ = writeln!(o, "\nexpectations");
    for e in &s.expectations {
        let _ = writeln!(
            o,
            "  [{}] {} ({})",
            if e.passed { "ok" } else { "FAIL" },
            e.name,
            e.detail
        );
    }
    if !s.thresholds.is_empty() {
        let _ = writeln!(o, "\nthresholds");
        for t in &s.thresholds {
            let _ = writeln!(
                o,
                "  [{}] {} (observed {})",
                if t.passed { "ok" } else { "FAIL" },
                t.expression,
                t.observed
            );
        }
    }
    if let Some(line) = super::generator::headline(&s.generator) {
        let _ = writeln!(o, "\n{line}");
        let _ = writeln!(
            o,
            "  the figures above partly measure roomstorm itself, not only the target{}",
            if s.generator.limits.fail {
                " (generator.fail: exit 3)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        o,
        "verdict: {}",
        match s.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Interrupted => "INTERRUPTED (partial results)",
        }
    );
    o
}

fn counts<K: std::fmt::Display>(m: &std::collections::BTreeMap<K, u64>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, n)| format!("{k}×{n}")).collect();
    parts.join(" ")
}

/// Faults and reconnects: printed only when the run had any.
fn recovery(o: &mut String, s: &Summary) {
    let r = &s.recovery;
    if s.faults.is_empty() && r.is_empty() {
        return;
    }
    if !s.faults.is_empty() {
        let _ = writeln!(o, "\nfaults");
        for f in &s.faults {
            let fired = f
                .record
                .fired_s
                .map_or_else(|| "never".to_string(), |t| format!("{t:.1}s"));
            let hits = if f.hits == Default::default() {
                String::new()
            } else {
                format!(
                    " · {} hit, {} not in a room, {} failed",
                    f.hits.applied, f.hits.missed, f.hits.failed
                )
            };
            let _ = writeln!(
                o,
                "  [{}] #{} {} at {:.1}s (fired {fired}): {}{hits}",
                if f.record.ok { "ok" } else { "FAIL" },
                f.record.index,
                f.record.kind,
                f.record.at_s,
                f.record.result
            );
        }
    }
    if r.episodes() > 0 || !r.losses.is_empty() {
        let _ = writeln!(
            o,
            "reconnects: {} RECONNECTED, {} gave up (10007), refused {}, {} abandoned · breaks by cause {}",
            r.reconnected,
            r.gave_up,
            if r.refused.is_empty() {
                "0".to_string()
            } else {
                counts(&r.refused)
            },
            r.abandoned,
            counts(&r.losses)
        );
        let _ = writeln!(
            o,
            "  attempts per reconnect {} · {} attempts failed{}",
            counts(&r.attempts),
            r.attempts_failed,
            r.attempt_failure_example
                .as_ref()
                .map_or_else(String::new, |e| format!(" (first: {e})"))
        );
    }
    if !r.ignored_closes.is_empty() {
        let _ = writeln!(
            o,
            "  closes the SDK ignores (waits for its ping timer): {}",
            counts(&r.ignored_closes)
        );
    }
    if r.peer_reconnecting + r.peer_reconnected + r.roster_joined + r.roster_left > 0 {
        let _ = writeln!(
            o,
            "  peers saw: user-reconnecting {} · user-reconnected {} · after re-auth diff: joined {}, left {} · stale reconnecting views {}",
            r.peer_reconnecting,
            r.peer_reconnected,
            r.roster_joined,
            r.roster_left,
            r.stale_reconnecting
        );
    }
    if let Some(us) = s.recovery_converged_after_us {
        let _ = writeln!(
            o,
            "  last recovery event {} after the last fault{}",
            format_us(us),
            if r.stale_reconnecting > 0 {
                format!(
                    " ({} reconnecting views were never repaired)",
                    r.stale_reconnecting
                )
            } else {
                " (presence converged: no stale views)".to_string()
            }
        );
    }
    if r.join_rejected_21003 + r.unhandled_21003 > 0 {
        let _ = writeln!(
            o,
            "  SDK promise view (21003): {} rejected joins, {} unhandled rejections after refused re-auths",
            r.join_rejected_21003, r.unhandled_21003
        );
    }
}
