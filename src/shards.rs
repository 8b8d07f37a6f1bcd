//! Shards: one run split over processes (or machines), each holding whole rooms.
//!
//! Room `r` belongs to shard `r % N`; every shard compiles the whole plan from the same seed and
//! runs its own rooms' participants (ids and room indices stay the plan's). Members of a room
//! stay together, so presence and fan-out are measured with one clock. Client faults and kicks
//! hit each shard's own targets; server-wide faults (stall, restart, drop_connections,
//! close_rooms, auth_latency) are fired by shard 0 alone.
//!
//! A shard's result is its ordinary `summary.json` with a `shard` field. [`merge`] adds shard
//! summaries into the summary of the whole run: histograms decoded and added (exact, never
//! averaged percentiles), counts added, time series rows and interval histograms aligned on the
//! absolute second (each shard's `started_at_unix_ms` plus the row's time), and every
//! expectation and threshold judged again on the merged figures against the whole plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use crate::coordinator::EndReason;
use crate::coordinator::faults::FaultRecord;
use crate::coordinator::progress::ShardProgress;
use crate::metrics::aggregate::{IntervalHistogram, SeriesRow, summarize};
use crate::participant::outcome::key_name;
use crate::plan;
use crate::report::hlog::decode;
use crate::report::summary::{
    self, Codes, Conservation, FaultReport, Figures, Outcomes, PlanInfo, Presence, RoomRow,
    ScenarioInfo, Split, Summary, TargetInfo, encode, percentiles,
};
use crate::scenario::{OutcomeKey, Scenario};
use crate::target::ServerCounters;
use crate::threshold::Observations;

/// Environment variables that hand the run's keys to shard processes (never argv: the command
/// line shows in `ps`).
pub use crate::credentials::{ACCESS_KEY_ENV, SECRET_KEY_ENV};

/// Parses `--start-at`: RFC 3339 (`2026-11-27T07:00:00Z`) or milliseconds since the Unix epoch.
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    if let Ok(ms) = s.trim().parse::<u64>() {
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    }
    humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
        format!("expected an RFC 3339 time (2026-11-27T07:00:00Z) or Unix milliseconds: {e}")
    })
}

/// Checks that `parts` are the `N` distinct shards of one run of `scenario`.
fn check(parts: &[(PathBuf, Summary)], scenario: &Scenario) -> Result<u32, String> {
    let Some((_, first)) = parts.first() else {
        return Err("no shard results given".into());
    };
    let of = match first.shard {
        Some(s) => s.of,
        None => return Err(format!("{}: not a shard result", parts[0].0.display())),
    };
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (path, s) in parts {
        let Some(shard) = s.shard else {
            return Err(format!(
                "{}: not a shard result (no `shard` field)",
                path.display()
            ));
        };
        if shard.of != of {
            return Err(format!(
                "{}: shard {}/{} of a run split in {}, not {of}",
                path.display(),
                shard.index,
                shard.of,
                shard.of
            ));
        }
        if s.scenario.name != scenario.name || s.scenario.seed != scenario.seed {
            return Err(format!(
                "{}: scenario `{}` seed {}, not `{}` seed {}",
                path.display(),
                s.scenario.name,
                s.scenario.seed,
                scenario.name,
                scenario.seed
            ));
        }
        if s.schema_version != summary::SCHEMA_VERSION {
            return Err(format!(
                "{}: summary schema version {}, this roomstorm reads {}",
                path.display(),
                s.schema_version,
                summary::SCHEMA_VERSION
            ));
        }
        if let Some(other) = seen.insert(shard.index, path) {
            return Err(format!(
                "shard {}/{of} given twice: {} and {}",
                shard.index,
                other.display(),
                path.display()
            ));
        }
    }
    let missing: Vec<String> = (0..of)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{of}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shard(s) {}", missing.join(", ")));
    }
    Ok(of)
}

fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn add_split(into: &mut BTreeMap<String, Split>, from: &BTreeMap<String, Split>) {
    for (k, v) in from {
        let e = into.entry(k.clone()).or_default();
        e.expected += v.expected;
        e.unexpected += v.unexpected;
    }
}

