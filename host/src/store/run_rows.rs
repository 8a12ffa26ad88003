//! Reading runs back: a run's row, its steps, waits and action invocations as typed rows.
//!
//! Each type is both what the statement reads and what the API answers (camelCase, with
//! OpenAPI schemas): the columns it names are the read model's contract. The tenant is never
//! among them (a caller only reads its own), nor the columns that are bookkeeping of the
//! launcher and the sweeper (`pending_start_json`, leases) or of the reference's database
//! engine, which this runtime does not write (`resume_*`). A `_json` suffix is storage, not
//! meaning: `input_json` is `input`, `error_json` is `error` (`docs/api.md` lists the renames).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Context, Store, StoreError, run_uuid};

/// A `workflow_runs` row.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub run_id: Uuid,
    /// The pinned workflow.
    pub workflow_id: Uuid,
    /// The pinned version.
    pub workflow_version: i32,
    /// `RUNNING`, `WAITING`, `SUCCEEDED`, `FAILED` or `CANCELED`.
    pub status: String,
    /// The step it is on; null once it ended.
    pub node_path: Option<String>,
    /// Its payload (`input_json`).
    #[sqlx(rename = "input_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// How it failed (`error_json`): `{category, code?, message, nodePath?, at?}`, or
    /// `{message, stage: "launch"}` when its workflow could not be started.
    #[sqlx(rename = "error_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The event that launched it.
    pub event_type: Option<String>,
    pub source_payload_schema_ref: Option<String>,
    /// Whether a trigger's payload mapping made its payload.
    pub trigger_mapping_applied: bool,
    /// `event`, `schedule`, `recurring`; null for a manual start, a replay or a child.
    pub trigger_type: Option<String>,
    /// Provenance (`trigger_metadata_json`): the event, the schedule, `replayOfRunId`,
    /// `redriveOfRunId`.
    #[sqlx(rename = "trigger_metadata_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub trigger_metadata: Option<Value>,
    /// The key that made a trigger's launch happen once (`event:<eventId>:<workflowId>`, ...).
    pub trigger_fire_key: Option<String>,
    /// `temporal`.
    pub engine: Option<String>,
    pub temporal_workflow_id: Option<String>,
    /// Temporal's run id of its first execution.
    pub temporal_run_id: Option<String>,
    /// `blake3:<hex>` of the pinned definition.
    pub definition_hash: Option<String>,
    /// The interpreter semantics it pinned.
    pub runtime_semantics_version: Option<String>,
    /// The run that started it with `control.callWorkflow`.
    pub parent_run_id: Option<Uuid>,
    /// The run at the top of its tree.
    pub root_run_id: Option<Uuid>,
    /// When the sweeper last asked Temporal about it.
    pub reconciled_at: Option<DateTime<Utc>>,
}

/// The columns of [`Run`] (`r` is `workflow_runs`).
const RUN_COLUMNS: &str = "r.run_id, r.workflow_id, r.workflow_version, r.status, r.node_path,
    r.input_json, r.error_json, r.started_at, r.completed_at, r.updated_at, r.event_type,
    r.source_payload_schema_ref, r.trigger_mapping_applied, r.trigger_type,
    r.trigger_metadata_json, r.trigger_fire_key, r.engine, r.temporal_workflow_id,
    r.temporal_run_id, r.definition_hash, r.runtime_semantics_version, r.parent_run_id,
    r.root_run_id, r.reconciled_at";

