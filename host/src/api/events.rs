//! Events: `POST /api/workflow/events` hands the event to [`crate::usecases::ingress`] (stored once by
//! id, delivered to waiting runs, triggered workflows launched); list and get read them back.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToManage, ToRead};
use super::body::{Body, Params, PathParams, object_or_empty};
use super::error::ApiError;
use super::error::responses::{
    BadRequest, Forbidden, NotFound, RateLimited, TooLarge, Unauthorized,
};
use crate::store::EventRecord;
use crate::store::NewEvent;
use crate::usecases::ingress::{Ingress, Routed};

/// The request body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitRequest {
    event_id: Option<Uuid>,
    event_name: String,
    #[serde(alias = "workflowCorrelationKey")]
    correlation_key: Option<String>,
    #[serde(default)]
    payload: Value,
}

/// Submits an event: `{status, eventId, runId, resumedRuns, startedRuns, error}`.
#[utoipa::path(
    post,
    path = "/api/workflow/events",
    tag = "events",
    request_body = SubmitRequest,
    responses(
        (status = 200, description = "Success", body = Routed),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
        RateLimited,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn submit(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    Body(request): Body<SubmitRequest>,
) -> Result<Json<Routed>, ApiError> {
    state.start_limiter.check(caller.0.tenant)?;
    if request.event_name.trim().is_empty() {
        return Err(ApiError::bad_request("`eventName` is empty"));
    }
    let payload = object_or_empty(request.payload, "payload")?;
    let correlation_key = state.correlation.key_for(
        request.correlation_key.as_deref(),
        &request.event_name,
        &payload,
    );
    let event = NewEvent {
        event_id: request.event_id.unwrap_or_else(Uuid::new_v4),
        tenant: caller.0.tenant,
        event_name: request.event_name,
        correlation_key,
        // The API routes by one key, as the reference's does.
        other_keys: Vec::new(),
        payload,
    };
    metrics::counter!("alga_wf_events_ingested_total").increment(1);
    Ok(Json(state.ingress().submit(event).await?))
}

/// A stored event as the API shows it: the `workflow_runtime_events` row without its tenant,
/// camelCase, and (when one event is read) the runs it was delivered to.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    event_id: Uuid,
    event_name: String,
    correlation_key: Option<String>,
    payload: Option<Value>,
    payload_schema_ref: Option<String>,
    /// When it was stored.
    created_at: chrono::DateTime<chrono::Utc>,
    /// When it was routed.
    processed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The first run it resumed, else the first it started.
    matched_run_id: Option<Uuid>,
    /// What went wrong routing it.
    error_message: Option<String>,
    /// The runs it was delivered to, in order (read one event to see them).
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_to: Option<Vec<Uuid>>,
}

impl Event {
    fn of(record: EventRecord, with_deliveries: bool) -> Self {
        Event {
            event_id: record.event_id,
            event_name: record.event_name,
            correlation_key: record.correlation_key,
            payload: record.payload.map(|p| p.0),
            payload_schema_ref: record.payload_schema_ref,
            created_at: record.created_at,
            processed_at: record.processed_at,
            matched_run_id: record.matched_run_id,
            error_message: record.error_message,
            delivered_to: with_deliveries.then_some(record.delivered_to),
        }
    }
}

/// A page of events.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    events: Vec<Event>,
    /// The `cursor` of the next page; absent on the last.
    next_cursor: Option<i64>,
}

/// `GET /api/workflow/events` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    event_name: Option<String>,
    limit: Option<i64>,
    cursor: Option<i64>,
}

/// The tenant's events, newest first: `{events, nextCursor}`.
#[utoipa::path(
    get,
    path = "/api/workflow/events",
    tag = "events",
    params(ListQuery),
    responses((status = 200, description = "Success", body = EventList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<EventList>, ApiError> {
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let events = state
        .store
        .list_events(caller.0.tenant, query.event_name.as_deref(), limit, cursor)
        .await?;
    let next_cursor = super::next_cursor(events.len(), limit, cursor);
    Ok(Json(EventList {
        events: events.into_iter().map(|e| Event::of(e, false)).collect(),
        next_cursor,
    }))
}

/// `GET /api/workflow/events/{eventId}`: the event row and the runs it reached.
#[utoipa::path(
    get,
    path = "/api/workflow/events/{event_id}",
    tag = "events",
    params(("event_id" = Uuid, Path, description = "Event id")),
    responses(
        (status = 200, description = "Success", body = Event),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(event_id): PathParams<Uuid>,
) -> Result<Json<Event>, ApiError> {
    let record = state.store.get_event(caller.0.tenant, event_id).await?;
    Ok(Json(Event::of(record, true)))
}

impl ApiState {
    /// Ingress over this state's database and Temporal.
    pub fn ingress(&self) -> Ingress<'_> {
        Ingress {
            store: &self.store,
            client: &self.client,
            task_queue: &self.task_queue,
        }
    }
}
