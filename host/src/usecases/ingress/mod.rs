//! Event ingress: an event is stored once by its id, delivered to every run of its tenant
//! waiting on its name and correlation key, and starts the published workflows whose event
//! trigger names it (`persistence-and-api.md` §3).
//!
//! `delivery` signals runs exactly once per (event, run), from either side of the race between
//! an event and the wait it is for; `triggers` maps and launches triggered workflows.
//! Everything here is safe to repeat, so events stored but never routed (a crash in between)
//! are simply routed again by [`Ingress::route_unrouted`], and `sweeper` does that and sends
//! every delivery that failed or was never made, on an interval, in every worker. Events come
//! in through the API, the CLI and the product's Redis stream (`stream`); each names its
//! correlation key or has one read from its payload (`correlation`).

mod correlation;
mod delivery;
pub mod stream;
mod sweeper;
mod triggers;

use serde::Serialize;
use uuid::Uuid;

use crate::store::{NewEvent, Recorded, Store, StoreError, StoredEvent};

pub use correlation::{CorrelationPaths, InvalidPaths};
pub use delivery::{deliver_to_new_wait, redeliver};
pub use sweeper::{DEFAULT_EXECUTION_TIMEOUT, SweepSettings, Swept};
pub use triggers::StartedRun;

/// What ingress needs: the database, Temporal, and the queue runs start on.
#[derive(Clone, Copy)]
pub struct Ingress<'a> {
    /// The database.
    pub store: &'a Store,
    /// Temporal.
    pub client: &'a temporalio_client::Client,
    /// The task queue triggered runs start on.
    pub task_queue: &'a str,
}

/// Where an event went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Routed {
    /// `resumed`, `started`, `no_wait` or `duplicate`.
    pub status: &'static str,
    /// The event's id.
    pub event_id: Uuid,
    /// The first run resumed, else the first run started.
    pub run_id: Option<Uuid>,
    /// Every run the event was delivered to.
    pub resumed_runs: Vec<Uuid>,
    /// Every run the event started.
    pub started_runs: Vec<StartedRun>,
    /// What went wrong delivering or launching, joined; routing still went on past it.
    pub error: Option<String>,
}

impl Ingress<'_> {
    /// Stores and routes an event; a duplicate id returns the first outcome and does nothing.
    pub async fn submit(&self, event: NewEvent) -> Result<Routed, StoreError> {
        if let Recorded::Duplicate {
            matched_run_id,
            error_message,
        } = self.store.record_event(&event).await?
        {
            return Ok(Routed {
                status: "duplicate",
                event_id: event.event_id,
                run_id: matched_run_id,
                resumed_runs: Vec::new(),
                started_runs: Vec::new(),
                error: error_message,
            });
        }
        let stored = StoredEvent {
            tenant: event.tenant,
            event_id: event.event_id,
            event_name: event.event_name,
            correlation_key: event.correlation_key,
            other_keys: event.other_keys,
            payload: event.payload,
            received_at: chrono::Utc::now(),
        };
        self.route(&stored).await
    }

    /// Delivers a stored event to the runs waiting for it and launches the workflows it
    /// triggers, then records the outcome on the event row. One failing run or workflow never
    /// stops the others.
    pub async fn route(&self, event: &StoredEvent) -> Result<Routed, StoreError> {
        let tenant = event.tenant;
        let mut errors = Vec::new();
        let mut resumed = Vec::new();
        let waiting = self
            .store
            .waiting_runs(
                tenant,
                &event.event_name,
                event.correlation_key.as_deref(),
                &event.other_keys,
            )
            .await?;
        for (run, key) in waiting {
            // The run hears the key its wait has (one of the event's, not always the first).
            let delivered = if key == event.correlation_key {
                delivery::deliver(self.store, self.client, event, &run).await
            } else {
                let matched = StoredEvent {
                    correlation_key: key,
                    ..event.clone()
                };
                delivery::deliver(self.store, self.client, &matched, &run).await
            };
            match delivered {
                Ok(_) => resumed.push(run.run_id),
                Err(e) => errors.push(e),
            }
        }
        let started = triggers::launch_triggered(self, tenant, event, &mut errors).await?;
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        let run_id = resumed
            .first()
            .copied()
            .or_else(|| started.first().map(|s| s.run_id));
        self.store
            .event_routed(tenant, event.event_id, run_id, error.as_deref())
            .await?;
        let status = match (resumed.is_empty(), started.is_empty()) {
            (false, _) => "resumed",
            (true, false) => "started",
            (true, true) => "no_wait",
        };
        Ok(Routed {
            status,
            event_id: event.event_id,
            run_id,
            resumed_runs: resumed,
            started_runs: started,
            error,
        })
    }

    /// Routes events stored but never routed (the process stopped in between); returns how
    /// many. Deliveries and launches are deduplicated, so nothing happens twice.
    pub async fn route_unrouted(&self) -> Result<usize, StoreError> {
        let pending = self.store.unrouted_events(1000).await?;
        for event in &pending {
            self.route(event).await?;
        }
        Ok(pending.len())
    }
}
