//! Client-side faults on one participant's network: a reset, a blackhole (nothing moves, new
//! connections fail), or frames held back. Kept in a box that exists only while a fault is
//! scripted on the participant, so participants that are never hit pay one pointer.

use std::collections::VecDeque;
use std::time::Duration;

use actix::Message;

use super::link::LinkEvent;

/// Tells a participant that scripted fault `0` (index into the plan's faults) fires now.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Inject(pub usize);

/// The state of a participant's network while faults are scripted on it.
#[derive(Default)]
pub struct NetFaults {
    /// New connections fail until then (µs since run start).
    pub offline_until_us: u64,
    /// Received socket events are held back by `delay` until then (µs since run start).
    pub delay_until_us: u64,
    /// How long each event is held back.
    pub delay: Duration,
    /// Events held back, each with the time it is due (µs since run start), in arrival order.
    pub held: VecDeque<(u64, LinkEvent)>,
    /// A release of held events is scheduled.
    pub release_armed: bool,
}

impl NetFaults {
    /// Whether the network is down at `now` (connection attempts fail at once).
    pub fn offline(&self, now: u64) -> bool {
        now < self.offline_until_us
    }

    /// Whether an event arriving at `now` must wait: a delay is active, or earlier events still
    /// wait (order is kept).
    pub fn holds(&self, now: u64) -> bool {
        now < self.delay_until_us || !self.held.is_empty()
    }

    /// Holds `event`, due `delay` after `now` (never before an earlier one).
    pub fn hold(&mut self, now: u64, event: LinkEvent) {
        let due = if now < self.delay_until_us {
            now + self.delay.as_micros() as u64
        } else {
            now
        };
        let due = self.held.back().map_or(due, |(last, _)| due.max(*last));
        self.held.push_back((due, event));
    }

    /// The events due by `now`, in order.
    pub fn due(&mut self, now: u64) -> Vec<LinkEvent> {
        let mut out = Vec::new();
        while self.held.front().is_some_and(|(due, _)| *due <= now) {
            out.push(self.held.pop_front().expect("checked").1);
        }
        out
    }

    /// When the next held event is due, if any.
    pub fn next_due(&self) -> Option<u64> {
        self.held.front().map(|(due, _)| *due)
    }

    /// Nothing scripted any more at `now`: the box can go.
    pub fn is_idle(&self, now: u64) -> bool {
        !self.offline(now) && now >= self.delay_until_us && self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    fn text(event: &LinkEvent) -> String {
        match event {
            LinkEvent::Frame(WsMessage::Text(t)) => t.to_string(),
            _ => "?".into(),
        }
    }

    #[test]
    fn held_events_keep_their_order_and_release_when_due() {
        let mut n = NetFaults {
            delay_until_us: 1_000,
            delay: Duration::from_micros(300),
            ..Default::default()
        };
        assert!(n.holds(0) && !n.offline(0));
        n.hold(100, LinkEvent::Frame(WsMessage::text("a")));
        n.hold(200, LinkEvent::Frame(WsMessage::text("b")));
        // After the delay window, an event still waits behind earlier ones, but not longer.
        assert!(n.holds(1_100));
        n.hold(1_100, LinkEvent::Frame(WsMessage::text("c")));
        assert_eq!(n.next_due(), Some(400));
        assert!(n.due(399).is_empty());
        let got: Vec<String> = n.due(500).iter().map(text).collect();
        assert_eq!(got, ["a", "b"]);
        let got: Vec<String> = n.due(1_100).iter().map(text).collect();
        assert_eq!(got, ["c"]);
        assert!(n.is_idle(1_100));
    }

    #[test]
    fn offline_until_the_end() {
        let n = NetFaults {
            offline_until_us: 500,
            ..Default::default()
        };
        assert!(n.offline(499));
        assert!(!n.offline(500));
        assert!(!n.is_idle(10) && n.is_idle(500));
    }
}
