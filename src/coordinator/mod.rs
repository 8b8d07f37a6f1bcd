//! The coordinator: spreads the plan's participants over worker threads (whole rooms per worker),
//! collects their recorders once a second into totals and a time series, shows progress, and ends
//! the run when every lifecycle has an outcome, at the deadline, or on Ctrl-C.

pub mod faults;
pub mod progress;
pub mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::future::join_all;
use tokio::sync::oneshot;

use crate::metrics::aggregate::Aggregate;
use crate::participant::RunContext;
use faults::FaultRecord;
use progress::Progress;
use worker::{AbortAll, Collect, FireFault, StopArrivals, Worker};

/// How often workers' recorders are collected (the time series resolution).
pub const TICK: Duration = Duration::from_secs(1);

/// Why a run ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Every lifecycle finished.
    Completed,
    /// The scenario's deadline passed first.
    Deadline,
    /// Ctrl-C.
    Interrupted,
    /// A threshold marked `abort_on_fail` failed for good.
    ThresholdFailed,
}

/// What a finished run hands back.
#[derive(Debug)]
pub struct RunOutput {
    /// Everything measured.
    pub aggregate: Aggregate,
    /// Why it ended.
    pub end: EndReason,
    /// Wall time from start to end.
    pub elapsed: Duration,
    /// Worker threads used.
    pub workers: usize,
    /// What became of each scripted fault, by plan order.
    pub faults: Vec<FaultRecord>,
}

/// Options of the coordinator itself.
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// Worker threads (arbiters).
    pub workers: usize,
    /// Hard end of the run.
    pub deadline: Duration,
    /// Time participants get to leave after a stop.
    pub leave_grace: Duration,
    /// Progress display.
    pub progress: Progress,
    /// Thresholds that end the run as soon as they fail for good.
    pub abort_on_fail: Vec<crate::threshold::Threshold>,
    /// Participants of this process joining at once, at most (`None`: unbounded); each worker
    /// gets its share ([`crate::participant::gate::share`]), so a connect storm cannot
    /// overflow the target's listen backlog.
    pub max_connecting: Option<usize>,
}

/// Runs the plan to its end on the current actix system.
pub async fn run(run: Arc<RunContext>, options: CoordinatorOptions) -> RunOutput {
    let (tx, rx) = oneshot::channel();
    let arbiters: Vec<Arbiter> = (0..options.workers.max(1))
        .map(|_| Arbiter::new())
        .collect();
    let of = arbiters.len();
    let per_worker = crate::participant::gate::share(options.max_connecting, of);
    let mut shares: Vec<Vec<u32>> = vec![Vec::new(); of];
    for p in run.plan.active() {
        shares[Worker::for_room(p.room, of)].push(p.id);
    }
    let workers: Vec<Addr<Worker>> = arbiters
        .iter()
        .zip(shares)
        .enumerate()
        .map(|(index, (arbiter, ids))| {
            let run = run.clone();
            Worker::start_in_arbiter(&arbiter.handle(), move |_| {
                Worker::new(run, ids, index, of, per_worker)
            })
        })
        .collect();
    let fault_api = crate::fault_api::FaultApi::new(&run.base_url, run.keys.clone()).ok();
    // A clock that starts ahead (shards' common start): the workers are up and waiting for it.
    actix_rt::time::sleep_until(run.start.into()).await;
    Coordinator {
        faults: run.plan.faults.iter().map(FaultRecord::pending).collect(),
        fault_api,
        lifecycles: run.plan.lifecycles(),
        run,
        workers,
        options,
        aggregate: Aggregate::default(),
        phase: Phase::Running,
        end: EndReason::Completed,
        collecting: false,
        cpu_at_tick: crate::metrics::cpu::process_us(),
        started: Instant::now(),
        done: Some(tx),
    }
    .start();
    let output = rx.await.expect("the coordinator always reports");
    for a in arbiters {
        a.stop();
    }
    output
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Arrivals stopped, participants leaving; abort at this instant.
    Stopping {
        abort_at: Instant,
    },
    /// Everything aborted; waiting for the last outcomes until this instant.
    Draining {
        give_up_at: Instant,
    },
}

