//! `event.wait` payload filters with the Temporal engine's semantics (dsl-semantics §4.6).

use serde_json::Value;

use crate::definition::EventFilter;

/// Looks up a dotted path in `payload`, walking objects only (`$.` or `.` prefixes are
/// ignored; arrays are not indexed, so `arr.0` is missing).
fn lookup<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path
        .strip_prefix("$.")
        .or_else(|| path.strip_prefix('.'))
        .unwrap_or(path);
    let mut current = payload;
    for segment in path.split('.') {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

/// Strict equality without coercion (`"1"` is not `1`); numbers compare by value.
fn strict_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Whether `filter` passes against `payload`. A missing path matches `!=`, `not_in` and
/// `not_exists` and nothing else; ordering needs two numbers, string operators two strings.
pub fn passes(filter: &EventFilter, payload: &Value) -> bool {
    let actual = lookup(payload, &filter.path);
    let operand = filter.value.as_ref();
    match filter.op.as_str() {
        "=" => matches!((actual, operand), (Some(a), Some(b)) if strict_equal(a, b)),
        "!=" => match (actual, operand) {
            (Some(a), Some(b)) => !strict_equal(a, b),
            _ => true,
        },
        "in" | "not_in" => {
            let listed = match (actual, operand) {
                (Some(a), Some(Value::Array(list))) => list.iter().any(|b| strict_equal(a, b)),
                _ => false,
            };
            listed == (filter.op == "in")
        }
        "exists" => actual.is_some(),
        "not_exists" => actual.is_none(),
        ">" | ">=" | "<" | "<=" => {
            let (Some(a), Some(b)) = (
                actual
                    .and_then(Value::as_f64)
                    .filter(|_| actual.is_some_and(Value::is_number)),
                operand
                    .and_then(Value::as_f64)
                    .filter(|_| operand.is_some_and(Value::is_number)),
            ) else {
                return false;
            };
            match filter.op.as_str() {
                ">" => a > b,
                ">=" => a >= b,
                "<" => a < b,
                _ => a <= b,
            }
        }
        "contains" | "starts_with" | "ends_with" => {
            let (Some(Value::String(a)), Some(Value::String(b))) = (actual, operand) else {
                return false;
            };
            match filter.op.as_str() {
                "contains" => a.contains(b.as_str()),
                "starts_with" => a.starts_with(b.as_str()),
                _ => a.ends_with(b.as_str()),
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(path: &str, op: &str, value: Option<Value>, payload: Value) -> bool {
        passes(
            &EventFilter {
                path: path.into(),
                op: op.into(),
                value,
            },
            &payload,
        )
    }

    #[test]
    fn the_thirteen_operators() {
        let p = json!({"a": {"n": 5, "s": "hello", "z": null}, "arr": [1]});
        assert!(check("a.n", "=", Some(json!(5)), p.clone()));
        assert!(!check("a.n", "=", Some(json!("5")), p.clone()));
        assert!(check("a.n", "!=", Some(json!(6)), p.clone()));
        assert!(
            check("a.missing", "!=", Some(json!(6)), p.clone()),
            "missing matches !="
        );
        assert!(check("a.n", "in", Some(json!([4, 5])), p.clone()));
        assert!(
            check("a.missing", "not_in", Some(json!([4])), p.clone()),
            "missing matches not_in"
        );
        assert!(!check("a.missing", "in", Some(json!([4])), p.clone()));
        assert!(check("a.z", "exists", None, p.clone()), "null exists");
        assert!(
            check("arr.0", "not_exists", None, p.clone()),
            "arrays are not indexed"
        );
        assert!(check("$.a.n", ">", Some(json!(4)), p.clone()));
        assert!(check(".a.n", "<=", Some(json!(5)), p.clone()));
        assert!(
            !check("a.s", ">", Some(json!(1)), p.clone()),
            "ordering needs numbers"
        );
        assert!(check("a.s", "contains", Some(json!("ell")), p.clone()));
        assert!(check("a.s", "starts_with", Some(json!("he")), p.clone()));
        assert!(check("a.s", "ends_with", Some(json!("lo")), p.clone()));
        assert!(!check("a.n", "contains", Some(json!("5")), p));
    }
}
