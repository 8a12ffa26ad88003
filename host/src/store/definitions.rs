//! Publishing immutable definition versions and pinning one for a run.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, Store, StoreError, derived_uuid};

/// A published version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The workflow's uuid (`workflow_definitions.workflow_id`).
    pub workflow_id: Uuid,
    /// The slug, when the definition's `id` is not a uuid.
    pub key: Option<String>,
    /// The version number.
    pub version: i32,
    /// False when this exact version was already published (publishing is idempotent).
    pub created: bool,
}

/// A definition version a run pins.
#[derive(Debug, Clone)]
pub struct PinnedDefinition {
    /// The workflow's uuid.
    pub workflow_id: Uuid,
    /// The version number.
    pub version: i32,
    /// The definition JSON.
    pub definition: Value,
}

/// A definition's `id`: a uuid is the workflow id itself; anything else is a slug (`key`) from
/// which the workflow id is derived, per tenant.
pub(super) fn identity(tenant: Option<Uuid>, id: &str) -> (Uuid, Option<String>) {
    match Uuid::parse_str(id) {
        Ok(uuid) => (uuid, None),
        Err(_) => {
            let tenant = tenant.map(|t| t.to_string()).unwrap_or_default();
            (
                derived_uuid(&["workflow", &tenant, id]),
                Some(id.to_owned()),
            )
        }
    }
}

