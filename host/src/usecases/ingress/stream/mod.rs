//! The event bus: the product publishes every domain event on a Redis stream
//! (`workflow:events:global`), and this consumer, one of a consumer group
//! (`workflow-runtime-v2`) that any number of workers join, hands each to the same ingress as
//! the API (`persistence-and-api.md` §3.1).
//!
//! A message is acknowledged only once its event is stored: from then on its deliveries and
//! launches are the database's to finish (the sweeper routes a stored event that was never
//! routed and resends a delivery that failed), so losing the consumer after that loses
//! nothing. Before that, a message stays pending in the group: a restarted consumer reads its
//! own pending messages first, and any consumer claims one another has held idle past
//! `claim_idle` (`XAUTOCLAIM`), so a dead consumer's messages are taken over. Handling twice is
//! harmless, since the event id is the dedupe key and deliveries and launches are claimed once.
//!
//! Failures are told apart. A message that cannot be handled (not an event; a value the
//! database refuses) fails the same way each time: after `max_deliveries` it moves to the
//! dead-letter stream with its error. A dependency that is away (PostgreSQL, Redis) fails
//! every message alike: the consumer holds on and retries with backoff, and nothing is
//! dead-lettered for it, so an outage delays events and never discards them.
//!
//! Messages are handled one at a time in stream order: the order the product published is the
//! order runs hear (the reference handles a batch of ten at once).

mod message;

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamPendingCountReply,
    StreamReadOptions, StreamReadReply,
};
use thiserror::Error;
use tokio::time::Instant;

use super::{CorrelationPaths, Ingress};
use crate::store::{FailureClass, StoreError};

pub use message::{BadMessage, MAX_PAYLOAD_BYTES, event_of};

/// Where the stream is and how the consumer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// `redis://host:port/db`.
    pub url: String,
    /// The stream's key.
    pub stream: String,
    /// The consumer group.
    pub group: String,
    /// This consumer's name in the group: stable across restarts, so a restarted consumer
    /// finds its own pending messages at once.
    pub consumer: String,
    /// Messages read at a time.
    pub batch: usize,
    /// How long one read waits for new messages.
    pub block: Duration,
    /// How long a message may stay pending with one consumer before another takes it over.
    pub claim_idle: Duration,
    /// Deliveries after which a message that fails is dead-lettered.
    pub max_deliveries: usize,
}

impl StreamSettings {
    /// The reference's stream, group and limits, at `url`, as `consumer`.
    pub fn new(url: impl Into<String>, consumer: impl Into<String>) -> StreamSettings {
        StreamSettings {
            url: url.into(),
            stream: "workflow:events:global".into(),
            group: "workflow-runtime-v2".into(),
            consumer: consumer.into(),
            batch: 10,
            block: Duration::from_secs(2),
            claim_idle: Duration::from_secs(30),
            max_deliveries: 3,
        }
    }

    /// Whether the URL can be used (checked at start, so a mistyped one stops the worker with
    /// the reason instead of leaving the stream unread).
    pub fn check(&self) -> Result<(), StreamError> {
        redis::Client::open(self.url.as_str())
            .map(drop)
            .map_err(StreamError::Url)
    }

    /// The dead-letter stream: the stream's key and `:dlq`.
    pub fn dead_letters(&self) -> String {
        format!("{}:dlq", self.stream)
    }
}

/// Why the consumer cannot start.
#[derive(Debug, Error)]
pub enum StreamError {
    /// The Redis URL is malformed.
    #[error("the Redis URL: {0}")]
    Url(redis::RedisError),
}

/// What became of one message.
enum Handled {
    /// Its event is stored (now or before): acknowledge it.
    Stored,
    /// It can never be handled; the reason.
    Poison(String),
    /// A dependency is away; the reason. Try again later, without counting it.
    Unavailable(String),
}

/// The consumer: one connection (re-established by itself when Redis comes back) and where it
/// is in the stream.
struct Consumer<'a> {
    ingress: Ingress<'a>,
    correlation: &'a CorrelationPaths,
    settings: &'a StreamSettings,
    redis: ConnectionManager,
    group_ready: bool,
    /// Reading this consumer's own pending messages (from a previous life, or held back by an
    /// outage) from this id, before new ones.
    own_pending: Option<String>,
    /// Where the next `XAUTOCLAIM` scan starts, and when it is due.
    claim_cursor: String,
    next_claim: Instant,
}

