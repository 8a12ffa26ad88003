//! Jobs in, commands out: the native mirror of `wit/interpreter.wit`.
//!
//! The component layer converts between these and the WIT types one to one, so the same
//! library runs natively (tests, fuzzing, benchmarks) and inside the component.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::RetryPolicy;
use crate::error::{Failure, RuntimeError};

/// One activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activation {
    /// Workflow time, ms since the epoch.
    pub workflow_time_ms: i64,
    /// Replaying history.
    pub is_replaying: bool,
    /// Events in history so far.
    pub history_length: u32,
    /// Bytes of history so far.
    pub history_size_bytes: u64,
    /// Temporal suggests continue-as-new.
    pub continue_as_new_suggested: bool,
    /// The jobs, in delivery order.
    pub jobs: Vec<Job>,
}

/// The start (or continue-as-new) input of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStart {
    /// Run id.
    pub run_id: String,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Workflow id.
    pub workflow_id: String,
    /// Pinned version.
    pub workflow_version: u32,
    /// Pinned definition.
    pub definition: Value,
    /// `blake3:<hex>` of the canonical definition.
    pub definition_hash: String,
    /// Semantics the run pinned.
    pub runtime_semantics_version: String,
    /// Input payload.
    #[serde(default)]
    pub payload: Value,
    /// Trigger type.
    #[serde(default)]
    pub trigger_type: Option<String>,
    /// Launch identity.
    #[serde(default)]
    pub execution_key: String,
    /// Initial meta.
    #[serde(default)]
    pub meta: Option<Value>,
    /// Actions forced to run as activities.
    #[serde(default)]
    pub activity_actions: Vec<String>,
    /// Continue-as-new checkpoint.
    #[serde(default)]
    pub checkpoint: Option<Value>,
    /// Continue as new after this many history events (0: only when Temporal suggests it).
    #[serde(default)]
    pub continue_as_new_after_events: u32,
    /// Continue as new after this many bytes of history (0: no byte threshold).
    #[serde(default)]
    pub continue_as_new_after_bytes: u64,
    /// The host runs the authored retries of `action.call` activities with its own retry
    /// policy (Temporal's): the interpreter hands the policy over and sees only the last attempt.
    #[serde(default)]
    pub host_retries: bool,
    /// The run id whose ledger keys this run's actions use (a redrive reuses the failed run's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_scope: Option<String>,
}

impl RunStart {
    /// A run of `workflow_id` at `workflow_version`, pinned to `definition` (its hash computed
    /// here) and to this interpreter's semantics, with `payload` and every other field at its
    /// default: no tenant, trigger, meta or checkpoint, no continue-as-new threshold, the
    /// interpreter running its own retries. Callers set what their launch adds with struct
    /// update syntax.
    pub fn pinned(
        run_id: impl Into<String>,
        workflow_id: impl Into<String>,
        workflow_version: u32,
        definition: Value,
        payload: Value,
    ) -> RunStart {
        RunStart {
            run_id: run_id.into(),
            tenant_id: None,
            workflow_id: workflow_id.into(),
            workflow_version,
            definition_hash: crate::canonical::definition_hash(&definition),
            definition,
            runtime_semantics_version: crate::RUNTIME_SEMANTICS_VERSION.into(),
            payload,
            trigger_type: None,
            execution_key: String::new(),
            meta: None,
            activity_actions: Vec::new(),
            checkpoint: None,
            continue_as_new_after_events: 0,
            continue_as_new_after_bytes: 0,
            host_retries: false,
            ledger_scope: None,
        }
    }

    /// The run's system fields as a parent's `childRun.system` reads them: the host adds them
    /// to a finished child's result, beside its scopes.
    pub fn system_fields(&self) -> Value {
        serde_json::json!({
            "runId": self.run_id,
            "workflowId": self.workflow_id,
            "workflowVersion": self.workflow_version,
            "tenantId": self.tenant_id,
            "definitionHash": self.definition_hash,
            "runtimeSemanticsVersion": self.runtime_semantics_version,
        })
    }
}

/// The field of a finished run's result (as its host reports it to a parent) that carries the
/// run's [`RunStart::system_fields`], beside its scopes; `childRun.system` and `childRun.meta`
/// read it.
pub const RESULT_SYSTEM_FIELDS: &str = "system";

/// How an activity ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActivityOutcome {
    /// With this output.
    Completed(Value),
    /// With this failure.
    Failed(Failure),
    /// Cancelled.
    Cancelled,
}

/// How a child ended.
pub type ChildOutcome = ActivityOutcome;

/// A unit of work for the interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Job {
    /// Start the run.
    Start(Box<RunStart>),
    /// Timer `seq` fired.
    TimerFired(u32),
    /// Activity `seq` ended.
    ActivityResolved {
        /// Sequence number.
        seq: u32,
        /// Outcome.
        outcome: ActivityOutcome,
        /// The attempt that produced the outcome, when the host ran the retries.
        #[serde(default)]
        attempt: Option<u32>,
    },
    /// Child `seq` ended.
    ChildResolved {
        /// Sequence number.
        seq: u32,
        /// Outcome.
        outcome: ChildOutcome,
    },
    /// A signal.
    Signal {
        /// Signal name.
        name: String,
        /// Argument.
        payload: Value,
    },
    /// A query.
    Query {
        /// Query id.
        id: String,
        /// Query name.
        name: String,
        /// Arguments.
        args: Value,
    },
    /// An update.
    Update {
        /// Update id.
        id: String,
        /// Update name.
        name: String,
        /// Arguments.
        args: Value,
        /// Validate first.
        run_validator: bool,
    },
    /// Cancellation requested.
    CancelRequested(String),
}

