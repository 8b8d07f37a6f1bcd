//! The reconnect policy of an RTC client, as the Web SDK 4.3.1 applies it (`docs/protocol.md`,
//! "Reconnect"): pure, so every close code, attempt count and re-auth answer is tested with
//! virtual time and no socket. The participant actor executes its decisions with real timers.
//!
//! | what happened | SDK reaction |
//! |---|---|
//! | no ping for `ping_timeout` (after one) | RECONNECTING now, close the old socket and attempt after `close_delay` |
//! | close 1001, 1005, 1011, 1013 | RECONNECTING, attempt after `retry_delay` |
//! | close 1006 (abnormal, reset), 1012, 1014 | RECONNECTING, attempt after `request_timeout` |
//! | close 1000 or any other code | nothing: the ping timer decides |
//! | `disconnect` 10052 | RECONNECTING, re-auth after `retry_delay` |
//! | `disconnect` 10006 / 0 / other | KICKED_OUT / LEAVE / ERROR with the code |
//! | attempt failed (refused, dropped, timed out) | next attempt `request_timeout` after the last began; after `attempts` failures, ERROR 10007 |
//! | re-auth answered 0 | RECONNECTED; the attempt count resets |
//! | re-auth answered 10052 | another attempt after `retry_delay` (it uses up an attempt) |
//! | re-auth answered any other code | ERROR with that code (the SDK's promise view: 21003) |

use std::time::Duration;

use super::state::DisconnectReason;
use crate::codes;
use crate::scenario::ReconnectSettings;

/// The server asks the client to re-authenticate (not fatal).
pub const REAUTH_REQUESTED: u32 = 10052;

/// Close code the client sees when the connection ends without a close frame (reset, abort).
pub const ABNORMAL_CLOSE: u16 = 1006;

/// Close code for a close frame without a status.
pub const NO_STATUS_CLOSE: u16 = 1005;

/// How the client noticed that its connection broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loss {
    /// No ping within the ping timeout.
    PingTimeout,
    /// The socket closed with this code (1006 when it ended without a close frame).
    Closed(u16),
    /// The server sent `disconnect` 10052.
    ReauthRequested,
}

impl Loss {
    /// Stable name for reports: `ping_timeout`, `close_1006`, `disconnect_10052`.
    pub fn name(self) -> String {
        match self {
            Loss::PingTimeout => "ping_timeout".into(),
            Loss::Closed(code) => format!("close_{code}"),
            Loss::ReauthRequested => format!("disconnect_{REAUTH_REQUESTED}"),
        }
    }
}

/// What to do about a broken connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Nothing changes (the SDK waits for its ping timer).
    Ignore,
    /// Go RECONNECTING: drop the old socket after `close_old_after` and make the next attempt
    /// after `attempt_after` (both from now).
    Reconnect {
        /// When to close the old socket, if it is still open.
        close_old_after: Duration,
        /// When to open the new one.
        attempt_after: Duration,
    },
}

/// What to do after an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Attempt again after this long.
    After(Duration),
    /// Every attempt is used up: DISCONNECTED ERROR 10007.
    GiveUp,
}

/// What a re-auth answer (or a `disconnect` while reconnecting) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauth {
    /// RECONNECTED.
    Resumed,
    /// Try again (10052).
    Retry(Retry),
    /// DISCONNECTED with this reason.
    End(DisconnectReason),
}

/// One participant's reconnect bookkeeping: settings plus the attempts used since the last
/// successful (re-)auth.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    settings: ReconnectSettings,
    failed: u32,
}

impl Policy {
    /// A policy with nothing used yet.
    pub fn new(settings: ReconnectSettings) -> Self {
        Self {
            settings,
            failed: 0,
        }
    }

    /// The settings it applies.
    pub fn settings(&self) -> &ReconnectSettings {
        &self.settings
    }

    /// Attempts that failed since the last successful (re-)auth.
    pub fn failed_attempts(&self) -> u32 {
        self.failed
    }

