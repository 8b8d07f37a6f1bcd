//! `roomstorm run`: load and validate the scenario, show the plan (`--dry-run`) or execute it,
//! print the summary, and exit by the verdict.

use std::fmt::Write as _;

use crate::cli::RunArgs;
use crate::coordinator::progress::Progress;
use crate::error::CommandError;
use crate::plan::{self, Plan};
use crate::report::{self, Verdict};
use crate::run::{self, RunOptions};
use crate::scenario::{self, Scenario, Target};

/// Runs the scenario; exit 0 pass, 1 expectations failed, 2 invalid scenario, 3 interrupted,
/// could not complete, or generator-limited with `generator.fail` set.
pub fn run(args: RunArgs) -> Result<(), CommandError> {
    let mut scenario =
        scenario::load(&args.scenario).map_err(|e| CommandError::InvalidInput(e.to_string()))?;
    // Keys from the environment when the scenario names none (how `--shards` hands its embedded
    // server's keys to the shard processes: never on the command line).
    if scenario.credentials.is_none()
        && let (Ok(ak), Ok(sk)) = (
            std::env::var(crate::credentials::ACCESS_KEY_ENV),
            std::env::var(crate::credentials::SECRET_KEY_ENV),
        )
    {
        scenario.credentials = Some(crate::credentials::KeyPair::new(ak, sk));
    }
    if args.dry_run {
        let mut plan = plan::compile(&scenario);
        if let Some(shard) = args.shard {
            plan = plan.into_shard(shard);
        }
        print!(
            "{}",
            describe_plan(&scenario, &plan, args.target.as_deref())
        );
        return Ok(());
    }
    if args.max_connecting == 0 {
        return Err(CommandError::InvalidInput(
            "--max-connecting must be at least 1".into(),
        ));
    }
    if args.workers == Some(0) {
        return Err(CommandError::InvalidInput(
            "--workers must be at least 1".into(),
        ));
    }
    let baseline = match &args.baseline {
        Some(dir) => Some(report::read_summary(dir).map_err(CommandError::InvalidInput)?),
        None => None,
    };
    if args.shard.is_some()
        && args.target.is_none()
        && matches!(scenario.target, Target::Embedded(_))
    {
        return Err(CommandError::InvalidInput(
            "--shard needs a target every shard shares: pass --target URL (or use --shards N, \
             which starts the embedded server once for all shards)"
                .into(),
        ));
    }
    let mut shards = args.shards;
    if args.shard.is_none() {
        shards = whole_run_fits(&scenario, &args, shards)?;
    }
    let options = RunOptions {
        file: args.scenario.display().to_string(),
        target: args.target.clone(),
        workers: args.workers.unwrap_or(0),
        max_connecting: Some(args.max_connecting),
        out_dir: args.out.clone(),
        progress: if args.progress_json {
            Progress::new(crate::coordinator::progress::Mode::Json)
        } else {
            Progress::auto(args.quiet)
        },
        sources: args.source_addrs.clone(),
        shard: args.shard,
        start_at: args.start_at,
    };
    let finished = match shards {
        Some(n) => crate::shards::run_local(&scenario, &args.scenario, n, options)?,
        None => run::execute(&scenario, options)?,
    };
    print!("{}", report::text::render(&finished.summary));
    let mut regressions = 0;
    if let (Some(base), Some(dir)) = (&baseline, &args.baseline) {
        let c = report::compare::compare(
            base,
            &finished.summary,
            &report::compare::CompareOptions::default(),
            &dir.display().to_string(),
        );
        let text = report::compare::render_text(
            &c,
            &dir.display().to_string(),
            &finished.dir.display().to_string(),
        );
        println!("\n{text}");
        let write = |name: &str, bytes: &[u8]| {
            let path = finished.dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| {
                CommandError::Incomplete(format!("cannot write {}: {e}", path.display()))
            })
        };
        write("compare.txt", text.as_bytes())?;
        let json =
            serde_json::to_vec_pretty(&c).map_err(|e| CommandError::Incomplete(e.to_string()))?;
        write(report::COMPARISON_FILE, &json)?;
        // Render the HTML report again, now with the comparison section.
        report::write_derived(&finished.summary, &finished.dir)
            .map_err(CommandError::Incomplete)?;
        regressions = c.regressions;
    }
    println!("results: {}", finished.dir.join("summary.json").display());
    let generator = &finished.summary.generator;
    if generator.limited
        && generator.limits.fail
        && finished.summary.verdict != Verdict::Interrupted
    {
        return Err(CommandError::Incomplete(format!(
            "{} (generator.fail is set: the results above measure roomstorm, not only the target)",
            report::generator::headline(generator).unwrap_or_default()
        )));
    }
    match finished.summary.verdict {
        Verdict::Pass if regressions > 0 => Err(CommandError::Failed(format!(
            "{regressions} regression(s) against the baseline"
        ))),
        Verdict::Pass => Ok(()),
        Verdict::Fail => Err(CommandError::Failed(
            "expectations failed (see above)".into(),
        )),
        Verdict::Interrupted => Err(CommandError::Incomplete(
            "interrupted: the results above are partial".into(),
        )),
    }
}

