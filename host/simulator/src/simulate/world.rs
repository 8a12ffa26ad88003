//! The scripted world: what each activity does in a simulation. Scripted results win (by step
//! id, then by `actionId@version`), then the built-in implementations.

use std::collections::BTreeMap;

use alga_protocol::protocol::{ActivityKind, ActivityOutcome, ActivityRequest};
use serde_json::{Value, json};

use super::scenario::Scenario;
use crate::actions::BuiltinActions;
use crate::stand_ins::ScriptedResult;

/// The world a simulated run talks to. It is plain data, so a continue-as-new point can keep a
/// copy and resume from it.
#[derive(Clone)]
pub struct World {
    consumed: BTreeMap<String, usize>,
    builtins: BuiltinActions,
    tasks_created: u32,
}

impl Default for World {
    fn default() -> Self {
        World {
            consumed: BTreeMap::new(),
            // The simulator is where the `test.*` doubles belong.
            builtins: BuiltinActions::new(true),
            tasks_created: 0,
        }
    }
}

impl World {
    /// Executes an activity. `None` means a cancellation request arrives while it runs.
    pub fn execute(
        &mut self,
        scenario: &Scenario,
        request: &ActivityRequest,
        now_ms: i64,
    ) -> Option<ActivityOutcome> {
        match &request.kind {
            ActivityKind::Action(invocation) => {
                let version_key = format!("{}@{}", invocation.action_id, invocation.action_version);
                let script_key = [invocation.step_id.as_str(), version_key.as_str()]
                    .into_iter()
                    .find(|key| scenario.actions.contains_key(*key));
                if let Some(key) = script_key {
                    let results = &scenario.actions[key];
                    let used = self.consumed.entry(key.to_owned()).or_insert(0);
                    let result = results[(*used).min(results.len() - 1)].clone();
                    *used += 1;
                    return match result {
                        ScriptedResult::Output(output) => Some(ActivityOutcome::Completed(output)),
                        ScriptedResult::Error(failure) => Some(ActivityOutcome::Failed(failure)),
                        ScriptedResult::Cancel => None,
                    };
                }
                let tenant = Some(scenario.tenant_id.as_str());
                Some(
                    match self
                        .builtins
                        .run(invocation, tenant, &scenario.run_id, now_ms)
                    {
                        Ok(output) => ActivityOutcome::Completed(output),
                        Err(failure) => ActivityOutcome::Failed(failure),
                    },
                )
            }
            ActivityKind::CreateHumanTask(task) => {
                self.tasks_created += 1;
                let form_schema = scenario
                    .task_types
                    .get(&task.task_type)
                    .and_then(|t| t.get("formSchema"))
                    .cloned()
                    .unwrap_or(Value::Null);
                Some(ActivityOutcome::Completed(json!({
                    "taskId": format!("task-{}", self.tasks_created),
                    "formSchema": form_schema,
                })))
            }
        }
    }
}