fn add_histogram(into: &mut Option<Histogram<u64>>, encoded: &str) -> Result<(), String> {
    let mut h = decode(encoded)?;
    // A decoded histogram tracks only up to its own largest value: let the sum grow.
    h.auto(true);
    match into {
        Some(sum) => sum
            .add(&h)
            .map_err(|e| format!("histograms do not add: {e:?}")),
        None => {
            *into = Some(h);
            Ok(())
        }
    }
}

/// Merges the summaries of every shard of one run (each with the folder it came from, for
/// messages) into the summary of the whole run. `file` names the scenario file; `target`
/// replaces the shards' target description (the parent's embedded server); `server` carries
/// that server's counters.
pub fn merge(
    parts: &[(PathBuf, Summary)],
    scenario: &Scenario,
    file: &str,
    target: Option<TargetInfo>,
    server: Option<ServerCounters>,
) -> Result<Summary, String> {
    check(parts, scenario)?;
    let plan = plan::compile(scenario);
    let summaries: Vec<&Summary> = parts.iter().map(|(_, s)| s).collect();
    let start_ms = summaries
        .iter()
        .map(|s| s.started_at_unix_ms)
        .min()
        .unwrap_or(0);
    let end_ms = summaries
        .iter()
        .map(|s| s.started_at_unix_ms + (s.duration_s * 1000.0) as u64)
        .max()
        .unwrap_or(start_ms);
    let offset_s = |s: &Summary| (s.started_at_unix_ms - start_ms) as f64 / 1000.0;
    let end = [
        EndReason::Interrupted,
        EndReason::ThresholdFailed,
        EndReason::Deadline,
    ]
    .into_iter()
    .find(|r| summaries.iter().any(|s| s.end_reason == *r))
    .unwrap_or(EndReason::Completed);

    let mut by_outcome = BTreeMap::new();
    let mut by_group: BTreeMap<String, BTreeMap<String, Split>> = BTreeMap::new();
    let mut codes = Codes {
        join: BTreeMap::new(),
        disconnect: BTreeMap::new(),
        reauth: BTreeMap::new(),
    };
    let mut transitions = BTreeMap::new();
    let mut failures = BTreeMap::new();
    let mut failure_examples = BTreeMap::new();
    let mut presence = Presence {
        stays: 0,
        errors: 0,
        overlap_grace_us: summaries[0].presence.overlap_grace_us,
        notices_before_reference: 0,
        notices_unresolved: 0,
        notices_unknown_user: 0,
    };
    let mut recovery = crate::metrics::recovery::RecoveryStats::default();
    let mut media = crate::metrics::media::MediaCounters::default();
    let mut rooms: BTreeMap<String, crate::metrics::recorder::RoomStat> = BTreeMap::new();
    let mut histograms: BTreeMap<String, Option<Histogram<u64>>> = BTreeMap::new();
    for s in &summaries {
        add_split(&mut by_outcome, &s.outcomes.by_outcome);
        for (g, m) in &s.outcomes.by_group {
            add_split(by_group.entry(g.clone()).or_default(), m);
        }
        add_map(&mut codes.join, &s.codes.join);
        add_map(&mut codes.disconnect, &s.codes.disconnect);
        add_map(&mut codes.reauth, &s.codes.reauth);
        add_map(&mut transitions, &s.transitions);
        add_map(&mut failures, &s.failures);
        for (k, v) in &s.failure_examples {
            failure_examples
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        presence.stays += s.presence.stays;
        presence.errors += s.presence.errors;
        presence.notices_before_reference += s.presence.notices_before_reference;
        presence.notices_unresolved += s.presence.notices_unresolved;
        presence.notices_unknown_user += s.presence.notices_unknown_user;
        recovery.absorb(&s.recovery);
        if let Some(m) = &s.media {
            media.absorb(&m.counters);
        }
        let offset_us = (offset_s(s) * 1e6) as u64;
        for row in &s.rooms {
            let mut stat = row.stat;
            if stat.first_unexpected_us > 0 {
                stat.first_unexpected_us += offset_us;
            }
            rooms.entry(row.name.clone()).or_default().absorb(&stat);
        }
        for (metric, encoded) in &s.histograms {
            add_histogram(histograms.entry(metric.clone()).or_default(), encoded)?;
        }
    }
    let histograms: BTreeMap<String, Histogram<u64>> = histograms
        .into_iter()
        .filter_map(|(k, h)| h.map(|h| (k, h)))
        .collect();
    let expected: u64 = by_outcome.values().map(|s: &Split| s.expected).sum();
    let unexpected: u64 = by_outcome.values().map(|s: &Split| s.unexpected).sum();
    let scheduled = plan.lifecycles();

    let (series, interval_histograms) = merge_series(&summaries, start_ms)?;
    let faults = merge_faults(&plan, &summaries, &recovery);
    let recovery_converged_after_us = summaries
        .iter()
        .filter_map(|s| s.recovery_converged_after_us)
        .max();

    let mut observations = Observations {
        latency: histograms.clone(),
        expected,
        unexpected,
        transport: by_outcome
            .get(&key_name(OutcomeKey::TransportError))
            .map_or(0, Split::total),
        outcomes: by_outcome
            .iter()
            .map(|(k, v)| (k.clone(), v.total()))
            .collect(),
        recovery: recovery.clone(),
        presence_errors: Some(presence.errors),
        media,
        ..Default::default()
    };
    for (&code, &n) in codes
        .join
        .iter()
        .chain(&codes.disconnect)
        .chain(&codes.reauth)
    {
        if code != 0 {
            *observations.codes.entry(code).or_default() += n;
        }
    }
    let (expectations, thresholds, verdict) = summary::judge(
        scenario,
        &plan,
        &Figures {
            end,
            scheduled,
            accounted: expected + unexpected,
            unexpected,
            presence_errors: presence.errors,
            stays: presence.stays,
            by_group: &by_group,
            faults: &faults,
        },
        &observations,
    );
    let mut room_rows: Vec<RoomRow> = rooms
        .into_iter()
        .map(|(name, stat)| RoomRow { name, stat })
        .collect();
    summary::sort_rooms(&mut room_rows);
    let first = summaries[0];
    Ok(Summary {
        schema_version: summary::SCHEMA_VERSION,
        roomstorm_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            file: file.to_string(),
            seed: scenario.seed,
        },
        target: target.unwrap_or_else(|| first.target.clone()),
        started_at: crate::token::format_unix(start_ms / 1000),
        started_at_unix_ms: start_ms,
        duration_s: (end_ms - start_ms) as f64 / 1000.0,
        end_reason: end,
        workers: summaries.iter().map(|s| s.workers).sum(),
        plan: PlanInfo {
            rooms: plan.rooms.len(),
            participants: plan.participants.len(),
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
            accounted: expected + unexpected,
            holds: expected + unexpected == scheduled,
        },
        codes,
        transitions,
        failures,
        failure_examples,
        presence,
        latency: crate::metrics::Metric::ALL
            .iter()
            .map(|m| {
                let h = histograms.get(m.name());
                (
                    m.name().to_string(),
                    h.map_or_else(|| percentiles(&empty()), percentiles),
                )
            })
            .collect(),
        histograms: crate::metrics::Metric::ALL
            .iter()
            .map(|m| {
                let h = histograms.get(m.name());
                (
                    m.name().to_string(),
                    h.map_or_else(|| encode(&empty()), encode),
                )
            })
            .collect(),
        generator: crate::report::generator::assess(&series, &scenario.generator),
        series,
        interval_histograms,
        intended_arrivals: plan.arrivals_per_second(),
        rooms: room_rows,
        recovery,
        recovery_converged_after_us,
        media: crate::report::media::MediaSummary::of(media, (end_ms - start_ms) as f64 / 1000.0),
        faults,
        server,
        shard: None,
        expectations,
        thresholds,
        verdict,
    })
}

