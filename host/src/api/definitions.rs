//! Definitions: drafts (create or update, validate, simulate with fixtures, publish), the
//! catalogue (list, get, versions), publishing a definition directly, and pausing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::{Caller, ToManage, ToPublish, ToRead};
use super::body::{Body, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized};
use crate::simulate::Report;
use crate::store::{Definition, DefinitionVersion, SavedDraft};
use alga_protocol::Issue;

/// `POST /api/workflow-definitions/publish` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    definition: Value,
}

/// The definition's issues, split into errors and warnings.
fn check(state: &ApiState, definition: &Value) -> Result<(Vec<Issue>, Vec<Issue>), ApiError> {
    crate::usecases::publish::check(&state.engine, &state.known_actions, definition)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ENGINE", e.to_string()))
}

/// Validates and publishes; invalid definitions are a 400 listing every issue with its path.
#[utoipa::path(
    post,
    path = "/api/workflow-definitions/publish",
    tag = "definitions",
    request_body = PublishRequest,
    responses(
        (status = 201, description = "Success", body = PublishedVersion),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
    ),
    security(("api_key" = ["publish"])),
)]
pub async fn publish(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToPublish>,
    Body(request): Body<PublishRequest>,
) -> Result<(StatusCode, Json<PublishedVersion>), ApiError> {
    publish_definition(&state, &caller, &request.definition).await
}

/// `POST /api/workflow-definitions/{workflow}/publish`: publishes the stored draft.
#[utoipa::path(
    post,
    path = "/api/workflow-definitions/{workflow}/publish",
    tag = "definitions",
    params(("workflow" = String, Path, description = "Workflow uuid or key")),
    responses(
        (status = 201, description = "Success", body = PublishedVersion),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
    security(("api_key" = ["publish"])),
)]
pub async fn publish_draft(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToPublish>,
    PathParams(workflow): PathParams<String>,
) -> Result<(StatusCode, Json<PublishedVersion>), ApiError> {
    let row = state
        .store
        .get_definition(caller.0.tenant, &workflow)
        .await?;
    let draft = row.draft_definition.unwrap_or_default();
    publish_definition(&state, &caller, &draft).await
}

/// What publishing answers (201 for a new version, 200 when this exact version was already
/// published).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedVersion {
    /// Always true.
    ok: bool,
    workflow_id: uuid::Uuid,
    /// The workflow's key, when its definition's `id` is not a uuid.
    key: Option<String>,
    published_version: i32,
    /// The hash runs of this version pin.
    definition_hash: String,
    /// What the checks warned about (`{severity, stepPath, code, message, ...}`).
    #[schema(value_type = Vec<Object>)]
    warnings: Vec<alga_protocol::Issue>,
    /// Schedules that could not move onto the new version.
    schedule_problems: Vec<String>,
}

async fn publish_definition(
    state: &ApiState,
    caller: &Caller<ToPublish>,
    definition: &Value,
) -> Result<(StatusCode, Json<PublishedVersion>), ApiError> {
    let scheduler = state.scheduler();
    let publication = crate::usecases::publish::publish(
        &state.engine,
        &state.known_actions,
        &state.store,
        Some(caller.0.tenant),
        definition,
        async |tenant, workflow_id| Ok(scheduler.reconcile(tenant, workflow_id).await),
    )
    .await?;
    let published = &publication.published;
    if published.created {
        state
            .audit(
                &caller.0,
                "workflow.published",
                ("workflow", published.workflow_id.to_string()),
                json!({"version": published.version, "definitionHash": publication.definition_hash}),
                None,
            )
            .await;
    }
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PublishedVersion {
            ok: true,
            workflow_id: published.workflow_id,
            key: published.key.clone(),
            published_version: published.version,
            definition_hash: publication.definition_hash,
            warnings: publication.warnings,
            schedule_problems: publication.schedule_problems,
        }),
    ))
}

