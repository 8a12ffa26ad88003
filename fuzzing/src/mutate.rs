//! Small edits to a seed definition, so runs meet definitions nobody wrote: a value replaced
//! (by any JSON, or by a word of the language), a key or an element removed, an element
//! duplicated or two swapped.

use arbitrary::{Result, Unstructured};
use serde_json::{Value, json};

use crate::json;

/// Words of the language: step types, expressions, durations, policies.
fn vocabulary() -> [Value; 16] {
    [
        json!("action.call"),
        json!("control.forEach"),
        json!("control.if"),
        json!("control.tryCatch"),
        json!("event.wait"),
        json!("time.wait"),
        json!("human.task"),
        json!({"$expr": "payload"}),
        json!({"$expr": "vars.missing.path"}),
        json!({"$expr": "[1, 2, 3]"}),
        json!({"$expr": "1 / 0"}),
        json!("continue"),
        json!("fail"),
        json!(0),
        json!(-1),
        json!(1e9),
    ]
}

/// Applies up to three edits that `u` chooses.
pub fn definition(u: &mut Unstructured<'_>, mut definition: Value) -> Result<Value> {
    let edits = u.int_in_range(1..=3)?;
    for _ in 0..edits {
        let mut places = Vec::new();
        collect(&definition, String::new(), &mut places);
        let Ok(place) = u.choose(&places) else {
            break;
        };
        let place = place.clone();
        match u.int_in_range(0..=4)? {
            0 => replace(&mut definition, &place, json::value(u, 2)?),
            1 => replace(&mut definition, &place, u.choose(&vocabulary())?.clone()),
            2 => remove(&mut definition, &place),
            3 => duplicate(&mut definition, &place),
            _ => swap(u, &mut definition, &place)?,
        }
    }
    Ok(definition)
}

/// Every JSON pointer below the root.
fn collect(value: &Value, at: String, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, entry) in map {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                into.push(path.clone());
                collect(entry, path, into);
            }
        }
        Value::Array(items) => {
            for (i, entry) in items.iter().enumerate() {
                let path = format!("{at}/{i}");
                into.push(path.clone());
                collect(entry, path, into);
            }
        }
        _ => {}
    }
}

fn replace(root: &mut Value, place: &str, with: Value) {
    if let Some(slot) = root.pointer_mut(place) {
        *slot = with;
    }
}

/// The parent's pointer and the last token.
fn split(place: &str) -> Option<(&str, String)> {
    let (parent, last) = place.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn remove(root: &mut Value, place: &str) {
    let Some((parent, last)) = split(place) else {
        return;
    };
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

fn duplicate(root: &mut Value, place: &str) {
    let Some((parent, last)) = split(place) else {
        return;
    };
    if let (Some(Value::Array(items)), Ok(i)) = (root.pointer_mut(parent), last.parse::<usize>())
        && let Some(item) = items.get(i).cloned()
    {
        items.insert(i, item);
    }
}

fn swap(u: &mut Unstructured<'_>, root: &mut Value, place: &str) -> Result<()> {
    let Some((parent, last)) = split(place) else {
        return Ok(());
    };
    if let (Some(Value::Array(items)), Ok(i)) = (root.pointer_mut(parent), last.parse::<usize>())
        && !items.is_empty()
    {
        let j = u.choose_index(items.len())?;
        let last = items.len() - 1;
        items.swap(i.min(last), j);
    }
    Ok(())
}
