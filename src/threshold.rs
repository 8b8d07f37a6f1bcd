//! Thresholds: pass/fail conditions on a run's figures, written in the scenario and checked at
//! validation time (a typo is a config error, never a silent pass), evaluated on the final
//! figures and, with `abort_on_fail`, live once a second.
//!
//! # Grammar
//!
//! ```text
//! threshold := subject " " op " " value
//! op        := "<" | "<=" | ">" | ">=" | "==" | "!="
//! subject   := METRIC "." stat           value: a duration (250us, 200ms, 1.5s)
//!                                          or, for `count`, a whole number
//!            | "errors." ("unexpected" | "expected" | "transport")      value: a whole number
//!            | "codes." CODE              join answers, re-auth refusals and server disconnects
//!                                          with CODE
//!            | "outcomes." ("completed" | "aborted" | "kicked" | "transport_error" | CODE)
//!            | "presence.errors"
//!            | "reconnects." ("reconnected" | "gave_up" | "refused" | "abandoned"
//!                           | "stale_views" | "unhandled_21003")      value: a whole number
//!            | "media.loss"               value: a share, `1%` or `0.01`
//!            | "media." ("missing" | "stalled" | "freezes" | "lost" | "received" | "subscribe_failures"
//!                      | "connection_failures")                     value: a whole number
//! METRIC    := connect | join | time_to_connected | peer_visible | leave | peer_gone | lateness
//!            | detect | reconnect | reconnecting | peer_reconnected | loop_lag
//!            | publish | ice_connected | dtls_connected | first_media | first_keyframe
//!            | media_latency | media_pacing | media_jitter | media_gap | media_rtt
//! stat      := "p" PERCENT (p50, p90, p99, p99.9, p99.99 …, 0 < PERCENT ≤ 100)
//!            | "min" | "max" | "mean" | "count"
//! ```
//!
//! Examples: `join.p99 < 200ms`, `peer_visible.p99.9 < 500ms`, `errors.unexpected == 0`,
//! `codes.10011 == 200`, `time_to_connected.p99 < 1s`, `lateness.p99 < 5ms`, `media.loss < 1%`,
//! `media.missing == 0`, `first_media.p99 < 1s`, `media_latency.p99 < 50ms`.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::metrics::Metric;

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written.
    pub source: String,
    subject: Subject,
    op: Op,
    /// Microseconds for latency stats, a count otherwise.
    value: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Subject {
    Latency { metric: Metric, stat: Stat },
    Errors(ErrorKind),
    Code(u32),
    Outcome(String),
    PresenceErrors,
    Reconnects(ReconnectCount),
    Media(MediaStat),
}

/// Media figures a threshold can judge ([`crate::metrics::media::MediaCounters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaStat {
    /// Lost share of the packets subscribers should have received.
    Loss,
    Missing,
    Stalled,
    Freezes,
    Lost,
    Received,
    SubscribeFailures,
    ConnectionFailures,
}

impl MediaStat {
    const NAMES: [(&'static str, MediaStat); 8] = [
        ("loss", MediaStat::Loss),
        ("missing", MediaStat::Missing),
        ("stalled", MediaStat::Stalled),
        ("freezes", MediaStat::Freezes),
        ("lost", MediaStat::Lost),
        ("received", MediaStat::Received),
        ("subscribe_failures", MediaStat::SubscribeFailures),
        ("connection_failures", MediaStat::ConnectionFailures),
    ];

    fn of(self, m: &crate::metrics::media::MediaCounters) -> f64 {
        match self {
            MediaStat::Loss => m.loss_ratio(),
            MediaStat::Missing => m.missing as f64,
            MediaStat::Stalled => m.stalled as f64,
            MediaStat::Freezes => m.freezes as f64,
            MediaStat::Lost => m.packets_lost as f64,
            MediaStat::Received => m.tracks_received as f64,
            MediaStat::SubscribeFailures => m.subscribe_failures as f64,
            MediaStat::ConnectionFailures => m.connection_failures as f64,
        }
    }
}

/// Reconnect counters a threshold can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReconnectCount {
    Reconnected,
    GaveUp,
    Refused,
    Abandoned,
    StaleViews,
    Unhandled21003,
}

