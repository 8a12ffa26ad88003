//! Definitions: publish (validate, hash, store an immutable version), list, get a version.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::body::Body;
use super::error::ApiError;
use crate::store::Role;
use alga_interpreter::definition::Severity;

/// `POST /api/workflow-definitions/publish` body.
#[derive(Deserialize)]
pub struct PublishRequest {
    definition: Value,
}

/// Validates and publishes; invalid definitions are a 400 listing every issue with its path.
pub async fn publish(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Body(request): Body<PublishRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Publish)?;
    let issues = state
        .engine
        .validate(&request.definition, Some(&state.known_actions))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ENGINE", e.to_string()))?;
    let (errors, warnings): (Vec<_>, Vec<_>) = issues
        .into_iter()
        .partition(|i| i.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(ApiError::bad_request("the definition is invalid")
            .with_details(json!({"errors": errors, "warnings": warnings})));
    }
    let published = state
        .store
        .publish(Some(caller.0.tenant), &request.definition)
        .await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "ok": true,
            "workflowId": published.workflow_id,
            "key": published.key,
            "publishedVersion": published.version,
            "definitionHash": alga_interpreter::canonical::definition_hash(&request.definition),
            "warnings": warnings,
        })),
    ))
}

/// `GET /api/workflow-definitions/{workflow}/{version}`: the published definition.
pub async fn version(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path((workflow, version)): Path<(String, i32)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Read)?;
    let pinned = state
        .store
        .pinned(Some(caller.0.tenant), &workflow, Some(version))
        .await?;
    Ok(Json(json!({
        "workflowId": pinned.workflow_id,
        "version": pinned.version,
        "definition": pinned.definition,
    })))
}
