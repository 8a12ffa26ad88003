//! Drafts and the definition catalogue: a workflow's editable draft (saved with an optimistic
//! `draft_version` guard), its row, its published versions, and pausing.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::definitions::identity;
use super::{Context, Store, StoreError};

/// A saved draft.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedDraft {
    /// The workflow's uuid.
    pub workflow_id: Uuid,
    /// The slug, when the definition's `id` is not a uuid.
    pub key: Option<String>,
    /// The draft's revision; send it back as `expectedDraftVersion` to update it.
    pub draft_version: i32,
}

/// A `workflow_definitions` row (without its tenant, always the caller's) with its latest
/// published version.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    pub workflow_id: Uuid,
    /// The slug, when the definition's `id` is not a uuid.
    pub key: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub payload_schema_ref: String,
    pub payload_schema_mode: String,
    pub pinned_payload_schema_ref: Option<String>,
    pub payload_schema_provenance: Option<String>,
    /// The draft's event or time trigger.
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    /// The editable draft (absent from the list).
    #[sqlx(json(nullable))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub draft_definition: Option<Value>,
    /// The draft's revision; send it back as `expectedDraftVersion` to update it.
    pub draft_version: i32,
    /// `draft` or `published`.
    pub status: String,
    pub validation_status: Option<String>,
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Vec<Object>>)]
    pub validation_errors: Option<Value>,
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Vec<Object>>)]
    pub validation_warnings: Option<Value>,
    pub validated_at: Option<DateTime<Utc>>,
    pub is_system: bool,
    pub is_visible: bool,
    /// A paused workflow is not started by events or schedules.
    pub is_paused: bool,
    /// Open runs at most (none: no limit).
    pub concurrency_limit: Option<i32>,
    /// How long a run may stay open (none: the deployment's `--run-timeout-secs`).
    pub execution_timeout_secs: Option<i32>,
    pub auto_pause_on_failure: bool,
    pub failure_rate_threshold: Option<f64>,
    pub failure_rate_min_runs: Option<i32>,
    /// `{"days": N}`: ended runs are purged N days after they ended.
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub retention_policy_override: Option<Value>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest published version (none: never published).
    pub published_version: Option<i32>,
}

/// The columns of [`Definition`] but its draft (`d` is `workflow_definitions`).
const DEFINITION_COLUMNS: &str = "d.workflow_id, d.key, d.name, d.description,
    d.payload_schema_ref, d.payload_schema_mode, d.pinned_payload_schema_ref,
    d.payload_schema_provenance, d.trigger, d.draft_version, d.status, d.validation_status,
    d.validation_errors, d.validation_warnings, d.validated_at, d.is_system, d.is_visible,
    d.is_paused, d.concurrency_limit, d.execution_timeout_secs, d.auto_pause_on_failure,
    d.failure_rate_threshold::float8 AS failure_rate_threshold, d.failure_rate_min_runs,
    d.retention_policy_override, d.created_by, d.updated_by, d.created_at, d.updated_at,
    (SELECT max(version) FROM workflow_definition_versions v
      WHERE v.workflow_id = d.workflow_id AND v.tenant = d.tenant) AS published_version";

/// A published version, without its definition.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionVersion {
    pub version: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub validation_status: Option<String>,
}