/// Checks that the whole run fits this machine before any load: its memory (refused with the
/// numbers) and the open files of one process (more shard processes, chosen here and said, when
/// one process cannot hold the sockets). Returns the shard count to run with.
fn whole_run_fits(
    scenario: &Scenario,
    args: &RunArgs,
    shards: Option<u32>,
) -> Result<Option<u32>, CommandError> {
    let peak = plan::compile(scenario).peak_participants();
    let embedded = args.target.is_none() && matches!(scenario.target, Target::Embedded(_));
    crate::preflight::memory(peak, embedded, crate::preflight::available_memory())
        .map_err(|e| CommandError::InvalidInput(e.to_string()))?;
    if shards.is_some() {
        return Ok(shards);
    }
    let limit = crate::server::limits::open_file_limit();
    let Some(n) = crate::shards::shards_needed(peak, embedded, limit) else {
        return Ok(None);
    };
    if n > crate::shards::MAX_AUTO_SHARDS {
        return Err(CommandError::InvalidInput(format!(
            "up to {peak} participants at once need {n} processes for their sockets (the open-file limit is {limit} per process), and roomstorm starts at most {} by itself; pass --shards {n} to start them anyway, or spread the run over machines with --shard I/{n} --start-at T and `roomstorm merge`",
            crate::shards::MAX_AUTO_SHARDS
        )));
    }
    eprintln!(
        "roomstorm: up to {peak} participants at once need more sockets than one process may open ({limit} files): running {n} shard processes (--shards {n}){}",
        if embedded {
            ", with the embedded server in processes of its own when it needs them"
        } else {
            ""
        }
    );
    Ok(Some(n as u32))
}

