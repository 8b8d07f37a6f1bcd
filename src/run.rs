//! One run, end to end: compile the plan, prepare the target, run the coordinator on an actix
//! system, build the summary, write it. `roomstorm run` and the end-to-end tests call this.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::coordinator::{self, CoordinatorOptions, progress::Progress};
use crate::error::CommandError;
use crate::participant::RunContext;
use crate::plan;
use crate::report::summary::{RunMeta, TargetInfo};
use crate::report::{self, Summary};
use crate::scenario::Scenario;
use crate::target;
use crate::transport::SourcePool;

/// How to run (beyond the scenario itself).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario file as given (for reports).
    pub file: String,
    /// `--target`: an external server instead of the scenario's target.
    pub target: Option<String>,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Participants of this process joining at once, at most (`--max-connecting`; `None`:
    /// unbounded): a connect storm must not overflow the target's listen backlog. Each worker
    /// gets its share ([`crate::participant::gate`]).
    pub max_connecting: Option<usize>,
    /// Parent folder of run folders (`reports/`).
    pub out_dir: PathBuf,
    /// Progress display.
    pub progress: Progress,
    /// Local source addresses for client sockets (empty: the kernel chooses).
    pub sources: Vec<IpAddr>,
    /// Run only this shard of the plan (`--shard I/N`).
    pub shard: Option<plan::Shard>,
    /// Start the clock at this wall-clock instant, waiting for it (`--start-at`), so shards in
    /// other processes or on other machines line their arrivals up.
    pub start_at: Option<std::time::SystemTime>,
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    /// Its summary.
    pub summary: Summary,
    /// The run folder holding `summary.json`.
    pub dir: PathBuf,
}

/// Runs `scenario` to its end and writes its results.
pub fn execute(scenario: &Scenario, mut options: RunOptions) -> Result<Finished, CommandError> {
    if let Some(url) = &options.target {
        crate::transport::endpoint(url)
            .map_err(|e| CommandError::InvalidInput(format!("--target: {e}")))?;
    }
    let mut plan = plan::compile(scenario);
    if let Some(shard) = options.shard {
        plan = plan.into_shard(shard);
    }
    let plan = Arc::new(plan);
    let prepared = target::prepare(
        scenario,
        plan.peak_participants(),
        target::Clients::InProcess,
        options.target.as_deref(),
    )
    .map_err(|e| match e {
        target::TargetError::Embedded(_) => CommandError::Incomplete(e.to_string()),
        _ => CommandError::InvalidInput(e.to_string()),
    })?;
    if prepared.embedded.is_none() {
        preflight(&prepared.base_url)?;
        // Janus takes its server faults through its own API (checked when the rooms are made).
        if prepared.janus.is_none()
            && let Some(f) = plan.faults.iter().find(|f| f.kind.needs_fault_api())
        {
            probe_fault_api(&prepared.base_url, &prepared.keys, f.kind.name())?;
        }
    }
    let target_info = TargetInfo {
        kind: if prepared.embedded.is_some() {
            "embedded".to_string()
        } else {
            "external".to_string()
        },
        url: prepared.base_url.clone(),
        driver: prepared.driver.name().to_string(),
    };
    let workers = if options.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.workers
    };
    let sources = source_addresses(
        &prepared.base_url,
        plan.peak_participants(),
        &options.sources,
        &mut options.progress,
    )?;
    listen_backlog(
        &prepared.base_url,
        prepared.embedded.is_some(),
        options.max_connecting,
        plan.peak_participants(),
        &mut options.progress,
    )?;
    if let Some(Err(late)) = options
        .start_at
        .map(|at| at.duration_since(std::time::SystemTime::now()))
        && late.duration() > std::time::Duration::from_secs(1)
    {
        tracing::warn!(
            "--start-at was {:.1}s ago: this shard's arrivals start late",
            late.duration().as_secs_f64()
        );
    }
    let mut context = RunContext::new(
        plan.clone(),
        prepared.base_url.clone(),
        scenario.app.clone(),
        prepared.driver,
        prepared.keys.clone(),
        SourcePool::new(sources),
    );
    // The workers start now and wait for the common start with everything set up.
    if let Some(at) = options.start_at {
        context = context.starting_at(at);
    }
    if let Some(janus) = prepared.janus {
        context.keepalive = Some(janus.keepalive);
        context.signs_tokens = janus.signs_tokens;
        context.room_base =
            target::janus::room_base(options.start_at.map(|at| unix_ms(at) ^ scenario.seed));
    }
    let started_at = crate::token::format_unix(context.start_unix);
    let started_at_unix_ms = context.start_unix_ms;
    let coordinator_options = CoordinatorOptions {
        workers,
        deadline: scenario.deadline,
        leave_grace: scenario.leave_grace,
        progress: options.progress.clone(),
        abort_on_fail: scenario
            .thresholds
            .iter()
            .filter(|t| t.abort_on_fail)
            .map(|t| t.threshold.clone())
            .collect(),
        max_connecting: options.max_connecting,
    };
    let system = actix_rt::System::new();
    let mut progress = options.progress.clone();
    let output = system.block_on(async move {
        let rooms = match prepared.janus {
            Some(_) => {
                let publishers = match &scenario.target {
                    crate::scenario::Target::Janus(j) => j.publishers,
                    _ => None,
                };
                Some(janus_rooms(&mut context, scenario.deadline, publishers, &mut progress).await?)
            }
            None => None,
        };
        let run = Arc::new(context);
        let output = coordinator::run(run.clone(), coordinator_options).await;
        if let (Some(control), Some(rooms)) = (&run.janus, rooms) {
            janus_cleanup(control, &rooms, &mut progress).await;
        }
        Ok::<_, CommandError>(output)
    })?;
    let server = prepared.embedded.as_ref().and_then(|e| e.counters());
    if let Some(embedded) = prepared.embedded {
        embedded.stop();
    }
    let summary = report::summary::build(
        scenario,
        &plan,
        &output,
        RunMeta {
            file: options.file.clone(),
            target: target_info,
            started_at,
            started_at_unix_ms,
            server,
            shard: options.shard.map(|s| report::summary::ShardInfo {
                index: s.index,
                of: s.of,
                start_at_unix_ms: options.start_at.map(unix_ms),
            }),
        },
    );
    let dir = run_dir(&options.out_dir, &scenario.name);
    report::write_json(&dir, &summary)
        .map_err(|e| CommandError::Incomplete(format!("cannot write {}: {e}", dir.display())))?;
    report::write_derived(&summary, &dir).map_err(CommandError::Incomplete)?;
    Ok(Finished { summary, dir })
}

