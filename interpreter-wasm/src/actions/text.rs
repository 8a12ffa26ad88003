//! Text transforms.

use serde_json::{Value, json};

use super::ActionInput;
use crate::error::Failure;
use crate::expr::js_string;

/// `lowercase_text`, `uppercase_text`, `trim_text`: `{text?}` → `{text}`.
pub fn map(input: &ActionInput<'_>, f: impl Fn(&str) -> String) -> Result<Value, Failure> {
    Ok(json!({"text": f(&input.text("text"))}))
}

/// `truncate_text`: `{text?, maxLength, strategy, ellipsis}` → `{text}`.
pub fn truncate(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let text: Vec<char> = input.text("text").chars().collect();
    let max = input.required_int("maxLength", 0, u32::MAX as u64)? as usize;
    let strategy = input.str_or("strategy", "end")?;
    let ellipsis: Vec<char> = input.str_or("ellipsis", "...")?.chars().collect();
    if !matches!(strategy, "end" | "start" | "middle") {
        return Err(input.invalid("strategy", "one of end, start, middle"));
    }
    let out: String = if text.len() <= max {
        text.iter().collect()
    } else if max <= ellipsis.len() {
        ellipsis[..max].iter().collect()
    } else {
        let keep = max - ellipsis.len();
        let ell: String = ellipsis.iter().collect();
        match strategy {
            "start" => format!(
                "{ell}{}",
                text[text.len() - keep..].iter().collect::<String>()
            ),
            "middle" => {
                let head = keep.div_ceil(2);
                let tail = keep / 2;
                format!(
                    "{}{ell}{}",
                    text[..head].iter().collect::<String>(),
                    text[text.len() - tail..].iter().collect::<String>()
                )
            }
            _ => format!("{}{ell}", text[..keep].iter().collect::<String>()),
        }
    };
    Ok(json!({"text": out}))
}

fn joined(items: &[Value], separator: &str) -> String {
    items
        .iter()
        .map(|v| match v {
            Value::Null => String::new(),
            other => js_string(other),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// `concat_text`: `{values, separator}` → `{text}`.
pub fn concat(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let separator = input.str_or("separator", "")?;
    Ok(json!({"text": joined(input.array("values")?, separator)}))
}

/// `join_text`: `{items, delimiter}` → `{text}`.
pub fn join(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let delimiter = input.str_or("delimiter", "")?;
    Ok(json!({"text": joined(input.array("items")?, delimiter)}))
}

/// `replace_text`: `{text?, search, replacement, replaceAll}` → `{text}`.
pub fn replace(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let text = input.text("text");
    let search = input.required_str("search")?;
    let replacement = input.str_or("replacement", "")?;
    let out = if input.bool_or("replaceAll", true)? {
        text.replace(search, replacement)
    } else {
        text.replacen(search, replacement, 1)
    };
    Ok(json!({"text": out}))
}

/// `split_text`: `{text?, delimiter, removeEmpty}` → `{items}`.
pub fn split(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let text = input.text("text");
    let delimiter = input.required_str("delimiter")?;
    let remove_empty = input.bool_or("removeEmpty", false)?;
    let items: Vec<String> = if delimiter.is_empty() {
        text.chars().map(String::from).collect()
    } else {
        text.split(delimiter).map(str::to_owned).collect()
    };
    let items: Vec<String> = items
        .into_iter()
        .filter(|s| !(remove_empty && s.is_empty()))
        .collect();
    Ok(json!({"items": items}))
}
