//! The names a run answers to in Temporal: its signals, its update and its queries
//! (`persistence-and-api.md` §4; dsl-semantics §9.6–9.7). The host sends and the interpreter
//! receives them, so both read them from here.

/// The signal that delivers an event to a run.
pub const EVENT_SIGNAL: &str = "workflowRuntimeV2Event";
/// The signal that delivers a human-task response (without the update's validation).
pub const HUMAN_TASK_SIGNAL: &str = "workflowRuntimeV2HumanTask";
/// The default event name of a human-task response.
pub const HUMAN_TASK_COMPLETED: &str = "HUMAN_TASK_COMPLETED";
/// The update that submits a human-task response with synchronous validation.
pub const HUMAN_TASK_UPDATE: &str = "workflowRuntimeV2HumanTaskResponse";
/// The code of a response rejected because the run has not yet heard that its task exists.
pub const HUMAN_TASK_NOT_OPEN_YET: &str = "HUMAN_TASK_NOT_OPEN_YET";

/// Query: the step the run is on.
pub const CURRENT_STEP: &str = "workflowRuntimeV2CurrentStep";
/// Query: `null`, or the wait the run is blocked on.
pub const CURRENT_WAIT: &str = "workflowRuntimeV2CurrentWait";
/// Query: the run's scopes (payload, vars, meta, error).
pub const SCOPES: &str = "workflowRuntimeV2Scopes";
/// Query: the interpreter's own counters (steps, buffered and dropped signals, ...).
pub const INTERPRETER_SUMMARY: &str = "workflowRuntimeV2InterpreterSummary";
