//! `alga-wf serve`: the HTTP JSON API over the same PostgreSQL and Temporal as the worker.
//!
//! `auth` turns an API key into a tenant and role, `body` and `error` give every failure one
//! shape, and one module per resource holds its routes: `definitions`, `runs`, `events`,
//! `tasks`, `schedules`, `keys`.

mod audit;
mod auth;
mod body;
mod definitions;
mod error;
mod events;
mod keys;
mod payload_schemas;
mod rate_limit;
mod run_reports;
mod runs;
mod schedules;
mod task_types;
mod tasks;
mod workflow_settings;

use std::future::Future;
use std::sync::Arc;

use alga_protocol::KnownAction;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::engine::InterpreterEngine;
use crate::store::Store;
use error::responses::Unavailable;
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
    /// Whether `/metrics` and `/openapi.json` need an API key (any role): for an API whose
    /// address is reachable beyond the operator's network.
    pub keyed_operations_pages: bool,
    /// How an event without a correlation key gets one from its payload.
    pub correlation: crate::usecases::ingress::CorrelationPaths,
}

/// The OpenAPI document's root: the routes add themselves to it.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "alga-wf",
        description = "The Alga workflow runtime's HTTP API. Every `/api` request carries an API key in `x-api-key` (or `Authorization: Bearer`); everything is scoped to the key's tenant."
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&ApiKeyScheme)
)]
struct ApiDoc;

/// Declares the `api_key` security scheme the routes refer to.
struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "api_key",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
            );
    }
}

/// The routes and the OpenAPI document generated from the same handler annotations, so the
/// document cannot drift from what is served.
fn routes() -> (Router<Arc<ApiState>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(definitions::save_draft, definitions::list))
        .routes(routes!(definitions::publish))
        .routes(routes!(definitions::validate))
        .routes(routes!(definitions::get))
        .routes(routes!(definitions::update_draft))
        .routes(routes!(definitions::publish_draft))
        .routes(routes!(definitions::simulate_draft))
        .routes(routes!(definitions::versions))
        .routes(routes!(workflow_settings::metadata))
        .routes(routes!(definitions::version))
        .routes(routes!(runs::start, runs::list))
        .routes(routes!(runs::get))
        .routes(routes!(runs::steps))
        .routes(routes!(runs::cancel))
        .routes(routes!(run_reports::waits))
        .routes(routes!(run_reports::timeline))
        .routes(routes!(run_reports::summary))
        .routes(routes!(run_reports::children))
        .routes(routes!(run_reports::logs))
        .routes(routes!(audit::list))
        .routes(routes!(payload_schemas::list))
        .routes(routes!(task_types::list))
        .routes(routes!(
            task_types::save,
            task_types::get,
            task_types::delete
        ))
        .routes(routes!(
            payload_schemas::save,
            payload_schemas::get,
            payload_schemas::delete
        ))
        .routes(routes!(runs::replay))
        .routes(routes!(runs::redrive))
        .routes(routes!(schedules::create, schedules::list))
        .routes(routes!(
            schedules::get,
            schedules::update,
            schedules::delete
        ))
        .routes(routes!(schedules::pause))
        .routes(routes!(schedules::resume))
        .routes(routes!(tasks::list))
        .routes(routes!(tasks::get))
        .routes(routes!(tasks::claim))
        .routes(routes!(tasks::dismiss))
        .routes(routes!(tasks::complete))
        .routes(routes!(events::submit, events::list))
        .routes(routes!(events::get))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .split_for_parts()
}

/// The OpenAPI document (`alga-wf openapi`, and `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

/// The API's routes, with `/openapi.json`.
pub fn router(state: Arc<ApiState>) -> Router {
    let (router, document) = routes();
    let document = Arc::new(document);
    router
        .route(
            "/openapi.json",
            get(
                move |State(state): State<Arc<ApiState>>,
                      caller: Result<auth::Caller, error::ApiError>| {
                    let document = document.clone();
                    async move {
                        operations_page_allowed(&state, caller)?;
                        Ok::<_, error::ApiError>(Json(document.as_ref().clone()))
                    }
                },
            ),
        )
        // Every body is read whole (up to the limit, past it 413) before anything answers.
        .layer(axum::middleware::from_fn(|request, next| {
            body::read_first(request, next, MAX_BODY_BYTES)
        }))
        .with_state(state)
}

