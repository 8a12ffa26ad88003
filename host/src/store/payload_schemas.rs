//! The payload schema registry: JSON Schema documents by `payloadSchemaRef`, the tenant's own
//! before the system's (rows with no tenant, seeded by the migrations).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, Store, StoreError};

/// A registered schema.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadSchema {
    /// Its `payloadSchemaRef`.
    pub schema_ref: String,
    /// `tenant` (the caller's own) or `system`.
    pub scope: &'static str,
    /// The JSON Schema document.
    pub schema: Value,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

type Row = (String, Option<Uuid>, Json<Value>, DateTime<Utc>);

fn schema_of((schema_ref, tenant, Json(schema), updated_at): Row) -> PayloadSchema {
    PayloadSchema {
        schema_ref,
        scope: if tenant.is_some() { "tenant" } else { "system" },
        schema,
        updated_at,
    }
}

impl Store {
    /// The schema `schema_ref` names for `tenant`: its own, else the system's.
    pub async fn payload_schema(
        &self,
        tenant: Option<Uuid>,
        schema_ref: &str,
    ) -> Result<Option<PayloadSchema>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT schema_ref, tenant, schema_json, updated_at FROM workflow_payload_schemas
             WHERE schema_ref = $1 AND (tenant = $2 OR tenant IS NULL)
             ORDER BY tenant NULLS LAST LIMIT 1",
        )
        .bind(schema_ref)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading payload schema {schema_ref}"))?;
        Ok(row.map(schema_of))
    }

    /// Every schema the tenant sees (its own hide the system's of the same ref), by ref.
    pub async fn payload_schemas(&self, tenant: Uuid) -> Result<Vec<PayloadSchema>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT DISTINCT ON (schema_ref) schema_ref, tenant, schema_json, updated_at
             FROM workflow_payload_schemas WHERE tenant = $1 OR tenant IS NULL
             ORDER BY schema_ref, tenant NULLS LAST",
        )
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context("listing payload schemas")?;
        Ok(rows.into_iter().map(schema_of).collect())
    }

    /// Stores the tenant's own schema for `schema_ref`; whether it is new.
    pub async fn save_payload_schema(
        &self,
        tenant: Uuid,
        schema_ref: &str,
        schema: &Value,
    ) -> Result<bool, StoreError> {
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO workflow_payload_schemas (tenant, schema_ref, schema_json)
             VALUES ($1, $2, $3)
             ON CONFLICT ((coalesce(tenant, '00000000-0000-0000-0000-000000000000'::uuid)),
                          schema_ref)
             DO UPDATE SET schema_json = EXCLUDED.schema_json, updated_at = now()
             RETURNING (xmax = 0)",
        )
        .bind(tenant)
        .bind(schema_ref)
        .bind(Json(schema))
        .fetch_one(self.pool())
        .await
        .context(format!("saving payload schema {schema_ref}"))?;
        Ok(inserted)
    }

    /// Removes the tenant's own schema for `schema_ref` (a system one stays).
    pub async fn delete_payload_schema(
        &self,
        tenant: Uuid,
        schema_ref: &str,
    ) -> Result<(), StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM workflow_payload_schemas WHERE tenant = $1 AND schema_ref = $2",
        )
        .bind(tenant)
        .bind(schema_ref)
        .execute(self.pool())
        .await
        .context(format!("deleting payload schema {schema_ref}"))?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no payload schema {schema_ref} of this tenant"
            )));
        }
        Ok(())
    }
}
