//! The coordinator's side of metrics: totals merged from every worker's intervals, and one row
//! per collection tick (about a second) for the time series.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::Metric;
use super::recorder::Interval;

/// One row of the time series: what happened during one collection interval.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SeriesRow {
    /// End of the interval, seconds since the run started.
    pub t: f64,
    /// Lifecycles started in the interval.
    pub started: u64,
    /// Joins accepted in the interval.
    pub joins: u64,
    /// Join refusals in the interval, by code.
    pub join_errors: BTreeMap<u32, u64>,
    /// Lifecycles that ended in the interval.
    pub ended: u64,
    /// Participants in each state at the end of the interval (DISCONNECTED excludes those not
    /// started yet and those finished).
    pub states: BTreeMap<String, i64>,
    /// Per metric: (count, p50, p99, max) of the samples recorded in the interval, microseconds.
    /// `lateness` and `loop_lag` are the generator's own health.
    pub latency: BTreeMap<String, IntervalLatency>,
    /// CPU used by the whole roomstorm process in the interval, percent of one core (includes
    /// the embedded server's threads when the target is embedded; absent where not measured).
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    /// CPU used by the busiest worker thread in the interval, percent of one core (a worker
    /// near 100% cannot start or serve its participants on time).
    #[serde(default)]
    pub worker_cpu_percent: Option<f64>,
    /// Handshakes waiting at the end of the interval: participants queued at the handshake gate
    /// (`run --max-connecting`) for a slot to start their join, summed over workers. Non-zero
    /// means arrivals outpace the joins the gate lets through; they wait DISCONNECTED, and the
    /// wait is part of their `time_to_connected`.
    #[serde(default)]
    pub handshakes_waiting: i64,
    /// Media sent and received in the interval (absent when none moved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<super::media::MediaCounters>,
}

/// Latency of one metric within one interval.
#[derive(
    Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
pub struct IntervalLatency {
    /// Samples.
    pub count: u64,
    /// Median, µs.
    pub p50: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// Largest, µs.
    pub max: u64,
}

/// One collection interval's histogram of one metric, for HdrHistogram interval logs.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct IntervalHistogram {
    /// Interval start, seconds since the run started.
    pub start_s: f64,
    /// Interval end, seconds since the run started.
    pub end_s: f64,
    /// HdrHistogram V2 deflate encoding, base64.
    pub histogram: String,
}

/// Everything merged so far.
#[derive(Debug, Default)]
pub struct Aggregate {
    /// Totals over the whole run.
    pub total: Interval,
    /// One row per collection.
    pub series: Vec<SeriesRow>,
    /// Per metric, the histogram of every interval that had samples.
    pub intervals: BTreeMap<String, Vec<IntervalHistogram>>,
}

impl Aggregate {
    /// Merges the intervals collected from every worker at `t` seconds and appends a row.
    pub fn absorb(&mut self, t: f64, intervals: Vec<Interval>) {
        self.absorb_with_cpu(t, intervals, None);
    }

    /// [`Aggregate::absorb`], with the process's CPU time used during the interval (µs).
    pub fn absorb_with_cpu(
        &mut self,
        t: f64,
        intervals: Vec<Interval>,
        process_cpu_us: Option<u64>,
    ) {
        let mut tick = Interval::default();
        for i in intervals {
            tick.absorb(i);
        }
        let start_s = self.series.last().map_or(0.0, |r| r.t);
        let mut row = self.row(t, &tick);
        // A level: the row holds this collection's, the totals the largest.
        let queued = std::mem::take(&mut tick.gate_queued);
        let wall_us = ((t - start_s) * 1e6).max(1.0);
        let percent = |us: u64| (us as f64 * 100.0 / wall_us * 10.0).round() / 10.0;
        row.cpu_percent = process_cpu_us.map(percent);
        // Measured where the process's time is (both come from `getrusage`).
        row.worker_cpu_percent = process_cpu_us.map(|_| percent(tick.worker_cpu_max_us));
        for m in Metric::ALL {
            let h = &tick.latency[m.index()];
            if !h.is_empty() {
                self.intervals
                    .entry(m.name().to_string())
                    .or_default()
                    .push(IntervalHistogram {
                        start_s,
                        end_s: t,
                        histogram: super::encode(h),
                    });
            }
        }
        self.total.absorb(tick);
        self.total.gate_queued = self.total.gate_queued.max(queued);
        self.series.push(row);
    }

