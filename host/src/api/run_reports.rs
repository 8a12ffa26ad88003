//! Read-only views of one run built from its projections: waits, a timeline (every start and
//! end of the run, its steps, waits and actions, in time order), a summary (counts, what it
//! is doing now, how it ended) and its place among runs (its children, parent and root).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ApiState;
use super::auth::Caller;
use super::body::{Params, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, NotFound, Unauthorized};
use crate::store::{Run, RunView, RunWait};

async fn view(state: &ApiState, caller: &Caller, run_id: uuid::Uuid) -> Result<RunView, ApiError> {
    Ok(state
        .store
        .show_run(&run_id.to_string(), Some(caller.0.tenant))
        .await?)
}

/// A page of a run's children or log lines.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    limit: Option<i64>,
    cursor: Option<i64>,
}

/// A run's place among runs: what started it, the top of its tree, and a page of the runs it
/// started.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunFamily {
    run_id: uuid::Uuid,
    /// The run that started it (null: nothing did).
    parent_run_id: Option<uuid::Uuid>,
    /// The run at the top of its tree (null: it is the top).
    root_run_id: Option<uuid::Uuid>,
    /// The runs it started with `control.callWorkflow`, oldest first.
    children: Vec<Run>,
    /// The `cursor` of the next page; absent on the last.
    next_cursor: Option<i64>,
}

/// `GET /api/workflow-runs/{runId}/children`: the runs it started, and where it sits itself.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/children",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id"), PageQuery),
    responses(
        (status = 200, description = "Success", body = RunFamily),
        BadRequest,
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn children(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
    Params(query): Params<PageQuery>,
) -> Result<Json<RunFamily>, ApiError> {
    let run = view(&state, &caller, run_id).await?.run;
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let children = state
        .store
        .child_runs(caller.0.tenant, run_id, limit, cursor)
        .await?;
    let next = super::next_cursor(children.len(), limit, cursor);
    Ok(Json(RunFamily {
        run_id,
        parent_run_id: run.parent_run_id,
        root_run_id: run.root_run_id,
        children,
        next_cursor: next,
    }))
}

/// A line of a run's log.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunLog {
    log_id: uuid::Uuid,
    /// `INFO`, `WARN` or `ERROR`.
    level: String,
    message: String,
    step_path: Option<String>,
    event_name: Option<String>,
    correlation_key: Option<String>,
    /// The particulars (an error, a wait's due time, a reason).
    #[schema(value_type = Option<Object>)]
    context: Option<Value>,
    /// `worker` or `api`.
    source: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

/// A page of a run's log.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunLogPage {
    logs: Vec<RunLog>,
    /// The `cursor` of the next page; absent on the last.
    next_cursor: Option<i64>,
}

/// `GET /api/workflow-runs/{runId}/logs`: the run's log, oldest first. The worker writes
/// started, step failed, action attempt failed, wait opened and closed, ended; the API writes
/// cancel requested, replayed, redriven and task answered, each naming the key.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/logs",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id"), PageQuery),
    responses(
        (status = 200, description = "Success", body = RunLogPage),
        BadRequest,
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn logs(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
    Params(query): Params<PageQuery>,
) -> Result<Json<RunLogPage>, ApiError> {
    view(&state, &caller, run_id).await?;
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let logs = state
        .store
        .run_logs(caller.0.tenant, run_id, limit, cursor)
        .await?;
    let next = super::next_cursor(logs.len(), limit, cursor);
    Ok(Json(RunLogPage {
        logs: logs
            .into_iter()
            .map(|l| RunLog {
                log_id: l.log_id,
                level: l.level,
                message: l.message,
                step_path: l.step_path,
                event_name: l.event_name,
                correlation_key: l.correlation_key,
                context: l.context_json.map(|c| c.0),
                source: l.source,
                at: l.created_at,
            })
            .collect(),
        next_cursor: next,
    }))
}

/// A run's waits, in creation order.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RunWaits {
    waits: Vec<RunWait>,
}

