//! The one retry policy: how many times a failed step is tried again and how
//! long to wait before each retry. Used by Encord calls and media downloads
//! (`encord::http`, [`RetryPolicy::ENCORD`], `--http-retries`) and by agent
//! attempts (`runner`, [`RetryPolicy::AGENT_ATTEMPTS`], `--num-retries`,
//! `--retry-delay-ms`).
//!
//! The wait doubles from `base` per retry, is capped at `max_delay`, and gets
//! up to 50 % jitter on top, so that many workers that failed together do not
//! retry together. A server's `Retry-After` overrides the doubling (capped
//! the same way).

use std::time::Duration;

/// How failed steps are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (so at most `max_retries + 1` tries).
    pub max_retries: u32,
    /// The wait before the first retry; it doubles per retry.
    pub base: Duration,
    /// The longest wait before one retry, before jitter.
    pub max_delay: Duration,
}

/// Jitter added on top of each wait, as a share of it (at most).
pub const JITTER: f64 = 0.5;

impl RetryPolicy {
    /// Encord calls and media downloads: more patient than the official
    /// SDK's 3 retries, since a lost batch costs more than a wait.
    pub const ENCORD: RetryPolicy = RetryPolicy {
        max_retries: 6,
        base: Duration::from_millis(250),
        max_delay: Duration::from_secs(30),
    };

    /// Agent attempts (a handler that failed or trapped runs again in a
    /// fresh instance): encord-agents' 3 retries, waiting ~100 ms, 200 ms,
    /// 400 ms, ... at most 5 s.
    pub const AGENT_ATTEMPTS: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(100),
        max_delay: Duration::from_secs(5),
    };

    /// Whether try number `attempt` (from 1) that failed may be retried.
    pub fn allows_retry(&self, attempt: u32) -> bool {
        attempt <= self.max_retries
    }

    /// The wait before the retry that follows failed try number `attempt`
    /// (from 1), without jitter: `base`, doubled per earlier retry, at most
    /// `max_delay`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay)
    }

    /// [`Self::delay`] with its jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.delay(attempt)
            .mul_f64(1.0 + rand::random_range(0.0..JITTER))
    }

    /// The wait before a retry the server timed with `Retry-After` seconds
    /// (none, or 0: the policy's own backoff).
    pub fn after(&self, attempt: u32, retry_after_s: Option<u64>) -> Duration {
        match retry_after_s {
            Some(s) if s > 0 => Duration::from_secs(s).min(self.max_delay),
            _ => self.backoff(attempt),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::ENCORD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_the_base_up_to_the_cap() {
        let p = RetryPolicy::AGENT_ATTEMPTS;
        let ms: Vec<u128> = (1..=8).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(RetryPolicy::ENCORD.delay(1), Duration::from_millis(250));
        assert_eq!(RetryPolicy::ENCORD.delay(40), Duration::from_secs(30));
    }

    #[test]
    fn jitter_adds_at_most_half_the_wait() {
        let p = RetryPolicy::ENCORD;
        for attempt in 1..=6 {
            for _ in 0..50 {
                let (d, b) = (p.delay(attempt), p.backoff(attempt));
                assert!(b >= d && b <= d.mul_f64(1.0 + JITTER), "{b:?} for {d:?}");
            }
        }
    }

    #[test]
    fn retries_stop_after_max_retries() {
        let p = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::ENCORD
        };
        assert!(p.allows_retry(1) && p.allows_retry(2));
        assert!(!p.allows_retry(3));
        let none = RetryPolicy {
            max_retries: 0,
            ..p
        };
        assert!(!none.allows_retry(1));
    }

    #[test]
    fn retry_after_overrides_the_backoff_within_the_cap() {
        let p = RetryPolicy::ENCORD;
        assert_eq!(p.after(1, Some(7)), Duration::from_secs(7));
        assert_eq!(p.after(1, Some(3600)), Duration::from_secs(30));
        let own = p.after(1, Some(0));
        assert!(own >= p.delay(1) && own <= p.delay(1).mul_f64(1.5));
    }
}
