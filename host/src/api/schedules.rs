//! Schedules: create, list, get (with Temporal's next fire times and recent runs), update,
//! pause, resume, delete. Reading needs `read`; changing needs `manage`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiState;
use super::auth::Caller;
use super::body::Body;
use super::error::ApiError;
use crate::schedules::{ScheduleError, ScheduleInput, Scheduler};
use crate::store::Role;

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
pub async fn create(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(input): Body<ScheduleInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manage)?;
    let row = state.scheduler().create(caller.0.tenant, input).await?;
    Ok((StatusCode::CREATED, Json(json!(row))))
}

/// `GET /api/workflow-schedules` query.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    workflow_id: Option<Uuid>,
}

/// The tenant's schedules: `{schedules}`.
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Read)?;
    let rows = state
        .store
        .list_schedules(caller.0.tenant, query.workflow_id)
        .await?;
    Ok(Json(json!({"schedules": rows})))
}

/// `GET /api/workflow-schedules/{id}`.
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Read)?;
    Ok(Json(state.scheduler().describe(caller.0.tenant, id).await?))
}

/// `PUT /api/workflow-schedules/{id}`: changes name, timing or payload.
pub async fn update(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<ScheduleInput>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manage)?;
    let row = state.scheduler().update(caller.0.tenant, id, input).await?;
    Ok(Json(json!(row)))
}

/// `POST /api/workflow-schedules/{id}/pause`.
pub async fn pause(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manage)?;
    let row = state
        .scheduler()
        .set_enabled(caller.0.tenant, id, false)
        .await?;
    Ok(Json(json!(row)))
}

/// `POST /api/workflow-schedules/{id}/resume`.
pub async fn resume(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manage)?;
    let row = state
        .scheduler()
        .set_enabled(caller.0.tenant, id, true)
        .await?;
    Ok(Json(json!(row)))
}

/// `DELETE /api/workflow-schedules/{id}`.
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manage)?;
    state.scheduler().delete(caller.0.tenant, id).await?;
    Ok(Json(json!({"ok": true})))
}
