//! A socket's send queue: bounded for frames, always open for the one final message.
//!
//! Fan-out happens under a room lock and must never wait for a slow client, so pushing never
//! blocks. A socket whose queue passes the limit gets one `SlowReader` end message and is
//! disconnected rather than buffered without bound. Final messages (kick, eviction, room close)
//! bypass the limit so that a `disconnect` frame is never lost to a full queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

/// How a socket's life ends when the server ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Send this `disconnect` frame, then close: the member was already removed.
    Disconnect(Arc<str>),
    /// The member resumed on another socket; close this one quietly.
    Superseded,
    /// The queue overflowed; close so the client reconnects.
    SlowReader,
}

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A text frame to send.
    Frame(Arc<str>),
    /// The last message this socket will act on.
    End(Ending),
}

/// The sending half, held by the room.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Outbound>,
    depth: Arc<AtomicUsize>,
    limit: usize,
}

/// The receiving half, held by the socket's task.
#[derive(Debug)]
pub struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<Outbound>,
    depth: Arc<AtomicUsize>,
}

/// A queue that holds at most `limit` frames (plus one end message).
pub fn outbox(limit: usize) -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let depth = Arc::new(AtomicUsize::new(0));
    (
        Outbox {
            tx,
            depth: depth.clone(),
            limit,
        },
        OutboxReceiver { rx, depth },
    )
}

impl Outbox {
    /// Queues a frame; past the limit the socket is told to end as a slow reader instead.
    pub fn push(&self, frame: Arc<str>) {
        let before = self.depth.fetch_add(1, Ordering::AcqRel);
        if before < self.limit {
            let _ = self.tx.send(Outbound::Frame(frame));
        } else if before == self.limit {
            let _ = self.tx.send(Outbound::End(Ending::SlowReader));
        }
        // Beyond that the socket is already ending: drop the frame.
    }

    /// Queues the final message, whatever the queue's depth.
    pub fn end(&self, ending: Ending) {
        let _ = self.tx.send(Outbound::End(ending));
    }
}

impl OutboxReceiver {
    /// The next message, or `None` when every sender is gone.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let msg = self.rx.recv().await?;
        if matches!(msg, Outbound::Frame(_)) {
            self.depth.fetch_sub(1, Ordering::AcqRel);
        }
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_ends_as_slow_reader_but_final_messages_always_fit() {
        let (tx, mut rx) = outbox(2);
        for i in 0..5 {
            tx.push(Arc::from(format!("f{i}")));
        }
        tx.end(Ending::Superseded);
        let mut got = Vec::new();
        drop(tx);
        while let Some(m) = rx.recv().await {
            got.push(m);
        }
        assert_eq!(
            got,
            vec![
                Outbound::Frame("f0".into()),
                Outbound::Frame("f1".into()),
                Outbound::End(Ending::SlowReader),
                Outbound::End(Ending::Superseded),
            ]
        );
    }

    #[tokio::test]
    async fn draining_makes_room_again() {
        let (tx, mut rx) = outbox(1);
        tx.push("a".into());
        assert_eq!(rx.recv().await, Some(Outbound::Frame("a".into())));
        tx.push("b".into());
        assert_eq!(rx.recv().await, Some(Outbound::Frame("b".into())));
    }
}
