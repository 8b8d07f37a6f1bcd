//! Generator self-health: per collection interval, was roomstorm itself the bottleneck? An
//! interval whose lateness p99, event-loop lag p99 or media frame-clock lateness
//! (`media_pacing`) p99 exceeds its limit, or whose busiest worker thread used more CPU than
//! allowed, is listed with its likely cause, and the run is marked generator-limited
//! (`docs/scenarios.md`, "generator"). Media pacing shares the lateness limit: both say how late
//! the generator did scheduled work.

use serde::{Deserialize, Serialize};

use crate::metrics::Metric;
use crate::metrics::aggregate::SeriesRow;
use crate::scenario::GeneratorLimits;

/// The generator's health over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeneratorHealth {
    /// At least one interval exceeded a limit: the figures partly measure roomstorm itself.
    pub limited: bool,
    /// The limits applied.
    pub limits: LimitsInfo,
    /// Every interval that exceeded a limit, in time order.
    pub intervals: Vec<LimitedInterval>,
}

/// The limits applied (the scenario's `generator` settings, or the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitsInfo {
    /// Largest allowed lateness p99 of an interval, µs.
    pub max_lateness_p99_us: u64,
    /// Largest allowed event-loop lag p99 of an interval, µs.
    pub max_loop_lag_p99_us: u64,
    /// Largest allowed CPU of the busiest worker thread, percent of one core.
    pub max_cpu_percent: f64,
    /// A generator-limited run exits 3.
    pub fail: bool,
}

impl Default for LimitsInfo {
    fn default() -> Self {
        GeneratorLimits::DEFAULT.into()
    }
}

impl From<GeneratorLimits> for LimitsInfo {
    fn from(l: GeneratorLimits) -> Self {
        Self {
            max_lateness_p99_us: l.max_lateness_p99.as_micros() as u64,
            max_loop_lag_p99_us: l.max_loop_lag_p99.as_micros() as u64,
            max_cpu_percent: l.max_cpu_percent,
            fail: l.fail,
        }
    }
}

/// One interval beyond a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitedInterval {
    /// End of the interval, seconds since the run started (as in the series).
    pub t: f64,
    /// Lateness p99 in the interval, µs (absent: no participant was started in it).
    pub lateness_p99_us: Option<u64>,
    /// Event-loop lag p99 in the interval, µs (worst of all workers' probes together).
    pub loop_lag_p99_us: Option<u64>,
    /// Synthetic frames' lateness (`media_pacing`) p99 in the interval, µs (absent: no media
    /// sent in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_pacing_p99_us: Option<u64>,
    /// CPU of the whole process in the interval, percent of one core.
    pub cpu_percent: Option<f64>,
    /// CPU of the busiest worker thread in the interval, percent of one core.
    pub worker_cpu_percent: Option<f64>,
    /// Participants queued at the handshake gate (`run --max-connecting`) at the end of the
    /// interval.
    pub handshakes_waiting: i64,
    /// Which limits were exceeded: `lateness`, `loop_lag`, `media_pacing`, `cpu`.
    pub exceeded: Vec<String>,
    /// The likely cause, in words.
    pub cause: String,
}

/// Checks every row of the series against `limits`.
pub fn assess(series: &[SeriesRow], limits: &GeneratorLimits) -> GeneratorHealth {
    let info = LimitsInfo::from(*limits);
    let intervals: Vec<LimitedInterval> = series
        .iter()
        .filter_map(|row| classify(row, &info))
        .collect();
    GeneratorHealth {
        limited: !intervals.is_empty(),
        limits: info,
        intervals,
    }
}

/// The interval's entry when it exceeded a limit.
pub fn classify(row: &SeriesRow, limits: &LimitsInfo) -> Option<LimitedInterval> {
    let p99 = |m: Metric| row.latency.get(m.name()).map(|l| l.p99);
    let lateness = p99(Metric::Lateness);
    let loop_lag = p99(Metric::LoopLag);
    let late = lateness.is_some_and(|us| us > limits.max_lateness_p99_us);
    let lagging = loop_lag.is_some_and(|us| us > limits.max_loop_lag_p99_us);
    let pacing = p99(Metric::MediaPacing);
    let slow_frames = pacing.is_some_and(|us| us > limits.max_lateness_p99_us);
    let busy = row
        .worker_cpu_percent
        .is_some_and(|p| p > limits.max_cpu_percent);
    if !(late || lagging || slow_frames || busy) {
        return None;
    }
    let exceeded = [
        (late, "lateness"),
        (lagging, "loop_lag"),
        (slow_frames, "media_pacing"),
        (busy, "cpu"),
    ]
    .into_iter()
    .filter(|(hit, _)| *hit)
    .map(|(_, name)| name.to_string())
    .collect();
    let cause = if busy {
        format!(
            "generator CPU saturated (busiest worker thread at {:.0}% of one core): add --workers \
             or spread the load over more machines",
            row.worker_cpu_percent.unwrap_or_default()
        )
    } else if lagging {
        format!(
            "event loop blocked (loop lag p99 {}): a worker thread was busy, blocked in a call, \
             or not scheduled; other load on the machine, or too few cores",
            ms(loop_lag.unwrap_or_default())
        )
    } else if slow_frames && !late {
        format!(
            "the media frame clock fell behind (media_pacing p99 {}): too many published tracks \
             for this process; add --workers or shards, or fewer publishers per machine",
            ms(pacing.unwrap_or_default())
        )
    } else {
        format!(
            "arrivals faster than the generator can start them (lateness p99 {}, {} joins queued \
             at the --max-connecting gate): add --workers or spread the arrivals",
            ms(lateness.unwrap_or_default()),
            row.handshakes_waiting
        )
    };
    Some(LimitedInterval {
        t: row.t,
        lateness_p99_us: lateness,
        loop_lag_p99_us: loop_lag,
        media_pacing_p99_us: pacing,
        cpu_percent: row.cpu_percent,
        worker_cpu_percent: row.worker_cpu_percent,
        handshakes_waiting: row.handshakes_waiting,
        exceeded,
        cause,
    })
}

