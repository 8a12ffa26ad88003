//! Human tasks: the inbox rows `human.task` steps open, listed, claimed, dismissed and
//! completed. Completing sends the response to the run as a Workflow Update, whose validator
//! checks it against the task's form first: an invalid response comes back as a 400 with the
//! form's errors and changes nothing (the task stays open, the run keeps waiting).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToManage, ToRead};
use super::body::{Body, Params, PathParams, object_or_empty};
use super::error::ApiError;
use super::error::responses::{
    BadRequest, Conflict, Forbidden, NotFound, TemporalFailed, Unauthorized,
};
use crate::store::{Role, TaskFilter, TaskRow};

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

/// A task of the inbox, as the API shows it. The row's columns, camelCase, with three renamed
/// for what they mean (`docs/api.md` lists the renames): `execution_id` is `runId`,
/// `system_task_definition_task_type` is `taskType`, and `is_hidden`/`hidden_*` are
/// `dismissed`/`dismissed*` (the operation is "dismiss").
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    task_id: Uuid,
    /// The run that opened the task.
    run_id: Uuid,
    /// `system` (the catalog's task types) or `tenant`.
    task_definition_type: String,
    /// The catalog's task type, which selects the form.
    task_type: Option<String>,
    tenant_task_definition_id: Option<Uuid>,
    title: String,
    description: Option<String>,
    event_id: Option<String>,
    /// What the run gave the person to decide with.
    context_data: Option<Value>,
    /// `pending`, `claimed`, `completed` or `canceled`.
    status: String,
    priority: Option<String>,
    assigned_roles: Option<Value>,
    assigned_users: Option<Value>,
    due_date: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    /// The API key that completed it.
    completed_by: Option<Uuid>,
    /// The accepted response.
    response_data: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Dismissed from the inbox (listed only with `includeDismissed`).
    dismissed: bool,
    dismissed_at: Option<DateTime<Utc>>,
    dismissed_by: Option<Uuid>,
    claimed_at: Option<DateTime<Utc>>,
    /// The API key that claimed it.
    claimed_by: Option<Uuid>,
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        let json = |value: Option<sqlx::types::Json<Value>>| value.map(|v| v.0);
        Task {
            task_id: row.task_id,
            run_id: row.execution_id,
            task_definition_type: row.task_definition_type,
            task_type: row.system_task_definition_task_type,
            tenant_task_definition_id: row.tenant_task_definition_id,
            title: row.title,
            description: row.description,
            event_id: row.event_id,
            context_data: json(row.context_data),
            status: row.status,
            priority: row.priority,
            assigned_roles: json(row.assigned_roles),
            assigned_users: json(row.assigned_users),
            due_date: row.due_date,
            completed_at: row.completed_at,
            completed_by: row.completed_by,
            response_data: json(row.response_data),
            created_at: row.created_at,
            updated_at: row.updated_at,
            dismissed: row.is_hidden,
            dismissed_at: row.hidden_at,
            dismissed_by: row.hidden_by,
            claimed_at: row.claimed_at,
            claimed_by: row.claimed_by,
        }
    }
}

/// A page of tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskList {
    tasks: Vec<Task>,
    /// The `cursor` of the next page; absent on the last.
    next_cursor: Option<i64>,
}

/// A task and the form its response must satisfy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDetail {
    task: Task,
    /// The JSON Schema of the task type's form (none: any object is accepted).
    form_schema: Option<Value>,
}

/// What a change to a task answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskChanged {
    /// Always true.
    ok: bool,
    task_id: Uuid,
    /// The task's run (on completion).
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<Uuid>,
}

