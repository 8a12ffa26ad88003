//! Runs: start, list, get, steps, cancel. Another tenant's run is a 404.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::{Caller, ToAdmin, ToManage, ToRead};
use super::body::{Body, Params, PathParams};
use super::error::ApiError;
use super::error::responses::{
    BadRequest, Conflict, Forbidden, NotFound, RateLimited, TemporalFailed, TooLarge, Unauthorized,
};
use crate::store::{ActionInvocation, Role, Run, RunStep, RunView, RunWait};
use crate::usecases::launch::{Launch, launch};
use crate::usecases::relaunch::{Relaunch, RelaunchError};

/// `POST /api/workflow-runs` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    workflow_id: String,
    workflow_version: Option<i32>,
    #[serde(default = "empty_object")]
    payload: Value,
}

fn empty_object() -> Value {
    json!({})
}

/// Starts a run of a published workflow: 201 `{runId, status}`.
#[utoipa::path(
    post,
    path = "/api/workflow-runs",
    tag = "runs",
    request_body = StartRequest,
    responses(
        (status = 201, description = "Success", body = RunStarted),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        RateLimited,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn start(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    Body(request): Body<StartRequest>,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    state.start_limiter.check(caller.0.tenant)?;
    let launched = launch(
        &state.store,
        &state.client,
        &state.task_queue,
        Launch::manual(
            Some(caller.0.tenant),
            &request.workflow_id,
            request.workflow_version,
            request.payload,
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RunStarted {
            run_id: launched.run_id,
            status: "RUNNING",
            workflow_version: launched.version,
        }),
    ))
}

/// A run started.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStarted {
    run_id: uuid::Uuid,
    /// `RUNNING`.
    status: &'static str,
    /// The version the run pinned.
    workflow_version: i32,
}

/// `GET /api/workflow-runs` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<String>,
    workflow_id: Option<uuid::Uuid>,
    limit: Option<i64>,
    cursor: Option<i64>,
}

/// The tenant's runs, newest first: `{runs, nextCursor}`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs",
    tag = "runs",
    params(ListQuery),
    responses((status = 200, description = "Success", body = RunList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<RunList>, ApiError> {
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let runs = state
        .store
        .list_runs(
            caller.0.tenant,
            query.status.as_deref(),
            query.workflow_id,
            limit,
            cursor,
        )
        .await?;
    let next = super::next_cursor(runs.len(), limit, cursor);
    Ok(Json(RunList {
        runs,
        next_cursor: next,
    }))
}

/// A page of runs.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunList {
    runs: Vec<Run>,
    /// The `cursor` of the next page; absent on the last.
    next_cursor: Option<i64>,
}

/// The caller's tenant's run, read with the `read` role (another tenant's is not found).
async fn readable_run(
    state: &ApiState,
    caller: &Caller,
    run_id: uuid::Uuid,
) -> Result<RunView, ApiError> {
    Ok(state
        .store
        .show_run(&run_id.to_string(), Some(caller.0.tenant))
        .await?)
}

/// `GET /api/workflow-runs/{runId}`: the run row.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = Run),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(readable_run(&state, &caller, run_id).await?.run))
}

/// `GET /api/workflow-runs/{runId}/steps`: `{steps, waits, invocations}`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/steps",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = RunSteps),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn steps(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<RunSteps>, ApiError> {
    let view = readable_run(&state, &caller, run_id).await?;
    let mut invocations = view.invocations;
    if !caller.0.role.allows(Role::Manage) {
        invocations.iter_mut().for_each(redact_invocation);
    }
    Ok(Json(RunSteps {
        steps: view.steps,
        waits: view.waits,
        invocations,
    }))
}

/// A run's steps, waits and action invocations.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RunSteps {
    /// In start order.
    steps: Vec<RunStep>,
    /// In creation order.
    waits: Vec<RunWait>,
    /// In creation order; without `manage`, input and output are `{"redacted": true}` and an
    /// error keeps only its category, code, step and time.
    invocations: Vec<ActionInvocation>,
}

/// What a caller without `manage` sees of an action invocation (the reference's rule): no
/// input or output, and of an error only its category, code, step and time.
fn redact_invocation(invocation: &mut ActionInvocation) {
    for field in [&mut invocation.input, &mut invocation.output] {
        if field.is_some() {
            *field = Some(json!({"redacted": true}));
        }
    }
    if let Some(error) = invocation.error.as_mut().filter(|e| e.is_object()) {
        let kept: serde_json::Map<String, Value> = ["category", "code", "nodePath", "at"]
            .into_iter()
            .filter_map(|k| error.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect();
        *error = Value::Object(kept);
    }
    invocation.error_message = None;
}

/// `POST /api/workflow-runs/{runId}/cancel` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    reason: String,
}