/// The `--dry-run` text: target, rooms, groups, lifecycles, reconnect settings and faults, the
/// media and the SFU load at peak (when any group has media), and the arrival timeline.
pub fn describe_plan(scenario: &Scenario, plan: &Plan, target: Option<&str>) -> String {
    let mut o = String::new();
    let target = match (target, &scenario.target) {
        (Some(url), _) => format!("external {url}"),
        (None, Target::External { url, .. }) => format!("external {url}"),
        (None, Target::Janus(j)) => format!(
            "Janus {} (VideoRoom; rooms created for the run{})",
            j.url,
            if j.token_secret.is_some() {
                ", signed tokens"
            } else {
                ""
            }
        ),
        (None, Target::Embedded(e)) => {
            format!("embedded reference server (room capacity {})", e.max_users)
        }
    };
    let _ = writeln!(o, "scenario {}: {}", scenario.name, scenario.description);
    let _ = writeln!(o, "target: {target}; app {}", scenario.app);
    if let Some(s) = plan.shard {
        let _ = writeln!(
            o,
            "shard {}/{}: the rooms r with r % {} == {} (whole rooms; server-wide faults fire in shard 0 only)",
            s.index, s.of, s.of, s.index
        );
    }
    let _ = writeln!(
        o,
        "rooms: {} ({} … {})",
        plan.rooms.len(),
        plan.rooms.first().map_or("", String::as_str),
        plan.rooms.last().map_or("", String::as_str)
    );
    let _ = writeln!(
        o,
        "participants: {}; lifecycles: {}; seed {}; deadline {}",
        plan.active().count(),
        plan.lifecycles(),
        scenario.seed,
        humantime::format_duration(scenario.deadline)
    );
    for (gi, g) in plan.groups.iter().enumerate() {
        let mine: Vec<_> = plan
            .participants
            .iter()
            .filter(|p| p.group as usize == gi && plan.runs(p))
            .collect();
        let first = mine.first().map_or(0.0, |p| p.arrival.as_secs_f64());
        let last = mine.last().map_or(0.0, |p| p.arrival.as_secs_f64());
        let _ = writeln!(
            o,
            "  group {}: {} participants × {} iteration(s), arrivals {:.2}s … {:.2}s, {} steps, {} model",
            g.name,
            mine.len(),
            g.iterations,
            first,
            last,
            g.script.len(),
            if g.open_model { "open" } else { "closed" }
        );
        if let Some(p) = mine.first() {
            let _ = writeln!(
                o,
                "    first: {} in {} at {:.3}s",
                p.user, plan.rooms[p.room as usize], first
            );
        }
    }
    describe_faults(&mut o, scenario, plan);
    describe_media(&mut o, scenario, plan);
    let per_second = plan.arrivals_per_second();
    let peak = per_second.iter().copied().max().unwrap_or(0);
    let _ = writeln!(o, "arrivals per second (peak {peak}):");
    for (t, n) in per_second.iter().enumerate() {
        let bar = if peak == 0 {
            0
        } else {
            (*n as usize * 50).div_ceil(peak as usize)
        };
        let _ = writeln!(o, "  {t:>4}s {n:>6} {}", "#".repeat(bar));
    }
    o
}

/// Reconnect settings (when tuned) and one line per fault: when, what, whom it hits (as counted
/// by the plan, so a share that rounds to few participants shows) and for how long.
fn describe_faults(o: &mut String, scenario: &Scenario, plan: &Plan) {
    use crate::scenario::{FaultKind, ReconnectSettings};
    let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let r = &plan.reconnect;
    if *r != ReconnectSettings::SDK {
        let _ = writeln!(
            o,
            "reconnect: ping_timeout {}, close_delay {}, retry_delay {}, request_timeout {}, attempts {}",
            d(r.ping_timeout),
            d(r.close_delay),
            d(r.retry_delay),
            d(r.request_timeout),
            r.attempts
        );
    }
    if plan.faults.is_empty() {
        return;
    }
    let _ = writeln!(o, "faults: {}", plan.faults.len());
    for f in &plan.faults {
        let scope = scenario.faults.get(f.index).map(|f| &f.scope);
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut whom = match f.kind {
            FaultKind::CloseRooms => {
                format!("{} of {}", plural(f.rooms.len(), "room"), plan.rooms.len())
            }
            FaultKind::DropConnections => format!("{}% of open connections", f.share * 100.0),
            FaultKind::Stall { .. } | FaultKind::AuthLatency { .. } | FaultKind::Restart { .. } => {
                "whole server".to_string()
            }
            _ => plural(f.participants.len(), "participant"),
        };
        if let Some(scope) = scope {
            if let Some(g) = scope.group.and_then(|g| plan.groups.get(usize::from(g))) {
                let _ = write!(whom, " of group {}", g.name);
            }
            if let Some(share) = scope.rooms {
                let n = plan::faults::share_of(share, plan.rooms.len());
                let _ = write!(whom, " in {} of {} rooms", n, plan.rooms.len());
            }
        }
        let how = match f.kind {
            FaultKind::Reset { offline } => format!(", offline {}", d(offline)),
            FaultKind::Blackhole { duration } | FaultKind::Stall { duration } => {
                format!(", for {}", d(duration))
            }
            FaultKind::DelayFrames { by, duration } | FaultKind::AuthLatency { by, duration } => {
                format!(", +{} for {}", d(by), d(duration))
            }
            FaultKind::Restart { outage } => format!(", outage {}", d(outage)),
            FaultKind::MediaLoss { share, duration } => {
                format!(
                    ", {}% of received media dropped for {}",
                    share * 100.0,
                    d(duration)
                )
            }
            FaultKind::MediaDelay { by, duration } => {
                format!(", sent media +{} for {}", d(by), d(duration))
            }
            FaultKind::Kick | FaultKind::DropConnections | FaultKind::CloseRooms => String::new(),
        };
        let _ = writeln!(
            o,
            "  {:>8} fault[{}] {}: {whom}{how}",
            format!("{:.3}s", f.at.as_secs_f64()),
            f.index,
            f.kind.name()
        );
    }
}

