//! What a member sees of the others while in the room: `user-joined`/`user-left` notices timed
//! against each peer's own answer on the room's presence board, and the stay recorded for the
//! end-of-run presence check.

use super::{Participant, PendingNotice};
use crate::metrics::Metric;
use crate::metrics::recorder;
use crate::participant::presence::{self, Delay, Stay};

impl Participant {
    /// A `user-joined` (`joined`) or `user-left` notice for `user` at `now`.
    pub(super) fn notice(&mut self, user: &str, now: u64, joined: bool) {
        let board = &self.run.boards[self.planned().room as usize];
        let Some(slot) = board.slot(user) else {
            return recorder::record(|r| r.notices_unknown_user += 1);
        };
        if joined {
            if !self.seen.contains(&slot) {
                self.seen.push(slot);
            }
            self.gone.retain(|s| *s != slot);
        } else {
            if !self.gone.contains(&slot) {
                self.gone.push(slot);
            }
            self.marks.retain(|(s, _)| *s != slot);
        }
        let delay = if joined {
            presence::visible_delay(board, slot, now)
        } else {
            presence::gone_delay(board, slot, now)
        };
        let metric = if joined {
            Metric::PeerVisible
        } else {
            Metric::PeerGone
        };
        let room = self.planned().room;
        match delay {
            Delay::Measured(us) => recorder::record(|r| {
                r.latency(metric, us);
                if joined {
                    let stat = r.room(room);
                    stat.max_peer_visible_us = stat.max_peer_visible_us.max(us);
                }
            }),
            Delay::BeforeReference => recorder::record(|r| {
                r.latency(metric, 0);
                r.notices_before_reference += 1;
            }),
            Delay::Pending => self.pending.push(PendingNotice {
                slot,
                at: now,
                joined,
            }),
        }
    }

    /// Resolves notices whose reference time is known by now; the rest count as unresolved.
    pub(super) fn resolve_pending(&mut self, last_chance: bool) {
        if self.pending.is_empty() {
            return;
        }
        let board = &self.run.boards[self.planned().room as usize];
        let mut pending = std::mem::take(&mut self.pending);
        recorder::record(|r| {
            pending.retain(|n| {
                let reference = if n.joined {
                    board.answered_at(n.slot)
                } else {
                    board.left_at(n.slot)
                };
                let metric = if n.joined {
                    Metric::PeerVisible
                } else {
                    Metric::PeerGone
                };
                match reference {
                    Some(at) if at <= n.at => r.latency(metric, n.at - at),
                    Some(_) => {
                        r.latency(metric, 0);
                        r.notices_before_reference += 1;
                    }
                    None if last_chance => r.notices_unresolved += 1,
                    None => return true,
                }
                false
            });
        });
        self.pending = pending;
    }

    pub(super) fn end_stay(&mut self, now: u64) {
        let board = &self.run.boards[self.planned().room as usize];
        if self.slot != u32::MAX {
            board.leaving(self.slot, self.board_stamp, now);
        }
        // A peer still shown as reconnecting that came back after we marked it, and is still
        // in the room: its `user-reconnected` never reached us.
        let stale = self
            .marks
            .iter()
            .filter(|(slot, since)| {
                board.resumed_at(*slot).is_some_and(|at| at > *since)
                    && board.answered_at(*slot).is_some()
            })
            .count() as u64;
        self.marks.clear();
        self.gone.clear();
        if stale > 0 {
            recorder::record(|r| r.recovery.stale_reconnecting += stale);
        }
        self.resolve_pending(false);
        let stay = Stay {
            room: self.planned().room,
            slot: self.slot,
            from: self.stay_from,
            to: now,
            seen: std::mem::take(&mut self.seen),
        };
        if stay.slot != u32::MAX {
            recorder::record(|r| r.stays.push(stay));
        }
    }
}