struct Coordinator {
    run: Arc<RunContext>,
    workers: Vec<Addr<Worker>>,
    options: CoordinatorOptions,
    aggregate: Aggregate,
    lifecycles: u64,
    phase: Phase,
    end: EndReason,
    collecting: bool,
    /// The process's CPU time at the previous collection, µs.
    cpu_at_tick: Option<u64>,
    started: Instant,
    done: Option<oneshot::Sender<RunOutput>>,
    /// One record per planned fault.
    faults: Vec<FaultRecord>,
    /// The target's management API (server faults).
    fault_api: Option<crate::fault_api::FaultApi>,
}

/// Ctrl-C was pressed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Interrupt;

impl Actor for Coordinator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
        for (i, f) in self.run.plan.faults.iter().enumerate() {
            let due = (self.run.start + f.at).saturating_duration_since(Instant::now());
            ctx.run_later(due, move |act, ctx| act.fire(i, ctx));
        }
        let deadline = self.options.deadline;
        ctx.run_later(deadline, |act, ctx| {
            if act.phase == Phase::Running {
                act.end = EndReason::Deadline;
                act.stop_arrivals(ctx);
            }
        });
        let me = ctx.address();
        actix_rt::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                me.do_send(Interrupt);
            }
        });
    }
}

impl Handler<Interrupt> for Coordinator {
    type Result = ();

    fn handle(&mut self, _: Interrupt, ctx: &mut Self::Context) {
        match self.phase {
            Phase::Running => {
                self.end = EndReason::Interrupted;
                self.options.progress.note(
                    "interrupted: arrivals stopped, participants leaving (Ctrl-C again ends now)",
                );
                self.stop_arrivals(ctx);
            }
            // A second Ctrl-C: skip the rest of the grace period.
            Phase::Stopping { .. } => self.abort_all(ctx),
            Phase::Draining { .. } => {}
        }
        let me = ctx.address();
        actix_rt::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                me.do_send(Interrupt);
            }
        });
    }
}

impl Coordinator {
    /// Fires planned fault `i` (index into the plan's faults).
    fn fire(&mut self, i: usize, ctx: &mut Context<Self>) {
        if self.phase != Phase::Running {
            self.faults[i].result = "skipped: the run was already stopping".into();
            return;
        }
        let fault = self.run.plan.faults[i].clone();
        self.run.fault_fired();
        let record = &mut self.faults[i];
        record.fired_s = Some(self.run.start.elapsed().as_secs_f64());
        self.options.progress.note(&format!(
            "fault {} `{}` fires",
            fault.index,
            fault.kind.name()
        ));
        if faults::through_participants(fault.kind) {
            for w in &self.workers {
                w.do_send(FireFault(i));
            }
            record.result = format!("sent to {} participants", fault.participants.len());
            record.ok = true;
            return;
        }
        let call: std::pin::Pin<Box<dyn Future<Output = Result<String, String>>>> =
            if let Some(control) = self.run.janus.clone() {
                let numbers: Vec<u64> = fault
                    .rooms
                    .iter()
                    .map(|&r| self.run.room_number(r))
                    .collect();
                Box::pin(async move { faults::fire_on_janus(&control, &fault, &numbers).await })
            } else {
                let Some(api) = self.fault_api.clone() else {
                    record.result =
                        "failed: the target's URL cannot be used for management calls".into();
                    return;
                };
                let (app, rooms) = (self.run.app.clone(), self.run.plan.rooms.clone());
                Box::pin(async move { faults::fire_on_server(&api, &fault, &app, &rooms).await })
            };
        ctx.spawn(call.into_actor(self).map(move |res, act, _| {
            let record = &mut act.faults[i];
            match res {
                Ok(what) => {
                    record.result = what;
                    record.ok = true;
                }
                Err(why) => {
                    act.options
                        .progress
                        .note(&format!("fault {} failed: {why}", record.index));
                    record.result = format!("failed: {why}");
                }
            }
        }));
    }

