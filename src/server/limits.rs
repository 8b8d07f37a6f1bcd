//! The open-file limit and the connection gate derived from it.
//!
//! Every connection costs a file descriptor, and this machine caps them per process (20,000 here,
//! a hard limit). Past it `accept` fails and the server would spin or die; instead it keeps a
//! reserve and refuses the excess with a clear 503.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::metrics::Metrics;

/// File descriptors kept free for logs, listeners, `/proc` reads and refusals.
pub const FD_RESERVE: usize = 64;

/// The soft open-file limit, after raising it to the hard limit where allowed.
pub fn open_file_limit() -> usize {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
    }
}

/// The connection cap to use: the configured one, or what the fd limit allows.
pub fn connection_cap(configured: Option<usize>, fd_limit: usize) -> Result<usize, String> {
    let budget = fd_limit.saturating_sub(FD_RESERVE);
    match configured {
        Some(n) if n > budget => Err(format!(
            "--max-connections {n} exceeds what the open-file limit allows ({fd_limit} files, {FD_RESERVE} reserved: at most {budget}); \
             run several server processes (rooms are placed per process) or lower it"
        )),
        Some(n) => Ok(n),
        None => Ok(budget),
    }
}

/// Counts open connections against the cap.
#[derive(Debug)]
pub struct ConnectionGate {
    open: AtomicUsize,
    cap: usize,
    metrics: Arc<Metrics>,
}

/// One admitted connection; releases its slot when dropped.
#[derive(Debug)]
pub struct ConnectionPermit(Arc<ConnectionGate>);

impl ConnectionGate {
    /// A gate admitting at most `cap` connections at once.
    pub fn new(cap: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            cap,
            metrics,
        })
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Admits one more connection, or `None` at the cap.
    pub fn try_admit(self: &Arc<Self>) -> Option<ConnectionPermit> {
        let mut cur = self.open.load(Ordering::Relaxed);
        loop {
            if cur >= self.cap {
                self.metrics
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match self
                .open
                .compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.metrics
                        .connections_open
                        .fetch_add(1, Ordering::Relaxed);
                    return Some(ConnectionPermit(Arc::clone(self)));
                }
                Err(seen) => cur = seen,
            }
        }
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0
            .metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_admits_up_to_the_cap_and_frees_slots() {
        let metrics = Arc::new(Metrics::default());
        let gate = ConnectionGate::new(2, metrics.clone());
        let a = gate.try_admit().unwrap();
        let _b = gate.try_admit().unwrap();
        assert!(gate.try_admit().is_none());
        drop(a);
        assert!(gate.try_admit().is_some());
        assert_eq!(metrics.connections_refused.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn cap_respects_the_fd_limit() {
        assert_eq!(connection_cap(None, 20_000), Ok(20_000 - FD_RESERVE));
        assert_eq!(connection_cap(Some(100), 20_000), Ok(100));
        let err = connection_cap(Some(25_000), 20_000).unwrap_err();
        assert!(err.contains("at most 19936"), "{err}");
    }
}
