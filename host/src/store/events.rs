//! Event ingress: each event stored once by its id (`workflow_runtime_events`), the waiting
//! runs it may resume found through the wait projection, and the routing outcome recorded.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, Store, StoreError};

/// An inbound event.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The dedupe key.
    pub event_id: Uuid,
    /// Tenant.
    pub tenant: Uuid,
    /// Event name.
    pub event_name: String,
    /// Correlation key.
    pub correlation_key: Option<String>,
    /// Payload.
    pub payload: Value,
}

/// What storing an event found.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// A new event: route it.
    New,
    /// Seen before: its first outcome, and nothing is signalled again.
    Duplicate {
        /// The run it resumed, if any.
        matched_run_id: Option<Uuid>,
        /// Its routing error, if any.
        error_message: Option<String>,
    },
}

/// A run waiting for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRun {
    /// Our run id.
    pub run_id: Uuid,
}

impl Store {
    /// Stores an event once; a second submission of the same id is a duplicate.
    pub async fn record_event(&self, event: &NewEvent) -> Result<Recorded, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO workflow_runtime_events
                 (event_id, tenant, event_name, correlation_key, payload)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event.event_id)
        .bind(event.tenant)
        .bind(&event.event_name)
        .bind(&event.correlation_key)
        .bind(Json(&event.payload))
        .execute(self.pool())
        .await
        .context(format!("recording event {}", event.event_id))?;
        if inserted.rows_affected() == 1 {
            return Ok(Recorded::New);
        }
        let (matched_run_id, error_message): (Option<Uuid>, Option<String>) = sqlx::query_as(
            "SELECT matched_run_id, error_message FROM workflow_runtime_events
             WHERE event_id = $1 AND tenant = $2",
        )
        .bind(event.event_id)
        .bind(event.tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading event {}", event.event_id))?
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "event id {} is already used by another tenant",
                event.event_id
            ))
        })?;
        Ok(Recorded::Duplicate {
            matched_run_id,
            error_message,
        })
    }

    /// Runs of the tenant waiting on this event name and correlation key.
    pub async fn waiting_runs(
        &self,
        tenant: Uuid,
        event_name: &str,
        correlation_key: Option<&str>,
    ) -> Result<Vec<WaitingRun>, StoreError> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT DISTINCT w.run_id FROM workflow_run_waits w
             WHERE w.tenant = $1 AND w.event_name = $2 AND w.key IS NOT DISTINCT FROM $3
               AND w.status = 'WAITING' AND w.wait_type = 'event'",
        )
        .bind(tenant)
        .bind(event_name)
        .bind(correlation_key)
        .fetch_all(self.pool())
        .await
        .context(format!("finding runs waiting for {event_name}"))?;
        Ok(rows
            .into_iter()
            .map(|(run_id,)| WaitingRun { run_id })
            .collect())
    }

    /// Records where an event went.
    pub async fn event_routed(
        &self,
        event_id: Uuid,
        matched_run_id: Option<Uuid>,
        error_message: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_runtime_events SET processed_at = now(), matched_run_id = $2,
                 error_message = $3 WHERE event_id = $1",
        )
        .bind(event_id)
        .bind(matched_run_id)
        .bind(error_message)
        .execute(self.pool())
        .await
        .context(format!("recording where event {event_id} went"))?;
        Ok(())
    }
}
