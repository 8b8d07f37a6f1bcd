//! Live progress: a redrawn status line on a terminal, one plain line every few seconds otherwise
//! (CI logs), or nothing.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use crate::metrics::aggregate::Aggregate;
use crate::plan::Plan;

/// Plain lines are printed this often when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A status line redrawn in place.
    Terminal,
    /// A line every few seconds.
    Lines,
    /// Nothing.
    Quiet,
    /// One JSON object per collection on stdout (`{"progress":{...}}`), for a parent process
    /// (`run --shards N`) that combines its shards' progress.
    Json,
}

/// The progress display (on stderr, so stdout stays clean for the summary).
#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
    last_line: Option<Instant>,
    drawn: bool,
}

impl Progress {
    /// A display in `mode`.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            last_line: None,
            drawn: false,
        }
    }

    /// Terminal mode when stderr is a terminal, lines otherwise; `quiet` silences both.
    pub fn auto(quiet: bool) -> Self {
        Self::new(if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines
        })
    }

    /// Shows the state after a collection.
    pub fn update(&mut self, agg: &Aggregate, lifecycles: u64, plan: &Plan, deadline: Duration) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => {
                let line = json_line(agg, lifecycles);
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            _ => self.show(|| status_line(agg, lifecycles, plan, deadline)),
        }
    }

    /// Shows a status line made by `line`: redrawn on a terminal, every few seconds otherwise.
    pub fn show(&mut self, line: impl FnOnce() -> String) {
        let line = match self.mode {
            Mode::Quiet | Mode::Json => return,
            Mode::Lines => {
                if self.last_line.is_some_and(|t| t.elapsed() < LINE_EVERY) {
                    return;
                }
                self.last_line = Some(Instant::now());
                line()
            }
            Mode::Terminal => line(),
        };
        let mut err = std::io::stderr().lock();
        let _ = match self.mode {
            Mode::Terminal => write!(err, "\r\x1b[2K{line}"),
            _ => writeln!(err, "{line}"),
        };
        self.drawn = self.mode == Mode::Terminal;
        let _ = err.flush();
    }

    /// A one-off message (keeps the status line intact on a terminal).
    pub fn note(&mut self, text: &str) {
        if matches!(self.mode, Mode::Quiet | Mode::Json) {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(err, "\r\x1b[2K");
            self.drawn = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// Ends the display with the final counts.
    pub fn finish(&mut self, agg: &Aggregate, lifecycles: u64) {
        if matches!(self.mode, Mode::Quiet | Mode::Json) {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = writeln!(err);
            self.drawn = false;
        }
        let _ = writeln!(
            err,
            "run ended: {}/{} lifecycles have an outcome",
            agg.total.ended(),
            lifecycles
        );
    }
}

/// One shard's progress, as `--progress-json` prints it: totals so far and the states now.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ShardProgress {
    /// Seconds since the run started.
    pub t: f64,
    /// Lifecycles started.
    pub started: u64,
    /// Lifecycles with an outcome.
    pub ended: u64,
    /// Lifecycles scheduled.
    pub lifecycles: u64,
    /// Joins accepted.
    pub joins: u64,
    /// Join refusals.
    pub join_errors: u64,
    /// Participants per state now.
    pub states: std::collections::BTreeMap<String, i64>,
}

/// The `{"progress":{...}}` line of `--progress-json`.
fn json_line(agg: &Aggregate, lifecycles: u64) -> String {
    let p = ShardProgress {
        t: agg.series.last().map_or(0.0, |r| r.t),
        started: agg.total.started,
        ended: agg.total.ended(),
        lifecycles,
        joins: agg.total.join_answers.get(&0).copied().unwrap_or(0),
        join_errors: agg
            .total
            .join_answers
            .iter()
            .filter(|(c, _)| **c != 0)
            .map(|(_, n)| n)
            .sum(),
        states: agg
            .series
            .last()
            .map(|r| r.states.clone())
            .unwrap_or_default(),
    };
    serde_json::json!({ "progress": p }).to_string()
}

/// `[ 12s/60s] ramp 40% | CONNECTING 12 CONNECTED 480 | joins/s 25 | join p99 3.1ms | errors 10011×20`
pub fn status_line(agg: &Aggregate, lifecycles: u64, plan: &Plan, deadline: Duration) -> String {
    let Some(row) = agg.series.last() else {
        return String::from("starting");
    };
    let arrived = agg.total.started;
    let arrivals = plan.active().count() as u64;
    let phase = if arrived < arrivals {
        format!("arrivals {arrived}/{arrivals}")
    } else {
        format!("ended {}/{lifecycles}", agg.total.ended())
    };
    let states: Vec<String> = row
        .states
        .iter()
        .filter(|(name, n)| **n > 0 && **name != "DISCONNECTED")
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let p99 = row
        .latency
        .get("join")
        .map_or("-".to_string(), |l| format_us(l.p99));
    let mut errors: Vec<String> = agg
        .total
        .join_answers
        .iter()
        .filter(|(c, _)| **c != 0)
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    errors.extend(
        agg.total
            .server_disconnects
            .iter()
            .map(|(c, n)| format!("{c}×{n}")),
    );
    let failures: u64 = agg.total.failures.values().sum();
    if failures > 0 {
        errors.push(format!("transport×{failures}"));
    }
    format!(
        "[{:>4.0}s/{}s] {phase} | {} | joins/s {} | join p99 {p99} | errors {}",
        row.t,
        deadline.as_secs(),
        if states.is_empty() {
            "-".to_string()
        } else {
            states.join(" ")
        },
        row.joins,
        if errors.is_empty() {
            "0".to_string()
        } else {
            errors.join(" ")
        }
    )
}

pub use crate::metrics::format_us;
