//! What HTML the built-in email actions refuse to parse: the HTML parser's work grows with the
//! square of the nesting (each tag looks through the elements still open), so a hostile email
//! of nothing but opening tags would hold a worker thread for minutes. Such HTML is measured
//! with a linear scan first, and only its text is kept.

/// The deepest nesting of elements an email's HTML may have to be parsed at all.
const MAX_HTML_NESTING: usize = 512;

/// The largest HTML parsed, for the same reason.
const MAX_HTML_BYTES: usize = 4 << 20;

/// Why `html` is not parsed, if it is too large or nested too deep (a linear scan of its tags,
/// counting every unclosed one, as the parser would).
pub fn unparseable(html: &str) -> Option<String> {
    if html.len() > MAX_HTML_BYTES {
        return Some(format!("the HTML is over {MAX_HTML_BYTES} bytes"));
    }
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'<') {
        i += offset + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(bytes.len(), |n| i + n);
                let name = html[i..end].to_ascii_lowercase();
                // Only a tag's own attributes are looked through (a tag never closed must not
                // make the scan quadratic).
                let close = bytes[end..]
                    .iter()
                    .take(4096)
                    .position(|b| *b == b'>')
                    .map(|n| end + n);
                let self_closing = close.is_some_and(|c| c > 0 && bytes[c - 1] == b'/');
                if !VOID.contains(&name.as_str()) && !self_closing {
                    depth += 1;
                    if depth > MAX_HTML_NESTING {
                        return Some(format!(
                            "the HTML nests elements over {MAX_HTML_NESTING} deep"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// The text of HTML that is not parsed: everything outside tags, whitespace collapsed.
pub fn stripped_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
