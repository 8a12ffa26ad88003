//! JSON payloads (`json/plain`), the only encoding runs exchange with Temporal.

use serde_json::Value;
use temporalio_common::protos::coresdk::AsJsonPayloadExt;
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// Encodes a JSON value.
pub fn encode(value: &Value) -> Payload {
    // Serialising a `serde_json::Value` cannot fail.
    value.as_json_payload().unwrap_or_default()
}

/// Decodes a JSON payload (an empty or `binary/null` payload is null); a payload in another
/// encoding is an error naming it.
pub fn decode(payload: &Payload) -> Result<Value, String> {
    let encoding = payload
        .metadata
        .get("encoding")
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    // Clients send "no value" as an empty payload or as `binary/null`.
    if encoding == "binary/null" || encoding.is_empty() && payload.data.is_empty() {
        return Ok(Value::Null);
    }
    if encoding != "json/plain" {
        return Err(format!(
            "expected a json/plain payload, found encoding `{encoding}`"
        ));
    }
    serde_json::from_slice(&payload.data).map_err(|e| format!("payload is not JSON: {e}"))
}

/// The payload metadata key that carries the attempt an activity outcome came from.
pub const ATTEMPT_METADATA: &str = "alga-attempt";

/// Stamps the attempt that produced an activity outcome on its payload's metadata (the
/// interpreter numbers attempts; Temporal's resolutions do not carry them).
pub fn stamp_attempt(payload: &mut Payload, attempt: u32) {
    payload
        .metadata
        .insert(ATTEMPT_METADATA.into(), attempt.to_string().into_bytes());
}

/// The attempt stamped on a payload, if any.
pub fn attempt(payload: &Payload) -> Option<u32> {
    let raw = payload.metadata.get(ATTEMPT_METADATA)?;
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// The first payload of a list, decoded (`null` when the list is empty).
pub fn first(payloads: &[Payload]) -> Result<Value, String> {
    payloads.first().map_or(Ok(Value::Null), decode)
}

/// An optional payload, decoded (`null` when absent).
pub fn optional(payload: Option<&Payload>) -> Result<Value, String> {
    payload.map_or(Ok(Value::Null), decode)
}
