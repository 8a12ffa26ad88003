//! Delivering an event to a run: the `(event, run)` row is claimed first and the signal sent
//! by whoever claimed it, so ingress and the worker can both try without a run ever seeing
//! an event twice. A failed signal gives the claim back, and the sweeper sends it later.

use serde_json::json;
use uuid::Uuid;

use crate::store::{RunAddress, Store, StoreError, StoredEvent};

/// Signals `run_id` with `event` unless it was delivered already. `Ok(true)` when this call
/// delivered it; `Err` says why the signal failed.
pub(super) async fn deliver(
    store: &Store,
    client: &temporalio_client::Client,
    event: &StoredEvent,
    run: &RunAddress,
) -> Result<bool, String> {
    let run_id = run.run_id;
    let claimed = store
        .claim_delivery(event, run_id)
        .await
        .map_err(|e| format!("run {run_id}: {e}"))?;
    if !claimed {
        return Ok(false);
    }
    let signal = json!({
        "eventId": event.event_id,
        "eventName": event.event_name,
        "correlationKey": event.correlation_key,
        "payload": event.payload,
        "receivedAt": event.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let sent = match injected_failure() {
        Some(failure) => Err(anyhow::anyhow!(failure)),
        None => {
            crate::temporal::signal_workflow(
                client,
                &run.temporal_workflow_id,
                alga_protocol::names::EVENT_SIGNAL,
                &signal,
            )
            .await
        }
    };
    match sent {
        Ok(()) => {
            metrics::counter!("alga_wf_events_delivered_total").increment(1);
            Ok(true)
        }
        Err(e) => {
            if let Err(released) = store.release_delivery(event, run_id).await {
                tracing::error!(%run_id, "releasing a failed delivery: {released}");
            }
            Err(format!("run {run_id}: {e:#}"))
        }
    }
}

/// The `delivery-signal` failpoint (`FAILPOINTS=delivery-signal=1*return`): a signal that
/// fails as Temporal's would, for the tests of what happens after.
fn injected_failure() -> Option<String> {
    fail::fail_point!("delivery-signal", |_| Some(
        "the delivery-signal failpoint failed this signal".to_owned()
    ));
    None
}

/// Called by the worker once a run's new event wait is stored: delivers every event of the
/// wait's name and key that arrived since the run started and has not reached it, which
/// covers an event that came before its wait was registered. Returns how many it delivered.
pub async fn deliver_to_new_wait(
    store: &Store,
    client: &temporalio_client::Client,
    tenant: Uuid,
    run_id: &str,
    event_name: &str,
    correlation_key: Option<&str>,
) -> Result<usize, StoreError> {
    let run = RunAddress::of(run_id);
    let events = store
        .undelivered_events(tenant, run.run_id, event_name, correlation_key)
        .await?;
    let mut delivered = 0;
    for event in &events {
        match deliver(store, client, event, &run).await {
            Ok(true) => delivered += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(run_id, event_id = %event.event_id, "late delivery: {e}"),
        }
    }
    Ok(delivered)
}

/// Delivers `events` to `run_id` in order (a redrive gets the events its failed run had);
/// returns the failures.
pub async fn redeliver(
    store: &Store,
    client: &temporalio_client::Client,
    events: &[StoredEvent],
    run: &RunAddress,
) -> Vec<String> {
    let mut failures = Vec::new();
    for event in events {
        if let Err(e) = deliver(store, client, event, run).await {
            failures.push(e);
        }
    }
    failures
}
