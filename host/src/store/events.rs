//! Event ingress: each event stored once by its tenant and id (`workflow_runtime_events`), the
//! waiting runs it may resume found through the wait projection, and the routing outcome
//! recorded. Every statement names the event's tenant: event ids are unique per tenant, so an
//! id alone does not name an event.

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
    /// Further keys read from its payload (the event bus's events): a run waiting on any of
    /// them is resumed too.
    pub other_keys: Vec<String>,
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

/// A stored event, as routing and the API read it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// Its tenant.
    pub tenant: Uuid,
    /// The dedupe key, unique within the tenant.
    pub event_id: Uuid,
    /// Event name.
    pub event_name: String,
    /// Correlation key (for a delivery: the key of the wait it matched).
    pub correlation_key: Option<String>,
    /// Further keys read from its payload; a run waiting on any of them is resumed too.
    pub other_keys: Vec<String>,
    /// Payload.
    pub payload: Value,
    /// When it arrived.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// Where a run is: our id and its Temporal workflow id (a scheduled fire's is not derived
/// from our id, so it is read from the run row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAddress {
    /// Our run id.
    pub run_id: Uuid,
    /// The Temporal workflow id.
    pub temporal_workflow_id: String,
}

impl RunAddress {
    /// The address of a run from its row: the stored Temporal workflow id, else the one
    /// derived from the run id (rows made before the workflow started).
    pub fn stored(run_id: Uuid, temporal_workflow_id: Option<String>) -> RunAddress {
        RunAddress {
            run_id,
            temporal_workflow_id: temporal_workflow_id
                .unwrap_or_else(|| crate::temporal::RunId::from(run_id).workflow_id()),
        }
    }

    /// The address of a run the interpreter knows by `run_id`.
    pub fn of(run_id: &str) -> RunAddress {
        let run = crate::temporal::RunId::new(run_id);
        RunAddress {
            run_id: run.row_uuid(),
            temporal_workflow_id: run.workflow_id(),
        }
    }
}