impl From<crate::usecases::publish::PublishError> for ApiError {
    fn from(error: crate::usecases::publish::PublishError) -> Self {
        use crate::usecases::publish::PublishError;
        match error {
            PublishError::Invalid { errors, warnings } => {
                ApiError::bad_request("the definition is invalid")
                    .with_details(json!({"errors": errors, "warnings": warnings}))
            }
            PublishError::Store(store) => store.into(),
            PublishError::Check(engine) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ENGINE",
                engine.to_string(),
            ),
            schedules @ PublishError::Schedules(_) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "TEMPORAL_SCHEDULE_FAILED",
                schedules.to_string(),
            ),
        }
    }
}

/// `GET /api/workflow-definitions/{workflow}/{version}`: the published definition.
#[utoipa::path(
    get,
    path = "/api/workflow-definitions/{workflow}/{version}",
    tag = "definitions",
    params(
        ("workflow" = String, Path, description = "Workflow uuid or key"),
        ("version" = i32, Path, description = "Published version"),
    ),
    responses(
        (status = 200, description = "Success", body = PublishedDefinition),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn version(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams((workflow, version)): PathParams<(String, i32)>,
) -> Result<Json<PublishedDefinition>, ApiError> {
    let pinned = state
        .store
        .pinned(Some(caller.0.tenant), &workflow, Some(version))
        .await?;
    Ok(Json(PublishedDefinition {
        workflow_id: pinned.workflow_id,
        version: pinned.version,
        definition: pinned.definition,
    }))
}

/// A published version of a workflow.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedDefinition {
    workflow_id: uuid::Uuid,
    version: i32,
    /// The definition as it was published.
    #[schema(value_type = Object)]
    definition: Value,
}

/// `POST /api/workflow-definitions` and `PUT .../{workflow}/draft` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftRequest {
    definition: Value,
    expected_draft_version: Option<i32>,
}

/// Saves a draft (manage): 201 `{workflowId, key, draftVersion, errors, warnings}`. Drafts may
/// be invalid; the issues come back so the editor can show them. A stale
/// `expectedDraftVersion` is a 409.
#[utoipa::path(
    post,
    path = "/api/workflow-definitions",
    tag = "definitions",
    request_body = DraftRequest,
    responses(
        (status = 201, description = "Success", body = DraftSaved),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn save_draft(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    Body(request): Body<DraftRequest>,
) -> Result<(StatusCode, Json<DraftSaved>), ApiError> {
    if !request.definition.is_object() {
        return Err(ApiError::bad_request("`definition` must be a JSON object"));
    }
    let (errors, warnings) = check(&state, &request.definition)?;
    let saved = state
        .store
        .save_draft(
            caller.0.tenant,
            &request.definition,
            request.expected_draft_version,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DraftSaved {
            saved,
            errors,
            warnings,
        }),
    ))
}

/// A saved draft and what the checks found in it (a draft may be invalid).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DraftSaved {
    #[serde(flatten)]
    saved: SavedDraft,
    /// What would stop it being published (`{severity, stepPath, code, message, ...}`).
    #[schema(value_type = Vec<Object>)]
    errors: Vec<Issue>,
    /// What the checks warned about.
    #[schema(value_type = Vec<Object>)]
    warnings: Vec<Issue>,
}

/// `PUT /api/workflow-definitions/{workflow}/draft`: like [`save_draft`], for the workflow the
/// path names (the definition's `id` must be that workflow).
#[utoipa::path(
    put,
    path = "/api/workflow-definitions/{workflow}/draft",
    tag = "definitions",
    request_body = DraftRequest,
    params(("workflow" = String, Path, description = "Workflow uuid or key")),
    responses(
        (status = 201, description = "Success", body = DraftSaved),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn update_draft(
    state: State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(workflow): PathParams<String>,
    body: Body<DraftRequest>,
) -> Result<(StatusCode, Json<DraftSaved>), ApiError> {
    let id = body.0.definition.get("id").and_then(Value::as_str);
    if id != Some(workflow.as_str()) {
        return Err(ApiError::bad_request(format!(
            "`definition.id` ({}) must be the workflow in the path (`{workflow}`)",
            id.unwrap_or("missing")
        )));
    }
    save_draft(state, caller, body).await
}

/// `POST /api/workflow-definitions/validate` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    definition: Value,
}

