//! A socket's send queue: bounded for frames, always open for the one final message.
//!
//! Fan-out happens under a room lock and must never wait for a slow client, so pushing never
//! blocks. A socket whose queue passes the limit is told to end as a slow reader rather than being
//! buffered without bound. Final messages (kick, eviction, room close) bypass the limit so that a
//! `disconnect` frame is never lost to a full queue, and are delivered after the frames queued
//! before them. A reset (fault injection) overtakes everything: a crash does not flush queues. A plain `VecDeque` behind the socket's own mutex costs nothing until used, where a
//! channel would allocate a block per socket (memory per member is the server's scaling limit).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// How a socket's life ends when the server ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Send this `disconnect` frame, then close: the member was already removed.
    Disconnect(Arc<str>),
    /// The member resumed on another socket; close this one quietly.
    Superseded,
    /// The queue overflowed; close so the client reconnects.
    SlowReader,
    /// Fault injection: reset the TCP connection (RST, no close frame) as a broken network would;
    /// comes before any frame still queued.
    Reset,
}

/// What the socket's task takes from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Frames to send, oldest first (everything queued at the time: written with one flush).
    Frames(Vec<Arc<str>>),
    /// The last message this socket will act on.
    End(Ending),
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Arc<str>>,
    ending: Option<Ending>,
    /// Set by [`Outbox::reset`]; wins over frames and any other ending.
    reset: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Notify,
    limit: usize,
}

/// The sending half, held by the room.
#[derive(Debug, Clone)]
pub struct Outbox(Arc<Shared>);

/// The receiving half, held by the socket's task.
#[derive(Debug)]
pub struct OutboxReceiver(Arc<Shared>);

/// A queue that holds at most `limit` frames (plus one end message).
pub fn outbox(limit: usize) -> (Outbox, OutboxReceiver) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        ready: Notify::new(),
        limit,
    });
    (Outbox(shared.clone()), OutboxReceiver(shared))
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Outbox {
    /// Queues a frame; past the limit the socket is told to end as a slow reader instead.
    pub fn push(&self, frame: Arc<str>) {
        let mut q = self.0.lock();
        if q.ending.is_some() || q.reset {
            return; // the socket is ending: nothing more reaches it
        }
        if q.frames.len() >= self.0.limit {
            q.ending = Some(Ending::SlowReader);
        } else {
            q.frames.push_back(frame);
        }
        drop(q);
        self.0.ready.notify_one();
    }

    /// Queues the final message, whatever the queue's depth (the first ending wins).
    pub fn end(&self, ending: Ending) {
        let mut q = self.0.lock();
        if q.ending.is_none() {
            q.ending = Some(ending);
        }
        drop(q);
        self.0.ready.notify_one();
    }

    /// Asks the socket to reset its connection at once, ahead of anything queued (fault
    /// injection: a dropped connection).
    pub fn reset(&self) {
        self.0.lock().reset = true;
        self.0.ready.notify_one();
    }
}

impl OutboxReceiver {
    /// Waits for queued frames (all of them at once) or, once they are sent, the ending; a reset
    /// comes first.
    pub async fn recv(&mut self) -> Outbound {
        loop {
            {
                let mut q = self.0.lock();
                if q.reset {
                    return Outbound::End(Ending::Reset);
                }
                if !q.frames.is_empty() {
                    return Outbound::Frames(q.frames.drain(..).collect());
                }
                if let Some(ending) = q.ending.take() {
                    return Outbound::End(ending);
                }
            }
            self.0.ready.notified().await;
        }
    }

    /// Resolves once a reset is requested, leaving frames queued (a stalled socket waits on this
    /// instead of [`Self::recv`], so a drop during a stall still resets it at once).
    pub async fn reset_requested(&mut self) {
        loop {
            if self.0.lock().reset {
                return;
            }
            self.0.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_ends_as_slow_reader_and_later_frames_are_dropped() {
        let (tx, mut rx) = outbox(2);
        for i in 0..5 {
            tx.push(Arc::from(format!("f{i}")));
        }
        tx.end(Ending::Superseded);
        assert_eq!(
            rx.recv().await,
            Outbound::Frames(vec!["f0".into(), "f1".into()])
        );
        assert_eq!(rx.recv().await, Outbound::End(Ending::SlowReader));
    }

    #[tokio::test]
    async fn an_ending_comes_after_the_frames_queued_before_it() {
        let (tx, mut rx) = outbox(8);
        tx.push("a".into());
        tx.end(Ending::Disconnect("bye".into()));
        tx.push("late".into());
        assert_eq!(rx.recv().await, Outbound::Frames(vec!["a".into()]));
        assert_eq!(
            rx.recv().await,
            Outbound::End(Ending::Disconnect("bye".into()))
        );
    }

    #[tokio::test]
    async fn a_reset_overtakes_queued_frames_and_endings() {
        let (tx, mut rx) = outbox(8);
        tx.push("a".into());
        tx.end(Ending::Superseded);
        let waiter = tokio::spawn(async move {
            rx.reset_requested().await;
            rx
        });
        tokio::task::yield_now().await;
        tx.reset();
        let mut rx = waiter.await.unwrap();
        assert_eq!(rx.recv().await, Outbound::End(Ending::Reset));
    }

    #[tokio::test]
    async fn draining_makes_room_again_and_wakes_the_receiver() {
        let (tx, mut rx) = outbox(1);
        tx.push("a".into());
        assert_eq!(rx.recv().await, Outbound::Frames(vec!["a".into()]));
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.push("b".into());
        assert_eq!(waiter.await.unwrap(), Outbound::Frames(vec!["b".into()]));
    }
}
