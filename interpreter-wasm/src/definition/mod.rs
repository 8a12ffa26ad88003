//! The workflow definition: the DSL's data model (dsl-semantics §2–4), parsed strictly.
//!
//! [`parse`] turns JSON into a [`Definition`] and collects every schema problem it finds, each
//! with a code, the field path and a message, instead of stopping at the first.

mod email;
mod model;
mod reader;
mod secret_name;
pub(crate) mod steps;

pub use model::*;
pub use reader::{Issue, Severity, type_name as json_type};
pub use secret_name::{MAX_SECRET_NAME_LEN, secret_name_problem};
pub use steps::{DEDICATED_TYPES, NODE_TYPES};

use serde_json::Value;

/// Parses as much of a definition as is well-formed, for checks that report everything at
/// once. `None` only when the document is not an object.
pub fn parse_partial(value: &Value) -> (Option<Definition>, Vec<Issue>) {
    let mut issues = Vec::new();
    let definition = steps::parse_definition(value, &mut issues);
    (definition, issues)
}

/// Parses a definition. Returns the model when the schema holds (`issues` may still carry
/// warnings), or `None` with at least one error issue.
pub fn parse(value: &Value) -> (Option<Definition>, Vec<Issue>) {
    let mut issues = Vec::new();
    let definition = steps::parse_definition(value, &mut issues);
    let ok = !issues.iter().any(|i| i.severity == Severity::Error);
    (definition.filter(|_| ok), issues)
}
