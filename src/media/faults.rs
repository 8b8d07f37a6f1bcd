//! Client-side media faults of one participant (`media_loss`, `media_delay`): shared between the
//! participant, which sets them when a scripted fault fires, and its senders and receive loops,
//! which read them per frame and per packet on the same thread.

use std::cell::Cell;
use std::rc::Rc;

/// What is scripted on a participant's media, and until when (µs on the run's clock).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaFaultState {
    /// Share of received packets dropped, 0..=1.
    pub loss: f64,
    /// Loss applies before this.
    pub loss_until_us: u64,
    /// Added delay of sent frames, µs.
    pub delay_us: u64,
    /// Delay applies to frames captured before this.
    pub delay_until_us: u64,
    /// The participant's network is down (a scripted `reset` or `blackhole`) until this: no
    /// media goes out or comes in.
    pub offline_until_us: u64,
}

/// A participant's media faults, cheap to clone into its media loops.
#[derive(Debug, Clone, Default)]
pub struct MediaFaults(Rc<Cell<MediaFaultState>>);

impl MediaFaults {
    /// Drops `share` of received packets until `until_us`.
    pub fn set_loss(&self, share: f64, until_us: u64) {
        let mut s = self.0.get();
        s.loss = share.clamp(0.0, 1.0);
        s.loss_until_us = until_us;
        self.0.set(s);
    }

    /// Delays sent frames by `delay_us` until `until_us`.
    pub fn set_delay(&self, delay_us: u64, until_us: u64) {
        let mut s = self.0.get();
        s.delay_us = delay_us;
        s.delay_until_us = until_us;
        self.0.set(s);
    }

    /// Takes the participant's media off the network until `until_us` (`reset`, `blackhole`).
    pub fn set_offline(&self, until_us: u64) {
        let mut s = self.0.get();
        s.offline_until_us = s.offline_until_us.max(until_us);
        self.0.set(s);
    }

    /// Whether the network is down at `now`: nothing is sent, everything received is lost.
    pub fn offline(&self, now: u64) -> bool {
        now < self.0.get().offline_until_us
    }

    /// The share of received packets to drop at `now` (0 when none is scripted).
    pub fn loss(&self, now: u64) -> f64 {
        let s = self.0.get();
        if now < s.loss_until_us { s.loss } else { 0.0 }
    }

    /// The delay of a frame captured at `now`, µs (0 when none is scripted).
    pub fn delay_us(&self, now: u64) -> u64 {
        let s = self.0.get();
        if now < s.delay_until_us {
            s.delay_us
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_until_their_end_and_clones_see_the_same_state() {
        let f = MediaFaults::default();
        let seen_by_a_loop = f.clone();
        assert_eq!(seen_by_a_loop.loss(0), 0.0);
        f.set_loss(0.05, 1_000);
        f.set_delay(20_000, 2_000);
        assert_eq!(seen_by_a_loop.loss(999), 0.05);
        assert_eq!(seen_by_a_loop.loss(1_000), 0.0);
        assert_eq!(seen_by_a_loop.delay_us(1_999), 20_000);
        assert_eq!(seen_by_a_loop.delay_us(2_000), 0);
        f.set_loss(7.0, 3_000);
        assert_eq!(f.loss(0), 1.0, "a share never exceeds 1");
        f.set_offline(500);
        f.set_offline(400);
        assert!(seen_by_a_loop.offline(499) && !seen_by_a_loop.offline(500));
    }
}
