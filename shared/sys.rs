//! The only `unsafe` in difflore, with the one registration of `TimerFd` with tokio's
//! poller in the daemon's timer: thin wrappers over the libc calls std does not offer
//! (umask, signals and their dispositions, fork/setsid, descriptor hygiene, a process's
//! start time on macOS, a timer descriptor on Linux). Each block states why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

/// Make every file and directory this process creates private (0600 / 0700).
pub fn private_umask() {
    // SAFETY: umask only swaps the process file-mode mask; it cannot fail or touch memory.
    unsafe {
        libc::umask(0o077);
    }
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no arguments, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// What Rust's own start-up does that a binary entered at C `main` (the hook, see
/// `bin/difflore-hook.rs`) still needs: SIGPIPE ignored, so that writing to an agent that
/// stopped reading is an error and not death; and descriptors 0, 1 and 2 open (on
/// /dev/null when the agent closed them), so that no file the process opens later (the
/// outbox, a spill file) can be given one of their numbers and receive its stderr line.
pub fn start_like_std() {
    // SAFETY: SIG_IGN installs no handler and touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    for fd in 0..3 {
        // F_GETFD on every system (poll cannot tell a closed descriptor on macOS).
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1;
        if closed {
            // Taken in order 0, 1, 2, so each open gets the lowest free number: the closed
            // one. SAFETY: the path is a NUL-terminated literal; the descriptor is kept open
            // for the life of the process on purpose.
            unsafe {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}

/// The arguments a C `main` was given (see `start_like_std`), the program's name first, as
/// the OS gave them: bytes, not necessarily UTF-8. Read from `argv` itself, because std
/// fills `std::env::args_os` without its own start-up only on glibc and Apple systems.
///
/// # Safety
/// `argv` must hold `argc` pointers, each null or to a NUL-terminated string, as the C
/// runtime passes them to `main`.
pub unsafe fn main_args(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let count = usize::try_from(argc).unwrap_or(0);
    if argv.is_null() {
        return Vec::new();
    }
    (0..count)
        .filter_map(|i| {
            // SAFETY: the caller promises `argc` readable pointers in `argv`.
            let arg = unsafe { *argv.add(i) };
            // SAFETY: non-null, so NUL-terminated by the caller's promise.
            (!arg.is_null()).then(|| {
                let bytes = unsafe { std::ffi::CStr::from_ptr(arg) }.to_bytes();
                std::ffi::OsStr::from_bytes(bytes).to_owned()
            })
        })
        .collect()
}

/// Does a process with this pid exist (whoever owns it)?
pub fn process_exists(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; pid > 0 so it
    // never addresses a process group.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// When process `pid` started, in microseconds since the Unix epoch, from the kernel's
/// own record (`proc_pidinfo`, `PROC_PIDTBSDINFO`): with the pid, it names one process even
/// after the pid is reused. `None` when there is no such process, or it is not ours to
/// inspect (the kernel answers only for the caller's own processes unless run as root).
#[cfg(target_os = "macos")]
pub fn process_start_micros(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let size = std::mem::size_of::<libc::proc_bsdinfo>();
    let mut info = std::mem::MaybeUninit::<libc::proc_bsdinfo>::zeroed();
    // SAFETY: the buffer is a zeroed `proc_bsdinfo` that outlives the call, and the size
    // passed is its own, so the kernel writes at most that many bytes into it.
    let written = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            info.as_mut_ptr().cast(),
            size as libc::c_int,
        )
    };
    // Anything but the whole structure (0 or -1 on error, less on a kernel mismatch) is
    // no answer.
    if usize::try_from(written).ok()? != size {
        return None;
    }
    // SAFETY: all-zero bytes are a valid `proc_bsdinfo` (integers and byte arrays only),
    // and the kernel filled in the rest.
    let info = unsafe { info.assume_init() };
    if info.pbi_start_tvsec == 0 {
        return None;
    }
    info.pbi_start_tvsec
        .checked_mul(1_000_000)?
        .checked_add(info.pbi_start_tvusec)
}

/// The signals difflore sends; a closed set so no caller can pass a raw number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Hup,
    Usr1,
}

impl Signal {
    fn raw(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Hup => libc::SIGHUP,
            Signal::Usr1 => libc::SIGUSR1,
        }
    }
}

