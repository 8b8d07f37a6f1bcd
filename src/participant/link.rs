//! A participant's WebSocket, driven inside its actor by one actor future ([`Pump`]): it writes
//! the frames the actor queued and hands every frame received to the actor.
//!
//! Why not `add_stream` plus a `SinkWrite` over a split socket: that costs two context items, a
//! lock shared by the halves and a separate write buffer per participant, and a hop through the
//! lock on every frame. One pump that owns the whole socket does the same job with none of them,
//! which matters when a process holds tens of thousands of participants.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Poll, Waker};

use actix::prelude::*;
use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::actor::Participant;
use crate::transport::Socket;

/// The socket and the frames waiting to be written to it.
pub struct Link {
    ws: Socket,
    outbox: VecDeque<Message>,
    unflushed: bool,
    waker: Option<Waker>,
}

impl Link {
    /// A link over an open WebSocket.
    pub fn new(ws: Socket) -> Self {
        Self {
            ws,
            outbox: VecDeque::new(),
            unflushed: false,
            waker: None,
        }
    }

    /// Queues a frame; the pump writes it on its next turn (woken now).
    pub fn send(&mut self, msg: Message) {
        self.outbox.push_back(msg);
        if let Some(w) = &self.waker {
            w.wake_by_ref();
        }
    }

    /// Writes queued frames until the socket pushes back; `Err` on a write failure.
    fn flush(&mut self, task: &mut std::task::Context<'_>) -> Result<(), WsError> {
        while !self.outbox.is_empty() {
            match Pin::new(&mut self.ws).poll_ready(task) {
                Poll::Ready(Ok(())) => {
                    let msg = self.outbox.pop_front().expect("checked non-empty");
                    Pin::new(&mut self.ws).start_send(msg)?;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(()),
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(task) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(())
    }
}

/// What the pump reports to the actor.
pub enum LinkEvent {
    /// A frame arrived.
    Frame(Message),
    /// Reading or writing failed.
    Failed(WsError),
    /// The socket closed (after the close handshake, or abruptly).
    Closed,
}

/// The actor future that drives a participant's [`Link`]; it ends when the socket does or when
/// the actor drops the link.
pub struct Pump;

impl ActorFuture<Participant> for Pump {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut Participant,
        ctx: &mut Context<Participant>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        loop {
            let Some(link) = act.link_mut() else {
                return Poll::Ready(());
            };
            if !link
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(task.waker()))
            {
                link.waker = Some(task.waker().clone());
            }
            if let Err(e) = link.flush(task) {
                act.on_link(LinkEvent::Failed(e), ctx);
                return Poll::Ready(());
            }
            let event = match Pin::new(&mut link.ws).poll_next(task) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(msg))) => LinkEvent::Frame(msg),
                Poll::Ready(Some(Err(e))) => LinkEvent::Failed(e),
                Poll::Ready(None) => LinkEvent::Closed,
            };
            let last = !matches!(event, LinkEvent::Frame(_));
            act.on_link(event, ctx);
            if last {
                return Poll::Ready(());
            }
        }
    }
}
