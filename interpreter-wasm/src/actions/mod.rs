//! Built-in actions implemented once, for the interpreter and the host alike
//! (dsl-semantics §15.1 and §15.5).
//!
//! Pure transforms (`transform.*`) run inside the interpreter: they cost no history events and
//! need no activity. The `test.*` doubles stand in for side-effecting actions, so they run as
//! activities; the host calls [`run_test_double`] from its activity executor.

mod input;
mod regex;
mod testing;
mod text;
mod values;

pub use input::ActionInput;
pub use testing::{run_test_double, sleep_ms as test_sleep_ms};

use serde_json::Value;

use crate::error::{Failure, category};

/// Facts an action may read about the invocation.
#[derive(Debug, Clone)]
pub struct ActionContext<'a> {
    /// The run.
    pub run_id: &'a str,
    /// The tenant, if any.
    pub tenant_id: Option<&'a str>,
    /// The `action.call` step's path.
    pub step_path: &'a str,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The invocation's ledger key.
    pub idempotency_key: &'a str,
}

/// An action this build implements.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinAction {
    /// Action id.
    pub id: &'static str,
    /// Version.
    pub version: u32,
    /// Runs inside the interpreter (no side effects, deterministic).
    pub pure: bool,
    /// Input fields the action cannot run without (`MISSING_REQUIRED_MAPPING` when unmapped).
    pub required: &'static [&'static str],
}

const fn pure(id: &'static str) -> BuiltinAction {
    BuiltinAction {
        id,
        version: 1,
        pure: true,
        required: &[],
    }
}

const fn pure_requiring(id: &'static str, required: &'static [&'static str]) -> BuiltinAction {
    BuiltinAction {
        id,
        version: 1,
        pure: true,
        required,
    }
}

const fn activity(id: &'static str) -> BuiltinAction {
    BuiltinAction {
        id,
        version: 1,
        pure: false,
        required: &[],
    }
}

/// Every built-in action.
pub const BUILTIN_ACTIONS: &[BuiltinAction] = &[
    pure_requiring("transform.parse_json", &["source"]),
    pure_requiring("transform.query_json", &["expression"]),
    pure("transform.stringify_json"),
    pure_requiring("transform.regex_match", &["pattern"]),
    pure_requiring("transform.regex_extract", &["pattern"]),
    pure_requiring("transform.regex_replace", &["pattern", "replacement"]),
    pure_requiring("transform.truncate_text", &["maxLength"]),
    pure("transform.concat_text"),
    pure_requiring("transform.replace_text", &["search"]),
    pure_requiring("transform.split_text", &["delimiter"]),
    pure("transform.join_text"),
    pure("transform.lowercase_text"),
    pure("transform.uppercase_text"),
    pure("transform.trim_text"),
    pure("transform.coalesce_value"),
    pure("transform.build_object"),
    pure("transform.pick_fields"),
    pure("transform.rename_fields"),
    pure("transform.append_array"),
    pure("transform.build_array"),
    activity("test.echo"),
    activity("test.fail"),
    activity("test.retryable"),
    activity("test.sideEffect"),
    activity("test.sleep"),
    activity("test.actionProvided"),
];

/// Looks up a built-in action.
pub fn builtin(id: &str, version: u32) -> Option<&'static BuiltinAction> {
    BUILTIN_ACTIONS
        .iter()
        .find(|a| a.id == id && a.version == version)
}

/// Runs a pure transform. `query` evaluates `transform.query_json`'s expression (it needs the
/// interpreter's expression engine and the step's context). `None` when `id@version` is not a
/// pure built-in.
pub fn run_pure(
    id: &str,
    version: u32,
    input: &Value,
    query: &mut dyn FnMut(&str, &Value) -> Result<Value, Failure>,
) -> Option<Result<Value, Failure>> {
    if version != 1 {
        return None;
    }
    let input = ActionInput::new(id, input);
    Some(match id {
        "transform.parse_json" => values::parse_json(&input),
        "transform.query_json" => values::query_json(&input, query),
        "transform.stringify_json" => values::stringify_json(&input),
        "transform.regex_match" => regex::regex_match(&input),
        "transform.regex_extract" => regex::regex_extract(&input),
        "transform.regex_replace" => regex::regex_replace(&input),
        "transform.truncate_text" => text::truncate(&input),
        "transform.concat_text" => text::concat(&input),
        "transform.replace_text" => text::replace(&input),
        "transform.split_text" => text::split(&input),
        "transform.join_text" => text::join(&input),
        "transform.lowercase_text" => text::map(&input, |s| s.to_lowercase()),
        "transform.uppercase_text" => text::map(&input, |s| s.to_uppercase()),
        "transform.trim_text" => text::map(&input, |s| s.trim().to_owned()),
        "transform.coalesce_value" => values::coalesce_value(&input),
        "transform.build_object" => values::build_object(&input),
        "transform.pick_fields" => values::pick_fields(&input),
        "transform.rename_fields" => values::rename_fields(&input),
        "transform.append_array" => values::append_array(&input),
        "transform.build_array" => values::build_array(&input),
        _ => return None,
    })
}

/// An action failure with category `ActionError`.
pub(crate) fn action_error(message: impl Into<String>) -> Failure {
    Failure::new(category::ACTION, message)
}
