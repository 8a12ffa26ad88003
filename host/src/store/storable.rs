//! Values as PostgreSQL can store them. `text` and `jsonb` refuse the NUL character (U+0000,
//! SQLSTATE 22P05), which JSON and the interpreter allow; a run whose read model could not be
//! written would fail its workflow task on every retry and wedge. So the read model gets NUL
//! written as the six characters `\u0000`; the run's own data (its history in Temporal) keeps
//! the real character, and nothing the run decides depends on the read model.

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Batch;

/// The text NUL becomes in the read model.
const ESCAPED_NUL: &str = "\\u0000";

/// `text` as the read model stores it.
pub fn storable_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ESCAPED_NUL))
    } else {
        Cow::Borrowed(text)
    }
}

/// Rewrites NUL in every string and object key of `value`; whether anything changed.
pub fn escape_nul(value: &mut Value) -> bool {
    match value {
        Value::String(s) if s.contains('\0') => {
            *s = storable_text(s).into_owned();
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| escape_nul(v) | changed),
        Value::Object(map) => {
            let mut changed = false;
            if map.keys().any(|k| k.contains('\0')) {
                let entries = std::mem::take(map);
                *map = entries
                    .into_iter()
                    .map(|(k, v)| (storable_text(&k).into_owned(), v))
                    .collect();
                changed = true;
            }
            map.values_mut()
                .fold(changed, |changed, v| escape_nul(v) | changed)
        }
        _ => false,
    }
}

/// `item` with NUL escaped, when it holds one (through its JSON form).
fn escaped<T: Serialize + DeserializeOwned + Clone>(item: &T) -> Option<T> {
    let mut value = serde_json::to_value(item).ok()?;
    if !escape_nul(&mut value) {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// `batch` as the read model can hold it: borrowed unchanged in the usual case.
pub fn storable_batch(batch: &Batch) -> Cow<'_, Batch> {
    let records = escaped(&batch.records);
    let started = batch.started.as_ref().and_then(escaped);
    let end = match &batch.end {
        Some(super::RunEnd::Failed(error)) => {
            let mut error = error.clone();
            escape_nul(&mut error).then_some(super::RunEnd::Failed(error))
        }
        _ => None,
    };
    if records.is_none() && started.is_none() && end.is_none() {
        return Cow::Borrowed(batch);
    }
    let mut owned = batch.clone();
    if let Some(records) = records {
        owned.records = records;
    }
    if started.is_some() {
        owned.started = started;
    }
    if end.is_some() {
        owned.end = end;
    }
    Cow::Owned(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_escaped_in_strings_and_keys_and_nothing_else_changes() {
        let mut value = json!({"k\u{0}": ["a\u{0}b", 1, null, {"x": "plain"}]});
        assert!(escape_nul(&mut value));
        assert_eq!(
            value,
            json!({"k\\u0000": ["a\\u0000b", 1, null, {"x": "plain"}]})
        );
        let mut clean = json!({"a": ["b", 2]});
        assert!(!escape_nul(&mut clean));
    }
}
