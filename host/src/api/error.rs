//! API errors: a status and a body that says what was wrong and where:
//! `{"error": CODE, "message": TEXT, "details"?: ...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::store::{FailureClass, StoreError};
use crate::usecases::launch::LaunchError;

/// The body of every error response: what `ApiError` sends and what the OpenAPI document
/// describes are this one type.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A machine-readable code, e.g. `NOT_FOUND`, `RATE_LIMITED`, `TASK_RESPONSE_INVALID`.
    error: &'static str,
    /// What was wrong and where.
    message: String,
    /// Structured details, e.g. validation issues with their paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<serde_json::Value>,
}

/// The error responses routes share, one type each, so a route's annotation lists them by name:
/// `responses((status = 200, body = TaskList), Unauthorized, NotFound)`.
pub mod responses {
    use super::ErrorBody;

    macro_rules! error_response {
        ($(#[$doc:meta])* $name:ident, $status:literal, $description:literal) => {
            $(#[$doc])*
            #[derive(utoipa::IntoResponses)]
            #[response(status = $status, description = $description)]
            #[allow(dead_code)] // Only the OpenAPI document reads it.
            pub struct $name(ErrorBody);
        };
    }

    error_response!(
        /// 400.
        BadRequest, 400, "The request is malformed or invalid (the message says what and where)"
    );
    error_response!(
        /// 401 on the routes keys are managed by, where expiry is part of the answer.
        UnauthorizedOrExpired, 401, "No API key, or an unknown, revoked or expired one"
    );
    error_response!(
        /// 401.
        Unauthorized, 401, "No API key, or an unknown or revoked one"
    );
    error_response!(
        /// 403.
        Forbidden, 403, "The key's role does not allow this"
    );
    error_response!(
        /// 404: another tenant's object is answered the same way.
        NotFound, 404, "Not found in the caller's tenant"
    );
    error_response!(
        /// 409.
        Conflict, 409, "Conflicts with the current state"
    );
    error_response!(
        /// 413.
        TooLarge, 413, "The body is larger than 512 KiB"
    );
    error_response!(
        /// 429.
        RateLimited, 429, "The tenant's start-rate limit is exceeded (see Retry-After)"
    );
    error_response!(
        /// 502.
        TemporalFailed, 502, "Temporal refused the operation"
    );
    error_response!(
        /// 503.
        Unavailable, 503, "The database is unavailable"
    );
}

/// An error response (boxed: handlers return it on every path, and it is rarely built).
#[derive(Debug)]
pub struct ApiError(Box<Parts>);

#[derive(Debug)]
struct Parts {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError(Box::new(Parts {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }))
    }

    /// Adds details (e.g. validation issues with their paths).
    pub fn with_details(mut self, details: Value) -> Self {
        self.0.details = Some(details);
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after = Some(seconds);
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = *self.0;
        let body = ErrorBody {
            error: error.code,
            message: error.message,
            details: error.details,
        };
        let mut response = (error.status, Json(body)).into_response();
        if let Some(seconds) = error.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => ApiError::not_found(message),
            StoreError::AtLimit(message) => {
                ApiError::new(StatusCode::CONFLICT, "CONCURRENCY_LIMIT_REACHED", message)
            }
            StoreError::Invalid(message) => {
                ApiError::new(StatusCode::CONFLICT, "CONFLICT", message)
            }
            rejected if rejected.class() == FailureClass::RejectedValue => ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_VALUE",
                format!(
                    "a value cannot be stored (PostgreSQL text holds no NUL character, \
                     `\\u0000`): {rejected}"
                ),
            ),
            conflict if conflict.class() == FailureClass::Constraint => {
                ApiError::new(StatusCode::CONFLICT, "CONFLICT", conflict.to_string())
            }
            other => {
                tracing::error!("database: {other}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DATABASE_UNAVAILABLE",
                    "the database failed; try again",
                )
                .with_retry_after(2)
            }
        }
    }
}

impl From<LaunchError> for ApiError {
    fn from(error: LaunchError) -> Self {
        match error {
            LaunchError::PayloadNotObject => ApiError::bad_request(error.to_string()),
            LaunchError::Store(store) => store.into(),
            LaunchError::Temporal(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "TEMPORAL_START_FAILED", message)
            }
            LaunchError::Payload(payload) => payload.into(),
        }
    }
}

impl From<crate::usecases::payload_schemas::PayloadError> for ApiError {
    fn from(error: crate::usecases::payload_schemas::PayloadError) -> Self {
        use crate::usecases::payload_schemas::PayloadError;
        match error {
            PayloadError::Invalid {
                ref schema_ref,
                ref problems,
            } => {
                let details = serde_json::json!({"schemaRef": schema_ref, "errors": problems});
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PAYLOAD_INVALID",
                    error.to_string(),
                )
                .with_details(details)
            }
            PayloadError::Unusable { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "PAYLOAD_SCHEMA_UNUSABLE",
                error.to_string(),
            ),
            PayloadError::Store(store) => store.into(),
        }
    }
}
