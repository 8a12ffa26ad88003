//! Queries: read-only answers about the run (dsl-semantics §9.6).

use serde_json::{Value, json};

use super::protocol::Command;
use super::run::Run;
use super::state::Pending;
use crate::definition::StepKind;

pub use alga_protocol::names::{CURRENT_STEP, CURRENT_WAIT, INTERPRETER_SUMMARY, SCOPES};

impl Run {
    /// `null`, or `{type, stepPath, descriptor}` for the wait the run is blocked on.
    fn current_wait(&self) -> Value {
        let (Some(pending), Some(path)) = (&self.state.pending, self.current_path()) else {
            return Value::Null;
        };
        let Some(wait_type) = pending.wait_type() else {
            return Value::Null;
        };
        let step = self.position().and_then(|(block, index)| {
            self.definition.as_ref()?.block(&block)?.get(index).cloned()
        });
        let descriptor = match (pending, step.as_ref().map(|s| &s.kind)) {
            (Pending::TimeWait { due_at, mode, .. }, _) => json!({"dueAt": due_at, "mode": mode}),
            (
                Pending::EventWait {
                    correlation_key,
                    timeout_at,
                    ..
                },
                Some(StepKind::EventWait(wait)),
            ) => {
                json!({"eventName": wait.event_name, "correlationKey": correlation_key, "timeoutAt": timeout_at})
            }
            (Pending::HumanTask { task_id, .. }, Some(StepKind::HumanTask(task))) => {
                json!({"taskId": task_id, "taskType": task.task_type})
            }
            (_, Some(StepKind::HumanTask(task))) => {
                json!({"taskId": null, "taskType": task.task_type})
            }
            _ => Value::Null,
        };
        json!({"type": wait_type, "stepPath": path, "descriptor": descriptor})
    }

    /// Answers a query with a `respond-query` command.
    pub fn answer_query(&mut self, id: String, name: &str, _args: &Value) {
        let current = if self.finished {
            None
        } else {
            self.current_path()
        };
        let answer = match name {
            CURRENT_STEP => Ok(json!({"runId": self.start.run_id, "currentStepPath": current})),
            CURRENT_WAIT => Ok(self.current_wait()),
            INTERPRETER_SUMMARY => Ok(json!({
                "runId": self.start.run_id,
                "stepCount": self.state.step_count,
                "currentStepPath": current,
                "frameDepth": self.state.frames.len(),
                "historyLength": self.facts.history_length,
                "continueAsNewSuggested": self.facts.continue_as_new_suggested,
                "bufferedSignals": self.state.signals.len(),
                "signalsDropped": self.state.signals_dropped,
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
