//! JSON and structure transforms.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{ActionInput, action_error};
use crate::definition::json_type;
use crate::error::Failure;

/// `parse_json`: `{source}` → `{value, type}`.
pub fn parse_json(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let value = match input.get("source") {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|e| action_error(format!("JSON parse failed: {e}")))?,
        Some(v @ (Value::Object(_) | Value::Array(_))) => v.clone(),
        _ => return Err(input.invalid("source", "a string, object or array")),
    };
    Ok(json!({"type": json_type(&value), "value": value}))
}

/// `query_json`: `{source, expression}` → `{value}`, evaluated by the workflow engine.
pub fn query_json(
    input: &ActionInput<'_>,
    query: &mut dyn FnMut(&str, &Value) -> Result<Value, Failure>,
) -> Result<Value, Failure> {
    let expression = input.required_str("expression")?;
    let source = input.get("source").cloned().unwrap_or(Value::Null);
    Ok(json!({"value": query(expression, &source)?}))
}

/// `stringify_json`: `{source, spacing?}` → `{text}`.
pub fn stringify_json(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let spacing = input.int_or("spacing", 0, 0, 8)? as usize;
    let source = input.get("source").cloned().unwrap_or(Value::Null);
    let text = if spacing == 0 {
        source.to_string()
    } else {
        let indent = " ".repeat(spacing);
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        source
            .serialize(&mut serializer)
            .map_err(|e| action_error(format!("JSON stringify failed: {e}")))?;
        String::from_utf8_lossy(&out).into_owned()
    };
    Ok(json!({"text": text}))
}

/// `coalesce_value`: `{candidates, treatEmptyStringAsMissing}` → `{value?, matchedIndex}`.
pub fn coalesce_value(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let skip_empty = input.bool_or("treatEmptyStringAsMissing", true)?;
    let found = input
        .array("candidates")?
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_null() || skip_empty && v.as_str().is_some_and(str::is_empty)));
    Ok(match found {
        Some((i, v)) => json!({"value": v, "matchedIndex": i}),
        None => json!({"matchedIndex": null}),
    })
}

/// `build_object`: `{fields: [{key, value?}]}` → `{object}`.
pub fn build_object(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let mut object = Map::new();
    for field in input.array("fields")? {
        let key = field
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| input.invalid("fields", "a list of {key, value} with string keys"))?;
        object.insert(
            key.to_owned(),
            field.get("value").cloned().unwrap_or(Value::Null),
        );
    }
    Ok(json!({"object": object}))
}

/// `pick_fields`: `{source, fields}` → `{object}`.
pub fn pick_fields(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let source = match input.get("source") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(input.invalid("source", "an object or null")),
    };
    let mut object = Map::new();
    for field in input.array("fields")? {
        let key = field
            .as_str()
            .ok_or_else(|| input.invalid("fields", "a list of strings"))?;
        if let Some(v) = source.get(key) {
            object.insert(key.to_owned(), v.clone());
        }
    }
    Ok(json!({"object": object}))
}

/// `rename_fields`: `{source, renames: [{from, to}]}` → `{object}`.
pub fn rename_fields(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let mut object = match input.get("source") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(input.invalid("source", "an object")),
    };
    for rename in input.array("renames")? {
        let (Some(from), Some(to)) = (
            rename.get("from").and_then(Value::as_str),
            rename.get("to").and_then(Value::as_str),
        ) else {
            return Err(input.invalid("renames", "a list of {from, to} strings"));
        };
        if let Some(v) = object.shift_remove(from) {
            object.insert(to.to_owned(), v);
        }
    }
    Ok(json!({"object": object}))
}

/// `append_array`: `{items, values}` → `{items}`.
pub fn append_array(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let mut items = input.array("items")?.to_vec();
    items.extend(input.array("values")?.iter().cloned());
    Ok(json!({"items": items}))
}

/// `build_array`: `{items}` → `{items}`.
pub fn build_array(input: &ActionInput<'_>) -> Result<Value, Failure> {
    Ok(json!({"items": input.array("items")?}))
}