fn empty() -> Histogram<u64> {
    crate::metrics::recorder::Interval::default().latency[0].clone()
}

/// Rows and interval histograms of every shard, on the merged clock: a row at `t` of a shard
/// that started `o` seconds after the first lands in second `round(o + t)`; counts add, each
/// shard's participant states carry over seconds it has no row for, and each second's latency
/// comes from the added interval histograms.
#[allow(clippy::type_complexity)]
fn merge_series(
    summaries: &[&Summary],
    start_ms: u64,
) -> Result<(Vec<SeriesRow>, BTreeMap<String, Vec<IntervalHistogram>>), String> {
    let bucket = |s: &Summary, t: f64| -> i64 {
        ((s.started_at_unix_ms - start_ms) as f64 / 1000.0 + t).round() as i64
    };
    let mut seconds: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
    // Per shard: its rows by second (rows falling in one second add up).
    let mut per_shard: Vec<BTreeMap<i64, SeriesRow>> = Vec::new();
    for s in summaries {
        let mut rows: BTreeMap<i64, SeriesRow> = BTreeMap::new();
        for row in &s.series {
            let b = bucket(s, row.t);
            seconds.insert(b);
            match rows.get_mut(&b) {
                Some(r) => {
                    if let Some(m) = &row.media {
                        r.media.get_or_insert_with(Default::default).absorb(m);
                    }
                    r.started += row.started;
                    r.joins += row.joins;
                    r.ended += row.ended;
                    add_map(&mut r.join_errors, &row.join_errors);
                    r.states.clone_from(&row.states);
                }
                None => {
                    rows.insert(b, row.clone());
                }
            }
        }
        per_shard.push(rows);
    }
    let mut hist: BTreeMap<String, BTreeMap<i64, Option<Histogram<u64>>>> = BTreeMap::new();
    for s in summaries {
        for (metric, list) in &s.interval_histograms {
            for ih in list {
                let b = bucket(s, ih.end_s);
                seconds.insert(b);
                add_histogram(
                    hist.entry(metric.clone())
                        .or_default()
                        .entry(b)
                        .or_default(),
                    &ih.histogram,
                )?;
            }
        }
    }
    let mut series = Vec::with_capacity(seconds.len());
    let mut last_states: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); per_shard.len()];
    for &b in &seconds {
        let mut row = SeriesRow {
            t: b as f64,
            started: 0,
            joins: 0,
            join_errors: BTreeMap::new(),
            ended: 0,
            states: BTreeMap::new(),
            latency: BTreeMap::new(),
            cpu_percent: None,
            worker_cpu_percent: None,
            handshakes_waiting: 0,
            media: None,
        };
        for (i, rows) in per_shard.iter().enumerate() {
            if let Some(r) = rows.get(&b) {
                row.started += r.started;
                row.joins += r.joins;
                row.ended += r.ended;
                add_map(&mut row.join_errors, &r.join_errors);
                // Processes add up; the busiest worker thread is the busiest of any shard.
                row.cpu_percent = match (row.cpu_percent, r.cpu_percent) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                row.worker_cpu_percent = match (row.worker_cpu_percent, r.worker_cpu_percent) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                row.handshakes_waiting += r.handshakes_waiting;
                if let Some(m) = &r.media {
                    row.media.get_or_insert_with(Default::default).absorb(m);
                }
                last_states[i].clone_from(&r.states);
            }
            for (k, v) in &last_states[i] {
                *row.states.entry(k.clone()).or_default() += v;
            }
        }
        for (metric, by_second) in &hist {
            if let Some(Some(h)) = by_second.get(&b) {
                row.latency.insert(metric.clone(), summarize(h));
            }
        }
        series.push(row);
    }
    let mut intervals: BTreeMap<String, Vec<IntervalHistogram>> = BTreeMap::new();
    for (metric, by_second) in hist {
        let list = intervals.entry(metric).or_default();
        for (b, h) in by_second {
            let Some(h) = h else { continue };
            let start_s = seconds.range(..b).next_back().map_or(0.0, |p| *p as f64);
            list.push(IntervalHistogram {
                start_s,
                end_s: b as f64,
                histogram: encode(&h),
            });
        }
    }
    Ok((series, intervals))
}

