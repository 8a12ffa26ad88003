//! Event ingress: `POST /api/workflow/events` stores the event once by id, signals every run
//! of the tenant waiting on its name and correlation key, and records where it went. A
//! duplicate id returns the first outcome and signals nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiState;
use super::auth::Caller;
use super::body::Body;
use super::error::ApiError;
use crate::store::{NewEvent, Recorded, Role};

/// The request body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitRequest {
    event_id: Option<Uuid>,
    event_name: String,
    #[serde(alias = "workflowCorrelationKey")]
    correlation_key: Option<String>,
    #[serde(default)]
    payload: Value,
}

/// Submits an event.
pub async fn submit(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(request): Body<SubmitRequest>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manage)?;
    if request.event_name.trim().is_empty() {
        return Err(ApiError::bad_request("`eventName` is empty"));
    }
    let tenant = caller.0.tenant;
    let event = NewEvent {
        event_id: request.event_id.unwrap_or_else(Uuid::new_v4),
        tenant,
        event_name: request.event_name,
        correlation_key: request.correlation_key,
        payload: if request.payload.is_null() {
            json!({})
        } else {
            request.payload
        },
    };
    if let Recorded::Duplicate {
        matched_run_id,
        error_message,
    } = state.store.record_event(&event).await?
    {
        return Ok(Json(json!({
            "status": "duplicate",
            "eventId": event.event_id,
            "runId": matched_run_id,
            "error": error_message,
        })));
    }
    let waiting = state
        .store
        .waiting_runs(tenant, &event.event_name, event.correlation_key.as_deref())
        .await?;
    let signal = json!({
        "eventId": event.event_id,
        "eventName": event.event_name,
        "correlationKey": event.correlation_key,
        "payload": event.payload,
        "receivedAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let mut resumed = Vec::new();
    let mut failures = Vec::new();
    for run in &waiting {
        let run_id = run.run_id.to_string();
        match crate::worker::signal_run(
            &state.client,
            &run_id,
            alga_interpreter::machine::signals::EVENT_SIGNAL,
            &signal,
        )
        .await
        {
            Ok(()) => resumed.push(run.run_id),
            Err(e) => failures.push(format!("run {run_id}: {e:#}")),
        }
    }
    let error = (!failures.is_empty()).then(|| failures.join("; "));
    state
        .store
        .event_routed(event.event_id, resumed.first().copied(), error.as_deref())
        .await?;
    Ok(Json(json!({
        "status": if resumed.is_empty() { "no_wait" } else { "resumed" },
        "eventId": event.event_id,
        "runId": resumed.first(),
        "resumedRuns": resumed,
        "error": error,
    })))
}
