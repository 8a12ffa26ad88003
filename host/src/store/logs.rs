//! What happened, for people: a run's log (`workflow_run_logs`: started, a step failed, an
//! action attempt failed, a wait opened and closed, a task answered and by whom, cancelled by
//! whom, ended) and the tenant's audit trail (`workflow_audit_logs`, ours: publishes, settings,
//! keys and schedules changed, and by which key).
//!
//! The worker's entries come from an activation's records and are written in its projection's
//! transaction, each with an id derived from the run and the moment, so a batch written again
//! (a retried workflow task, a replay) adds nothing. The API's entries name the key that acted.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use alga_protocol::protocol::{RunEvent, StepStatus, WaitKind, WaitStatus};

use super::batch::{Batch, RunEnd};
use super::{Context, Store, StoreError, derived_uuid};

/// One line of a run's log.
struct RunLog {
    id: Uuid,
    level: &'static str,
    message: String,
    step_path: Option<String>,
    event_name: Option<String>,
    correlation_key: Option<String>,
    context: Value,
}

fn kind_name(kind: WaitKind) -> &'static str {
    match kind {
        WaitKind::Event => "an event",
        WaitKind::Time => "a timer",
        WaitKind::Human => "a person",
    }
}

/// The log lines an activation's batch makes.
fn lines(batch: &Batch, run: Uuid) -> Vec<RunLog> {
    let run_text = run.to_string();
    let id = |parts: &[&str]| {
        let mut all = vec!["run-log", run_text.as_str()];
        all.extend_from_slice(parts);
        derived_uuid(&all)
    };
    let mut lines = Vec::new();
    if let Some(start) = &batch.started {
        lines.push(RunLog {
            id: id(&["started"]),
            level: "INFO",
            message: format!("run started (version {})", start.workflow_version),
            step_path: None,
            event_name: None,
            correlation_key: None,
            context: json!({"triggerType": start.trigger_type, "semantics": start.runtime_semantics_version}),
        });
    }
    for record in &batch.records {
        match record {
            RunEvent::StepFinished {
                path,
                execution,
                status: StepStatus::Failed,
                attempt,
                error,
            } => lines.push(RunLog {
                id: id(&["step-failed", path, &execution.to_string()]),
                level: "ERROR",
                message: format!("step failed after {attempt} attempt(s)"),
                step_path: Some(path.clone()),
                event_name: None,
                correlation_key: None,
                context: json!({"error": error}),
            }),
            RunEvent::ActionAttempted {
                step_path,
                action_id,
                action_version,
                attempt,
                idempotency_key,
                error: Some(error),
                ..
            } => lines.push(RunLog {
                id: id(&[
                    "attempt-failed",
                    step_path,
                    idempotency_key,
                    &attempt.to_string(),
                ]),
                level: "WARN",
                message: format!("{action_id}@{action_version} attempt {attempt} failed"),
                step_path: Some(step_path.clone()),
                event_name: None,
                correlation_key: None,
                context: json!({"error": error}),
            }),
            RunEvent::WaitOpened {
                path,
                execution,
                kind,
                event_name,
                correlation_key,
                due_at,
                task_id,
            } => lines.push(RunLog {
                id: id(&["wait-opened", path, &execution.to_string()]),
                level: "INFO",
                message: format!("waiting for {}", kind_name(*kind)),
                step_path: Some(path.clone()),
                event_name: event_name.clone(),
                correlation_key: correlation_key.clone(),
                context: json!({"dueAt": due_at, "taskId": task_id}),
            }),
            RunEvent::WaitClosed {
                path,
                execution,
                kind,
                status,
            } => {
                let how = match status {
                    WaitStatus::Resolved => "resolved",
                    WaitStatus::Timeout => "timed out",
                    WaitStatus::Canceled => "cancelled",
                    WaitStatus::Waiting => continue,
                };
                lines.push(RunLog {
                    id: id(&["wait-closed", path, &execution.to_string()]),
                    level: "INFO",
                    message: format!("the wait for {} {how}", kind_name(*kind)),
                    step_path: Some(path.clone()),
                    event_name: None,
                    correlation_key: None,
                    context: Value::Null,
                });
            }
            _ => {}
        }
    }
    if let Some(end) = &batch.end {
        let (level, message, context) = match end {
            RunEnd::Succeeded => ("INFO", "run succeeded", Value::Null),
            RunEnd::Failed(error) => ("ERROR", "run failed", json!({"error": error})),
            RunEnd::Canceled => ("INFO", "run cancelled", Value::Null),
        };
        lines.push(RunLog {
            id: id(&["ended"]),
            level,
            message: message.into(),
            step_path: None,
            event_name: None,
            correlation_key: None,
            context,
        });
    }
    lines
}

