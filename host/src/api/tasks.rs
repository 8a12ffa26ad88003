//! Human tasks: the inbox rows `human.task` steps open, listed, claimed, dismissed and
//! completed. Completing sends the response to the run as a Workflow Update, whose validator
//! checks it against the task's form first: an invalid response comes back as a 400 with the
//! form's errors and changes nothing (the task stays open, the run keeps waiting).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToManage, ToRead};
use super::body::{Body, Params, PathParams, object_or_empty};
use super::error::ApiError;
use crate::store::{Role, TaskFilter};

/// `GET /api/workflow-tasks` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<String>,
    run_id: Option<Uuid>,
    #[serde(default)]
    include_dismissed: bool,
    limit: Option<i64>,
    cursor: Option<i64>,
}

/// The tenant's tasks, newest first: `{tasks, nextCursor}`.
#[utoipa::path(get, path = "/api/workflow-tasks", tag = "tasks", params(ListQuery), responses((status = 200, description = "Success", body = serde_json::Value), (status = 401, description = "No API key, or an unknown or revoked one", body = super::error::ErrorBody)), security(("api_key" = ["read"])))]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let filter = TaskFilter {
        status: query.status.as_deref(),
        run_id: query.run_id,
        include_dismissed: query.include_dismissed,
    };
    let tasks = state
        .store
        .list_tasks(caller.0.tenant, &filter, limit, cursor)
        .await?;
    let next = super::next_cursor(tasks.len(), limit, cursor);
    Ok(Json(json!({"tasks": tasks, "nextCursor": next})))
}

/// `GET /api/workflow-tasks/{taskId}`: the task and the form its response must satisfy.
#[utoipa::path(get, path = "/api/workflow-tasks/{task_id}", tag = "tasks", params(("task_id" = Uuid, Path, description = "Task id")), responses((status = 200, description = "Success", body = serde_json::Value), (status = 401, description = "No API key, or an unknown or revoked one", body = super::error::ErrorBody), (status = 404, description = "Not found in the caller's tenant", body = super::error::ErrorBody)), security(("api_key" = ["read"])))]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(task_id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let view = state.store.get_task(caller.0.tenant, task_id).await?;
    Ok(Json(
        json!({"task": view.task, "formSchema": view.form_schema}),
    ))
}

/// `POST /api/workflow-tasks/{taskId}/claim`: the caller's key takes the task.
#[utoipa::path(post, path = "/api/workflow-tasks/{task_id}/claim", tag = "tasks", params(("task_id" = Uuid, Path, description = "Task id")), responses((status = 200, description = "Success", body = serde_json::Value), (status = 401, description = "No API key, or an unknown or revoked one", body = super::error::ErrorBody), (status = 403, description = "The key's role does not allow this", body = super::error::ErrorBody), (status = 404, description = "Not found in the caller's tenant", body = super::error::ErrorBody), (status = 409, description = "Conflicts with the current state", body = super::error::ErrorBody)), security(("api_key" = ["manage"])))]
pub async fn claim(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(task_id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .claim_task(caller.0.tenant, task_id, caller.0.key_id)
        .await?;
    Ok(Json(json!({"ok": true, "taskId": task_id})))
}

/// `POST /api/workflow-tasks/{taskId}/dismiss`: hides the task from the inbox.
#[utoipa::path(post, path = "/api/workflow-tasks/{task_id}/dismiss", tag = "tasks", params(("task_id" = Uuid, Path, description = "Task id")), responses((status = 200, description = "Success", body = serde_json::Value), (status = 401, description = "No API key, or an unknown or revoked one", body = super::error::ErrorBody), (status = 403, description = "The key's role does not allow this", body = super::error::ErrorBody), (status = 404, description = "Not found in the caller's tenant", body = super::error::ErrorBody), (status = 409, description = "Conflicts with the current state", body = super::error::ErrorBody)), security(("api_key" = ["manage"])))]
pub async fn dismiss(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(task_id): PathParams<Uuid>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .dismiss_task(
            caller.0.tenant,
            task_id,
            caller.0.key_id,
            caller.0.role == Role::Admin,
        )
        .await?;
    Ok(Json(json!({"ok": true, "taskId": task_id})))
}

/// `POST /api/workflow-tasks/{taskId}/complete` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    payload: Value,
}