/// The tenant's tasks, newest first: `{tasks, nextCursor}`.
#[utoipa::path(
    get,
    path = "/api/workflow-tasks",
    tag = "tasks",
    params(ListQuery),
    responses((status = 200, description = "Success", body = TaskList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    Params(query): Params<ListQuery>,
) -> Result<Json<TaskList>, ApiError> {
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
    let next_cursor = super::next_cursor(tasks.len(), limit, cursor);
    Ok(Json(TaskList {
        tasks: tasks.into_iter().map(Task::from).collect(),
        next_cursor,
    }))
}

/// `GET /api/workflow-tasks/{taskId}`: the task and the form its response must satisfy.
#[utoipa::path(
    get,
    path = "/api/workflow-tasks/{task_id}",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "Task id")),
    responses((status = 200, description = "Success", body = TaskDetail), Unauthorized, NotFound),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(task_id): PathParams<Uuid>,
) -> Result<Json<TaskDetail>, ApiError> {
    let view = state.store.get_task(caller.0.tenant, task_id).await?;
    Ok(Json(TaskDetail {
        task: view.task.into(),
        form_schema: view.form_schema,
    }))
}

/// `POST /api/workflow-tasks/{taskId}/claim`: the caller's key takes the task.
#[utoipa::path(
    post,
    path = "/api/workflow-tasks/{task_id}/claim",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "Success", body = TaskChanged),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn claim(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(task_id): PathParams<Uuid>,
) -> Result<Json<TaskChanged>, ApiError> {
    state
        .store
        .claim_task(caller.0.tenant, task_id, caller.0.key_id)
        .await?;
    Ok(Json(TaskChanged {
        ok: true,
        task_id,
        run_id: None,
    }))
}

/// `POST /api/workflow-tasks/{taskId}/dismiss`: hides the task from the inbox.
#[utoipa::path(
    post,
    path = "/api/workflow-tasks/{task_id}/dismiss",
    tag = "tasks",
    params(("task_id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "Success", body = TaskChanged),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn dismiss(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(task_id): PathParams<Uuid>,
) -> Result<Json<TaskChanged>, ApiError> {
    state
        .store
        .dismiss_task(
            caller.0.tenant,
            task_id,
            caller.0.key_id,
            caller.0.role == Role::Admin,
        )
        .await?;
    Ok(Json(TaskChanged {
        ok: true,
        task_id,
        run_id: None,
    }))
}

/// `POST /api/workflow-tasks/{taskId}/complete` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    payload: Value,
}

/// Completes a task: the run validates the response synchronously (Workflow Update).
#[utoipa::path(
    post,
    path = "/api/workflow-tasks/{task_id}/complete",
    tag = "tasks",
    request_body = CompleteRequest,
    params(("task_id" = Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "Success", body = TaskChanged),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TemporalFailed,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn complete(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(task_id): PathParams<Uuid>,
    Body(request): Body<CompleteRequest>,
) -> Result<Json<TaskChanged>, ApiError> {
    let payload = object_or_empty(request.payload, "payload")?;
    // The override skips the form's checks: an admin's decision only.
    if payload.get("__admin_override").is_some() {
        caller.require(Role::Admin)?;
    }
    let view = state.store.get_task(caller.0.tenant, task_id).await?;
    let status = view.task.status.as_str();
    if !matches!(status, "pending" | "claimed") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TASK_NOT_OPEN",
            format!("task {task_id} is {status}"),
        ));
    }
    if let Some(owner) = view.task.claimed_by
        && owner != caller.0.key_id
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TASK_CLAIMED",
            format!("task {task_id} is claimed by {owner}"),
        ));
    }
    let run_id = view.task.execution_id;
    let temporal_workflow_id = view
        .temporal_workflow_id
        .clone()
        .unwrap_or_else(|| crate::temporal::RunId::from(run_id).workflow_id());
    let argument = json!({"taskId": task_id, "payload": payload});
    let outcome = update_until_open(&state, &temporal_workflow_id, task_id, &argument).await?;
    match outcome {
        Ok(_) => {
            state
                .store
                .task_completed(caller.0.tenant, task_id, &payload, caller.0.key_id)
                .await?;
            state
                .audit(
                    &caller.0,
                    "task.answered",
                    ("task", task_id.to_string()),
                    json!({"runId": run_id}),
                    Some(run_id),
                )
                .await;
            Ok(Json(TaskChanged {
                ok: true,
                task_id,
                run_id: Some(run_id),
            }))
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
            alga_protocol::names::HUMAN_TASK_UPDATE,
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
            if failure["code"] == alga_protocol::names::HUMAN_TASK_NOT_OPEN_YET);
        if !opening || tokio::time::Instant::now() >= deadline {
            return Ok(outcome);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
