//! Authentication: every request carries an API key (`x-api-key`, or `Authorization: Bearer`),
//! which names its tenant and role.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiState;
use super::error::ApiError;
use crate::store::{Principal, Role};

/// The authenticated caller.
pub struct Caller(pub Principal);

impl Caller {
    /// The caller's role must allow `needed` (403 otherwise).
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.0.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!(
                    "this needs the `{}` role; the key has `{}`",
                    needed.as_str(),
                    self.0.role.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let key = header("x-api-key")
            .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")));
        let unauthorized = |message: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message.to_owned())
        };
        let key = key.ok_or_else(|| unauthorized("send an API key in the x-api-key header"))?;
        match state.store.authenticate(key).await? {
            Some(principal) => Ok(Caller(principal)),
            None => Err(unauthorized("the API key is unknown, revoked or expired")),
        }
    }
}
