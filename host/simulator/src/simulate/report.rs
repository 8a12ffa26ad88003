//! The simulation report (docs/simulator.md), built from the interpreter's projection records.

use alga_protocol::Issue;
use alga_protocol::error::RuntimeError;
use alga_protocol::protocol::{RunEvent, StepStatus, WaitKind, WaitStatus};
use serde::Serialize;
use serde_json::Value;

/// The run's outcome as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Completed.
    Succeeded,
    /// Failed.
    Failed,
    /// Cancelled.
    Canceled,
    /// Blocked when the stimuli ran out.
    Waiting,
    /// The definition or scenario is invalid.
    Invalid,
}

/// The run's error.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportError {
    /// Category.
    pub category: String,
    /// Message.
    pub message: String,
    /// Step path.
    pub node_path: String,
    /// Code.
    pub code: Option<String>,
    /// Details.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl From<&RuntimeError> for ReportError {
    fn from(e: &RuntimeError) -> Self {
        ReportError {
            category: e.failure.category.clone(),
            message: e.failure.message.clone(),
            node_path: e.node_path.clone(),
            code: e.failure.code.clone(),
            details: e.failure.details.as_deref().cloned(),
        }
    }
}

/// One step start.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepEntry {
    /// Path.
    pub path: String,
    /// Step id.
    pub step_id: String,
    /// Type.
    #[serde(rename = "type")]
    pub step_type: String,
    /// Final status (`SUCCEEDED`, `FAILED`, `CANCELED`, ...).
    #[schema(value_type = String)]
    pub status: StepStatus,
    /// Attempts it took.
    pub attempt: u32,
}

/// One wait.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitEntry {
    /// Kind.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: WaitKind,
    /// Path.
    pub path: String,
    /// Final status.
    #[schema(value_type = String)]
    pub status: WaitStatus,
    /// Event name.
    pub event_name: Option<String>,
    /// Correlation key.
    pub correlation_key: Option<String>,
    /// Due time.
    pub due_at: Option<String>,
    /// Human task id (extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

/// One action attempt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionEntry {
    /// Step path.
    pub step_path: String,
    /// Action id.
    pub action_id: String,
    /// Version.
    pub version: u32,
    /// Attempt.
    pub attempt: u32,
    /// Input.
    #[schema(value_type = Object)]
    pub input: Value,
    /// Ledger key.
    pub idempotency_key: String,
    /// `ok` or `error`.
    pub outcome: &'static str,
    /// Ran inside the interpreter (extension).
    pub inline: bool,
    /// The failure, for `error` outcomes (extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Outcome.
    pub status: RunStatus,
    /// Why the run failed or was cancelled.
    pub error: Option<ReportError>,
    /// Validation errors (INVALID only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<Issue>>,
    /// Validation warnings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub warnings: Option<Vec<Issue>>,
    /// Final scopes.
    #[schema(value_type = Object)]
    pub scopes: Value,
    /// Every step start, in order.
    pub steps: Vec<StepEntry>,
    /// Every wait, in order.
    pub waits: Vec<WaitEntry>,
    /// Every action attempt, in order.
    pub actions: Vec<ActionEntry>,
    /// Virtual time that passed.
    pub virtual_elapsed_ms: u64,
    /// Activations the run took.
    pub activations: u64,
    /// Times the run continued as new (extension).
    #[serde(skip_serializing_if = "is_zero")]
    pub continued_as_new: u32,
    /// Child runs, each with its own report (extension).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildReport>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A child run started by `control.callWorkflow`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChildReport {
    /// The parent step.
    pub step_path: String,
    /// Child workflow id.
    pub workflow_id: String,
    /// Child version.
    pub workflow_version: u32,
    /// Child identity (its run id in the simulation).
    pub child_key: String,
    /// The child's own report.
    #[schema(no_recursion)]
    pub report: Box<Report>,
}

impl Report {
    /// An empty report in progress.
    pub fn new() -> Self {
        Report {
            status: RunStatus::Waiting,
            error: None,
            errors: None,
            warnings: None,
            scopes: Value::Null,
            steps: Vec::new(),
            waits: Vec::new(),
            actions: Vec::new(),
            virtual_elapsed_ms: 0,
            activations: 0,
            continued_as_new: 0,
            children: Vec::new(),
        }
    }

    /// The report of an invalid definition or scenario.
    pub fn invalid(errors: Vec<Issue>, warnings: Vec<Issue>) -> Self {
        Report {
            status: RunStatus::Invalid,
            errors: Some(errors),
            warnings: Some(warnings),
            ..Report::new()
        }
    }

    /// Folds one projection record into the report.
    pub fn record(&mut self, event: RunEvent) {
        match event {
            RunEvent::StepStarted {
                path,
                step_id,
                step_type,
                attempt,
                ..
            } => self.steps.push(StepEntry {
                path,
                step_id,
                step_type,
                status: StepStatus::Started,
                attempt,
            }),
            RunEvent::StepFinished {
                path,
                status,
                attempt,
                ..
            } => {
                if let Some(entry) = self
                    .steps
                    .iter_mut()
                    .rev()
                    // A cancellation also finishes the steps whose blocks were running,
                    // although they were reported when entered.
                    .find(|s| {
                        s.path == path
                            && (s.status == StepStatus::Started || status == StepStatus::Canceled)
                    })
                {
                    entry.status = status;
                    entry.attempt = attempt;
                }
            }
            RunEvent::WaitOpened {
                path,
                kind,
                event_name,
                correlation_key,
                due_at,
                task_id,
                ..
            } => self.waits.push(WaitEntry {
                kind,
                path,
                status: WaitStatus::Waiting,
                event_name,
                correlation_key,
                due_at,
                task_id,
            }),
            RunEvent::WaitClosed { path, status, .. } => {
                if let Some(entry) = self
                    .waits
                    .iter_mut()
                    .rev()
                    .find(|w| w.path == path && w.status == WaitStatus::Waiting)
                {
                    entry.status = status;
                }
            }
            RunEvent::ActionAttempted {
                step_path,
                action_id,
                action_version,
                attempt,
                input,
                idempotency_key,
                inline,
                error,
            } => self.actions.push(ActionEntry {
                step_path,
                action_id,
                version: action_version,
                attempt,
                input,
                idempotency_key,
                outcome: if error.is_some() { "error" } else { "ok" },
                inline,
                error: error.and_then(|e| serde_json::to_value(e).ok()),
            }),
        }
    }

    /// The path of the last step with `status`, or `root`.
    pub fn last_step_path(&self, status: StepStatus) -> String {
        self.steps
            .iter()
            .rev()
            .find(|s| s.status == status)
            .map_or_else(|| "root".into(), |s| s.path.clone())
    }

    /// Steps still open when the run stopped are waiting.
    pub fn close_open_steps(&mut self) {
        for step in &mut self.steps {
            if step.status == StepStatus::Started {
                step.status = StepStatus::Waiting;
            }
        }
    }
}

impl Default for Report {
    fn default() -> Self {
        Report::new()
    }
}
