//! The idle loop's own timer, a wake-up at the deadline and none before it. tokio's timer
//! wheel files a wait of seconds in a coarse slot and wakes the thread at the slot's start
//! to refile it, then again at the deadline: two or three wake-ups per safety check of an
//! idle daemon. On Linux this is a `timerfd` armed for the exact deadline and awaited through
//! the runtime's own poller, so it costs one; elsewhere it is tokio's sleep.

pub use imp::Timer;

#[cfg(target_os = "linux")]
mod imp {
    use std::time::Instant;

    use tokio::io::unix::AsyncFd;

    use crate::shared::sys::TimerFd;

    pub struct Timer {
        /// `None` when no timerfd could be made or registered: then tokio's sleep.
        fd: Option<AsyncFd<TimerFd>>,
    }

    impl Timer {
        /// Must be called inside the runtime (the descriptor joins its poller).
        pub fn new() -> Timer {
            Timer {
                fd: TimerFd::new().ok().and_then(register),
            }
        }

        /// Whether the exact timer is in use (not tokio's sleep).
        #[cfg(test)]
        pub fn exact(&self) -> bool {
            self.fd.is_some()
        }

        pub async fn sleep_until(&self, at: Instant) {
            let Some(fd) = &self.fd else {
                return tokio::time::sleep_until(at.into()).await;
            };
            let wait = at.saturating_duration_since(Instant::now());
            if wait.is_zero() || fd.get_ref().arm(wait).is_err() {
                return tokio::time::sleep_until(at.into()).await;
            }
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    return tokio::time::sleep_until(at.into()).await;
                };
                match fd.get_ref().fired() {
                    Ok(true) => return,
                    // Readiness left over from an earlier arming: wait for this one.
                    Ok(false) => ready.clear_ready(),
                    Err(_) => return tokio::time::sleep_until(at.into()).await,
                }
            }
        }

        /// Disarm a timer that was not waited out (another wake came first), so it does not
        /// wake the thread later for nothing.
        pub fn cancel(&self) {
            if let Some(fd) = &self.fd {
                let _ = fd.get_ref().disarm();
            }
        }
    }

    #[allow(unsafe_code)]
    fn register(timer: TimerFd) -> Option<AsyncFd<TimerFd>> {
        // SAFETY: `TimerFd` owns its descriptor and closes it only when dropped, which the
        // `AsyncFd` does after deregistering it; its `as_raw_fd` always returns that one.
        unsafe { AsyncFd::register_with_interest(timer, tokio::io::Interest::READABLE) }.ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::time::Instant;

    pub struct Timer;

    impl Timer {
        pub fn new() -> Timer {
            Timer
        }

        #[cfg(test)]
        pub fn exact(&self) -> bool {
            false
        }

        pub async fn sleep_until(&self, at: Instant) {
            tokio::time::sleep_until(at.into()).await
        }

        pub fn cancel(&self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn it_waits_until_the_deadline_and_can_be_armed_again() {
        runtime().block_on(async {
            let timer = Timer::new();
            #[cfg(target_os = "linux")]
            assert!(timer.exact(), "no timerfd on Linux");
            for wait in [
                Duration::from_millis(30),
                Duration::ZERO,
                Duration::from_millis(5),
            ] {
                let at = Instant::now() + wait;
                timer.sleep_until(at).await;
                assert!(Instant::now() >= at, "woke before the deadline");
            }
        });
    }

    #[test]
    fn a_cancelled_or_superseded_arming_does_not_end_the_next_wait_early() {
        runtime().block_on(async {
            let timer = Timer::new();
            // Armed for 10 ms, abandoned (another branch of a select won), then cancelled.
            tokio::select! {
                _ = timer.sleep_until(Instant::now() + Duration::from_millis(10)) => {
                    panic!("the timer beat an immediate branch")
                }
                _ = std::future::ready(()) => {}
            }
            timer.cancel();
            // Armed again and abandoned without cancelling: its expiry is left behind,
            // unread, while the thread does something else.
            tokio::select! {
                _ = timer.sleep_until(Instant::now() + Duration::from_millis(1)) => {
                    panic!("the timer beat an immediate branch")
                }
                _ = std::future::ready(()) => {}
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let at = Instant::now() + Duration::from_millis(50);
            timer.sleep_until(at).await;
            assert!(Instant::now() >= at, "a stale expiry ended the wait early");
        });
    }
}
