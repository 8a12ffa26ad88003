//! Per-tenant start-rate limits: every request that can start runs (a start, an event, a
//! replay or redrive) takes a token from its tenant's bucket; an empty bucket is a 429 with
//! `Retry-After`. Buckets live in the process, so each API replica limits on its own.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use super::error::ApiError;

/// How fast each tenant may start runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRate {
    /// Starts per second; 0 turns the limit off.
    pub per_second: u32,
    /// Starts allowed at once before the rate applies.
    pub burst: u32,
}

/// Token buckets per tenant.
pub struct StartLimiter {
    limiter: Option<DefaultKeyedRateLimiter<Uuid>>,
}

impl StartLimiter {
    /// Buckets refilled at `rate`.
    pub fn new(rate: StartRate) -> Self {
        let StartRate { per_second, burst } = rate;
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        StartLimiter { limiter }
    }

    /// Takes a token for `tenant`, or says when to retry.
    pub fn check(&self, tenant: Uuid) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&tenant).map_err(|not_until| {
            metrics::counter!("alga_wf_rate_limited_total").increment(1);
            let wait = not_until.wait_time_from(limiter.clock().now());
            let seconds = wait.max(Duration::from_secs(1)).as_secs_f64().ceil() as u64;
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("this tenant is starting runs too fast; retry in {seconds} s"),
            )
            .with_retry_after(seconds)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_past_its_burst_is_refused_and_others_are_not() {
        let limiter = StartLimiter::new(StartRate {
            per_second: 1,
            burst: 2,
        });
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
        assert!(limiter.check(b).is_ok());
        let off = StartRate {
            per_second: 0,
            burst: 0,
        };
        assert!(StartLimiter::new(off).check(a).is_ok());
    }
}
