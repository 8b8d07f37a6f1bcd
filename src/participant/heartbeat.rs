//! The dead-server timers of every participant on this worker thread, in one heap: a participant
//! that gets pings registers when its timer would fire, and the worker checks the heap a few
//! times a second. One entry (12 bytes) per participant instead of one timer future each, which
//! matters at 100,000 participants; only participants whose timer is due get a message.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How often the worker looks for due timers: the precision of the heartbeat timeout.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(100);

thread_local! {
    static DUE: RefCell<BinaryHeap<Reverse<(u64, u32)>>> = const { RefCell::new(BinaryHeap::new()) };
}

/// Asks for participant `id` to be checked at `due_us` (µs since the run started).
pub fn watch(id: u32, due_us: u64) {
    DUE.with(|d| d.borrow_mut().push(Reverse((due_us, id))));
}

/// Takes the participants whose check is due by `now_us`.
pub fn due(now_us: u64) -> Vec<u32> {
    DUE.with(|d| {
        let mut d = d.borrow_mut();
        let mut out = Vec::new();
        while d.peek().is_some_and(|Reverse((due, _))| *due <= now_us) {
            out.push(d.pop().expect("peeked").0.1);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_checks_come_out_in_time_order_once() {
        watch(7, 300);
        watch(3, 100);
        watch(5, 200);
        assert_eq!(due(50), Vec::<u32>::new());
        assert_eq!(due(250), [3, 5]);
        assert_eq!(due(250), Vec::<u32>::new());
        watch(9, 260);
        assert_eq!(due(1000), [9, 7]);
    }
}
