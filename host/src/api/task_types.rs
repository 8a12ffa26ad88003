//! A tenant's human-task types: each names the JSON Schema form a response must satisfy. A
//! `human.task` step of a type the tenant defined takes the tenant's form; other types fall back
//! to the system catalog (`crate::store`'s task types).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::{Caller, ToPublish, ToRead};
use super::body::{Body, PathParams, checked_name};
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized};
use super::schedules::Deleted;
use crate::store::TaskType as StoredType;

/// A task type as the API shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskType {
    task_type: String,
    /// `tenant` (this tenant's own) or `system`.
    scope: &'static str,
    description: Option<String>,
    /// The JSON Schema responses must satisfy.
    #[schema(value_type = Option<Object>)]
    form_schema: Option<Value>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<StoredType> for TaskType {
    fn from(t: StoredType) -> Self {
        TaskType {
            task_type: t.task_type,
            scope: t.scope,
            description: t.description,
            form_schema: t.form_schema,
            updated_at: t.updated_at,
        }
    }
}

/// The task types a tenant sees.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskTypeList {
    task_types: Vec<TaskType>,
}

/// `PUT /api/workflow-task-types/{taskType}` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveTaskType {
    /// What the task is for.
    description: Option<String>,
    /// The JSON Schema a response must satisfy.
    #[schema(value_type = Object)]
    form_schema: Value,
}

/// Defines (201) or redefines (200) the tenant's own task type and its form (publish); a form
/// that cannot be compiled is refused with the reason.
#[utoipa::path(
    put,
    path = "/api/workflow-task-types/{task_type}",
    tag = "tasks",
    request_body = SaveTaskType,
    params(("task_type" = String, Path, description = "The task type")),
    responses(
        (status = 201, description = "Defined", body = TaskType),
        (status = 200, description = "Redefined", body = TaskType),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
    ),
    security(("api_key" = ["publish"])),
)]
pub async fn save(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToPublish>,
    PathParams(task_type): PathParams<String>,
    Body(request): Body<SaveTaskType>,
) -> Result<(StatusCode, Json<TaskType>), ApiError> {
    let task_type = checked_name(&task_type, "taskType")?;
    crate::usecases::payload_schemas::usable(&request.form_schema)
        .map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, "FORM_SCHEMA_INVALID", reason))?;
    if request
        .description
        .as_deref()
        .is_some_and(|d| d.chars().count() > 2000 || d.contains('\0'))
    {
        return Err(ApiError::bad_request(
            "`description` must be at most 2,000 characters, without NUL",
        ));
    }
    let created = state
        .store
        .save_task_type(
            caller.0.tenant,
            task_type,
            request.description.as_deref(),
            &request.form_schema,
        )
        .await?;
    state
        .audit(
            &caller.0,
            if created {
                "task_type.created"
            } else {
                "task_type.replaced"
            },
            ("task_type", task_type.to_owned()),
            json!({"description": request.description}),
            None,
        )
        .await;
    let saved = state
        .store
        .task_type(caller.0.tenant, task_type)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no task type `{task_type}`")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(saved.into())))
}

/// The task types the tenant sees, its own and the system's, by name (read).
#[utoipa::path(
    get,
    path = "/api/workflow-task-types",
    tag = "tasks",
    responses((status = 200, description = "Success", body = TaskTypeList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
) -> Result<Json<TaskTypeList>, ApiError> {
    let types = state.store.task_types(caller.0.tenant).await?;
    Ok(Json(TaskTypeList {
        task_types: types.into_iter().map(TaskType::from).collect(),
    }))
}

/// One task type: the tenant's own, else the system's (read).
#[utoipa::path(
    get,
    path = "/api/workflow-task-types/{task_type}",
    tag = "tasks",
    params(("task_type" = String, Path, description = "The task type")),
    responses(
        (status = 200, description = "Success", body = TaskType),
        BadRequest,
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(task_type): PathParams<String>,
) -> Result<Json<TaskType>, ApiError> {
    let task_type = checked_name(&task_type, "taskType")?;
    let found = state
        .store
        .task_type(caller.0.tenant, task_type)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no task type `{task_type}`")))?;
    Ok(Json(found.into()))
}

/// Removes the tenant's own task type (publish); a system type of the same name applies again,
/// and tasks already open keep the form they were opened with.
#[utoipa::path(
    delete,
    path = "/api/workflow-task-types/{task_type}",
    tag = "tasks",
    params(("task_type" = String, Path, description = "The task type")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
    ),
    security(("api_key" = ["publish"])),
)]
pub async fn delete(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToPublish>,
    PathParams(task_type): PathParams<String>,
) -> Result<Json<Deleted>, ApiError> {
    let task_type = checked_name(&task_type, "taskType")?;
    state
        .store
        .delete_task_type(caller.0.tenant, task_type)
        .await?;
    state
        .audit(
            &caller.0,
            "task_type.deleted",
            ("task_type", task_type.to_owned()),
            Value::Null,
            None,
        )
        .await;
    Ok(Json(Deleted::default()))
}