/// For the hook's short run: a termination request (SIGTERM, SIGINT, SIGHUP) no longer ends
/// the process between reading an event and storing it. Some agents send SIGTERM to their
/// hooks as soon as the tool call is over (Kimi Code, then SIGKILL 100 ms later). So that
/// an agent that never closes the hook's stdin cannot leave it running for ever, SIGALRM
/// (not ignored) ends the process `deadline` from now: a run that reached its end is gone
/// long before.
pub fn finish_despite_termination_requests(deadline: std::time::Duration) {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: setting a signal's disposition to SIG_IGN installs no handler and touches
        // no memory of ours; it cannot fail for these catchable signals.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let secs = deadline.as_secs().clamp(1, u64::from(u32::MAX)) as libc::c_uint;
    // SAFETY: alarm only schedules SIGALRM for this process, whose default action ends it.
    unsafe {
        libc::alarm(secs);
    }
}

/// Send `sig` to one process (never a group: pid must be positive).
pub fn send_signal(pid: i32, sig: Signal) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}"),
        ));
    }
    // SAFETY: kill takes plain integers; pid > 0 addresses exactly one process.
    if unsafe { libc::kill(pid, sig.raw()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub enum Fork {
    Parent { child: i32 },
    Child,
}

/// fork(2). Only call while the process is single-threaded (before any runtime starts).
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the caller guarantees no other thread exists, so the child inherits no lock
    // held by a thread that no longer exists; the child goes on in ordinary Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        child => Ok(Fork::Parent { child }),
    }
}

/// Start a new session so the terminal's SIGHUP and job control no longer reach us.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid takes no arguments and touches no memory.
    if unsafe { libc::setsid() } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Point descriptor `target` (0, 1 or 2) at `source`.
pub fn redirect(source: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on descriptors; both are owned by the caller, and the old `target` is
    // closed atomically by the kernel.
    if unsafe { libc::dup2(source, target) } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Where this process's open descriptors are listed: macOS has no `/proc`, but its
/// `/dev/fd` lists the caller's own descriptors the same way.
#[cfg(target_os = "macos")]
const OWN_FDS: &str = "/dev/fd";
#[cfg(not(target_os = "macos"))]
const OWN_FDS: &str = "/proc/self/fd";

/// Close every inherited descriptor from 3 up, except those in `keep`.
pub fn close_inherited_fds(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir(OWN_FDS) else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: the descriptor was inherited and no Rust object in this freshly forked
        // child owns it (the caller lists the ones it owns in `keep`); closing the one
        // read_dir used is harmless because the iterator is already dropped.
        unsafe {
            libc::close(fd);
        }
    }
}

/// This machine's host name, if it has a usable one (for telemetry `host.name`).
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call; gethostname
    // writes at most `len` bytes into it and nothing else.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // POSIX leaves termination unspecified on truncation: stop at the first NUL or the end.
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..len]).ok()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A one-shot monotonic timer as a descriptor (Linux `timerfd`), for a poller to wait on:
/// it becomes readable at the deadline it was armed for, and not before.
#[cfg(target_os = "linux")]
pub struct TimerFd(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl TimerFd {
    /// A disarmed, non-blocking timer, closed on exec.
    pub fn new() -> io::Result<TimerFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: no pointers are passed; the result is checked before it is used.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        Ok(TimerFd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Fire once, `after` from now (at least a nanosecond: zero would disarm). Arming
    /// again replaces the deadline and forgets an expiry not yet read.
    pub fn arm(&self, after: std::time::Duration) -> io::Result<()> {
        let secs = after.as_secs().min(i32::MAX as u64);
        let nanos = if secs == 0 {
            after.subsec_nanos().max(1)
        } else {
            after.subsec_nanos()
        };
        self.set(libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: nanos as libc::c_long,
        })
    }

    /// Never fire (until armed again); an expiry not yet read is forgotten.
    pub fn disarm(&self) -> io::Result<()> {
        self.set(libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        })
    }

    /// Whether the timer fired since it was last armed (and reads that expiry). `false`
    /// when it has not yet: the descriptor is non-blocking.
    pub fn fired(&self) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        let mut count = 0u64;
        // SAFETY: reads at most 8 bytes into `count`, which is 8 bytes and outlives the call.
        let n = unsafe { libc::read(self.0.as_raw_fd(), (&raw mut count).cast(), 8) };
        match n {
            8 => Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn set(&self, value: libc::timespec) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec that outlives the call; the old value is not
        // asked for (null is allowed).
        let rc =
            unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(target_os = "linux")]
impl std::os::fd::AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
