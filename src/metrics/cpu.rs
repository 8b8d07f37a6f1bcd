//! CPU time used by the generator, from `getrusage`: the whole process (which includes the
//! embedded server's threads when the target is embedded) and the calling thread (a worker).

/// User + system CPU time, µs, of `who` (`RUSAGE_SELF` or `RUSAGE_THREAD`).
#[cfg(target_os = "linux")]
fn usage_us(who: libc::c_int) -> Option<u64> {
    // SAFETY: `getrusage` only writes into the zeroed struct we pass it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return None;
    }
    let us = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
    Some(us(ru.ru_utime) + us(ru.ru_stime))
}

/// CPU time of the whole process so far, µs.
#[cfg(target_os = "linux")]
pub fn process_us() -> Option<u64> {
    usage_us(libc::RUSAGE_SELF)
}

/// CPU time of the calling thread so far, µs.
#[cfg(target_os = "linux")]
pub fn thread_us() -> Option<u64> {
    usage_us(libc::RUSAGE_THREAD)
}

/// CPU time of the whole process so far, µs (not measured on this platform).
#[cfg(not(target_os = "linux"))]
pub fn process_us() -> Option<u64> {
    None
}

/// CPU time of the calling thread so far, µs (not measured on this platform).
#[cfg(not(target_os = "linux"))]
pub fn thread_us() -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn thread_time_is_part_of_process_time_and_grows_with_work() {
        let before = super::thread_us().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let after = super::thread_us().unwrap();
        assert!(after >= before);
        assert!(super::process_us().unwrap() >= after);
    }
}