    /// The connection of a member (CONNECTED or RECONNECTED) broke this way.
    pub fn on_loss(&self, loss: Loss) -> Reaction {
        let s = &self.settings;
        let reconnect = |close: Duration, attempt: Duration| Reaction::Reconnect {
            close_old_after: close,
            attempt_after: attempt,
        };
        match loss {
            Loss::PingTimeout => reconnect(s.close_delay, s.close_delay),
            Loss::ReauthRequested => reconnect(Duration::ZERO, s.retry_delay),
            Loss::Closed(1001 | 1005 | 1011 | 1013) => reconnect(Duration::ZERO, s.retry_delay),
            Loss::Closed(1006 | 1012 | 1014) => reconnect(Duration::ZERO, s.request_timeout),
            // 1000 and every other code: the SDK does nothing and its ping timer decides.
            Loss::Closed(_) => Reaction::Ignore,
        }
    }

    /// An attempt that began `since_start` ago failed (refused, dropped before the answer, or
    /// timed out): the next one starts `request_timeout` after this one began.
    pub fn on_attempt_failed(&mut self, since_start: Duration) -> Retry {
        self.failed += 1;
        if self.failed >= self.settings.attempts {
            return Retry::GiveUp;
        }
        Retry::After(self.settings.request_timeout.saturating_sub(since_start))
    }

    /// The server answered the re-auth with `code` (or sent `disconnect` with it while the
    /// client was reconnecting).
    pub fn on_reauth(&mut self, code: u32) -> Reauth {
        match code {
            0 => {
                self.failed = 0;
                Reauth::Resumed
            }
            REAUTH_REQUESTED => {
                self.failed += 1;
                if self.failed >= self.settings.attempts {
                    Reauth::Retry(Retry::GiveUp)
                } else {
                    Reauth::Retry(Retry::After(self.settings.retry_delay))
                }
            }
            codes::KICKED => Reauth::End(DisconnectReason::KickedOut),
            code => Reauth::End(DisconnectReason::Error { code: Some(code) }),
        }
    }

    /// A first join or re-auth succeeded: attempts start from zero again.
    pub fn reset(&mut self) {
        self.failed = 0;
    }
}

