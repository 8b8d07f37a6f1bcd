//! Arrival offsets for each arrival model: pure functions of the model, the count and the seed.
//!
//! Open models give every participant an *intended* start time fixed before the run, so latency
//! is measured from when the participant should have started, not from when a busy generator got
//! round to it (no coordinated omission).

use std::time::Duration;

use super::rng::SeededRng;
use crate::scenario::{Arrival, Phase};

/// The `n` arrival offsets (from run start) of a group, in ascending order. For the closed model
/// these are the slot start times.
pub fn offsets(arrival: &Arrival, n: usize, rng: &mut SeededRng) -> Vec<Duration> {
    let secs = Duration::from_secs_f64;
    match arrival {
        Arrival::Burst { at } => vec![*at; n],
        Arrival::Ramp { start, over }
        | Arrival::Closed {
            start, ramp: over, ..
        } => (0..n)
            .map(|i| *start + over.mul_f64(i as f64 / n as f64))
            .collect(),
        Arrival::Constant {
            start,
            rate,
            poisson: false,
        } => (0..n).map(|i| *start + secs(i as f64 / rate)).collect(),
        Arrival::Constant {
            start,
            rate,
            poisson: true,
        } => {
            let mut t = 0.0;
            (0..n)
                .map(|i| {
                    if i > 0 {
                        t += rng.exponential(1.0 / rate);
                    }
                    *start + secs(t)
                })
                .collect()
        }
        Arrival::Phases { start, phases } => (0..n)
            .map(|i| *start + secs(phase_time(phases, i as f64)))
            .collect(),
    }
}

/// How many arrivals `phases` can produce: the integral of their rate.
pub fn phases_capacity(phases: &[Phase]) -> f64 {
    phases
        .iter()
        .map(|p| p.duration.as_secs_f64() * (p.from_rate + p.to_rate) / 2.0)
        .sum()
}

/// The time (seconds from the first phase's start) at which the cumulative arrival count reaches
/// `k`: the inverse of the integrated rate, piecewise quadratic.
pub fn phase_time(phases: &[Phase], k: f64) -> f64 {
    let mut elapsed = 0.0;
    let mut before = 0.0;
    for p in phases {
        let d = p.duration.as_secs_f64();
        let in_phase = d * (p.from_rate + p.to_rate) / 2.0;
        if k < before + in_phase || std::ptr::eq(p, phases.last().expect("non-empty")) {
            let want = k - before;
            let (a, b) = (p.from_rate, p.to_rate);
            let tau = if (b - a).abs() < 1e-12 {
                if a > 0.0 { want / a } else { 0.0 }
            } else {
                let slope = (b - a) / d;
                // slope/2·τ² + a·τ − want = 0, the root in [0, d].
                (-a + (a * a + 2.0 * slope * want).max(0.0).sqrt()) / slope
            };
            return elapsed + tau.clamp(0.0, d);
        }
        elapsed += d;
        before += in_phase;
    }
    elapsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }
    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn burst_ramp_constant_and_closed() {
        let mut rng = SeededRng::new(1, 0);
        let burst = offsets(&Arrival::Burst { at: s(2) }, 3, &mut rng);
        assert_eq!(burst, vec![s(2); 3]);
        let ramp = offsets(
            &Arrival::Ramp {
                start: s(1),
                over: s(4),
            },
            4,
            &mut rng,
        );
        assert_eq!(
            ramp.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            [1000, 2000, 3000, 4000]
        );
        let constant = Arrival::Constant {
            start: s(0),
            rate: 4.0,
            poisson: false,
        };
        let c = offsets(&constant, 5, &mut rng);
        assert_eq!(
            c.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            [0, 250, 500, 750, 1000]
        );
        let closed = Arrival::Closed {
            start: s(0),
            ramp: s(2),
            iterations: 3,
        };
        let c = offsets(&closed, 2, &mut rng);
        assert_eq!(c.iter().map(|d| ms(*d)).collect::<Vec<_>>(), [0, 1000]);
    }

    #[test]
    fn poisson_is_seeded_ascending_and_has_the_right_rate() {
        let a = Arrival::Constant {
            start: s(0),
            rate: 100.0,
            poisson: true,
        };
        let x = offsets(&a, 10_000, &mut SeededRng::new(5, 1));
        let y = offsets(&a, 10_000, &mut SeededRng::new(5, 1));
        assert_eq!(x, y);
        assert!(x.windows(2).all(|w| w[0] <= w[1]));
        let span = x.last().unwrap().as_secs_f64();
        assert!(
            (span - 100.0).abs() < 5.0,
            "10,000 arrivals at 100/s took {span} s"
        );
        let z = offsets(&a, 10_000, &mut SeededRng::new(6, 1));
        assert_ne!(x, z);
    }

    #[test]
    fn phases_follow_the_integrated_rate() {
        // 10 s at 10/s (100 arrivals), then a ramp 10/s → 30/s over 10 s (200 arrivals).
        let phases = vec![
            Phase {
                duration: s(10),
                from_rate: 10.0,
                to_rate: 10.0,
            },
            Phase {
                duration: s(10),
                from_rate: 10.0,
                to_rate: 30.0,
            },
        ];
        assert_eq!(phases_capacity(&phases), 300.0);
        let a = Arrival::Phases {
            start: s(5),
            phases,
        };
        let x = offsets(&a, 300, &mut SeededRng::new(1, 0));
        assert_eq!(ms(x[0]), 5000);
        assert_eq!(ms(x[10]), 6000);
        assert_eq!(ms(x[100]), 15_000, "the ramp starts at 15 s");
        // Within the ramp: Λ(τ) = 10τ + τ², so 100 more arrivals need τ = (−10 + √500)/2 ≈ 6.18 s.
        assert_eq!(ms(x[200]), 15_000 + 6180);
        assert!(x.windows(2).all(|w| w[0] <= w[1]));
        assert!(ms(*x.last().unwrap()) <= 25_000);
    }

    #[test]
    fn phase_time_inverts_rising_falling_and_paused_phases() {
        let p = |secs, from, to| Phase {
            duration: s(secs),
            from_rate: from,
            to_rate: to,
        };
        let phases = [p(10, 50.0, 50.0), p(5, 0.0, 0.0), p(10, 0.0, 20.0)];
        assert_eq!(phase_time(&phases, 250.0), 5.0);
        // The pause adds 5 s; then 0 → 20/s gives t² arrivals by t: 25 more take 5 s.
        assert!((phase_time(&phases, 525.0) - 20.0).abs() < 1e-9);
        // A falling ramp 20 → 0 over 10 s: 20t − t² = 75 → t = 5.
        assert!((phase_time(&[p(10, 20.0, 0.0)], 75.0) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn a_phase_starting_at_zero_rate_still_places_arrivals() {
        let phases = vec![Phase {
            duration: s(10),
            from_rate: 0.0,
            to_rate: 20.0,
        }];
        let x = offsets(
            &Arrival::Phases {
                start: s(0),
                phases,
            },
            100,
            &mut SeededRng::new(1, 0),
        );
        // Λ(τ) = τ², so the k-th arrival is at √k s.
        assert_eq!(ms(x[25]), 5000);
        assert_eq!(ms(x[81]), 9000);
    }
}
