//! One worker per arbiter (thread): starts its share of participants at their intended times,
//! measures its own lateness, and hands over what its thread recorded when the coordinator asks.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;

use crate::metrics::Metric;
use crate::metrics::recorder::{self, Interval};
use crate::participant::{self, Participant, RunContext, gate, heartbeat, registry};
use crate::scenario::OutcomeKey;

/// Participants started back to back before the scheduler yields to running ones.
const START_BATCH: usize = 64;
/// Period of the event-loop probe: a timer whose lateness is the thread's loop lag.
pub const LOOP_PROBE: std::time::Duration = std::time::Duration::from_millis(100);

/// Starts and stops the participants of one thread.
pub struct Worker {
    run: Arc<RunContext>,
    /// Plan ids of this worker's participants, in arrival order.
    ids: Vec<u32>,
    stopping: Rc<Cell<bool>>,
    /// This worker's index and the number of workers: it holds the rooms `room % of == index`.
    index: usize,
    of: usize,
    /// This thread's CPU time at the previous collection, µs.
    cpu_at_collect: Option<u64>,
    /// This thread's share of `--max-connecting` (`None`: unbounded).
    max_connecting: Option<usize>,
}

impl Worker {
    /// Worker `index` of `of`, for these participants (plan ids in arrival order), with at most
    /// `max_connecting` of them joining at once (its share of the process's bound, see
    /// [`gate::share`]; `None`: unbounded).
    pub fn new(
        run: Arc<RunContext>,
        ids: Vec<u32>,
        index: usize,
        of: usize,
        max_connecting: Option<usize>,
    ) -> Self {
        Self {
            run,
            ids,
            stopping: Rc::new(Cell::new(false)),
            index,
            of: of.max(1),
            cpu_at_collect: None,
            max_connecting,
        }
    }

    /// Which worker holds `room`: whole rooms per worker, so a room's members share a thread
    /// and its recorder's clock.
    pub fn for_room(room: u32, workers: usize) -> usize {
        room as usize % workers.max(1)
    }
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Before any participant starts: the gate is this thread's.
        gate::configure(self.max_connecting);
        ctx.run_interval(heartbeat::TICK, |act, _| {
            for (id, check) in heartbeat::due(act.run.now_us()) {
                if let Some(addr) = registry::get(id) {
                    match check {
                        heartbeat::Check::Ping => addr.do_send(participant::PingCheck),
                        heartbeat::Check::Keepalive => addr.do_send(participant::Keepalive),
                    }
                }
            }
        });
        self.cpu_at_collect = crate::metrics::cpu::thread_us();
        probe_loop(ctx, std::time::Instant::now() + LOOP_PROBE);
        let run = self.run.clone();
        let ids = std::mem::take(&mut self.ids);
        let stopping = self.stopping.clone();
        ctx.spawn(schedule(run, ids, stopping).into_actor(self));
    }
}

/// Records how late the probe due at `due` fires (the event loop's lag), then sets the next one
/// a period after it actually fired, so one long block counts once, not as a burst of late ticks.
fn probe_loop(ctx: &mut Context<Worker>, due: std::time::Instant) {
    let wait = due.saturating_duration_since(std::time::Instant::now());
    ctx.run_later(wait, move |_, ctx| {
        let now = std::time::Instant::now();
        let lag = now.saturating_duration_since(due).as_micros() as u64;
        recorder::record(|r| r.latency(Metric::LoopLag, lag));
        probe_loop(ctx, now + LOOP_PROBE);
    });
}

/// Starts each participant at its intended time; after a stop, counts the rest as aborted.
async fn schedule(run: Arc<RunContext>, ids: Vec<u32>, stopping: Rc<Cell<bool>>) {
    let mut since_yield = 0;
    for (i, &id) in ids.iter().enumerate() {
        let p = &run.plan.participants[id as usize];
        let due = run.start + p.arrival;
        if due > std::time::Instant::now() {
            actix_rt::time::sleep_until(due.into()).await;
            since_yield = 0;
        } else if since_yield >= START_BATCH {
            tokio::task::yield_now().await;
            since_yield = 0;
        }
        if stopping.get() {
            abort_unstarted(&run, &ids[i..]);
            return;
        }
        let intended = p.arrival.as_micros() as u64;
        let late = run.now_us().saturating_sub(intended);
        recorder::record(|r| r.latency(Metric::Lateness, late));
        Participant::new(run.clone(), id, intended).start();
        since_yield += 1;
    }
}

fn abort_unstarted(run: &RunContext, ids: &[u32]) {
    recorder::record(|r| {
        for &id in ids {
            let group = run.plan.participants[id as usize].group;
            let n = u64::from(run.plan.groups[group as usize].iterations);
            let expected = run.plan.groups[group as usize]
                .expect_counts
                .iter()
                .any(|(k, _)| *k == OutcomeKey::Aborted);
            *r.outcomes
                .entry((group, OutcomeKey::Aborted, expected))
                .or_default() += n;
        }
    });
}

/// Hands over what this thread recorded since the last collection.
#[derive(Debug, Message)]
#[rtype(result = "Interval")]
pub struct Collect;

impl Handler<Collect> for Worker {
    type Result = MessageResult<Collect>;

    fn handle(&mut self, _: Collect, _: &mut Self::Context) -> Self::Result {
        let mut interval = recorder::take();
        // A level, not an event count: how many wait at this thread's gate right now.
        interval.gate_queued = gate::queued() as u64;
        let now = crate::metrics::cpu::thread_us();
        if let (Some(before), Some(now)) = (self.cpu_at_collect, now) {
            interval.worker_cpu_max_us = now.saturating_sub(before);
        }
        self.cpu_at_collect = now;
        MessageResult(interval)
    }
}

/// Stop arrivals and tell running participants to leave.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopArrivals;

impl Handler<StopArrivals> for Worker {
    type Result = ();

    fn handle(&mut self, _: StopArrivals, _: &mut Self::Context) {
        self.stopping.set(true);
        for addr in registry::running() {
            addr.do_send(participant::Stop);
        }
    }
}

/// A scripted fault that acts through participants fires: each of its targets on this worker
/// gets it; targets not running here now (not started yet, or finished) count as missed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct FireFault(pub usize);

impl Handler<FireFault> for Worker {
    type Result = ();

    fn handle(&mut self, FireFault(index): FireFault, _: &mut Self::Context) {
        let plan = &self.run.plan;
        let Some(fault) = plan.faults.get(index) else {
            return;
        };
        let mut missed = 0;
        for &id in &fault.participants {
            let room = plan.participants[id as usize].room;
            if Worker::for_room(room, self.of) != self.index {
                continue;
            }
            match registry::get(id) {
                Some(addr) => addr.do_send(participant::Inject(index)),
                None => missed += 1,
            }
        }
        if missed > 0 {
            let index = fault.index;
            recorder::record(|r| r.recovery.fault(index).missed += missed);
        }
    }
}

/// End every participant still running (the grace period is over).
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct AbortAll;

impl Handler<AbortAll> for Worker {
    type Result = usize;

    fn handle(&mut self, _: AbortAll, _: &mut Self::Context) -> usize {
        self.stopping.set(true);
        let running = registry::running();
        for addr in &running {
            addr.do_send(participant::Abort);
        }
        running.len()
    }
}
