//! Queries: read-only answers about the run (dsl-semantics §9.6).

use serde_json::{Value, json};

use super::protocol::Command;
use super::run::Run;

/// `workflowRuntimeV2CurrentStep`.
pub const CURRENT_STEP: &str = "workflowRuntimeV2CurrentStep";
/// `workflowRuntimeV2CurrentWait`.
pub const CURRENT_WAIT: &str = "workflowRuntimeV2CurrentWait";
/// `workflowRuntimeV2Scopes`: the run's scopes (payload, vars, meta, error).
pub const SCOPES: &str = "workflowRuntimeV2Scopes";
/// `workflowRuntimeV2InterpreterSummary`.
pub const INTERPRETER_SUMMARY: &str = "workflowRuntimeV2InterpreterSummary";

impl Run {
    /// Answers a query with a `respond-query` command.
    pub fn answer_query(&mut self, id: String, name: &str, _args: &Value) {
        let current = if self.finished {
            None
        } else {
            self.current_path()
        };
        let answer = match name {
            CURRENT_STEP => Ok(json!({"runId": self.start.run_id, "currentStepPath": current})),
            CURRENT_WAIT => Ok(Value::Null),
            INTERPRETER_SUMMARY => Ok(json!({
                "runId": self.start.run_id,
                "stepCount": self.state.step_count,
                "currentStepPath": current,
                "frameDepth": self.state.frames.len(),
                "historyLength": self.facts.history_length,
                "continueAsNewSuggested": self.facts.continue_as_new_suggested,
                "finished": self.finished,
            })),
            SCOPES => Ok(self.state.scopes.result()),
            other => Err(format!(
                "unknown query `{other}` (known: {CURRENT_STEP}, {CURRENT_WAIT}, {INTERPRETER_SUMMARY}, {SCOPES})"
            )),
        };
        self.out.push(Command::RespondQuery { id, answer });
    }
}