/// Writes the log lines of an activation's batch, in its projection's transaction.
pub(super) async fn write_batch_logs(
    tx: &mut Transaction<'_, Postgres>,
    batch: &Batch,
    run: Uuid,
    tenant: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (i, line) in lines(batch, run).into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO workflow_run_logs
                 (log_id, tenant, run_id, step_path, level, message, context_json,
                  correlation_key, event_name, source, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'worker', $10)
             ON CONFLICT (log_id) DO NOTHING",
        )
        .bind(line.id)
        .bind(tenant)
        .bind(run)
        .bind(&line.step_path)
        .bind(line.level)
        .bind(&line.message)
        .bind((!line.context.is_null()).then_some(Json(&line.context)))
        .bind(&line.correlation_key)
        .bind(&line.event_name)
        .bind(at + chrono::Duration::microseconds(i as i64))
        .execute(&mut **tx)
        .await
        .context(format!("logging run {run}"))?;
    }
    Ok(())
}

/// A line of a run's log, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunLogLine {
    /// Its id.
    pub log_id: Uuid,
    /// `INFO`, `WARN` or `ERROR`.
    pub level: String,
    /// What happened.
    pub message: String,
    /// The step it concerns.
    pub step_path: Option<String>,
    /// The event it concerns.
    pub event_name: Option<String>,
    /// The correlation key it concerns.
    pub correlation_key: Option<String>,
    /// The particulars.
    pub context_json: Option<Json<Value>>,
    /// `worker` or `api`.
    pub source: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An entry of the audit trail, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    /// Its id.
    pub audit_id: Uuid,
    /// The key that acted (none: the runtime).
    pub key_id: Option<Uuid>,
    /// What was done.
    pub action: String,
    /// To what kind of thing.
    pub target_type: String,
    /// To which.
    pub target_id: String,
    /// The particulars.
    pub details: Option<Json<Value>>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Something a caller of the API did.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The caller's tenant.
    pub tenant: Uuid,
    /// The key that acted (none: the runtime itself, as when a workflow pauses itself).
    pub key_id: Option<Uuid>,
    /// What it did: `workflow.published`, `workflow.settings_changed`, `run.cancel_requested`, ...
    pub action: &'a str,
    /// What it did it to: `workflow`, `run`, `schedule`, `api_key`, `task`.
    pub target_type: &'a str,
    /// Which one.
    pub target_id: String,
    /// The particulars (a version, the settings, a reason).
    pub details: Value,
}

