//! The run summary: everything the terminal table shows plus the time series and the merged
//! histograms, as one serializable value (`summary.json`, schema version [`SCHEMA_VERSION`]).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::coordinator::{EndReason, RunOutput};
use crate::metrics::Metric;
use crate::metrics::aggregate::{IntervalHistogram, SeriesRow};
use crate::metrics::recorder::RoomStat;
use crate::participant::outcome::key_name;
use crate::participant::presence;
use crate::plan::Plan;
use crate::scenario::Scenario;
use crate::target::ServerCounters;

/// Version of the `summary.json` layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The run summary.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Layout version.
    pub schema_version: u32,
    /// roomstorm version that produced it.
    pub roomstorm_version: String,
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// What was loaded.
    pub target: TargetInfo,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// Start, milliseconds since the Unix epoch (the base time of the `.hlog` files).
    pub started_at_unix_ms: u64,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Why the run ended.
    pub end_reason: EndReason,
    /// Worker threads.
    pub workers: usize,
    /// Size of the plan.
    pub plan: PlanInfo,
    /// Outcomes.
    pub outcomes: Outcomes,
    /// Every scheduled lifecycle has exactly one outcome.
    pub conservation: Conservation,
    /// Join answers and server disconnects by code.
    pub codes: Codes,
    /// Connection state transitions made, by `FROM->TO` (the SDK's state names).
    pub transitions: BTreeMap<String, u64>,
    /// Transport failures by stage.
    pub failures: BTreeMap<String, u64>,
    /// The first failure message per stage.
    pub failure_examples: BTreeMap<String, String>,
    /// The presence check.
    pub presence: Presence,
    /// Latency percentiles per metric, microseconds.
    pub latency: BTreeMap<String, Percentiles>,
    /// Merged histograms per metric: HdrHistogram V2 deflate encoding, base64.
    pub histograms: BTreeMap<String, String>,
    /// One row per collection interval.
    pub series: Vec<SeriesRow>,
    /// Per metric, each interval's histogram (what the `.hlog` files are written from).
    pub interval_histograms: BTreeMap<String, Vec<IntervalHistogram>>,
    /// Arrivals the plan intended in each whole second of the run.
    pub intended_arrivals: Vec<u32>,
    /// Per-room figures, worst first (most unexpected outcomes, then slowest join).
    pub rooms: Vec<RoomRow>,
    /// Reconnects, what peers saw of them, and the SDK's promise views of refusals.
    #[serde(default)]
    pub recovery: crate::metrics::recovery::RecoveryStats,
    /// From the last fault that fired to the last recovery event (a RECONNECTED or a peer's
    /// `user-reconnected`), µs: how long until presence had converged again. `None` when no
    /// fault fired or nothing recovered after it.
    #[serde(default)]
    pub recovery_converged_after_us: Option<u64>,
    /// Scripted faults: when each fired, what it did and whom it reached.
    #[serde(default)]
    pub faults: Vec<FaultReport>,
    /// Media sent and received (absent when no media moved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<super::media::MediaSummary>,
    /// The embedded server's own counters (absent for external targets).
    pub server: Option<ServerCounters>,
    /// Set in a shard's own result (`run --shard I/N`); absent in a whole or merged run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Each check the scenario implies, with its result.
    pub expectations: Vec<Expectation>,
    /// The scenario's thresholds, with their results.
    pub thresholds: Vec<crate::threshold::ThresholdResult>,
    /// Whether the generator itself was the bottleneck in some interval (does not change the
    /// verdict; exits 3 when the scenario sets `generator.fail`).
    #[serde(default)]
    pub generator: super::generator::GeneratorHealth,
    /// `pass` when every expectation holds and the run was not interrupted.
    pub verdict: Verdict,
}

/// One scripted fault as it happened.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultReport {
    /// When it fired and what it did.
    #[serde(flatten)]
    pub record: crate::coordinator::faults::FaultRecord,
    /// Whom it reached (client faults and kick).
    pub hits: crate::metrics::recovery::FaultHits,
}

/// One room's figures.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoomRow {
    /// Room name.
    pub name: String,
    /// What it went through.
    #[serde(flatten)]
    pub stat: RoomStat,
}

