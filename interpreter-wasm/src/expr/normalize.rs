//! Source normalisation (dsl-semantics §5.1): `==` becomes `=`, and a bare call to an
//! allow-listed function (`len(x)`) gets its `$`.
//!
//! Unlike the reference engine, string literals, quoted names and comments are left alone, so
//! `"a==b"` stays the string `a==b` (recorded in docs/divergences.md).

use super::ALLOWED_FUNCTIONS;

/// Returns the source with the workflow language's shorthand expanded.
pub fn normalize(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                let end = literal_end(&chars, i, c);
                out.extend(&chars[i..end]);
                i = end;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let end = comment_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push('=');
                i += 2;
            }
            c if is_ident_start(c) => {
                let end = (i..chars.len())
                    .find(|&j| !is_ident_char(chars[j]))
                    .unwrap_or(chars.len());
                let word: String = chars[i..end].iter().collect();
                if ALLOWED_FUNCTIONS.contains(&word.as_str())
                    && !preceded_by_path_or_name(&chars, i)
                    && followed_by_call(&chars, end)
                {
                    out.push('$');
                }
                out.push_str(&word);
                i = end;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn preceded_by_path_or_name(chars: &[char], i: usize) -> bool {
    i > 0 && (matches!(chars[i - 1], '.' | '$') || is_ident_char(chars[i - 1]))
}

fn followed_by_call(chars: &[char], mut j: usize) -> bool {
    while j < chars.len() && chars[j].is_whitespace() {
        j += 1;
    }
    chars.get(j) == Some(&'(')
}

/// Index just past the literal that starts at `start` with `quote` (backslash escapes in
/// strings; backtick names have none).
fn literal_end(chars: &[char], start: usize, quote: char) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

fn comment_end(chars: &[char], start: usize) -> usize {
    let mut j = start + 2;
    while j + 1 < chars.len() {
        if chars[j] == '*' && chars[j + 1] == '/' {
            return j + 2;
        }
        j += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn expands_shorthand_outside_literals() {
        assert_eq!(normalize("a == 1"), "a = 1");
        assert_eq!(normalize("len(x) > 0"), "$len(x) > 0");
        assert_eq!(normalize("$len(x)"), "$len(x)");
        assert_eq!(normalize("a.len(x)"), "a.len(x)");
        assert_eq!(normalize("mylen(x)"), "mylen(x)");
        assert_eq!(normalize("len"), "len");
        assert_eq!(normalize("\"a==b\" & 'len(x)'"), "\"a==b\" & 'len(x)'");
        assert_eq!(
            normalize("/* == */ coalesce (a, 1)"),
            "/* == */ $coalesce (a, 1)"
        );
    }
}
