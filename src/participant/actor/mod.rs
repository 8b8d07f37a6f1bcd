//! The participant actor: a thin shell that owns the socket, the timers and the clock, executes
//! the script's steps, and feeds frames to the sans-IO signaling driver.
//!
//! Everything it measures goes straight into its thread's recorder; the only messages it gets
//! are [`Stop`], [`Abort`], scripted faults ([`super::faults::Inject`]) and, when it had to queue
//! at its thread's handshake gate ([`super::gate`]), its [`Admit`]; the socket and timers are
//! items of its own context. Reconnecting (RECONNECTING → RECONNECTED or 10007) follows the pure
//! policy in [`super::reconnect`].
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the actor, its script steps, socket events, room events, leave, failure and outcome |
//! | `join.rs` | the way in: the handshake gate, the token exchange, the socket |
//! | `roster.rs` | what the member sees of the others: presence notices and stays |
//! | `recovery.rs` | reconnecting, scripted faults, keepalives and the dead-server timer |
//! | `media.rs` | publishing and subscribing: WebRTC connections driven by the driver's media events |

use std::sync::Arc;

use actix::prelude::*;
use tokio_tungstenite::tungstenite::Message;

use super::context::RunContext;
use super::faults::NetFaults;
use super::gate::{Permit, Ticket};
use super::link::{Link, LinkEvent, Pump};
use super::outcome::{FailureStage, Outcome};
use super::presence::{self, Delay};
use super::reconnect::{self, Loss};

mod join;
mod media;
mod recovery;
mod roster;

pub use join::Admit;

use super::registry;
use super::state::{self, ConnectionEvent, ConnectionState, DisconnectReason};
use crate::metrics::Metric;
use crate::metrics::recorder::{self, Interval};
use crate::plan::rng::SeededRng;
use crate::scenario::{FaultKind, OutcomeKey, Step};
use crate::signaling::{self, Action, RoomEvent, SignalingDriver};
use crate::transport;
pub use recovery::{Keepalive, PingCheck};
use recovery::{Phase, Recovery};

/// Tells a participant to stop: leave if in a room, and end as aborted.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Stop;

/// What the participant is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Nothing in flight (between steps, holding, waiting).
    Idle,
    /// A slot at the handshake gate, to start a join (still DISCONNECTED).
    Gate,
    /// The token exchange answer.
    Http,
    /// The WebSocket to open.
    Socket,
    /// The join answer.
    JoinAnswer,
    /// The server to close after our leave.
    LeaveClose,
}

/// A notice about a peer whose reference time was not known yet.
#[derive(Debug, Clone, Copy)]
struct PendingNotice {
    slot: u32,
    at: u64,
    joined: bool,
}

/// The SDK's join promise rejects with 21003 for these refusals of a first join.
const PROMISE_21003_CODES: [u32; 6] = [10001, 10002, 10004, 10011, 10012, 10022];

/// One simulated RTC client.
pub struct Participant {
    run: Arc<RunContext>,
    id: u32,
    iteration: u32,
    step: usize,
    state: ConnectionState,
    waiting: Waiting,
    driver: Box<dyn SignalingDriver>,
    link: Option<Link>,
    pump: Option<SpawnHandle>,
    timer: Option<SpawnHandle>,
    rng: SeededRng,
    /// Intended start of the current lifecycle (µs since run start).
    intended_us: u64,
    /// The current join's start, and its socket connect's start.
    join_started_us: u64,
    connect_started_us: u64,
    leave_sent_us: u64,
    user: String,
    slot: u32,
    board_stamp: u64,
    stay_from: u64,
    seen: Vec<u32>,
    pending: Vec<PendingNotice>,
    /// A join answer outside its step's `expect` list was received in this lifecycle.
    unexpected: bool,
    /// Told to stop: finish as aborted once out of the room.
    stopping: bool,
    /// Set once the lifecycle has its outcome (guards against double counting).
    settled: bool,
    /// The lifecycle has been CONNECTED at least once.
    connected_once: bool,
    /// The current leave was started by [`Stop`], not by the script.
    leave_forced: bool,
    /// The reconnect in progress (RECONNECTING), if any.
    recovery: Option<Box<Recovery>>,
    /// Client-side faults scripted on this participant's network, while they last.
    net: Option<Box<NetFaults>>,
    /// Last ping on the current socket (µs; 0: none yet, so no dead-server timer, as the SDK).
    last_ping_us: u64,
    /// A check of the dead-server timer is registered with [`heartbeat`].
    watched: bool,
    /// A keepalive is registered with [`heartbeat`] (servers that expire silent sessions).
    keepalive_armed: bool,
    /// Peers seen that left since (slots): `seen` minus these is the current roster.
    gone: Vec<u32>,
    /// Peers shown as reconnecting (slot, since when): `user-reconnecting` without a
    /// `user-reconnected` or `user-left` yet.
    marks: Vec<(u32, u64)>,
    /// This join's slot at the handshake gate, from the grant to the join answer or failure.
    permit: Option<Permit>,
    /// The place in the gate's queue while waiting for a slot.
    ticket: Option<Ticket>,
    /// Publishing and subscriptions (groups with `media`).
    media: media::MediaState,
}