/// One record per planned fault: fired at the earliest shard's time, its targets added, applied
/// only when every shard applied its part; hits from the merged recovery figures.
fn merge_faults(
    plan: &plan::Plan,
    summaries: &[&Summary],
    recovery: &crate::metrics::recovery::RecoveryStats,
) -> Vec<FaultReport> {
    let mut out = Vec::new();
    for f in &plan.faults {
        let records: Vec<&FaultRecord> = summaries
            .iter()
            .flat_map(|s| s.faults.iter().map(|r| &r.record))
            .filter(|r| r.index as usize == f.index)
            .collect();
        let Some(first) = records.first() else {
            continue;
        };
        let mut results: Vec<&str> = records.iter().map(|r| r.result.as_str()).collect();
        results.dedup();
        let record = FaultRecord {
            index: first.index,
            kind: first.kind.clone(),
            at_s: first.at_s,
            fired_s: records
                .iter()
                .filter_map(|r| r.fired_s)
                .min_by(|a, b| a.total_cmp(b)),
            targets: records.iter().map(|r| r.targets).sum(),
            result: results.join("; "),
            ok: records.iter().all(|r| r.ok),
        };
        out.push(FaultReport {
            hits: recovery
                .faults
                .get(&record.index)
                .copied()
                .unwrap_or_default(),
            record,
        });
    }
    out
}

