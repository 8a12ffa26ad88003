//! The payload schema registry: a tenant registers the JSON Schema its workflows'
//! `payloadSchemaRef` names (its own hides a system one of the same ref), and every start is
//! checked against it (`crate::usecases::payload_schemas`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::ApiState;
use super::auth::{Caller, ToPublish, ToRead};
use super::body::{Body, PathParams, checked_name};
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized};
use super::schedules::Deleted;
use crate::store::PayloadSchema;

/// A schema as the API shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    schema_ref: String,
    /// `tenant` (this tenant's own) or `system`.
    scope: &'static str,
    /// The JSON Schema document (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    schema: Option<Value>,
    updated_at: chrono::DateTime<chrono::Utc>,
    /// After a save: the schedules whose payload no longer fits (each now failed and paused,
    /// with the reason on its row); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    schedule_problems: Vec<String>,
}

impl Schema {
    fn of(schema: PayloadSchema, whole: bool) -> Self {
        Schema {
            schema_ref: schema.schema_ref,
            scope: schema.scope,
            schema: whole.then_some(schema.schema),
            updated_at: schema.updated_at,
            schedule_problems: Vec::new(),
        }
    }
}

/// The schemas a tenant sees.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaList {
    schemas: Vec<Schema>,
}

/// `PUT /api/workflow-payload-schemas/{schemaRef}` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveSchema {
    /// A JSON Schema document (draft 2020-12 unless it says otherwise).
    #[schema(value_type = Object)]
    schema: Value,
}

/// Registers (201) or replaces (200) the tenant's own schema for a ref (publish); a schema that
/// cannot be compiled is refused with the reason.
#[utoipa::path(
    put,
    path = "/api/workflow-payload-schemas/{schema_ref}",
    tag = "payload schemas",
    request_body = SaveSchema,
    params(("schema_ref" = String, Path, description = "The payloadSchemaRef")),
    responses(
        (status = 201, description = "Registered", body = Schema),
        (status = 200, description = "Replaced", body = Schema),
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
    PathParams(schema_ref): PathParams<String>,
    Body(request): Body<SaveSchema>,
) -> Result<(StatusCode, Json<Schema>), ApiError> {
    let schema_ref = checked_name(&schema_ref, "schemaRef")?;
    crate::usecases::payload_schemas::usable(&request.schema).map_err(|reason| {
        ApiError::new(StatusCode::BAD_REQUEST, "PAYLOAD_SCHEMA_INVALID", reason)
    })?;
    let created = state
        .store
        .save_payload_schema(caller.0.tenant, schema_ref, &request.schema)
        .await?;
    state
        .audit(
            &caller.0,
            if created {
                "payload_schema.created"
            } else {
                "payload_schema.replaced"
            },
            ("payload_schema", schema_ref.to_owned()),
            Value::Null,
            None,
        )
        .await;
    let saved = state
        .store
        .payload_schema(Some(caller.0.tenant), schema_ref)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no payload schema {schema_ref}")))?;
    // Schedules fire with stored payloads and no one to refuse them to: those the new schema
    // refuses stop now, as when a new version is published.
    let schedule_problems = state
        .scheduler()
        .recheck_schema(caller.0.tenant, schema_ref)
        .await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Schema {
            schedule_problems,
            ..Schema::of(saved, true)
        }),
    ))
}

/// The schemas the tenant sees, its own and the system's, by ref (read).
#[utoipa::path(
    get,
    path = "/api/workflow-payload-schemas",
    tag = "payload schemas",
    responses((status = 200, description = "Success", body = SchemaList), Unauthorized),
    security(("api_key" = ["read"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
) -> Result<Json<SchemaList>, ApiError> {
    let schemas = state.store.payload_schemas(caller.0.tenant).await?;
    Ok(Json(SchemaList {
        schemas: schemas.into_iter().map(|s| Schema::of(s, false)).collect(),
    }))
}

/// One schema: the tenant's own, else the system's (read).
#[utoipa::path(
    get,
    path = "/api/workflow-payload-schemas/{schema_ref}",
    tag = "payload schemas",
    params(("schema_ref" = String, Path, description = "The payloadSchemaRef")),
    responses(
        (status = 200, description = "Success", body = Schema),
        BadRequest,
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToRead>,
    PathParams(schema_ref): PathParams<String>,
) -> Result<Json<Schema>, ApiError> {
    let schema_ref = checked_name(&schema_ref, "schemaRef")?;
    let schema = state
        .store
        .payload_schema(Some(caller.0.tenant), schema_ref)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no payload schema {schema_ref}")))?;
    Ok(Json(Schema::of(schema, true)))
}

/// Removes the tenant's own schema for a ref (publish); a system one of the same ref applies
/// again.
#[utoipa::path(
    delete,
    path = "/api/workflow-payload-schemas/{schema_ref}",
    tag = "payload schemas",
    params(("schema_ref" = String, Path, description = "The payloadSchemaRef")),
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
    PathParams(schema_ref): PathParams<String>,
) -> Result<Json<Deleted>, ApiError> {
    let schema_ref = checked_name(&schema_ref, "schemaRef")?;
    state
        .store
        .delete_payload_schema(caller.0.tenant, schema_ref)
        .await?;
    state
        .audit(
            &caller.0,
            "payload_schema.deleted",
            ("payload_schema", schema_ref.to_owned()),
            Value::Null,
            None,
        )
        .await;
    // The system's schema of that ref, if any, applies from now on.
    for problem in state
        .scheduler()
        .recheck_schema(caller.0.tenant, schema_ref)
        .await
    {
        tracing::warn!(
            schema_ref,
            "a schedule stopped after its schema was removed: {problem}"
        );
    }
    Ok(Json(Deleted::default()))
}