/// Requests cancellation in Temporal; the run's projection follows when the run ends.
#[utoipa::path(
    post,
    path = "/api/workflow-runs/{run_id}/cancel",
    tag = "runs",
    request_body = CancelRequest,
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = Acknowledged),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn cancel(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    PathParams(run_id): PathParams<uuid::Uuid>,
    Body(request): Body<CancelRequest>,
) -> Result<Json<Acknowledged>, ApiError> {
    if request.reason.trim().len() < 3 {
        return Err(ApiError::bad_request(
            "`reason` needs at least 3 characters",
        ));
    }
    let run = state.store.run_address(caller.0.tenant, run_id).await?;
    // Recorded before Temporal is asked, so the run's log has the request before the run's
    // own end (a refusal follows as the answer's 409).
    state
        .audit(
            &caller.0,
            "run.cancel_requested",
            ("run", run_id.to_string()),
            json!({"reason": request.reason}),
            Some(run_id),
        )
        .await;
    crate::temporal::cancel_workflow(&state.client, &run.temporal_workflow_id, &request.reason)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::CONFLICT,
                "WORKFLOW_TEMPORAL_CANCEL_FAILED",
                format!("{e:#}"),
            )
        })?;
    Ok(Json(Acknowledged { ok: true }))
}

/// A request Temporal took.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    /// Always true.
    ok: bool,
}

/// `POST /api/workflow-runs/{runId}/replay` and `/redrive` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelaunchRequest {
    reason: String,
    payload: Option<Value>,
}

/// A new run of the same pinned version (admin): 201 `{runId, replayOf}`.
#[utoipa::path(
    post,
    path = "/api/workflow-runs/{run_id}/replay",
    tag = "runs",
    request_body = RelaunchRequest,
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 201, description = "Success", body = Relaunched),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        RateLimited,
        TemporalFailed,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn replay(
    state: State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    path: PathParams<uuid::Uuid>,
    body: Body<RelaunchRequest>,
) -> Result<(StatusCode, Json<Relaunched>), ApiError> {
    relaunch(state, caller, path, body, Relaunch::Replay).await
}

/// A failed run resumed with its ledger and events (admin): 201 `{runId, redriveOf}`; 409
/// when the run did not fail.
#[utoipa::path(
    post,
    path = "/api/workflow-runs/{run_id}/redrive",
    tag = "runs",
    request_body = RelaunchRequest,
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 201, description = "Success", body = Relaunched),
        (status = 200, description = "The run was redriven before: that redrive", body = Relaunched),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        RateLimited,
        TemporalFailed,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn redrive(
    state: State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    path: PathParams<uuid::Uuid>,
    body: Body<RelaunchRequest>,
) -> Result<(StatusCode, Json<Relaunched>), ApiError> {
    relaunch(state, caller, path, body, Relaunch::Redrive).await
}

async fn relaunch(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    PathParams(run_id): PathParams<uuid::Uuid>,
    Body(request): Body<RelaunchRequest>,
    kind: Relaunch,
) -> Result<(StatusCode, Json<Relaunched>), ApiError> {
    if request.reason.trim().len() < 3 {
        return Err(ApiError::bad_request(
            "`reason` needs at least 3 characters",
        ));
    }
    state.start_limiter.check(caller.0.tenant)?;
    if request.payload.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(ApiError::bad_request("`payload` must be a JSON object"));
    }
    let launched = crate::usecases::relaunch::relaunch(
        &state.ingress(),
        caller.0.tenant,
        run_id,
        kind,
        &request.reason,
        request.payload,
    )
    .await
    .map_err(|e| match e {
        RelaunchError::NotFailed { .. } => {
            ApiError::new(StatusCode::CONFLICT, "RUN_NOT_FAILED", e.to_string())
        }
        RelaunchError::Launch(launch) => launch.into(),
    })?;
    let action = match kind {
        Relaunch::Replay => "run.replayed",
        Relaunch::Redrive => "run.redriven",
    };
    if launched.created {
        state
            .audit(
                &caller.0,
                action,
                ("run", run_id.to_string()),
                json!({"reason": request.reason, "newRunId": launched.run_id}),
                Some(run_id),
            )
            .await;
    }
    // A run already redriven answers with that redrive, as it was made.
    let status = if launched.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let (replay_of, redrive_of) = match kind {
        Relaunch::Replay => (Some(run_id), None),
        Relaunch::Redrive => (None, Some(run_id)),
    };
    Ok((
        status,
        Json(Relaunched {
            ok: true,
            run_id: launched.run_id,
            replay_of,
            redrive_of,
            workflow_version: launched.version,
            created: launched.created,
        }),
    ))
}

/// The run a replay or a redrive started.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Relaunched {
    /// Always true.
    ok: bool,
    /// The new run.
    run_id: uuid::Uuid,
    /// The run it replays (a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_of: Option<uuid::Uuid>,
    /// The run it redrives (a redrive).
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_of: Option<uuid::Uuid>,
    /// The version it pinned.
    workflow_version: i32,
    /// False when the run had been redriven before and this is that redrive.
    created: bool,
}