/// Most shard processes `run` starts by itself; more must be asked for with `--shards`.
pub const MAX_AUTO_SHARDS: usize = 64;

/// Share of a shard's open-file budget its plan may fill: token exchanges and sockets closing
/// after a leave need files beyond the members'.
const SHARD_FILL: f64 = 0.8;

/// Shard processes a run needs so that every process's sockets fit its open-file limit: `None`
/// when one process holds the run (`embedded_here`: the embedded server's ends of the sockets
/// are in the same process). Shards hold whole rooms `r % N`, so they split the peak evenly.
pub fn shards_needed(peak: usize, embedded_here: bool, fd_limit: usize) -> Option<usize> {
    let reserve = 2 * crate::server::limits::FD_RESERVE;
    let per_participant = if embedded_here {
        crate::target::FDS_PER_EMBEDDED_PARTICIPANT
    } else {
        1
    };
    if peak * per_participant + reserve <= fd_limit {
        return None;
    }
    let per_shard = (fd_limit.saturating_sub(reserve) as f64 * SHARD_FILL) as usize;
    Some(peak.div_ceil(per_shard.max(1)).max(2))
}

/// `roomstorm run --shards N`: starts the embedded server once (when the scenario has one and
/// no `--target` replaces it), runs N shard processes of this executable against one target
/// with a common start a moment ahead, forwards Ctrl-C to them (by their PIDs), and merges what
/// they wrote into one run folder, with the server's counters.
pub fn run_local(
    scenario: &Scenario,
    scenario_path: &Path,
    n: u32,
    options: crate::run::RunOptions,
) -> Result<crate::run::Finished, crate::error::CommandError> {
    use crate::error::CommandError;
    use std::os::unix::process::CommandExt as _;
    use std::process::{Command, Stdio};

    if n == 0 {
        return Err(CommandError::InvalidInput(
            "--shards must be at least 1".into(),
        ));
    }
    let plan = plan::compile(scenario);
    // One target for every shard: the embedded server runs here, in this process.
    let embedded = match (&options.target, &scenario.target) {
        (None, crate::scenario::Target::Embedded(_)) => Some(
            // Only the server's end of each socket lives here (the clients are in the shard
            // processes); beyond one process's files the server runs in processes of its own.
            crate::target::prepare(
                scenario,
                plan.peak_participants(),
                crate::target::Clients::Elsewhere,
                None,
            )
            .map_err(|e| CommandError::Incomplete(e.to_string()))?,
        ),
        _ => None,
    };
    let url = match (&embedded, &options.target, &scenario.target) {
        (Some(p), _, _) => p.base_url.clone(),
        (None, Some(url), _) => url.clone(),
        (None, None, crate::scenario::Target::External { url, .. }) => url.clone(),
        (None, None, crate::scenario::Target::Janus(j)) => j.url.clone(),
        (None, None, crate::scenario::Target::Embedded(_)) => unreachable!("prepared above"),
    };
    let dir = crate::run::run_dir(&options.out_dir, &scenario.name);
    let start_at = options
        .start_at
        .unwrap_or_else(|| SystemTime::now() + Duration::from_millis(2000 + 100 * u64::from(n)));
    let start_ms = crate::run::unix_ms(start_at);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let workers = if options.workers == 0 {
        (cores / n as usize).max(1)
    } else {
        options.workers
    };
    let exe = std::env::current_exe()
        .map_err(|e| CommandError::Incomplete(format!("cannot find this executable: {e}")))?;
    // The ports every shard opens towards the target add up: choose source addresses for the
    // whole run's peak here, and give every shard all of them.
    let mut progress = options.progress.clone();
    let sources = crate::run::source_addresses(
        &url,
        plan.peak_participants(),
        &options.sources,
        &mut progress,
    )?;
    let mut children = Vec::with_capacity(n as usize);
    let shared: Shared = std::sync::Arc::new(std::sync::Mutex::new(vec![None; n as usize]));
    let mut readers: Vec<std::thread::JoinHandle<()>> = Vec::with_capacity(n as usize);
    let janus_room_secret = std::env::var(crate::target::janus::ROOM_SECRET_ENV)
        .unwrap_or_else(|_| crate::ids::random_hex(16));
    for i in 0..n {
        let out = dir.join("shards").join(i.to_string());
        std::fs::create_dir_all(&out)
            .map_err(|e| CommandError::Incomplete(format!("{}: {e}", out.display())))?;
        let file = |name: &str| {
            std::fs::File::create(out.join(name))
                .map_err(|e| CommandError::Incomplete(format!("{}: {e}", out.display())))
        };
        let mut cmd = Command::new(&exe);
        cmd.arg("run")
            .arg(scenario_path)
            .arg("--shard")
            .arg(format!("{i}/{n}"))
            .arg("--start-at")
            .arg(start_ms.to_string())
            .arg("--target")
            .arg(&url)
            .arg("--workers")
            .arg(workers.to_string())
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .arg("--progress-json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file("log.txt")?)
            // Its own process group: a terminal's Ctrl-C reaches the children once, through us.
            .process_group(0);
        for ip in &sources {
            cmd.arg("--source-addr").arg(ip.to_string());
        }
        if let Some(m) = options.max_connecting {
            cmd.arg("--max-connecting")
                .arg(m.div_ceil(n as usize).to_string());
        }
        if matches!(scenario.target, crate::scenario::Target::Janus(_)) {
            // One room secret for all shards: shard 0 fires `close_rooms` on every shard's rooms.
            cmd.env(crate::target::janus::ROOM_SECRET_ENV, &janus_room_secret);
        }
        if let Some(p) = &embedded {
            cmd.env(ACCESS_KEY_ENV, &p.keys.access_key).env(
                SECRET_KEY_ENV,
                String::from_utf8_lossy(p.keys.secret_key.expose_bytes()).as_ref(),
            );
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| CommandError::Incomplete(format!("cannot start shard {i}/{n}: {e}")))?;
        if let Some(stdout) = child.stdout.take() {
            readers.push(read_shard_output(
                stdout,
                file("output.txt")?,
                shared.clone(),
                i as usize,
            ));
        }
        children.push(child);
    }
    let live = std::sync::Arc::new(std::sync::Mutex::new(
        children.iter().map(|c| c.id()).collect::<Vec<u32>>(),
    ));
    forward_interrupts(live.clone());
    let server_pids = embedded
        .as_ref()
        .and_then(|p| p.embedded.as_ref())
        .map(crate::target::EmbeddedHandle::pids)
        .unwrap_or_default();
    if !server_pids.is_empty() {
        progress.note(&format!(
            "the embedded server runs in {} processes (pids {}) behind {url}: one cannot hold {} sockets",
            server_pids.len(),
            server_pids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "),
            plan.peak_participants()
        ));
    }
    progress.note(&format!(
        "{n} shards started against {url}; results in {}",
        dir.display()
    ));
    let mut statuses: Vec<Option<std::io::Result<std::process::ExitStatus>>> =
        (0..children.len()).map(|_| None).collect();
    let mut shown = std::time::Instant::now();
    while statuses.iter().any(Option::is_none) {
        {
            // Reaped under the lock, so a forwarded Ctrl-C never reaches a reused PID.
            let mut pids = live
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (c, st) in children.iter_mut().zip(statuses.iter_mut()) {
                if st.is_some() {
                    continue;
                }
                match c.try_wait() {
                    Ok(None) => {}
                    Ok(Some(done)) => *st = Some(Ok(done)),
                    Err(e) => *st = Some(Err(e)),
                }
                if st.is_some() {
                    pids.retain(|p| *p != c.id());
                }
            }
        }
        if shown.elapsed() >= Duration::from_secs(1) {
            shown = std::time::Instant::now();
            let running = statuses.iter().filter(|s| s.is_none()).count();
            let latest = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            progress.show(|| combined_line(&latest, running));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for r in readers {
        let _ = r.join();
    }
    let statuses: Vec<_> = statuses.into_iter().flatten().collect();
    let server = embedded
        .as_ref()
        .and_then(|p| p.embedded.as_ref())
        .and_then(|e| e.counters());
    let target = embedded.as_ref().map(|p| TargetInfo {
        kind: "embedded".into(),
        url: p.base_url.clone(),
        driver: "qiniu".into(),
    });
    if let Some(e) = embedded.and_then(|p| p.embedded) {
        e.stop();
    }
    let mut parts = Vec::with_capacity(n as usize);
    for (i, status) in statuses.into_iter().enumerate() {
        let out = dir.join("shards").join(i.to_string());
        let found = shard_result(&out);
        match found {
            Some(run) => {
                let s = crate::report::read_summary(&run).map_err(CommandError::Incomplete)?;
                parts.push((run, s));
            }
            None => {
                return Err(CommandError::Incomplete(format!(
                    "shard {i}/{n} wrote no result ({}); see {}",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    out.join("log.txt").display()
                )));
            }
        }
    }
    let merged =
        merge(&parts, scenario, &options.file, target, server).map_err(CommandError::Incomplete)?;
    crate::report::write_json(&dir, &merged)
        .map_err(|e| CommandError::Incomplete(format!("cannot write {}: {e}", dir.display())))?;
    crate::report::write_derived(&merged, &dir).map_err(CommandError::Incomplete)?;
    Ok(crate::run::Finished {
        summary: merged,
        dir,
    })
}

/// The latest progress of each shard.
type Shared = std::sync::Arc<std::sync::Mutex<Vec<Option<ShardProgress>>>>;

/// Reads a shard's stdout: its progress lines update `shared[i]`, everything else (its summary
/// table) goes to `keep`.
fn read_shard_output(
    stdout: std::process::ChildStdout,
    mut keep: std::fs::File,
    shared: Shared,
    i: usize,
) -> std::thread::JoinHandle<()> {
    use std::io::{BufRead as _, Write as _};
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let progress = line
                .starts_with("{\"progress\"")
                .then(|| serde_json::from_str::<serde_json::Value>(&line).ok())
                .flatten()
                .and_then(|v| serde_json::from_value::<ShardProgress>(v["progress"].clone()).ok());
            match progress {
                Some(p) => {
                    shared
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(p);
                }
                None => {
                    let _ = writeln!(keep, "{line}");
                }
            }
        }
    })
}