/// `GET /api/workflow-runs/{runId}/waits`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/waits",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = RunWaits),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn waits(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<RunWaits>, ApiError> {
    let waits = view(&state, &caller, run_id).await?.waits;
    Ok(Json(RunWaits { waits }))
}

/// Every start and end of a run, its steps, waits and actions, in time order.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Timeline {
    timeline: Vec<Moment>,
}

/// One start or end in a run's life; the fields that do not apply to its kind are absent.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Moment {
    at: DateTime<Utc>,
    /// `run.started`, `step.started`, `wait.opened`, `action.started`, or what ended and how
    /// (`step.succeeded`, `wait.resolved`, `action.failed`, `run.canceled`, ...).
    kind: String,
    /// The step's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// A step's `id` in the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    step_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<i32>,
    /// A wait's type (`event`, `time`, `human`).
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_name: Option<String>,
    /// A wait's correlation key or task id.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_version: Option<i32>,
    /// How what ended failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    error: Option<Value>,
}

/// `GET /api/workflow-runs/{runId}/timeline`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/timeline",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = Timeline),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn timeline(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<Timeline>, ApiError> {
    let view = view(&state, &caller, run_id).await?;
    Ok(Json(Timeline {
        timeline: build_timeline(&view),
    }))
}

/// `GET /api/workflow-runs/{runId}/summary`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/summary",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = RunSummary),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn summary(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(build_summary(view(&state, &caller, run_id).await?)))
}

/// One entry per start and end, sorted by time (ties keep the order they were made in).
pub fn build_timeline(view: &RunView) -> Vec<Moment> {
    let mut entries = Vec::new();
    let mut push = |at: Option<DateTime<Utc>>, kind: String, detail: Moment| {
        if let Some(at) = at {
            entries.push(Moment { at, kind, ..detail });
        }
    };
    let run = &view.run;
    push(
        Some(run.started_at),
        "run.started".into(),
        Moment::default(),
    );
    for step in &view.steps {
        let mut detail = Moment {
            path: Some(step.step_path.clone()),
            step_id: Some(step.definition_step_id.clone()),
            attempt: Some(step.attempt),
            ..Moment::default()
        };
        push(Some(step.started_at), "step.started".into(), detail.clone());
        detail.error = step.error.clone();
        push(step.completed_at, ended("step", &step.status), detail);
    }
    for wait in &view.waits {
        let detail = Moment {
            path: Some(wait.step_path.clone()),
            wait_type: Some(wait.wait_type.clone()),
            event_name: wait.event_name.clone(),
            key: wait.key.clone(),
            ..Moment::default()
        };
        push(Some(wait.created_at), "wait.opened".into(), detail.clone());
        push(wait.resolved_at, ended("wait", &wait.status), detail);
    }
    for call in &view.invocations {
        let mut detail = Moment {
            path: Some(call.step_path.clone()),
            action_id: Some(call.action_id.clone()),
            action_version: Some(call.action_version),
            attempt: Some(call.attempt),
            ..Moment::default()
        };
        push(
            Some(call.created_at),
            "action.started".into(),
            detail.clone(),
        );
        detail.error = call.error.clone();
        push(call.completed_at, ended("action", &call.status), detail);
    }
    let end = Moment {
        error: run.error.clone(),
        ..Moment::default()
    };
    push(run.completed_at, ended("run", &run.status), end);
    entries.sort_by_key(|e| e.at);
    entries
}

fn ended(what: &str, status: &str) -> String {
    format!("{what}.{}", status.to_ascii_lowercase())
}