/// Scenario identity.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// File it came from.
    pub file: String,
    /// Seed.
    pub seed: u64,
}

/// Target identity (never credentials).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TargetInfo {
    /// `embedded` or `external`.
    pub kind: String,
    /// HTTP base URL.
    pub url: String,
    /// Signaling driver.
    pub driver: String,
}

/// Plan size.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanInfo {
    /// Rooms.
    pub rooms: usize,
    /// Participants (closed-model slots count once).
    pub participants: usize,
    /// Lifecycles scheduled (closed-model iterations each count).
    pub lifecycles: u64,
}

/// Outcome counts.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcomes {
    /// Lifecycles with an expected outcome.
    pub expected: u64,
    /// Lifecycles with an unexpected outcome.
    pub unexpected: u64,
    /// By outcome (`completed`, an RTC code, `kicked`, `transport_error`, `aborted`).
    pub by_outcome: BTreeMap<String, Split>,
    /// The same per group.
    pub by_group: BTreeMap<String, BTreeMap<String, Split>>,
}

/// Expected and unexpected counts.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
pub struct Split {
    /// Counted as expected by the scenario.
    pub expected: u64,
    /// Not expected.
    pub unexpected: u64,
}

impl Split {
    /// Both together.
    pub fn total(&self) -> u64 {
        self.expected + self.unexpected
    }
}

/// scheduled = completed + failed + aborted.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Conservation {
    /// Lifecycles scheduled.
    pub scheduled: u64,
    /// Lifecycles with an outcome.
    pub accounted: u64,
    /// Whether they are equal.
    pub holds: bool,
}

/// Codes seen.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Codes {
    /// Join answers by code (0 = accepted).
    pub join: BTreeMap<u32, u64>,
    /// Server `disconnect` frames received in rooms, by code.
    pub disconnect: BTreeMap<u32, u64>,
    /// Re-auths (reconnects) the server refused, by code.
    #[serde(default)]
    pub reauth: BTreeMap<u32, u64>,
}

/// The presence check.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Presence {
    /// Stays checked.
    pub stays: usize,
    /// Pairs of overlapping members where one never saw the other.
    pub errors: u64,
    /// Overlap below which a missed peer is not an error, microseconds.
    pub overlap_grace_us: u64,
    /// Notices received before the peer's own answer was processed (counted as 0 µs).
    pub notices_before_reference: u64,
    /// Notices whose reference time never became known (no sample).
    pub notices_unresolved: u64,
    /// Notices about users the plan did not put in the room.
    pub notices_unknown_user: u64,
}

/// Percentiles of one metric, microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

/// One check with its result.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Expectation {
    /// What is checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// Observed versus wanted.
    pub detail: String,
}

/// The run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// At least one did not.
    Fail,
    /// Ctrl-C: results are partial.
    Interrupted,
}

/// Inputs besides the run output.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// Scenario file as given.
    pub file: String,
    /// Target identity.
    pub target: TargetInfo,
    /// Start, RFC 3339.
    pub started_at: String,
    /// Start, milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Server counters, when embedded.
    pub server: Option<ServerCounters>,
    /// The shard this run was, when it was one.
    pub shard: Option<ShardInfo>,
}

/// Which shard of a run a summary holds (`roomstorm run --shard I/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardInfo {
    /// This shard, `0..of`: it ran the rooms `r` with `r % of == index`.
    pub index: u32,
    /// Shards in the run.
    pub of: u32,
    /// The common start every shard waited for, ms since the Unix epoch (`--start-at`).
    pub start_at_unix_ms: Option<u64>,
}

/// The figures a verdict is judged on: one run's, or its shards' added up.
pub(crate) struct Figures<'a> {
    pub end: EndReason,
    pub scheduled: u64,
    pub accounted: u64,
    pub unexpected: u64,
    pub presence_errors: u64,
    pub stays: usize,
    pub by_group: &'a BTreeMap<String, BTreeMap<String, Split>>,
    pub faults: &'a [FaultReport],
}

