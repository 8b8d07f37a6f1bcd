//! Firing scripted faults at their scenario times: client faults and kicks go to the workers
//! holding their targets (one message per worker, not per participant); server faults go to the
//! target's management API, or to Janus's through the run's control session. Every fault leaves
//! a record for the report, fired or not.

use std::time::Duration;

use crate::fault_api::FaultApi;
use crate::plan::faults::PlannedFault;
use crate::scenario::FaultKind;

/// What became of one scripted fault.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct FaultRecord {
    /// Index in the scenario's `faults` list.
    pub index: u32,
    /// Its kind (`reset`, `stall`, ...).
    pub kind: String,
    /// Scheduled time, seconds since the run started.
    pub at_s: f64,
    /// When it fired, seconds since the run started; `None` if it never did.
    pub fired_s: Option<f64>,
    /// Participants (client faults, kick) or rooms (close_rooms) it was planned to hit.
    pub targets: u64,
    /// What happened, in words (e.g. `dropped 30 of 100 connections`, or why it failed).
    pub result: String,
    /// Whether it was applied as scripted (a server call that failed or a skipped fault: no).
    pub ok: bool,
}

impl FaultRecord {
    /// The record of a planned fault that has not fired (yet).
    pub fn pending(f: &PlannedFault) -> Self {
        let targets = match f.kind {
            FaultKind::CloseRooms => f.rooms.len(),
            _ => f.participants.len(),
        };
        Self {
            index: f.index as u32,
            kind: f.kind.name().to_string(),
            at_s: f.at.as_secs_f64(),
            fired_s: None,
            targets: targets as u64,
            result: "not fired: the run ended first".into(),
            ok: false,
        }
    }
}

/// Carries out a server-side fault through the management API; `Ok` says what it did.
pub async fn fire_on_server(
    api: &FaultApi,
    fault: &PlannedFault,
    app: &str,
    rooms: &[String],
) -> Result<String, String> {
    let err = |e: crate::fault_api::FaultApiError| e.to_string();
    match fault.kind {
        FaultKind::DropConnections => {
            let a = api
                .drop_connections(fault.share, fault.seed ^ fault.index as u64)
                .await
                .map_err(err)?;
            Ok(format!("dropped {} of {} connections", a.dropped, a.of))
        }
        FaultKind::Stall { duration } => {
            api.stall(duration).await.map_err(err)?;
            Ok(format!("server stalled for {}", secs(duration)))
        }
        FaultKind::AuthLatency { by, duration } => {
            api.auth_latency(by, Some(duration)).await.map_err(err)?;
            Ok(format!(
                "auth answers delayed by {} for {}",
                secs(by),
                secs(duration)
            ))
        }
        FaultKind::Restart { outage } => {
            api.restart(outage).await.map_err(err)?;
            Ok(format!("listener down for {}", secs(outage)))
        }
        FaultKind::CloseRooms => {
            let (mut closed, mut told, mut failed) = (0, 0, Vec::new());
            for &room in &fault.rooms {
                let name = &rooms[room as usize];
                match api.close_room(app, name).await {
                    Ok(a) => {
                        closed += 1;
                        told += a.disconnected;
                    }
                    Err(e) => failed.push(format!("{name}: {e}")),
                }
            }
            if failed.is_empty() {
                Ok(format!("closed {closed} rooms; {told} members told 10012"))
            } else {
                Err(format!(
                    "closed {closed} of {} rooms; failed: {}",
                    fault.rooms.len(),
                    failed.join("; ")
                ))
            }
        }
        FaultKind::Reset { .. }
        | FaultKind::Blackhole { .. }
        | FaultKind::DelayFrames { .. }
        | FaultKind::MediaLoss { .. }
        | FaultKind::MediaDelay { .. }
        | FaultKind::Kick => Err("not a server fault".into()),
    }
}

/// Carries out a server-side fault through Janus's API: `close_rooms` destroys the rooms
/// (`rooms`: their numbers), whose members are told `destroyed` (21003). Validation admits no
/// other server fault against Janus.
pub async fn fire_on_janus(
    control: &crate::target::janus::Control,
    fault: &PlannedFault,
    rooms: &[u64],
) -> Result<String, String> {
    if fault.kind != FaultKind::CloseRooms {
        return Err(format!("Janus cannot inject `{}`", fault.kind.name()));
    }
    let (destroyed, failed) = control.destroy_rooms(rooms).await;
    match failed.first() {
        None => Ok(format!(
            "destroyed {destroyed} of {} rooms on Janus; members told `destroyed` (21003)",
            rooms.len()
        )),
        Some(first) => Err(format!(
            "destroyed {destroyed} of {} rooms on Janus; {} failed, first: {first}",
            rooms.len(),
            failed.len()
        )),
    }
}

fn secs(d: Duration) -> String {
    crate::coordinator::progress::format_us(d.as_micros() as u64)
}

/// Whether a fault is carried out by participants (their own network, or a kick each sends).
pub fn through_participants(kind: FaultKind) -> bool {
    kind.is_client_side() || kind == FaultKind::Kick
}
