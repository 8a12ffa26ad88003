//! Request input whose rejections use our error shape: JSON bodies (400 with the parser's
//! message and position, 413 past the size limit), query strings and path parameters (400
//! naming the parameter).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body of type `T`.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The body is already read and within the limit (`read_first`), so a rejection is
        // about its content.
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// A query string of type `T`.
pub struct Params<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// Path parameters of type `T`.
pub struct PathParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// A body field that must be a JSON object; absent (`null`) is the empty object.
pub fn object_or_empty(
    value: serde_json::Value,
    field: &str,
) -> Result<serde_json::Value, ApiError> {
    match value {
        serde_json::Value::Null => Ok(serde_json::json!({})),
        object @ serde_json::Value::Object(_) => Ok(object),
        _ => Err(ApiError::bad_request(format!(
            "`{field}` must be a JSON object"
        ))),
    }
}

/// Reads a request's whole body before anything answers it. An answer given while the client
/// is still sending (a 401 or 403 from the key check, which comes before the body is parsed)
/// would make the server close a socket with unread data, which resets the connection, and the
/// client can lose the answer with it. Bodies are bounded by `limit` (past it: 413, the one
/// answer that cannot wait for the whole body).
pub async fn read_first(
    request: axum::extract::Request,
    next: axum::middleware::Next,
    limit: usize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
            next.run(request).await
        }
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is larger than the API accepts",
        )
        .into_response(),
    }
}

/// A name a tenant gives something (a payload schema's ref, a task type) as definitions spell
/// it: 1 to 200 letters, digits, `.`, `_` or `-`; else a 400 naming `field`.
pub fn checked_name<'a>(name: &'a str, field: &str) -> Result<&'a str, ApiError> {
    let fine = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fine {
        Ok(name)
    } else {
        Err(ApiError::bad_request(format!(
            "`{field}` must be 1 to 200 letters, digits, `.`, `_` or `-`"
        )))
    }
}
