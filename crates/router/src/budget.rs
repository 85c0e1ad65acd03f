//! Budgets that bound how much extra work the router may create.
//!
//! A retry is the right call for one verification and the wrong one for the fleet when every
//! provider is struggling: each failed attempt becomes two, load on the surviving providers
//! doubles, and they fail too. Like Finagle's and tower's retry budgets, retries are allowed only
//! as a share of recent verifications (plus a small floor so low traffic can still fail over).
//! Exploration gets the same treatment: a bounded share of decisions, whatever the strategy's
//! appetite, so a misconfigured exploration rate cannot send a large share of traffic to bad routes.

use std::time::Duration;

/// Retries as a share of verifications started over a sliding window.
#[derive(Clone)]
pub(crate) struct RetryBudget {
    ratio: f64,
    floor: f64,
    bucket_nanos: u64,
    head: u64,
    /// (verifications, retries) per bucket.
    buckets: Box<[(u32, u32)]>,
    total: (u64, u64),
}

const RETRY_BUCKETS: usize = 10;

impl RetryBudget {
    pub(crate) fn new(ratio: f64, min_per_second: f64, window: Duration) -> Self {
        RetryBudget {
            ratio,
            floor: min_per_second * window.as_secs_f64(),
            bucket_nanos: (window.as_nanos() as u64 / RETRY_BUCKETS as u64).max(1),
            head: 0,
            buckets: vec![(0, 0); RETRY_BUCKETS].into_boxed_slice(),
            total: (0, 0),
        }
    }

    /// The budget under new settings, keeping what it has counted: with the same window the
    /// buckets carry over as they are; with another, the window's totals are filed at the
    /// current moment, so recent verifications keep earning retries for one new window (a
    /// reload must not leave an outage with only the floor).
    pub(crate) fn retuned(
        &self,
        ratio: f64,
        min_per_second: f64,
        window: Duration,
        since_epoch: Duration,
    ) -> Self {
        let mut next = RetryBudget::new(ratio, min_per_second, window);
        if next.bucket_nanos == self.bucket_nanos {
            next.head = self.head;
            next.buckets = self.buckets.clone();
            next.total = self.total;
        } else {
            let mut old = self.clone();
            old.advance(since_epoch);
            let i = next.advance(since_epoch);
            let clamp = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
            next.buckets[i] = (clamp(old.total.0), clamp(old.total.1));
            next.total = (u64::from(next.buckets[i].0), u64::from(next.buckets[i].1));
        }
        next
    }

    fn advance(&mut self, since_epoch: Duration) -> usize {
        let now = since_epoch.as_nanos() as u64 / self.bucket_nanos;
        let n = RETRY_BUCKETS as u64;
        if now > self.head {
            for k in 1..=(now - self.head).min(n) {
                let idx = ((self.head + k) % n) as usize;
                let (v, r) = self.buckets[idx];
                self.total.0 -= u64::from(v);
                self.total.1 -= u64::from(r);
                self.buckets[idx] = (0, 0);
            }
            self.head = now;
        }
        (self.head % n) as usize
    }

    /// A verification started: it earns `ratio` retries for the window.
    pub(crate) fn deposit(&mut self, since_epoch: Duration) {
        let i = self.advance(since_epoch);
        self.buckets[i].0 += 1;
        self.total.0 += 1;
    }

    /// Whether a retry would be allowed now (takes nothing: a retry is paid for only once a
    /// route has been found for it).
    pub(crate) fn available(&mut self, since_epoch: Duration) -> bool {
        self.advance(since_epoch);
        (self.total.1 as f64) < self.floor + self.ratio * self.total.0 as f64
    }

    /// Pays for one retry (after `available` said yes, at the same moment).
    pub(crate) fn withdraw(&mut self, since_epoch: Duration) {
        let i = self.advance(since_epoch);
        self.buckets[i].1 += 1;
        self.total.1 += 1;
    }

    /// Takes one retry if the budget allows it.
    #[cfg(test)]
    fn try_withdraw(&mut self, since_epoch: Duration) -> bool {
        let ok = self.available(since_epoch);
        if ok {
            self.withdraw(since_epoch);
        }
        ok
    }
}

/// Token bucket over decisions: each decision earns `share` of a token, an exploring decision
/// spends one. The cap keeps a long quiet period from banking a burst of exploration.
#[derive(Clone)]
pub(crate) struct ExplorationBudget {
    share: f64,
    tokens: f64,
}

const EXPLORATION_BURST: f64 = 5.0;

impl ExplorationBudget {
    pub(crate) fn new(share: f64) -> Self {
        ExplorationBudget { share, tokens: 1.0 }
    }

    /// A new share, keeping the tokens earned so far.
    pub(crate) fn retune(&mut self, share: f64) {
        self.share = share;
    }

    pub(crate) fn earn(&mut self) {
        self.tokens = (self.tokens + self.share).min(EXPLORATION_BURST);
    }

    pub(crate) fn available(&self) -> bool {
        self.tokens >= 1.0
    }

    pub(crate) fn spend(&mut self) {
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_bounded_by_ratio_plus_floor() {
        let mut b = RetryBudget::new(0.2, 1.0, Duration::from_secs(10));
        let mut granted = 0;
        for i in 0..1000u64 {
            let t = Duration::from_millis(i * 5); // 1000 verifications over 5 s
            b.deposit(t);
            // Every verification wants two retries (a storm).
            for _ in 0..2 {
                granted += u32::from(b.try_withdraw(t));
            }
        }
        // floor 10 + 0.2 * 1000 = 210.
        assert!((200..=211).contains(&granted), "{granted}");
    }

    #[test]
    fn retry_budget_refills_as_the_window_slides() {
        let mut b = RetryBudget::new(0.0, 1.0, Duration::from_secs(10));
        let t0 = Duration::ZERO;
        let granted: u32 = (0..50).map(|_| u32::from(b.try_withdraw(t0))).sum();
        assert_eq!(granted, 10);
        assert!(!b.try_withdraw(Duration::from_secs(9)));
        assert!(b.try_withdraw(Duration::from_secs(10)));
    }

    #[test]
    fn exploration_tokens_are_bounded() {
        let mut e = ExplorationBudget::new(0.1);
        let mut explored = 0;
        for _ in 0..1000 {
            e.earn();
            if e.available() {
                e.spend();
                explored += 1;
            }
        }
        assert!((100..=102).contains(&explored), "{explored}");
    }
}
