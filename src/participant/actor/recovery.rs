//! Heartbeats, breaks and reconnects, scripted client faults and kicks: the parts of the
//! participant that exist because connections break. The decisions are the pure policy's
//! ([`crate::participant::reconnect`]); this file carries them out with the actor's timers and
//! sockets.

use actix::prelude::*;

use super::*;
use crate::participant::faults::Inject;
use crate::participant::heartbeat;
use crate::participant::reconnect::{Policy, Reaction, Reauth, Retry};

/// Where a reconnect stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the next attempt.
    Waiting,
    /// The next attempt waits for a slot at the handshake gate ([`crate::participant::gate`]):
    /// a reconnect opens a socket and re-authenticates, a handshake like a join's.
    Gate,
    /// Opening the new socket.
    Opening,
    /// Waiting for the re-auth answer.
    Reauth,
}

/// A reconnect in progress (boxed: most participants never have one).
pub(super) struct Recovery {
    pub(super) policy: Policy,
    /// RECONNECTING since (µs).
    pub(super) since_us: u64,
    /// Attempts started.
    pub(super) attempts: u32,
    pub(super) attempt_started_us: u64,
    pub(super) phase: Phase,
    /// The next attempt, or the current attempt's timeout.
    pub(super) timer: Option<SpawnHandle>,
    /// Identifies the episode on the wire (`?rpcid=`), the same for all its attempts.
    pub(super) nonce: u64,
}

/// Heartbeats, breaks and reconnects: the SDK's behaviour, decided by [`reconnect::Policy`].
impl Participant {
    pub(super) fn offline(&self) -> bool {
        let now = self.run.now_us();
        self.net.as_ref().is_some_and(|n| n.offline(now))
    }

    /// Stops the dead-server timer (a registered check then finds nothing to do).
    pub(super) fn cancel_ping_timer(&mut self, _ctx: &mut Context<Self>) {
        self.last_ping_us = 0;
    }

    /// A ping (re)arms the dead-server timer. The timer is moved forward lazily: a check is
    /// registered once and, when due, re-registered for the latest ping, so it costs one check
    /// per `ping_timeout` instead of one per ping.
    pub(super) fn heartbeat(&mut self, now: u64, _ctx: &mut Context<Self>) {
        if !self.state.in_room() {
            return;
        }
        self.last_ping_us = now.max(1);
        if !self.watched {
            self.watched = true;
            heartbeat::watch(
                self.id,
                self.last_ping_us + self.ping_timeout_us(),
                heartbeat::Check::Ping,
            );
        }
    }

    pub(super) fn ping_timeout_us(&self) -> u64 {
        self.run.plan.reconnect.ping_timeout.as_micros() as u64
    }

    /// The connection of a member broke (its socket is already gone, except after a ping
    /// timeout, where the SDK closes it itself a little later).
    pub(super) fn lose(&mut self, loss: Loss, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        let policy = Policy::new(self.run.plan.reconnect);
        let Reaction::Reconnect {
            close_old_after,
            attempt_after,
        } = policy.on_loss(loss)
        else {
            // The SDK ignores this close: the member stays CONNECTED on a dead socket until its
            // ping timer fires (never, if no ping ever came).
            self.close_socket(ctx);
            return recorder::record(|r| {
                *r.recovery.ignored_closes.entry(loss.name()).or_default() += 1
            });
        };
        self.cancel_ping_timer(ctx);
        if let Some(p) = self.pump.take() {
            ctx.cancel_future(p);
        }
        if let Some(old) = self.link.take() {
            self.park(old, close_old_after, ctx);
        }
        let detect = self
            .run
            .last_fault_us()
            .filter(|at| *at <= now)
            .map(|at| now - at);
        recorder::record(|r| {
            *r.recovery.losses.entry(loss.name()).or_default() += 1;
            if let Some(us) = detect {
                r.latency(Metric::Detect, us);
            }
            self.transition(ConnectionEvent::ConnectionLost, r);
        });
        self.recovery = Some(Box::new(Recovery {
            policy,
            since_us: now,
            attempts: 0,
            attempt_started_us: now,
            phase: Phase::Waiting,
            timer: None,
            nonce: self.rng.next_u64(),
        }));
        self.schedule_attempt(attempt_after, ctx);
    }