/// `[  6s] shards 4/4 running | started 300/400 | ended 100/400 | CONNECTED 200 | joins 300`.
fn combined_line(latest: &[Option<ShardProgress>], running: usize) -> String {
    let mut sum = ShardProgress::default();
    for p in latest.iter().flatten() {
        sum.t = sum.t.max(p.t);
        sum.started += p.started;
        sum.ended += p.ended;
        sum.lifecycles += p.lifecycles;
        sum.joins += p.joins;
        sum.join_errors += p.join_errors;
        for (k, v) in &p.states {
            *sum.states.entry(k.clone()).or_default() += v;
        }
    }
    let states: Vec<String> = sum
        .states
        .iter()
        .filter(|(k, v)| **v != 0 && k.as_str() != "DISCONNECTED")
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    format!(
        "[{:>4.0}s] shards {running}/{} running | started {} | ended {}/{} | {} | joins {} | refused {}",
        sum.t,
        latest.len(),
        sum.started,
        sum.ended,
        sum.lifecycles,
        if states.is_empty() {
            "-".to_string()
        } else {
            states.join(" ")
        },
        sum.joins,
        sum.join_errors
    )
}

/// The run folder a shard process wrote under `out` (the one holding `summary.json`).
fn shard_result(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("summary.json").is_file())
}

