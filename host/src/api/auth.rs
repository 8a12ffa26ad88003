//! Authentication and authorization: every request carries an API key (`x-api-key`, or
//! `Authorization: Bearer`), which names its tenant and role, and every handler names the role
//! it needs in its signature (`Caller<ToManage>`), so the check happens before the body is read
//! and a route cannot forget it. The same role is the route's security scope in the OpenAPI
//! document (`security(("api_key" = ["manage"]))`), from which `docs/api.md`'s role table is
//! generated and which the authorization matrix test holds every route to.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiState;
use super::error::ApiError;
use crate::store::{Principal, Role};

/// The role a route needs.
pub trait Needs: Send + Sync {
    /// That role.
    const ROLE: Role;
}

/// Any key of the tenant (`read`).
pub struct ToRead;
/// `manage` (or `admin`).
pub struct ToManage;
/// `publish` (or `admin`).
pub struct ToPublish;
/// `admin`.
pub struct ToAdmin;

impl Needs for ToRead {
    const ROLE: Role = Role::Read;
}
impl Needs for ToManage {
    const ROLE: Role = Role::Manage;
}
impl Needs for ToPublish {
    const ROLE: Role = Role::Publish;
}
impl Needs for ToAdmin {
    const ROLE: Role = Role::Admin;
}

/// The authenticated caller, whose role allows `N`.
pub struct Caller<N: Needs = ToRead>(pub Principal, PhantomData<N>);

impl<N: Needs> Caller<N> {
    /// The caller's role must also allow `needed` (403 otherwise), for what only some requests
    /// of a route do (an admin's override).
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        allow(&self.0, needed)
    }
}

fn allow(principal: &Principal, needed: Role) -> Result<(), ApiError> {
    if principal.role.allows(needed) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "this needs the `{}` role; the key has `{}`",
                needed.as_str(),
                principal.role.as_str()
            ),
        ))
    }
}

impl<N: Needs> FromRequestParts<Arc<ApiState>> for Caller<N> {
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
        let principal = state
            .store
            .authenticate(key)
            .await?
            .ok_or_else(|| unauthorized("the API key is unknown, revoked or expired"))?;
        allow(&principal, N::ROLE)?;
        Ok(Caller(principal, PhantomData))
    }
}