/// Every expectation the scenario implies, its thresholds, and the verdict. A shard's own
/// summary skips the groups' exact counts (they are about the whole run; `merge` judges them).
pub(crate) fn judge(
    scenario: &Scenario,
    plan: &Plan,
    f: &Figures<'_>,
    observations: &crate::threshold::Observations,
) -> (
    Vec<Expectation>,
    Vec<crate::threshold::ThresholdResult>,
    Verdict,
) {
    let mut expectations = vec![
        Expectation {
            name: "conservation".into(),
            passed: f.accounted == f.scheduled,
            detail: format!("{} scheduled, {} with an outcome", f.scheduled, f.accounted),
        },
        Expectation {
            name: "no unexpected outcomes".into(),
            passed: f.unexpected == 0,
            detail: format!("{} unexpected", f.unexpected),
        },
        Expectation {
            name: "presence".into(),
            passed: f.presence_errors == 0,
            detail: format!(
                "{} missed co-members in {} stays",
                f.presence_errors, f.stays
            ),
        },
    ];
    if plan.groups.iter().any(|g| g.media.is_some()) {
        let m = &observations.media;
        expectations.push(Expectation {
            name: "media presence".into(),
            passed: m.missing == 0
                && m.stalled == 0
                && m.subscribe_failures == 0
                && m.connection_failures == 0,
            detail: format!(
                "{} subscribed tracks ended, {} missing ({} cut short), {} stalled; {} failed subscriptions, {} failed peer connections",
                m.tracks_received,
                m.missing,
                m.cut_short,
                m.stalled,
                m.subscribe_failures,
                m.connection_failures
            ),
        });
    }
    if plan.shard.is_none() {
        for g in &plan.groups {
            for (key, want) in &g.expect_counts {
                let name = key_name(*key);
                let got = f
                    .by_group
                    .get(&g.name)
                    .and_then(|m| m.get(&name))
                    .map_or(0, Split::total);
                expectations.push(Expectation {
                    name: format!("group {}: {name} == {want}", g.name),
                    passed: got == *want,
                    detail: format!("got {got}"),
                });
            }
        }
    }
    for fr in f.faults {
        let r = &fr.record;
        expectations.push(Expectation {
            name: format!("fault {} `{}` applied", r.index, r.kind),
            passed: r.ok && fr.hits.failed == 0,
            detail: match (fr.hits.applied + fr.hits.missed + fr.hits.failed, r.ok) {
                (0, _) | (_, false) => r.result.clone(),
                _ => format!(
                    "{}; {} hit, {} not in a room, {} failed",
                    r.result, fr.hits.applied, fr.hits.missed, fr.hits.failed
                ),
            },
        });
    }
    let thresholds: Vec<crate::threshold::ThresholdResult> = scenario
        .thresholds
        .iter()
        .map(|t| t.threshold.evaluate(observations, t.abort_on_fail))
        .collect();
    if f.end == EndReason::ThresholdFailed {
        expectations.push(Expectation {
            name: "run completed".into(),
            passed: false,
            detail: "stopped early: a threshold marked abort_on_fail failed".into(),
        });
    }
    let verdict = if f.end == EndReason::Interrupted {
        Verdict::Interrupted
    } else if expectations.iter().all(|e| e.passed) && thresholds.iter().all(|t| t.passed) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    (expectations, thresholds, verdict)
}

