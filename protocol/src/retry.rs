//! An authored retry policy: how many attempts, how far apart, for which failures.

/// An authored retry policy (dsl-semantics §3.4), for activities whose retries map onto
/// Temporal's own retry policy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Total attempts including the first.
    pub max_attempts: u32,
    /// Base delay.
    pub backoff_ms: u64,
    /// Growth factor of the delay (default 2).
    pub backoff_multiplier: f64,
    /// The authored `jitter` flag, carried as written; delays ignore it so that runs are
    /// reproducible (docs/divergences.md).
    pub jitter: bool,
    /// Cap on one delay.
    pub max_delay_ms: Option<u64>,
    /// Retryable categories; empty or absent retries every category.
    pub retry_on: Vec<String>,
}

impl RetryPolicy {
    /// Delay before attempt `failed_attempt + 1`: `floor(min(backoff * mult^(n-1), cap))`.
    pub fn delay_after(&self, failed_attempt: u32) -> u64 {
        let exponent = failed_attempt.saturating_sub(1) as i32;
        let raw = self.backoff_ms as f64 * self.backoff_multiplier.powi(exponent);
        let capped = match self.max_delay_ms {
            Some(cap) => raw.min(cap as f64),
            None => raw,
        };
        if capped.is_finite() {
            capped.floor().max(0.0) as u64
        } else {
            self.max_delay_ms.unwrap_or(u64::MAX / 2)
        }
    }

    /// Whether a failure of `category` after `attempt` attempts is retried.
    pub fn retries(&self, category: &str, attempt: u32) -> bool {
        attempt < self.max_attempts && self.retries_category(category)
    }

    /// Whether failures of `category` are retried at all.
    pub fn retries_category(&self, category: &str) -> bool {
        self.retry_on.is_empty() || self.retry_on.iter().any(|c| c == category)
    }

    /// Whether Temporal's activity retry policy gives exactly these attempts and delays: it
    /// needs a positive first interval, a coefficient of at least 1, and a cap no smaller than
    /// the first interval. A zero-delay policy stays with the interpreter, which retries at once.
    pub fn maps_onto_temporal(&self) -> bool {
        self.max_attempts > 1
            && self.backoff_ms >= 1
            && self.backoff_multiplier >= 1.0
            && self.backoff_multiplier.is_finite()
            && self.max_delay_ms.is_none_or(|cap| cap >= self.backoff_ms)
    }
}
