//! Native execution of the built-in actions, shared by the simulator and the worker's
//! activities: the `test.*` doubles (where enabled), the pure transforms when a run asks for
//! them as activities, and the inbound-email actions the email nodes call
//! (`parse_email_reply@1`, `convert_html_to_blocks@1`), which the product may serve instead.

mod email_reply;
mod html_blocks;
mod html_limits;

pub use email_reply::parse_email_reply;
pub use html_blocks::convert_html_to_blocks;

use alga_interpreter::actions::{self, ActionContext};
use alga_interpreter::expr::Evaluator;
use alga_protocol::error::{Failure, category};
use alga_protocol::protocol::ActionInvocation;
use serde_json::Value;

/// Runs built-in actions; holds the state the `test.sideEffect` double counts.
#[derive(Debug, Clone, Default)]
pub struct BuiltinActions {
    side_effects: u64,
    test_actions: bool,
}

/// Whether `id` is one of the `test.*` doubles, which exist only where the operator enables
/// them (`--test-actions`: development, tests, the simulator).
pub fn is_test_action(id: &str) -> bool {
    id.starts_with("test.")
}

impl BuiltinActions {
    /// Built-in actions, with the `test.*` doubles when `test_actions`.
    pub fn new(test_actions: bool) -> Self {
        BuiltinActions {
            side_effects: 0,
            test_actions,
        }
    }

    /// Runs `invocation`, or says the action is not a built-in.
    pub fn run(
        &mut self,
        invocation: &ActionInvocation,
        tenant_id: Option<&str>,
        run_id: &str,
        now_ms: i64,
    ) -> Result<Value, Failure> {
        let ctx = ActionContext {
            run_id,
            tenant_id,
            step_path: &invocation.step_path,
            attempt: invocation.attempt,
            idempotency_key: &invocation.idempotency_key,
        };
        let (id, version, input) = (
            &invocation.action_id,
            invocation.action_version,
            &invocation.input,
        );
        if let Some(result) = self
            .test_actions
            .then(|| actions::run_test_double(id, version, input, &ctx, &mut self.side_effects))
            .flatten()
        {
            return result;
        }
        let mut expressions = Evaluator::default();
        let mut query = |expression: &str, source: &Value| {
            let context = serde_json::json!({"source": source});
            expressions
                .evaluate(expression, &context, now_ms)
                .map_err(|e| Failure::new(category::EXPRESSION, e.message).with_code(e.code))
        };
        if let Some(result) = actions::run_pure(id, version, input, &mut query) {
            return result;
        }
        match (id.as_str(), version) {
            ("parse_email_reply", 1) => return parse_email_reply(input),
            ("convert_html_to_blocks", 1) => return convert_html_to_blocks(input),
            _ => {}
        }
        Err(Failure::new(
            category::ACTION,
            format!("Unknown action {id}@{version}: no script and no built-in implementation"),
        )
        .with_code("UNKNOWN_ACTION"))
    }
}
