//! Drafts and the definition catalogue: a workflow's editable draft (saved with an optimistic
//! `draft_version` guard), its row, its published versions, and pausing.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::definitions::identity;
use super::{Context, Store, StoreError};

/// A saved draft.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedDraft {
    /// The workflow's uuid.
    pub workflow_id: Uuid,
    /// The slug, when the definition's `id` is not a uuid.
    pub key: Option<String>,
    /// The draft's revision; send it back as `expectedDraftVersion` to update it.
    pub draft_version: i32,
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
    pub async fn get_definition(&self, tenant: Uuid, reference: &str) -> Result<Value, StoreError> {
        let (workflow_id, _) = identity(Some(tenant), reference);
        let row: Option<Json<Value>> = sqlx::query_scalar(
            "SELECT to_jsonb(d) || jsonb_build_object('published_version',
                 (SELECT max(version) FROM workflow_definition_versions v
                  WHERE v.workflow_id = d.workflow_id AND v.tenant = d.tenant))
             FROM workflow_definitions d WHERE workflow_id = $1 AND tenant = $2",
        )
        .bind(workflow_id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading workflow `{reference}`"))?;
        row.map(|Json(v)| v)
            .ok_or_else(|| StoreError::NotFound(format!("no workflow `{reference}`")))
    }

    /// The tenant's workflows (without their drafts), by name.
    pub async fn list_definitions(&self, tenant: Uuid) -> Result<Vec<Value>, StoreError> {
        let rows: Vec<Json<Value>> = sqlx::query_scalar(
            "SELECT (to_jsonb(d) - 'draft_definition') || jsonb_build_object('published_version',
                 (SELECT max(version) FROM workflow_definition_versions v
                  WHERE v.workflow_id = d.workflow_id AND v.tenant = d.tenant))
             FROM workflow_definitions d WHERE tenant = $1 ORDER BY name, workflow_id",
        )
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context("listing workflows")?;
        Ok(rows.into_iter().map(|Json(v)| v).collect())
    }

    /// The workflow's published versions, newest first (without their definitions).
    pub async fn list_versions(
        &self,
        tenant: Uuid,
        reference: &str,
    ) -> Result<Vec<Value>, StoreError> {
        self.get_definition(tenant, reference).await?;
        let (workflow_id, _) = identity(Some(tenant), reference);
        let rows: Vec<Json<Value>> = sqlx::query_scalar(
            "SELECT jsonb_build_object('version', version, 'publishedAt', published_at,
                 'validationStatus', validation_status)
             FROM workflow_definition_versions WHERE workflow_id = $1 AND tenant = $2
             ORDER BY version DESC",
        )
        .bind(workflow_id)
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context(format!("listing the versions of `{reference}`"))?;
        Ok(rows.into_iter().map(|Json(v)| v).collect())
    }

    /// Pauses or resumes a workflow: a paused workflow is not started by events or schedules.
    pub async fn set_paused(
        &self,
        tenant: Uuid,
        reference: &str,
        paused: bool,
    ) -> Result<Uuid, StoreError> {
        let (workflow_id, _) = identity(Some(tenant), reference);
        let updated = sqlx::query(
            "UPDATE workflow_definitions SET is_paused = $3, updated_at = now()
             WHERE workflow_id = $1 AND tenant = $2",
        )
        .bind(workflow_id)
        .bind(tenant)
        .bind(paused)
        .execute(self.pool())
        .await
        .context(format!("pausing workflow `{reference}`"))?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no workflow `{reference}`")));
        }
        Ok(workflow_id)
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