/// Builds the summary of a finished run.
pub fn build(scenario: &Scenario, plan: &Plan, out: &RunOutput, meta: RunMeta) -> Summary {
    let total = &out.aggregate.total;
    let mut by_outcome: BTreeMap<String, Split> = BTreeMap::new();
    let mut by_group: BTreeMap<String, BTreeMap<String, Split>> = BTreeMap::new();
    for (&(group, key, expected), &n) in &total.outcomes {
        let name = key_name(key);
        let add = |s: &mut Split| {
            if expected {
                s.expected += n
            } else {
                s.unexpected += n
            }
        };
        add(by_outcome.entry(name.clone()).or_default());
        let gname = plan.groups[group as usize].name.clone();
        add(by_group.entry(gname).or_default().entry(name).or_default());
    }
    let expected: u64 = by_outcome.values().map(|s| s.expected).sum();
    let unexpected: u64 = by_outcome.values().map(|s| s.unexpected).sum();
    let accounted = expected + unexpected;
    let scheduled = plan.lifecycles();
    let presence_errors = presence::presence_errors(&total.stays);
    let faults: Vec<FaultReport> = out
        .faults
        .iter()
        .map(|record| FaultReport {
            record: record.clone(),
            hits: total
                .recovery
                .faults
                .get(&record.index)
                .copied()
                .unwrap_or_default(),
        })
        .collect();
    let last_fault_us = out
        .faults
        .iter()
        .filter_map(|f| f.fired_s)
        .map(|s| (s * 1e6) as u64)
        .max();
    let recovery_converged_after_us = match (last_fault_us, total.recovery.last_recovery_us) {
        (Some(fault), last) if last > fault => Some(last - fault),
        _ => None,
    };
    let mut observations = crate::threshold::Observations::from_aggregate(&out.aggregate);
    observations.presence_errors = Some(presence_errors);
    let (expectations, thresholds, verdict) = judge(
        scenario,
        plan,
        &Figures {
            end: out.end,
            scheduled,
            accounted,
            unexpected,
            presence_errors,
            stays: total.stays.len(),
            by_group: &by_group,
            faults: &faults,
        },
        &observations,
    );
    Summary {
        schema_version: SCHEMA_VERSION,
        roomstorm_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            file: meta.file,
            seed: scenario.seed,
        },
        target: meta.target,
        started_at: meta.started_at,
        started_at_unix_ms: meta.started_at_unix_ms,
        duration_s: out.elapsed.as_secs_f64(),
        end_reason: out.end,
        workers: out.workers,
        plan: PlanInfo {
            rooms: plan.rooms.len(),
            participants: plan.active().count(),
            lifecycles: scheduled,
        },
        outcomes: Outcomes {
            expected,
            unexpected,
            by_outcome,
            by_group,
        },
        conservation: Conservation {
            scheduled,
            accounted,
            holds: accounted == scheduled,
        },
        codes: Codes {
            join: total.join_answers.clone(),
            disconnect: total.server_disconnects.clone(),
            reauth: total.recovery.refused.clone(),
        },
        transitions: transition_counts(&total.transitions),
        failures: total
            .failures
            .iter()
            .map(|(stage, n)| (stage.name().to_string(), *n))
            .collect(),
        failure_examples: total
            .failure_examples
            .iter()
            .map(|(stage, text)| (stage.name().to_string(), text.clone()))
            .collect(),
        presence: Presence {
            stays: total.stays.len(),
            errors: presence_errors,
            overlap_grace_us: presence::OVERLAP_GRACE_US,
            notices_before_reference: total.notices_before_reference,
            notices_unresolved: total.notices_unresolved,
            notices_unknown_user: total.notices_unknown_user,
        },
        latency: Metric::ALL
            .iter()
            .map(|m| {
                (
                    m.name().to_string(),
                    percentiles(out.aggregate.histogram(*m)),
                )
            })
            .collect(),
        histograms: Metric::ALL
            .iter()
            .map(|m| (m.name().to_string(), encode(out.aggregate.histogram(*m))))
            .collect(),
        series: out.aggregate.series.clone(),
        interval_histograms: out.aggregate.intervals.clone(),
        intended_arrivals: plan.arrivals_per_second(),
        rooms: room_rows(plan, &total.rooms),
        recovery: total.recovery.clone(),
        recovery_converged_after_us,
        faults,
        media: super::media::MediaSummary::of(total.media, out.elapsed.as_secs_f64()),
        server: meta.server,
        shard: meta.shard,
        expectations,
        thresholds,
        generator: super::generator::assess(&out.aggregate.series, &scenario.generator),
        verdict,
    }
}

fn room_rows(plan: &Plan, stats: &[RoomStat]) -> Vec<RoomRow> {
    let mut rows: Vec<RoomRow> = plan
        .rooms
        .iter()
        .enumerate()
        .map(|(i, name)| RoomRow {
            name: name.clone(),
            stat: stats.get(i).copied().unwrap_or_default(),
        })
        .collect();
    sort_rooms(&mut rows);
    rows
}

/// Worst rooms first: most unexpected outcomes, then slowest join.
pub(crate) fn sort_rooms(rows: &mut [RoomRow]) {
    rows.sort_by(|a, b| {
        b.stat
            .unexpected
            .cmp(&a.stat.unexpected)
            .then(b.stat.max_join_us.cmp(&a.stat.max_join_us))
    });
}