impl Participant {
    /// A participant for plan entry `id`, whose first lifecycle was meant to start at `intended_us`.
    pub fn new(run: Arc<RunContext>, id: u32, intended_us: u64) -> Self {
        let driver = signaling::new_driver(run.driver);
        // Participant streams are disjoint from the plan's group streams (high bit set).
        let rng = SeededRng::new(run.plan.seed, (1 << 63) | u64::from(id));
        Self {
            run,
            id,
            iteration: 0,
            step: 0,
            state: ConnectionState::Disconnected,
            waiting: Waiting::Idle,
            driver,
            link: None,
            pump: None,
            timer: None,
            rng,
            intended_us,
            join_started_us: 0,
            connect_started_us: 0,
            leave_sent_us: 0,
            user: String::new(),
            slot: 0,
            board_stamp: 0,
            stay_from: 0,
            seen: Vec::new(),
            pending: Vec::new(),
            unexpected: false,
            stopping: false,
            settled: false,
            connected_once: false,
            leave_forced: false,
            recovery: None,
            net: None,
            last_ping_us: 0,
            watched: false,
            keepalive_armed: false,
            gone: Vec::new(),
            marks: Vec::new(),
            permit: None,
            ticket: None,
            media: media::MediaState::default(),
        }
    }

    fn planned(&self) -> &crate::plan::PlannedParticipant {
        &self.run.plan.participants[self.id as usize]
    }

    fn group(&self) -> &crate::plan::GroupPlan {
        &self.run.plan.groups[self.planned().group as usize]
    }

    fn script_step(&self) -> Option<&Step> {
        self.group().script.get(self.step)
    }

    fn transition(&mut self, event: ConnectionEvent, r: &mut Interval) {
        match state::next(self.state, event) {
            Ok(to) => {
                r.transition(self.state, to);
                self.state = to;
            }
            // The actor only sends events its own state allows; reaching this is a bug in the
            // shell, which is reported rather than crashing the run.
            Err(e) => tracing::error!(participant = self.id, "{e}"),
        }
    }

