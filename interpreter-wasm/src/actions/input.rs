//! Reading an action's input with defaults, reporting bad fields as `ValidationError`.

use serde_json::{Map, Value, json};

use crate::error::{Failure, category};
use crate::expr::js_string;

/// An action's input object.
pub struct ActionInput<'a> {
    action: &'a str,
    fields: Option<&'a Map<String, Value>>,
}

impl<'a> ActionInput<'a> {
    /// Wraps the input of `action`.
    pub fn new(action: &'a str, input: &'a Value) -> Self {
        ActionInput {
            action,
            fields: input.as_object(),
        }
    }

    /// A field, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.fields?.get(key).filter(|v| !v.is_null())
    }

    /// A `ValidationError` naming the field.
    pub fn invalid(&self, key: &str, expected: &str) -> Failure {
        Failure::new(
            category::VALIDATION,
            format!("{}: input `{key}` must be {expected}", self.action),
        )
        .with_code("VALIDATION_ERROR")
        .with_details(json!({"field": key}))
    }

    /// Text coerced like `String(v)`; null or missing is `''`.
    pub fn text(&self, key: &str) -> String {
        self.get(key).map(js_string).unwrap_or_default()
    }

    /// A required string.
    pub fn required_str(&self, key: &str) -> Result<&'a str, Failure> {
        self.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.invalid(key, "a string"))
    }

    /// An optional string with a default.
    pub fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str, Failure> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.invalid(key, "a string")),
        }
    }

    /// An optional boolean with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, Failure> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.invalid(key, "a boolean")),
        }
    }

    /// An optional integer in `min..=max` with a default.
    pub fn int_or(&self, key: &str, default: u64, min: u64, max: u64) -> Result<u64, Failure> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| self.invalid(key, &format!("an integer from {min} to {max}"))),
        }
    }

    /// A required integer in `min..=max`.
    pub fn required_int(&self, key: &str, min: u64, max: u64) -> Result<u64, Failure> {
        self.get(key)
            .and_then(Value::as_u64)
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.invalid(key, &format!("an integer from {min} to {max}")))
    }

    /// An optional array (default empty).
    pub fn array(&self, key: &str) -> Result<&'a [Value], Failure> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.invalid(key, "an array")),
        }
    }
}
