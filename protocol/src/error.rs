//! Runtime errors as the workflow language sees them (dsl-semantics §7).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Error categories the interpreter produces itself. Activities may report others.
pub mod category {
    /// An action (or the interpreter on its behalf) failed.
    pub const ACTION: &str = "ActionError";
    /// A JSONata expression failed to compile or evaluate, or gave an unusable result.
    pub const EXPRESSION: &str = "ExpressionError";
    /// A malformed configuration or response.
    pub const VALIDATION: &str = "ValidationError";
    /// A wait timed out.
    pub const TIMEOUT: &str = "TimeoutError";
    /// A child workflow failed.
    pub const CHILD_WORKFLOW: &str = "ChildWorkflowError";
    /// A transient failure an action reported.
    pub const TRANSIENT: &str = "TransientError";
    /// The run was cancelled (never catchable).
    pub const CANCELLATION: &str = "Cancellation";
    /// The interpreter's state and the definition disagree (never catchable).
    pub const CORRUPTION: &str = "InterpreterCorruption";
    /// The interpreter's instance trapped, or ran out of its fuel or memory: the host ends the
    /// run with it (the interpreter never sees it, so nothing can catch it). Deterministic: the
    /// same history traps at the same point on every replay.
    pub const INTERPRETER_TRAP: &str = "InterpreterTrap";
}

/// A failure without a location: what an action, expression or check reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// `ActionError`, `ExpressionError`, `ValidationError`, `TimeoutError`, ...
    pub category: String,
    /// Human-readable text.
    pub message: String,
    /// Machine-readable code, e.g. `INTERNAL_ERROR` or a JSONata code such as `T2010`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Structured details (JSON), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<Value>>,
}

impl Failure {
    /// A failure with a category and message only.
    pub fn new(category: &str, message: impl Into<String>) -> Self {
        Failure {
            category: category.to_owned(),
            message: message.into(),
            code: None,
            details: None,
        }
    }

    /// Sets the code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Locates the failure at a step and a time.
    pub fn at(self, node_path: &str, at: &str) -> RuntimeError {
        RuntimeError {
            failure: self,
            node_path: node_path.to_owned(),
            at: at.to_owned(),
        }
    }

    /// Whether no handler may catch this failure.
    pub fn is_uncatchable(&self) -> bool {
        self.category == category::CANCELLATION || self.category == category::CORRUPTION
    }
}

/// A located failure: the `error` scope's shape `{category, message, nodePath, at, code?, details?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeError {
    /// What failed.
    #[serde(flatten)]
    pub failure: Failure,
    /// Step path, e.g. `root.steps[2].then.steps[0]`.
    pub node_path: String,
    /// Workflow time of the failure, ISO-8601 UTC.
    pub at: String,
}

impl RuntimeError {
    /// The error as a JSON object, as expressions see it in `error` and `captureErrorAs`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