/// Consumes the stream until `shutdown` resolves (a message being handled is finished first).
/// Redis being away is retried, never an error; only a malformed URL stops it.
pub async fn consume(
    ingress: Ingress<'_>,
    correlation: &CorrelationPaths,
    settings: &StreamSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StreamError> {
    let client = redis::Client::open(settings.url.as_str()).map_err(StreamError::Url)?;
    let config = ConnectionManagerConfig::new()
        // A blocking read answers after `block`; only past that is the connection stuck.
        .set_response_timeout(Some(settings.block + Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_max_delay(Duration::from_secs(5));
    // Lazy: a worker starts while Redis is away and consumes once it is back.
    let redis =
        ConnectionManager::new_lazy_with_config(client, config).map_err(StreamError::Url)?;
    let mut consumer = Consumer {
        ingress,
        correlation,
        settings,
        redis,
        group_ready: false,
        own_pending: Some("0".into()),
        claim_cursor: "0-0".into(),
        next_claim: Instant::now(),
    };
    tracing::info!(
        stream = %settings.stream,
        group = %settings.group,
        consumer = %settings.consumer,
        "consuming the event stream"
    );
    let mut shutdown = pin!(shutdown);
    let mut backoff = Backoff::default();
    loop {
        let fetched = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            fetched = consumer.fetch() => fetched,
        };
        let pause = match fetched {
            Ok(entries) => match consumer.handle_all(entries).await {
                Ok(()) => {
                    backoff.reset();
                    continue;
                }
                Err(reason) => {
                    tracing::warn!(%reason, "event stream: a dependency is away; retrying");
                    // What was not acknowledged is read again from this consumer's pending.
                    consumer.own_pending = Some("0".into());
                    backoff.next()
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "event stream: Redis failed; retrying");
                consumer.group_ready = false;
                backoff.next()
            }
        };
        metrics::counter!("alga_wf_stream_retries_total").increment(1);
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

impl Consumer<'_> {
    /// The next messages to handle: this consumer's own pending ones first, then those other
    /// consumers left idle too long, then new ones (waiting up to `block` for them).
    async fn fetch(&mut self) -> redis::RedisResult<Vec<StreamId>> {
        let s = self.settings;
        if !self.group_ready {
            // From the stream's start: events published before any consumer existed are not
            // lost. An existing group (the reference's, on a handover) keeps its position.
            let created: redis::RedisResult<()> = self
                .redis
                .xgroup_create_mkstream(&s.stream, &s.group, "0")
                .await;
            match created {
                Ok(()) => tracing::info!(group = %s.group, "created the consumer group"),
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e),
            }
            self.group_ready = true;
        }
        if let Some(from) = self.own_pending.take() {
            let options = StreamReadOptions::default()
                .group(&s.group, &s.consumer)
                .count(s.batch);
            let reply: StreamReadReply = self
                .redis
                .xread_options(&[&s.stream], &[&from], &options)
                .await?;
            let entries = entries_of(reply);
            if let Some(last) = entries.last() {
                self.own_pending = Some(last.id.clone());
                return Ok(entries);
            }
        }
        if Instant::now() >= self.next_claim {
            let reply: StreamAutoClaimReply = self
                .redis
                .xautoclaim_options(
                    &s.stream,
                    &s.group,
                    &s.consumer,
                    millis(s.claim_idle),
                    &self.claim_cursor,
                    StreamAutoClaimOptions::default().count(s.batch),
                )
                .await?;
            self.claim_cursor = reply.next_stream_id;
            if self.claim_cursor == "0-0" {
                // A full scan is done; the next is due when a message could have gone idle.
                self.next_claim =
                    Instant::now() + (s.claim_idle / 2).max(Duration::from_millis(500));
            }
            if !reply.claimed.is_empty() {
                tracing::info!(count = reply.claimed.len(), "claimed idle messages");
                return Ok(reply.claimed);
            }
        }
        let options = StreamReadOptions::default()
            .group(&s.group, &s.consumer)
            .count(s.batch)
            .block(millis(s.block));
        let reply: Option<StreamReadReply> = self
            .redis
            .xread_options(&[&s.stream], &[">"], &options)
            .await?;
        Ok(reply.map(entries_of).unwrap_or_default())
    }

    /// Handles messages in order; stops at the first that meets an outage (it and the rest
    /// stay pending, to be read again).
    async fn handle_all(&mut self, entries: Vec<StreamId>) -> Result<(), String> {
        for entry in entries {
            match self.handle(&entry).await {
                Handled::Stored => {
                    fail::fail_point!("stream-before-ack", |_| std::process::abort());
                    self.acknowledge(&entry.id)
                        .await
                        .map_err(|e| format!("acknowledging {}: {e}", entry.id))?;
                    metrics::counter!("alga_wf_stream_events_total", "outcome" => "stored")
                        .increment(1);
                }
                Handled::Poison(error) => self
                    .poisoned(&entry, &error)
                    .await
                    .map_err(|e| format!("dead-lettering {}: {e}", entry.id))?,
                Handled::Unavailable(reason) => return Err(reason),
            }
        }
        Ok(())
    }

    async fn handle(&self, entry: &StreamId) -> Handled {
        let event = match event_of(&entry.map, self.correlation) {
            Ok(event) => event,
            Err(bad) => return Handled::Poison(bad.to_string()),
        };
        match self.ingress.submit(event).await {
            Ok(routed) => {
                tracing::debug!(id = %entry.id, status = routed.status, "event from the stream");
                Handled::Stored
            }
            Err(e) if is_permanent(&e) => Handled::Poison(e.to_string()),
            Err(e) => Handled::Unavailable(e.to_string()),
        }
    }

    async fn acknowledge(&mut self, id: &str) -> redis::RedisResult<()> {
        let s = self.settings;
        self.redis.xack(&s.stream, &s.group, &[id]).await
    }

    /// A message that failed for good: left pending to be tried again until it has been
    /// delivered `max_deliveries` times, then copied to the dead-letter stream with its error
    /// and acknowledged, both at once.
    async fn poisoned(&mut self, entry: &StreamId, error: &str) -> redis::RedisResult<()> {
        let s = self.settings;
        let pending: StreamPendingCountReply = self
            .redis
            .xpending_count(&s.stream, &s.group, &entry.id, &entry.id, 1)
            .await?;
        let deliveries = pending.ids.first().map_or(1, |p| p.times_delivered);
        if deliveries < s.max_deliveries {
            tracing::warn!(id = %entry.id, deliveries, %error, "event stream: a message failed; it will be tried again");
            metrics::counter!("alga_wf_stream_events_total", "outcome" => "failed").increment(1);
            return Ok(());
        }
        let mut fields: Vec<(String, Vec<u8>)> = entry
            .map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), redis::from_redis_value_ref::<Vec<u8>>(v).ok()?)))
            .collect();
        fields.sort();
        fields.extend([
            ("error".to_owned(), error.as_bytes().to_vec()),
            ("source_stream".to_owned(), s.stream.as_bytes().to_vec()),
            ("source_id".to_owned(), entry.id.as_bytes().to_vec()),
            ("deliveries".to_owned(), deliveries.to_string().into_bytes()),
        ]);
        redis::pipe()
            .atomic()
            .xadd(s.dead_letters(), "*", &fields)
            .ignore()
            .xack(&s.stream, &s.group, &[&entry.id])
            .ignore()
            .query_async::<()>(&mut self.redis)
            .await?;
        tracing::error!(id = %entry.id, deliveries, %error, dead_letters = %s.dead_letters(), "event stream: a message was dead-lettered");
        metrics::counter!("alga_wf_stream_events_total", "outcome" => "dead_lettered").increment(1);
        Ok(())
    }
}

/// Whether the database refused the event itself (it would refuse it again), as opposed to
/// being unreachable or busy.
fn is_permanent(error: &StoreError) -> bool {
    matches!(error, StoreError::Invalid(_))
        || matches!(
            error.class(),
            FailureClass::RejectedValue | FailureClass::Constraint
        )
}

fn entries_of(reply: StreamReadReply) -> Vec<StreamId> {
    reply.keys.into_iter().flat_map(|key| key.ids).collect()
}

fn millis(duration: Duration) -> usize {
    usize::try_from(duration.as_millis()).unwrap_or(usize::MAX)
}

/// 100 ms doubling to 5 s.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let delay = Duration::from_millis(100) * 2u32.saturating_pow(self.failures.min(6));
        self.failures = self.failures.saturating_add(1);
        delay.min(Duration::from_secs(5))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}
