//! Read-only views of one run built from its projections: waits, a timeline (every start and
//! end of the run, its steps, waits and actions, in time order), a summary (counts, what it
//! is doing now, how it ended) and its place among runs (its children, parent and root).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::body::{Params, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, NotFound, Unauthorized};
use crate::store::RunView;

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
    /// The runs it started with `control.callWorkflow`, oldest first, as their rows.
    #[schema(value_type = Vec<Object>)]
    children: Vec<Value>,
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
    let id = |field: &str| {
        run[field]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
    };
    Ok(Json(RunFamily {
        run_id,
        parent_run_id: id("parent_run_id"),
        root_run_id: id("root_run_id"),
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

/// `GET /api/workflow-runs/{runId}/waits`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/waits",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn waits(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"waits": view(&state, &caller, run_id).await?.waits}),
    ))
}

/// `GET /api/workflow-runs/{runId}/timeline`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/timeline",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn timeline(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"timeline": build_timeline(&view(&state, &caller, run_id).await?)}),
    ))
}

/// `GET /api/workflow-runs/{runId}/summary`.
#[utoipa::path(
    get,
    path = "/api/workflow-runs/{run_id}/summary",
    tag = "runs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Success", body = serde_json::Value),
        Unauthorized,
        NotFound,
    ),
    security(("api_key" = ["read"])),
)]
pub async fn summary(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    PathParams(run_id): PathParams<uuid::Uuid>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(build_summary(&view(&state, &caller, run_id).await?)))
}

/// One entry per start and end, sorted by time (ties keep the order they were made in).
pub fn build_timeline(view: &RunView) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut push = |at: &Value, kind: String, detail: Value| {
        if let Some(at) = at.as_str() {
            let mut entry = json!({"at": at, "kind": kind});
            if let (Value::Object(entry), Value::Object(detail)) = (&mut entry, detail) {
                entry.extend(detail.into_iter().filter(|(_, v)| !v.is_null()));
            }
            entries.push(entry);
        }
    };
    let run = &view.run;
    push(&run["started_at"], "run.started".into(), json!({}));
    for step in &view.steps {
        let detail = json!({"path": step["step_path"], "stepId": step["definition_step_id"],
            "attempt": step["attempt"]});
        push(&step["started_at"], "step.started".into(), detail.clone());
        let mut end = detail;
        end["error"] = step["error_json"].clone();
        push(&step["completed_at"], ended("step", &step["status"]), end);
    }
    for wait in &view.waits {
        let detail = json!({"path": wait["step_path"], "waitType": wait["wait_type"],
            "eventName": wait["event_name"], "key": wait["key"]});
        push(&wait["created_at"], "wait.opened".into(), detail.clone());
        push(&wait["resolved_at"], ended("wait", &wait["status"]), detail);
    }
    for call in &view.invocations {
        let detail = json!({"path": call["step_path"], "actionId": call["action_id"],
            "actionVersion": call["action_version"], "attempt": call["attempt"]});
        push(&call["created_at"], "action.started".into(), detail.clone());
        let mut end = detail;
        end["error"] = call["error_json"].clone();
        push(&call["completed_at"], ended("action", &call["status"]), end);
    }
    push(
        &run["completed_at"],
        ended("run", &run["status"]),
        json!({"error": run["error_json"]}),
    );
    // PostgreSQL drops trailing zeros of fractions, so the times sort as times, not text.
    entries.sort_by_key(|e| {
        e["at"]
            .as_str()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
    });
    entries
}

fn ended(what: &str, status: &Value) -> String {
    format!(
        "{what}.{}",
        status.as_str().unwrap_or("ended").to_ascii_lowercase()
    )
}

/// Counts by status, the open waits, the current step and the outcome.
pub fn build_summary(view: &RunView) -> Value {
    let count = |rows: &[Value]| {
        let mut counts = serde_json::Map::new();
        for row in rows {
            let status = row["status"].as_str().unwrap_or("UNKNOWN").to_owned();
            let n = counts.get(&status).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(status, json!(n + 1));
        }
        Value::Object(counts)
    };
    let open_waits: Vec<&Value> = view
        .waits
        .iter()
        .filter(|w| w["status"] == "WAITING")
        .collect();
    let run = &view.run;
    json!({
        "runId": run["run_id"],
        "workflowId": run["workflow_id"],
        "workflowVersion": run["workflow_version"],
        "status": run["status"],
        "triggerType": run["trigger_type"],
        "startedAt": run["started_at"],
        "completedAt": run["completed_at"],
        "currentStep": view.steps.iter().rev().find(|s| s["status"] == "STARTED")
            .map(|s| s["step_path"].clone()),
        "steps": count(&view.steps),
        "actions": count(&view.invocations),
        "openWaits": open_waits,
        "error": run["error_json"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RunView {
        RunView {
            run: json!({"run_id": "r", "status": "SUCCEEDED", "started_at": "2026-01-01T00:00:00+00:00",
                "completed_at": "2026-01-01T00:00:03+00:00", "error_json": null}),
            steps: vec![
                json!({"step_path": "root.steps[0]", "definition_step_id": "a", "status": "SUCCEEDED",
                "attempt": 1, "started_at": "2026-01-01T00:00:01+00:00",
                "completed_at": "2026-01-01T00:00:02+00:00"}),
            ],
            waits: vec![],
            invocations: vec![
                json!({"step_path": "root.steps[0]", "action_id": "x", "action_version": 1,
                "attempt": 1, "status": "SUCCEEDED", "created_at": "2026-01-01T00:00:01.5+00:00",
                "completed_at": null}),
            ],
        }
    }

    #[test]
    fn the_timeline_is_in_time_order_and_skips_what_has_not_happened() {
        let kinds: Vec<String> = build_timeline(&view())
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
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
        let summary = build_summary(&view());
        assert_eq!(summary["steps"], json!({"SUCCEEDED": 1}));
        assert_eq!(summary["currentStep"], Value::Null);
    }
}
