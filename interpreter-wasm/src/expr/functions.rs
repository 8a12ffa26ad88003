//! The five functions of the allow-list (dsl-semantics §5.2), with JavaScript's semantics.

use serde_json::Value;

/// `nowIso()`: the time as ISO-8601 UTC with milliseconds, like `Date.toISOString`.
pub fn now_iso(now_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `coalesce(...v)`: the first argument that is neither null nor undefined, else null.
pub fn coalesce(args: &[Option<Value>]) -> Value {
    args.iter()
        .flatten()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null)
}

/// `len(v)`: UTF-16 length of a string, length of an array, 0 otherwise.
pub fn len(value: Option<&Value>) -> Value {
    let n = match value {
        Some(Value::String(s)) => s.encode_utf16().count(),
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    };
    Value::from(n)
}

/// `toString(v)`: `''` for null or undefined, else JavaScript's `String(v)`.
pub fn to_string(value: Option<&Value>) -> Value {
    Value::String(match value {
        None | Some(Value::Null) => String::new(),
        Some(v) => js_string(v),
    })
}

/// JavaScript's `String(v)` for a JSON value.
pub fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_owned(),
    }
}

fn js_number(n: &serde_json::Number) -> String {
    match (n.as_i64(), n.as_f64()) {
        (Some(i), _) if i.unsigned_abs() < (1u64 << 53) => i.to_string(),
        (_, Some(f)) => ryu_js::Buffer::new().format(f).to_owned(),
        _ => n.to_string(),
    }
}

/// `append(list, v)`: `list` as an array (null → `[]`, a scalar → `[scalar]`), with `v` spread
/// if it is an array, else appended.
pub fn append(list: Option<&Value>, value: Option<&Value>) -> Value {
    let mut items = match list {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(scalar) => vec![scalar.clone()],
    };
    match value {
        Some(Value::Array(more)) => items.extend(more.iter().cloned()),
        Some(v) => items.push(v.clone()),
        None => {}
    }
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn javascript_string_conversion() {
        assert_eq!(js_string(&json!(1.0)), "1");
        assert_eq!(
            js_string(&json!(0.30000000000000004)),
            "0.30000000000000004"
        );
        assert_eq!(js_string(&json!([1, null, "a", [2, 3]])), "1,,a,2,3");
        assert_eq!(js_string(&json!({"a": 1})), "[object Object]");
        assert_eq!(to_string(None), json!(""));
        assert_eq!(now_iso(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn append_and_len() {
        assert_eq!(append(None, Some(&json!(1))), json!([1]));
        assert_eq!(
            append(Some(&json!("a")), Some(&json!(["b", "c"]))),
            json!(["a", "b", "c"])
        );
        assert_eq!(len(Some(&json!("é😀"))), json!(3));
        assert_eq!(len(Some(&json!({"a": 1}))), json!(0));
        assert_eq!(
            coalesce(&[None, Some(json!(null)), Some(json!(2))]),
            json!(2)
        );
        assert_eq!(coalesce(&[]), json!(null));
    }
}