    fn cancel_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
    }

    /// Runs the current step.
    fn run_step(&mut self, ctx: &mut Context<Self>) {
        let Some(step) = self.script_step() else {
            // The script's end, reached even if a stop came during its final leave.
            let expected = !self.unexpected;
            return self.settle(OutcomeKey::Completed, expected, ctx);
        };
        if self.stopping && !self.state.in_room() {
            return self.settle(OutcomeKey::Aborted, false, ctx);
        }
        // Steps are small and `Copy`-like apart from expect lists; take what each arm needs.
        let pause = match step {
            Step::Hold { duration, .. } | Step::Wait { duration } => Some(*duration),
            Step::Join { .. } | Step::Leave => None,
            Step::Publish { .. } => return self.begin_publish(ctx),
            Step::Unpublish => return self.begin_unpublish(ctx),
        };
        let is_join = matches!(step, Step::Join { .. });
        match pause {
            None if is_join => self.begin_join(ctx),
            None => self.begin_leave(ctx),
            Some(duration) => {
                let d = self.rng.sample(&duration);
                self.timer = Some(ctx.run_later(d, |act, ctx| {
                    act.timer = None;
                    act.step += 1;
                    act.run_step(ctx);
                }));
            }
        }
    }

    /// The socket, while open (for the pump).
    pub(super) fn link_mut(&mut self) -> Option<&mut Link> {
        self.link.as_mut()
    }

    fn send(&mut self, frames: Vec<String>) {
        if let Some(link) = &mut self.link {
            for f in frames {
                // Every frame, for recording fixtures (`ROOMSTORM_LOG=frames=trace`).
                tracing::trace!(target: "frames", participant = self.id, dir = "out", "{f}");
                link.send(Message::text(f));
            }
        }
    }

    /// Drops the socket (the kernel closes it) and stops its pump.
    fn close_socket(&mut self, ctx: &mut Context<Self>) {
        self.link = None;
        if let Some(p) = self.pump.take() {
            ctx.cancel_future(p);
        }
        if let Some(net) = &mut self.net {
            net.held.clear(); // they belonged to the socket just closed
        }
    }

    /// What the pump saw on the socket (held back first while a delay fault lasts).
    pub(super) fn on_link(&mut self, event: LinkEvent, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        if let Some(net) = self.net.as_mut().filter(|n| n.holds(now)) {
            net.hold(now, event);
            if !net.release_armed {
                self.arm_release(ctx);
            }
            return;
        }
        self.handle_link(event, ctx);
    }

    fn arm_release(&mut self, ctx: &mut Context<Self>) {
        let Some(net) = self.net.as_mut() else { return };
        let Some(due) = net.next_due() else { return };
        net.release_armed = true;
        let wait = due.saturating_sub(self.run.now_us());
        ctx.run_later(std::time::Duration::from_micros(wait), |act, ctx| {
            let now = act.run.now_us();
            let Some(net) = act.net.as_mut() else { return };
            net.release_armed = false;
            for event in net.due(now) {
                act.handle_link(event, ctx);
            }
            act.arm_release(ctx);
        });
    }

    fn handle_link(&mut self, event: LinkEvent, ctx: &mut Context<Self>) {
        match event {
            LinkEvent::Frame(Message::Text(text)) => {
                tracing::trace!(target: "frames", participant = self.id, dir = "in", "{text}");
                let mut out = Vec::new();
                let event = self.driver.on_text(text.as_str(), &mut out);
                self.send(out);
                match event {
                    Ok(first) => {
                        // One frame may carry several events (a list of publishers).
                        let mut next = first;
                        while let Some(e) = next.take().or_else(|| self.driver.next_event()) {
                            self.on_event(e, ctx);
                            if self.settled {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        let stage = self.stage();
                        self.fail(stage, &e.to_string(), ctx)
                    }
                }
            }
            LinkEvent::Frame(_) => {}
            // After our leave, the server may close first: the leave is done either way.
            LinkEvent::Failed(_) | LinkEvent::Closed(_) if self.waiting == Waiting::LeaveClose => {
                self.pump = None;
                self.leave_done(true, ctx)
            }
            _ if self.settled => {}
            LinkEvent::Failed(e) => self.link_ended(reconnect::ABNORMAL_CLOSE, &e.to_string(), ctx),
            LinkEvent::Closed(code) => self.link_ended(code, "server closed the socket", ctx),
        }
    }

    /// The socket ended without our leave: a member reconnects (or waits, as the SDK does for
    /// some codes), a reconnect attempt fails, anything else is a transport failure.
    fn link_ended(&mut self, code: u16, why: &str, ctx: &mut Context<Self>) {
        self.pump = None;
        if self.recovery.is_some() {
            self.link = None;
            return self.attempt_failed(&format!("{why} (close {code})"), ctx);
        }
        if self.state.in_room() && self.waiting == Waiting::Idle {
            self.link = None;
            return self.lose(Loss::Closed(code), ctx);
        }
        let stage = self.stage();
        self.fail(stage, why, ctx)
    }

    fn reauthing(&self) -> bool {
        self.recovery
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Reauth)
    }

    fn on_event(&mut self, event: RoomEvent, ctx: &mut Context<Self>) {
        if self.on_media_event(&event, ctx) {
            return;
        }
        let now = self.run.now_us();
        match event {
            RoomEvent::Joined { peers } if self.reauthing() => self.resumed(&peers, now, ctx),
            RoomEvent::JoinRefused { code } | RoomEvent::Disconnected { code }
                if self.reauthing() =>
            {
                self.reauth_answer(code, ctx)
            }
            RoomEvent::Heartbeat => self.heartbeat(now, ctx),
            RoomEvent::Left if self.waiting == Waiting::LeaveClose => self.leave_done(true, ctx),
            // A leave confirmed after the leave timeout already ended it.
            RoomEvent::Left => {}
            RoomEvent::Disconnected {
                code: reconnect::REAUTH_REQUESTED,
            } if self.state.in_room() => {
                recorder::record(|r| {
                    *r.server_disconnects
                        .entry(reconnect::REAUTH_REQUESTED)
                        .or_default() += 1
                });
                self.close_socket(ctx);
                self.lose(Loss::ReauthRequested, ctx);
            }
            RoomEvent::Joined { peers } if self.waiting == Waiting::JoinAnswer => {
                self.cancel_timer(ctx);
                self.waiting = Waiting::Idle;
                self.permit = None;
                let expected = self.join_expects(0);
                self.unexpected |= !expected;
                let room = self.planned().room as usize;
                let board = &self.run.boards[room];
                self.slot = board.slot(&self.user).unwrap_or(u32::MAX);
                if self.slot != u32::MAX {
                    self.board_stamp = board.answered(self.slot, now);
                }
                self.stay_from = now;
                self.seen.clear();
                let mut unknown = 0;
                for p in &peers {
                    match board.slot(&p.user) {
                        Some(s) => self.seen.push(s),
                        None => unknown += 1,
                    }
                }
                let join_us = now - self.join_started_us;
                let ttc_us = now.saturating_sub(self.intended_us);
                // Only a lifecycle's first join counts: a later join in the same script is not
                // the arrival the intended time refers to.
                let first = !self.connected_once;
                self.connected_once = true;
                let room_index = self.planned().room;
                recorder::record(|r| {
                    r.latency(Metric::Join, join_us);
                    let stat = r.room(room_index);
                    stat.joins += 1;
                    stat.max_join_us = stat.max_join_us.max(join_us);
                    if first {
                        r.latency(Metric::TimeToConnected, ttc_us);
                    }
                    *r.join_answers.entry(0).or_default() += 1;
                    r.notices_unknown_user += unknown;
                    self.transition(ConnectionEvent::Accepted, r);
                });
                self.arm_keepalive(now);
                self.step += 1;
                self.run_step(ctx);
            }
            // Some servers refuse a join with `disconnect` instead of an error answer: the SDK
            // reports it the same way (DISCONNECTED ERROR with the code).
            RoomEvent::JoinRefused { code } | RoomEvent::Disconnected { code }
                if self.waiting == Waiting::JoinAnswer && code != 0 =>
            {
                self.cancel_timer(ctx);
                self.waiting = Waiting::Idle;
                self.permit = None;
                let join_us = now - self.join_started_us;
                recorder::record(|r| {
                    r.latency(Metric::Join, join_us);
                    *r.join_answers.entry(code).or_default() += 1;
                    if PROMISE_21003_CODES.contains(&code) {
                        r.recovery.join_rejected_21003 += 1;
                    }
                    self.transition(
                        ConnectionEvent::Ended(DisconnectReason::Error { code: Some(code) }),
                        r,
                    );
                });
                self.close_socket(ctx);
                let expected = self.join_expects(code);
                self.settle(OutcomeKey::Code(code), expected, ctx);
            }
            RoomEvent::UserJoined(peer) => self.notice(&peer.user, now, true),
            RoomEvent::UserLeft { user } => self.notice(&user, now, false),
            RoomEvent::UserReconnecting { user } => self.peer_reconnecting(&user, now),
            RoomEvent::UserReconnected { user } => self.peer_reconnected(&user, now),
            RoomEvent::Disconnected { code } if self.state.in_room() => {
                self.cancel_timer(ctx);
                let (reason, key) = match code {
                    0 => (DisconnectReason::Leave, OutcomeKey::Code(0)),
                    crate::codes::KICKED => (DisconnectReason::KickedOut, OutcomeKey::Kicked),
                    c => (
                        DisconnectReason::Error { code: Some(c) },
                        OutcomeKey::Code(c),
                    ),
                };
                let expected = match self.script_step() {
                    Some(Step::Hold { expect, .. }) => expect.contains(&code),
                    _ => false,
                };
                self.end_stay(now);
                recorder::record(|r| {
                    *r.server_disconnects.entry(code).or_default() += 1;
                    self.transition(ConnectionEvent::Ended(reason), r);
                });
                self.close_socket(ctx);
                self.settle(key, expected, ctx);
            }
            RoomEvent::Joined { .. }
            | RoomEvent::JoinRefused { .. }
            | RoomEvent::Disconnected { .. } => self.fail(
                FailureStage::InRoom,
                "join answer or disconnect out of turn",
                ctx,
            ),
            // Taken by `on_media_event` before this match.
            RoomEvent::Published { .. }
            | RoomEvent::PublishRefused { .. }
            | RoomEvent::Unpublished
            | RoomEvent::TracksAdded(_)
            | RoomEvent::TracksRemoved { .. }
            | RoomEvent::SubscribeOffer { .. }
            | RoomEvent::Subscribed { .. }
            | RoomEvent::SubscribeFailed { .. } => {}
        }
    }

    fn join_expects(&self, code: u32) -> bool {
        match self.script_step() {
            Some(Step::Join { expect }) => expect.contains(&code),
            _ => false,
        }
    }

    fn begin_leave(&mut self, ctx: &mut Context<Self>) {
        if self.recovery.is_some() {
            return self.leave_while_reconnecting(ctx);
        }
        self.cancel_ping_timer(ctx);
        self.end_media();
        let now = self.run.now_us();
        self.leave_sent_us = now;
        self.end_stay(now);
        let mut out = Vec::new();
        self.driver.leave(&mut out);
        // A server that answers the leave gets the close after its answer (`RoomEvent::Left`).
        let answered = self.driver.leave_is_answered() && !out.is_empty();
        self.send(out);
        if !answered && let Some(link) = &mut self.link {
            link.send(Message::Close(None));
        }
        self.waiting = Waiting::LeaveClose;
        let timeout = self.run.leave_timeout;
        self.timer = Some(ctx.run_later(timeout, |act, ctx| {
            act.timer = None;
            // The server never closed: the leave is done from our side (as the SDK does).
            act.leave_done(false, ctx);
        }));
    }

    fn leave_done(&mut self, answered: bool, ctx: &mut Context<Self>) {
        self.cancel_timer(ctx);
        self.waiting = Waiting::Idle;
        let leave_us = self.run.now_us() - self.leave_sent_us;
        recorder::record(|r| {
            if answered {
                r.latency(Metric::Leave, leave_us);
            }
            self.transition(ConnectionEvent::Ended(DisconnectReason::Leave), r);
        });
        self.close_socket(ctx);
        if let Some((code, expected)) = self.media.refused.take() {
            // A refused publish (10011): the SDK's publish rejected, the member left.
            return self.settle(OutcomeKey::Code(code), expected, ctx);
        }
        if self.leave_forced {
            // The leave was the stop's, not the script's: the script did not finish.
            return self.settle(OutcomeKey::Aborted, false, ctx);
        }
        self.step += 1;
        self.run_step(ctx);
    }

    /// A transport or protocol failure: the lifecycle ends with `transport_error`.
    fn fail(&mut self, stage: FailureStage, why: &str, ctx: &mut Context<Self>) {
        tracing::debug!(participant = self.id, stage = stage.name(), "{why}");
        self.cancel_timer(ctx);
        self.waiting = Waiting::Idle;
        self.permit = None;
        let now = self.run.now_us();
        self.end_media();
        self.finish_recovery(now, |_| {}, ctx);
        if self.state.in_room() || self.state == ConnectionState::Reconnecting {
            self.end_stay(now);
        }
        recorder::record(|r| {
            r.failure(stage, why);
            if self.state != ConnectionState::Disconnected {
                self.transition(
                    ConnectionEvent::Ended(DisconnectReason::Error { code: None }),
                    r,
                );
            }
        });
        self.close_socket(ctx);
        self.settle(OutcomeKey::TransportError, false, ctx);
    }

    /// Records this lifecycle's one outcome, then starts the next iteration or stops.
    fn settle(&mut self, key: OutcomeKey, expected: bool, ctx: &mut Context<Self>) {
        if self.settled {
            return;
        }
        self.settled = true;
        // Whatever the path (answer, failure, stop, abort): the gate slot or queue place goes.
        self.permit = None;
        self.ticket = None;
        self.cancel_timer(ctx);
        self.cancel_ping_timer(ctx);
        self.end_media();
        let now = self.run.now_us();
        self.finish_recovery(now, |s| s.abandoned += 1, ctx);
        self.resolve_pending(true);
        let group = self.planned().group;
        let expected = expected
            || (key == OutcomeKey::Aborted
                && self
                    .group()
                    .expect_counts
                    .iter()
                    .any(|(k, _)| *k == OutcomeKey::Aborted));
        let step = self.step.min(u16::MAX as usize) as u16;
        let (room, now) = (self.planned().room, self.run.now_us());
        recorder::record(|r| {
            r.outcome(
                group,
                Outcome {
                    key,
                    expected,
                    step,
                },
            );
            if !expected {
                let stat = r.room(room);
                stat.unexpected += 1;
                if stat.first_unexpected_us == 0 {
                    stat.first_unexpected_us = now.max(1);
                }
            }
        });
        let iterations = self.group().iterations;
        if self.iteration + 1 < iterations {
            self.iteration += 1;
            if self.stopping {
                // Iterations that will never run are aborted too: every lifecycle is counted.
                let left = u64::from(iterations - self.iteration);
                recorder::record(|r| {
                    *r.outcomes
                        .entry((group, OutcomeKey::Aborted, false))
                        .or_default() += left;
                });
                self.iteration = iterations;
                ctx.stop();
                return;
            }
            self.step = 0;
            self.unexpected = false;
            self.settled = false;
            self.connected_once = false;
            self.intended_us = self.run.now_us();
            recorder::record(|r| r.started += 1);
            self.run_step(ctx);
        } else {
            ctx.stop();
        }
    }
}