/// An action attempt to run as an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionInvocation {
    /// Step path.
    pub step_path: String,
    /// Step id.
    pub step_id: String,
    /// Action id.
    pub action_id: String,
    /// Action version.
    pub action_version: u32,
    /// Attempt, from 1.
    pub attempt: u32,
    /// Resolved input (secret references left in place).
    pub input: Value,
    /// Ledger key.
    pub idempotency_key: String,
    /// The step's config as authored.
    pub step_config: Value,
}

/// A human task to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HumanTaskRequest {
    /// Step path.
    pub step_path: String,
    /// Task type.
    pub task_type: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Context data.
    pub context_data: Value,
}

/// What an activity does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActivityKind {
    /// Run an action.
    Action(ActionInvocation),
    /// Create a human task.
    CreateHumanTask(HumanTaskRequest),
}

/// An activity to schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRequest {
    /// Sequence number its resolution carries.
    pub seq: u32,
    /// What to do.
    pub kind: ActivityKind,
    /// Retries Temporal may run itself.
    pub retry: Option<RetryPolicy>,
}

/// A child workflow to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildRequest {
    /// Sequence number.
    pub seq: u32,
    /// Parent step.
    pub step_path: String,
    /// Child workflow id.
    pub workflow_id: String,
    /// Child version.
    pub workflow_version: u32,
    /// Child payload.
    pub payload: Value,
    /// Stable child identity across retries.
    pub child_key: String,
}

/// The answer to an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UpdateResponse {
    /// Accepted.
    Accepted,
    /// Rejected.
    Rejected(Failure),
    /// Completed.
    Completed(Value),
}

/// Step statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepStatus {
    /// Started.
    Started,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Canceled.
    Canceled,
    /// Waiting.
    Waiting,
}

/// Wait kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitKind {
    /// event.wait.
    Event,
    /// time.wait.
    Time,
    /// human.task.
    Human,
}

/// Wait statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaitStatus {
    /// Open.
    Waiting,
    /// Resolved.
    Resolved,
    /// Timed out.
    Timeout,
    /// Canceled.
    Canceled,
}

/// A projection record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "event")]
pub enum RunEvent {
    /// A step started.
    #[serde(rename_all = "camelCase")]
    StepStarted {
        /// Path.
        path: String,
        /// Executions of this path so far in the run, this one included (projections key
        /// their rows by path and execution).
        #[serde(default)]
        execution: u32,
        /// Step id.
        step_id: String,
        /// Step type.
        step_type: String,
        /// Attempt.
        attempt: u32,
    },
    /// A step reached a status.
    #[serde(rename_all = "camelCase")]
    StepFinished {
        /// Path.
        path: String,
        /// Executions of this path so far in the run, this one included (projections key
        /// their rows by path and execution).
        #[serde(default)]
        execution: u32,
        /// Status.
        status: StepStatus,
        /// Attempts it took.
        attempt: u32,
        /// The error, for failures and handled failures.
        error: Option<RuntimeError>,
    },
    /// A wait opened.
    #[serde(rename_all = "camelCase")]
    WaitOpened {
        /// Path.
        path: String,
        /// Executions of this path so far in the run, this one included (projections key
        /// their rows by path and execution).
        #[serde(default)]
        execution: u32,
        /// Kind.
        kind: WaitKind,
        /// Event name.
        event_name: Option<String>,
        /// Correlation key.
        correlation_key: Option<String>,
        /// Due time.
        due_at: Option<String>,
        /// Human task id.
        task_id: Option<String>,
    },
    /// A wait closed.
    #[serde(rename_all = "camelCase")]
    WaitClosed {
        /// Path.
        path: String,
        /// Executions of this path so far in the run, this one included (projections key
        /// their rows by path and execution).
        #[serde(default)]
        execution: u32,
        /// Kind.
        kind: WaitKind,
        /// Status.
        status: WaitStatus,
    },
    /// An action attempt ended.
    #[serde(rename_all = "camelCase")]
    ActionAttempted {
        /// Step path.
        step_path: String,
        /// Action id.
        action_id: String,
        /// Version.
        action_version: u32,
        /// Attempt.
        attempt: u32,
        /// Input.
        input: Value,
        /// Ledger key.
        idempotency_key: String,
        /// Ran inline.
        inline: bool,
        /// Failure, if it failed.
        error: Option<Failure>,
    },
}

/// A command for the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Command {
    /// Start a timer.
    #[serde(rename_all = "camelCase")]
    StartTimer {
        /// Sequence.
        seq: u32,
        /// Duration.
        duration_ms: u64,
    },
    /// Cancel a timer.
    CancelTimer {
        /// Sequence.
        seq: u32,
    },
    /// Schedule an activity.
    ScheduleActivity(ActivityRequest),
    /// Cancel an activity.
    RequestCancelActivity {
        /// Sequence.
        seq: u32,
    },
    /// Start a child.
    StartChild(ChildRequest),
    /// Cancel a child.
    CancelChild {
        /// Sequence.
        seq: u32,
    },
    /// Answer a query.
    RespondQuery {
        /// Query id.
        id: String,
        /// Answer or error text.
        answer: Result<Value, String>,
    },
    /// Answer an update.
    RespondUpdate {
        /// Update id.
        id: String,
        /// Response.
        response: UpdateResponse,
    },
    /// The run succeeded.
    CompleteRun {
        /// Final scopes.
        result: Value,
    },
    /// The run failed.
    FailRun {
        /// Why.
        error: RuntimeError,
    },
    /// The run was cancelled.
    CancelRun,
    /// Continue as new.
    ContinueAsNew(Box<RunStart>),
    /// A projection record.
    Record(RunEvent),
}
