//! Schedule rows (`tenant_workflow_schedule`): what each schedule starts, when, with which
//! payload, and its state. Temporal Schedules do the firing (`crate::usecases::schedules`).

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, Store, StoreError};

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ScheduleRow {
    /// The schedule's id.
    pub id: Uuid,
    /// Tenant.
    pub tenant: Option<Uuid>,
    /// The workflow it starts.
    pub workflow_id: Uuid,
    /// The version it starts (publish moves it forward).
    pub workflow_version: i32,
    /// Its name.
    pub name: String,
    /// `schedule` (one time) or `recurring`.
    pub trigger_type: String,
    /// When a one-time schedule fires.
    pub run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A recurring schedule's cron expression.
    pub cron: Option<String>,
    /// Its IANA timezone.
    pub timezone: Option<String>,
    /// The payload of every run it starts.
    pub payload_json: Json<Value>,
    /// False while paused.
    pub enabled: bool,
    /// `scheduled`, `paused`, `failed`.
    pub status: String,
    /// The Temporal Schedule's id.
    pub runner_schedule_id: Option<String>,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "id, tenant, workflow_id, workflow_version, name, trigger_type, run_at, \
     cron, timezone, payload_json, enabled, status, runner_schedule_id, last_error, created_at, \
     updated_at";

impl Store {
    /// Inserts or replaces a schedule row (by id).
    pub async fn save_schedule(&self, row: &ScheduleRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenant_workflow_schedule
                 (id, tenant, workflow_id, workflow_version, name, trigger_type, run_at, cron,
                  timezone, payload_json, enabled, status, runner_schedule_id, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET
                 workflow_version = EXCLUDED.workflow_version, name = EXCLUDED.name,
                 trigger_type = EXCLUDED.trigger_type, run_at = EXCLUDED.run_at,
                 cron = EXCLUDED.cron, timezone = EXCLUDED.timezone,
                 payload_json = EXCLUDED.payload_json, enabled = EXCLUDED.enabled,
                 status = EXCLUDED.status, runner_schedule_id = EXCLUDED.runner_schedule_id,
                 last_error = EXCLUDED.last_error, updated_at = now()",
        )
        .bind(row.id)
        .bind(row.tenant)
        .bind(row.workflow_id)
        .bind(row.workflow_version)
        .bind(&row.name)
        .bind(&row.trigger_type)
        .bind(row.run_at)
        .bind(&row.cron)
        .bind(&row.timezone)
        .bind(&row.payload_json)
        .bind(row.enabled)
        .bind(&row.status)
        .bind(&row.runner_schedule_id)
        .bind(&row.last_error)
        .execute(self.pool())
        .await
        .context(format!("saving schedule {}", row.id))?;
        Ok(())
    }

    /// One of the tenant's schedules.
    pub async fn get_schedule(&self, tenant: Uuid, id: Uuid) -> Result<ScheduleRow, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM tenant_workflow_schedule WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading schedule {id}"))?
        .ok_or_else(|| StoreError::NotFound(format!("no schedule {id}")))
    }

    /// The tenant's schedules, optionally of one workflow, oldest first.
    pub async fn list_schedules(
        &self,
        tenant: Uuid,
        workflow_id: Option<Uuid>,
    ) -> Result<Vec<ScheduleRow>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM tenant_workflow_schedule
             WHERE tenant = $1 AND ($2::uuid IS NULL OR workflow_id = $2)
             ORDER BY created_at, id"
        ))
        .bind(tenant)
        .bind(workflow_id)
        .fetch_all(self.pool())
        .await
        .context("listing schedules")
    }

    /// Every tenant's schedules (the sweeper's reconciliation with Temporal).
    pub async fn all_schedules(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM tenant_workflow_schedule ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await
        .context("listing every schedule")
    }

    /// Deletes one of the tenant's schedules.
    pub async fn delete_schedule(&self, tenant: Uuid, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tenant_workflow_schedule WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(self.pool())
            .await
            .context(format!("deleting schedule {id}"))?;
        Ok(())
    }
}