    fn row(&self, t: f64, tick: &Interval) -> SeriesRow {
        let mut states = BTreeMap::new();
        for s in crate::participant::state::ConnectionState::ALL {
            let now = self.total.state_delta[s.index()] + tick.state_delta[s.index()];
            states.insert(s.name().to_string(), now);
        }
        let latency = Metric::ALL
            .iter()
            .filter(|m| !tick.latency[m.index()].is_empty())
            .map(|m| (m.name().to_string(), summarize(&tick.latency[m.index()])))
            .collect();
        SeriesRow {
            t,
            started: tick.started,
            joins: tick.join_answers.get(&0).copied().unwrap_or(0),
            join_errors: tick
                .join_answers
                .iter()
                .filter(|(c, _)| **c != 0)
                .map(|(c, n)| (*c, *n))
                .collect(),
            ended: tick.ended(),
            handshakes_waiting: tick.gate_queued as i64,
            states,
            latency,
            cpu_percent: None,
            worker_cpu_percent: None,
            media: (!tick.media.is_empty()).then_some(tick.media),
        }
    }

    /// Histogram of `metric` over the run.
    pub fn histogram(&self, metric: Metric) -> &Histogram<u64> {
        &self.total.latency[metric.index()]
    }
}

/// Count, p50, p99 and max of a histogram.
pub fn summarize(h: &Histogram<u64>) -> IntervalLatency {
    IntervalLatency {
        count: h.len(),
        p50: h.value_at_quantile(0.5),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hold_the_interval_and_totals_hold_the_run() {
        let mut agg = Aggregate::default();
        let mut a = Interval {
            started: 2,
            ..Default::default()
        };
        a.join_answers.insert(0, 2);
        a.latency(Metric::Join, 1000);
        a.latency(Metric::Join, 3000);
        let mut b = Interval {
            started: 1,
            ..Default::default()
        };
        b.join_answers.insert(10011, 1);
        agg.absorb(1.0, vec![a, b]);
        let mut c = Interval::default();
        c.latency(Metric::Join, 2000);
        agg.absorb(2.0, vec![c]);
        assert_eq!(agg.series.len(), 2);
        let r = &agg.series[0];
        assert_eq!((r.started, r.joins), (3, 2));
        assert_eq!(r.join_errors, BTreeMap::from([(10011, 1)]));
        assert_eq!(r.latency["join"].count, 2);
        assert_eq!(agg.series[1].latency["join"].max, 2000);
        assert_eq!(agg.histogram(Metric::Join).len(), 3);
        assert_eq!(agg.total.started, 3);
    }

    #[test]
    fn rows_carry_cpu_shares_and_handshakes_waiting() {
        use crate::participant::state::ConnectionState as S;
        let mut agg = Aggregate::default();
        let mut a = Interval {
            worker_cpu_max_us: 400_000,
            gate_queued: 5,
            ..Default::default()
        };
        for _ in 0..3 {
            a.transition(S::Disconnected, S::Connecting);
        }
        let b = Interval {
            worker_cpu_max_us: 500_000,
            gate_queued: 2,
            ..Default::default()
        };
        agg.absorb_with_cpu(1.0, vec![a, b], Some(1_500_000));
        let r = &agg.series[0];
        // 1.5 s of process CPU in 1 s: 150% of one core; the busiest worker used 0.5 s.
        assert_eq!(r.cpu_percent, Some(150.0));
        assert_eq!(r.worker_cpu_percent, Some(50.0));
        // The gate's queues of both workers (CONNECTING, 3, is the states' business).
        assert_eq!(r.handshakes_waiting, 7);
        assert_eq!(r.states["CONNECTING"], 3);
        let mut c = Interval {
            gate_queued: 1,
            ..Default::default()
        };
        c.transition(S::Connecting, S::Connected);
        // Half a second later, CPU not measured.
        agg.absorb_with_cpu(1.5, vec![c], None);
        let r = &agg.series[1];
        assert_eq!((r.cpu_percent, r.worker_cpu_percent), (None, None));
        assert_eq!(r.handshakes_waiting, 1, "a level, not added up over time");
        assert_eq!(r.states["CONNECTING"], 2);
        agg.absorb_with_cpu(2.0, vec![], Some(250_000));
        assert_eq!(agg.series[2].handshakes_waiting, 0);
        assert_eq!(agg.total.gate_queued, 7, "the totals keep the largest");
        assert_eq!(agg.series[2].cpu_percent, Some(50.0));
        assert_eq!(agg.series[2].worker_cpu_percent, Some(0.0));
    }
}
