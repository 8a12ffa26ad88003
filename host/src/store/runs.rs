//! Run rows: created before the Temporal start (the reference's launcher order), and read back
//! with their steps, waits and action invocations.

use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, Store, StoreError};

/// A run about to be started.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The run's id.
    pub run_id: Uuid,
    /// Tenant.
    pub tenant: Option<Uuid>,
    /// The pinned workflow.
    pub workflow_id: Uuid,
    /// The pinned version.
    pub workflow_version: i32,
    /// The payload.
    pub input: Value,
    /// `blake3:<hex>` of the canonical definition.
    pub definition_hash: String,
    /// The interpreter semantics the run pins.
    pub runtime_semantics_version: String,
    /// `event`, `schedule`, `recurring`, or none (manual, child).
    pub trigger_type: Option<String>,
    /// Provenance (`trigger_metadata_json`).
    pub trigger_metadata: Option<Value>,
    /// Dedupe key of a trigger fire (`trigger_fire_key`, unique).
    pub fire_key: Option<String>,
    /// The Temporal workflow id.
    pub temporal_workflow_id: String,
    /// The start input the workflow is started with, kept until Temporal confirms the start
    /// (the sweeper starts it from the row if the launcher cannot).
    pub start: Value,
}

/// A run whose workflow is not known to have started (its launcher died, or Temporal was away).
#[derive(Debug, Clone)]
pub struct PendingStart {
    /// Tenant.
    pub tenant: Option<Uuid>,
    /// The run.
    pub run_id: Uuid,
    /// Whether a trigger fire (an event) made it: such a launch is the event's, and must
    /// happen; a manual launch's caller was told it failed.
    pub fired: bool,
    /// The start input.
    pub start: Value,
}

/// A run to replay or redrive.
#[derive(Debug, Clone)]
pub struct RelaunchSource {
    /// The pinned workflow.
    pub workflow_id: Uuid,
    /// The pinned version.
    pub version: i32,
    /// The run's input.
    pub input: Value,
    /// Its status.
    pub status: String,
    /// The ledger scope its actions used (its own id, or the run it redrove).
    pub ledger_scope: String,
}

/// Our run id as the tables' uuid ([`RunId::row_uuid`](crate::temporal::RunId::row_uuid)).
pub fn run_uuid(run_id: &str) -> Uuid {
    crate::temporal::RunId::new(run_id).row_uuid()
}

/// The run a fire key launched, as its row has it.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredRun {
    /// Our run id.
    pub run_id: Uuid,
    /// The Temporal workflow id.
    pub temporal_workflow_id: String,
    /// Temporal's run id of the first execution (empty until its start is recorded).
    pub temporal_run_id: String,
    /// The pinned version.
    pub version: i32,
    /// The start input, while its workflow is not known to have started.
    pub pending_start: Option<Value>,
}

impl Store {
    /// Inserts the run row (`RUNNING`) before its workflow starts, unless its workflow has a
    /// `concurrency_limit` that many runs open (`RUNNING` or `WAITING`): then
    /// [`StoreError::AtLimit`]. A limited workflow's row is locked while its runs are counted,
    /// so two launches cannot both take the last place.
    pub async fn create_run(&self, run: &NewRun) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.context("creating a run")?;
        if let Some(reason) = at_concurrency_limit(&mut tx, run.workflow_id, run.tenant).await? {
            return Err(StoreError::AtLimit(reason));
        }
        sqlx::query(
            "INSERT INTO workflow_runs
                 (run_id, tenant, workflow_id, workflow_version, status, input_json, engine,
                  temporal_workflow_id, definition_hash, runtime_semantics_version, trigger_type,
                  trigger_metadata_json, trigger_fire_key, pending_start_json)
             VALUES ($1, $2, $3, $4, 'RUNNING', $5, 'temporal', $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(run.run_id)
        .bind(run.tenant)
        .bind(run.workflow_id)
        .bind(run.workflow_version)
        .bind(Json(&run.input))
        .bind(&run.temporal_workflow_id)
        .bind(&run.definition_hash)
        .bind(&run.runtime_semantics_version)
        .bind(&run.trigger_type)
        .bind(run.trigger_metadata.as_ref().map(Json))
        .bind(&run.fire_key)
        .bind(Json(&run.start))
        .execute(&mut *tx)
        .await
        .context(format!("creating run {}", run.run_id))?;
        tx.commit()
            .await
            .context(format!("creating run {}", run.run_id))?;
        Ok(())
    }

    /// The tenant's run launched with a fire key, if any.
    pub async fn run_by_fire_key(
        &self,
        tenant: Option<Uuid>,
        fire_key: &str,
    ) -> Result<Option<FiredRun>, StoreError> {
        type Row = (Uuid, String, Option<String>, i32, Option<Json<Value>>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT run_id, temporal_workflow_id, temporal_run_id, workflow_version,
                    pending_start_json
             FROM workflow_runs WHERE trigger_fire_key = $1 AND tenant IS NOT DISTINCT FROM $2",
        )
        .bind(fire_key)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("looking up the run of fire key {fire_key}"))?;
        Ok(row.map(
            |(run_id, workflow_id, temporal_run_id, version, pending)| FiredRun {
                run_id,
                temporal_workflow_id: workflow_id,
                temporal_run_id: temporal_run_id.unwrap_or_default(),
                version,
                pending_start: pending.map(|Json(start)| start),
            },
        ))
    }