/// Opens the run's control session on Janus and creates this process's rooms (before any load,
/// so a Janus that refuses ends the run with its reason); their numbers are returned for the
/// cleanup.
async fn janus_rooms(
    context: &mut RunContext,
    deadline: std::time::Duration,
    publishers: Option<u32>,
    progress: &mut Progress,
) -> Result<Vec<u64>, CommandError> {
    let signs = context.signs_tokens;
    let refused = |e: target::janus::ControlError| {
        let hint = match (e.code(), signs) {
            (Some(403), false) => {
                " (this Janus checks tokens: set `token_secret` under the scenario's `target` to its token_auth_secret)"
            }
            (Some(403), true) => " (is `token_secret` this Janus's token_auth_secret?)",
            _ => "",
        };
        CommandError::Incomplete(format!("Janus at {}: {e}{hint}", context.base_url))
    };
    // The control session's token outlives the run (deadline plus the leave grace and more).
    let token = context.signs_tokens.then(|| {
        let expiry = context.start_unix + deadline.as_secs() + 3600;
        context.janus_token(crate::scenario::TokenKind::Valid, expiry)
    });
    let control = target::janus::Control::connect(&context.base_url, token)
        .await
        .map_err(refused)?;
    let mut indices: Vec<u32> = context.plan.active().map(|p| p.room).collect();
    indices.sort_unstable();
    indices.dedup();
    let rooms: Vec<(u64, String)> = indices
        .iter()
        .map(|&i| {
            (
                context.room_number(i),
                context.plan.rooms[i as usize].clone(),
            )
        })
        .collect();
    let began = std::time::Instant::now();
    if let Err(e) = control
        .create_rooms(&rooms, janus_publishers(&context.plan, publishers))
        .await
    {
        // Whatever was created goes again before the run ends.
        let numbers: Vec<u64> = rooms.iter().map(|r| r.0).collect();
        control.destroy_rooms(&numbers).await;
        return Err(refused(e));
    }
    progress.note(&format!(
        "janus: created {} rooms ({} … {}) in {:.2} s",
        rooms.len(),
        rooms.first().map_or(0, |r| r.0),
        rooms.last().map_or(0, |r| r.0),
        began.elapsed().as_secs_f64()
    ));
    context.janus = Some(control);
    Ok(rooms.into_iter().map(|r| r.0).collect())
}