/// Validates without storing: `{ok, errors, warnings}`, each issue with its path.
#[utoipa::path(
    post,
    path = "/api/workflow-definitions/validate",
    tag = "definitions",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "Success", body = Validation),
        BadRequest,
        Unauthorized,
        TooLarge,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn validate(
    State(state): State<Arc<ApiState>>,
    _caller: Caller<ToRead>,
    Body(request): Body<ValidateRequest>,
) -> Result<Json<Validation>, ApiError> {
    let (errors, warnings) = check(&state, &request.definition)?;
    Ok(Json(Validation {
        ok: errors.is_empty(),
        errors,
        warnings,
    }))
}

/// What the checks found in a definition.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Validation {
    /// No errors: it can be published.
    ok: bool,
    /// Each with its path (`{severity, stepPath, code, message, ...}`).
    #[schema(value_type = Vec<Object>)]
    errors: Vec<Issue>,
    #[schema(value_type = Vec<Object>)]
    warnings: Vec<Issue>,
}

/// `POST /api/workflow-definitions/{workflow}/simulate`: runs the stored draft through the
/// simulator. The body is a simulator scenario (`simulator.md`) without `definition`: the
/// payload, scripted action results, events and task responses.
#[utoipa::path(
    post,
    path = "/api/workflow-definitions/{workflow}/simulate",
    tag = "definitions",
    request_body = serde_json::Value,
    params(("workflow" = String, Path, description = "Workflow uuid or key")),
    responses(
        (status = 200, description = "The simulator's report (`docs/simulator.md`)", body = Report),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn simulate_draft(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(workflow): PathParams<String>,
    Body(mut scenario): Body<Value>,
) -> Result<Json<Report>, ApiError> {
    let Value::Object(fields) = &mut scenario else {
        return Err(ApiError::bad_request("the scenario must be a JSON object"));
    };
    let row = state
        .store
        .get_definition(caller.0.tenant, &workflow)
        .await?;
    fields.insert(
        "definition".into(),
        row.draft_definition.unwrap_or_default(),
    );
    let scenario = crate::simulate::Scenario::parse(&scenario).map_err(|issues| {
        ApiError::bad_request("the scenario is invalid").with_details(json!({"errors": issues}))
    })?;
    let engine = state.engine.clone();
    let report =
        tokio::task::spawn_blocking(move || crate::simulate::simulate(engine.as_ref(), &scenario))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SIMULATOR",
                    e.to_string(),
                )
            })?
            .map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "SIMULATION_FAILED", e.to_string())
            })?;
    Ok(Json(report))
}

/// `GET /api/workflow-definitions`: the tenant's workflows.
#[utoipa::path(
    get,
    path = "/api/workflow-definitions",
    tag = "definitions",
    responses((status = 200, description = "Success", body = DefinitionList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
) -> Result<Json<DefinitionList>, ApiError> {
    let definitions = state.store.list_definitions(caller.0.tenant).await?;
    Ok(Json(DefinitionList { definitions }))
}

/// The tenant's workflows, by name, without their drafts.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DefinitionList {
    definitions: Vec<Definition>,
}

/// `GET /api/workflow-definitions/{workflow}`: the row, its draft and latest version.
#[utoipa::path(
    get,
    path = "/api/workflow-definitions/{workflow}",
    tag = "definitions",
    params(("workflow" = String, Path, description = "Workflow uuid or key")),
    responses(
        (status = 200, description = "Success", body = Definition),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(workflow): PathParams<String>,
) -> Result<Json<Definition>, ApiError> {
    Ok(Json(
        state
            .store
            .get_definition(caller.0.tenant, &workflow)
            .await?,
    ))
}

/// `GET /api/workflow-definitions/{workflow}/versions`: published versions, newest first.
#[utoipa::path(
    get,
    path = "/api/workflow-definitions/{workflow}/versions",
    tag = "definitions",
    params(("workflow" = String, Path, description = "Workflow uuid or key")),
    responses(
        (status = 200, description = "Success", body = VersionList),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn versions(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(workflow): PathParams<String>,
) -> Result<Json<VersionList>, ApiError> {
    let versions = state
        .store
        .list_versions(caller.0.tenant, &workflow)
        .await?;
    Ok(Json(VersionList { versions }))
}

/// A workflow's published versions, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct VersionList {
    versions: Vec<DefinitionVersion>,
}
