//! A tenant's own human-task types and their forms (`workflow_task_definitions`,
//! `workflow_form_schemas`), and how a task type finds its form: the tenant's own type first,
//! then the system catalog.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Context, Store, StoreError, derived_uuid};

/// A task type a tenant sees.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskType {
    /// The type's name, as `human.task` steps name it.
    pub task_type: String,
    /// `tenant` (its own) or `system`.
    pub scope: &'static str,
    /// What it is for.
    pub description: Option<String>,
    /// The JSON Schema responses must satisfy.
    pub form_schema: Option<Value>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The form a task of `task_type` takes for `tenant` (the tenant's own type, else the system's),
/// and the tenant's type's id when it is the tenant's.
pub(super) const FORM_OF_TYPE: &str = "
    SELECT json_schema, task_definition_id FROM (
        SELECT fs.json_schema, td.task_definition_id, 0 AS rank
          FROM workflow_task_definitions td
          JOIN workflow_form_schemas fs ON fs.form_id = td.form_id AND fs.tenant = td.tenant
         WHERE td.tenant = $1 AND td.name = $2
        UNION ALL
        SELECT f.json_schema, NULL, 1
          FROM system_workflow_task_definitions d
          JOIN system_workflow_form_definitions f ON f.name = d.form_id
         WHERE d.task_type = $2) forms
    ORDER BY rank LIMIT 1";

type Row = (
    String,
    Option<Uuid>,
    Option<String>,
    Option<Json<Value>>,
    DateTime<Utc>,
);

fn task_type_of((task_type, tenant, description, schema, updated_at): Row) -> TaskType {
    TaskType {
        task_type,
        scope: if tenant.is_some() { "tenant" } else { "system" },
        description,
        form_schema: schema.map(|Json(s)| s),
        updated_at,
    }
}

/// Every type a tenant sees: its own, and the system's it does not redefine.
const TYPES: &str = "
    SELECT td.name, td.tenant, td.description, fs.json_schema, td.updated_at
      FROM workflow_task_definitions td
      JOIN workflow_form_schemas fs ON fs.form_id = td.form_id AND fs.tenant = td.tenant
     WHERE td.tenant = $1
    UNION ALL
    SELECT d.task_type, NULL, d.description, f.json_schema, d.updated_at
      FROM system_workflow_task_definitions d
      LEFT JOIN system_workflow_form_definitions f ON f.name = d.form_id
     WHERE NOT EXISTS (SELECT 1 FROM workflow_task_definitions o
                        WHERE o.tenant = $1 AND o.name = d.task_type)";

impl Store {
    /// Defines (or redefines) the tenant's task type `task_type` with its form; whether new.
    pub async fn save_task_type(
        &self,
        tenant: Uuid,
        task_type: &str,
        description: Option<&str>,
        form_schema: &Value,
    ) -> Result<bool, StoreError> {
        // Ids derived from the tenant and the name: saving again updates the same rows.
        let tenant_text = tenant.to_string();
        let form_id = derived_uuid(&["task-form", &tenant_text, task_type]);
        let definition_id = derived_uuid(&["task-type", &tenant_text, task_type]);
        let mut tx = self.pool().begin().await.context("saving a task type")?;
        sqlx::query(
            "INSERT INTO workflow_form_schemas (form_id, tenant, name, json_schema)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (form_id) DO UPDATE SET json_schema = EXCLUDED.json_schema,
                 updated_at = now()
             WHERE workflow_form_schemas.tenant = EXCLUDED.tenant",
        )
        .bind(form_id)
        .bind(tenant)
        .bind(format!("{task_type}-form"))
        .bind(Json(form_schema))
        .execute(&mut *tx)
        .await
        .context(format!("saving the form of task type `{task_type}`"))?;
        let created: bool = sqlx::query_scalar(
            "INSERT INTO workflow_task_definitions
                 (task_definition_id, tenant, name, description, form_id)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (task_definition_id) DO UPDATE SET description = EXCLUDED.description,
                 updated_at = now()
             WHERE workflow_task_definitions.tenant = EXCLUDED.tenant
             RETURNING (xmax = 0)",
        )
        .bind(definition_id)
        .bind(tenant)
        .bind(task_type)
        .bind(description)
        .bind(form_id)
        .fetch_one(&mut *tx)
        .await
        .context(format!("saving task type `{task_type}`"))?;
        tx.commit().await.context("saving a task type")?;
        Ok(created)
    }

    /// The task types the tenant sees, by name.
    pub async fn task_types(&self, tenant: Uuid) -> Result<Vec<TaskType>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!("{TYPES} ORDER BY 1"))
            .bind(tenant)
            .fetch_all(self.pool())
            .await
            .context("listing task types")?;
        Ok(rows.into_iter().map(task_type_of).collect())
    }

    /// One task type as the tenant sees it.
    pub async fn task_type(
        &self,
        tenant: Uuid,
        task_type: &str,
    ) -> Result<Option<TaskType>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT * FROM ({TYPES}) t WHERE t.name = $2 LIMIT 1"
        ))
        .bind(tenant)
        .bind(task_type)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading task type `{task_type}`"))?;
        Ok(row.map(task_type_of))
    }

    /// Removes the tenant's own task type (a system one of the same name applies again; tasks
    /// already open keep the form they were opened with).
    pub async fn delete_task_type(&self, tenant: Uuid, task_type: &str) -> Result<(), StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM workflow_form_schemas fs USING workflow_task_definitions td
             WHERE td.form_id = fs.form_id AND td.tenant = $1 AND fs.tenant = $1
               AND td.name = $2",
        )
        .bind(tenant)
        .bind(task_type)
        .execute(self.pool())
        .await
        .context(format!("deleting task type `{task_type}`"))?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no task type `{task_type}` of this tenant"
            )));
        }
        Ok(())
    }
}