impl Store {
    /// Stores `definition` (already validated) as an immutable version. Publishing the same
    /// content again is a no-op; different content under a published version is refused.
    pub async fn publish(
        &self,
        tenant: Option<Uuid>,
        definition: &Value,
    ) -> Result<Published, StoreError> {
        let field = |name: &str| {
            definition
                .get(name)
                .ok_or_else(|| StoreError::Invalid(format!("the definition has no `{name}`")))
        };
        let id = field("id")?
            .as_str()
            .ok_or_else(|| StoreError::Invalid("the definition's `id` is not a string".into()))?;
        let version = field("version")?
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                StoreError::Invalid("the definition's `version` is not a positive integer".into())
            })?;
        let name = definition.get("name").and_then(Value::as_str).unwrap_or(id);
        let schema_ref = definition
            .get("payloadSchemaRef")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (workflow_id, key) = identity(tenant, id);
        let mut tx = self.pool().begin().await.context("publishing")?;
        // The upsert only ever touches the caller's own row: a uuid held by another tenant
        // updates nothing, and the caller hears what it would of a workflow it cannot see.
        let stored = sqlx::query(
            "INSERT INTO workflow_definitions
                 (workflow_id, tenant, key, name, description, payload_schema_ref, trigger,
                  draft_definition, draft_version, status, validation_status, validated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'published', 'valid', now())
             ON CONFLICT (workflow_id) DO UPDATE SET
                 name = EXCLUDED.name, description = EXCLUDED.description,
                 payload_schema_ref = EXCLUDED.payload_schema_ref, trigger = EXCLUDED.trigger,
                 draft_definition = EXCLUDED.draft_definition,
                 draft_version = GREATEST(workflow_definitions.draft_version, EXCLUDED.draft_version),
                 status = 'published', validation_status = 'valid', validated_at = now(),
                 updated_at = now()
             WHERE workflow_definitions.tenant IS NOT DISTINCT FROM EXCLUDED.tenant",
        )
        .bind(workflow_id)
        .bind(tenant)
        .bind(&key)
        .bind(name)
        .bind(definition.get("description").and_then(Value::as_str))
        .bind(schema_ref)
        .bind(definition.get("trigger").map(Json))
        .bind(Json(definition))
        .bind(version)
        .execute(&mut *tx)
        .await
        .context(format!("storing workflow `{id}`"))?;
        if stored.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no workflow `{id}`")));
        }
        let existing: Option<Json<Value>> = sqlx::query_scalar(
            "SELECT definition_json FROM workflow_definition_versions
             WHERE workflow_id = $1 AND version = $2 AND tenant IS NOT DISTINCT FROM $3",
        )
        .bind(workflow_id)
        .bind(version)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .context(format!("reading version {version} of `{id}`"))?;
        if let Some(Json(stored)) = existing {
            if alga_protocol::canonical::definition_hash(&stored)
                != alga_protocol::canonical::definition_hash(definition)
            {
                return Err(StoreError::Invalid(format!(
                    "version {version} of `{id}` is already published with different content; \
                     versions are immutable, publish it as version {}",
                    version + 1
                )));
            }
            tx.commit().await.context("publishing")?;
            return Ok(Published {
                workflow_id,
                key,
                version,
                created: false,
            });
        }
        sqlx::query(
            "INSERT INTO workflow_definition_versions
                 (version_id, tenant, workflow_id, version, definition_json, validation_status,
                  validated_at, published_at)
             VALUES ($1, $2, $3, $4, $5, 'valid', now(), now())",
        )
        .bind(derived_uuid(&[
            "version",
            &workflow_id.to_string(),
            &version.to_string(),
        ]))
        .bind(tenant)
        .bind(workflow_id)
        .bind(version)
        .bind(Json(definition))
        .execute(&mut *tx)
        .await
        .context(format!("storing version {version} of `{id}`"))?;
        tx.commit().await.context("publishing")?;
        Ok(Published {
            workflow_id,
            key,
            version,
            created: true,
        })
    }

    /// The version a run pins: `reference` is a workflow uuid or key; no `version` means the
    /// latest published one.
    pub async fn pinned(
        &self,
        tenant: Option<Uuid>,
        reference: &str,
        version: Option<i32>,
    ) -> Result<PinnedDefinition, StoreError> {
        let (workflow_id, _) = identity(tenant, reference);
        let row: Option<(i32, Json<Value>)> = sqlx::query_as(
            "SELECT version, definition_json FROM workflow_definition_versions
             WHERE workflow_id = $1 AND ($2::int IS NULL OR version = $2)
               AND tenant IS NOT DISTINCT FROM $3
             ORDER BY version DESC LIMIT 1",
        )
        .bind(workflow_id)
        .bind(version)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading workflow `{reference}`"))?;
        let (version, Json(definition)) = row.ok_or_else(|| {
            StoreError::NotFound(match version {
                Some(v) => format!("workflow `{reference}` has no published version {v}"),
                None => format!("workflow `{reference}` has no published version"),
            })
        })?;
        Ok(PinnedDefinition {
            workflow_id,
            version,
            definition,
        })
    }

    /// The latest published versions of the tenant's unpaused workflows whose trigger names
    /// `event_name`, in a stable order. (The caller checks each version's own trigger: the
    /// definitions row follows drafts, the version is what runs.)
    pub async fn triggered_by(
        &self,
        tenant: Uuid,
        event_name: &str,
    ) -> Result<Vec<PinnedDefinition>, StoreError> {
        let rows: Vec<(Uuid, i32, Json<Value>)> = sqlx::query_as(
            "SELECT d.workflow_id, v.version, v.definition_json
             FROM workflow_definitions d
             JOIN LATERAL (SELECT version, definition_json FROM workflow_definition_versions
                           WHERE workflow_id = d.workflow_id AND tenant = d.tenant
                           ORDER BY version DESC LIMIT 1) v
               ON true
             WHERE d.tenant = $1 AND d.status = 'published' AND NOT d.is_paused
               AND v.definition_json -> 'trigger' ->> 'type' = 'event'
               AND v.definition_json -> 'trigger' ->> 'eventName' = $2
             ORDER BY d.created_at, d.workflow_id",
        )
        .bind(tenant)
        .bind(event_name)
        .fetch_all(self.pool())
        .await
        .context(format!("finding workflows triggered by {event_name}"))?;
        Ok(rows
            .into_iter()
            .map(
                |(workflow_id, version, Json(definition))| PinnedDefinition {
                    workflow_id,
                    version,
                    definition,
                },
            )
            .collect())
    }
}