    fn stop_arrivals(&mut self, _ctx: &mut Context<Self>) {
        self.phase = Phase::Stopping {
            abort_at: Instant::now() + self.options.leave_grace,
        };
        for w in &self.workers {
            w.do_send(StopArrivals);
        }
    }

    fn abort_all(&mut self, _ctx: &mut Context<Self>) {
        self.phase = Phase::Draining {
            give_up_at: Instant::now() + Duration::from_secs(5),
        };
        for w in &self.workers {
            w.do_send(AbortAll);
        }
    }

    /// The process's CPU time since the previous collection, µs.
    fn cpu_since_last(&mut self) -> Option<u64> {
        let now = crate::metrics::cpu::process_us();
        let used = match (self.cpu_at_tick, now) {
            (Some(before), Some(now)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        self.cpu_at_tick = now;
        used
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.collecting || self.done.is_none() {
            return;
        }
        self.collecting = true;
        let asks = join_all(self.workers.iter().map(|w| w.send(Collect)));
        ctx.spawn(asks.into_actor(self).map(|answers, act, ctx| {
            act.collecting = false;
            let intervals = answers.into_iter().filter_map(Result::ok).collect();
            let t = act.run.start.elapsed().as_secs_f64();
            let cpu = act.cpu_since_last();
            act.aggregate.absorb_with_cpu(t, intervals, cpu);
            act.options.progress.update(
                &act.aggregate,
                act.lifecycles,
                &act.run.plan,
                act.options.deadline,
            );
            act.check_end(ctx);
        }));
    }

    fn check_end(&mut self, ctx: &mut Context<Self>) {
        let ended = self.aggregate.total.ended();
        let now = Instant::now();
        if ended >= self.lifecycles {
            return self.finish(ctx);
        }
        if self.phase == Phase::Running && !self.options.abort_on_fail.is_empty() {
            let observed = crate::threshold::Observations::from_aggregate(&self.aggregate);
            if let Some(t) = self
                .options
                .abort_on_fail
                .iter()
                .find(|t| t.failed_for_good(&observed))
            {
                self.options.progress.note(&format!(
                    "threshold `{}` failed: stopping the run (abort_on_fail)",
                    t.source
                ));
                self.end = EndReason::ThresholdFailed;
                self.stop_arrivals(ctx);
            }
        }
        match self.phase {
            Phase::Running => {}
            Phase::Stopping { abort_at } if now >= abort_at => self.abort_all(ctx),
            Phase::Stopping { .. } => {}
            Phase::Draining { give_up_at } if now >= give_up_at => {
                // Cannot happen unless an actor died without settling; the summary's
                // conservation check shows the gap rather than hiding it.
                tracing::error!(
                    ended,
                    scheduled = self.lifecycles,
                    "participants did not settle"
                );
                self.finish(ctx);
            }
            Phase::Draining { .. } => {}
        }
    }

    /// One last collection (participants record their final state changes as they stop), then
    /// the output goes to [`run`].
    fn finish(&mut self, ctx: &mut Context<Self>) {
        let Some(done) = self.done.take() else {
            return;
        };
        let elapsed = self.started.elapsed();
        let asks = join_all(self.workers.iter().map(|w| w.send(Collect)));
        let settle = actix_rt::time::sleep(Duration::from_millis(50));
        let last = async move {
            settle.await;
            asks.await
        };
        ctx.spawn(last.into_actor(self).map(move |answers, act, ctx| {
            let intervals = answers.into_iter().filter_map(Result::ok).collect();
            let t = act.run.start.elapsed().as_secs_f64();
            let cpu = act.cpu_since_last();
            act.aggregate.absorb_with_cpu(t, intervals, cpu);
            act.options.progress.finish(&act.aggregate, act.lifecycles);
            let output = RunOutput {
                aggregate: std::mem::take(&mut act.aggregate),
                end: act.end,
                elapsed,
                workers: act.workers.len(),
                faults: std::mem::take(&mut act.faults),
            };
            let _ = done.send(output);
            ctx.stop();
        }));
    }
}
