//! Events: `POST /api/workflow/events` hands the event to [`crate::ingress`] (stored once by
//! id, delivered to waiting runs, triggered workflows launched); list and get read them back.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToManage, ToRead};
use super::body::{Body, Params, PathParams, object_or_empty};
use super::error::ApiError;
use super::error::responses::{
    BadRequest, Forbidden, NotFound, RateLimited, TooLarge, Unauthorized,
};
use crate::ingress::{Ingress, Routed};
use crate::store::NewEvent;

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
    let event = NewEvent {
        event_id: request.event_id.unwrap_or_else(Uuid::new_v4),
        tenant: caller.0.tenant,
        event_name: request.event_name,
        correlation_key: request.correlation_key,
        payload,
    };
    metrics::counter!("alga_wf_events_ingested_total").increment(1);
    Ok(Json(state.ingress().submit(event).await?))
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
    responses((status = 200, description = "Success", body = serde_json::Value), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let events = state
        .store
        .list_events(caller.0.tenant, query.event_name.as_deref(), limit, cursor)
        .await?;
    let next = super::next_cursor(events.len(), limit, cursor);
    Ok(Json(json!({"events": events, "nextCursor": next})))
}

/// `GET /api/workflow/events/{eventId}`: the event row and the runs it reached.
#[utoipa::path(
    get,
    path = "/api/workflow/events/{event_id}",
    tag = "events",
    params(("event_id" = Uuid, Path, description = "Event id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(event_id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state.store.get_event(caller.0.tenant, event_id).await?,
    ))
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
