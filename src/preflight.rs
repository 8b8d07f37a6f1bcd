//! Checks of the machine before any load: whether the plan's connections fit the ephemeral ports
//! towards the target, spreading them over more loopback source addresses when they do not, so a
//! large run never fails halfway with "address not available"; and whether the joins in flight
//! at once (`run --max-connecting`) fit the listen backlog of a target on this machine
//! ([`listen_backlog`]), so a connect burst never makes the kernel drop SYNs.
//!
//! One source address reaches one destination `ip:port` through at most the kernel's ephemeral
//! range (`/proc/sys/net/ipv4/ip_local_port_range`, 28,232 ports by default). Client sockets bind
//! with `IP_BIND_ADDRESS_NO_PORT` (see [`crate::transport::SourcePool`]), so each source address
//! gets its own full range per destination.

use std::net::{IpAddr, Ipv4Addr};

/// Share of the ephemeral range a run may plan to use per source address: the rest absorbs
/// token-exchange connections and sockets still in TIME_WAIT from earlier lifecycles.
pub const PORT_BUDGET: f64 = 0.8;

/// Most loopback source addresses chosen automatically (127.0.0.2 … 127.0.0.65).
pub const MAX_AUTO_SOURCES: usize = 64;

/// Why a run cannot fit the machine, with the numbers and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    /// Not enough ephemeral ports towards a non-loopback target.
    #[error(
        "up to {connections} connections at once to {target} need {needed} source address(es) at {per_source} usable ephemeral ports each, but {given} {given_word} given; add local addresses with --source-addr (one per {per_source} connections)"
    )]
    Ports {
        /// Connections open at once at the peak.
        connections: usize,
        /// The target address.
        target: IpAddr,
        /// Usable ports per source address.
        per_source: usize,
        /// Source addresses needed.
        needed: usize,
        /// Source addresses given.
        given: usize,
        /// "was" or "were".
        given_word: &'static str,
    },
    /// More joins in flight at once than the listen backlog of a target on this machine holds.
    #[error(
        "up to {in_flight} joins in flight at once (--max-connecting {max_connecting}, the plan's peak {peak}) exceed the listen backlog of the target on this machine, {effective} ({}): a connect burst beyond it makes the kernel drop connection attempts, which the clients retry after 1 s, 3 s, …, so the run would measure the kernel's retransmission timer, not the server; lower --max-connecting to {effective}{}",
        backlog_origin(*.listener, *.somaxconn),
        raise_fix(*.in_flight, *.listener)
    )]
    Backlog {
        /// Joins in flight at once at most: the smaller of `max_connecting` and `peak`.
        in_flight: usize,
        /// This process's `--max-connecting`.
        max_connecting: usize,
        /// The plan's peak of participants at once.
        peak: usize,
        /// The backlog the target's listener gets.
        effective: usize,
        /// The backlog the target asks for, when known (the embedded server's).
        listener: Option<usize>,
        /// `net.core.somaxconn`.
        somaxconn: usize,
    },
    /// The plan's peak cannot fit the machine's available memory.
    #[error(
        "up to {participants} participants at once need about {needed_mib} MiB ({per_kib} KiB each{ends}), but {available_mib} MiB is available (MemAvailable in /proc/meminfo); use fewer participants at once, or spread the run over machines with --shard I/N --start-at T against one server and combine the shards with `roomstorm merge`"
    )]
    Memory {
        /// Participants at once at the peak.
        participants: usize,
        /// Memory they need.
        needed_mib: u64,
        /// Per participant.
        per_kib: u64,
        /// ", both ends" when the embedded server is on this machine.
        ends: &'static str,
        /// Memory available.
        available_mib: u64,
    },
}

