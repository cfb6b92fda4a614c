//! Signals as requests to the drain loop: TERM/INT ask for a graceful stop (a second one
//! exits at once), HUP asks for a reload, USR1 for an immediate drain. Only flags and a
//! wake-up live here; what each request does belongs to the drain loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_tokio::Signals;
use tokio::sync::Notify;

use crate::dlog;

/// Exit status when a second stop signal cuts the graceful stop short.
pub const EXIT_IMPATIENT: i32 = 1;

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
    while let Some(signal) = signals.next().await {
        match signal {
            SIGTERM | SIGINT if control.stopping() => {
                dlog!("second stop signal: exiting at once");
                std::process::exit(EXIT_IMPATIENT);
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
