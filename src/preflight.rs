//! Checks of the machine before any load: whether the plan's connections fit the ephemeral ports
//! towards the target, spreading them over more loopback source addresses when they do not, so a
//! large run never fails halfway with "address not available".
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
