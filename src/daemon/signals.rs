//! Signals as requests to the drain loop: TERM/INT ask for a graceful stop, HUP asks for a
//! reload, USR1 for an immediate drain. More stop requests while stopping change nothing
//! (two `difflorectl stop` at once, or a service manager and a person), except a second
//! SIGINT: a person at the terminal pressing Ctrl-C again wants out now. Only flags and a
//! wake-up live here; what each request does belongs to the drain loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_tokio::Signals;
use tokio::sync::Notify;

use crate::dlog;

/// Exit status when a second SIGINT cuts the graceful stop short (the shell's 128 + SIGINT).
pub const EXIT_IMPATIENT: i32 = 130;

#[derive(Default)]
pub struct Control {
    wake: Notify,
    stop: AtomicBool,
    stop_at: std::sync::Mutex<Option<Instant>>,
    reload: AtomicBool,
    flush: AtomicBool,
}

impl Control {
    /// Wait for any request (a permit is stored if none is waiting, so none is lost).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// When the stop was asked for: the shutdown deadline counts from there.
    pub fn stop_requested_at(&self) -> Option<Instant> {
        *self.stop_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::SeqCst)
    }

    pub fn take_flush(&self) -> bool {
        self.flush.swap(false, Ordering::SeqCst)
    }

    pub fn request_stop(&self) {
        *self.stop_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn request(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// Install the handlers. Must be called inside the runtime.
pub fn listen() -> std::io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])
}

/// Turn signals into requests until the stream ends.
pub async fn forward(mut signals: Signals, control: &Control) {
    let mut interrupts = 0u32;
    while let Some(signal) = signals.next().await {
        if signal == SIGINT {
            interrupts += 1;
        }
        match signal {
            SIGINT if interrupts >= 2 => {
                dlog!("second interrupt: exiting at once, claimed events return at the next start");
                std::process::exit(EXIT_IMPATIENT);
            }
            SIGTERM | SIGINT if control.stopping() => {
                dlog!("stop requested again (signal {signal}): already stopping");
            }
            SIGTERM | SIGINT => {
                dlog!("stop requested (signal {signal})");
                control.request_stop();
            }
            SIGHUP => control.request(&control.reload),
            SIGUSR1 => control.request(&control.flush),
            _ => {}
        }
    }
}
