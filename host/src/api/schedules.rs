//! Schedules: create, list, get (with Temporal's next fire times and recent runs), update,
//! pause, resume, delete. Reading needs `read`; changing needs `manage`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToManage, ToRead};
use super::body::{Body, Params, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, NotFound, TemporalFailed, Unauthorized};
use crate::store::ScheduleRow;
use crate::usecases::schedules::{ScheduleError, ScheduleInput, Scheduler, TemporalScheduleState};

/// A schedule as the API shows it: the `tenant_workflow_schedule` row without its tenant,
/// camelCase, with `payload_json` as `payload` (`docs/api.md` lists the renames).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    id: Uuid,
    /// The workflow it starts.
    workflow_id: Uuid,
    /// The version it starts (publishing moves it forward).
    workflow_version: i32,
    name: String,
    /// `schedule` (one time) or `recurring`.
    trigger_type: String,
    /// When a one-time schedule fires.
    run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A recurring schedule's cron expression.
    cron: Option<String>,
    /// Its IANA timezone.
    timezone: Option<String>,
    /// The payload of every run it starts.
    payload: Value,
    /// False while paused.
    enabled: bool,
    /// `scheduled`, `paused` or `failed`.
    status: String,
    /// The Temporal Schedule's id.
    runner_schedule_id: Option<String>,
    /// Why it failed, when it did.
    last_error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<ScheduleRow> for Schedule {
    fn from(row: ScheduleRow) -> Self {
        Schedule {
            id: row.id,
            workflow_id: row.workflow_id,
            workflow_version: row.workflow_version,
            name: row.name,
            trigger_type: row.trigger_type,
            run_at: row.run_at,
            cron: row.cron,
            timezone: row.timezone,
            payload: row.payload_json.0,
            enabled: row.enabled,
            status: row.status,
            runner_schedule_id: row.runner_schedule_id,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The tenant's schedules.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ScheduleList {
    schedules: Vec<Schedule>,
}

/// A schedule and what Temporal says of it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ScheduleDetail {
    #[serde(flatten)]
    schedule: Schedule,
    temporal: TemporalScheduleState,
}

/// What deleting answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// Always true.
    ok: bool,
}

impl Default for Deleted {
    fn default() -> Self {
        Deleted { ok: true }
    }
}

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
            ScheduleError::Payload(payload) => payload.into(),
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
    request_body = crate::usecases::schedules::ScheduleInput,
    responses(
        (status = 201, description = "Success", body = Schedule),
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
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let row = state.scheduler().create(caller.0.tenant, input).await?;
    state
        .audit_schedule(&caller.0, "schedule.created", row.id)
        .await;
    Ok((StatusCode::CREATED, Json(row.into())))
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
    responses((status = 200, description = "Success", body = ScheduleList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<ScheduleList>, ApiError> {
    let rows = state
        .store
        .list_schedules(caller.0.tenant, query.workflow_id)
        .await?;
    Ok(Json(ScheduleList {
        schedules: rows.into_iter().map(Schedule::from).collect(),
    }))
}

/// `GET /api/workflow-schedules/{id}`.
#[utoipa::path(
    get,
    path = "/api/workflow-schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = ScheduleDetail),
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
) -> Result<Json<ScheduleDetail>, ApiError> {
    let (row, temporal) = state.scheduler().describe(caller.0.tenant, id).await?;
    Ok(Json(ScheduleDetail {
        schedule: row.into(),
        temporal,
    }))
}

/// `PUT /api/workflow-schedules/{id}`: changes name, timing or payload.
#[utoipa::path(
    put,
    path = "/api/workflow-schedules/{id}",
    tag = "schedules",
    request_body = crate::usecases::schedules::ScheduleInput,
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = Schedule),
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
) -> Result<Json<Schedule>, ApiError> {
    let row = state.scheduler().update(caller.0.tenant, id, input).await?;
    state
        .audit_schedule(&caller.0, "schedule.updated", id)
        .await;
    Ok(Json(row.into()))
}

/// `POST /api/workflow-schedules/{id}/pause`.
#[utoipa::path(
    post,
    path = "/api/workflow-schedules/{id}/pause",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = Schedule),
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
) -> Result<Json<Schedule>, ApiError> {
    let row = state
        .scheduler()
        .set_enabled(caller.0.tenant, id, false)
        .await?;
    state.audit_schedule(&caller.0, "schedule.paused", id).await;
    Ok(Json(row.into()))
}

/// `POST /api/workflow-schedules/{id}/resume`.
#[utoipa::path(
    post,
    path = "/api/workflow-schedules/{id}/resume",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = Schedule),
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
) -> Result<Json<Schedule>, ApiError> {
    let row = state
        .scheduler()
        .set_enabled(caller.0.tenant, id, true)
        .await?;
    state
        .audit_schedule(&caller.0, "schedule.resumed", id)
        .await;
    Ok(Json(row.into()))
}

/// `DELETE /api/workflow-schedules/{id}`.
#[utoipa::path(
    delete,
    path = "/api/workflow-schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Success", body = Deleted),
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
) -> Result<Json<Deleted>, ApiError> {
    state.scheduler().delete(caller.0.tenant, id).await?;
    state
        .audit_schedule(&caller.0, "schedule.deleted", id)
        .await;
    Ok(Json(Deleted { ok: true }))
}
