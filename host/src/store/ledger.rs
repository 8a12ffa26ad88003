//! The idempotency ledger (`workflow_action_invocations`): a completed invocation hands back
//! its stored output instead of running again; a failed or abandoned one is taken over and runs
//! again. The reference inserts a fresh row per attempt and trips its own unique index, so its
//! retries fail before the handler runs (dsl-semantics §4.2.5); here the row is claimed with an
//! upsert that bumps `attempt`.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::runs::run_uuid;
use super::{Context, Store, StoreError, derived_uuid};

/// One action invocation, as the activity sees it.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// Tenant.
    pub tenant: Option<Uuid>,
    /// Our run id.
    pub run_id: String,
    /// The step.
    pub step_path: String,
    /// The action.
    pub action_id: String,
    /// Its version.
    pub action_version: u32,
    /// The ledger key (derived by the interpreter, or authored).
    pub idempotency_key: String,
    /// The input as the run holds it: `$secret` references unresolved, never plaintext.
    pub input: Value,
    /// Who runs it (the worker's identity).
    pub owner: String,
    /// How long the claim holds before another attempt may take it over.
    pub lease_ms: u64,
}

/// What the ledger says about running an invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Run the action; this is the ledger's `attempt`-th claim of the key.
    Run {
        /// Claims so far, this one included.
        attempt: i32,
    },
    /// It already succeeded: use this output.
    Reuse(Value),
    /// The run has no row (it was started outside the store): run without the ledger.
    Unledgered,
    /// Another attempt holds a live claim.
    Busy {
        /// The holder.
        owner: String,
    },
}

impl Store {
    /// Claims an invocation before its action runs.
    pub async fn claim(&self, entry: &LedgerEntry) -> Result<Claim, StoreError> {
        let run = run_uuid(&entry.run_id);
        let version = i32::try_from(entry.action_version).unwrap_or(i32::MAX);
        let lease_ms = i64::try_from(entry.lease_ms).unwrap_or(i64::MAX);
        let claimed: Option<i32> = sqlx::query_scalar(
            "INSERT INTO workflow_action_invocations
                 (invocation_id, tenant, run_id, step_path, action_id, action_version,
                  idempotency_key, status, attempt, lease_owner, lease_expires_at, input_json,
                  started_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, 'STARTED', 1, $8,
                    now() + $9 * interval '1 millisecond', $10, now()
             WHERE EXISTS (SELECT 1 FROM workflow_runs
                           WHERE run_id = $3 AND tenant IS NOT DISTINCT FROM $2)
             ON CONFLICT (tenant, action_id, action_version, idempotency_key) DO UPDATE SET
                 status = 'STARTED', attempt = workflow_action_invocations.attempt + 1,
                 lease_owner = EXCLUDED.lease_owner, lease_expires_at = EXCLUDED.lease_expires_at,
                 input_json = EXCLUDED.input_json, started_at = now(), completed_at = NULL,
                 error_message = NULL, error_json = NULL
             WHERE workflow_action_invocations.status = 'FAILED'
                OR (workflow_action_invocations.status = 'STARTED'
                    AND workflow_action_invocations.lease_expires_at < now())
             RETURNING attempt",
        )
        .bind(derived_uuid(&[
            "invocation",
            &entry.tenant.map(|t| t.to_string()).unwrap_or_default(),
            &entry.action_id,
            &version.to_string(),
            &entry.idempotency_key,
        ]))
        .bind(entry.tenant)
        .bind(run)
        .bind(&entry.step_path)
        .bind(&entry.action_id)
        .bind(version)
        .bind(&entry.idempotency_key)
        .bind(&entry.owner)
        .bind(lease_ms)
        .bind(Json(&entry.input))
        .fetch_optional(self.pool())
        .await
        .context(format!("claiming `{}`", entry.idempotency_key))?;
        if let Some(attempt) = claimed {
            return Ok(Claim::Run { attempt });
        }
        let row: Option<(String, Option<Json<Value>>, Option<String>)> = sqlx::query_as(
            "SELECT status, output_json, lease_owner FROM workflow_action_invocations
                 WHERE tenant IS NOT DISTINCT FROM $4
                   AND action_id = $1 AND action_version = $2 AND idempotency_key = $3",
        )
        .bind(&entry.action_id)
        .bind(version)
        .bind(&entry.idempotency_key)
        .bind(entry.tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading `{}`", entry.idempotency_key))?;
        Ok(match row {
            None => Claim::Unledgered,
            Some((status, output, _)) if status == "SUCCEEDED" => {
                Claim::Reuse(output.map_or(Value::Null, |Json(v)| v))
            }
            Some((_, _, owner)) => Claim::Busy {
                owner: owner.unwrap_or_default(),
            },
        })
    }

    /// Extends a live claim by its lease while its action runs, so a claim lapses only when
    /// its worker stopped renewing it (died): `false` when the claim is no longer this one's.
    pub async fn renew(&self, entry: &LedgerEntry) -> Result<bool, StoreError> {
        let version = i32::try_from(entry.action_version).unwrap_or(i32::MAX);
        let lease_ms = i64::try_from(entry.lease_ms).unwrap_or(i64::MAX);
        let renewed = sqlx::query(
            "UPDATE workflow_action_invocations
                 SET lease_expires_at = now() + $5 * interval '1 millisecond'
             WHERE tenant IS NOT DISTINCT FROM $6
               AND action_id = $1 AND action_version = $2 AND idempotency_key = $3
               AND lease_owner = $4 AND status = 'STARTED'",
        )
        .bind(&entry.action_id)
        .bind(version)
        .bind(&entry.idempotency_key)
        .bind(&entry.owner)
        .bind(lease_ms)
        .bind(entry.tenant)
        .execute(self.pool())
        .await
        .context(format!("renewing the claim of `{}`", entry.idempotency_key))?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Records a claimed invocation's end: its output, or its (redacted) failure. `false` when
    /// the claim had lapsed and another attempt took the invocation over: this attempt's outcome
    /// is then not the ledger's, and nothing is written.
    pub async fn settle(
        &self,
        entry: &LedgerEntry,
        outcome: Result<&Value, &Value>,
    ) -> Result<bool, StoreError> {
        let version = i32::try_from(entry.action_version).unwrap_or(i32::MAX);
        let (status, output, error) = match outcome {
            Ok(output) => ("SUCCEEDED", Some(Json(output)), None),
            Err(error) => ("FAILED", None, Some(Json(error))),
        };
        let settled = sqlx::query(
            "UPDATE workflow_action_invocations SET status = $4, output_json = $5,
                 error_json = $6, error_message = $6 ->> 'message', completed_at = now(),
                 lease_expires_at = NULL
             WHERE tenant IS NOT DISTINCT FROM $8
               AND action_id = $1 AND action_version = $2 AND idempotency_key = $3
               AND lease_owner = $7 AND status = 'STARTED'",
        )
        .bind(&entry.action_id)
        .bind(version)
        .bind(&entry.idempotency_key)
        .bind(status)
        .bind(output)
        .bind(error)
        .bind(&entry.owner)
        .bind(entry.tenant)
        .execute(self.pool())
        .await
        .context(format!("settling `{}`", entry.idempotency_key))?;
        Ok(settled.rows_affected() == 1)
    }
}