fn transition_counts(matrix: &[[u64; 5]; 5]) -> BTreeMap<String, u64> {
    use crate::participant::state::ConnectionState;
    let mut out = BTreeMap::new();
    for from in ConnectionState::ALL {
        for to in ConnectionState::ALL {
            let n = matrix[from.index()][to.index()];
            if n > 0 {
                out.insert(format!("{}->{}", from.name(), to.name()), n);
            }
        }
    }
    out
}

/// Percentiles of a histogram (all zero when empty).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles {
            count: 0,
            min: 0,
            mean: 0.0,
            p50: 0,
            p90: 0,
            p99: 0,
            p999: 0,
            max: 0,
        };
    }
    Percentiles {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

/// Kept here for the report's callers; it lives in [`crate::metrics`], below both.
pub use crate::metrics::encode;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::aggregate::Aggregate;
    use crate::metrics::recorder::Interval;
    use crate::participant::outcome::Outcome;
    use crate::plan;
    use crate::scenario::{Arrival, OutcomeKey};

    fn meta() -> RunMeta {
        RunMeta {
            file: "f.yaml".into(),
            target: TargetInfo {
                kind: "embedded".into(),
                url: "http://127.0.0.1:1".into(),
                driver: "qiniu".into(),
            },
            started_at: "2026-11-27T00:00:00Z".into(),
            started_at_unix_ms: 1_795_737_600_000,
            server: None,
            shard: None,
        }
    }

    fn output(outcomes: &[(OutcomeKey, bool, u64)], end: EndReason) -> RunOutput {
        let mut i = Interval::default();
        for &(key, expected, n) in outcomes {
            for _ in 0..n {
                i.outcome(
                    0,
                    Outcome {
                        key,
                        expected,
                        step: 0,
                    },
                );
            }
        }
        let mut aggregate = Aggregate::default();
        aggregate.absorb(1.0, vec![i]);
        RunOutput {
            aggregate,
            end,
            elapsed: Duration::from_secs(1),
            workers: 1,
            faults: Vec::new(),
        }
    }

    #[test]
    fn expectations_and_verdicts() {
        let mut scenario = plan::tests::scenario(2, 5, Arrival::Burst { at: Duration::ZERO });
        scenario.groups[0].expect_counts =
            vec![(OutcomeKey::Completed, 8), (OutcomeKey::Code(10011), 2)];
        let plan = plan::compile(&scenario);
        let good = [
            (OutcomeKey::Completed, true, 8),
            (OutcomeKey::Code(10011), true, 2),
        ];
        let s = build(
            &scenario,
            &plan,
            &output(&good, EndReason::Completed),
            meta(),
        );
        assert_eq!(s.verdict, Verdict::Pass);
        assert!(s.conservation.holds);
        assert_eq!(
            s.outcomes.by_outcome["10011"],
            Split {
                expected: 2,
                unexpected: 0
            }
        );
        assert_eq!(s.expectations.len(), 5);

        // One refusal too many: the count expectation fails, and so does the verdict.
        let off = [
            (OutcomeKey::Completed, true, 7),
            (OutcomeKey::Code(10011), true, 3),
        ];
        let s = build(
            &scenario,
            &plan,
            &output(&off, EndReason::Completed),
            meta(),
        );
        assert_eq!(s.verdict, Verdict::Fail);
        let failed: Vec<&str> = s
            .expectations
            .iter()
            .filter(|e| !e.passed)
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(failed, ["group m: completed == 8", "group m: 10011 == 2"]);

        // A lost lifecycle breaks conservation.
        let lost = [
            (OutcomeKey::Completed, true, 8),
            (OutcomeKey::Code(10011), true, 1),
        ];
        let s = build(
            &scenario,
            &plan,
            &output(&lost, EndReason::Completed),
            meta(),
        );
        assert!(!s.conservation.holds);
        assert_eq!(s.verdict, Verdict::Fail);

        // Ctrl-C: partial results, whatever they say.
        let s = build(
            &scenario,
            &plan,
            &output(&good, EndReason::Interrupted),
            meta(),
        );
        assert_eq!(s.verdict, Verdict::Interrupted);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["end_reason"], "interrupted");
        // What is written can be read back (`roomstorm report` and `compare` start from it).
        let back: Summary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
    }
}