/// A `workflow_run_steps` row: one execution of a step.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStep {
    pub step_id: Uuid,
    pub run_id: Uuid,
    /// Where it is in the definition (`root.steps[2].then.steps[0]`).
    pub step_path: String,
    /// The step's `id` in the definition.
    pub definition_step_id: String,
    /// `STARTED`, `SUCCEEDED`, `FAILED` or `CANCELED`.
    pub status: String,
    /// How many times this path has run.
    pub attempt: i32,
    pub duration_ms: Option<i32>,
    /// How it failed (`error_json`).
    #[sqlx(rename = "error_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A `workflow_run_waits` row: a timer, an event wait or a human task the run waited on.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunWait {
    pub wait_id: Uuid,
    pub run_id: Uuid,
    pub step_path: String,
    /// `event`, `time` or `human`.
    pub wait_type: String,
    /// The correlation key, or the task id.
    pub key: Option<String>,
    pub event_name: Option<String>,
    pub timeout_at: Option<DateTime<Utc>>,
    /// `WAITING`, `RESOLVED` or `CANCELED`.
    pub status: String,
    /// The wait's descriptor (`timedOut` once a timed-out event wait resolved).
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A `workflow_action_invocations` row: an action call in the idempotency ledger.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionInvocation {
    pub invocation_id: Uuid,
    pub run_id: Uuid,
    pub step_path: String,
    pub action_id: String,
    pub action_version: i32,
    pub idempotency_key: String,
    /// `STARTED`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// How many times it was claimed.
    pub attempt: i32,
    /// The action's input (`input_json`), with secret references, never their values.
    #[sqlx(rename = "input_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// What it answered (`output_json`).
    #[sqlx(rename = "output_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error_message: Option<String>,
    /// How it failed (`error_json`).
    #[sqlx(rename = "error_json", json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A run as `alga-wf show` prints it and the API's run reports read it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// The run's row.
    pub run: Run,
    /// Its steps, in start order.
    pub steps: Vec<RunStep>,
    /// Its waits, in creation order.
    pub waits: Vec<RunWait>,
    /// Its action invocations, in creation order.
    pub invocations: Vec<ActionInvocation>,
}

impl Store {
    /// A tenant's runs, newest first, optionally of one status and one workflow, from an
    /// offset cursor.
    pub async fn list_runs(
        &self,
        tenant: Uuid,
        status: Option<&str>,
        workflow_id: Option<Uuid>,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs r
             WHERE tenant = $1 AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR workflow_id = $3)
             ORDER BY started_at DESC, run_id LIMIT $4 OFFSET $5"
        ))
        .bind(tenant)
        .bind(status)
        .bind(workflow_id)
        .bind(limit)
        .bind(cursor)
        .fetch_all(self.pool())
        .await
        .context("listing runs")?;
        Ok(rows)
    }

    /// The runs `run_id` started (its `control.callWorkflow` children), oldest first.
    pub async fn child_runs(
        &self,
        tenant: Uuid,
        run_id: Uuid,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs r
             WHERE tenant = $1 AND parent_run_id = $2
             ORDER BY started_at, run_id LIMIT $3 OFFSET $4"
        ))
        .bind(tenant)
        .bind(run_id)
        .bind(limit)
        .bind(cursor)
        .fetch_all(self.pool())
        .await
        .context(format!("listing the children of run {run_id}"))?;
        Ok(rows)
    }

    /// The run, its steps, waits and invocations; with `tenant`, only that tenant's run (any
    /// other is "not found", never "forbidden"), and only rows of that tenant.
    pub async fn show_run(
        &self,
        run_id: &str,
        tenant: Option<Uuid>,
    ) -> Result<RunView, StoreError> {
        let id = run_uuid(run_id);
        let run: Option<Run> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs r
             WHERE run_id = $1 AND ($2::uuid IS NULL OR tenant = $2)"
        ))
        .bind(id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading run {run_id}"))?;
        let run = run.ok_or_else(|| StoreError::NotFound(format!("no run {run_id}")))?;
        let steps = sqlx::query_as(
            "SELECT step_id, run_id, step_path, definition_step_id, status, attempt, duration_ms,
                    error_json, started_at, completed_at
             FROM workflow_run_steps
             WHERE run_id = $1 AND ($2::uuid IS NULL OR tenant = $2)
             ORDER BY started_at, step_path, attempt",
        )
        .bind(id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("reading the steps of run {run_id}"))?;
        let waits = sqlx::query_as(
            "SELECT wait_id, run_id, step_path, wait_type, key, event_name, timeout_at, status,
                    payload, created_at, resolved_at
             FROM workflow_run_waits
             WHERE run_id = $1 AND ($2::uuid IS NULL OR tenant = $2)
             ORDER BY created_at, step_path",
        )
        .bind(id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("reading the waits of run {run_id}"))?;
        let invocations = sqlx::query_as(
            "SELECT invocation_id, run_id, step_path, action_id, action_version,
                    idempotency_key, status, attempt, input_json, output_json, error_message,
                    error_json, created_at, started_at, completed_at
             FROM workflow_action_invocations
             WHERE run_id = $1 AND ($2::uuid IS NULL OR tenant = $2)
             ORDER BY created_at, step_path",
        )
        .bind(id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("reading the invocations of run {run_id}"))?;
        Ok(RunView {
            run,
            steps,
            waits,
            invocations,
        })
    }
}