    /// Keeps a socket the client is done with open for `after` (longer while the network is
    /// down: a blackholed socket's close reaches nobody until the network is back), then drops it.
    pub(super) fn park(&mut self, link: Link, after: std::time::Duration, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        let offline_until = self.net.as_ref().map_or(0, |n| n.offline_until_us);
        let due = (now + after.as_micros() as u64).max(offline_until);
        if due <= now {
            return drop(link);
        }
        ctx.run_later(std::time::Duration::from_micros(due - now), move |_, _| {
            drop(link)
        });
    }

    pub(super) fn schedule_attempt(&mut self, after: std::time::Duration, ctx: &mut Context<Self>) {
        let Some(rec) = self.recovery.as_mut() else {
            return;
        };
        rec.phase = Phase::Waiting;
        rec.timer = Some(ctx.run_later(after, |act, ctx| {
            if let Some(rec) = act.recovery.as_mut() {
                rec.timer = None;
            }
            act.attempt(ctx);
        }));
    }

    /// Starts the next attempt once it has a slot at the handshake gate (held until the re-auth
    /// answer or the attempt's failure; the wait for it is part of RECONNECTING, not of the
    /// attempt).
    pub(super) fn attempt(&mut self, ctx: &mut Context<Self>) {
        if self.recovery.is_none() {
            return;
        }
        if !self.pass_gate(ctx) {
            if let Some(rec) = self.recovery.as_mut() {
                rec.phase = Phase::Gate;
            }
            return;
        }
        let now = self.run.now_us();
        let offline = self.offline();
        let Some(rec) = self.recovery.as_mut() else {
            return;
        };
        rec.attempts += 1;
        rec.attempt_started_us = now;
        rec.phase = Phase::Opening;
        let (attempt, nonce) = (rec.attempts, rec.nonce);
        if offline {
            return self.attempt_failed("network down (scripted fault)", ctx);
        }
        let Some(Action::Open { url }) = self.driver.resume(nonce) else {
            return self.attempt_failed("the driver has nothing to resume with", ctx);
        };
        let timeout = self.run.plan.reconnect.request_timeout;
        if let Some(rec) = self.recovery.as_mut() {
            rec.timer = Some(ctx.run_later(timeout, |act, ctx| {
                if let Some(rec) = act.recovery.as_mut() {
                    rec.timer = None;
                }
                act.attempt_failed("no re-auth answer within the request timeout", ctx);
            }));
        }
        self.connect_started_us = now;
        let run = self.run.clone();
        let subprotocol = self.driver.subprotocol();
        let fut = async move { transport::ws_open(&run.sources, &url, subprotocol).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let current = act
                .recovery
                .as_ref()
                .is_some_and(|r| r.phase == Phase::Opening && r.attempts == attempt);
            if !current {
                return; // that attempt already timed out or the reconnect ended
            }
            match res {
                Ok(ws) => {
                    let connect_us = act.run.now_us().saturating_sub(act.connect_started_us);
                    recorder::record(|r| r.latency(Metric::Connect, connect_us));
                    act.link = Some(Link::new(ws));
                    act.pump = Some(ctx.spawn(Pump));
                    if let Some(rec) = act.recovery.as_mut() {
                        rec.phase = Phase::Reauth;
                    }
                    let mut out = Vec::new();
                    act.driver.on_socket_open(&mut out);
                    act.send(out);
                }
                Err(e) => act.attempt_failed(&e.to_string(), ctx),
            }
        }));
    }

    pub(super) fn attempt_failed(&mut self, why: &str, ctx: &mut Context<Self>) {
        self.close_socket(ctx);
        self.permit = None;
        let now = self.run.now_us();
        let Some(rec) = self.recovery.as_mut() else {
            return;
        };
        if let Some(t) = rec.timer.take() {
            ctx.cancel_future(t);
        }
        let since = std::time::Duration::from_micros(now.saturating_sub(rec.attempt_started_us));
        let retry = rec.policy.on_attempt_failed(since);
        recorder::record(|r| {
            r.recovery.attempts_failed += 1;
            if r.recovery.attempt_failure_example.is_none() {
                r.recovery.attempt_failure_example = Some(why.to_string());
            }
        });
        self.retry(retry, ctx);
    }

    pub(super) fn retry(&mut self, retry: Retry, ctx: &mut Context<Self>) {
        match retry {
            Retry::After(d) => self.schedule_attempt(d, ctx),
            Retry::GiveUp => self.end_reconnect(
                DisconnectReason::Error {
                    code: Some(crate::codes::RECONNECT_FAILED),
                },
                ctx,
            ),
        }
    }

    /// The re-auth succeeded: RECONNECTED, and the roster diffed with the new member list.
    pub(super) fn resumed(&mut self, peers: &[signaling::Peer], now: u64, ctx: &mut Context<Self>) {
        let Some(mut rec) = self.recovery.take() else {
            return;
        };
        self.permit = None;
        if let Some(t) = rec.timer.take() {
            ctx.cancel_future(t);
        }
        rec.policy.reset();
        let room = self.planned().room as usize;
        let board = &self.run.boards[room];
        if self.slot != u32::MAX {
            board.resumed(self.slot, now);
        }
        let listed: Vec<u32> = peers.iter().filter_map(|p| board.slot(&p.user)).collect();
        let (mut joined, mut left) = (0, 0);
        for s in &listed {
            if !self.seen.contains(s) {
                self.seen.push(*s);
                joined += 1;
            } else if self.gone.contains(s) {
                self.gone.retain(|g| g != s);
                joined += 1;
            }
        }
        for s in &self.seen {
            if !listed.contains(s) && !self.gone.contains(s) {
                self.gone.push(*s);
                self.marks.retain(|(m, _)| m != s);
                left += 1;
            }
        }
        let took = now - rec.since_us;
        recorder::record(|r| {
            r.latency(Metric::Reconnect, took);
            r.latency(Metric::Reconnecting, took);
            *r.recovery.attempts.entry(rec.attempts).or_default() += 1;
            r.recovery.reconnected += 1;
            r.recovery.roster_joined += joined;
            r.recovery.roster_left += left;
            r.recovery.recovered_at(now);
            self.transition(ConnectionEvent::Accepted, r);
        });
        let mut out = Vec::new();
        self.driver.resumed(&mut out);
        self.send(out);
        self.arm_keepalive(now);
    }

    pub(super) fn reauth_answer(&mut self, code: u32, ctx: &mut Context<Self>) {
        let Some(rec) = self.recovery.as_mut() else {
            return;
        };
        match rec.policy.on_reauth(code) {
            Reauth::Resumed => {} // code 0 arrives as `Joined`
            Reauth::Retry(retry) => {
                self.close_socket(ctx);
                self.permit = None;
                self.retry(retry, ctx);
            }
            Reauth::End(reason) => {
                recorder::record(|r| {
                    *r.recovery.refused.entry(code).or_default() += 1;
                    r.recovery.unhandled_21003 += 1;
                });
                self.end_reconnect(reason, ctx);
            }
        }
    }

    /// Ends the recovery's clock: records the time spent RECONNECTING and the attempts made,
    /// plus whatever `count` adds. `false` when there was no reconnect in progress.
    pub(super) fn finish_recovery(
        &mut self,
        now: u64,
        count: impl FnOnce(&mut crate::metrics::recovery::RecoveryStats),
        ctx: &mut Context<Self>,
    ) -> bool {
        let Some(mut rec) = self.recovery.take() else {
            return false;
        };
        // The attempt's slot at the gate, or its place in the queue.
        self.permit = None;
        self.ticket = None;
        if let Some(t) = rec.timer.take() {
            ctx.cancel_future(t);
        }
        recorder::record(|r| {
            r.latency(Metric::Reconnecting, now.saturating_sub(rec.since_us));
            *r.recovery.attempts.entry(rec.attempts).or_default() += 1;
            count(&mut r.recovery);
        });
        true
    }

    /// The reconnect ended without coming back: DISCONNECTED with `reason`.
    pub(super) fn end_reconnect(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        let gave_up = reason
            == DisconnectReason::Error {
                code: Some(crate::codes::RECONNECT_FAILED),
            };
        self.finish_recovery(
            now,
            |s| {
                if gave_up {
                    s.gave_up += 1;
                }
            },
            ctx,
        );
        self.close_socket(ctx);
        self.end_stay(now);
        let (key, code) = match reason {
            DisconnectReason::KickedOut => (OutcomeKey::Kicked, crate::codes::KICKED),
            DisconnectReason::Error { code: Some(c) } => (OutcomeKey::Code(c), c),
            DisconnectReason::Error { code: None } | DisconnectReason::Leave => {
                (OutcomeKey::Code(0), 0)
            }
        };
        recorder::record(|r| self.transition(ConnectionEvent::Ended(reason), r));
        let expected = match self.script_step() {
            Some(Step::Hold { expect, .. }) => expect.contains(&code),
            _ => false,
        };
        self.settle(key, expected, ctx);
    }

    /// Gives the reconnect up because the script moves on (DISCONNECTED LEAVE).
    pub(super) fn abandon_recovery(&mut self, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        self.finish_recovery(now, |s| s.abandoned += 1, ctx);
        self.close_socket(ctx);
        self.end_stay(now);
        recorder::record(|r| self.transition(ConnectionEvent::Ended(DisconnectReason::Leave), r));
    }

    /// The script's leave (or a stop) while RECONNECTING: the SDK's `leave()` gives the
    /// reconnect up; there is no session to say goodbye on.
    pub(super) fn leave_while_reconnecting(&mut self, ctx: &mut Context<Self>) {
        self.abandon_recovery(ctx);
        if self.leave_forced {
            return self.settle(OutcomeKey::Aborted, false, ctx);
        }
        self.step += 1;
        self.run_step(ctx);
    }

    pub(super) fn peer_reconnecting(&mut self, user: &str, now: u64) {
        let board = &self.run.boards[self.planned().room as usize];
        if let Some(slot) = board.slot(user)
            && !self.marks.iter().any(|(s, _)| *s == slot)
        {
            self.marks.push((slot, now));
        }
        recorder::record(|r| r.recovery.peer_reconnecting += 1);
    }

    pub(super) fn peer_reconnected(&mut self, user: &str, now: u64) {
        let board = &self.run.boards[self.planned().room as usize];
        let slot = board.slot(user);
        if let Some(slot) = slot {
            self.marks.retain(|(s, _)| *s != slot);
        }
        let delay = slot.map(|s| presence::reconnected_delay(board, s, now));
        recorder::record(|r| {
            r.recovery.peer_reconnected += 1;
            r.recovery.recovered_at(now);
            match delay {
                Some(Delay::Measured(us)) => r.latency(Metric::PeerReconnected, us),
                Some(_) => {
                    r.latency(Metric::PeerReconnected, 0);
                    r.notices_before_reference += 1;
                }
                None => r.notices_unknown_user += 1,
            }
        });
    }
}

