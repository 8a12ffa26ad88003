//! Event triggers at ingress: which definitions an event starts, and the run payload a
//! trigger's `payloadMapping` makes of the event (dsl-semantics §5, "Trigger payloadMapping
//! context"). This runs outside any run, so it is not part of replay; it lives here so the
//! mapping rules and the expression engine are the interpreter's own.

use serde_json::{Map, Value, json};

use crate::definition::{Mapping, MappingPath, Trigger};
use crate::expr::Evaluator;

/// The event as a trigger mapping sees it: the context is `{event: {...}}` and nothing else.
#[derive(Debug, Clone)]
pub struct TriggerEvent<'a> {
    /// The event's name.
    pub name: &'a str,
    /// Its correlation key.
    pub correlation_key: Option<&'a str>,
    /// Its payload.
    pub payload: &'a Value,
    /// The schema ref of its payload, if known.
    pub payload_schema_ref: Option<&'a str>,
}

/// A mapping expression that failed, located in the definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TriggerMappingError {
    /// Where in the definition, e.g. `trigger.payloadMapping.ticket.id`.
    pub path: String,
    /// The expression engine's code, e.g. `T2010`, or `TRIGGER_PAYLOAD_NOT_OBJECT`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// The event name a definition's trigger starts on, if it has an event trigger.
pub fn event_name(trigger: Option<&Trigger>) -> Option<&str> {
    match trigger {
        Some(Trigger::Event { event_name, .. }) => Some(event_name),
        _ => None,
    }
}

/// The payload a run started by `event` gets: the event's payload when the trigger has no
/// mapping, else the mapping evaluated against `{event}` with dotted top-level keys expanded
/// (`"ticket.id"` becomes `{ticket: {id}}`). `None` when the trigger is not an event trigger.
pub fn map_event_payload(
    trigger: Option<&Trigger>,
    event: &TriggerEvent<'_>,
    now_ms: i64,
) -> Option<Result<Value, TriggerMappingError>> {
    let Some(Trigger::Event {
        payload_mapping, ..
    }) = trigger
    else {
        return None;
    };
    let Some(mapping) = payload_mapping else {
        return Some(Ok(event.payload.clone()));
    };
    let context = json!({"event": {
        "name": event.name,
        "correlationKey": event.correlation_key,
        "payload": event.payload,
        "payloadSchemaRef": event.payload_schema_ref,
    }});
    let mut evaluator = Evaluator::default();
    Some(resolve(mapping, &context, now_ms, &mut evaluator))
}

fn resolve(
    mapping: &Mapping,
    context: &Value,
    now_ms: i64,
    evaluator: &mut Evaluator,
) -> Result<Value, TriggerMappingError> {
    let mut payload = Map::new();
    for (key, value) in mapping {
        let path = format!("trigger.payloadMapping.{key}");
        let resolved = value.resolve(&path, MappingPath::Dotted, &mut |expr, at| {
            evaluator
                .evaluate(&expr.source, context, now_ms)
                .map_err(|e| TriggerMappingError {
                    path: at.to_owned(),
                    code: e.code,
                    message: format!("`{}`: {}", expr.source, e.message),
                })
        })?;
        insert_dotted(&mut payload, key, resolved);
    }
    Ok(Value::Object(payload))
}

/// Inserts `value` at a dotted key, making (or replacing non-object) intermediate objects.
fn insert_dotted(target: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            target.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let slot = target
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse;

    fn trigger(mapping: Value) -> Trigger {
        let definition = json!({"id": "w", "version": 1, "name": "w",
            "payloadSchemaRef": "payload.W.v1",
            "trigger": {"type": "event", "eventName": "TICKET_CREATED", "payloadMapping": mapping},
            "steps": []});
        let (parsed, issues) = parse(&definition);
        parsed
            .and_then(|d| d.trigger)
            .unwrap_or_else(|| panic!("{issues:?}"))
    }

    fn event(payload: &Value) -> TriggerEvent<'_> {
        TriggerEvent {
            name: "TICKET_CREATED",
            correlation_key: Some("T-1"),
            payload,
            payload_schema_ref: None,
        }
    }

    #[test]
    fn maps_with_the_event_context_and_expands_dotted_keys() {
        let t = trigger(json!({
            "ticket.id": {"$expr": "event.payload.ticketId"},
            "ticket.source": "email",
            "key": {"$expr": "event.correlationKey"},
            "payload.raw": {"$expr": "event.name"}
        }));
        let payload = json!({"ticketId": 42});
        let mapped = map_event_payload(Some(&t), &event(&payload), 0).unwrap();
        assert_eq!(
            mapped.unwrap(),
            json!({"ticket": {"id": 42, "source": "email"}, "key": "T-1",
                "payload": {"raw": "TICKET_CREATED"}})
        );
    }

    #[test]
    fn a_failing_expression_names_its_path() {
        let t = trigger(json!({"ticket": {"id": {"$expr": "event.payload.missing"}}}));
        let payload = json!({});
        let error = map_event_payload(Some(&t), &event(&payload), 0)
            .unwrap()
            .unwrap_err();
        assert_eq!(error.path, "trigger.payloadMapping.ticket.id");
    }

    #[test]
    fn without_a_mapping_the_event_payload_is_the_run_payload() {
        let definition = json!({"id": "w", "version": 1, "name": "w",
            "payloadSchemaRef": "payload.W.v1",
            "trigger": {"type": "event", "eventName": "E"}, "steps": []});
        let (parsed, _) = parse(&definition);
        let t = parsed.unwrap().trigger;
        let payload = json!({"a": 1});
        let mapped = map_event_payload(t.as_ref(), &event(&payload), 0).unwrap();
        assert_eq!(mapped.unwrap(), payload);
        assert_eq!(event_name(t.as_ref()), Some("E"));
    }
}