impl Store {
    /// Stores an event once; a second submission of the same id by the same tenant is a
    /// duplicate. Another tenant's use of the id is another event.
    pub async fn record_event(&self, event: &NewEvent) -> Result<Recorded, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO workflow_runtime_events
                 (event_id, tenant, event_name, correlation_key, payload, correlation_keys)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant, event_id) DO NOTHING",
        )
        .bind(event.event_id)
        .bind(event.tenant)
        .bind(&event.event_name)
        .bind(&event.correlation_key)
        .bind(Json(&event.payload))
        .bind((!event.other_keys.is_empty()).then(|| {
            event
                .correlation_key
                .iter()
                .chain(&event.other_keys)
                .cloned()
                .collect::<Vec<_>>()
        }))
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
        // The conflict was on this tenant's row; only a retention purge in between removes it.
        .ok_or_else(|| StoreError::NotFound(format!("no event {}", event.event_id)))?;
        Ok(Recorded::Duplicate {
            matched_run_id,
            error_message,
        })
    }

    /// Runs of the tenant waiting on this event name and correlation key, or one of
    /// `other_keys`; each with the key its wait has (the first, for a run waiting on several).
    pub async fn waiting_runs(
        &self,
        tenant: Uuid,
        event_name: &str,
        correlation_key: Option<&str>,
        other_keys: &[String],
    ) -> Result<Vec<(RunAddress, Option<String>)>, StoreError> {
        let rows: Vec<(Uuid, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT DISTINCT ON (w.run_id) w.run_id, r.temporal_workflow_id, w.key
             FROM workflow_run_waits w
             JOIN workflow_runs r ON r.run_id = w.run_id
             WHERE w.tenant = $1 AND w.event_name = $2
               AND (w.key IS NOT DISTINCT FROM $3 OR w.key = ANY($4))
               AND w.status = 'WAITING' AND w.wait_type = 'event'
             ORDER BY w.run_id, w.key IS DISTINCT FROM $3, array_position($4, w.key)",
        )
        .bind(tenant)
        .bind(event_name)
        .bind(correlation_key)
        .bind(other_keys)
        .fetch_all(self.pool())
        .await
        .context(format!("finding runs waiting for {event_name}"))?;
        Ok(rows
            .into_iter()
            .map(|(run_id, temporal, key)| (RunAddress::stored(run_id, temporal), key))
            .collect())
    }

    /// Records where an event went.
    pub async fn event_routed(
        &self,
        tenant: Uuid,
        event_id: Uuid,
        matched_run_id: Option<Uuid>,
        error_message: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_runtime_events SET processed_at = now(), matched_run_id = $2,
                 error_message = $3 WHERE event_id = $1 AND tenant = $4",
        )
        .bind(event_id)
        .bind(matched_run_id)
        .bind(error_message)
        .bind(tenant)
        .execute(self.pool())
        .await
        .context(format!("recording where event {event_id} went"))?;
        Ok(())
    }

    /// Claims the delivery of an event to a run of its tenant: true for the first claimant
    /// only, who then signals the run.
    pub async fn claim_delivery(
        &self,
        event: &StoredEvent,
        run_id: Uuid,
    ) -> Result<bool, StoreError> {
        let (tenant, event_id) = (event.tenant, event.event_id);
        let inserted = sqlx::query(
            // Only a run of the event's own tenant can be claimed, whoever asks.
            "INSERT INTO workflow_event_deliveries (event_id, run_id, tenant)
             SELECT $1, $2, $3
             WHERE EXISTS (SELECT 1 FROM workflow_runs WHERE run_id = $2 AND tenant = $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(event_id)
        .bind(run_id)
        .bind(tenant)
        .execute(self.pool())
        .await
        .context(format!(
            "claiming delivery of event {event_id} to run {run_id}"
        ))?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Gives a delivery back after its signal failed, so a later attempt may deliver it.
    pub async fn release_delivery(
        &self,
        event: &StoredEvent,
        run_id: Uuid,
    ) -> Result<(), StoreError> {
        let event_id = event.event_id;
        sqlx::query(
            "DELETE FROM workflow_event_deliveries
             WHERE event_id = $1 AND run_id = $2 AND tenant = $3",
        )
        .bind(event_id)
        .bind(run_id)
        .bind(event.tenant)
        .execute(self.pool())
        .await
        .context(format!(
            "releasing delivery of event {event_id} to run {run_id}"
        ))?;
        Ok(())
    }

    /// Events a newly opened wait may still need: the run's tenant, the wait's name and key,
    /// received since the run started, and not yet delivered to it; oldest first.
    pub async fn undelivered_events(
        &self,
        tenant: Uuid,
        run_id: Uuid,
        event_name: &str,
        correlation_key: Option<&str>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT e.tenant, e.event_id, e.event_name, $3 AS correlation_key, e.payload,
                    e.created_at
                 FROM workflow_runs r
                 JOIN workflow_runtime_events e
                   ON e.tenant = r.tenant AND e.event_name = $2
                  AND (e.correlation_key IS NOT DISTINCT FROM $3
                       OR e.correlation_keys @> ARRAY[$3]::text[])
                  AND e.created_at >= r.started_at
                 WHERE r.run_id = $1 AND r.tenant = $4
                   AND NOT EXISTS (SELECT 1 FROM workflow_event_deliveries d
                                   WHERE d.event_id = e.event_id AND d.run_id = r.run_id
                                     AND d.tenant = e.tenant)
                 ORDER BY e.created_at, e.event_id",
        )
        .bind(run_id)
        .bind(event_name)
        .bind(correlation_key)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("finding events for the new wait of run {run_id}"))?;
        Ok(rows.into_iter().filter_map(stored_event).collect())
    }

    /// Deliveries that should have happened and did not: an event of a run's tenant, name and
    /// key that arrived since the run started, while the run has that wait open, and has no
    /// delivery row (its signal failed and was released, or the process that would have sent
    /// it died). Oldest first, at most `limit`; the sweeper sends them.
    pub async fn stranded_deliveries(
        &self,
        limit: i64,
    ) -> Result<Vec<(RunAddress, StoredEvent)>, StoreError> {
        let rows: Vec<StrandedRow> = sqlx::query_as(
            "SELECT DISTINCT ON (e.created_at, e.event_id, w.run_id)
                    w.run_id, r.temporal_workflow_id,
                    e.tenant, e.event_id, e.event_name, w.key AS correlation_key, e.payload,
                    e.created_at
             FROM workflow_run_waits w
             JOIN workflow_runs r ON r.run_id = w.run_id AND r.status IN ('RUNNING', 'WAITING')
             JOIN workflow_runtime_events e
               ON e.tenant = w.tenant AND e.event_name = w.event_name
              AND (e.correlation_key IS NOT DISTINCT FROM w.key
                   OR e.correlation_keys @> ARRAY[w.key])
              AND e.created_at >= r.started_at
             WHERE w.status = 'WAITING' AND w.wait_type = 'event'
               AND NOT EXISTS (SELECT 1 FROM workflow_event_deliveries d
                               WHERE d.event_id = e.event_id AND d.run_id = w.run_id
                                 AND d.tenant = e.tenant)
             ORDER BY e.created_at, e.event_id, w.run_id
             LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("finding stranded deliveries")?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let run = RunAddress::stored(row.run_id, row.temporal_workflow_id);
                Some((run, stored_event(row.event)?))
            })
            .collect())
    }

    /// Events that were stored but never routed (the process stopped in between), oldest
    /// first; routing them again is safe because deliveries and launches are deduplicated.
    pub async fn unrouted_events(&self, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT tenant, event_id, event_name, correlation_key, payload, created_at,
                    correlation_keys
                 FROM workflow_runtime_events WHERE processed_at IS NULL AND tenant IS NOT NULL
                 ORDER BY created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("finding unrouted events")?;
        Ok(rows.into_iter().filter_map(stored_event).collect())
    }

    /// Events delivered to a run of the tenant, oldest first (a redrive hands them to its new
    /// run).
    pub async fn delivered_events(
        &self,
        tenant: Uuid,
        run_id: Uuid,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT e.tenant, e.event_id, e.event_name, e.correlation_key, e.payload, e.created_at
             FROM workflow_event_deliveries d
             JOIN workflow_runtime_events e ON e.event_id = d.event_id AND e.tenant = d.tenant
             WHERE d.run_id = $1 AND d.tenant = $2 ORDER BY d.delivered_at, e.created_at",
        )
        .bind(run_id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("reading the events delivered to run {run_id}"))?;
        Ok(rows.into_iter().filter_map(stored_event).collect())
    }

    /// A tenant's events, newest first, optionally of one name: `(events, next cursor)`.
    pub async fn list_events(
        &self,
        tenant: Uuid,
        event_name: Option<&str>,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let rows: Vec<EventRecord> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS}, '{{}}'::uuid[] AS delivered_to
             FROM workflow_runtime_events e
             WHERE tenant = $1 AND ($2::text IS NULL OR event_name = $2)
             ORDER BY created_at DESC, event_id LIMIT $3 OFFSET $4"
        ))
        .bind(tenant)
        .bind(event_name)
        .bind(limit)
        .bind(cursor)
        .fetch_all(self.pool())
        .await
        .context("listing events")?;
        Ok(rows)
    }

    /// One of the tenant's events with the runs it was delivered to.
    pub async fn get_event(&self, tenant: Uuid, event_id: Uuid) -> Result<EventRecord, StoreError> {
        let row: Option<EventRecord> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS}, COALESCE(
                 (SELECT array_agg(d.run_id ORDER BY d.delivered_at)
                  FROM workflow_event_deliveries d
                  WHERE d.event_id = e.event_id AND d.tenant = e.tenant), '{{}}') AS delivered_to
             FROM workflow_runtime_events e WHERE tenant = $1 AND event_id = $2"
        ))
        .bind(tenant)
        .bind(event_id)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading event {event_id}"))?;
        row.ok_or_else(|| StoreError::NotFound(format!("no event {event_id}")))
    }
}