/// What `disconnect` with `code` means for a member that is not reconnecting: `None` for 10052
/// (the connection is restored instead), else the reason it ends with.
pub fn server_disconnect(code: u32) -> Option<DisconnectReason> {
    match code {
        REAUTH_REQUESTED => None,
        0 => Some(DisconnectReason::Leave),
        codes::KICKED => Some(DisconnectReason::KickedOut),
        code => Some(DisconnectReason::Error { code: Some(code) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK: ReconnectSettings = ReconnectSettings::SDK;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn each_close_code_as_the_sdk_reacts() {
        let p = Policy::new(SDK);
        let now = |after: f64| Reaction::Reconnect {
            close_old_after: Duration::ZERO,
            attempt_after: secs(after),
        };
        for code in [1001, 1005, 1011, 1013] {
            assert_eq!(p.on_loss(Loss::Closed(code)), now(1.0), "close {code}");
        }
        for code in [1006, 1012, 1014] {
            assert_eq!(p.on_loss(Loss::Closed(code)), now(5.0), "close {code}");
        }
        for code in [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4000] {
            assert_eq!(
                p.on_loss(Loss::Closed(code)),
                Reaction::Ignore,
                "close {code}"
            );
        }
        assert_eq!(
            p.on_loss(Loss::PingTimeout),
            Reaction::Reconnect {
                close_old_after: secs(1.0),
                attempt_after: secs(1.0)
            }
        );
        assert_eq!(p.on_loss(Loss::ReauthRequested), now(1.0));
    }

    #[test]
    fn tuned_settings_replace_the_sdk_timers() {
        let tuned = ReconnectSettings {
            ping_timeout: secs(4.0),
            close_delay: secs(0.2),
            retry_delay: secs(0.3),
            request_timeout: secs(2.0),
            attempts: 5,
        };
        let mut p = Policy::new(tuned);
        assert_eq!(
            p.on_loss(Loss::PingTimeout),
            Reaction::Reconnect {
                close_old_after: secs(0.2),
                attempt_after: secs(0.2)
            }
        );
        assert_eq!(
            p.on_loss(Loss::Closed(1006)),
            Reaction::Reconnect {
                close_old_after: Duration::ZERO,
                attempt_after: secs(2.0)
            }
        );
        for _ in 0..4 {
            assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::After(secs(2.0)));
        }
        assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::GiveUp);
    }

    /// Plays "the server is gone" in virtual time: a reset at t = 0, every attempt refused at
    /// once. The SDK was measured attempting at +5, +10 and +15 s and reporting 10007 at +15.
    #[test]
    fn server_gone_gives_up_after_three_attempts_at_5_10_15_s() {
        let mut p = Policy::new(SDK);
        let Reaction::Reconnect { attempt_after, .. } = p.on_loss(Loss::Closed(1006)) else {
            panic!("a reset reconnects");
        };
        let mut t = attempt_after;
        let mut attempts = vec![t];
        let gave_up_at = loop {
            match p.on_attempt_failed(Duration::ZERO) {
                Retry::After(d) => {
                    t += d;
                    attempts.push(t);
                }
                Retry::GiveUp => break t,
            }
        };
        assert_eq!(attempts, [secs(5.0), secs(10.0), secs(15.0)]);
        assert_eq!(gave_up_at, secs(15.0));
        assert_eq!(p.failed_attempts(), 3);
    }

    /// An attempt that hangs until its request timeout is retried at once: attempts stay
    /// `request_timeout` apart however they fail.
    #[test]
    fn timed_out_attempts_are_retried_at_once() {
        let mut p = Policy::new(SDK);
        assert_eq!(p.on_attempt_failed(secs(5.0)), Retry::After(Duration::ZERO));
        assert_eq!(p.on_attempt_failed(secs(2.0)), Retry::After(secs(3.0)));
        assert_eq!(p.on_attempt_failed(secs(9.0)), Retry::GiveUp);
    }

    #[test]
    fn a_successful_reauth_resets_the_count() {
        let mut p = Policy::new(SDK);
        assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::After(secs(5.0)));
        assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::After(secs(5.0)));
        assert_eq!(p.on_reauth(0), Reauth::Resumed);
        assert_eq!(p.failed_attempts(), 0);
        // A later break gets all three attempts again.
        assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::After(secs(5.0)));
        assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::After(secs(5.0)));
        assert_eq!(p.on_attempt_failed(Duration::ZERO), Retry::GiveUp);
    }

    #[test]
    fn each_reauth_code() {
        for code in [10001, 10002, 10004, 10011, 10012, 10022, 10005, 12345] {
            let mut p = Policy::new(SDK);
            assert_eq!(
                p.on_reauth(code),
                Reauth::End(DisconnectReason::Error { code: Some(code) }),
                "re-auth {code}"
            );
        }
        let mut p = Policy::new(SDK);
        assert_eq!(
            p.on_reauth(codes::KICKED),
            Reauth::End(DisconnectReason::KickedOut)
        );
        // 10052 asks again after retry_delay, and each time uses up an attempt.
        assert_eq!(p.on_reauth(10052), Reauth::Retry(Retry::After(secs(1.0))));
        assert_eq!(p.on_reauth(10052), Reauth::Retry(Retry::After(secs(1.0))));
        assert_eq!(p.on_reauth(10052), Reauth::Retry(Retry::GiveUp));
    }

    #[test]
    fn server_disconnect_codes_for_a_member() {
        assert_eq!(server_disconnect(10052), None);
        assert_eq!(server_disconnect(0), Some(DisconnectReason::Leave));
        assert_eq!(server_disconnect(10006), Some(DisconnectReason::KickedOut));
        for code in [10001, 10002, 10004, 10011, 10012, 10022, 10005, 12345] {
            assert_eq!(
                server_disconnect(code),
                Some(DisconnectReason::Error { code: Some(code) })
            );
        }
    }

    #[test]
    fn loss_names_are_stable() {
        assert_eq!(Loss::PingTimeout.name(), "ping_timeout");
        assert_eq!(Loss::Closed(1006).name(), "close_1006");
        assert_eq!(Loss::ReauthRequested.name(), "disconnect_10052");
    }
}
