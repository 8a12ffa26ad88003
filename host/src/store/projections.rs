//! The read model, written from the interpreter's records in one transaction per activation
//! (not one activity per step start and end, as the reference does). Row ids derive from the
//! run, the step path and its execution count, so a batch applied twice changes nothing.

use alga_protocol::protocol::{RunEvent, RunStart, StepStatus, WaitKind, WaitStatus};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::batch::{Batch, Lineage, RunEnd};
use super::runs::run_uuid;
use super::{Context, Store, StoreError, derived_uuid};

fn wait_type(kind: WaitKind) -> &'static str {
    match kind {
        WaitKind::Event => "event",
        WaitKind::Time => "time",
        WaitKind::Human => "human",
    }
}

fn step_status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Started => "STARTED",
        StepStatus::Succeeded => "SUCCEEDED",
        StepStatus::Failed => "FAILED",
        StepStatus::Canceled => "CANCELED",
        StepStatus::Waiting => "WAITING",
    }
}

fn wait_id(run: Uuid, path: &str, execution: u32, kind: WaitKind) -> Uuid {
    derived_uuid(&[
        "wait",
        &run.to_string(),
        path,
        &execution.to_string(),
        wait_type(kind),
    ])
}

fn step_row_id(run: Uuid, path: &str, execution: u32) -> Uuid {
    derived_uuid(&["step", &run.to_string(), path, &execution.to_string()])
}

