//! Human tasks: the `workflow_tasks` inbox row a `human.task` step opens, and the form schema
//! its response is validated against.

use chrono::{DateTime, Utc};
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
        let tenant = task.tenant.unwrap_or(Uuid::nil());
        // The tenant's own type's form, else the system catalog's.
        let form: Option<(Json<Value>, Option<Uuid>)> =
            sqlx::query_as(super::task_types::FORM_OF_TYPE)
                .bind(tenant)
                .bind(task.task_type)
                .fetch_optional(self.pool())
                .await
                .context(format!(
                    "reading the form of task type `{}`",
                    task.task_type
                ))?;
        let tenant_type = form.as_ref().and_then(|(_, id)| *id);
        sqlx::query(
            "INSERT INTO workflow_tasks
                 (task_id, tenant, execution_id, task_definition_type,
                  system_task_definition_task_type, tenant_task_definition_id, title, description,
                  context_data, status, priority)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 'medium')
             ON CONFLICT (task_id, tenant) DO NOTHING",
        )
        .bind(task_id)
        .bind(tenant)
        .bind(run_uuid(task.run_id))
        .bind(if tenant_type.is_some() {
            "tenant"
        } else {
            "system"
        })
        .bind(task.task_type)
        .bind(tenant_type)
        .bind(task.title)
        .bind(task.description)
        .bind(Json(task.context_data))
        .execute(self.pool())
        .await
        .context(format!(
            "opening task `{}` of run {}",
            task.title, task.run_id
        ))?;
        let form_schema = form.map(|(Json(schema), _)| schema);
        Ok(OpenedTask {
            task_id,
            form_schema,
        })
    }

    /// Adds (or replaces) a system task type whose responses must satisfy `form_schema`.
    pub async fn register_system_task_type(
        &self,
        task_type: &str,
        form_schema: &Value,
    ) -> Result<(), StoreError> {
        let form = format!("{task_type}-form");
        let mut tx = self
            .pool()
            .begin()
            .await
            .context("registering a task type")?;
        sqlx::query(
            "INSERT INTO system_workflow_form_definitions (name, json_schema) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET json_schema = EXCLUDED.json_schema,
                 updated_at = now()",
        )
        .bind(&form)
        .bind(Json(form_schema))
        .execute(&mut *tx)
        .await
        .context(format!("storing the form of task type `{task_type}`"))?;
        sqlx::query(
            "INSERT INTO system_workflow_task_definitions (task_type, name, form_id)
             VALUES ($1, $1, $2)
             ON CONFLICT (task_type) DO UPDATE SET form_id = EXCLUDED.form_id,
                 updated_at = now()",
        )
        .bind(task_type)
        .bind(&form)
        .execute(&mut *tx)
        .await
        .context(format!("storing task type `{task_type}`"))?;
        tx.commit().await.context("registering a task type")?;
        Ok(())
    }

    /// The tenant's tasks, newest first: optionally of one status or one run; dismissed
    /// (hidden) tasks only when asked.
    pub async fn list_tasks(
        &self,
        tenant: Uuid,
        filter: &TaskFilter<'_>,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM workflow_tasks t
             WHERE tenant = $1 AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR execution_id = $3) AND ($4 OR NOT is_hidden)
             ORDER BY created_at DESC, task_id LIMIT $5 OFFSET $6"
        ))
        .bind(tenant)
        .bind(filter.status)
        .bind(filter.run_id)
        .bind(filter.include_dismissed)
        .bind(limit)
        .bind(cursor)
        .fetch_all(self.pool())
        .await
        .context("listing tasks")?;
        Ok(rows)
    }

    /// One of the tenant's tasks with its form schema and the Temporal workflow of its run.
    pub async fn get_task(&self, tenant: Uuid, task_id: Uuid) -> Result<TaskView, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            task: TaskRow,
            temporal_workflow_id: Option<String>,
            json_schema: Option<Json<Value>>,
        }
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS}, r.temporal_workflow_id,
                    coalesce(fs.json_schema, f.json_schema) AS json_schema
             FROM workflow_tasks t
             LEFT JOIN workflow_runs r ON r.run_id = t.execution_id AND r.tenant = t.tenant
             LEFT JOIN workflow_task_definitions td
               ON td.task_definition_id = t.tenant_task_definition_id AND td.tenant = t.tenant
             LEFT JOIN workflow_form_schemas fs ON fs.form_id = td.form_id AND fs.tenant = t.tenant
             LEFT JOIN system_workflow_task_definitions d
               ON d.task_type = t.system_task_definition_task_type AND td.task_definition_id IS NULL
             LEFT JOIN system_workflow_form_definitions f ON f.name = d.form_id
             WHERE t.tenant = $1 AND t.task_id = $2"
        ))
        .bind(tenant)
        .bind(task_id)
        .fetch_optional(self.pool())
        .await
        .context(format!("reading task {task_id}"))?;
        let row = row.ok_or_else(|| StoreError::NotFound(format!("no task {task_id}")))?;
        Ok(TaskView {
            task: row.task,
            temporal_workflow_id: row.temporal_workflow_id,
            form_schema: row.json_schema.map(|Json(f)| f),
        })
    }

    /// Claims a task for `who`; a task claimed by someone else, or no longer open, is a
    /// conflict.
    pub async fn claim_task(
        &self,
        tenant: Uuid,
        task_id: Uuid,
        who: Uuid,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE workflow_tasks SET status = 'claimed', claimed_by = $3,
                 claimed_at = coalesce(claimed_at, now()), updated_at = now()
             WHERE tenant = $1 AND task_id = $2 AND status IN ('pending', 'claimed')
               AND (claimed_by IS NULL OR claimed_by = $3) AND NOT is_hidden",
        )
        .bind(tenant)
        .bind(task_id)
        .bind(who)
        .execute(self.pool())
        .await
        .context(format!("claiming task {task_id}"))?;
        self.changed_or_conflict(tenant, task_id, updated.rows_affected(), "claimed")
            .await
    }

    /// Dismisses (hides) an open task; the run keeps waiting for a response. A task claimed
    /// by someone else is theirs to dismiss, unless `over_claims` (an admin).
    pub async fn dismiss_task(
        &self,
        tenant: Uuid,
        task_id: Uuid,
        who: Uuid,
        over_claims: bool,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE workflow_tasks SET is_hidden = true, hidden_at = now(), hidden_by = $3,
                 updated_at = now()
             WHERE tenant = $1 AND task_id = $2 AND status IN ('pending', 'claimed')
               AND (claimed_by IS NULL OR claimed_by = $3 OR $4)",
        )
        .bind(tenant)
        .bind(task_id)
        .bind(who)
        .bind(over_claims)
        .execute(self.pool())
        .await
        .context(format!("dismissing task {task_id}"))?;
        self.changed_or_conflict(tenant, task_id, updated.rows_affected(), "dismissed")
            .await
    }

    /// Records the accepted response of a task (the run already has it).
    pub async fn task_completed(
        &self,
        tenant: Uuid,
        task_id: Uuid,
        response: &Value,
        who: Uuid,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_tasks SET status = 'completed', response_data = $3,
                 completed_by = $4, completed_at = coalesce(completed_at, now()), updated_at = now()
             WHERE tenant = $1 AND task_id = $2",
        )
        .bind(tenant)
        .bind(task_id)
        .bind(Json(response))
        .bind(who)
        .execute(self.pool())
        .await
        .context(format!("recording the response to task {task_id}"))?;
        Ok(())
    }

    async fn changed_or_conflict(
        &self,
        tenant: Uuid,
        task_id: Uuid,
        changed: u64,
        verb: &str,
    ) -> Result<(), StoreError> {
        if changed == 1 {
            return Ok(());
        }
        let view = self.get_task(tenant, task_id).await?;
        Err(StoreError::Invalid(format!(
            "task {task_id} cannot be {verb}: it is {}{}",
            view.task.status,
            match view.task.claimed_by {
                Some(owner) => format!(", claimed by {owner}"),
                None => String::new(),
            }
        )))
    }
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter<'a> {
    /// `pending`, `claimed`, `completed`.
    pub status: Option<&'a str>,
    /// One run's tasks.
    pub run_id: Option<Uuid>,
    /// Include dismissed tasks.
    pub include_dismissed: bool,
}

