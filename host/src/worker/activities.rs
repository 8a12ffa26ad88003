//! Activity tasks executed in the worker process: `action.call` attempts (built-in actions run
//! natively) and human-task creation.

use alga_interpreter::error::{Failure, category};
use alga_interpreter::machine::protocol::{ActionInvocation, HumanTaskRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::Start;

use super::convert::failure_to_api;
use super::payload;
use super::{ACTION_ACTIVITY, HUMAN_TASK_ACTIVITY};
use crate::actions::BuiltinActions;

/// The run an activity belongs to (added to every activity argument by the worker).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunFacts {
    run_id: String,
    tenant_id: Option<String>,
}

/// Executes activities; holds the built-in actions' state.
#[derive(Default)]
pub struct Activities {
    builtins: BuiltinActions,
}

impl Activities {
    /// Executes one activity task.
    pub fn execute(&mut self, start: &Start) -> ActivityExecutionResult {
        match self.run(start) {
            Ok(output) => ActivityExecutionResult::ok(payload::encode(&output)),
            Err(failure) => ActivityExecutionResult::fail(failure_to_api(&failure, None)),
        }
    }

    /// The result when the executor's lock was poisoned by a panic.
    pub fn poisoned() -> ActivityExecutionResult {
        ActivityExecutionResult::fail(failure_to_api(
            &Failure::new(
                category::ACTION,
                "the activity executor is unusable after a panic",
            ),
            None,
        ))
    }

    fn run(&mut self, start: &Start) -> Result<Value, Failure> {
        let argument = payload::first(&start.input)
            .map_err(|e| Failure::new(category::VALIDATION, format!("activity input: {e}")))?;
        let facts: RunFacts = serde_json::from_value(argument.clone())
            .map_err(|e| Failure::new(category::VALIDATION, format!("activity input: {e}")))?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        match start.activity_type.as_str() {
            ACTION_ACTIVITY => {
                let invocation: ActionInvocation =
                    serde_json::from_value(argument).map_err(|e| {
                        Failure::new(category::VALIDATION, format!("action invocation: {e}"))
                    })?;
                self.builtins.run(
                    &invocation,
                    facts.tenant_id.as_deref(),
                    &facts.run_id,
                    now_ms,
                )
            }
            HUMAN_TASK_ACTIVITY => {
                let task: HumanTaskRequest = serde_json::from_value(argument)
                    .map_err(|e| Failure::new(category::VALIDATION, format!("human task: {e}")))?;
                let workflow = start
                    .workflow_execution
                    .as_ref()
                    .map(|w| w.workflow_id.clone())
                    .unwrap_or_default();
                Ok(json!({
                    "taskId": format!("{workflow}:{}:{}", task.step_path, start.activity_id),
                    "formSchema": null,
                }))
            }
            other => Err(Failure::new(
                category::ACTION,
                format!("unknown activity type `{other}`"),
            )),
        }
    }
}
