//! A workflow's operator settings, apart from its definition (`PUT
//! /api/workflow-definitions/{workflow}/metadata`, the reference's metadata action): paused, its
//! runs' execution timeout and concurrency limit, pausing itself when its runs keep failing, and
//! how long its ended runs are kept.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::ApiState;
use super::auth::{Caller, ToManage};
use super::body::{Body, PathParams};
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, NotFound, Unauthorized};

/// The settings to change; an absent field keeps its value, `null` clears a nullable one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetadataRequest {
    /// Pause (events and schedules do not start it) or resume.
    is_paused: Option<bool>,
    /// Seconds a run may stay open before it ends `FAILED` with a `TimeoutError`, applied to
    /// runs already open too; `null` goes back to the deployment's (`--run-timeout-secs`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1)]
    execution_timeout_secs: Option<Option<u32>>,
    /// How many of its runs may be open (`RUNNING` or `WAITING`) at once: a start past it is
    /// refused (`409 CONCURRENCY_LIMIT_REACHED`; an event's launch records why); `null`: any.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1)]
    concurrency_limit: Option<Option<u32>>,
    /// Pause the workflow when, among its last `failureRateMinRuns` ended runs, at least
    /// `failureRateThreshold` of them failed.
    auto_pause_on_failure: Option<bool>,
    /// The failed share (0 to 1, default 0.5) that pauses it.
    #[schema(minimum = 0, maximum = 1)]
    failure_rate_threshold: Option<f64>,
    /// How many ended runs are judged (default 10; fewer are not judged).
    #[schema(minimum = 1)]
    failure_rate_min_runs: Option<u32>,
    /// Days its ended runs are kept before they are purged with their steps, waits, actions,
    /// logs, tasks and deliveries; `null` goes back to the deployment's (`--retention-days`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1)]
    retention_days: Option<Option<u32>>,
}

/// A field that may be absent (`None`) or `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A setting that is set to at least 1, cleared with `null`, or left as it is.
fn positive(value: Option<Option<u32>>, field: &str) -> Result<Option<Option<i32>>, ApiError> {
    match value {
        Some(Some(0)) => Err(ApiError::bad_request(format!(
            "`{field}` must be at least 1 (null: no setting of its own)"
        ))),
        Some(n) => Ok(Some(n.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))),
        None => Ok(None),
    }
}

/// The workflow's settings after a change.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Always true.
    ok: bool,
    /// Paused: events and schedules do not start it.
    is_paused: bool,
    /// Its own execution timeout in seconds (null: the deployment's).
    execution_timeout_secs: Option<i32>,
    /// How many of its runs may be open at once (null: any).
    concurrency_limit: Option<i32>,
    /// Whether it pauses itself when its runs keep failing.
    auto_pause_on_failure: bool,
    /// The failed share that pauses it.
    failure_rate_threshold: f64,
    /// How many ended runs are judged.
    failure_rate_min_runs: i32,
    /// Days its ended runs are kept (null: the deployment's).
    retention_days: Option<i32>,
    /// Schedules that could not be paused or resumed with it in Temporal.
    schedule_problems: Vec<String>,
}

/// Changes a workflow's settings (manage): a paused workflow is not started by events or
/// schedules (its Temporal Schedules are paused with it; manual starts still work); its
/// execution timeout holds its runs, open ones included, to a deadline.
#[utoipa::path(
    put,
    path = "/api/workflow-definitions/{workflow}/metadata",
    tag = "definitions",
    request_body = MetadataRequest,
    params(("workflow" = String, Path, description = "Workflow uuid or key")),
    responses(
        (status = 200, description = "Success", body = Metadata),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
    ),
    security(("api_key" = ["manage"])),
)]
pub async fn metadata(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToManage>,
    PathParams(workflow): PathParams<String>,
    Body(request): Body<MetadataRequest>,
) -> Result<Json<Metadata>, ApiError> {
    if request
        .failure_rate_threshold
        .is_some_and(|t| !(0.0..=1.0).contains(&t))
    {
        return Err(ApiError::bad_request(
            "`failureRateThreshold` must be between 0 and 1",
        ));
    }
    let min_runs = positive(
        request.failure_rate_min_runs.map(Some),
        "failureRateMinRuns",
    )?;
    let change = crate::store::SettingsChange {
        paused: request.is_paused,
        execution_timeout_secs: positive(request.execution_timeout_secs, "executionTimeoutSecs")?,
        concurrency_limit: positive(request.concurrency_limit, "concurrencyLimit")?,
        auto_pause_on_failure: request.auto_pause_on_failure,
        failure_rate_threshold: request.failure_rate_threshold,
        failure_rate_min_runs: min_runs.flatten(),
        retention_days: positive(request.retention_days, "retentionDays")?,
    };
    let (workflow_id, settings) = state
        .store
        .update_settings(caller.0.tenant, &workflow, &change)
        .await?;
    state
        .audit(
            &caller.0,
            "workflow.settings_changed",
            ("workflow", workflow_id.to_string()),
            json!({"isPaused": change.paused, "executionTimeoutSecs": change.execution_timeout_secs,
                "concurrencyLimit": change.concurrency_limit,
                "autoPauseOnFailure": change.auto_pause_on_failure,
                "failureRateThreshold": change.failure_rate_threshold,
                "failureRateMinRuns": change.failure_rate_min_runs,
                "retentionDays": change.retention_days}),
            None,
        )
        .await;
    // Its schedules pause and resume with it (Temporal fires them otherwise).
    let schedule_problems = match request.is_paused {
        Some(_) => {
            state
                .scheduler()
                .reconcile(caller.0.tenant, workflow_id)
                .await
        }
        None => Vec::new(),
    };
    Ok(Json(Metadata {
        ok: true,
        is_paused: settings.paused,
        execution_timeout_secs: settings.execution_timeout_secs,
        concurrency_limit: settings.concurrency_limit,
        auto_pause_on_failure: settings.auto_pause_on_failure,
        failure_rate_threshold: settings.failure_rate_threshold,
        failure_rate_min_runs: settings.failure_rate_min_runs,
        retention_days: settings.retention_days,
        schedule_problems,
    }))
}