/// Completes a task: the run validates the response synchronously (Workflow Update).
#[utoipa::path(post, path = "/api/workflow-tasks/{task_id}/complete", tag = "tasks", request_body = CompleteRequest, params(("task_id" = Uuid, Path, description = "Task id")), responses((status = 200, description = "Success", body = serde_json::Value), (status = 400, description = "The request is malformed or invalid (the message says what and where)", body = super::error::ErrorBody), (status = 401, description = "No API key, or an unknown or revoked one", body = super::error::ErrorBody), (status = 403, description = "The key's role does not allow this", body = super::error::ErrorBody), (status = 404, description = "Not found in the caller's tenant", body = super::error::ErrorBody), (status = 409, description = "Conflicts with the current state", body = super::error::ErrorBody), (status = 502, description = "Temporal refused the operation", body = super::error::ErrorBody)), security(("api_key" = ["manage"])))]
pub async fn complete(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(task_id): PathParams<Uuid>,
    Body(request): Body<CompleteRequest>,
) -> Result<Json<Value>, ApiError> {
    let payload = object_or_empty(request.payload, "payload")?;
    // The override skips the form's checks: an admin's decision only.
    if payload.get("__admin_override").is_some() {
        caller.require(Role::Admin)?;
    }
    let view = state.store.get_task(caller.0.tenant, task_id).await?;
    let status = view.task["status"].as_str().unwrap_or_default();
    if !matches!(status, "pending" | "claimed") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TASK_NOT_OPEN",
            format!("task {task_id} is {status}"),
        ));
    }
    if let Some(owner) = view.task["claimed_by"].as_str()
        && owner != caller.0.key_id.to_string()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TASK_CLAIMED",
            format!("task {task_id} is claimed by {owner}"),
        ));
    }
    let run_id = view.task["execution_id"].as_str().unwrap_or_default();
    let temporal_workflow_id = view
        .temporal_workflow_id
        .clone()
        .unwrap_or_else(|| crate::temporal::workflow_id(run_id));
    let argument = json!({"taskId": task_id, "payload": payload});
    let outcome = update_until_open(&state, &temporal_workflow_id, task_id, &argument).await?;
    match outcome {
        Ok(_) => {
            state
                .store
                .task_completed(caller.0.tenant, task_id, &payload, caller.0.key_id)
                .await?;
            Ok(Json(
                json!({"ok": true, "taskId": task_id, "runId": run_id}),
            ))
        }
        Err(failure) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "TASK_RESPONSE_INVALID",
            failure["message"]
                .as_str()
                .unwrap_or("the run rejected the response")
                .to_owned(),
        )
        .with_details(failure)),
    }
}

/// How long a response waits for a run that has not yet heard that its task exists (its row
/// is written by the activity that creates it, before the run sees the activity's result).
const TASK_OPENING_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends the response as a Workflow Update, again while the run answers that the task is
/// still being created.
async fn update_until_open(
    state: &ApiState,
    temporal_workflow_id: &str,
    task_id: Uuid,
    argument: &Value,
) -> Result<Result<Value, Value>, ApiError> {
    let deadline = tokio::time::Instant::now() + TASK_OPENING_GRACE;
    // The same update id every time: Temporal keeps no rejected update, and an accepted one
    // sent again answers with its first outcome.
    let update_id = format!(
        "task:{task_id}:{}",
        blake3::hash(argument.to_string().as_bytes())
    );
    loop {
        let outcome = crate::temporal::update_workflow(
            &state.client,
            temporal_workflow_id,
            alga_interpreter::machine::HUMAN_TASK_UPDATE,
            argument,
            &update_id,
        )
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "TEMPORAL_UPDATE_FAILED",
                format!("{e:#}"),
            )
        })?;
        let opening = matches!(&outcome, Err(failure)
            if failure["code"] == alga_interpreter::machine::HUMAN_TASK_NOT_OPEN_YET);
        if !opening || tokio::time::Instant::now() >= deadline {
            return Ok(outcome);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
