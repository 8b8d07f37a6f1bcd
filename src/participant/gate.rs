//! The handshake gate: a bound on the participants of one worker thread that are joining at once
//! (token exchange, socket open, WebSocket handshake, up to the join answer or the join's
//! failure), so that a connect storm cannot overflow the target's listen backlog.
//!
//! Why per thread: participants live on their worker's thread, so the gate is a thread-local
//! counter and FIFO queue, with no lock and no message to a central actor on the hot path. Each
//! worker gets its share of the process's `--max-connecting` ([`share`]); the sum over workers
//! never exceeds the total (but for the minimum of one per worker).
//!
//! A participant that finds the gate full queues a wake-up callback and stays DISCONNECTED; its
//! `time_to_connected` (measured from the intended arrival) includes the wait, as a real user's
//! would (no coordinated omission), while its `join` latency starts when it gets a [`Permit`].
//! The permit is an RAII guard: dropping it (join answer, join failure, stop, abort, the actor
//! itself dropped) frees the slot and wakes the next live waiter. A waiter gone in the meantime
//! (its [`Ticket`] dropped, or its callback handing the permit back) is skipped, so it is never
//! counted twice nor holds a slot.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

/// A wake-up callback: gets the permit, or hands it back (`Err`) when its participant is gone.
pub type Wake = Box<dyn FnOnce(Permit) -> Result<(), Permit>>;

/// Where a queued participant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Queued,
    Granted,
    Cancelled,
}

struct Waiter {
    standing: Rc<Cell<Standing>>,
    wake: Wake,
}

/// One thread's gate.
struct Gate {
    /// Joins allowed in flight at once on this thread.
    limit: usize,
    /// Permits out.
    in_flight: usize,
    /// Live waiters (the queue may also hold cancelled ones, skipped when waking).
    queued: usize,
    queue: VecDeque<Waiter>,
}

thread_local! {
    static GATE: RefCell<Gate> = const {
        RefCell::new(Gate {
            limit: usize::MAX,
            in_flight: 0,
            queued: 0,
            queue: VecDeque::new(),
        })
    };
}

/// A worker's share of a process-wide bound `total` over `workers` threads: `total / workers`,
/// at least one (`None`, no bound, stays unbounded).
pub fn share(total: Option<usize>, workers: usize) -> Option<usize> {
    total.map(|t| (t / workers.max(1)).max(1))
}

/// Sets this thread's bound (`None`: unbounded). Called by the worker before it starts any
/// participant.
pub fn configure(limit: Option<usize>) {
    GATE.with(|g| g.borrow_mut().limit = limit.unwrap_or(usize::MAX).max(1));
}

/// Permits out on this thread: participants joining right now.
pub fn in_flight() -> usize {
    GATE.with(|g| g.borrow().in_flight)
}

/// Participants queued at this thread's gate (waiting for a slot), not counting those gone.
pub fn queued() -> usize {
    GATE.with(|g| g.borrow().queued)
}

/// The right to be joining: held from the grant to the join answer or failure; dropping it
/// frees the slot for the next waiter.
///
/// It belongs to the thread that granted it (a participant never leaves its worker's thread);
/// it is `Send` only so that it can travel in an actor message to its own participant.
#[derive(Debug)]
#[must_use = "dropping a permit frees its slot at once"]
pub struct Permit {
    _private: (),
}

impl Drop for Permit {
    fn drop(&mut self) {
        release();
    }
}

/// A place in the queue: dropping it before the grant leaves the queue (the waiter is then
/// skipped when its turn comes); after the grant it does nothing.
#[derive(Debug)]
pub struct Ticket {
    standing: Rc<Cell<Standing>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.standing.get() == Standing::Queued {
            self.standing.set(Standing::Cancelled);
            let _ = GATE.try_with(|g| g.borrow_mut().queued -= 1);
        }
    }
}

/// What [`enter`] gives.
#[derive(Debug)]
pub enum Entry {
    /// A slot was free: join now.
    Granted(Permit),
    /// Queued: `wake` will get the permit once a slot frees up (unless the ticket is dropped
    /// first).
    Queued(Ticket),
}

/// Asks for a slot on this thread: granted at once while fewer than the limit are joining and
/// nobody waits (FIFO), queued otherwise.
pub fn enter(wake: impl FnOnce(Permit) -> Result<(), Permit> + 'static) -> Entry {
    GATE.with(|g| {
        let mut g = g.borrow_mut();
        if g.in_flight < g.limit && g.queued == 0 {
            g.in_flight += 1;
            return Entry::Granted(Permit { _private: () });
        }
        let standing = Rc::new(Cell::new(Standing::Queued));
        g.queued += 1;
        g.queue.push_back(Waiter {
            standing: standing.clone(),
            wake: Box::new(wake),
        });
        Entry::Queued(Ticket { standing })
    })
}