impl Store {
    /// Applies one activation's records; returns the run's tenant. A run with no row (one
    /// started outside the store) has no read model, and its batches are skipped (`None`).
    pub async fn apply(&self, batch: &Batch) -> Result<Option<Uuid>, StoreError> {
        let storable = super::storable::storable_batch(batch);
        let batch = storable.as_ref();
        let run = run_uuid(&batch.run_id);
        let base = DateTime::<Utc>::from_timestamp_millis(batch.at_ms).unwrap_or_else(Utc::now);
        let mut tx = self.pool().begin().await.context("projecting")?;
        let row: Option<(Option<Uuid>, Option<String>)> = sqlx::query_as(
            "SELECT tenant, CASE WHEN status = 'FAILED' THEN error_json->>'code' END
             FROM workflow_runs WHERE run_id = $1 FOR UPDATE",
        )
        .bind(run)
        .fetch_optional(&mut *tx)
        .await
        .context(format!("locking run {}", batch.run_id))?;
        let tenant = match (row, &batch.started) {
            // A refused fire whose workflow task is tried again is refused again.
            (Some((_, Some(code))), Some(_)) if code == AT_LIMIT => {
                return Err(StoreError::AtLimit(format!(
                    "run {} was refused at its workflow's concurrency limit",
                    batch.run_id
                )));
            }
            (Some((tenant, _)), _) => tenant,
            (None, Some(start)) => {
                if batch.lineage.is_none()
                    && let Some(reason) = refuse_fire_at_limit(&mut tx, run, start).await?
                {
                    tx.commit().await.context("refusing a schedule's fire")?;
                    return Err(StoreError::AtLimit(reason));
                }
                match create_started_run(&mut tx, run, start, batch.lineage.as_ref()).await? {
                    Some(tenant) => tenant,
                    None => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
        };
        if batch.started.is_some() {
            // The workflow is running: the launcher's copy of its start is no longer needed.
            sqlx::query(
                "UPDATE workflow_runs SET pending_start_json = NULL
                 WHERE run_id = $1 AND pending_start_json IS NOT NULL",
            )
            .bind(run)
            .execute(&mut *tx)
            .await
            .context(format!("clearing the start of run {}", batch.run_id))?;
        }
        for (i, record) in batch.records.iter().enumerate() {
            // Records of one activation share its time; a microsecond apiece keeps their order.
            let at = base + Duration::microseconds(i as i64);
            apply_record(&mut tx, run, tenant, at, record)
                .await
                .context(format!("projecting run {}", batch.run_id))?;
        }
        super::logs::write_batch_logs(&mut tx, batch, run, tenant, base).await?;
        // A run parked on a timer, an event or a person shows `WAITING` until it resumes (T020).
        let waits_moved = batch.records.iter().any(|record| {
            matches!(
                record,
                RunEvent::WaitOpened { .. } | RunEvent::WaitClosed { .. }
            )
        });
        if waits_moved && batch.end.is_none() {
            sqlx::query(
                "UPDATE workflow_runs r SET status = s.status, updated_at = now()
                 FROM (SELECT CASE WHEN EXISTS (
                           SELECT 1 FROM workflow_run_waits w
                           WHERE w.run_id = $1 AND w.tenant IS NOT DISTINCT FROM $2
                             AND w.status = 'WAITING')
                       THEN 'WAITING' ELSE 'RUNNING' END AS status) s
                 WHERE r.run_id = $1 AND r.tenant IS NOT DISTINCT FROM $2
                   AND r.status IN ('RUNNING', 'WAITING') AND r.status <> s.status",
            )
            .bind(run)
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .context(format!("marking run {} waiting or running", batch.run_id))?;
        }
        // The end comes after every record of its activation.
        let ended_at = base + Duration::microseconds(batch.records.len() as i64);
        if let Some(end) = &batch.end {
            let (status, error) = match end {
                RunEnd::Succeeded => ("SUCCEEDED", None),
                RunEnd::Failed(error) => ("FAILED", Some(Json(error))),
                RunEnd::Canceled => ("CANCELED", None),
            };
            sqlx::query(
                "UPDATE workflow_runs SET status = $2, error_json = $3, node_path = NULL,
                     completed_at = $4, updated_at = now() WHERE run_id = $1",
            )
            .bind(run)
            .bind(status)
            .bind(error)
            .bind(ended_at)
            .execute(&mut *tx)
            .await
            .context(format!("ending run {}", batch.run_id))?;
        }
        tx.commit().await.context("projecting")?;
        Ok(tenant)
    }
}

/// The code of the error a refused schedule fire's row holds.
const AT_LIMIT: &str = "CONCURRENCY_LIMIT_REACHED";

/// A schedule's fire (Temporal started it; nobody could be told "no") when its workflow has
/// its `concurrency_limit` of runs open: its row is written `FAILED` with the reason, and the
/// reason is returned so the worker fails the workflow before it does anything.
async fn refuse_fire_at_limit(
    tx: &mut Transaction<'_, Postgres>,
    run: Uuid,
    start: &RunStart,
) -> Result<Option<String>, StoreError> {
    let scheduled = start
        .meta
        .as_ref()
        .is_some_and(|meta| meta.get("scheduleId").is_some());
    let Ok(tenant) = super::tenant_uuid(start.tenant_id.as_deref()) else {
        return Ok(None);
    };
    if !scheduled {
        return Ok(None);
    }
    let (workflow_id, _) = super::definitions::identity(tenant, &start.workflow_id);
    let Some(reason) = super::runs::at_concurrency_limit(tx, workflow_id, tenant).await? else {
        return Ok(None);
    };
    // The row is the one any fire gets, then failed: counted first, so it does not count
    // itself.
    create_started_run(tx, run, start, None).await?;
    sqlx::query(
        "UPDATE workflow_runs SET status = 'FAILED', error_json = $3, completed_at = now(),
             updated_at = now()
         WHERE run_id = $1 AND tenant IS NOT DISTINCT FROM $2",
    )
    .bind(run)
    .bind(tenant)
    .bind(Json(
        json!({"category": "ValidationError", "code": AT_LIMIT,
        "message": format!("the schedule's fire was refused: {reason}"), "nodePath": "root"}),
    ))
    .execute(&mut **tx)
    .await
    .context(format!("refusing run {}", start.run_id))?;
    Ok(Some(reason))
}

/// Creates the row of a run the worker started itself (a child, a schedule's fire), when its
/// workflow is published in the store; `None` (no read model) otherwise.
async fn create_started_run(
    tx: &mut Transaction<'_, Postgres>,
    run: Uuid,
    start: &RunStart,
    lineage: Option<&Lineage>,
) -> Result<Option<Option<Uuid>>, StoreError> {
    // A run whose tenant is no uuid cannot have rows in tables keyed by uuid: it simply has
    // no read model (it was not started through the store).
    let Ok(tenant) = super::tenant_uuid(start.tenant_id.as_deref()) else {
        return Ok(None);
    };
    let (workflow_id, _) = super::definitions::identity(tenant, &start.workflow_id);
    let created = sqlx::query(
        "INSERT INTO workflow_runs
             (run_id, tenant, workflow_id, workflow_version, status, input_json, engine,
              temporal_workflow_id, definition_hash, runtime_semantics_version, trigger_type,
              trigger_metadata_json, parent_run_id, root_run_id, started_at)
         SELECT $1, $2, $3, $4, 'RUNNING', $5, 'temporal', $6, $7, $8, $9, $10, $11,
                coalesce($12, (SELECT coalesce(p.root_run_id, p.run_id) FROM workflow_runs p
                               WHERE p.run_id = $11 AND p.tenant IS NOT DISTINCT FROM $2), $11),
                now()
         WHERE EXISTS (SELECT 1 FROM workflow_definitions
                       WHERE workflow_id = $3 AND tenant IS NOT DISTINCT FROM $2)
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(run)
    .bind(tenant)
    .bind(workflow_id)
    .bind(i32::try_from(start.workflow_version).unwrap_or(i32::MAX))
    .bind(Json(&start.payload))
    .bind(crate::temporal::workflow_id(&start.run_id))
    .bind(&start.definition_hash)
    .bind(&start.runtime_semantics_version)
    .bind(&start.trigger_type)
    .bind(start.meta.as_ref().map(Json))
    .bind(lineage.map(|l| run_uuid(&l.parent_run_id)))
    .bind(lineage.and_then(|l| l.root_run_id.as_deref()).map(run_uuid))
    .execute(&mut **tx)
    .await
    .context(format!("creating the row of run {}", start.run_id))?;
    Ok((created.rows_affected() == 1).then_some(tenant))
}

async fn apply_record(
    tx: &mut Transaction<'_, Postgres>,
    run: Uuid,
    tenant: Option<Uuid>,
    at: DateTime<Utc>,
    record: &RunEvent,
) -> Result<(), sqlx::Error> {
    match record {
        RunEvent::StepStarted {
            path,
            execution,
            step_id,
            ..
        } => {
            // The reference's `attempt` column counts executions of the path (loops bump it).
            sqlx::query(
                "INSERT INTO workflow_run_steps
                     (step_id, tenant, run_id, step_path, definition_step_id, status, attempt,
                      started_at)
                 VALUES ($1, $2, $3, $4, $5, 'STARTED', $6, $7)
                 ON CONFLICT (step_id) DO NOTHING",
            )
            .bind(step_row_id(run, path, *execution))
            .bind(tenant)
            .bind(run)
            .bind(path)
            .bind(step_id)
            .bind(i32::try_from(*execution).unwrap_or(i32::MAX).max(1))
            .bind(at)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "UPDATE workflow_runs SET node_path = $2, updated_at = now()
                 WHERE run_id = $1 AND tenant IS NOT DISTINCT FROM $3 AND completed_at IS NULL",
            )
            .bind(run)
            .bind(path)
            .bind(tenant)
            .execute(&mut **tx)
            .await?;
        }
        RunEvent::StepFinished {
            path,
            execution,
            status,
            error,
            ..
        } => {
            let error = error.as_ref().map(|e| {
                Json(
                    json!({"message": e.failure.message, "category": e.failure.category,
                    "code": e.failure.code, "nodePath": e.node_path}),
                )
            });
            sqlx::query(
                "UPDATE workflow_run_steps SET status = $2, completed_at = $3, error_json = $4,
                     duration_ms = GREATEST(0, (extract(epoch FROM ($3 - started_at)) * 1000)::int)
                 WHERE step_id = $1 AND tenant IS NOT DISTINCT FROM $5",
            )
            .bind(step_row_id(run, path, *execution))
            .bind(step_status(*status))
            .bind(at)
            .bind(error)
            .bind(tenant)
            .execute(&mut **tx)
            .await?;
        }
        RunEvent::WaitOpened {
            path,
            execution,
            kind,
            event_name,
            correlation_key,
            due_at,
            task_id,
        } => {
            let timeout_at = due_at
                .as_deref()
                .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.with_timezone(&Utc));
            let (key, event_name) = match kind {
                WaitKind::Human => (task_id.clone(), Some("HUMAN_TASK_COMPLETED".to_owned())),
                _ => (correlation_key.clone(), event_name.clone()),
            };
            sqlx::query(
                "INSERT INTO workflow_run_waits
                     (wait_id, tenant, run_id, step_path, wait_type, key, event_name, timeout_at,
                      status, payload, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'WAITING', $9, $10)
                 ON CONFLICT (wait_id) DO NOTHING",
            )
            .bind(wait_id(run, path, *execution, *kind))
            .bind(tenant)
            .bind(run)
            .bind(path)
            .bind(wait_type(*kind))
            .bind(key)
            .bind(&event_name)
            .bind(timeout_at)
            .bind(Json(
                json!({"eventName": event_name, "correlationKey": correlation_key,
                "dueAt": due_at, "taskId": task_id}),
            ))
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        RunEvent::WaitClosed {
            path,
            execution,
            kind,
            status,
        } => {
            let (status, timed_out) = match status {
                WaitStatus::Waiting => ("WAITING", false),
                WaitStatus::Resolved => ("RESOLVED", false),
                WaitStatus::Timeout => ("RESOLVED", true),
                WaitStatus::Canceled => ("CANCELED", false),
            };
            sqlx::query(
                "UPDATE workflow_run_waits SET status = $2, resolved_at = $3,
                     payload = coalesce(payload, '{}'::jsonb) || $4
                 WHERE wait_id = $1 AND tenant IS NOT DISTINCT FROM $5",
            )
            .bind(wait_id(run, path, *execution, *kind))
            .bind(status)
            .bind(at)
            .bind(Json(
                json!({"resolvedAt": at.to_rfc3339(), "timedOut": timed_out}),
            ))
            .bind(tenant)
            .execute(&mut **tx)
            .await?;
            if *kind == WaitKind::Human && status == "RESOLVED" {
                // The run accepted the response: its task is done, however it was answered.
                sqlx::query(
                    "UPDATE workflow_tasks t SET status = 'completed',
                         completed_at = coalesce(t.completed_at, $2), updated_at = now()
                     FROM workflow_run_waits w
                     WHERE w.wait_id = $1 AND t.task_id::text = w.key AND t.tenant = w.tenant
                       AND t.tenant IS NOT DISTINCT FROM $3 AND t.status <> 'completed'",
                )
                .bind(wait_id(run, path, *execution, *kind))
                .bind(at)
                .bind(tenant)
                .execute(&mut **tx)
                .await?;
            }
        }
        RunEvent::ActionAttempted {
            step_path,
            action_id,
            action_version,
            attempt,
            input,
            idempotency_key,
            inline: true,
            error,
        } if !idempotency_key.is_empty() => {
            // Inline (pure) actions have no ledger row of their own; the timeline gets one.
            sqlx::query(
                "INSERT INTO workflow_action_invocations
                     (invocation_id, tenant, run_id, step_path, action_id, action_version,
                      idempotency_key, status, attempt, input_json, error_message, error_json,
                      created_at, started_at, completed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
                 ON CONFLICT (tenant, action_id, action_version, idempotency_key) DO UPDATE SET
                     status = EXCLUDED.status, attempt = EXCLUDED.attempt,
                     error_message = EXCLUDED.error_message, error_json = EXCLUDED.error_json,
                     completed_at = EXCLUDED.completed_at",
            )
            .bind(derived_uuid(&["inline", &run.to_string(), idempotency_key]))
            .bind(tenant)
            .bind(run)
            .bind(step_path)
            .bind(action_id)
            .bind(i32::try_from(*action_version).unwrap_or(i32::MAX))
            .bind(idempotency_key)
            .bind(if error.is_some() {
                "FAILED"
            } else {
                "SUCCEEDED"
            })
            .bind(i32::try_from(*attempt).unwrap_or(i32::MAX))
            .bind(Json(input))
            .bind(error.as_ref().map(|e| e.message.clone()))
            .bind(error.as_ref().map(Json))
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        // Activity attempts are the ledger's own rows.
        RunEvent::ActionAttempted { .. } => {}
    }
    Ok(())
}