/// A stored event as the API reads it, with the runs it was delivered to (listing leaves
/// those out).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRecord {
    /// The event's id (unique per tenant).
    pub event_id: Uuid,
    /// Its name.
    pub event_name: String,
    /// Its correlation key.
    pub correlation_key: Option<String>,
    /// Its payload.
    pub payload: Option<Json<Value>>,
    /// The schema its payload claims.
    pub payload_schema_ref: Option<String>,
    /// When it was stored.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was routed.
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The first run it resumed, else the first it started.
    pub matched_run_id: Option<Uuid>,
    /// What went wrong routing it.
    pub error_message: Option<String>,
    /// The runs it was delivered to, in order.
    pub delivered_to: Vec<Uuid>,
}

/// The columns of [`EventRecord`] but `delivered_to` (`e` is `workflow_runtime_events`).
const EVENT_COLUMNS: &str = "e.event_id, e.event_name, e.correlation_key, e.payload,
    e.payload_schema_ref, e.created_at, e.processed_at, e.matched_run_id, e.error_message";

#[derive(sqlx::FromRow)]
struct StrandedRow {
    run_id: Uuid,
    temporal_workflow_id: Option<String>,
    #[sqlx(flatten)]
    event: EventRow,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    tenant: Option<Uuid>,
    event_id: Uuid,
    event_name: String,
    correlation_key: Option<String>,
    payload: Option<Json<Value>>,
    created_at: chrono::DateTime<chrono::Utc>,
    /// Read only where routing needs them (an unrouted event's).
    #[sqlx(default)]
    correlation_keys: Option<Vec<String>>,
}

/// The event of a row; `None` for a row without a tenant, which nothing routes (the API and
/// the sweeper never store one).
fn stored_event(row: EventRow) -> Option<StoredEvent> {
    Some(StoredEvent {
        tenant: row.tenant?,
        event_id: row.event_id,
        event_name: row.event_name,
        other_keys: row
            .correlation_keys
            .unwrap_or_default()
            .into_iter()
            .filter(|key| Some(key) != row.correlation_key.as_ref())
            .collect(),
        correlation_key: row.correlation_key,
        payload: row
            .payload
            .map(|Json(v)| v)
            .unwrap_or_else(|| serde_json::json!({})),
        received_at: row.created_at,
    })
}
