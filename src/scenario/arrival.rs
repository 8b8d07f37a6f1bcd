//! Reading a group's `arrival` block, and the arithmetic validation needs about it: how many
//! arrivals phases can produce and when the last participant arrives.

use std::time::Duration;

use super::model::{Arrival, Phase};
use super::reader::{Field, Reader};

/// The arrival models, as written in YAML. To add one: a key here, a branch in [`read`], a variant
/// in [`Arrival`], and its entry in the schema.
pub(crate) const KINDS: &[&str] = &["burst", "ramp", "constant", "phases", "closed"];

/// Reads `arrival: { <kind>: {...} }`.
pub(crate) fn read(r: &mut Reader, f: &Field) -> Option<Arrival> {
    let map = r.map(f, Some(KINDS))?;
    let (kind, body) = map.exactly_one(r, KINDS)?;
    match kind {
        "burst" => {
            let m = r.map_or_empty(&body, &["at"])?;
            let at = offset(r, m.get("at"))?;
            Some(Arrival::Burst { at })
        }
        "ramp" => {
            let m = r.map(&body, Some(&["over", "start"]))?;
            let over = m
                .required(r, "over", "a duration such as 20s")
                .and_then(|f| r.positive_duration(&f));
            let start = offset(r, m.get("start"));
            Some(Arrival::Ramp {
                start: start?,
                over: over?,
            })
        }
        "constant" => {
            let m = r.map(&body, Some(&["rate", "start", "poisson"]))?;
            let rate = m
                .required(r, "rate", "a rate such as 100/s")
                .and_then(|f| r.rate(&f, false));
            let start = offset(r, m.get("start"));
            let poisson = match m.get("poisson") {
                Some(f) => r.boolean(&f),
                None => Some(false),
            };
            Some(Arrival::Constant {
                start: start?,
                rate: rate?,
                poisson: poisson?,
            })
        }
        "phases" => {
            let m = r.map(&body, Some(&["start", "steps"]))?;
            let start = offset(r, m.get("start"));
            let steps = m.required(r, "steps", "a list of phases")?;
            let items = r.seq(&steps, "a list of phases")?;
            if items.is_empty() {
                r.problem(steps.mark(), &steps.path, "needs at least one phase");
                return None;
            }
            let count = items.len();
            let phases: Vec<Option<Phase>> = items.iter().map(|item| phase(r, item)).collect();
            let phases: Vec<Phase> = phases.into_iter().flatten().collect();
            (phases.len() == count).then_some(())?;
            Some(Arrival::Phases {
                start: start?,
                phases,
            })
        }
        _ => {
            let m = r.map(&body, Some(&["iterations", "ramp", "start"]))?;
            let iterations = m
                .required(
                    r,
                    "iterations",
                    "how many times each slot runs the script, at least 1",
                )
                .and_then(|f| r.uint(&f, 1, u64::from(u32::MAX)));
            let ramp = offset(r, m.get("ramp"));
            let start = offset(r, m.get("start"));
            Some(Arrival::Closed {
                start: start?,
                ramp: ramp?,
                iterations: u32::try_from(iterations?).ok()?,
            })
        }
    }
}

/// An optional offset from the run start (default 0s).
fn offset(r: &mut Reader, f: Option<Field>) -> Option<Duration> {
    match f {
        Some(f) => r.duration(&f),
        None => Some(Duration::ZERO),
    }
}

fn phase(r: &mut Reader, f: &Field) -> Option<Phase> {
    let m = r.map(f, Some(&["for", "rate", "ramp"]))?;
    let duration = m
        .required(r, "for", "the phase length, such as 30s")
        .and_then(|f| r.positive_duration(&f));
    let rates = match m.exactly_one(r, &["rate", "ramp"]) {
        Some(("rate", f)) => r.rate(&f, true).map(|v| (v, v)),
        Some((_, f)) => {
            let ramp = r.map(&f, Some(&["from", "to"]));
            ramp.and_then(|ramp| {
                let from = ramp
                    .required(r, "from", "the rate at the phase start")
                    .and_then(|f| r.rate(&f, true));
                let to = ramp
                    .required(r, "to", "the rate at the phase end")
                    .and_then(|f| r.rate(&f, true));
                Some((from?, to?))
            })
        }
        None => None,
    };
    let (from_rate, to_rate) = rates?;
    Some(Phase {
        duration: duration?,
        from_rate,
        to_rate,
    })
}

/// How many arrivals the phases produce in all (the plan's own arithmetic, so validation and
/// the schedule cannot disagree).
pub(crate) use crate::plan::arrival::phases_capacity;

/// When the last of `count` participants (slots, for the closed model) arrives.
pub(crate) fn latest_offset(arrival: &Arrival, count: u64) -> Duration {
    let secs = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX);
    match arrival {
        Arrival::Burst { at } => *at,
        Arrival::Ramp { start, over } => start.saturating_add(*over),
        Arrival::Closed { start, ramp, .. } => start.saturating_add(*ramp),
        Arrival::Constant { start, rate, .. } => {
            start.saturating_add(secs(count.saturating_sub(1) as f64 / rate))
        }
        Arrival::Phases { start, phases } => start.saturating_add(secs(
            crate::plan::arrival::phase_time(phases, count.saturating_sub(1) as f64),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(secs: u64, from: f64, to: f64) -> Phase {
        Phase {
            duration: Duration::from_secs(secs),
            from_rate: from,
            to_rate: to,
        }
    }

    #[test]
    fn phase_arithmetic() {
        let phases = [phase(10, 50.0, 50.0), phase(10, 0.0, 20.0)];
        assert_eq!(phases_capacity(&phases), 500.0 + 100.0);
        let ramp = Arrival::Phases {
            start: Duration::from_secs(2),
            phases: phases.to_vec(),
        };
        // The 526th arrival (index 525) of 50/s for 10 s then 0 → 20/s: 5 s into the ramp.
        assert_eq!(latest_offset(&ramp, 526), Duration::from_secs(17));
        let constant = Arrival::Constant {
            start: Duration::from_secs(1),
            rate: 10.0,
            poisson: false,
        };
        assert_eq!(latest_offset(&constant, 101), Duration::from_secs(11));
    }
}
