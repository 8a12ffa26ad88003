//! API keys of the caller's tenant: create (the key is shown once), list, revoke. Admin only.
//! A revoked or expired key is refused from the next request on (`Store::authenticate` caches
//! nothing).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToAdmin};
use super::body::{Body, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, NotFound, UnauthorizedOrExpired};
use crate::store::{ApiKeyInfo, Role};

/// `POST /api/api-keys` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKey {
    /// A name to recognise the key by (1 to 200 characters).
    name: String,
    /// `read`, `manage`, `publish` or `admin`.
    role: String,
    /// When the key stops working (RFC 3339, in the future); never when absent.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<DateTime<Utc>>,
}

/// A key as the API shows it: everything but the key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// The key's id (revoke it by this).
    key_id: Uuid,
    /// Its name.
    name: String,
    /// Its role.
    role: String,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyInfo> for KeyView {
    fn from(key: ApiKeyInfo) -> Self {
        KeyView {
            key_id: key.key_id,
            name: key.name,
            role: key.role,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A key just made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    /// The key's id.
    key_id: Uuid,
    /// The key: shown this once, stored only as its hash.
    key: String,
    /// Its role.
    role: String,
    /// When it stops working.
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<DateTime<Utc>>,
}

/// `GET /api/api-keys` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The tenant's keys, newest first.
    keys: Vec<KeyView>,
}

/// `POST /api/api-keys`: a new key of the caller's tenant.
#[utoipa::path(
    post,
    path = "/api/api-keys",
    tag = "keys",
    request_body = CreateKey,
    responses(
        (status = 201, description = "Created; the key is in the body, once", body = CreatedKey),
        BadRequest,
        UnauthorizedOrExpired,
        Forbidden,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    Body(request): Body<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let role = Role::parse(&request.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`role` must be read, manage, publish or admin; found `{}`",
            request.role
        ))
    })?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains('\0') {
        return Err(ApiError::bad_request(
            "`name` must be 1 to 200 characters, without NUL",
        ));
    }
    if request.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::bad_request("`expiresAt` must be in the future"));
    }
    let made = state
        .store
        .create_expiring_api_key(caller.0.tenant, name, role, request.expires_at)
        .await?;
    state
        .audit(
            &caller.0,
            "api_key.created",
            ("api_key", made.key_id.to_string()),
            serde_json::json!({"name": name, "role": role.as_str(), "expiresAt": request.expires_at}),
            None,
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key_id: made.key_id,
            key: made.key,
            role: role.as_str().to_owned(),
            expires_at: request.expires_at,
        }),
    ))
}

/// `GET /api/api-keys`: the caller's tenant's keys.
#[utoipa::path(
    get,
    path = "/api/api-keys",
    tag = "keys",
    responses(
        (status = 200, description = "Success", body = KeyList),
        UnauthorizedOrExpired,
        Forbidden,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
) -> Result<Json<KeyList>, ApiError> {
    let keys = state.store.list_api_keys(caller.0.tenant).await?;
    Ok(Json(KeyList {
        keys: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// `DELETE /api/api-keys/{keyId}`: revokes the key at once.
#[utoipa::path(
    delete,
    path = "/api/api-keys/{key_id}",
    tag = "keys",
    params(("key_id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        BadRequest,
        UnauthorizedOrExpired,
        Forbidden,
        NotFound,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn revoke(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    PathParams(key_id): PathParams<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_api_key(caller.0.tenant, key_id).await?;
    state
        .audit(
            &caller.0,
            "api_key.revoked",
            ("api_key", key_id.to_string()),
            serde_json::Value::Null,
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
