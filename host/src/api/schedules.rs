//! Schedules: create, list, get (with Temporal's next fire times and recent runs), update,
//! pause, resume, delete. Reading needs `read`; changing needs `manage`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToManage, ToRead};
use super::body::{Body, Params, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, NotFound, TemporalFailed, Unauthorized};
use crate::schedules::{ScheduleError, ScheduleInput, Scheduler};

impl From<ScheduleError> for ApiError {
    fn from(error: ScheduleError) -> Self {
        match error {
            ScheduleError::Invalid(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SCHEDULE", message)
            }
            ScheduleError::Store(store) => store.into(),
            ScheduleError::Temporal(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "TEMPORAL_SCHEDULE_FAILED", message)
            }
            ScheduleError::AlreadyExists(message) => {
                ApiError::new(StatusCode::CONFLICT, "SCHEDULE_EXISTS", message)
            }
        }
    }
}

impl ApiState {
    /// Schedules over this state's database and Temporal.
    pub fn scheduler(&self) -> Scheduler<'_> {
        Scheduler {
            store: &self.store,
            client: &self.client,
            task_queue: &self.task_queue,
        }
    }
}

/// `POST /api/workflow-schedules`: 201 with the schedule.
#[utoipa::path(
    post,
    path = "/api/workflow-schedules",
    tag = "schedules",
    request_body = crate::schedules::ScheduleInput,
    responses(
        (status = 201, description = "Success", body = serde_json::Value),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    Body(input): Body<ScheduleInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let row = state.scheduler().create(caller.0.tenant, input).await?;
    Ok((StatusCode::CREATED, Json(json!(row))))
}

/// `GET /api/workflow-schedules` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    workflow_id: Option<Uuid>,
}

/// The tenant's schedules: `{schedules}`.
#[utoipa::path(
    get,
    path = "/api/workflow-schedules",
    tag = "schedules",
    params(ListQuery),
    responses((status = 200, description = "Success", body = serde_json::Value), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = state
        .store
        .list_schedules(caller.0.tenant, query.workflow_id)
        .await?;
    Ok(Json(json!({"schedules": rows})))
}

/// `GET /api/workflow-schedules/{id}`.
#[utoipa::path(
    get,
    path = "/api/workflow-schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        NotFound,
        TemporalFailed,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.scheduler().describe(caller.0.tenant, id).await?))
}

/// `PUT /api/workflow-schedules/{id}`: changes name, timing or payload.
#[utoipa::path(
    put,
    path = "/api/workflow-schedules/{id}",
    tag = "schedules",
    request_body = crate::schedules::ScheduleInput,
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn update(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(id): PathParams<Uuid>,
    Body(input): Body<ScheduleInput>,
) -> Result<Json<Value>, ApiError> {
    let row = state.scheduler().update(caller.0.tenant, id, input).await?;
    Ok(Json(json!(row)))
}

/// `POST /api/workflow-schedules/{id}/pause`.
#[utoipa::path(
    post,
    path = "/api/workflow-schedules/{id}/pause",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        Forbidden,
        NotFound,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn pause(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .scheduler()
        .set_enabled(caller.0.tenant, id, false)
        .await?;
    Ok(Json(json!(row)))
}

/// `POST /api/workflow-schedules/{id}/resume`.
#[utoipa::path(
    post,
    path = "/api/workflow-schedules/{id}/resume",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        Forbidden,
        NotFound,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn resume(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .scheduler()
        .set_enabled(caller.0.tenant, id, true)
        .await?;
    Ok(Json(json!(row)))
}

/// `DELETE /api/workflow-schedules/{id}`.
#[utoipa::path(
    delete,
    path = "/api/workflow-schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        Forbidden,
        NotFound,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    state.scheduler().delete(caller.0.tenant, id).await?;
    Ok(Json(json!({"ok": true})))
}