    /// What relaunching a run needs: its pinned workflow and version, input, status, and the
    /// ledger scope its actions used.
    pub async fn relaunch_source(
        &self,
        tenant: Uuid,
        run_id: Uuid,
    ) -> Result<RelaunchSource, StoreError> {
        type Row = (Uuid, i32, Option<Json<Value>>, String, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT workflow_id, workflow_version, input_json, status,
                        trigger_metadata_json ->> 'ledgerScope'
                 FROM workflow_runs WHERE run_id = $1 AND tenant = $2",
        )
        .bind(run_id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading run {run_id}"))?;
        let (workflow_id, version, input, status, scope) =
            row.ok_or_else(|| StoreError::NotFound(format!("no run {run_id}")))?;
        Ok(RelaunchSource {
            workflow_id,
            version,
            input: input.map(|Json(v)| v).unwrap_or_else(|| json!({})),
            status,
            ledger_scope: scope.unwrap_or_else(|| run_id.to_string()),
        })
    }

    /// Where one of the tenant's runs is in Temporal.
    pub async fn run_address(
        &self,
        tenant: Uuid,
        run_id: Uuid,
    ) -> Result<super::RunAddress, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT temporal_workflow_id FROM workflow_runs WHERE run_id = $1 AND tenant = $2",
        )
        .bind(run_id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading run {run_id}"))?;
        let (temporal,) = row.ok_or_else(|| StoreError::NotFound(format!("no run {run_id}")))?;
        Ok(super::RunAddress::stored(run_id, temporal))
    }

    /// Records the Temporal run id once the workflow started.
    pub async fn run_started(
        &self,
        tenant: Option<Uuid>,
        run_id: Uuid,
        temporal_run_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_runs SET temporal_run_id = $2, pending_start_json = NULL,
                 updated_at = now()
             WHERE run_id = $1 AND tenant IS NOT DISTINCT FROM $3",
        )
        .bind(run_id)
        .bind(temporal_run_id)
        .bind(tenant)
        .execute(self.pool())
        .await
        .context(format!("recording the start of run {run_id}"))?;
        Ok(())
    }

    /// Runs whose workflow is not known to have started although their row is older than
    /// `grace_secs` (longer than any start takes), oldest first.
    pub async fn pending_starts(
        &self,
        grace_secs: f64,
        limit: i64,
    ) -> Result<Vec<PendingStart>, StoreError> {
        type Row = (Option<Uuid>, Uuid, bool, Json<Value>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT tenant, run_id, trigger_fire_key IS NOT NULL, pending_start_json
             FROM workflow_runs
             WHERE pending_start_json IS NOT NULL AND status IN ('RUNNING', 'WAITING')
               AND started_at < now() - make_interval(secs => $1)
             ORDER BY started_at LIMIT $2",
        )
        .bind(grace_secs)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .context("finding runs whose workflow never started")?;
        Ok(rows
            .into_iter()
            .map(|(tenant, run_id, fired, Json(start))| PendingStart {
                tenant,
                run_id,
                fired,
                start,
            })
            .collect())
    }

    /// Marks a run whose workflow could not be started (`error_json.stage = 'launch'`).
    pub async fn launch_failed(
        &self,
        tenant: Option<Uuid>,
        run_id: Uuid,
        message: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_runs SET status = 'FAILED', completed_at = now(), updated_at = now(),
                 error_json = $2, pending_start_json = NULL
             WHERE run_id = $1 AND tenant IS NOT DISTINCT FROM $3 AND status IN ('RUNNING', 'WAITING')",
        )
        .bind(run_id)
        .bind(Json(json!({"message": message, "stage": "launch"})))
        .bind(tenant)
        .execute(self.pool())
        .await
        .context(format!("recording the failed launch of run {run_id}"))?;
        Ok(())
    }
}

/// Why `workflow_id` cannot have one more open run (`RUNNING` or `WAITING`), if its
/// `concurrency_limit` is reached. A limited workflow's row is locked in `tx` while its runs are
/// counted, so two launches cannot both take the last place; an unlimited one is not locked,
/// and other workflows' launches never wait on each other.
pub(super) async fn at_concurrency_limit(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    workflow_id: Uuid,
    tenant: Option<Uuid>,
) -> Result<Option<String>, StoreError> {
    let limit: Option<Option<i32>> = sqlx::query_scalar(
        "SELECT concurrency_limit FROM workflow_definitions
         WHERE workflow_id = $1 AND tenant IS NOT DISTINCT FROM $2",
    )
    .bind(workflow_id)
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await
    .context(format!("reading the limits of workflow {workflow_id}"))?;
    let Some(Some(limit)) = limit else {
        return Ok(None);
    };
    sqlx::query(
        "SELECT 1 FROM workflow_definitions
         WHERE workflow_id = $1 AND tenant IS NOT DISTINCT FROM $2 FOR UPDATE",
    )
    .bind(workflow_id)
    .bind(tenant)
    .execute(&mut **tx)
    .await
    .context(format!("locking workflow {workflow_id}"))?;
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM workflow_runs
         WHERE workflow_id = $1 AND tenant IS NOT DISTINCT FROM $2
           AND status IN ('RUNNING', 'WAITING')",
    )
    .bind(workflow_id)
    .bind(tenant)
    .fetch_one(&mut **tx)
    .await
    .context(format!("counting the open runs of workflow {workflow_id}"))?;
    // A test's fault point: a slow launcher, so racing launches overlap here.
    fail::fail_point!("run-limit-counted");
    Ok((open >= i64::from(limit)).then(|| {
        format!("workflow {workflow_id} has {open} runs open, its concurrency limit is {limit}")
    }))
}
