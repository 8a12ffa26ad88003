//! `alga-wf serve`: the HTTP JSON API over the same PostgreSQL and Temporal as the worker.
//!
//! `auth` turns an API key into a tenant and role, `body` and `error` give every failure one
//! shape, and one module per resource holds its routes: `definitions`, `runs`, `events`.

mod auth;
mod body;
mod definitions;
mod error;
mod events;
mod runs;

use std::future::Future;
use std::sync::Arc;

use alga_interpreter::validate::KnownAction;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::engine::InterpreterEngine;
use crate::store::Store;

/// Request bodies past this size are refused with 413 (the reference's payload limit).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// What the handlers share.
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// Temporal.
    pub client: temporalio_client::Client,
    /// The task queue runs start on.
    pub task_queue: String,
    /// The interpreter, for validation.
    pub engine: Arc<InterpreterEngine>,
    /// Actions a definition may call.
    pub known_actions: Vec<KnownAction>,
}

/// The API's routes.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route(
            "/api/workflow-definitions/publish",
            post(definitions::publish),
        )
        .route(
            "/api/workflow-definitions/{workflow}/{version}",
            get(definitions::version),
        )
        .route("/api/workflow-runs", post(runs::start).get(runs::list))
        .route("/api/workflow-runs/{run_id}", get(runs::get))
        .route("/api/workflow-runs/{run_id}/steps", get(runs::steps))
        .route("/api/workflow-runs/{run_id}/cancel", post(runs::cancel))
        .route("/api/workflow/events", post(events::submit))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({"ok": true}))
}

/// Ready when the database answers.
async fn ready(State(state): State<Arc<ApiState>>) -> Result<Json<Value>, error::ApiError> {
    state.store.ping().await?;
    Ok(Json(json!({"ok": true})))
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