/// Resident memory one participant holds at the peak, roomstorm's side: about 9 KiB measured
/// by `bench/scale.sh` (participant, socket, buffers, metrics), with room to spare.
pub const CLIENT_BYTES: u64 = 12 * 1024;
/// The same for the embedded reference server's side of one member (about 9 KiB measured).
pub const SERVER_BYTES: u64 = 12 * 1024;

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_memory() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a plan whose peak would not fit the available memory (`server_here`: the embedded
/// server's side is on this machine too), rather than letting the kernel's OOM killer end the
/// run halfway. Unknown available memory is not a reason to refuse.
pub fn memory(
    participants: usize,
    server_here: bool,
    available: Option<u64>,
) -> Result<(), PreflightError> {
    let per = CLIENT_BYTES + if server_here { SERVER_BYTES } else { 0 };
    let needed = participants as u64 * per;
    match available {
        Some(avail) if needed > avail => Err(PreflightError::Memory {
            participants,
            needed_mib: needed.div_ceil(1 << 20),
            per_kib: per / 1024,
            ends: if server_here { ", both ends" } else { "" },
            available_mib: avail >> 20,
        }),
        _ => Ok(()),
    }
}

fn backlog_origin(listener: Option<usize>, somaxconn: usize) -> String {
    match listener {
        Some(l) => {
            format!("the embedded server asks for {l}, the kernel's somaxconn is {somaxconn}")
        }
        None => format!("at most the kernel's somaxconn, {somaxconn}"),
    }
}

fn raise_fix(in_flight: usize, listener: Option<usize>) -> String {
    match listener {
        // The listener itself asks for less: only a smaller bound helps.
        Some(l) if l < in_flight => String::new(),
        Some(_) => {
            format!(", or raise the kernel's limit: sysctl -w net.core.somaxconn={in_flight}")
        }
        None => format!(
            ", or raise the kernel's limit: sysctl -w net.core.somaxconn={in_flight} (and have the \
             server listen with a backlog of at least {in_flight})"
        ),
    }
}

/// The kernel's limits on a listener's queues, read from `/proc/sys/net`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenLimits {
    /// `net.core.somaxconn`: every listen backlog is capped at it.
    pub somaxconn: usize,
    /// `net.ipv4.tcp_max_syn_backlog`: bounds half-open connections, but only while SYN cookies
    /// are off (`net.ipv4.tcp_syncookies = 0`); reported, not enforced.
    pub syn_backlog: Option<usize>,
}

/// The kernel's listen limits, with Linux's default somaxconn (4096) when it cannot be read.
pub fn listen_limits() -> ListenLimits {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| parse_number(&s))
    };
    ListenLimits {
        somaxconn: read("/proc/sys/net/core/somaxconn").unwrap_or(4096),
        syn_backlog: read("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
    }
}

fn parse_number(text: &str) -> Option<usize> {
    text.trim().parse().ok()
}

/// What the backlog check found: the run fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogFit {
    /// Joins in flight at once at most.
    pub in_flight: usize,
    /// The backlog the target's listener gets.
    pub effective: usize,
}

/// Whether `max_connecting` joins in flight at once (or the plan's `peak`, if smaller; `None`:
/// no bound) fit the listen backlog of a target on this machine: `listener` is the backlog it asks
/// for when known (the embedded server's [`crate::server::LISTEN_BACKLOG`]); the kernel caps it at
/// `somaxconn`, and an unknown server's is at most that.
///
/// A connection being opened waits in the backlog until the server accepts it; a participant
/// holds at most one such connection while joining (token exchange, then the WebSocket), so the
/// joins in flight bound the queue.
pub fn listen_backlog(
    max_connecting: Option<usize>,
    peak: usize,
    listener: Option<usize>,
    somaxconn: usize,
) -> Result<BacklogFit, PreflightError> {
    let effective = listener.map_or(somaxconn, |l| l.min(somaxconn));
    let in_flight = max_connecting.map_or(peak, |m| m.min(peak));
    if in_flight <= effective {
        return Ok(BacklogFit {
            in_flight,
            effective,
        });
    }
    Err(PreflightError::Backlog {
        in_flight,
        max_connecting: max_connecting.unwrap_or(peak),
        peak,
        effective,
        listener,
        somaxconn,
    })
}