/// Sends SIGINT to `pids` (our own children not reaped yet) whenever this process gets Ctrl-C.
fn forward_interrupts(pids: std::sync::Arc<std::sync::Mutex<Vec<u32>>>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            while tokio::signal::ctrl_c().await.is_ok() {
                let pids = pids
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for pid in pids.iter() {
                    // SAFETY: kill(2) on a child this process started and has not reaped (it
                    // leaves the list, under this lock, when reaped): it is no one else's PID.
                    unsafe {
                        libc::kill(*pid as libc::pid_t, libc::SIGINT);
                    }
                }
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::Shard;
    use crate::scenario::Arrival;

    #[test]
    fn runs_that_fit_one_process_are_not_sharded() {
        // Embedded, in process: 2 files per participant, 128 kept in reserve.
        assert_eq!(shards_needed(9_936, true, 20_000), None);
        assert_eq!(shards_needed(9_937, true, 20_000), Some(2));
        // External target: one file each.
        assert_eq!(shards_needed(19_872, false, 20_000), None);
        // 100,000 members: 15,897 per shard (80 % of the budget).
        assert_eq!(shards_needed(100_000, true, 20_000), Some(7));
        assert_eq!(shards_needed(100_000, false, 20_000), Some(7));
    }

    #[test]
    fn shard_and_start_at_parse_or_say_why_not() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, of: 4 }));
        for bad in ["4/4", "1/0", "1", "a/2", "-1/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("I/N"), "{bad}");
        }
        let at = parse_start_at("1795737600000").unwrap();
        assert_eq!(crate::run::unix_ms(at), 1_795_737_600_000);
        let at = parse_start_at("2026-11-27T00:00:00Z").unwrap();
        assert_eq!(crate::run::unix_ms(at), 1_795_737_600_000);
        assert!(parse_start_at("soon").is_err());
    }

    #[test]
    fn shards_split_the_plan_into_whole_rooms_that_add_up_to_it() {
        let scenario = plan::tests::scenario(10, 3, Arrival::Burst { at: Duration::ZERO });
        let whole = plan::compile(&scenario);
        let mut lifecycles = 0;
        let mut seen = vec![0u32; whole.participants.len()];
        for index in 0..3 {
            let shard = plan::compile(&scenario).into_shard(Shard { index, of: 3 });
            assert_eq!(
                shard.participants, whole.participants,
                "ids stay the plan's"
            );
            lifecycles += shard.lifecycles();
            for p in shard.active() {
                assert_eq!(p.room % 3, index);
                seen[p.id as usize] += 1;
            }
        }
        assert_eq!(lifecycles, whole.lifecycles());
        assert!(seen.iter().all(|&n| n == 1), "each participant runs once");
    }
}