/// A `workflow_tasks` row, typed (the tenant is the caller's, so it is not repeated).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    /// The task.
    pub task_id: Uuid,
    /// The run that opened it (`execution_id`).
    pub execution_id: Uuid,
    /// `system` or `tenant`.
    pub task_definition_type: String,
    /// The system catalog's task type.
    pub system_task_definition_task_type: Option<String>,
    /// The tenant's task definition.
    pub tenant_task_definition_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// The event that opened it, when one did.
    pub event_id: Option<String>,
    /// What the run gave the person to decide with.
    pub context_data: Option<Json<Value>>,
    /// `pending`, `claimed`, `completed`, `canceled`.
    pub status: String,
    /// Priority.
    pub priority: Option<String>,
    /// Roles it is assigned to.
    pub assigned_roles: Option<Json<Value>>,
    /// Users it is assigned to.
    pub assigned_users: Option<Json<Value>>,
    /// Due date.
    pub due_date: Option<DateTime<Utc>>,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Who completed it (an API key id).
    pub completed_by: Option<Uuid>,
    /// The accepted response.
    pub response_data: Option<Json<Value>>,
    /// Opened at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// Dismissed from the inbox.
    pub is_hidden: bool,
    /// When it was dismissed.
    pub hidden_at: Option<DateTime<Utc>>,
    /// Who dismissed it.
    pub hidden_by: Option<Uuid>,
    /// When it was claimed.
    pub claimed_at: Option<DateTime<Utc>>,
    /// Who claimed it (an API key id).
    pub claimed_by: Option<Uuid>,
}

/// The columns of [`TaskRow`], for the statements that read one (`t` is `workflow_tasks`).
const TASK_COLUMNS: &str = "t.task_id, t.execution_id, t.task_definition_type,
    t.system_task_definition_task_type, t.tenant_task_definition_id, t.title, t.description,
    t.event_id, t.context_data, t.status, t.priority, t.assigned_roles, t.assigned_users,
    t.due_date, t.completed_at, t.completed_by, t.response_data, t.created_at, t.updated_at,
    t.is_hidden, t.hidden_at, t.hidden_by, t.claimed_at, t.claimed_by";

/// A task as the API shows it.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// The `workflow_tasks` row.
    pub task: TaskRow,
    /// The Temporal workflow id of the task's run.
    pub temporal_workflow_id: Option<String>,
    /// The form its response must satisfy.
    pub form_schema: Option<Value>,
}
