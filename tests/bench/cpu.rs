//! The calling thread's CPU time (user and system) from getrusage(2): under a loaded machine
//! the bench's shares are read from what the drain itself spent, not from how long it waited
//! for a core. One libc call, the traces bench's only unsafe code.
#![allow(unsafe_code)]

use std::time::Duration;

/// CPU time this thread has used so far; `None` where the OS cannot say.
pub fn thread_cpu() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getrusage writes one rusage into the zeroed struct we own and pass by
        // pointer; nothing else aliases it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
        if rc != 0 {
            return None;
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Some(tv(usage.ru_utime) + tv(usage.ru_stime))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
