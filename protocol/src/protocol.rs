//! Jobs in, commands out: the native mirror of `wit/interpreter.wit`.
//!
//! The component layer converts between these and the WIT types one to one, so the same
//! library runs natively (tests, fuzzing, benchmarks) and inside the component.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Failure, RuntimeError};
use crate::retry::RetryPolicy;

/// One activation: the jobs Temporal delivers together, and facts about the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activation {
    /// Workflow time, milliseconds since the Unix epoch. `nowIso()` reads this.
    pub workflow_time_ms: i64,
    /// Replaying history.
    pub is_replaying: bool,
    /// Events in history so far.
    pub history_length: u32,
    /// Bytes of history so far.
    pub history_size_bytes: u64,
    /// Temporal suggests continuing as new.
    pub continue_as_new_suggested: bool,
    /// The jobs, in delivery order.
    pub jobs: Vec<Job>,
}

/// Everything a run needs to start or to resume after continue-as-new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStart {
    /// The run's id: a uuid for runs the store launched (the Temporal workflow id is derived
    /// from it), the child key for a child, any name for `alga-wf run`.
    pub run_id: String,
    /// The tenant the run belongs to; none for a run outside any tenant (`alga-wf run`).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The workflow's id (its definition's `id`: a uuid or a key).
    pub workflow_id: String,
    /// The published version the run pinned.
    pub workflow_version: u32,
    /// The pinned definition (JSON). It travels with the run so replay needs nothing else.
    pub definition: Value,
    /// `blake3:<hex>` of the definition's canonical JSON; the interpreter checks it.
    pub definition_hash: String,
    /// The semantics version this run pinned at launch.
    pub runtime_semantics_version: String,
    /// The run's input payload (a JSON object).
    #[serde(default)]
    pub payload: Value,
    /// `event`, `schedule`, `recurring`, or none for manual and child runs.
    #[serde(default)]
    pub trigger_type: Option<String>,
    /// What launched it, for idempotency keys and logs: `launch:<runId>`,
    /// `schedule:<scheduleId>`, `simulate-<runId>`, ...
    #[serde(default)]
    pub execution_key: String,
    /// Initial `meta` scope (JSON object), e.g. trigger mapping facts.
    #[serde(default)]
    pub meta: Option<Value>,
    /// Actions (`<actionId>@<version>` or a step id) that must run as activities even when
    /// the interpreter could run them inline. The simulator lists scripted actions here.
    #[serde(default)]
    pub activity_actions: Vec<String>,
    /// The checkpoint a continued-as-new run resumes from (JSON), if any.
    #[serde(default)]
    pub checkpoint: Option<Value>,
    /// Continue as new at the next safe point once history reaches this many events (0: never).
    #[serde(default)]
    pub continue_as_new_after_events: u32,
    /// Continue as new at the next safe point once history reaches this many bytes (0: never).
    #[serde(default)]
    pub continue_as_new_after_bytes: u64,
    /// The host runs the authored retries of `action.call` activities with its own retry
    /// policy (Temporal's): the interpreter hands the policy over and sees only the last attempt.
    #[serde(default)]
    pub host_retries: bool,
    /// The run id whose action ledger keys this run uses: a redrive reuses the keys of the
    /// run it redrives, so actions that run completed are answered from the ledger.
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
        runtime_semantics_version: &str,
    ) -> RunStart {
        RunStart {
            run_id: run_id.into(),
            tenant_id: None,
            workflow_id: workflow_id.into(),
            workflow_version,
            definition_hash: crate::canonical::definition_hash(&definition),
            definition,
            runtime_semantics_version: runtime_semantics_version.into(),
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
    /// The activity's result (JSON).
    Completed(Value),
    /// With this failure.
    Failed(Failure),
    /// Cancelled.
    Cancelled,
}

/// How a child ended.
pub type ChildOutcome = ActivityOutcome;

/// One unit of work delivered to the interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Job {
    /// The first activation of a run (or of a continued-as-new run).
    Start(Box<RunStart>),
    /// A timer started with `start-timer` fired.
    TimerFired(u32),
    /// An activity scheduled with `schedule-activity` ended.
    ActivityResolved {
        /// Sequence number.
        seq: u32,
        /// Outcome.
        outcome: ActivityOutcome,
        /// The attempt that produced the outcome, when the host ran the retries.
        #[serde(default)]
        attempt: Option<u32>,
    },
    /// A child started with `start-child` ended.
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
        /// The signal's argument (JSON).
        payload: Value,
    },
    /// A query.
    Query {
        /// Query id.
        id: String,
        /// Query name.
        name: String,
        /// Arguments (JSON array).
        args: Value,
    },
    /// An update.
    Update {
        /// Update id.
        id: String,
        /// Update name.
        name: String,
        /// Arguments (JSON array).
        args: Value,
        /// Run the validator before accepting (false during replay of an accepted update).
        run_validator: bool,
    },
    /// Cancellation of the run was requested (the reason, if any).
    CancelRequested(String),
}

/// An `action.call` attempt to execute as an activity.
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
    /// The resolved input (JSON). `{"$secret": NAME}` references are left in place for the
    /// activity to resolve, so secrets never enter history.
    pub input: Value,
    /// Ledger key.
    pub idempotency_key: String,
    /// The step's raw config (JSON), for actions that read more than their input.
    pub step_config: Value,
}

/// A human task for the host to create.
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
    /// When set, the host may let Temporal run these retries itself.
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
    /// The child's payload (JSON object).
    pub payload: Value,
    /// Stable identity of the child across retries of the same step execution.
    pub child_key: String,
}

/// The answer to an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UpdateResponse {
    /// Accepted after validation (the update will complete later or in the same activation).
    Accepted,
    /// Rejected by the validator, with the reason.
    Rejected(Failure),
    /// Completed with a result (JSON).
    Completed(Value),
}

/// Terminal and intermediate statuses the projections show.
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

/// A record for the read model (projections and simulator report). Never changes what the
/// run does; the host may batch, deduplicate or drop them during replay.
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
        /// ISO-8601, for time waits and wait timeouts.
        due_at: Option<String>,
        /// Task id for human waits.
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
        /// Ran inside the interpreter (a pure built-in) rather than as an activity.
        inline: bool,
        /// None when the attempt succeeded.
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
    /// The run succeeded with its final scopes (JSON).
    CompleteRun {
        /// Final scopes.
        result: Value,
    },
    /// The run failed.
    FailRun {
        /// Why.
        error: RuntimeError,
    },
    /// The run ends CANCELED after a cancellation request.
    CancelRun,
    /// Continue as new.
    ContinueAsNew(Box<RunStart>),
    /// A projection record.
    Record(RunEvent),
}
