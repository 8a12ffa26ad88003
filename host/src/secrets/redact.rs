//! Scrubbing resolved secret values out of what an action returns.
//!
//! An action, ours or a buggy product action, may echo its input, put it in an error message or
//! encode it. Whatever it returns goes to the ledger, Temporal's history, the read model, the
//! API and logs, so the activity replaces each value it resolved, and its common encodings (the
//! exact text, JSON-escaped, base64 in its four alphabets), by `[secret:NAME]` before anything
//! else sees the result. A value transformed beyond these (upper-cased, hashed, split) is not
//! recognised: actions receive plaintext and must not return it.

use alga_protocol::error::Failure;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

/// Replaces resolved secret values by `[secret:NAME]`.
#[derive(Default)]
pub struct Redactor {
    /// (text to find, replacement), longest first so an encoding that contains another is
    /// replaced whole.
    needles: Vec<(String, String)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("needles", &self.needles.len())
            .finish()
    }
}

impl Redactor {
    /// Adds secret `name` with `value`.
    pub fn add(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let replacement = format!("[secret:{name}]");
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned();
        let bytes = value.as_bytes();
        let encodings = [
            value.to_owned(),
            escaped,
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
        ];
        for needle in encodings {
            if !needle.is_empty() && !self.needles.iter().any(|(n, _)| *n == needle) {
                self.needles.push((needle, replacement.clone()));
            }
        }
        self.needles
            .sort_by_key(|(needle, _)| std::cmp::Reverse(needle.len()));
    }

    /// Whether nothing was resolved (the common case: nothing to scan).
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (needle, replacement) in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), replacement);
            }
        }
        out
    }

    /// `value` with every secret replaced, in strings and object keys alike.
    pub fn value(&self, value: Value) -> Value {
        if self.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k), self.value(v)))
                    .collect::<Map<_, _>>(),
            ),
            // A number or boolean that spells a secret is left alone: its type is the action's
            // contract, and a secret that is a bare number is no secret.
            other => other,
        }
    }

    /// `failure` with every secret replaced in its message, code and details.
    pub fn failure(&self, mut failure: Failure) -> Failure {
        if self.is_empty() {
            return failure;
        }
        failure.category = self.text(&failure.category);
        failure.message = self.text(&failure.message);
        failure.code = failure.code.map(|c| self.text(&c));
        failure.details = failure.details.map(|d| Box::new(self.value(*d)));
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_common_encoding_is_replaced() {
        let mut redactor = Redactor::default();
        let secret = "p\"a/ss+wörd?";
        redactor.add("smtp", secret);
        let json_escaped = serde_json::to_string(secret).unwrap();
        let output = json!({
            "plain": format!("token {secret} end"),
            "json": format!("{{\"v\":{json_escaped}}}"),
            "b64": STANDARD.encode(secret),
            "b64url": URL_SAFE_NO_PAD.encode(secret),
            secret: [secret],
            "n": 3,
        });
        let redacted = redactor.value(output).to_string();
        assert!(!redacted.contains("ss+w"), "{redacted}");
        assert!(
            !redacted.contains(&STANDARD_NO_PAD.encode(secret)),
            "{redacted}"
        );
        assert!(
            !redacted.contains(&URL_SAFE_NO_PAD.encode(secret)),
            "{redacted}"
        );
        assert!(redacted.contains("token [secret:smtp] end"), "{redacted}");

        let failure = Failure::new("ActionError", format!("bad {secret}"))
            .with_details(json!({"echo": secret}));
        let failure = redactor.failure(failure);
        assert_eq!(failure.message, "bad [secret:smtp]");
        assert_eq!(failure.details.unwrap()["echo"], "[secret:smtp]");
    }
}