impl Store {
    /// Saves `definition` as the draft of the workflow its `id` names (creating the workflow
    /// as a draft when it is new). With `expected`, the save only happens if the stored draft
    /// revision is still that one.
    pub async fn save_draft(
        &self,
        tenant: Uuid,
        definition: &Value,
        expected: Option<i32>,
    ) -> Result<SavedDraft, StoreError> {
        let id = definition
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Invalid("the definition has no string `id`".into()))?;
        let (workflow_id, key) = identity(Some(tenant), id);
        let name = definition.get("name").and_then(Value::as_str).unwrap_or(id);
        let saved: Option<i32> = sqlx::query_scalar(
            "INSERT INTO workflow_definitions
                 (workflow_id, tenant, key, name, description, payload_schema_ref, trigger,
                  draft_definition, draft_version, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, 'draft')
             ON CONFLICT (workflow_id) DO UPDATE SET
                 name = EXCLUDED.name, description = EXCLUDED.description,
                 draft_definition = EXCLUDED.draft_definition,
                 draft_version = workflow_definitions.draft_version + 1, updated_at = now()
             WHERE workflow_definitions.tenant = $2
               AND ($9::int IS NULL OR workflow_definitions.draft_version = $9)
             RETURNING draft_version",
        )
        .bind(workflow_id)
        .bind(tenant)
        .bind(&key)
        .bind(name)
        .bind(definition.get("description").and_then(Value::as_str))
        .bind(
            definition
                .get("payloadSchemaRef")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
        .bind(definition.get("trigger").map(Json))
        .bind(Json(definition))
        .bind(expected)
        .fetch_optional(self.pool())
        .await
        .context(format!("saving the draft of `{id}`"))?;
        if let Some(draft_version) = saved {
            return Ok(SavedDraft {
                workflow_id,
                key,
                draft_version,
            });
        }
        // Nothing was written: a stale revision of the caller's own workflow, or a uuid that
        // another tenant holds, which must look exactly like a missing workflow.
        let own: Option<i32> = sqlx::query_scalar(
            "SELECT draft_version FROM workflow_definitions WHERE workflow_id = $1 AND tenant = $2",
        )
        .bind(workflow_id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading the draft of `{id}`"))?;
        match (own, expected) {
            (Some(_), Some(v)) => Err(StoreError::Invalid(format!(
                "the draft of `{id}` changed since revision {v}; read it again and retry"
            ))),
            _ => Err(StoreError::NotFound(format!("no workflow `{id}`"))),
        }
    }

    /// The workflow's row (draft included) with its latest published version.
    pub async fn get_definition(
        &self,
        tenant: Uuid,
        reference: &str,
    ) -> Result<Definition, StoreError> {
        let (workflow_id, _) = identity(Some(tenant), reference);
        let row: Option<Definition> = sqlx::query_as(&format!(
            "SELECT {DEFINITION_COLUMNS}, d.draft_definition
             FROM workflow_definitions d WHERE workflow_id = $1 AND tenant = $2"
        ))
        .bind(workflow_id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading workflow `{reference}`"))?;
        row.ok_or_else(|| StoreError::NotFound(format!("no workflow `{reference}`")))
    }

    /// The tenant's workflows (without their drafts), by name.
    pub async fn list_definitions(&self, tenant: Uuid) -> Result<Vec<Definition>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT {DEFINITION_COLUMNS}, NULL::jsonb AS draft_definition
             FROM workflow_definitions d WHERE tenant = $1 ORDER BY name, workflow_id"
        ))
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context("listing workflows")?;
        Ok(rows)
    }

    /// The workflow's published versions, newest first (without their definitions).
    pub async fn list_versions(
        &self,
        tenant: Uuid,
        reference: &str,
    ) -> Result<Vec<DefinitionVersion>, StoreError> {
        self.get_definition(tenant, reference).await?;
        let (workflow_id, _) = identity(Some(tenant), reference);
        let rows = sqlx::query_as(
            "SELECT version, published_at, validation_status
             FROM workflow_definition_versions WHERE workflow_id = $1 AND tenant = $2
             ORDER BY version DESC",
        )
        .bind(workflow_id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("listing the versions of `{reference}`"))?;
        Ok(rows)
    }

    /// Changes a workflow's operator settings (a field left `None` keeps its value; an
    /// execution timeout of `Some(None)` goes back to the deployment's); returns the workflow's
    /// uuid and its settings after the change.
    pub async fn update_settings(
        &self,
        tenant: Uuid,
        reference: &str,
        change: &SettingsChange,
    ) -> Result<(Uuid, WorkflowSettings), StoreError> {
        let (workflow_id, _) = identity(Some(tenant), reference);
        type Row = (bool, Option<i32>, Option<i32>, bool, f64, i32, Option<i32>);
        let row: Option<Row> = sqlx::query_as(
            "UPDATE workflow_definitions SET is_paused = coalesce($3, is_paused),
                 execution_timeout_secs = CASE WHEN $4 THEN $5 ELSE execution_timeout_secs END,
                 concurrency_limit = CASE WHEN $6 THEN $7 ELSE concurrency_limit END,
                 auto_pause_on_failure = coalesce($8, auto_pause_on_failure),
                 failure_rate_threshold = coalesce($9::float8::numeric, failure_rate_threshold),
                 failure_rate_min_runs = coalesce($10, failure_rate_min_runs),
                 retention_policy_override = CASE WHEN $11 THEN
                     CASE WHEN $12::int IS NULL THEN NULL ELSE jsonb_build_object('days', $12::int) END
                     ELSE retention_policy_override END,
                 updated_at = now()
             WHERE workflow_id = $1 AND tenant = $2
             RETURNING is_paused, execution_timeout_secs, concurrency_limit,
                 auto_pause_on_failure, coalesce(failure_rate_threshold, 0.5)::float8,
                 coalesce(failure_rate_min_runs, 10),
                 (retention_policy_override ->> 'days')::int",
        )
        .bind(workflow_id)
        .bind(tenant)
        .bind(change.paused)
        .bind(change.execution_timeout_secs.is_some())
        .bind(change.execution_timeout_secs.flatten())
        .bind(change.concurrency_limit.is_some())
        .bind(change.concurrency_limit.flatten())
        .bind(change.auto_pause_on_failure)
        .bind(change.failure_rate_threshold)
        .bind(change.failure_rate_min_runs)
        .bind(change.retention_days.is_some())
        .bind(change.retention_days.flatten())
        .fetch_optional(self.pool())
        .await
        .context(format!("changing the settings of workflow `{reference}`"))?;
        let (
            paused,
            execution_timeout_secs,
            concurrency_limit,
            auto_pause_on_failure,
            failure_rate_threshold,
            failure_rate_min_runs,
            retention_days,
        ) = row.ok_or_else(|| StoreError::NotFound(format!("no workflow `{reference}`")))?;
        Ok((
            workflow_id,
            WorkflowSettings {
                paused,
                execution_timeout_secs,
                concurrency_limit,
                auto_pause_on_failure,
                failure_rate_threshold,
                failure_rate_min_runs,
                retention_days,
            },
        ))
    }

    /// Whether the tenant's workflow is paused (a workflow that is not there is not).
    pub async fn workflow_paused(
        &self,
        tenant: Option<Uuid>,
        workflow_id: Uuid,
    ) -> Result<bool, StoreError> {
        let paused: Option<bool> = sqlx::query_scalar(
            "SELECT is_paused FROM workflow_definitions
             WHERE workflow_id = $1 AND tenant IS NOT DISTINCT FROM $2",
        )
        .bind(workflow_id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading whether workflow {workflow_id} is paused"))?;
        Ok(paused.unwrap_or(false))
    }
}

