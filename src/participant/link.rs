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
    /// Blackholed: the pump neither reads nor writes until thawed.
    frozen: bool,
    /// The code of the close frame received, if any.
    close_code: Option<u16>,
}

impl Link {
    /// A link over an open WebSocket.
    pub fn new(ws: Socket) -> Self {
        Self {
            ws,
            outbox: VecDeque::new(),
            unflushed: false,
            waker: None,
            frozen: false,
            close_code: None,
        }
    }

    /// Stops all traffic (a blackholed network): nothing is read or written, the socket stays open.
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    /// Resumes traffic after [`Link::freeze`]: what queued up meanwhile flows again.
    pub fn thaw(&mut self) {
        self.frozen = false;
        if let Some(w) = &self.waker {
            w.wake_by_ref();
        }
    }

    /// Whether traffic is stopped.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// The close code the client reports for this socket's end: the close frame's code, 1005 for
    /// a close frame without one, 1006 when it ended without a close frame.
    pub fn close_code(&self) -> u16 {
        self.close_code
            .unwrap_or(crate::participant::reconnect::ABNORMAL_CLOSE)
    }

    /// Arranges for the socket to be reset (RST) when dropped, as a dying network does.
    pub fn reset_on_drop(&self) {
        if let Err(err) = crate::sockopt::zero_linger(self.ws.get_ref()) {
            tracing::debug!(%err, "SO_LINGER not set; the socket closes normally");
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
    /// Reading or writing failed (the client reports 1006).
    Failed(WsError),
    /// The socket closed with this code (1005: close frame without a code).
    Closed(u16),
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
            if link.frozen {
                link.waker = Some(task.waker().clone());
                return Poll::Pending;
            }
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
                Poll::Ready(Some(Ok(msg))) => {
                    if let Message::Close(frame) = &msg {
                        link.close_code = Some(
                            frame
                                .as_ref()
                                .map_or(crate::participant::reconnect::NO_STATUS_CLOSE, |f| {
                                    u16::from(f.code)
                                }),
                        );
                    }
                    LinkEvent::Frame(msg)
                }
                Poll::Ready(Some(Err(e))) => LinkEvent::Failed(e),
                Poll::Ready(None) => LinkEvent::Closed(link.close_code()),
            };
            let last = !matches!(event, LinkEvent::Frame(_));
            act.on_link(event, ctx);
            if last {
                return Poll::Ready(());
            }
        }
    }
}
