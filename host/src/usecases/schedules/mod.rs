//! Schedules: rows in `tenant_workflow_schedule`, each backed by a Temporal Schedule that
//! starts the run workflow directly. A one-time schedule (`schedule`, `runAt`) is a calendar
//! spec for that exact second; a recurring one (`recurring`, `cron`, `timezone`) is Temporal's
//! cron spec in that timezone (five fields, or `@every <duration>`). Every fire starts one run
//! of the pinned version with the schedule's payload; the run's id comes from the workflow id
//! Temporal gives the fire, so each fire is its own run and a fire can never start twice.
//! Publishing a new version moves the tenant's schedules of that workflow onto it.
//!
//! `sweep` keeps the two sides matched when a process dies between them: a row whose Schedule
//! is missing gets it again, and a Schedule whose row is gone is deleted.

mod sweep;

pub use sweep::SchedulesSwept;

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::types::Json;
use temporalio_client::RpcOptions;
use temporalio_client::schedules::{
    CreateScheduleOptions, DeleteScheduleOptions, PauseScheduleOptions, ScheduleAction,
    ScheduleCalendarSpec, ScheduleError as TemporalError, ScheduleSpec, UnpauseScheduleOptions,
};
use temporalio_common::UntypedWorkflow;
use temporalio_common::data_converters::RawValue;
use thiserror::Error;
use uuid::Uuid;

use crate::store::{ScheduleRow, Store, StoreError};
use crate::usecases::launch::pinned_start;

/// A schedule as a client describes it (create, or the fields an update changes).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleInput {
    /// The workflow (uuid or key); required on create.
    pub workflow_id: Option<String>,
    /// A name.
    pub name: Option<String>,
    /// `schedule` (one time) or `recurring`.
    pub trigger_type: Option<String>,
    /// One-time: when (RFC 3339, in the future).
    pub run_at: Option<String>,
    /// Recurring: five-field cron, or `@every <duration>`.
    pub cron: Option<String>,
    /// Recurring: IANA timezone (default UTC).
    pub timezone: Option<String>,
    /// The payload of every run (a JSON object).
    pub payload: Option<Value>,
    /// False creates it paused.
    pub enabled: Option<bool>,
}

/// Why a schedule operation failed.
#[derive(Debug, Error)]
pub enum ScheduleError {
    /// The input is wrong (names the field).
    #[error("{0}")]
    Invalid(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Temporal refused.
    #[error("Temporal: {0}")]
    Temporal(String),
    /// Temporal already has a Schedule of that id.
    #[error("Temporal already has the schedule: {0}")]
    AlreadyExists(String),
    /// Its payload breaks the payload schema of the version it would start.
    #[error(transparent)]
    Payload(#[from] crate::usecases::payload_schemas::PayloadError),
}

impl From<TemporalError> for ScheduleError {
    fn from(error: TemporalError) -> Self {
        match &error {
            TemporalError::Rpc(status) if status.code() == tonic_code_invalid() => {
                ScheduleError::Invalid(format!(
                    "Temporal refused the schedule: {}",
                    status.message()
                ))
            }
            TemporalError::Rpc(status)
                if status.code() == temporalio_client::tonic::Code::AlreadyExists =>
            {
                ScheduleError::AlreadyExists(status.message().to_owned())
            }
            _ => ScheduleError::Temporal(error.to_string()),
        }
    }
}

fn tonic_code_invalid() -> temporalio_client::tonic::Code {
    temporalio_client::tonic::Code::InvalidArgument
}

/// Schedules over a database and Temporal.
#[derive(Clone, Copy)]
pub struct Scheduler<'a> {
    /// The database.
    pub store: &'a Store,
    /// Temporal.
    pub client: &'a temporalio_client::Client,
    /// The queue fired runs start on.
    pub task_queue: &'a str,
}

/// What Temporal says of a schedule.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporalScheduleState {
    /// Whether the Temporal Schedule is paused.
    pub paused: bool,
    /// When it fires next.
    pub next_fire_times: Vec<chrono::DateTime<chrono::Utc>>,
    /// The runs its last fires started.
    pub recent_runs: Vec<RecentFire>,
    /// How many times it has fired.
    pub action_count: i64,
}

