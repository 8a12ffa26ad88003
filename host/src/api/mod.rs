//! `alga-wf serve`: the HTTP JSON API over the same PostgreSQL and Temporal as the worker.
//!
//! `auth` turns an API key into a tenant and role, `body` and `error` give every failure one
//! shape, and one module per resource holds its routes: `definitions`, `runs`, `events`.

mod auth;
mod body;
mod definitions;
mod error;
mod events;
mod rate_limit;
mod run_reports;
mod runs;
mod schedules;
mod tasks;

use std::future::Future;
use std::sync::Arc;

use alga_interpreter::validate::KnownAction;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::engine::InterpreterEngine;
use crate::store::Store;
pub use rate_limit::{StartLimiter, StartRate};

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
    /// Per-tenant start-rate limits.
    pub start_limiter: StartLimiter,
}

/// The API's routes.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            "/api/workflow-definitions",
            post(definitions::save_draft).get(definitions::list),
        )
        .route(
            "/api/workflow-definitions/publish",
            post(definitions::publish),
        )
        .route(
            "/api/workflow-definitions/validate",
            post(definitions::validate),
        )
        .route(
            "/api/workflow-definitions/{workflow}",
            get(definitions::get),
        )
        .route(
            "/api/workflow-definitions/{workflow}/draft",
            put(definitions::update_draft),
        )
        .route(
            "/api/workflow-definitions/{workflow}/publish",
            post(definitions::publish_draft),
        )
        .route(
            "/api/workflow-definitions/{workflow}/simulate",
            post(definitions::simulate_draft),
        )
        .route(
            "/api/workflow-definitions/{workflow}/versions",
            get(definitions::versions),
        )
        .route(
            "/api/workflow-definitions/{workflow}/metadata",
            put(definitions::metadata),
        )
        .route(
            "/api/workflow-definitions/{workflow}/{version}",
            get(definitions::version),
        )
        .route("/api/workflow-runs", post(runs::start).get(runs::list))
        .route("/api/workflow-runs/{run_id}", get(runs::get))
        .route("/api/workflow-runs/{run_id}/steps", get(runs::steps))
        .route("/api/workflow-runs/{run_id}/cancel", post(runs::cancel))
        .route("/api/workflow-runs/{run_id}/waits", get(run_reports::waits))
        .route(
            "/api/workflow-runs/{run_id}/timeline",
            get(run_reports::timeline),
        )
        .route(
            "/api/workflow-runs/{run_id}/summary",
            get(run_reports::summary),
        )
        .route("/api/workflow-runs/{run_id}/replay", post(runs::replay))
        .route("/api/workflow-runs/{run_id}/redrive", post(runs::redrive))
        .route(
            "/api/workflow-schedules",
            post(schedules::create).get(schedules::list),
        )
        .route(
            "/api/workflow-schedules/{id}",
            get(schedules::get)
                .put(schedules::update)
                .delete(schedules::delete),
        )
        .route("/api/workflow-schedules/{id}/pause", post(schedules::pause))
        .route(
            "/api/workflow-schedules/{id}/resume",
            post(schedules::resume),
        )
        .route("/api/workflow-tasks", get(tasks::list))
        .route("/api/workflow-tasks/{task_id}", get(tasks::get))
        .route("/api/workflow-tasks/{task_id}/claim", post(tasks::claim))
        .route(
            "/api/workflow-tasks/{task_id}/dismiss",
            post(tasks::dismiss),
        )
        .route(
            "/api/workflow-tasks/{task_id}/complete",
            post(tasks::complete),
        )
        .route(
            "/api/workflow/events",
            post(events::submit).get(events::list),
        )
        .route("/api/workflow/events/{event_id}", get(events::get))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({"ok": true}))
}

/// Prometheus metrics of this process (unauthenticated, like `/healthz`: scrape it on a
/// private network).
async fn metrics() -> String {
    crate::observability::metrics().render()
}

/// Ready when the database answers.
async fn ready(State(state): State<Arc<ApiState>>) -> Result<Json<Value>, error::ApiError> {
    state.store.ping().await?;
    Ok(Json(json!({"ok": true})))
}

/// A page request: `limit` held to 1..=200 (default 50) and a non-negative offset cursor.
fn page(limit: Option<i64>, cursor: Option<i64>) -> (i64, i64) {
    (
        limit.unwrap_or(50).clamp(1, 200),
        cursor.unwrap_or(0).max(0),
    )
}

/// The cursor of the next page, when this one was full.
fn next_cursor(returned: usize, limit: i64, cursor: i64) -> Option<i64> {
    (returned as i64 == limit).then_some(cursor + limit)
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::observability::metrics();
    let ingress_state = state.clone();
    tokio::spawn(async move {
        match ingress_state.ingress().route_unrouted().await {
            Ok(0) => {}
            Ok(n) => tracing::info!("routed {n} events stored before a restart"),
            Err(e) => tracing::warn!("routing events stored before a restart: {e}"),
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
