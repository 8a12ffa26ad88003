//! The `test.*` doubles (dsl-semantics §15.5): stand-ins for side-effecting actions that
//! exercise retries, failures and the idempotency ledger. They run as activities.

use serde_json::{Value, json};

use super::{ActionContext, ActionInput, action_error};
use crate::error::Failure;

/// Runs a `test.*` double. `side_effects` counts `test.sideEffect` calls; the host owns it.
/// `None` when `id@version` is not a test double.
pub fn run_test_double(
    id: &str,
    version: u32,
    input: &Value,
    ctx: &ActionContext<'_>,
    side_effects: &mut u64,
) -> Option<Result<Value, Failure>> {
    if version != 1 {
        return None;
    }
    let fields = ActionInput::new(id, input);
    Some(match id {
        "test.echo" => Ok(json!({"value": fields.get("value").cloned().unwrap_or(Value::Null)})),
        "test.fail" => Err(action_error(
            fields
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("forced failure"),
        )
        .with_code("INTERNAL_ERROR")),
        "test.retryable" if ctx.attempt <= 1 => Err(Failure::new(
            crate::error::category::TRANSIENT,
            "test.retryable fails its first attempt",
        )),
        "test.retryable" => Ok(json!({"attempt": ctx.attempt})),
        "test.sideEffect" => {
            *side_effects += 1;
            Ok(json!({"count": *side_effects}))
        }
        // The worker really waits (`ms`, at most two minutes) before answering: a long
        // action, for the tests of heartbeats and ledger leases. Here (the simulator) the
        // wait is virtual.
        "test.sleep" => Ok(json!({"sleptMs": sleep_ms(input)})),
        "test.actionProvided" => Ok(json!({
            "key": format!("{}:{}", ctx.run_id, fields.text("key")),
        })),
        _ => return None,
    })
}

/// How long `test.sleep` waits: its `ms` input, at most two minutes.
pub fn sleep_ms(input: &Value) -> u64 {
    input
        .get("ms")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(120_000)
}