/// A fire and the run it started.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentFire {
    /// The run.
    pub run_id: Uuid,
    /// The time it was scheduled for.
    pub scheduled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What every Temporal Schedule of ours is named with, before the schedule's id.
const TEMPORAL_SCHEDULE_PREFIX: &str = "alga-wf-schedule:";

/// The Temporal Schedule id of a schedule.
pub fn temporal_schedule_id(id: Uuid) -> String {
    format!("{TEMPORAL_SCHEDULE_PREFIX}{id}")
}

impl Scheduler<'_> {
    /// Creates a schedule on the workflow's latest published version.
    pub async fn create(
        &self,
        tenant: Uuid,
        input: ScheduleInput,
    ) -> Result<ScheduleRow, ScheduleError> {
        let workflow = input
            .workflow_id
            .clone()
            .ok_or_else(|| ScheduleError::Invalid("`workflowId` is required".into()))?;
        let pinned = self.store.pinned(Some(tenant), &workflow, None).await?;
        let id = Uuid::new_v4();
        let now = chrono::Utc::now();
        let mut row = ScheduleRow {
            id,
            tenant: Some(tenant),
            workflow_id: pinned.workflow_id,
            workflow_version: pinned.version,
            name: "Workflow schedule".into(),
            trigger_type: String::new(),
            run_at: None,
            cron: None,
            timezone: None,
            payload_json: Json(json!({})),
            enabled: true,
            status: "scheduled".into(),
            runner_schedule_id: Some(temporal_schedule_id(id)),
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        apply(&mut row, input)?;
        // The row first: a Temporal Schedule without its row would fire for ever, unseen and
        // undeletable through the API; a row whose registration failed is taken back.
        self.save(&row).await?;
        if let Err(e) = self.register(&row, true).await {
            if let Err(undo) = self.store.delete_schedule(tenant, id).await {
                tracing::error!(%id, "taking back a schedule Temporal refused: {undo}");
            }
            return Err(e);
        }
        Ok(row)
    }

    /// Stores a schedule's row (`schedule-save` is a test's fault point here).
    async fn save(&self, row: &ScheduleRow) -> Result<(), ScheduleError> {
        fail::fail_point!("schedule-save", |_| Err(ScheduleError::Store(
            StoreError::Database {
                context: "the schedule-save failpoint".into(),
                source: sqlx::Error::PoolTimedOut,
            }
        )));
        Ok(self.store.save_schedule(row).await?)
    }

    /// Changes a schedule's name, timing or payload.
    pub async fn update(
        &self,
        tenant: Uuid,
        id: Uuid,
        input: ScheduleInput,
    ) -> Result<ScheduleRow, ScheduleError> {
        if input.workflow_id.is_some() {
            return Err(ScheduleError::Invalid(
                "`workflowId` cannot change; create a new schedule".into(),
            ));
        }
        let mut row = self.store.get_schedule(tenant, id).await?;
        apply(&mut row, input)?;
        self.register(&row, false).await?;
        self.store.save_schedule(&row).await?;
        Ok(row)
    }

    /// Pauses (`false`) or resumes (`true`) a schedule.
    pub async fn set_enabled(
        &self,
        tenant: Uuid,
        id: Uuid,
        enabled: bool,
    ) -> Result<ScheduleRow, ScheduleError> {
        let mut row = self.store.get_schedule(tenant, id).await?;
        let handle = self.client.get_schedule_handle(temporal_schedule_id(id));
        if enabled {
            handle
                .unpause(
                    Some("resumed through the API"),
                    UnpauseScheduleOptions::default(),
                )
                .await?;
        } else {
            handle
                .pause(
                    Some("paused through the API"),
                    PauseScheduleOptions::default(),
                )
                .await?;
        }
        row.enabled = enabled;
        row.status = if enabled { "scheduled" } else { "paused" }.into();
        self.store.save_schedule(&row).await?;
        Ok(row)
    }

    /// Deletes a schedule and its Temporal Schedule: the row first, so a Schedule left behind
    /// (Temporal away) is an orphan the sweeper deletes, never a row it would bring back.
    pub async fn delete(&self, tenant: Uuid, id: Uuid) -> Result<(), ScheduleError> {
        self.store.get_schedule(tenant, id).await?;
        self.store.delete_schedule(tenant, id).await?;
        self.delete_temporal_schedule(id).await?;
        Ok(())
    }

    /// Deletes the Temporal Schedule of schedule `id`: `false` when Temporal had none.
    async fn delete_temporal_schedule(&self, id: Uuid) -> Result<bool, TemporalError> {
        let deleted = self
            .client
            .get_schedule_handle(temporal_schedule_id(id))
            .delete(DeleteScheduleOptions::default())
            .await;
        match deleted {
            Ok(()) => Ok(true),
            Err(TemporalError::Rpc(status))
                if status.code() == temporalio_client::tonic::Code::NotFound =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The row with what Temporal says: paused, the next fire times, the recent fires' runs.
    pub async fn describe(
        &self,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<(ScheduleRow, TemporalScheduleState), ScheduleError> {
        let row = self.store.get_schedule(tenant, id).await?;
        let description = self
            .client
            .get_schedule_handle(temporal_schedule_id(id))
            .describe(RpcOptions::default())
            .await?;
        let time = |t: SystemTime| chrono::DateTime::<chrono::Utc>::from(t);
        let recent_runs = description
            .recent_actions()
            .into_iter()
            .map(|action| RecentFire {
                run_id: crate::temporal::RunId::of_workflow(&action.workflow_id).row_uuid(),
                scheduled_at: action.schedule_time.map(time),
            })
            .collect();
        let state = TemporalScheduleState {
            paused: description.paused(),
            next_fire_times: description
                .future_action_times()
                .into_iter()
                .map(time)
                .collect(),
            recent_runs,
            action_count: description.action_count(),
        };
        Ok((row, state))
    }

    /// Moves the tenant's schedules of `workflow_id` onto its latest published version and
    /// pauses or resumes them with the workflow; returns the problems (a schedule that cannot
    /// move is marked `failed`). Every path that publishes or pauses a workflow calls it.
    pub async fn reconcile(&self, tenant: Uuid, workflow_id: Uuid) -> Vec<String> {
        let rows = match self.store.list_schedules(tenant, Some(workflow_id)).await {
            Ok(rows) => rows,
            Err(e) => return vec![e.to_string()],
        };
        let mut problems = Vec::new();
        for mut row in rows.into_iter().filter(|r| r.status != "failed") {
            let moved = async {
                let pinned = self
                    .store
                    .pinned(Some(tenant), &workflow_id.to_string(), None)
                    .await?;
                row.workflow_version = pinned.version;
                self.register(&row, false).await?;
                self.store.save_schedule(&row).await?;
                Ok::<_, ScheduleError>(())
            }
            .await;
            if let Err(e) = moved {
                problems.push(format!("schedule {}: {e}", row.id));
                row.status = "failed".into();
                row.enabled = false;
                row.last_error = Some(e.to_string());
                if let Err(e) = self.store.save_schedule(&row).await {
                    problems.push(format!("schedule {}: {e}", row.id));
                }
                // A schedule that cannot follow its workflow stops firing the version it was
                // on: its row says disabled, so Temporal must not fire it either.
                let paused = self
                    .client
                    .get_schedule_handle(temporal_schedule_id(row.id))
                    .pause(
                        Some("failed: it cannot move onto the new version"),
                        PauseScheduleOptions::default(),
                    )
                    .await;
                if let Err(e) = paused {
                    problems.push(format!("schedule {}: pausing it in Temporal: {e}", row.id));
                }
            }
        }
        problems
    }

    /// Checks the tenant's live schedules again after the schema `schema_ref` changed (saved
    /// or removed): each workflow whose latest published version names it is reconciled, so a
    /// schedule whose payload no longer fits is failed and paused with the reason, as when a
    /// new version is published. Returns the problems.
    pub async fn recheck_schema(&self, tenant: Uuid, schema_ref: &str) -> Vec<String> {
        let rows = match self.store.list_schedules(tenant, None).await {
            Ok(rows) => rows,
            Err(e) => return vec![e.to_string()],
        };
        let mut workflows: Vec<Uuid> = rows
            .iter()
            .filter(|r| r.status != "failed")
            .map(|r| r.workflow_id)
            .collect();
        workflows.sort();
        workflows.dedup();
        let mut problems = Vec::new();
        for workflow_id in workflows {
            let pinned = self
                .store
                .pinned(Some(tenant), &workflow_id.to_string(), None)
                .await;
            match pinned {
                Ok(pinned)
                    if crate::usecases::payload_schemas::schema_ref(&pinned.definition)
                        == Some(schema_ref) =>
                {
                    problems.extend(self.reconcile(tenant, workflow_id).await);
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("workflow {workflow_id}: {e}")),
            }
        }
        problems
    }

    /// Creates (`new`) or replaces the Temporal Schedule of `row`: paused when the schedule is
    /// disabled or its workflow is paused (a paused workflow is not started by schedules).
    async fn register(&self, row: &ScheduleRow, new: bool) -> Result<(), ScheduleError> {
        let workflow_paused = self
            .store
            .workflow_paused(row.tenant, row.workflow_id)
            .await?;
        let paused = !row.enabled || workflow_paused;
        let pinned = self
            .store
            .pinned(
                row.tenant,
                &row.workflow_id.to_string(),
                Some(row.workflow_version),
            )
            .await?;
        // Temporal starts each fire with this payload and no one to refuse it to: it must fit
        // the version's schema now (a new version that it does not fit fails the schedule).
        crate::usecases::payload_schemas::check(
            self.store,
            row.tenant,
            &pinned.definition,
            &row.payload_json.0,
        )
        .await?;
        let start = alga_protocol::protocol::RunStart {
            execution_key: format!("schedule:{}", row.id),
            meta: Some(json!({"scheduleId": row.id, "scheduleName": row.name})),
            // Filled in by the worker from each fire's workflow id.
            ..pinned_start(
                String::new(),
                row.tenant,
                pinned,
                row.payload_json.0.clone(),
                Some(row.trigger_type.clone()),
            )
        };
        let input = RawValue::new(vec![crate::temporal::payload::encode(
            &serde_json::to_value(&start).map_err(|e| ScheduleError::Invalid(e.to_string()))?,
        )]);
        let action = ScheduleAction::start_workflow(
            UntypedWorkflow::new(crate::temporal::WORKFLOW_TYPE),
            input,
            self.task_queue,
            crate::temporal::workflow_id(&format!("sched-{}", row.id)),
        );
        let spec = spec(row)?;
        let id = temporal_schedule_id(row.id);
        if new {
            let options = CreateScheduleOptions::builder()
                .action(action)
                .spec(spec)
                .paused(paused)
                .note(format!("alga-wf schedule `{}`", row.name))
                .build();
            self.client.create_schedule(id, options).await?;
        } else {
            self.client
                .get_schedule_handle(id)
                .update(
                    move |update| {
                        update.set_spec(spec).set_action(action).set_paused(paused);
                    },
                    RpcOptions::default(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Applies an input's fields to a row and checks the result.
fn apply(row: &mut ScheduleRow, input: ScheduleInput) -> Result<(), ScheduleError> {
    if let Some(name) = input.name {
        if name.trim().is_empty() {
            return Err(ScheduleError::Invalid("`name` is empty".into()));
        }
        row.name = name;
    }
    if let Some(kind) = input.trigger_type {
        row.trigger_type = kind;
    }
    if let Some(payload) = input.payload {
        if !payload.is_object() {
            return Err(ScheduleError::Invalid(
                "`payload` must be a JSON object".into(),
            ));
        }
        row.payload_json = Json(payload);
    }
    if let Some(enabled) = input.enabled {
        row.enabled = enabled;
        row.status = if enabled { "scheduled" } else { "paused" }.into();
    }
    match row.trigger_type.as_str() {
        "schedule" => {
            if let Some(run_at) = input.run_at {
                let at = chrono::DateTime::parse_from_rfc3339(&run_at).map_err(|e| {
                    ScheduleError::Invalid(format!("`runAt` is not an RFC 3339 time: {e}"))
                })?;
                row.run_at = Some(at.with_timezone(&chrono::Utc));
            }
            match row.run_at {
                Some(at) if at > chrono::Utc::now() => {}
                Some(_) => {
                    return Err(ScheduleError::Invalid(
                        "`runAt` must be in the future".into(),
                    ));
                }
                None => {
                    return Err(ScheduleError::Invalid(
                        "a one-time schedule needs `runAt`".into(),
                    ));
                }
            }
            row.cron = None;
            row.timezone = None;
        }
        "recurring" => {
            if let Some(cron) = input.cron {
                check_cron(&cron)?;
                row.cron = Some(cron);
            }
            if row.cron.is_none() {
                return Err(ScheduleError::Invalid(
                    "a recurring schedule needs `cron`".into(),
                ));
            }
            if let Some(timezone) = input.timezone {
                row.timezone = Some(timezone);
            }
            row.run_at = None;
        }
        other => {
            return Err(ScheduleError::Invalid(format!(
                "`triggerType` must be `schedule` (one time) or `recurring`, found `{other}`"
            )));
        }
    }
    Ok(())
}

/// Five space-separated fields, or `@every <duration>` (Temporal's interval form).
fn check_cron(cron: &str) -> Result<(), ScheduleError> {
    let fields = cron.split_whitespace().count();
    if cron.starts_with("@every ") || fields == 5 {
        Ok(())
    } else {
        Err(ScheduleError::Invalid(format!(
            "`cron` must have five fields (minute hour day-of-month month day-of-week) or be `@every <duration>`; `{cron}` has {fields}"
        )))
    }
}

/// The Temporal spec of a row.
fn spec(row: &ScheduleRow) -> Result<ScheduleSpec, ScheduleError> {
    Ok(match (row.run_at, &row.cron) {
        (Some(at), _) => {
            use chrono::{Datelike, Timelike};
            let calendar = ScheduleCalendarSpec::builder()
                .second(at.second().to_string())
                .minute(at.minute().to_string())
                .hour(at.hour().to_string())
                .day_of_month(at.day().to_string())
                .month(at.month().to_string())
                .year(at.year().to_string())
                .build();
            let mut spec = ScheduleSpec::from_calendar(calendar);
            spec.end_time = Some(SystemTime::from(at) + Duration::from_secs(60));
            spec
        }
        (None, Some(cron)) => ScheduleSpec::builder()
            .cron_strings(vec![cron.clone()])
            .timezone_name(row.timezone.clone().unwrap_or_default())
            .build(),
        (None, None) => {
            return Err(ScheduleError::Invalid(
                "the schedule has neither `runAt` nor `cron`".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_needs_five_fields_or_an_interval() {
        assert!(check_cron("*/5 * * * *").is_ok());
        assert!(check_cron("@every 2s").is_ok());
        assert!(check_cron("* * *").is_err());
    }
}
