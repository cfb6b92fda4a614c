//! How many batches may be out at once, adapted to the collector the way Vector's adaptive
//! request concurrency does it: start at `max_in_flight`, take one away (a tenth, for large
//! limits) when the collector pushes back (429, 503, any retryable failure) or its round trip
//! rises well above its own recent average, and add one back after a round in which every
//! slot was used and the round trip held. Never above `max_in_flight`, never below one.
//! Only counts; knows nothing of batches, sinks or the outbox.

use std::time::Duration;

/// A pushed-back or slowed-down round keeps this share of the limit (at least one less).
const DECREASE: f64 = 0.9;
/// Weight of the newest round in the round-trip baseline.
const EWMA_ALPHA: f64 = 0.4;
/// A round whose mean round trip exceeds the baseline by this factor, and by more than
/// `RTT_NOISE`, says the collector is slowing down.
const RTT_RISE: f64 = 1.5;
/// Below this a rise is scheduling noise (loopback, a busy laptop), not a collector in
/// trouble: a 1 ms round trip becoming 3 ms is no reason to send less.
const RTT_NOISE: Duration = Duration::from_millis(5);

/// Which adjustment a sent batch belongs to, handed out at launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Debug)]
pub struct Concurrency {
    max: usize,
    limit: usize,
    next: u64,
    /// Batches launched before this one went out under an older limit: their answers say
    /// nothing about the current one.
    round_from: u64,
    answers: usize,
    rtt_sum: Duration,
    /// Every slot was taken at some launch of this round.
    full: bool,
    /// Exponentially weighted mean of past rounds' mean round trip.
    baseline: Option<Duration>,
}

impl Concurrency {
    pub fn new(max: usize) -> Concurrency {
        let max = max.max(1);
        Concurrency {
            max,
            limit: max,
            next: 0,
            round_from: 0,
            answers: 0,
            rtt_sum: Duration::ZERO,
            full: false,
            baseline: None,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// `max_in_flight` changed (a reload): the limit is clamped, the history kept.
    pub fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
        self.limit = self.limit.min(self.max);
    }

    /// A batch goes out, making `in_flight` batches out in all.
    pub fn launch(&mut self, in_flight: usize) -> Ticket {
        if in_flight >= self.limit {
            self.full = true;
        }
        self.next += 1;
        Ticket(self.next - 1)
    }

    /// A batch's first answer came back after `rtt`; `pushed_back` if the collector asked
    /// us to slow down (any failure to retry).
    pub fn land(&mut self, ticket: Ticket, rtt: Duration, pushed_back: bool) {
        if ticket.0 < self.round_from {
            return;
        }
        if pushed_back {
            self.decrease();
            return;
        }
        self.answers += 1;
        self.rtt_sum += rtt;
        if self.answers < self.limit {
            return;
        }
        let mean = self.rtt_sum / self.answers as u32;
        let slower = self
            .baseline
            .is_some_and(|past| mean > past.mul_f64(RTT_RISE) && mean > past + RTT_NOISE);
        self.baseline = Some(match self.baseline {
            Some(past) => past.mul_f64(1.0 - EWMA_ALPHA) + mean.mul_f64(EWMA_ALPHA),
            None => mean,
        });
        if slower {
            self.decrease();
        } else if self.full && self.limit < self.max {
            self.limit += 1;
            self.new_round();
        } else {
            self.new_round();
        }
    }

    fn decrease(&mut self) {
        let less = ((self.limit as f64) * DECREASE) as usize;
        self.limit = less.min(self.limit - 1).max(1);
        self.new_round();
    }

    fn new_round(&mut self) {
        self.round_from = self.next;
        self.answers = 0;
        self.rtt_sum = Duration::ZERO;
        self.full = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// One round at the current limit, every slot used, each answer after `rtt`.
    fn round(c: &mut Concurrency, rtt: Duration) {
        let n = c.limit();
        let tickets: Vec<Ticket> = (1..=n).map(|i| c.launch(i)).collect();
        for t in tickets {
            c.land(t, rtt, false);
        }
    }

    #[test]
    fn starts_at_the_maximum_and_never_goes_above_it() {
        let mut c = Concurrency::new(4);
        assert_eq!(c.limit(), 4);
        for _ in 0..10 {
            round(&mut c, 20 * MS);
        }
        assert_eq!(c.limit(), 4);
    }

    #[test]
    fn one_push_back_takes_one_slot_however_many_batches_it_hits() {
        let mut c = Concurrency::new(4);
        let tickets: Vec<Ticket> = (1..=4).map(|i| c.launch(i)).collect();
        // All four were out when the collector answered 503 to each.
        for t in tickets {
            c.land(t, 20 * MS, true);
        }
        assert_eq!(c.limit(), 3);
        let t = c.launch(1);
        c.land(t, 20 * MS, true);
        let t = c.launch(1);
        c.land(t, 20 * MS, true);
        let t = c.launch(1);
        c.land(t, 20 * MS, true);
        assert_eq!(c.limit(), 1, "never below one");
    }

    #[test]
    fn grows_back_while_latency_holds_and_every_slot_is_used() {
        let mut c = Concurrency::new(4);
        let t = c.launch(1);
        c.land(t, 20 * MS, true);
        assert_eq!(c.limit(), 3);
        round(&mut c, 20 * MS);
        assert_eq!(c.limit(), 4);
        // A trickle that never fills the slots is no evidence for more.
        let mut c = Concurrency::new(4);
        let t = c.launch(1);
        c.land(t, 20 * MS, true);
        for _ in 0..10 {
            let t = c.launch(1);
            c.land(t, 20 * MS, false);
        }
        assert_eq!(c.limit(), 3);
    }

    #[test]
    fn a_rising_round_trip_shrinks_the_limit_but_loopback_noise_does_not() {
        let mut c = Concurrency::new(8);
        round(&mut c, 100 * MS);
        round(&mut c, 100 * MS);
        assert_eq!(c.limit(), 8);
        round(&mut c, 400 * MS);
        assert_eq!(c.limit(), 7);
        let mut quick = Concurrency::new(8);
        round(&mut quick, MS);
        round(&mut quick, 4 * MS);
        assert_eq!(quick.limit(), 8, "a 3 ms rise is noise");
    }

    #[test]
    fn answers_to_batches_sent_under_an_older_limit_do_not_count() {
        let mut c = Concurrency::new(4);
        let old: Vec<Ticket> = (1..=4).map(|i| c.launch(i)).collect();
        c.land(old[0], 20 * MS, true);
        assert_eq!(c.limit(), 3);
        // The other three were sent at four: their answers neither shrink nor grow it.
        for t in &old[1..] {
            c.land(*t, 20 * MS, true);
        }
        assert_eq!(c.limit(), 3);
        c.set_max(2);
        assert_eq!(c.limit(), 2);
    }
}