/// Destroys the run's rooms on Janus (also after Ctrl-C or a failed threshold) and ends the
/// control session; failures are reported, never fatal: the results are already measured.
async fn janus_cleanup(control: &target::janus::Control, rooms: &[u64], progress: &mut Progress) {
    let (destroyed, failed) = control.destroy_rooms(rooms).await;
    let gone = rooms.len() - destroyed - failed.len();
    let mut note = format!("janus: destroyed {destroyed} rooms");
    if gone > 0 {
        note += &format!(" ({gone} were gone already)");
    }
    if let Some(first) = failed.first() {
        note += &format!("; {} could not be destroyed: {first}", failed.len());
    }
    progress.note(&note);
    if let Err(e) = control.close().await {
        tracing::debug!(%e, "the Janus control session did not end cleanly");
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Refuses to start against a target nobody answers at: one TCP connect, before any load.
fn preflight(base_url: &str) -> Result<(), CommandError> {
    let unreachable =
        |why: String| CommandError::Incomplete(format!("target {base_url} is unreachable: {why}"));
    let ep = crate::transport::endpoint(base_url).map_err(|e| unreachable(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    rt.block_on(async {
        let addr = crate::transport::resolve(&ep)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unreachable(format!("connect to {addr}: {e}"))),
            Err(_) => Err(unreachable(format!(
                "connect to {addr} timed out after 5 s"
            ))),
        }
    })
}

/// The local addresses client sockets use: the user's, or more loopback addresses when the peak
/// needs more ephemeral ports than one address has towards the target.
pub(crate) fn source_addresses(
    base_url: &str,
    peak: usize,
    given: &[IpAddr],
    progress: &mut Progress,
) -> Result<Vec<IpAddr>, CommandError> {
    use std::net::ToSocketAddrs as _;
    let Some(target) = crate::transport::endpoint(base_url)
        .ok()
        .and_then(|ep| ep.authority.to_socket_addrs().ok())
        .and_then(|mut addrs| addrs.next())
    else {
        return Ok(given.to_vec());
    };
    let chosen = crate::preflight::source_addresses(
        peak,
        target.ip(),
        given,
        crate::preflight::ephemeral_ports(),
    )
    .map_err(|e| CommandError::InvalidInput(e.to_string()))?;
    if given.is_empty() && !chosen.is_empty() {
        progress.note(&format!(
            "{peak} connections at once exceed one source address's ephemeral ports towards {}: using {} loopback source addresses ({} to {})",
            target.ip(),
            chosen.len(),
            chosen[0],
            chosen[chosen.len() - 1]
        ));
    }
    Ok(chosen)
}

/// Refuses to start when more joins may be in flight at once than the listen backlog of a target
/// on this machine holds (the embedded server's is known; another's is at most `somaxconn`); says
/// what it found otherwise. A target elsewhere is not checked: its kernel is not ours to read.
fn listen_backlog(
    base_url: &str,
    embedded: bool,
    max_connecting: Option<usize>,
    peak: usize,
    progress: &mut Progress,
) -> Result<(), CommandError> {
    use std::net::ToSocketAddrs as _;
    let loopback = crate::transport::endpoint(base_url)
        .ok()
        .and_then(|ep| ep.authority.to_socket_addrs().ok())
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|a| a.ip().is_loopback());
    if !loopback {
        return Ok(());
    }
    let kernel = crate::preflight::listen_limits();
    let listener = embedded.then_some(crate::server::LISTEN_BACKLOG as usize);
    let fit = crate::preflight::listen_backlog(max_connecting, peak, listener, kernel.somaxconn)
        .map_err(|e| CommandError::Incomplete(e.to_string()))?;
    let syn = match kernel.syn_backlog {
        Some(n) => format!(", tcp_max_syn_backlog {n}"),
        None => String::new(),
    };
    progress.note(&format!(
        "preflight: listen backlog {} (somaxconn {}{syn}) ≥ {} joins in flight",
        fit.effective, kernel.somaxconn, fit.in_flight
    ));
    Ok(())
}

/// Refuses to start when the plan scripts server faults the target cannot carry out: better
/// now, with the reason, than a failed fault halfway through a run.
fn probe_fault_api(
    base_url: &str,
    keys: &crate::credentials::KeyPair,
    kind: &str,
) -> Result<(), CommandError> {
    let refuse = |why: String| {
        CommandError::Incomplete(format!(
            "the scenario scripts a `{kind}` fault, which needs roomstorm's fault-injection \
             extension, but the target {base_url} does not offer it: {why}"
        ))
    };
    let api = crate::fault_api::FaultApi::new(base_url, keys.clone())
        .map_err(|e| refuse(e.to_string()))?
        .with_timeout(std::time::Duration::from_secs(5));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| refuse(e.to_string()))?;
    rt.block_on(api.probe())
        .map(drop)
        .map_err(|e| refuse(e.to_string()))
}