/// A workflow's operator settings (not part of its definition).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkflowSettings {
    /// Events and schedules do not start it.
    pub paused: bool,
    /// Its runs' execution timeout, in seconds (none: the deployment's).
    pub execution_timeout_secs: Option<i32>,
    /// How many of its runs may be open (`RUNNING` or `WAITING`) at once (none: any).
    pub concurrency_limit: Option<i32>,
    /// Pause it when too many of its recent runs fail.
    pub auto_pause_on_failure: bool,
    /// The share of failed runs (0 to 1) among the recent ones that pauses it.
    pub failure_rate_threshold: f64,
    /// How many ended runs "recent" means (and the fewest the rate is judged on).
    pub failure_rate_min_runs: i32,
    /// Days its ended runs are kept (none: the deployment's).
    pub retention_days: Option<i32>,
}

/// A change to [`WorkflowSettings`]: `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SettingsChange {
    /// Pause or resume.
    pub paused: Option<bool>,
    /// Set (`Some(Some(secs))`) or clear (`Some(None)`) the execution timeout.
    pub execution_timeout_secs: Option<Option<i32>>,
    /// Set or clear the concurrency limit.
    pub concurrency_limit: Option<Option<i32>>,
    /// Turn pausing on failure on or off.
    pub auto_pause_on_failure: Option<bool>,
    /// Set the failure rate that pauses it.
    pub failure_rate_threshold: Option<f64>,
    /// Set how many ended runs the rate is judged on.
    pub failure_rate_min_runs: Option<i32>,
    /// Set or clear the retention, in days.
    pub retention_days: Option<Option<i32>>,
}
