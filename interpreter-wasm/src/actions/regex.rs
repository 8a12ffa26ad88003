//! Regular-expression transforms with JavaScript semantics (the `regress` engine).

use regress::{Match, Regex};
use serde_json::{Map, Value, json};

use super::{ActionInput, action_error};
use crate::error::Failure;

const MAX_TEXT_CHARS: usize = 100_000;
const MAX_PATTERN_CHARS: usize = 2_000;

struct Compiled {
    regex: Regex,
    text: String,
}

fn compile(input: &ActionInput<'_>) -> Result<Compiled, Failure> {
    let text = match input.get("text") {
        None => String::new(),
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => input
            .get("text")
            .map(crate::expr::js_string)
            .unwrap_or_else(|| v.to_string()),
        Some(_) => return Err(input.invalid("text", "a string, number or boolean")),
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(input.invalid("text", "at most 100000 characters"));
    }
    let pattern = input.required_str("pattern")?;
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(input.invalid("pattern", "at most 2000 characters"));
    }
    let flags = input.str_or("flags", "")?;
    let mut seen = String::new();
    for flag in flags.chars() {
        if !"dgimsuvy".contains(flag) || seen.contains(flag) {
            return Err(input.invalid("flags", "distinct flags among d g i m s u v y"));
        }
        seen.push(flag);
    }
    let engine_flags: String = flags.chars().filter(|f| "imsu".contains(*f)).collect();
    let regex = Regex::with_flags(pattern, engine_flags.as_str())
        .map_err(|e| action_error(format!("Invalid regular expression /{pattern}/: {e}")))?;
    Ok(Compiled { regex, text })
}

fn utf16_index(text: &str, byte: usize) -> usize {
    text[..byte].encode_utf16().count()
}

fn describe(m: &Match, text: &str) -> Value {
    let groups: Vec<Value> = m
        .captures
        .iter()
        .map(|c| c.clone().map_or(Value::Null, |r| json!(text[r].to_owned())))
        .collect();
    let named: Map<String, Value> = m
        .named_groups()
        .map(|(name, r)| {
            (
                name.to_owned(),
                r.map_or(Value::Null, |r| json!(text[r].to_owned())),
            )
        })
        .collect();
    json!({
        "text": m.as_str(text),
        "index": utf16_index(text, m.start()),
        "groups": groups,
        "namedGroups": named,
    })
}

fn no_match(input: &ActionInput<'_>) -> Result<(), Failure> {
    if input.bool_or("requireMatch", false)? {
        return Err(action_error("Regular expression did not match"));
    }
    Ok(())
}

/// `regex_match` → `{matched, match, index, groups, namedGroups}`.
pub fn regex_match(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let c = compile(input)?;
    match c.regex.find(&c.text) {
        Some(m) => {
            let d = describe(&m, &c.text);
            Ok(json!({
                "matched": true,
                "match": d["text"],
                "index": d["index"],
                "groups": d["groups"],
                "namedGroups": d["namedGroups"],
            }))
        }
        None => {
            no_match(input)?;
            Ok(
                json!({"matched": false, "match": null, "index": null, "groups": [], "namedGroups": {}}),
            )
        }
    }
}

/// `regex_extract` → `{matched, count, first, matches}` (the `g` flag is implied).
pub fn regex_extract(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let c = compile(input)?;
    let max = input.int_or("maxMatches", 100, 1, 1000)? as usize;
    let matches: Vec<Value> = c
        .regex
        .find_iter(&c.text)
        .take(max)
        .map(|m| describe(&m, &c.text))
        .collect();
    if matches.is_empty() {
        no_match(input)?;
    }
    Ok(json!({
        "matched": !matches.is_empty(),
        "count": matches.len(),
        "first": matches.first().cloned().unwrap_or(Value::Null),
        "matches": matches,
    }))
}

/// `regex_replace` → `{text, replacementCount}`, with `$1`, `$<name>`, `$&` and `$$`.
pub fn regex_replace(input: &ActionInput<'_>) -> Result<Value, Failure> {
    let c = compile(input)?;
    let replacement = input.required_str("replacement")?;
    let all = input.bool_or("replaceAll", true)?;
    let mut out = String::new();
    let mut last = 0;
    let mut count = 0;
    for m in c.regex.find_iter(&c.text) {
        out.push_str(&c.text[last..m.start()]);
        out.push_str(&expand(replacement, &m, &c.text));
        last = m.end();
        count += 1;
        if !all {
            break;
        }
    }
    out.push_str(&c.text[last..]);
    Ok(json!({"text": out, "replacementCount": count}))
}

fn expand(replacement: &str, m: &Match, text: &str) -> String {
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' || i + 1 == chars.len() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars[i + 1] {
            '$' => {
                out.push('$');
                i += 2;
            }
            '&' => {
                out.push_str(m.as_str(text));
                i += 2;
            }
            '<' => match chars[i + 2..].iter().position(|&c| c == '>') {
                Some(len) => {
                    let name: String = chars[i + 2..i + 2 + len].iter().collect();
                    if let Some(r) = m.named_group(&name) {
                        out.push_str(&text[r]);
                    }
                    i += len + 3;
                }
                None => {
                    out.push('$');
                    i += 1;
                }
            },
            d if d.is_ascii_digit() => {
                let two = chars
                    .get(i + 2)
                    .filter(|c| c.is_ascii_digit())
                    .map(|c| format!("{d}{c}"))
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|n| *n >= 1 && *n <= m.captures.len());
                let (group, used) = match two {
                    Some(n) => (n, 3),
                    None => (d.to_digit(10).unwrap_or(0) as usize, 2),
                };
                if group >= 1 && group <= m.captures.len() {
                    if let Some(r) = m.group(group) {
                        out.push_str(&text[r]);
                    }
                    i += used;
                } else {
                    out.push('$');
                    i += 1;
                }
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}