/// One line for reports: the first limited interval and its cause, and how many there were.
pub fn headline(h: &GeneratorHealth) -> Option<String> {
    let first = h.intervals.first()?;
    let more = match h.intervals.len() {
        1 => String::new(),
        n => format!(" ({n} intervals in all)"),
    };
    Some(format!(
        "GENERATOR-LIMITED: interval ending at {:.1}s: {}{more}",
        first.t, first.cause
    ))
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::metrics::aggregate::IntervalLatency;

    fn row(t: f64, lateness: Option<u64>, loop_lag: Option<u64>, cpu: Option<f64>) -> SeriesRow {
        let mut latency = BTreeMap::new();
        for (name, p99) in [("lateness", lateness), ("loop_lag", loop_lag)] {
            if let Some(p99) = p99 {
                latency.insert(
                    name.to_string(),
                    IntervalLatency {
                        count: 10,
                        p50: p99 / 2,
                        p99,
                        max: p99,
                    },
                );
            }
        }
        SeriesRow {
            t,
            started: 0,
            joins: 0,
            join_errors: BTreeMap::new(),
            ended: 0,
            states: BTreeMap::new(),
            latency,
            cpu_percent: cpu.map(|c| c + 5.0),
            worker_cpu_percent: cpu,
            handshakes_waiting: 7,
            media: None,
        }
    }

    fn limits() -> GeneratorLimits {
        GeneratorLimits {
            max_lateness_p99: Duration::from_millis(10),
            max_loop_lag_p99: Duration::from_millis(20),
            max_cpu_percent: 90.0,
            fail: true,
        }
    }

    #[test]
    fn flags_exactly_the_intervals_beyond_a_limit_with_the_likely_cause() {
        let series = [
            // At the limits exactly: fine.
            row(1.0, Some(10_000), Some(20_000), Some(90.0)),
            // Late only: arrivals outrun the generator.
            row(2.0, Some(10_001), Some(1_000), Some(40.0)),
            // Late and lagging: the loop was blocked.
            row(3.0, Some(80_000), Some(30_000), Some(50.0)),
            // Nothing measured at all (no starts, no probes, no CPU figure).
            row(4.0, None, None, None),
            // CPU saturated wins over everything else.
            row(5.0, Some(80_000), Some(30_000), Some(99.5)),
            // CPU alone.
            row(6.0, None, Some(10), Some(91.0)),
        ];
        let h = assess(&series, &limits());
        assert!(h.limited);
        assert!(h.limits.fail);
        assert_eq!(h.limits.max_lateness_p99_us, 10_000);
        let flagged: Vec<(f64, Vec<&str>)> = h
            .intervals
            .iter()
            .map(|i| (i.t, i.exceeded.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            flagged,
            [
                (2.0, vec!["lateness"]),
                (3.0, vec!["lateness", "loop_lag"]),
                (5.0, vec!["lateness", "loop_lag", "cpu"]),
                (6.0, vec!["cpu"]),
            ]
        );
        assert_eq!(
            h.intervals[0].cause,
            "arrivals faster than the generator can start them (lateness p99 10.0 ms, 7 joins \
             queued at the --max-connecting gate): add --workers or spread the arrivals"
        );
        assert!(
            h.intervals[1]
                .cause
                .starts_with("event loop blocked (loop lag p99 30.0 ms)")
        );
        assert!(
            h.intervals[2]
                .cause
                .starts_with("generator CPU saturated (busiest worker thread at 100% of one core)"),
            "{}",
            h.intervals[2].cause
        );
        assert_eq!(h.intervals[2].cpu_percent, Some(104.5));
        assert_eq!(
            headline(&h).unwrap(),
            format!(
                "GENERATOR-LIMITED: interval ending at 2.0s: {} (4 intervals in all)",
                h.intervals[0].cause
            )
        );
    }

    #[test]
    fn a_frame_clock_behind_its_schedule_flags_the_media_sender() {
        let mut late_frames = row(1.0, None, Some(1_000), Some(40.0));
        let pacing = crate::metrics::aggregate::IntervalLatency {
            count: 500,
            p50: 2_000,
            p99: 10_001,
            max: 12_000,
        };
        late_frames.latency.insert("media_pacing".into(), pacing);
        let mut on_time = late_frames.clone();
        on_time.t = 2.0;
        on_time.latency.get_mut("media_pacing").unwrap().p99 = 10_000;
        let h = assess(&[late_frames, on_time], &limits());
        assert_eq!(h.intervals.len(), 1);
        assert_eq!(h.intervals[0].exceeded, ["media_pacing"]);
        assert_eq!(h.intervals[0].media_pacing_p99_us, Some(10_001));
        assert!(
            h.intervals[0]
                .cause
                .starts_with("the media frame clock fell behind (media_pacing p99 10.0 ms)"),
            "{}",
            h.intervals[0].cause
        );
    }

    #[test]
    fn a_healthy_series_is_not_limited() {
        let series = [
            row(1.0, Some(500), Some(300), Some(20.0)),
            row(2.0, None, None, None),
        ];
        let h = assess(&series, &GeneratorLimits::DEFAULT);
        assert_eq!(h, GeneratorHealth::default());
        assert_eq!(headline(&h), None);
    }
}