impl ReconnectCount {
    const NAMES: [(&'static str, ReconnectCount); 6] = [
        ("reconnected", ReconnectCount::Reconnected),
        ("gave_up", ReconnectCount::GaveUp),
        ("refused", ReconnectCount::Refused),
        ("abandoned", ReconnectCount::Abandoned),
        ("stale_views", ReconnectCount::StaleViews),
        ("unhandled_21003", ReconnectCount::Unhandled21003),
    ];

    fn of(self, r: &crate::metrics::recovery::RecoveryStats) -> u64 {
        match self {
            ReconnectCount::Reconnected => r.reconnected,
            ReconnectCount::GaveUp => r.gave_up,
            ReconnectCount::Refused => r.refused.values().sum(),
            ReconnectCount::Abandoned => r.abandoned,
            ReconnectCount::StaleViews => r.stale_reconnecting,
            ReconnectCount::Unhandled21003 => r.unhandled_21003,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    Quantile(f64),
    Min,
    Max,
    Mean,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Unexpected,
    Expected,
    Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }
}

/// Why an expression is not a threshold: what was expected, and where (0-based character offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdError {
    /// Character offset of the problem within the expression.
    pub offset: usize,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

fn err(offset: usize, message: impl Into<String>) -> ThresholdError {
    ThresholdError {
        offset,
        message: message.into(),
    }
}

const OPS: [(&str, Op); 6] = [
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<", Op::Lt),
    (">", Op::Gt),
];

/// Parses one threshold expression.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let trimmed_start = text.len() - text.trim_start().len();
    let body = text.trim();
    let (op_at, op_text, op) = OPS
        .iter()
        .filter_map(|(t, op)| body.find(t).map(|i| (i, *t, *op)))
        .min_by_key(|(i, t, _)| (*i, usize::MAX - t.len()))
        .ok_or_else(|| {
            err(
                trimmed_start + body.len(),
                "expected a comparison: <, <=, >, >=, == or !=",
            )
        })?;
    let subject_text = body[..op_at].trim_end();
    let value_at = op_at + op_text.len();
    let value_text = body[value_at..].trim();
    let value_offset =
        trimmed_start + value_at + (body[value_at..].len() - body[value_at..].trim_start().len());
    if subject_text.is_empty() {
        return Err(err(
            trimmed_start,
            "expected a subject such as join.p99 before the comparison",
        ));
    }
    let subject = subject(subject_text).map_err(|e| err(trimmed_start + e.offset, e.message))?;
    if value_text.is_empty() {
        return Err(err(value_offset, "expected a value after the comparison"));
    }
    let value = match &subject {
        Subject::Latency { stat, .. } if *stat != Stat::Count => {
            let d = humantime::parse_duration(value_text).map_err(|_| {
                err(
                    value_offset,
                    format!("expected a duration such as 200ms or 1.5s, found `{value_text}`"),
                )
            })?;
            d.as_secs_f64() * 1e6
        }
        Subject::Media(MediaStat::Loss) => share(value_text).ok_or_else(|| {
            err(
                value_offset,
                format!("expected a share such as 1% or 0.01, found `{value_text}`"),
            )
        })?,
        _ => value_text.parse::<u64>().map_err(|_| {
            err(
                value_offset,
                format!("expected a whole number, found `{value_text}`"),
            )
        })? as f64,
    };
    Ok(Threshold {
        source: body.to_string(),
        subject,
        op,
        value,
    })
}

/// `1%`, `0.5 %` or `0.01`: a share in 0..=1.
fn share(text: &str) -> Option<f64> {
    let v = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

fn subject(text: &str) -> Result<Subject, ThresholdError> {
    let (head, rest) = text.split_once('.').ok_or_else(|| {
        err(
            0,
            format!("expected `<metric>.<stat>` such as join.p99, found `{text}`"),
        )
    })?;
    let rest_at = head.len() + 1;
    let code = |s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|c| crate::codes::SERVER_CODES.contains(c) || [10007, 21003].contains(c))
            .ok_or_else(|| {
                err(
                    rest_at,
                    format!("expected a known RTC code such as 10011, found `{s}`"),
                )
            })
    };
    Ok(match head {
        "errors" => Subject::Errors(match rest {
            "unexpected" => ErrorKind::Unexpected,
            "expected" => ErrorKind::Expected,
            "transport" => ErrorKind::Transport,
            _ => {
                return Err(err(
                    rest_at,
                    format!(
                        "expected errors.unexpected, errors.expected or errors.transport, found `{text}`"
                    ),
                ));
            }
        }),
        "codes" => Subject::Code(code(rest)?),
        "outcomes" => match rest {
            "completed" | "aborted" | "kicked" | "transport_error" => {
                Subject::Outcome(rest.to_string())
            }
            other => Subject::Outcome(code(other)?.to_string()),
        },
        "presence" if rest == "errors" => Subject::PresenceErrors,
        "presence" => return Err(err(rest_at, "expected presence.errors")),
        "media" => match MediaStat::NAMES.iter().find(|(n, _)| *n == rest) {
            Some((_, m)) => Subject::Media(*m),
            None => {
                let names: Vec<&str> = MediaStat::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(err(
                    rest_at,
                    format!("expected media.{}", names.join(" | ")),
                ));
            }
        },
        "reconnects" => match ReconnectCount::NAMES.iter().find(|(n, _)| *n == rest) {
            Some((_, c)) => Subject::Reconnects(*c),
            None => {
                let names: Vec<&str> = ReconnectCount::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(err(
                    rest_at,
                    format!("expected reconnects.{}", names.join(" | ")),
                ));
            }
        },
        metric => {
            let Some(m) = Metric::ALL.iter().find(|m| m.name() == metric) else {
                let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                return Err(err(
                    0,
                    format!(
                        "unknown subject `{metric}`; expected one of {}, errors, codes, outcomes, presence, reconnects, media",
                        names.join(", ")
                    ),
                ));
            };
            Subject::Latency {
                metric: *m,
                stat: stat(rest).map_err(|e| err(rest_at, e))?,
            }
        }
    })
}

