//! Human tasks: the `workflow_tasks` inbox row a `human.task` step opens, and the form schema
//! its response is validated against.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::runs::run_uuid;
use super::{Context, Store, StoreError, derived_uuid};

/// A task to open.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// Tenant (the inbox is keyed by tenant; a run without one uses the nil uuid).
    pub tenant: Option<Uuid>,
    /// Our run id.
    pub run_id: &'a str,
    /// What makes this task unique in its run (step path and activity id).
    pub identity: &'a str,
    /// The system task type.
    pub task_type: &'a str,
    /// Title.
    pub title: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Context data for the inbox.
    pub context_data: &'a Value,
}

/// An opened task.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedTask {
    /// The task id (stable for the same run and identity).
    pub task_id: Uuid,
    /// The task type's form schema, when the catalog has one.
    pub form_schema: Option<Value>,
}

impl Store {
    /// Opens the task (once: a retried activity finds the row it made) and reads its form.
    pub async fn open_task(&self, task: &NewTask<'_>) -> Result<OpenedTask, StoreError> {
        let task_id = derived_uuid(&["task", task.run_id, task.identity]);
        sqlx::query(
            "INSERT INTO workflow_tasks
                 (task_id, tenant, execution_id, task_definition_type,
                  system_task_definition_task_type, title, description, context_data, status,
                  priority)
             VALUES ($1, $2, $3, 'system', $4, $5, $6, $7, 'pending', 'medium')
             ON CONFLICT (task_id, tenant) DO NOTHING",
        )
        .bind(task_id)
        .bind(task.tenant.unwrap_or(Uuid::nil()))
        .bind(run_uuid(task.run_id))
        .bind(task.task_type)
        .bind(task.title)
        .bind(task.description)
        .bind(Json(task.context_data))
        .execute(self.pool())
        .await
        .context(format!(
            "opening task `{}` of run {}",
            task.title, task.run_id
        ))?;
        let form_schema: Option<Json<Value>> = sqlx::query_scalar(
            "SELECT f.json_schema FROM system_workflow_task_definitions d
             JOIN system_workflow_form_definitions f ON f.name = d.form_id
             WHERE d.task_type = $1",
        )
        .bind(task.task_type)
        .fetch_optional(self.pool())
        .await
        .context(format!(
            "reading the form of task type `{}`",
            task.task_type
        ))?;
        Ok(OpenedTask {
            task_id,
            form_schema: form_schema.map(|Json(schema)| schema),
        })
    }
}