/// The media section: what each group with media publishes and subscribes to, then the SFU load
/// at peak (every room full, all members present and publishing: an upper bound). Nothing for a
/// scenario without media.
fn describe_media(o: &mut String, scenario: &Scenario, plan: &Plan) {
    use crate::scenario::Subscribe;
    if scenario.groups.iter().all(|g| g.media.is_none()) {
        return;
    }
    let load = plan::media::media_load(plan);
    let _ = writeln!(o, "media:");
    for (g, group) in scenario.groups.iter().enumerate() {
        let Some(m) = &group.media else { continue };
        let publishes = if m.publish.is_empty() {
            "nothing".to_string()
        } else {
            m.publish
                .iter()
                .map(|t| t.describe())
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let subscribes = match &m.subscribe {
            Subscribe::All => "all tracks in the room".to_string(),
            Subscribe::None => "nothing".to_string(),
            Subscribe::Count(n) => format!("the first {n} other publishers"),
            Subscribe::Groups(gs) => format!(
                "groups {}",
                gs.iter()
                    .map(|&i| scenario.groups[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            o,
            "  group {}: publishes {publishes}; subscribes to {subscribes}",
            group.name
        );
        let l = &load.groups[g];
        let mut parts = Vec::new();
        if l.tracks > 0 {
            parts.push(format!(
                "sends {} tracks from {} participants ({})",
                l.tracks,
                l.publishers,
                rates(l.ingress_packets_per_second, l.ingress_mbps())
            ));
        }
        if m.subscribe != Subscribe::None {
            parts.push(format!(
                "receives {} subscriptions ({})",
                l.subscriptions,
                rates(l.egress_packets_per_second, l.egress_mbps())
            ));
        }
        if !parts.is_empty() {
            let _ = writeln!(o, "    {}", parts.join("; "));
        }
    }
    let t = &load.total;
    let _ = writeln!(
        o,
        "  SFU load at peak (every room full, all members present and publishing: an upper bound):"
    );
    let _ = writeln!(
        o,
        "    tracks published: {}; subscriptions (forwarded streams): {}",
        t.tracks,
        t.forwarded_streams()
    );
    let _ = writeln!(
        o,
        "    ingress (publishers → SFU): {}",
        rates(t.ingress_packets_per_second, t.ingress_mbps())
    );
    let _ = writeln!(
        o,
        "    egress (SFU → subscribers): {}",
        rates(t.egress_packets_per_second, t.egress_mbps())
    );
    if let Some((room, r)) = load.busiest_room() {
        let _ = writeln!(
            o,
            "    busiest room {}: {} tracks, {} subscriptions; ingress {}; egress {}",
            plan.rooms[room],
            r.tracks,
            r.subscriptions,
            rates(r.ingress_packets_per_second, r.ingress_mbps()),
            rates(r.egress_packets_per_second, r.egress_mbps())
        );
    }
}

/// `660 packets/s, 3.456 Mbit/s`; packet rates show decimals only when they have some (60 ms
/// audio frames).
fn rates(packets_per_second: f64, mbps: f64) -> String {
    let packets = if packets_per_second.fract().abs() < 1e-9 {
        format!("{packets_per_second:.0}")
    } else {
        format!("{packets_per_second:.2}")
    };
    format!("{packets} packets/s, {mbps:.3} Mbit/s")
}