fn stat(text: &str) -> Result<Stat, String> {
    match text {
        "min" => return Ok(Stat::Min),
        "max" => return Ok(Stat::Max),
        "mean" => return Ok(Stat::Mean),
        "count" => return Ok(Stat::Count),
        _ => {}
    }
    text.strip_prefix('p')
        .and_then(|p| p.parse::<f64>().ok())
        .filter(|p| *p > 0.0 && *p <= 100.0)
        .map(|p| Stat::Quantile(p / 100.0))
        .ok_or_else(|| format!("expected a percentile such as p99 or p99.9, or min, max, mean, count; found `{text}`"))
}

/// The figures thresholds are judged on: the same for the final summary and the live run.
#[derive(Debug, Default)]
pub struct Observations {
    /// Merged latency histograms by metric name.
    pub latency: BTreeMap<String, Histogram<u64>>,
    /// Lifecycles with an expected / unexpected outcome.
    pub expected: u64,
    /// Lifecycles with an unexpected outcome.
    pub unexpected: u64,
    /// Lifecycles that ended in a transport error.
    pub transport: u64,
    /// Join answers plus server disconnects, by code.
    pub codes: BTreeMap<u32, u64>,
    /// Outcome counts by outcome name.
    pub outcomes: BTreeMap<String, u64>,
    /// Presence errors (known only at the end).
    pub presence_errors: Option<u64>,
    /// Reconnect counters.
    pub recovery: crate::metrics::recovery::RecoveryStats,
    /// Media counters.
    pub media: crate::metrics::media::MediaCounters,
}

impl Observations {
    /// The figures in `agg` (presence is added at the end by the caller).
    pub fn from_aggregate(agg: &crate::metrics::aggregate::Aggregate) -> Self {
        use crate::scenario::OutcomeKey;
        let total = &agg.total;
        let mut o = Observations {
            latency: Metric::ALL
                .iter()
                .map(|m| (m.name().to_string(), agg.histogram(*m).clone()))
                .collect(),
            recovery: total.recovery.clone(),
            media: total.media,
            ..Default::default()
        };
        for (&(_, key, expected), &n) in &total.outcomes {
            if expected {
                o.expected += n;
            } else {
                o.unexpected += n;
            }
            if key == OutcomeKey::TransportError {
                o.transport += n;
            }
            *o.outcomes
                .entry(crate::participant::outcome::key_name(key))
                .or_default() += n;
        }
        for (&code, &n) in total
            .join_answers
            .iter()
            .chain(&total.server_disconnects)
            .chain(&total.recovery.refused)
        {
            if code != 0 {
                *o.codes.entry(code).or_default() += n;
            }
        }
        o
    }
}

/// A threshold as the scenario states it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSpec {
    /// The condition.
    pub threshold: Threshold,
    /// End the run as soon as it fails for good.
    pub abort_on_fail: bool,
}

