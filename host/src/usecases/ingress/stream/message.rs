//! The producer's message: a flat hash of text fields (the product's event bus writes
//! `event_id`, `event_type`, `tenant`, `workflow_correlation_key`, `payload_json`, and
//! `event_name`, `execution_id`, `timestamp`, `user_id`, `from_state`, `to_state`, which
//! routing does not use). The bus's `event_type` is the workflow's event name.

use std::collections::HashMap;

use serde_json::Value;
use thiserror::Error;
use uuid::Uuid;

use crate::store::NewEvent;
use crate::usecases::ingress::CorrelationPaths;

/// The largest `payload_json` taken, in bytes: the API's body limit, so an event the API
/// would refuse is not accepted through the back door.
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024;

/// Why a message cannot become an event. The same message fails the same way every time.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BadMessage {
    /// A field routing needs is absent or empty.
    #[error("the message has no `{0}`")]
    Missing(&'static str),
    /// A field is not UTF-8 text.
    #[error("`{0}` is not UTF-8 text")]
    NotText(&'static str),
    /// A field that must be a uuid is not one.
    #[error("`{field}` is not a uuid: {value:?}")]
    NotUuid {
        /// The field.
        field: &'static str,
        /// What it held (cut to 64 characters).
        value: String,
    },
    /// `payload_json` does not hold a JSON object.
    #[error("`payload_json` {0}")]
    Payload(String),
}

/// Reads a stream entry's fields into the event it announces.
pub fn event_of(
    fields: &HashMap<String, redis::Value>,
    correlation: &CorrelationPaths,
) -> Result<NewEvent, BadMessage> {
    let event_id = uuid_field(fields, "event_id")?;
    let tenant = uuid_field(fields, "tenant")?;
    let event_name = text(fields, "event_type")?
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .ok_or(BadMessage::Missing("event_type"))?;
    let payload = match text(fields, "payload_json")? {
        None => Value::Object(Default::default()),
        Some(json) if json.len() > MAX_PAYLOAD_BYTES => {
            return Err(BadMessage::Payload(format!(
                "is {} bytes, past the limit of {MAX_PAYLOAD_BYTES}",
                json.len()
            )));
        }
        Some(json) => match serde_json::from_str::<Value>(&json) {
            Ok(object @ Value::Object(_)) => object,
            Ok(Value::Null) => Value::Object(Default::default()),
            Ok(_) => return Err(BadMessage::Payload("is not a JSON object".into())),
            Err(e) => return Err(BadMessage::Payload(format!("is not JSON: {e}"))),
        },
    };
    // An explicit key is the only one; otherwise every key the payload holds at the event's
    // paths is tried, the first being the event's own (as the reference's stream worker does).
    let explicit = text(fields, "workflow_correlation_key")?;
    let (correlation_key, other_keys) =
        correlation.keys_for(explicit.as_deref(), &event_name, &payload);
    Ok(NewEvent {
        event_id,
        tenant,
        event_name,
        correlation_key,
        other_keys,
        payload,
    })
}

/// A text field, absent when missing or nil.
fn text(
    fields: &HashMap<String, redis::Value>,
    field: &'static str,
) -> Result<Option<String>, BadMessage> {
    match fields.get(field) {
        None | Some(redis::Value::Nil) => Ok(None),
        Some(value) => redis::from_redis_value_ref::<String>(value)
            .map(Some)
            .map_err(|_| BadMessage::NotText(field)),
    }
}

fn uuid_field(
    fields: &HashMap<String, redis::Value>,
    field: &'static str,
) -> Result<Uuid, BadMessage> {
    let value = text(fields, field)?
        .filter(|v| !v.trim().is_empty())
        .ok_or(BadMessage::Missing(field))?;
    Uuid::parse_str(value.trim()).map_err(|_| BadMessage::NotUuid {
        field,
        value: value.chars().take(64).collect(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, redis::Value> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    redis::Value::BulkString(v.as_bytes().to_vec()),
                )
            })
            .collect()
    }

    const TENANT: &str = "6a1f0c57-6f5b-4d0e-9c43-0d6f0a4b1e21";
    const EVENT: &str = "0b9d4a8e-3c1f-4e7a-8d2b-5f6e7a8b9c0d";

    #[test]
    fn the_producers_layout_becomes_an_event() {
        let message = fields(&[
            ("event_id", EVENT),
            ("event_name", "Ticket Updated"),
            ("event_type", "TICKET_UPDATED"),
            ("tenant", TENANT),
            ("timestamp", "2026-11-30T12:00:00.000Z"),
            ("user_id", "u-1"),
            ("payload_json", r#"{"ticketId":"t-7","status":"open"}"#),
        ]);
        let event = event_of(&message, &CorrelationPaths::default()).unwrap();
        assert_eq!(event.event_id.to_string(), EVENT);
        assert_eq!(event.tenant.to_string(), TENANT);
        assert_eq!(event.event_name, "TICKET_UPDATED");
        assert_eq!(event.correlation_key.as_deref(), Some("t-7"));
        assert_eq!(event.payload, json!({"ticketId": "t-7", "status": "open"}));
    }

    #[test]
    fn an_explicit_key_beats_the_payload() {
        let message = fields(&[
            ("event_id", EVENT),
            ("event_type", "TICKET_UPDATED"),
            ("tenant", TENANT),
            ("workflow_correlation_key", "k-1"),
            ("payload_json", r#"{"ticketId":"t-7"}"#),
        ]);
        let event = event_of(&message, &CorrelationPaths::default()).unwrap();
        assert_eq!(event.correlation_key.as_deref(), Some("k-1"));
    }

    #[test]
    fn a_bad_message_says_what_is_wrong() {
        let paths = CorrelationPaths::default();
        let base = [("event_id", EVENT), ("event_type", "E"), ("tenant", TENANT)];
        let with = |field: &str, value: &str| {
            let mut message = fields(&base);
            message.insert(
                field.into(),
                redis::Value::BulkString(value.as_bytes().to_vec()),
            );
            event_of(&message, &paths).unwrap_err()
        };
        assert_eq!(
            with("tenant", "acme"),
            BadMessage::NotUuid {
                field: "tenant",
                value: "acme".into()
            }
        );
        assert_eq!(with("event_type", " "), BadMessage::Missing("event_type"));
        assert!(
            matches!(with("payload_json", "{nope"), BadMessage::Payload(m) if m.starts_with("is not JSON"))
        );
        assert!(
            matches!(with("payload_json", "[1]"), BadMessage::Payload(m) if m == "is not a JSON object")
        );
        let huge = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_PAYLOAD_BYTES));
        assert!(
            matches!(with("payload_json", &huge), BadMessage::Payload(m) if m.contains("past the limit"))
        );
        let mut no_id = fields(&base);
        no_id.remove("event_id");
        assert_eq!(
            event_of(&no_id, &paths).unwrap_err(),
            BadMessage::Missing("event_id")
        );
        let mut binary = fields(&base);
        binary.insert(
            "payload_json".into(),
            redis::Value::BulkString(vec![0xff, 0xfe]),
        );
        assert_eq!(
            event_of(&binary, &paths).unwrap_err(),
            BadMessage::NotText("payload_json")
        );
    }
}
