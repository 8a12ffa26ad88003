//! Keeping the read model honest about runs Temporal closed without telling the worker (an
//! operator's terminate, an execution timeout, a reset): the sweeper asks Temporal about runs
//! that have looked idle for a while, and closes the rows of those that are gone.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, RunAddress, Store, StoreError};

impl Store {
    /// Open (`RUNNING` or `WAITING`) rows not updated for `idle_secs` and not asked about for `recheck_secs`,
    /// least recently asked first.
    pub async fn runs_to_reconcile(
        &self,
        idle_secs: f64,
        recheck_secs: f64,
        limit: i64,
    ) -> Result<Vec<RunAddress>, StoreError> {
        let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
            "SELECT run_id, temporal_workflow_id FROM workflow_runs
             WHERE status IN ('RUNNING', 'WAITING') AND updated_at < now() - make_interval(secs => $1)
               AND (reconciled_at IS NULL OR reconciled_at < now() - make_interval(secs => $2))
             ORDER BY reconciled_at NULLS FIRST, updated_at LIMIT $3",
        )
        .bind(idle_secs)
        .bind(recheck_secs)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("finding runs to reconcile")?;
        Ok(rows
            .into_iter()
            .map(|(run_id, temporal)| RunAddress::stored(run_id, temporal))
            .collect())
    }

    /// Open runs past their execution timeout (their workflow's own, else `default_secs`),
    /// oldest first, each with the timeout it passed, in seconds.
    pub async fn overdue_runs(
        &self,
        default_secs: i64,
        limit: i64,
    ) -> Result<Vec<(RunAddress, i64)>, StoreError> {
        let rows: Vec<(Uuid, Option<String>, i64)> = sqlx::query_as(
            "SELECT r.run_id, r.temporal_workflow_id,
                    coalesce(d.execution_timeout_secs, $1)::bigint AS timeout_secs
             FROM workflow_runs r
             LEFT JOIN workflow_definitions d
               ON d.workflow_id = r.workflow_id AND d.tenant IS NOT DISTINCT FROM r.tenant
             WHERE r.status IN ('RUNNING', 'WAITING') AND r.pending_start_json IS NULL
               AND r.started_at < now() - make_interval(secs => coalesce(d.execution_timeout_secs, $1))
             ORDER BY r.started_at LIMIT $2",
        )
        .bind(default_secs)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("finding runs past their execution timeout")?;
        Ok(rows
            .into_iter()
            .map(|(run_id, workflow_id, secs)| (RunAddress::stored(run_id, workflow_id), secs))
            .collect())
    }

    /// Temporal still has the run open: ask again later.
    pub async fn run_reconciled(&self, run_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE workflow_runs SET reconciled_at = now() WHERE run_id = $1")
            .bind(run_id)
            .execute(self.pool())
            .await
            .context(format!("recording a check of run {run_id}"))?;
        Ok(())
    }

    /// Temporal closed the run with `status` (`SUCCEEDED`, `FAILED`, `CANCELED`) at `closed_at`
    /// and no activation told us: the row, its open waits and its open tasks are closed. Only
    /// a row still open changes, so a projection that arrives meanwhile wins.
    pub async fn close_run_from_temporal(
        &self,
        run_id: Uuid,
        status: &str,
        error: Option<&Value>,
        closed_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await.context("closing a run")?;
        let closed = sqlx::query(
            "UPDATE workflow_runs SET status = $2, error_json = $3, node_path = NULL,
                 completed_at = $4, updated_at = now(), reconciled_at = now()
             WHERE run_id = $1 AND status IN ('RUNNING', 'WAITING')",
        )
        .bind(run_id)
        .bind(status)
        .bind(error.map(Json))
        .bind(closed_at)
        .execute(&mut *tx)
        .await
        .context(format!("closing run {run_id}"))?;
        if closed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE workflow_run_waits SET status = 'CANCELED', resolved_at = $2
             WHERE run_id = $1 AND status = 'WAITING'",
        )
        .bind(run_id)
        .bind(closed_at)
        .execute(&mut *tx)
        .await
        .context(format!("closing the waits of run {run_id}"))?;
        sqlx::query(
            "UPDATE workflow_tasks SET status = 'canceled', updated_at = now()
             WHERE execution_id = $1 AND status IN ('pending', 'claimed')",
        )
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .context(format!("closing the tasks of run {run_id}"))?;
        tx.commit().await.context("closing a run")?;
        Ok(true)
    }

    /// Purges ended runs past their retention (their workflow's `retention_policy_override`
    /// days, else `default_days`; none: kept) with their steps, waits, action invocations,
    /// logs, snapshots, tasks and deliveries, oldest first, at most `limit`; and, with a
    /// deployment retention, routed events older than it. How many runs.
    pub async fn purge_expired(
        &self,
        default_days: Option<i32>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let purged: i64 = sqlx::query_scalar(
            "WITH doomed AS (
                 SELECT r.run_id, r.tenant FROM workflow_runs r
                 LEFT JOIN workflow_definitions d
                   ON d.workflow_id = r.workflow_id AND d.tenant IS NOT DISTINCT FROM r.tenant
                 WHERE r.status IN ('SUCCEEDED', 'FAILED', 'CANCELED')
                   AND r.completed_at < now() - make_interval(
                       days => coalesce((d.retention_policy_override ->> 'days')::int, $1))
                 ORDER BY r.completed_at LIMIT $2),
             tasks AS (DELETE FROM workflow_tasks t USING doomed
                       WHERE t.execution_id = doomed.run_id AND t.tenant = doomed.tenant),
             deliveries AS (DELETE FROM workflow_event_deliveries x USING doomed
                            WHERE x.run_id = doomed.run_id),
             runs AS (DELETE FROM workflow_runs r USING doomed
                      WHERE r.run_id = doomed.run_id RETURNING 1)
             SELECT count(*) FROM runs",
        )
        .bind(default_days)
        .bind(limit)
        .fetch_one(self.pool())
        .await
        .context("purging runs past their retention")?;
        if let Some(days) = default_days {
            sqlx::query(
                "DELETE FROM workflow_runtime_events WHERE ctid IN (
                     SELECT ctid FROM workflow_runtime_events
                     WHERE processed_at IS NOT NULL
                       AND created_at < now() - make_interval(days => $1)
                     LIMIT $2)",
            )
            .bind(days)
            .bind(limit)
            .execute(self.pool())
            .await
            .context("purging events past their retention")?;
        }
        Ok(u64::try_from(purged).unwrap_or(0))
    }
}
