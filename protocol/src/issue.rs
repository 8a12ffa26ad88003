//! What a definition check reports (dsl-semantics §13), and the actions a host tells it about.

use serde::Serialize;

/// Severity of a validation issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The definition cannot be published or run.
    Error,
    /// Worth a look; does not block.
    Warning,
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Error or warning.
    #[serde(skip)]
    pub severity: Severity,
    /// `DUPLICATE_STEP_ID`, `INVALID_EXPR`, `INVALID_WORKFLOW_DEFINITION`, ...
    pub code: String,
    /// Step path (`root.steps[0].then.steps[1]`) or field path (`steps[0].concurrency`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Issue {
    /// An error issue.
    pub fn error(code: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Error,
            code: code.to_owned(),
            path: path.into(),
            message: message.into(),
        }
    }

    /// A warning issue.
    pub fn warning(code: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(code, path, message)
        }
    }
}

/// An action the host can run, for `UNKNOWN_ACTION` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAction {
    /// Action id.
    pub id: String,
    /// Version.
    pub version: u32,
}