/// A permit came back: hands the slot to the first live waiter (the callback runs outside the
/// gate's borrow, so it may drop permits itself).
fn release() {
    loop {
        let next = GATE.try_with(|g| {
            let mut g = g.borrow_mut();
            g.in_flight = g.in_flight.saturating_sub(1);
            while let Some(w) = g.queue.pop_front() {
                if w.standing.get() != Standing::Queued {
                    continue; // gone while queued
                }
                w.standing.set(Standing::Granted);
                g.queued -= 1;
                g.in_flight += 1;
                return Some(w.wake);
            }
            None
        });
        let Ok(Some(wake)) = next else { return };
        match wake(Permit { _private: () }) {
            Ok(()) => return,
            // Its participant is gone: this slot goes to the next waiter.
            Err(permit) => std::mem::forget(permit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Log = Rc<RefCell<Vec<(u32, Permit)>>>;

    /// A waiter that keeps its permit in `log`.
    fn keeper(log: &Log, id: u32) -> impl FnOnce(Permit) -> Result<(), Permit> + 'static {
        let log = log.clone();
        move |p| {
            log.borrow_mut().push((id, p));
            Ok(())
        }
    }

    fn granted(e: Entry) -> Permit {
        match e {
            Entry::Granted(p) => p,
            Entry::Queued(_) => panic!("expected a grant"),
        }
    }

    fn ticket(e: Entry) -> Ticket {
        match e {
            Entry::Queued(t) => t,
            Entry::Granted(_) => panic!("expected to queue"),
        }
    }

    /// Drops every permit kept so far (outside the log's borrow: a drop may wake a keeper).
    fn drop_all(log: &Log) {
        let kept = std::mem::take(&mut *log.borrow_mut());
        drop(kept);
    }

    fn ids(log: &Log) -> Vec<u32> {
        log.borrow().iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn the_limit_is_split_over_workers_at_least_one_each() {
        for (total, workers, each) in [
            (Some(1000), 4, Some(250)),
            (Some(1000), 3, Some(333)),
            (Some(4), 1, Some(4)),
            (Some(2), 8, Some(1)),
            (Some(5), 0, Some(5)),
            (None, 4, None),
        ] {
            assert_eq!(share(total, workers), each, "{total:?} over {workers}");
        }
    }

    #[test]
    fn waiters_get_slots_in_arrival_order_as_permits_come_back() {
        configure(Some(2));
        let log: Log = Rc::default();
        let a = granted(enter(keeper(&log, 0)));
        let b = granted(enter(keeper(&log, 0)));
        let tickets: Vec<Ticket> = (1..=4).map(|i| ticket(enter(keeper(&log, i)))).collect();
        assert_eq!((in_flight(), queued()), (2, 4));
        drop(b);
        assert_eq!(ids(&log), [1]);
        drop(a);
        assert_eq!(ids(&log), [1, 2]);
        assert_eq!((in_flight(), queued()), (2, 2));
        // A newcomer queues behind the waiters even when a slot is momentarily free.
        let first = log.borrow_mut().remove(0).1;
        drop(first);
        assert_eq!(ids(&log), [2, 3]);
        let late = ticket(enter(keeper(&log, 5)));
        drop_all(&log); // both permits dropped: 4, then 5
        assert_eq!(ids(&log), [4, 5]);
        drop_all(&log);
        assert_eq!((in_flight(), queued()), (0, 0));
        // Tickets of granted waiters do nothing when dropped.
        drop(tickets);
        drop(late);
        assert_eq!((in_flight(), queued()), (0, 0));
        let _again = granted(enter(keeper(&log, 9)));
        assert_eq!(in_flight(), 1);
    }

    #[test]
    fn a_waiter_that_left_is_skipped_and_never_takes_a_slot() {
        configure(Some(1));
        let log: Log = Rc::default();
        let holder = granted(enter(keeper(&log, 0)));
        let gone = ticket(enter(keeper(&log, 1)));
        let stays = ticket(enter(keeper(&log, 2)));
        assert_eq!(queued(), 2);
        drop(gone); // stopped or aborted while queued
        assert_eq!(queued(), 1);
        drop(holder);
        assert_eq!(ids(&log), [2], "the one that left never got the slot");
        assert_eq!((in_flight(), queued()), (1, 0));
        drop(stays);
        drop_all(&log);
        assert_eq!((in_flight(), queued()), (0, 0));
    }

    #[test]
    fn a_dead_waiter_hands_its_permit_back_to_the_next_one() {
        configure(Some(1));
        let log: Log = Rc::default();
        let holder = granted(enter(keeper(&log, 0)));
        let dead_calls = Rc::new(Cell::new(0));
        let calls = dead_calls.clone();
        // A participant whose actor is gone but whose ticket was not dropped (yet).
        let _dead = ticket(enter(move |p| {
            calls.set(calls.get() + 1);
            Err(p)
        }));
        let _live = ticket(enter(keeper(&log, 2)));
        drop(holder);
        assert_eq!(dead_calls.get(), 1);
        assert_eq!(ids(&log), [2]);
        assert_eq!((in_flight(), queued()), (1, 0));
        drop_all(&log);
        assert_eq!(in_flight(), 0);
    }

    #[test]
    fn a_waker_may_drop_its_permit_at_once_without_reentrancy_trouble() {
        configure(Some(1));
        let log: Log = Rc::default();
        let holder = granted(enter(keeper(&log, 0)));
        // Dropping the permit inside the callback (a participant that has just settled).
        let _quitter = ticket(enter(|p| {
            drop(p);
            Ok(())
        }));
        let _next = ticket(enter(keeper(&log, 2)));
        drop(holder);
        assert_eq!(ids(&log), [2]);
        assert_eq!((in_flight(), queued()), (1, 0));
    }

    #[test]
    fn unbounded_grants_everyone() {
        configure(None);
        let log: Log = Rc::default();
        let permits: Vec<Permit> = (0..10_000)
            .map(|_| granted(enter(keeper(&log, 0))))
            .collect();
        assert_eq!((in_flight(), queued()), (10_000, 0));
        drop(permits);
        assert_eq!(in_flight(), 0);
    }
}