/// A threshold's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ThresholdResult {
    /// The expression.
    pub expression: String,
    /// Whether it held.
    pub passed: bool,
    /// What was observed, in the expression's units.
    pub observed: String,
    /// Whether a failure ends the run early.
    pub abort_on_fail: bool,
}

impl Threshold {
    /// The observed value (µs for latency stats), or `None` when there is nothing to judge yet
    /// (no samples, or presence before the end).
    fn observe(&self, o: &Observations) -> Option<f64> {
        Some(match &self.subject {
            Subject::Latency { metric, stat } => {
                let h = o.latency.get(metric.name()).filter(|h| !h.is_empty());
                match (stat, h) {
                    (Stat::Count, h) => h.map_or(0, |h| h.len()) as f64,
                    (_, None) => return None,
                    (Stat::Quantile(q), Some(h)) => h.value_at_quantile(*q) as f64,
                    (Stat::Min, Some(h)) => h.min() as f64,
                    (Stat::Max, Some(h)) => h.max() as f64,
                    (Stat::Mean, Some(h)) => h.mean(),
                }
            }
            Subject::Errors(ErrorKind::Unexpected) => o.unexpected as f64,
            Subject::Errors(ErrorKind::Expected) => o.expected as f64,
            Subject::Errors(ErrorKind::Transport) => o.transport as f64,
            Subject::Code(c) => o.codes.get(c).copied().unwrap_or(0) as f64,
            Subject::Outcome(name) => o.outcomes.get(name).copied().unwrap_or(0) as f64,
            Subject::PresenceErrors => o.presence_errors? as f64,
            Subject::Reconnects(c) => c.of(&o.recovery) as f64,
            Subject::Media(m) => m.of(&o.media),
        })
    }

    fn is_latency(&self) -> bool {
        matches!(self.subject, Subject::Latency { stat, .. } if stat != Stat::Count)
    }

    /// Judges the final figures. A latency threshold on a metric without samples fails: a
    /// condition that could not be checked must not pass.
    pub fn evaluate(&self, o: &Observations, abort_on_fail: bool) -> ThresholdResult {
        let observed = self.observe(o);
        ThresholdResult {
            expression: self.source.clone(),
            passed: observed.is_some_and(|v| self.op.holds(v, self.value)),
            observed: match observed {
                None => "no samples".to_string(),
                Some(v) if self.is_latency() => crate::metrics::format_us(v.round() as u64),
                Some(v) if self.subject == Subject::Media(MediaStat::Loss) => {
                    format!("{:.3}%", v * 100.0)
                }
                Some(v) => format!("{v}"),
            },
            abort_on_fail,
        }
    }

