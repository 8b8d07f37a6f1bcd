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
        let line = match self.mode {
            Mode::Quiet => return,
            Mode::Lines => {
                if self.last_line.is_some_and(|t| t.elapsed() < LINE_EVERY) {
                    return;
                }
                self.last_line = Some(Instant::now());
                status_line(agg, lifecycles, plan, deadline)
            }
            Mode::Terminal => status_line(agg, lifecycles, plan, deadline),
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
        if self.mode == Mode::Quiet {
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
        if self.mode == Mode::Quiet {
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

/// Microseconds as a short human figure: `850µs`, `3.1ms`, `2.40s`.
pub fn format_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}
