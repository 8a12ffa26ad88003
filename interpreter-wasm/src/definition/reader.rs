//! Strict reading of JSON objects that records every problem with its path.

use serde_json::{Map, Value};

pub use alga_protocol::issue::{Issue, Severity};

/// The schema error code.
pub const SCHEMA: &str = "INVALID_WORKFLOW_DEFINITION";

/// Joins a field path and a key: `steps[0]` + `type` → `steps[0].type`.
pub fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a field path and an index: `steps` + 0 → `steps[0]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Names a JSON value's type for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON object being read field by field, under an error code (the schema code, or a more
/// specific one such as `INVALID_CONFIG`).
pub struct Obj<'a> {
    /// The fields.
    pub map: &'a Map<String, Value>,
    /// Field path of the object.
    pub path: String,
    /// The code its problems carry.
    pub code: &'static str,
}

impl<'a> Obj<'a> {
    /// Reads `value` as an object, or records that it is not one.
    pub fn new(
        value: &'a Value,
        path: &str,
        code: &'static str,
        issues: &mut Vec<Issue>,
    ) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Obj {
                map,
                path: path.to_owned(),
                code,
            }),
            other => {
                issues.push(Issue::error(
                    code,
                    path,
                    format!("expected an object, found {}", type_name(other)),
                ));
                None
            }
        }
    }

    /// Records every key not in `allowed` (the schemas are strict).
    pub fn deny_unknown(&self, allowed: &[&str], issues: &mut Vec<Issue>) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                issues.push(Issue::error(
                    self.code,
                    field(&self.path, key),
                    format!("unknown key `{key}` (allowed: {})", allowed.join(", ")),
                ));
            }
        }
    }

    /// The field path of `key`.
    pub fn at(&self, key: &str) -> String {
        field(&self.path, key)
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn problem(&self, key: &str, message: impl Into<String>, issues: &mut Vec<Issue>) {
        issues.push(Issue::error(self.code, self.at(key), message));
    }

    /// A required non-empty string.
    pub fn required_str(&self, key: &str, issues: &mut Vec<Issue>) -> Option<String> {
        match self.get(key) {
            None => {
                self.problem(key, format!("`{key}` is required"), issues);
                None
            }
            Some(value) => self.str_value(key, value, issues),
        }
    }

    /// An optional non-empty string.
    pub fn optional_str(&self, key: &str, issues: &mut Vec<Issue>) -> Option<String> {
        self.get(key)
            .and_then(|value| self.str_value(key, value, issues))
    }

    fn str_value(&self, key: &str, value: &Value, issues: &mut Vec<Issue>) -> Option<String> {
        match value {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::String(_) => {
                self.problem(key, format!("`{key}` must not be empty"), issues);
                None
            }
            other => {
                self.problem(
                    key,
                    format!("`{key}` must be a string, found {}", type_name(other)),
                    issues,
                );
                None
            }
        }
    }

    /// A required integer ≥ `min` that fits `u64`.
    pub fn required_int(&self, key: &str, min: u64, issues: &mut Vec<Issue>) -> Option<u64> {
        match self.get(key) {
            None => {
                self.problem(key, format!("`{key}` is required"), issues);
                None
            }
            Some(_) => self.optional_int(key, min, issues),
        }
    }

    /// An optional integer ≥ `min`.
    pub fn optional_int(&self, key: &str, min: u64, issues: &mut Vec<Issue>) -> Option<u64> {
        let value = self.get(key)?;
        match value.as_u64() {
            Some(n) if n >= min && n <= (1u64 << 53) => Some(n),
            _ => {
                let what = if min == 0 {
                    "a non-negative integer"
                } else {
                    "a positive integer"
                };
                self.problem(
                    key,
                    format!("`{key}` must be {what}, found {value}"),
                    issues,
                );
                None
            }
        }
    }

    /// An optional boolean.
    pub fn optional_bool(&self, key: &str, issues: &mut Vec<Issue>) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.problem(
                    key,
                    format!("`{key}` must be a boolean, found {}", type_name(other)),
                    issues,
                );
                None
            }
        }
    }

    /// An optional array.
    pub fn optional_array(&self, key: &str, issues: &mut Vec<Issue>) -> Option<&'a Vec<Value>> {
        match self.get(key)? {
            Value::Array(items) => Some(items),
            other => {
                self.problem(
                    key,
                    format!("`{key}` must be an array, found {}", type_name(other)),
                    issues,
                );
                None
            }
        }
    }

    /// One of `choices` (as a string).
    pub fn optional_choice(
        &self,
        key: &str,
        choices: &[&str],
        issues: &mut Vec<Issue>,
    ) -> Option<String> {
        let value = self.get(key)?;
        match value.as_str() {
            Some(s) if choices.contains(&s) => Some(s.to_owned()),
            _ => {
                self.problem(
                    key,
                    format!(
                        "`{key}` must be one of {}, found {value}",
                        choices.join(", ")
                    ),
                    issues,
                );
                None
            }
        }
    }
}