    /// Live check for `abort_on_fail`: `true` only when the threshold already fails for good.
    /// Upper bounds on counts and latencies can only get worse as a run goes on; lower bounds
    /// and equalities may still be met, so they are judged at the end only.
    pub fn failed_for_good(&self, o: &Observations) -> bool {
        let monotone = match &self.subject {
            Subject::Latency { stat, .. } => matches!(stat, Stat::Max | Stat::Count),
            Subject::PresenceErrors => false,
            // A share moves both ways as packets arrive.
            Subject::Media(MediaStat::Loss) => false,
            // Stale views are counted at the end of stays, not as they happen.
            Subject::Reconnects(ReconnectCount::StaleViews) => false,
            _ => true,
        };
        let upper = matches!(self.op, Op::Lt | Op::Le);
        let tail = matches!(
            self.subject,
            Subject::Latency {
                stat: Stat::Quantile(_),
                ..
            }
        );
        // Percentiles move both ways; judge them live only once they are already over the limit
        // with enough samples that one more second cannot pull them back much.
        let enough = |o: &Observations| match &self.subject {
            Subject::Latency {
                metric,
                stat: Stat::Quantile(_),
            } => o
                .latency
                .get(metric.name())
                .is_some_and(|h| h.len() >= 1000),
            _ => true,
        };
        (monotone || tail)
            && upper
            && enough(o)
            && self
                .observe(o)
                .is_some_and(|v| !self.op.holds(v, self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> Observations {
        let mut join = crate::metrics::new_histogram();
        for v in 1..=1000u64 {
            join.record(v * 1000).unwrap(); // 1 ms … 1 s
        }
        Observations {
            latency: BTreeMap::from([("join".to_string(), join)]),
            expected: 5,
            unexpected: 2,
            transport: 1,
            codes: BTreeMap::from([(10011, 200)]),
            outcomes: BTreeMap::from([("completed".to_string(), 800), ("10011".to_string(), 200)]),
            presence_errors: Some(0),
            recovery: crate::metrics::recovery::RecoveryStats {
                reconnected: 150,
                gave_up: 3,
                refused: BTreeMap::from([(10004, 2), (10012, 1)]),
                ..Default::default()
            },
            media: crate::metrics::media::MediaCounters {
                packets_received: 990,
                packets_lost: 10,
                missing: 1,
                ..Default::default()
            },
        }
    }

    #[test]
    fn good_expressions_parse_and_evaluate() {
        let o = obs();
        let cases = [
            ("join.p99 < 1s", true, "990.2ms"),
            ("join.p99 < 900ms", false, "990.2ms"),
            ("join.p50<=501ms", true, "500.2ms"),
            ("join.p99.9 >= 999ms", true, "1.00s"),
            ("join.max < 2s", true, "1.00s"),
            ("join.min == 1ms", true, "1.0ms"),
            ("join.count == 1000", true, "1000"),
            ("peer_visible.p99 < 500ms", false, "no samples"),
            ("peer_visible.count == 0", true, "0"),
            ("errors.unexpected == 0", false, "2"),
            ("errors.expected != 0", true, "5"),
            ("errors.transport <= 1", true, "1"),
            ("codes.10011 == 200", true, "200"),
            ("codes.10002 == 0", true, "0"),
            ("outcomes.completed >= 800", true, "800"),
            ("outcomes.10011 > 199", true, "200"),
            ("presence.errors == 0", true, "0"),
            ("  lateness.p99 < 5ms  ", false, "no samples"),
            ("reconnects.reconnected == 150", true, "150"),
            ("reconnects.gave_up == 0", false, "3"),
            ("reconnects.refused == 3", true, "3"),
            ("reconnects.stale_views == 0", true, "0"),
            ("reconnect.p99 < 10s", false, "no samples"),
        ];
        for (text, passed, observed) in cases {
            let t = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let r = t.evaluate(&o, false);
            assert_eq!(
                (r.passed, r.observed.as_str()),
                (passed, observed),
                "{text}"
            );
            assert_eq!(r.expression, text.trim());
        }
    }

    #[test]
    fn bad_expressions_say_what_and_where() {
        let cases = [
            ("join.p99 200ms", 14, "expected a comparison"),
            ("jion.p99 < 200ms", 0, "unknown subject `jion`"),
            ("join.p100.1 < 1s", 5, "expected a percentile"),
            ("join.p0 < 1s", 5, "expected a percentile"),
            ("join.p99 < 200", 11, "expected a duration"),
            ("join.p99 < 200mss", 11, "expected a duration"),
            ("join.p99 <", 10, "expected a value"),
            ("< 5ms", 0, "expected a subject"),
            ("errors.total == 0", 7, "expected errors.unexpected"),
            ("codes.12345 == 1", 6, "expected a known RTC code"),
            ("codes.10011 == 2.5", 15, "expected a whole number"),
            ("join < 1s", 0, "expected `<metric>.<stat>`"),
            ("presence.gaps == 0", 9, "expected presence.errors"),
            (
                "reconnects.total == 0",
                11,
                "expected reconnects.reconnected",
            ),
        ];
        for (text, offset, message) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains(message), "{text}: {e}");
            assert_eq!(e.offset, offset, "{text}: {e}");
        }
    }

    #[test]
    fn live_aborts_only_on_failures_that_cannot_recover() {
        let o = obs();
        let fails = |t: &str| parse(t).unwrap().failed_for_good(&o);
        assert!(
            !fails("errors.unexpected == 0"),
            "equality is judged at the end"
        );
        assert!(fails("errors.unexpected < 1"));
        assert!(fails("join.max < 500ms"));
        assert!(
            fails("join.p99 < 100ms"),
            "1,000 samples already over the limit"
        );
        assert!(!fails("join.p99 < 2s"));
        assert!(
            !fails("outcomes.completed > 900"),
            "a lower bound may still be met"
        );
        assert!(
            !fails("presence.errors < 1"),
            "presence is known at the end only"
        );
    }
}
