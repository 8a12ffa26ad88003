//! An event's correlation key: the one the sender named, or else one read from its payload.
//!
//! The product's producers do not all name a key; the reference derives one from payload
//! fields chosen by event name (`persistence-and-api.md` §3, "Correlation"). The same rule
//! serves every way an event comes in (the API, the CLI, the Redis stream), so a run waiting
//! on `ticket-1` is resumed by `TICKET_UPDATED {ticketId: "ticket-1"}` whichever way it came.

use serde_json::Value;
use thiserror::Error;

/// Payload paths tried, by event name. An entry's name is an event name, a prefix ending in
/// `*` (`TICKET_*`), or `*` alone for every event; exact names are tried first, then prefixes
/// (the longest first), then `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationPaths {
    entries: Vec<(String, Vec<String>)>,
}

/// A configuration that is not a JSON object of arrays of dotted paths.
#[derive(Debug, Error)]
#[error("correlation paths: {0}")]
pub struct InvalidPaths(String);

impl Default for CorrelationPaths {
    /// The reference's defaults.
    fn default() -> Self {
        let entry = |name: &str, paths: &[&str]| {
            (
                name.to_owned(),
                paths.iter().map(|p| (*p).to_owned()).collect(),
            )
        };
        CorrelationPaths {
            entries: vec![
                entry("TICKET_*", &["ticketId"]),
                entry("INVOICE_*", &["invoiceId", "clientId"]),
                entry(
                    "*",
                    &[
                        "ticketId",
                        "clientId",
                        "invoiceId",
                        "projectId",
                        "paymentId",
                    ],
                ),
            ],
        }
    }
}

impl CorrelationPaths {
    /// Paths from an operator's JSON, `{"EVENT_OR_PREFIX_*": ["dotted.path", ...]}`, which
    /// replaces the defaults entirely. The reference falls back to its defaults on JSON it
    /// cannot read; a mistyped setting is refused here instead, at start, where the operator
    /// sees it (`docs/divergences.md`).
    pub fn from_json(text: &str) -> Result<CorrelationPaths, InvalidPaths> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| InvalidPaths(format!("not JSON ({e})")))?;
        let Value::Object(map) = value else {
            return Err(InvalidPaths(
                "expected an object of event names to arrays of payload paths".into(),
            ));
        };
        let mut entries = Vec::with_capacity(map.len());
        for (name, paths) in map {
            let paths = paths
                .as_array()
                .and_then(|paths| {
                    paths
                        .iter()
                        .map(|p| p.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| InvalidPaths(format!("`{name}` must be an array of strings")))?;
            entries.push((name, paths));
        }
        Ok(CorrelationPaths { entries })
    }

    /// The key an event is routed by: the explicit one, trimmed, when it is not empty; else
    /// the first value the payload has at this event's paths.
    pub fn key_for(
        &self,
        explicit: Option<&str>,
        event_name: &str,
        payload: &Value,
    ) -> Option<String> {
        if let Some(key) = explicit.map(str::trim).filter(|k| !k.is_empty()) {
            return Some(key.to_owned());
        }
        self.derived_keys(event_name, payload).into_iter().next()
    }

    /// Every key an event is routed by: the explicit one alone, else every value at its paths,
    /// the first as its own key and the rest besides.
    pub fn keys_for(
        &self,
        explicit: Option<&str>,
        event_name: &str,
        payload: &Value,
    ) -> (Option<String>, Vec<String>) {
        if let Some(key) = explicit.map(str::trim).filter(|k| !k.is_empty()) {
            return (Some(key.to_owned()), Vec::new());
        }
        let mut keys = self.derived_keys(event_name, payload).into_iter();
        (keys.next(), keys.collect())
    }

    /// Every value found at this event's paths, as text, in order and without repeats.
    pub fn derived_keys(&self, event_name: &str, payload: &Value) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for paths in self.paths_for(event_name) {
            for path in paths {
                if let Some(key) = key_at(payload, path)
                    && !keys.contains(&key)
                {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// The path lists that apply to `event_name`, most specific first.
    fn paths_for(&self, event_name: &str) -> Vec<&[String]> {
        let exact = self.entries.iter().filter(|(name, _)| name == event_name);
        let mut prefixed: Vec<_> = self
            .entries
            .iter()
            .filter(|(name, _)| {
                name.len() > 1
                    && name
                        .strip_suffix('*')
                        .is_some_and(|prefix| event_name.starts_with(prefix))
            })
            .collect();
        prefixed.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        let wildcard = self.entries.iter().filter(|(name, _)| name == "*");
        exact
            .chain(prefixed)
            .chain(wildcard)
            .map(|(_, paths)| paths.as_slice())
            .collect()
    }
}

/// The value at a dotted path as a key: a non-empty string (trimmed) or a number.
fn key_at(payload: &Value, path: &str) -> Option<String> {
    let value = path
        .split('.')
        .try_fold(payload, |value, segment| value.get(segment))?;
    match value {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_explicit_key_wins_and_is_trimmed() {
        let paths = CorrelationPaths::default();
        let payload = json!({"ticketId": "t-1"});
        assert_eq!(
            paths.key_for(Some("  k-9 "), "TICKET_UPDATED", &payload),
            Some("k-9".into())
        );
        assert_eq!(
            paths.key_for(Some("   "), "TICKET_UPDATED", &payload),
            Some("t-1".into()),
            "a blank key is no key"
        );
    }

    #[test]
    fn event_specific_paths_come_before_the_wildcard() {
        let paths = CorrelationPaths::default();
        let payload = json!({"clientId": "c-1", "invoiceId": 42, "ticketId": ""});
        assert_eq!(
            paths.derived_keys("INVOICE_PAID", &payload),
            vec!["42".to_owned(), "c-1".to_owned()]
        );
        assert_eq!(
            paths.key_for(None, "CLIENT_UPDATED", &payload),
            Some("c-1".into()),
            "an empty ticketId is skipped"
        );
        assert_eq!(paths.key_for(None, "X", &json!({"other": 1})), None);
    }

    #[test]
    fn configured_paths_replace_the_defaults_and_read_nested_fields() {
        let paths = CorrelationPaths::from_json(
            r#"{"ORDER_*": ["order.id"], "ORDER_SHIPPED": ["shipment.ref"]}"#,
        )
        .unwrap();
        let payload = json!({"order": {"id": "o-1"}, "shipment": {"ref": "s-1"}, "ticketId": "t"});
        assert_eq!(
            paths.derived_keys("ORDER_SHIPPED", &payload),
            vec!["s-1".to_owned(), "o-1".to_owned()]
        );
        assert_eq!(paths.key_for(None, "TICKET_UPDATED", &payload), None);
    }

    #[test]
    fn a_malformed_configuration_is_refused() {
        assert!(CorrelationPaths::from_json("{").is_err());
        assert!(CorrelationPaths::from_json("[]").is_err());
        assert!(CorrelationPaths::from_json(r#"{"A": "ticketId"}"#).is_err());
        assert!(CorrelationPaths::from_json(r#"{"A": [1]}"#).is_err());
    }
}