impl Handler<Inject> for Participant {
    type Result = ();

    /// A scripted client-side fault (or a kick) reaches this participant: it applies only to a
    /// member (in the room or reconnecting); otherwise it is counted as missed.
    fn handle(&mut self, Inject(index): Inject, ctx: &mut Self::Context) {
        let Some(fault) = self.run.plan.faults.get(index) else {
            return;
        };
        let (kind, index) = (fault.kind, fault.index);
        let member = !self.settled
            && self.waiting != Waiting::LeaveClose
            && (self.state.in_room() || self.recovery.is_some());
        recorder::record(|r| {
            let hits = r.recovery.fault(index);
            if member {
                hits.applied += 1;
            } else {
                hits.missed += 1;
            }
        });
        if !member {
            return;
        }
        let now = self.run.now_us();
        let until = |d: std::time::Duration| now + d.as_micros() as u64;
        match kind {
            FaultKind::Reset { offline } => {
                self.media_faults().set_offline(until(offline));
                let net = self.net.get_or_insert_with(Default::default);
                net.offline_until_us = net.offline_until_us.max(until(offline));
                if let Some(link) = self.link.take() {
                    link.reset_on_drop();
                }
                self.close_socket(ctx);
                if self.recovery.is_some() {
                    if self
                        .recovery
                        .as_ref()
                        .is_some_and(|r| matches!(r.phase, Phase::Opening | Phase::Reauth))
                    {
                        self.attempt_failed("connection reset (scripted fault)", ctx);
                    }
                } else {
                    self.lose(Loss::Closed(reconnect::ABNORMAL_CLOSE), ctx);
                }
            }
            FaultKind::Blackhole { duration } => {
                let end = until(duration);
                self.media_faults().set_offline(end);
                let net = self.net.get_or_insert_with(Default::default);
                net.offline_until_us = net.offline_until_us.max(end);
                if let Some(link) = &mut self.link {
                    link.freeze();
                }
                ctx.run_later(duration, |act, _| {
                    if let Some(link) = &mut act.link {
                        link.thaw();
                    }
                });
            }
            FaultKind::DelayFrames { by, duration } => {
                let net = self.net.get_or_insert_with(Default::default);
                net.delay_until_us = net.delay_until_us.max(until(duration));
                net.delay = by;
            }
            FaultKind::MediaLoss { share, duration } => {
                self.media_faults().set_loss(share, until(duration));
            }
            FaultKind::MediaDelay { by, duration } => {
                self.media_faults()
                    .set_delay(by.as_micros() as u64, until(duration));
            }
            FaultKind::Kick => self.kick_self(index, ctx),
            // Server-wide faults are the coordinator's; a participant never gets them.
            _ => {}
        }
    }
}