/// `<out>/<scenario>-<UTC time>`, with a numeric suffix if that folder exists already.
pub fn run_dir(out: &Path, name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    let base = out.join(format!("{name}-{stamp}"));
    if !base.exists() {
        return base;
    }
    (2..)
        .map(|i| out.join(format!("{name}-{stamp}-{i}")))
        .find(|p| !p.exists())
        .expect("some suffix is free")
}

/// The publisher limit of the rooms a run creates on Janus: the scenario's `publishers` when it
/// sets one (room-full scenarios), else the most members any room has, so that Janus's default
/// of 3 never refuses a publisher the scenario did not mean to refuse.
fn janus_publishers(plan: &crate::plan::Plan, set: Option<u32>) -> u32 {
    if let Some(n) = set {
        return n;
    }
    let mut per_room = vec![0_u32; plan.rooms.len()];
    for p in &plan.participants {
        per_room[p.room as usize] += 1;
    }
    per_room.into_iter().max().unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::coordinator::progress::Mode;
    use crate::scenario::Arrival;

    #[test]
    fn a_small_embedded_run_completes_with_exact_counts_on_both_sides() {
        let scenario = plan::tests::scenario(
            3,
            4,
            Arrival::Ramp {
                start: Duration::ZERO,
                over: Duration::from_millis(500),
            },
        );
        let out = std::env::temp_dir().join(format!("roomstorm-run-test-{}", std::process::id()));
        let done = execute(
            &scenario,
            RunOptions {
                file: "in-code".into(),
                target: None,
                workers: 2,
                max_connecting: None,
                out_dir: out.clone(),
                progress: Progress::new(Mode::Quiet),
                sources: vec![],
                shard: None,
                start_at: None,
            },
        )
        .unwrap();
        let s = &done.summary;
        println!("{}", report::text::render(s));
        assert_eq!(s.outcomes.by_outcome["completed"].expected, 12);
        assert_eq!(s.outcomes.unexpected, 0);
        assert!(s.conservation.holds);
        assert_eq!(s.presence.errors, 0);
        assert_eq!(s.presence.stays, 12);
        assert_eq!(s.codes.join[&0], 12);
        // Each of 4 members sees 3 others join (list or push): 12 × 3 = 36 sightings, of which
        // pushes are measured; every member's leave reaches the members still there.
        assert_eq!(s.latency["join"].count, 12);
        assert_eq!(s.latency["time_to_connected"].count, 12);
        assert_eq!(s.latency["connect"].count, 12);
        assert_eq!(s.latency["leave"].count, 12);
        assert_eq!(
            s.latency["peer_visible"].count + s.presence.notices_unresolved,
            18
        );
        let server = s.server.as_ref().unwrap();
        assert_eq!(server.auths[&0], 12);
        assert_eq!(server.departures["leave"], 12);
        assert_eq!(server.members, 0);
        assert!(done.dir.join("summary.json").exists());
        std::fs::remove_dir_all(out).unwrap();
    }
}
