//! Regular-expression transforms with JavaScript semantics (the `regress` engine).
//!
//! A pattern such as `^(a+)+$` backtracks exponentially on some texts. Each transform's search
//! is bounded by a count of backtracking steps of its own, so such a pattern fails its step
//! with a catchable `ActionError` (`REGEX_BACKTRACK_LIMIT`) in a fraction of a second, instead
//! of burning the whole activation's fuel and failing the run with an `InterpreterTrap` while
//! the worker's thread is held.

use regress::{Match, Regex};
use serde_json::{Map, Value, json};

use super::{ActionInput, action_error};
use crate::error::Failure;

const MAX_TEXT_CHARS: usize = 100_000;
const MAX_PATTERN_CHARS: usize = 2_000;

/// Backtracking steps one transform may take, in the engine's intervals of
/// [`regress::INTERRUPT_INTERVAL`] steps: about two million steps, more than a sensible
/// pattern needs on the largest text allowed (100,000 characters), and about a fifth of the
/// default activation fuel inside wasm (a step costs about 200 units).
const BACKTRACK_INTERVALS: u32 = 2_000;

/// The matches of `regex` in `text`, left to right (as `find_iter` finds them), at most `max`,
/// within one backtracking budget.
fn find_bounded(regex: &Regex, text: &str, max: usize) -> Result<Vec<Match>, Failure> {
    let mut left = BACKTRACK_INTERVALS;
    let mut matches = Vec::new();
    let mut start = 0;
    while matches.len() < max && start <= text.len() {
        let found = regex
            .find_from_interruptible(text, start, || {
                left = left.saturating_sub(1);
                left == 0
            })
            .map_err(|_| {
                action_error(
                    "The regular expression backtracked too much (catastrophic backtracking); \
                     simplify the pattern",
                )
                .with_code("REGEX_BACKTRACK_LIMIT")
            })?;
        let Some(m) = found else {
            break;
        };
        // After an empty match the search goes on one character later, as JavaScript's does.
        start = if m.end() > m.start() {
            m.end()
        } else {
            match text[m.end()..].chars().next() {
                Some(c) => m.end() + c.len_utf8(),
                None => text.len() + 1,
            }
        };
        matches.push(m);
    }
    Ok(matches)
}

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
    match find_bounded(&c.regex, &c.text, 1)?.into_iter().next() {
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
    let matches: Vec<Value> = find_bounded(&c.regex, &c.text, max)?
        .iter()
        .map(|m| describe(m, &c.text))
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
    for m in find_bounded(&c.regex, &c.text, if all { usize::MAX } else { 1 })? {
        out.push_str(&c.text[last..m.start()]);
        out.push_str(&expand(replacement, &m, &c.text));
        last = m.end();
        count += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(action: fn(&ActionInput<'_>) -> Result<Value, Failure>, input: Value) -> Value {
        action(&ActionInput::new("transform.test", &input)).unwrap_or_else(|f| json!(f.code))
    }

    #[test]
    fn catastrophic_backtracking_is_a_catchable_action_error() {
        let text = format!("{}!", "a".repeat(40));
        let input = json!({"text": text, "pattern": "^(a+)+$"});
        for action in [regex_match, regex_extract] {
            let failure = action(&ActionInput::new("transform.regex_match", &input)).unwrap_err();
            assert_eq!(failure.category, crate::error::category::ACTION);
            assert_eq!(failure.code.as_deref(), Some("REGEX_BACKTRACK_LIMIT"));
        }
        let replace = json!({"text": text, "pattern": "^(a+)+$", "replacement": "x"});
        assert_eq!(run(regex_replace, replace), json!("REGEX_BACKTRACK_LIMIT"));
    }

    #[test]
    fn bounded_searches_find_what_the_iterator_finds() {
        for (pattern, text) in [
            ("a*", "baaac"),
            ("", "héllo"),
            ("(?<w>\\w+)", "one two  three"),
            ("x?", ""),
            ("é|$", "aéb"),
        ] {
            let regex = Regex::new(pattern).unwrap();
            let expected: Vec<_> = regex.find_iter(text).map(|m| m.range()).collect();
            let bounded: Vec<_> = find_bounded(&regex, text, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|m| m.range())
                .collect();
            assert_eq!(bounded, expected, "/{pattern}/ on {text:?}");
        }
        assert_eq!(
            run(
                regex_replace,
                json!({"text": "a-b-c", "pattern": "-", "replacement": "+", "replaceAll": false})
            )["text"],
            "a+b-c"
        );
    }
}