impl Participant {
    /// Kicks this participant through the server's management API (as an admin would).
    pub(super) fn kick_self(&mut self, index: usize, ctx: &mut Context<Self>) {
        let call: std::pin::Pin<Box<dyn Future<Output = Result<(), String>>>> =
            if let Some(control) = self.run.janus.clone() {
                // Janus kicks by room number and member id, with the room's secret.
                let room = self.run.room_number(self.planned().room);
                let id = crate::signaling::janus::driver::member_id(&self.user);
                Box::pin(async move { control.kick(room, id).await.map_err(|e| e.to_string()) })
            } else if let Some(api) = self.run.fault_api.clone() {
                let (app, room, user) = (
                    self.run.app.clone(),
                    self.run.plan.rooms[self.planned().room as usize].clone(),
                    self.user.clone(),
                );
                Box::pin(async move {
                    api.kick(&app, &room, &user)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
            } else {
                return recorder::record(|r| r.recovery.fault(index).failed += 1);
            };
        ctx.spawn(call.into_actor(self).map(move |res, _, _| {
            if let Err(err) = res {
                tracing::debug!(%err, "kick failed");
                recorder::record(|r| r.recovery.fault(index).failed += 1);
            }
        }));
    }
}

/// The worker found this participant's keepalive due: a member sends one and sets the next.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Keepalive;

impl Handler<Keepalive> for Participant {
    type Result = ();

    fn handle(&mut self, _: Keepalive, _ctx: &mut Self::Context) {
        self.keepalive_armed = false;
        // Not in a session now (between stays, reconnecting): the next stay arms it again.
        if self.settled || !self.state.in_room() || self.recovery.is_some() || self.link.is_none() {
            return;
        }
        let mut out = Vec::new();
        self.driver.keepalive(&mut out);
        self.send(out);
        self.arm_keepalive(self.run.now_us());
    }
}

impl Participant {
    /// Registers the next keepalive, for servers that expire silent sessions (one entry at a
    /// time: a stale one fires, finds nothing or sends an early keepalive, and re-arms).
    pub(super) fn arm_keepalive(&mut self, now: u64) {
        if let Some(every) = self.run.keepalive
            && !self.keepalive_armed
        {
            self.keepalive_armed = true;
            heartbeat::watch(
                self.id,
                now + every.as_micros() as u64,
                heartbeat::Check::Keepalive,
            );
        }
    }
}

/// The worker found this participant's dead-server check due.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct PingCheck;

impl Handler<PingCheck> for Participant {
    type Result = ();

    fn handle(&mut self, _: PingCheck, ctx: &mut Self::Context) {
        self.watched = false;
        if !self.state.in_room() || self.recovery.is_some() || self.last_ping_us == 0 {
            return;
        }
        let due = self.last_ping_us + self.ping_timeout_us();
        if self.run.now_us() < due {
            self.watched = true;
            heartbeat::watch(self.id, due, heartbeat::Check::Ping);
        } else {
            self.lose(Loss::PingTimeout, ctx);
        }
    }
}