/// The kernel's ephemeral port range size, or the Linux default when it cannot be read.
pub fn ephemeral_ports() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| parse_port_range(&s))
        .unwrap_or(28_232)
}

fn parse_port_range(text: &str) -> Option<usize> {
    let mut it = text.split_whitespace().map(str::parse::<usize>);
    let (lo, hi) = (it.next()?.ok()?, it.next()?.ok()?);
    (hi >= lo).then(|| hi - lo + 1)
}

/// The source addresses a run should use for `connections` sockets open at once to `target`,
/// given the user's `--source-addr` list and `ports` ephemeral ports per address.
///
/// A user's list is kept if it is large enough. With none given, the kernel chooses when one
/// address suffices; towards a loopback IPv4 target, more loopback addresses (127.0.0.2, …) are
/// added automatically, as every 127/8 address reaches the loopback interface without setup.
pub fn source_addresses(
    connections: usize,
    target: IpAddr,
    given: &[IpAddr],
    ports: usize,
) -> Result<Vec<IpAddr>, PreflightError> {
    let per_source = ((ports as f64) * PORT_BUDGET) as usize;
    let needed = connections.div_ceil(per_source.max(1)).max(1);
    if given.len() >= needed || (given.is_empty() && needed == 1) {
        return Ok(given.to_vec());
    }
    let loopback_v4 = matches!(target, IpAddr::V4(a) if a.is_loopback());
    if given.is_empty() && loopback_v4 && needed <= MAX_AUTO_SOURCES {
        return Ok((0..needed)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
            .collect());
    }
    Err(PreflightError::Ports {
        connections,
        target,
        per_source,
        needed,
        given: given.len(),
        given_word: if given.len() == 1 { "was" } else { "were" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn port_range_text() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some(28_232));
        assert_eq!(parse_port_range("1024 1024"), Some(1));
        assert_eq!(parse_port_range("60999 32768"), None);
        assert_eq!(parse_port_range("nonsense"), None);
        assert!(ephemeral_ports() > 0);
    }

    #[test]
    fn plans_beyond_the_available_memory_are_refused_with_the_numbers() {
        let info = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20971520 kB\n";
        assert_eq!(parse_mem_available(info), Some(20 << 30));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert!(available_memory().is_some_and(|m| m > 0));
        // 100,000 participants with the server here: 2.3 GiB of 20 GiB.
        assert_eq!(memory(100_000, true, Some(20 << 30)), Ok(()));
        assert_eq!(memory(100_000, true, None), Ok(()));
        let err = memory(1_200_000, true, Some(20 << 30)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "up to 1200000 participants at once need about 28125 MiB (24 KiB each, both ends), but 20480 MiB is available (MemAvailable in /proc/meminfo); use fewer participants at once, or spread the run over machines with --shard I/N --start-at T against one server and combine the shards with `roomstorm merge`"
        );
        assert!(memory(1_200_000, false, Some(20 << 30)).is_ok());
    }

    #[test]
    fn kernel_numbers() {
        assert_eq!(parse_number("4096\n"), Some(4096));
        assert_eq!(parse_number(" 128 "), Some(128));
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("-1"), None);
        assert!(listen_limits().somaxconn > 0);
    }

    /// (max_connecting, peak, listener, somaxconn, Some((in flight, effective)) or None: refused).
    type Case = (
        Option<usize>,
        usize,
        Option<usize>,
        usize,
        Option<(usize, usize)>,
    );

    #[test]
    fn joins_in_flight_against_the_listen_backlog() {
        let cases: [Case; 9] = [
            // The default bound against a modern kernel, embedded server.
            (Some(1000), 50_000, Some(65_535), 4096, Some((1000, 4096))),
            // A small plan never has more joins in flight than participants.
            (Some(1000), 60, Some(65_535), 128, Some((60, 128))),
            // At the backlog exactly: fits.
            (Some(4096), 10_000, Some(65_535), 4096, Some((4096, 4096))),
            (Some(4097), 10_000, Some(65_535), 4096, None),
            // An old kernel's somaxconn of 128.
            (Some(1000), 10_000, None, 128, None),
            (Some(128), 10_000, None, 128, Some((128, 128))),
            // The listener asks for less than the kernel allows.
            (Some(600), 10_000, Some(512), 4096, None),
            // No bound: the peak is what may be in flight.
            (None, 5000, None, 4096, None),
            (None, 4000, None, 4096, Some((4000, 4096))),
        ];
        for (max, peak, listener, somaxconn, want) in cases {
            let got = listen_backlog(max, peak, listener, somaxconn)
                .ok()
                .map(|f| (f.in_flight, f.effective));
            assert_eq!(got, want, "{max:?} {peak} {listener:?} {somaxconn}");
        }
    }

    #[test]
    fn a_backlog_too_small_is_refused_with_the_numbers_and_each_fix() {
        let err = listen_backlog(Some(1000), 50_000, None, 128).unwrap_err();
        assert_eq!(
            err.to_string(),
            "up to 1000 joins in flight at once (--max-connecting 1000, the plan's peak 50000) \
             exceed the listen backlog of the target on this machine, 128 (at most the kernel's \
             somaxconn, 128): a connect burst beyond it makes the kernel drop connection \
             attempts, which the clients retry after 1 s, 3 s, …, so the run would measure the \
             kernel's retransmission timer, not the server; lower --max-connecting to 128, or \
             raise the kernel's limit: sysctl -w net.core.somaxconn=1000 (and have the server \
             listen with a backlog of at least 1000)"
        );
        let err = listen_backlog(Some(5000), 50_000, Some(65_535), 4096).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "4096 (the embedded server asks for 65535, the kernel's somaxconn is 4096)"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "lower --max-connecting to 4096, or raise the kernel's limit: sysctl -w \
                 net.core.somaxconn=5000"
            ),
            "{text}"
        );
        // Beyond what the listener asks for, raising the kernel's limit does not help.
        let err = listen_backlog(Some(600), 50_000, Some(512), 4096).unwrap_err();
        assert!(
            err.to_string().ends_with("lower --max-connecting to 512"),
            "{err}"
        );
    }

    #[test]
    fn one_address_while_it_is_enough() {
        // 80 % of 28,232 = 22,585 per address.
        assert_eq!(
            source_addresses(22_585, ip("127.0.0.1"), &[], 28_232),
            Ok(vec![])
        );
        let given = [ip("127.0.0.9")];
        assert_eq!(
            source_addresses(10, ip("127.0.0.1"), &given, 28_232),
            Ok(given.to_vec())
        );
    }

    #[test]
    fn loopback_targets_get_more_loopback_sources_automatically() {
        let got = source_addresses(100_000, ip("127.0.0.1"), &[], 28_232).unwrap();
        assert_eq!(
            got,
            [
                "127.0.0.2",
                "127.0.0.3",
                "127.0.0.4",
                "127.0.0.5",
                "127.0.0.6"
            ]
            .map(ip)
        );
    }

    #[test]
    fn too_few_ports_elsewhere_is_refused_with_the_numbers_and_the_fix() {
        let err = source_addresses(50_000, ip("10.0.0.5"), &[], 28_232).unwrap_err();
        assert_eq!(
            err.to_string(),
            "up to 50000 connections at once to 10.0.0.5 need 3 source address(es) at 22585 usable ephemeral ports each, but 0 were given; add local addresses with --source-addr (one per 22585 connections)"
        );
        // A user list that is too short is not silently extended either.
        let err =
            source_addresses(50_000, ip("127.0.0.1"), &[ip("127.0.0.7")], 28_232).unwrap_err();
        assert!(err.to_string().contains("but 1 was given"), "{err}");
        // IPv6 loopback has one address: nothing to add.
        assert!(source_addresses(50_000, ip("::1"), &[], 28_232).is_err());
    }
}