impl Store {
    /// Records what a caller did; one that touches a run also goes into the run's log.
    pub async fn audit(&self, entry: &AuditEntry<'_>, run: Option<Uuid>) -> Result<(), StoreError> {
        // A caller's text (a reason, a key's name) may hold NUL, which jsonb refuses.
        let mut details = entry.details.clone();
        super::storable::escape_nul(&mut details);
        let target_id = super::storable_text(&entry.target_id);
        let mut tx = self.pool().begin().await.context("auditing")?;
        sqlx::query(
            "INSERT INTO workflow_audit_logs
                 (audit_id, tenant, key_id, action, target_type, target_id, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::new_v4())
        .bind(entry.tenant)
        .bind(entry.key_id)
        .bind(entry.action)
        .bind(entry.target_type)
        .bind(target_id.as_ref())
        .bind(Json(&details))
        .execute(&mut *tx)
        .await
        .context(format!("auditing {}", entry.action))?;
        if let Some(run) = run {
            sqlx::query(
                "INSERT INTO workflow_run_logs
                     (log_id, tenant, run_id, level, message, context_json, source)
                 SELECT $1, $2, $3, 'INFO', $4, $5, 'api'
                 WHERE EXISTS (SELECT 1 FROM workflow_runs WHERE run_id = $3 AND tenant = $2)",
            )
            .bind(Uuid::new_v4())
            .bind(entry.tenant)
            .bind(run)
            .bind(match entry.key_id {
                Some(key) => format!("{} by key {key}", entry.action),
                None => entry.action.to_owned(),
            })
            .bind(Json(&details))
            .execute(&mut *tx)
            .await
            .context(format!("logging {} on run {run}", entry.action))?;
        }
        tx.commit().await.context("auditing")?;
        Ok(())
    }

    /// A run's log, oldest first (the tenant's run only).
    pub async fn run_logs(
        &self,
        tenant: Uuid,
        run: Uuid,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<RunLogLine>, StoreError> {
        sqlx::query_as(
            "SELECT log_id, level, message, step_path, event_name, correlation_key, context_json,
                    source, created_at
             FROM workflow_run_logs WHERE tenant = $1 AND run_id = $2
             ORDER BY created_at, log_id LIMIT $3 OFFSET $4",
        )
        .bind(tenant)
        .bind(run)
        .bind(limit)
        .bind(cursor)
        .fetch_all(self.pool())
        .await
        .context(format!("reading the log of run {run}"))
    }

    /// The tenant's audit trail, newest first, optionally of one target.
    pub async fn audit_entries(
        &self,
        tenant: Uuid,
        target_type: Option<&str>,
        target_id: Option<&str>,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        sqlx::query_as(
            "SELECT audit_id, key_id, action, target_type, target_id, details, created_at
             FROM workflow_audit_logs
             WHERE tenant = $1 AND ($2::text IS NULL OR target_type = $2)
               AND ($3::text IS NULL OR target_id = $3)
             ORDER BY created_at DESC, audit_id LIMIT $4 OFFSET $5",
        )
        .bind(tenant)
        .bind(target_type)
        .bind(target_id)
        .bind(limit)
        .bind(cursor)
        .fetch_all(self.pool())
        .await
        .context("reading the audit trail")
    }

    /// Pauses the workflow of `run` (which just failed) when it pauses on failure and, among its
    /// last `failure_rate_min_runs` ended runs, at least `failure_rate_threshold` failed; the
    /// audit trail says why. The workflow's uuid when it was paused now.
    pub async fn pause_if_failing(
        &self,
        tenant: Uuid,
        run: Uuid,
    ) -> Result<Option<Uuid>, StoreError> {
        let judged: Option<(Uuid, f64, i64)> = sqlx::query_as(
            "WITH w AS (
                 SELECT d.workflow_id, coalesce(d.failure_rate_threshold, 0.5)::float8 AS threshold,
                        coalesce(d.failure_rate_min_runs, 10) AS min_runs
                 FROM workflow_runs r
                 JOIN workflow_definitions d ON d.workflow_id = r.workflow_id AND d.tenant = r.tenant
                 WHERE r.run_id = $2 AND r.tenant = $1 AND d.auto_pause_on_failure
                   AND NOT d.is_paused),
             recent AS (
                 SELECT x.status FROM workflow_runs x, w
                 WHERE x.workflow_id = w.workflow_id AND x.tenant = $1
                   AND x.status IN ('SUCCEEDED', 'FAILED', 'CANCELED')
                 ORDER BY x.completed_at DESC NULLS LAST LIMIT (SELECT min_runs FROM w))
             SELECT w.workflow_id,
                    (count(*) FILTER (WHERE recent.status = 'FAILED'))::float8 / count(*),
                    count(*)
             FROM recent, w
             GROUP BY w.workflow_id, w.threshold, w.min_runs
             HAVING count(*) >= w.min_runs
                AND (count(*) FILTER (WHERE recent.status = 'FAILED'))::float8 / count(*)
                    >= w.threshold",
        )
        .bind(tenant)
        .bind(run)
        .fetch_optional(self.pool())
        .await
        .context(format!("judging the failures of run {run}'s workflow"))?;
        let Some((workflow_id, rate, runs)) = judged else {
            return Ok(None);
        };
        let paused = sqlx::query(
            "UPDATE workflow_definitions SET is_paused = true, updated_at = now()
             WHERE workflow_id = $1 AND tenant = $2 AND NOT is_paused",
        )
        .bind(workflow_id)
        .bind(tenant)
        .execute(self.pool())
        .await
        .context(format!("pausing workflow {workflow_id}"))?;
        if paused.rows_affected() == 0 {
            return Ok(None);
        }
        let entry = AuditEntry {
            tenant,
            key_id: None,
            action: "workflow.auto_paused",
            target_type: "workflow",
            target_id: workflow_id.to_string(),
            details: json!({"failureRate": rate, "runsJudged": runs, "lastFailedRun": run}),
        };
        self.audit(&entry, None).await?;
        Ok(Some(workflow_id))
    }
}
