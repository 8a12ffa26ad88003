//! Arbitrary JSON values, biased towards the keys and shapes workflow definitions read.

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

/// Keys the examples' expressions and actions read, so generated outputs meet real paths.
const KEYS: &[&str] = &[
    "id",
    "ok",
    "name",
    "value",
    "status",
    "items",
    "contact",
    "client_id",
    "contact_id",
    "ticket_id",
    "taskId",
    "formSchema",
    "payload",
    "vars",
    "meta",
    "error",
    "message",
    "email",
    "from",
    "address",
    "subject",
    "matched",
    "groups",
    "count",
    "text",
    "result",
    "data",
];

/// Strings worth meeting: empty, unicode, expression-looking, ISO dates.
const STRINGS: &[&str] = &[
    "",
    "a",
    "ok",
    "ERROR",
    "é👍",
    "2026-11-26T09:00:00.000Z",
    "PT5M",
    "1e400",
    "$",
    "{{x}}",
    "null",
    "true",
    "ada@example.com",
    "[ticket:42]",
];

/// An arbitrary JSON value, at most `depth` containers deep.
pub fn value(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let choice = if depth == 0 {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=6)?
    };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(Number::from(u.arbitrary::<i64>()? % 1_000_000)),
        3 => Number::from_f64(u.arbitrary::<f64>()?).map_or(Value::Null, Value::Number),
        4 => Value::String(string(u)?),
        5 => {
            let len = u.int_in_range(0..=4)?;
            Value::Array(
                (0..len)
                    .map(|_| value(u, depth - 1))
                    .collect::<Result<_>>()?,
            )
        }
        _ => Value::Object(object(u, depth - 1)?),
    })
}

/// An arbitrary JSON object, at most `depth` containers deep below it.
pub fn object(u: &mut Unstructured<'_>, depth: u32) -> Result<Map<String, Value>> {
    let len = u.int_in_range(0..=4)?;
    let mut map = Map::new();
    for _ in 0..len {
        let key = if u.ratio(3, 4)? {
            (*u.choose(KEYS)?).to_owned()
        } else {
            u.arbitrary::<String>()?
        };
        let entry = value(u, depth)?;
        map.insert(key, entry);
    }
    Ok(map)
}

/// A string from the list of interesting ones, or any string.
pub fn string(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 2)? {
        Ok((*u.choose(STRINGS)?).to_owned())
    } else {
        u.arbitrary()
    }
}