/// A run at a glance: counts by status, what it waits on, where it is, how it ended.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    run_id: uuid::Uuid,
    workflow_id: uuid::Uuid,
    workflow_version: i32,
    status: String,
    trigger_type: Option<String>,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    /// The path of the step it is on (the latest one started and not ended).
    current_step: Option<String>,
    /// Step executions by status (`{"SUCCEEDED": 3}`).
    steps: BTreeMap<String, usize>,
    /// Action invocations by status.
    actions: BTreeMap<String, usize>,
    /// The waits still open.
    open_waits: Vec<RunWait>,
    /// How it failed.
    #[schema(value_type = Option<Object>)]
    error: Option<Value>,
}

/// Counts by status, the open waits, the current step and the outcome.
pub fn build_summary(view: RunView) -> RunSummary {
    fn count<'a>(statuses: impl Iterator<Item = &'a String>) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for status in statuses {
            *counts.entry(status.clone()).or_default() += 1;
        }
        counts
    }
    let run = view.run;
    RunSummary {
        run_id: run.run_id,
        workflow_id: run.workflow_id,
        workflow_version: run.workflow_version,
        status: run.status,
        trigger_type: run.trigger_type,
        started_at: run.started_at,
        completed_at: run.completed_at,
        current_step: view
            .steps
            .iter()
            .rev()
            .find(|s| s.status == "STARTED")
            .map(|s| s.step_path.clone()),
        steps: count(view.steps.iter().map(|s| &s.status)),
        actions: count(view.invocations.iter().map(|i| &i.status)),
        open_waits: view
            .waits
            .into_iter()
            .filter(|w| w.status == "WAITING")
            .collect(),
        error: run.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ActionInvocation, RunStep};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn view() -> RunView {
        let run_id = uuid::Uuid::nil();
        RunView {
            run: Run {
                run_id,
                workflow_id: run_id,
                workflow_version: 1,
                status: "SUCCEEDED".into(),
                node_path: None,
                input: None,
                error: None,
                started_at: at("2026-01-01T00:00:00Z"),
                completed_at: Some(at("2026-01-01T00:00:03Z")),
                updated_at: at("2026-01-01T00:00:03Z"),
                event_type: None,
                source_payload_schema_ref: None,
                trigger_mapping_applied: false,
                trigger_type: None,
                trigger_metadata: None,
                trigger_fire_key: None,
                engine: None,
                temporal_workflow_id: None,
                temporal_run_id: None,
                definition_hash: None,
                runtime_semantics_version: None,
                parent_run_id: None,
                root_run_id: None,
                reconciled_at: None,
            },
            steps: vec![RunStep {
                step_id: run_id,
                run_id,
                step_path: "root.steps[0]".into(),
                definition_step_id: "a".into(),
                status: "SUCCEEDED".into(),
                attempt: 1,
                duration_ms: Some(1000),
                error: None,
                started_at: at("2026-01-01T00:00:01Z"),
                completed_at: Some(at("2026-01-01T00:00:02Z")),
            }],
            waits: vec![],
            invocations: vec![ActionInvocation {
                invocation_id: run_id,
                run_id,
                step_path: "root.steps[0]".into(),
                action_id: "x".into(),
                action_version: 1,
                idempotency_key: "k".into(),
                status: "STARTED".into(),
                attempt: 1,
                input: None,
                output: None,
                error_message: None,
                error: None,
                created_at: at("2026-01-01T00:00:01.5Z"),
                started_at: None,
                completed_at: None,
            }],
        }
    }

    #[test]
    fn the_timeline_is_in_time_order_and_skips_what_has_not_happened() {
        let kinds: Vec<String> = build_timeline(&view())
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "run.started",
                "step.started",
                "action.started",
                "step.succeeded",
                "run.succeeded"
            ]
        );
    }

    #[test]
    fn the_summary_counts_by_status() {
        let summary = build_summary(view());
        assert_eq!(summary.steps, BTreeMap::from([("SUCCEEDED".to_owned(), 1)]));
        assert_eq!(summary.actions, BTreeMap::from([("STARTED".to_owned(), 1)]));
        assert_eq!(summary.current_step, None);
    }
}
