//! The participant's way into a room: a slot at its thread's handshake gate, the token
//! exchange or socket the driver asks for, and the first frames on the socket. The join answer
//! itself is an event like any other ([`super::Participant::on_event`]).

use actix::prelude::*;

use super::recovery::Phase;
use super::{Participant, Waiting};
use crate::metrics::Metric;
use crate::metrics::recorder;
use crate::participant::gate::{self, Permit};
use crate::participant::link::{Link, Pump};
use crate::participant::outcome::FailureStage;
use crate::participant::state::ConnectionEvent;
use crate::signaling::{self, Action, JoinRequest};
use crate::transport::{self, Socket};

impl Participant {
    pub(super) fn begin_join(&mut self, ctx: &mut Context<Self>) {
        if self.recovery.is_some() {
            // A script that joins again while still reconnecting gives the old session up first.
            self.abandon_recovery(ctx);
        }
        if !self.pass_gate(ctx) {
            // Waits DISCONNECTED, as a client whose join() has not been called yet.
            self.waiting = Waiting::Gate;
            return;
        }
        self.start_join(ctx);
    }

    /// Takes a slot at this thread's handshake gate: `true` when held now, `false` when queued
    /// (an [`Admit`] brings the permit later).
    pub(super) fn pass_gate(&mut self, ctx: &mut Context<Self>) -> bool {
        if self.permit.is_some() {
            return true;
        }
        let addr = ctx.address();
        let wake = move |permit| match addr.try_send(Admit(permit)) {
            Ok(()) => Ok(()),
            // A full mailbox still takes it (`do_send` ignores the capacity).
            Err(SendError::Full(admit)) => {
                addr.do_send(admit);
                Ok(())
            }
            Err(SendError::Closed(Admit(permit))) => Err(permit),
        };
        match gate::enter(wake) {
            gate::Entry::Granted(permit) => {
                self.permit = Some(permit);
                true
            }
            gate::Entry::Queued(ticket) => {
                self.ticket = Some(ticket);
                false
            }
        }
    }

    /// The join proper, with a slot at the gate: the `join` latency starts here.
    pub(super) fn start_join(&mut self, ctx: &mut Context<Self>) {
        let now = self.run.now_us();
        self.gone.clear();
        self.marks.clear();
        self.join_started_us = now;
        self.user = self.run.plan.user_id(self.planned(), self.iteration);
        let room = &self.run.plan.rooms[self.planned().room as usize];
        let group = self.group();
        let join = JoinRequest {
            base_url: self.run.base_url.clone(),
            app: self.run.app.clone(),
            room: room.clone(),
            user: self.user.clone(),
            room_token: self.run.room_token(&group.token, room, &self.user),
            user_data: group.user_data.to_string(),
            room_number: self.run.room_number(self.planned().room),
        };
        recorder::record(|r| self.transition(ConnectionEvent::JoinStarted, r));
        // A fresh join starts a fresh session (no reconnect token from an earlier stay), as the
        // SDK does for join() after leave().
        self.driver = signaling::new_driver(self.run.driver);
        let action = self.driver.begin_join(&join);
        let timeout = self.run.join_timeout;
        self.timer = Some(ctx.run_later(timeout, |act, ctx| {
            act.timer = None;
            act.fail(FailureStage::Timeout, "join timed out", ctx);
        }));
        self.perform(action, ctx);
    }

    pub(super) fn perform(&mut self, action: Action, ctx: &mut Context<Self>) {
        let run = self.run.clone();
        if self.offline() {
            let stage = match action {
                Action::Fetch { .. } => FailureStage::TokenExchange,
                Action::Open { .. } => FailureStage::Connect,
            };
            return self.fail(stage, "network down (scripted fault)", ctx);
        }
        match action {
            Action::Fetch { url } => {
                self.waiting = Waiting::Http;
                let fut = async move { transport::http_get(&run.sources, &url).await };
                ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
                    if act.waiting != Waiting::Http {
                        return;
                    }
                    let next = match res {
                        Ok((status, body)) => act.driver.on_http_answer(status, &body),
                        Err(e) => {
                            return act.fail(FailureStage::TokenExchange, &e.to_string(), ctx);
                        }
                    };
                    match next {
                        Ok(action) => act.perform(action, ctx),
                        Err(e) => act.fail(FailureStage::TokenExchange, &e.to_string(), ctx),
                    }
                }));
            }
            Action::Open { url } => {
                self.waiting = Waiting::Socket;
                self.connect_started_us = self.run.now_us();
                let subprotocol = self.driver.subprotocol();
                let fut = async move { transport::ws_open(&run.sources, &url, subprotocol).await };
                ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
                    if act.waiting != Waiting::Socket {
                        return;
                    }
                    match res {
                        Ok(ws) => act.socket_opened(ws, ctx),
                        Err(e) => act.fail(FailureStage::Connect, &e.to_string(), ctx),
                    }
                }));
            }
        }
    }

    pub(super) fn socket_opened(&mut self, ws: Socket, ctx: &mut Context<Self>) {
        let connect_us = self.run.now_us().saturating_sub(self.connect_started_us);
        recorder::record(|r| r.latency(Metric::Connect, connect_us));
        self.link = Some(Link::new(ws));
        self.pump = Some(ctx.spawn(Pump));
        self.waiting = Waiting::JoinAnswer;
        let mut out = Vec::new();
        self.driver.on_socket_open(&mut out);
        self.send(out);
    }
}

/// A slot at the handshake gate, for a participant that queued for one: it starts its join now
/// (or, if it ended meanwhile, drops the permit, which goes to the next waiter).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Admit(pub Permit);

impl Handler<Admit> for Participant {
    type Result = ();

    fn handle(&mut self, Admit(permit): Admit, ctx: &mut Self::Context) {
        if self.settled || self.ticket.is_none() {
            return;
        }
        if self.waiting == Waiting::Gate {
            self.ticket = None;
            self.permit = Some(permit);
            self.waiting = Waiting::Idle;
            self.start_join(ctx);
        } else if self
            .recovery
            .as_ref()
            .is_some_and(|r| r.phase == Phase::Gate)
        {
            self.ticket = None;
            self.permit = Some(permit);
            self.attempt(ctx);
        }
    }
}