impl Actor for Participant {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Small mailbox: a participant gets few messages (its own stop, at most).
        ctx.set_mailbox_capacity(4);
        registry::register(self.id, ctx.address());
        recorder::record(|r| {
            r.started += 1;
            r.state_delta[ConnectionState::Disconnected.index()] += 1;
        });
        self.run_step(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.permit = None;
        self.ticket = None;
        registry::unregister(self.id);
        recorder::record(|r| r.state_delta[self.state.index()] -= 1);
    }
}

impl Participant {
    fn stage(&self) -> FailureStage {
        match self.waiting {
            Waiting::Http | Waiting::Gate => FailureStage::TokenExchange,
            Waiting::Socket => FailureStage::Connect,
            Waiting::JoinAnswer => FailureStage::Auth,
            Waiting::Idle | Waiting::LeaveClose => FailureStage::InRoom,
        }
    }
}

impl Handler<Stop> for Participant {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        if self.stopping || self.settled {
            return;
        }
        self.stopping = true;
        match self.waiting {
            Waiting::LeaveClose => {}
            _ if self.state.in_room() || self.recovery.is_some() => {
                self.cancel_timer(ctx);
                self.leave_forced = true;
                self.begin_leave(ctx);
            }
            Waiting::Idle => self.run_step(ctx),
            // Mid-join: give up now.
            _ => {
                self.cancel_timer(ctx);
                self.waiting = Waiting::Idle;
                recorder::record(|r| {
                    if self.state != ConnectionState::Disconnected {
                        self.transition(ConnectionEvent::Ended(DisconnectReason::Leave), r);
                    }
                });
                self.close_socket(ctx);
                self.settle(OutcomeKey::Aborted, false, ctx);
            }
        }
    }
}

/// Forces a participant that ignored [`Stop`] past the grace period to end as aborted.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Abort;

impl Handler<Abort> for Participant {
    type Result = ();

    fn handle(&mut self, _: Abort, ctx: &mut Self::Context) {
        self.stopping = true;
        if self.state != ConnectionState::Disconnected {
            recorder::record(|r| {
                self.transition(ConnectionEvent::Ended(DisconnectReason::Leave), r)
            });
        }
        self.close_socket(ctx);
        self.settle(OutcomeKey::Aborted, false, ctx);
        ctx.stop();
    }
}