/// What `/healthz` and `/readyz` answer when all is well.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Healthy {
    /// Always true.
    ok: bool,
}

/// Alive.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "Success", body = Healthy)),
)]
async fn health() -> Json<Healthy> {
    Json(Healthy { ok: true })
}

/// Prometheus metrics of this process: open like `/healthz` (scrape it on a private
/// network), or behind a key with `--keyed-operations-pages`, or on their own address with
/// `serve --metrics-listen`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Success", body = String)),
)]
async fn metrics(
    State(state): State<Arc<ApiState>>,
    caller: Result<auth::Caller, error::ApiError>,
) -> Result<String, error::ApiError> {
    operations_page_allowed(&state, caller)?;
    Ok(crate::observability::metrics().render())
}

/// `/metrics` and `/openapi.json` are open, unless the API was started with
/// `--keyed-operations-pages`; then they need a live key of any role.
fn operations_page_allowed(
    state: &ApiState,
    caller: Result<auth::Caller, error::ApiError>,
) -> Result<(), error::ApiError> {
    match caller {
        Err(refused) if state.keyed_operations_pages => Err(refused),
        _ => Ok(()),
    }
}

/// Ready when the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, description = "Success", body = Healthy), Unavailable),
)]
async fn ready(State(state): State<Arc<ApiState>>) -> Result<Json<Healthy>, error::ApiError> {
    state.store.ping().await?;
    Ok(Json(Healthy { ok: true }))
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

#[cfg(test)]
mod role_table {
    //! `docs/api.md`'s role table is generated from the OpenAPI document's security scopes,
    //! which come from the same annotations as the handlers' `Caller<To…>` signatures (and the
    //! authorization matrix test holds the handlers to them). `ALGA_WF_BLESS=1 cargo test -p
    //! alga-wf role_table` rewrites the table.

    const BEGIN: &str = "<!-- role table: generated from the OpenAPI document -->\n";
    const END: &str = "<!-- end of role table -->";

    fn table() -> String {
        let document = serde_json::to_value(super::openapi()).expect("the document serialises");
        let mut out = String::from("| operation | role |\n| --- | --- |\n");
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let role = operation["security"][0]["api_key"][0]
                    .as_str()
                    .unwrap_or("none");
                out.push_str(&format!(
                    "| `{} {path}` | {role} |\n",
                    method.to_uppercase()
                ));
            }
        }
        out
    }

    #[test]
    fn the_role_table_in_docs_is_the_documents() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
        let text = std::fs::read_to_string(&file).expect("docs/api.md");
        let start = text
            .find(BEGIN)
            .expect("docs/api.md has the role table marker")
            + BEGIN.len();
        let end = start + text[start..].find(END).expect("the table's end marker");
        let expected = table();
        if text[start..end] != expected {
            if std::env::var_os("ALGA_WF_BLESS").is_some() {
                let updated = format!("{}{expected}{}", &text[..start], &text[end..]);
                std::fs::write(&file, updated).expect("docs/api.md is writable");
            } else {
                panic!(
                    "docs/api.md's role table is stale; run ALGA_WF_BLESS=1 cargo test -p alga-wf \
                     role_table, or paste:\n{expected}"
                );
            }
        }
    }
}

#[cfg(test)]
mod typed_answers {
    //! Every answer the API gives has a named schema in the OpenAPI document: a response whose
    //! schema is `Value` (anything) would let a handler answer a row's raw columns again.

    #[test]
    fn every_success_response_names_its_schema() {
        let document = serde_json::to_value(super::openapi()).expect("the document serialises");
        let mut untyped = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let responses = operation["responses"].as_object().into_iter().flatten();
                for (status, response) in responses {
                    let Some(content) = response["content"].as_object() else {
                        continue;
                    };
                    for (media, body) in content {
                        let schema = &body["schema"];
                        let named = schema.get("$ref").is_some()
                            || schema["items"].get("$ref").is_some()
                            || media.starts_with("text/");
                        if !named {
                            untyped.push(format!("{method} {path} {status} {media}: {schema}"));
                        }
                    }
                }
            }
        }
        assert!(
            untyped.is_empty(),
            "answers without a schema:\n{}",
            untyped.join("\n")
        );
    }
}
