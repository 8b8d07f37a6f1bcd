//! The participants running on this worker thread, so the worker can stop them at the deadline
//! or on Ctrl-C without a central list (and without a lock: each thread has its own).

use std::cell::RefCell;
use std::collections::HashMap;

use actix::Addr;

use super::actor::Participant;

thread_local! {
    static RUNNING: RefCell<HashMap<u32, Addr<Participant>>> = RefCell::new(HashMap::new());
}

/// Called by a participant when it starts.
pub fn register(id: u32, addr: Addr<Participant>) {
    RUNNING.with(|r| r.borrow_mut().insert(id, addr));
}

/// Called by a participant when it stops.
pub fn unregister(id: u32) {
    RUNNING.with(|r| r.borrow_mut().remove(&id));
}

/// The participant `id` if it runs on this thread.
pub fn get(id: u32) -> Option<Addr<Participant>> {
    RUNNING.with(|r| r.borrow().get(&id).cloned())
}

/// Addresses of the participants running on this thread.
pub fn running() -> Vec<Addr<Participant>> {
    RUNNING.with(|r| r.borrow().values().cloned().collect())
}
