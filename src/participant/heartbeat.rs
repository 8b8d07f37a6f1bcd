//! The periodic timers of every participant on this worker thread, in one heap: the dead-server
//! timer of a participant that gets pings, and the keepalive of one whose server expires silent
//! sessions (Janus). A participant registers when its timer is due, and the worker checks the
//! heap a few times a second. One small entry per participant instead of one timer future each,
//! which matters at 100,000 participants; only participants whose timer is due get a message.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How often the worker looks for due timers: the precision of the heartbeat timeout.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Which timer is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// The dead-server timer: has a ping come in time?
    Ping,
    /// Time to send the session's keepalive.
    Keepalive,
}

thread_local! {
    static DUE: RefCell<BinaryHeap<Reverse<(u64, u32, Check)>>> = const { RefCell::new(BinaryHeap::new()) };
}

/// Asks for participant `id`'s `check` at `due_us` (µs since the run started).
pub fn watch(id: u32, due_us: u64, check: Check) {
    DUE.with(|d| d.borrow_mut().push(Reverse((due_us, id, check))));
}

/// Takes the checks due by `now_us`, in time order.
pub fn due(now_us: u64) -> Vec<(u32, Check)> {
    DUE.with(|d| {
        let mut d = d.borrow_mut();
        let mut out = Vec::new();
        while d.peek().is_some_and(|Reverse((due, _, _))| *due <= now_us) {
            let Reverse((_, id, check)) = d.pop().expect("peeked");
            out.push((id, check));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_checks_come_out_in_time_order_once() {
        use Check::{Keepalive, Ping};
        watch(7, 300, Ping);
        watch(3, 100, Keepalive);
        watch(5, 200, Ping);
        assert_eq!(due(50), []);
        assert_eq!(due(250), [(3, Keepalive), (5, Ping)]);
        assert_eq!(due(250), []);
        watch(9, 260, Keepalive);
        assert_eq!(due(1000), [(9, Keepalive), (7, Ping)]);
    }
}
