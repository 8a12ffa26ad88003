//! Signals: normalised on receipt (dsl-semantics §9.7), buffered first in first out, and
//! consumed by the wait they match. Signals that match nothing yet stay buffered.

use serde_json::{Map, Value, json};

use super::state::BufferedSignal;

pub use alga_protocol::names::{EVENT_SIGNAL, HUMAN_TASK_COMPLETED, HUMAN_TASK_SIGNAL};

/// Signals a run keeps buffered at most. A signal no wait takes (an event a filter refused, one
/// for a wait the run never reaches) stays buffered, rides every continue-as-new checkpoint and
/// every cached instance, and is scanned by every later wait; past this many the oldest is
/// dropped and counted (`signalsDropped` in the interpreter summary).
pub const MAX_BUFFERED_SIGNALS: usize = 1_000;

/// Event ids a run remembers, to ignore a second delivery of the same event (a signal Temporal
/// took although the sender saw an error, and sent again): the most recent this many.
pub const REMEMBERED_EVENT_IDS: usize = 1_000;

fn object(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => Value::Object(Map::new()),
    }
}

fn string(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

/// Normalises a signal's argument. Temporal signals carry an argument list; the first element
/// is the payload when the argument is an array.
pub fn normalize(name: &str, raw: &Value, received_at: &str) -> BufferedSignal {
    let arg = match raw {
        Value::Array(args) => args.first().unwrap_or(&Value::Null),
        other => other,
    };
    let payload = match name {
        EVENT_SIGNAL => json!({
            "eventId": string(arg.get("eventId")),
            "eventName": string(arg.get("eventName")).unwrap_or_default(),
            "correlationKey": string(arg.get("correlationKey")),
            "payload": object(arg.get("payload")),
            "receivedAt": string(arg.get("receivedAt")).unwrap_or_else(|| received_at.to_owned()),
        }),
        HUMAN_TASK_SIGNAL => json!({
            "taskId": string(arg.get("taskId")).unwrap_or_default(),
            "eventName": string(arg.get("eventName")).unwrap_or_else(|| HUMAN_TASK_COMPLETED.to_owned()),
            "payload": object(arg.get("payload")),
        }),
        _ => arg.clone(),
    };
    BufferedSignal {
        name: name.to_owned(),
        payload,
    }
}
