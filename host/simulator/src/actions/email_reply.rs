//! `parse_email_reply@1`, built in: the new part of an inbound reply, without the quoted
//! thread, the signature or anything unsafe in its HTML.
//!
//! Good enough for development and tests, and a sane default; the product serves its own
//! parser by routing the action to its queue (`--action-queue parse_email_reply@1=QUEUE`).
//! The HTML goes through a real parser (`scraper`, html5ever) to drop the quote containers mail
//! clients mark, then through `ammonia`, which removes scripts, event handlers and
//! `javascript:` links. The text is cut at the first line that starts a quoted thread.

use std::sync::LazyLock;

use alga_protocol::error::{Failure, category};
use regex::Regex;
use scraper::{Html, Selector};
use serde_json::{Value, json};

/// Containers mail clients put the quoted thread in, removed with everything inside.
const QUOTE_CONTAINERS: &str = "blockquote[type=cite], .gmail_quote, .gmail_attr, \
     .yahoo_quoted, .moz-cite-prefix, .protonmail_quote, blockquote.zmail_extra";

/// Outlook's markers: the quoted thread is the marker and everything after it.
const QUOTE_STARTS: &str =
    "#appendonsend, #divRplyFwdMsg, #mail-editor-reference-message-container";

/// A line that opens a quoted thread, and the heuristic it stands for. Checked in order.
static THREAD_STARTS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("reply-marker", r"(?i)^\W*(please )?reply above this line\W*$"),
        (
            "on-wrote",
            r"(?i)^\s*(on|le|am|el|il|op)\s.{4,}(wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:\s*$",
        ),
        ("original-message", r"(?i)^\s*-{2,}\s*original message\s*-{2,}\s*$"),
        ("forwarded-message", r"(?i)^\s*-{2,}\s*forwarded message\s*-{2,}\s*$"),
        ("outlook-header", r"^\s*_{10,}\s*$"),
        ("outlook-header", r"(?i)^\s*\**from:\**\s.+$"),
    ]
    .into_iter()
    .map(|(name, pattern)| (name, Regex::new(pattern).expect("a valid built-in pattern")))
    .collect()
});

/// A line that opens a signature.
static SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(--\s?|sent from my \w+.*|get outlook for \w+.*)$")
        .expect("a valid built-in pattern")
});

/// `On … wrote:` wrapped over two lines by the sender's client.
static ON_WROTE_WRAPPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(on|le|am|el|il|op)\s.{4,}$").expect("a valid built-in pattern")
});

/// Runs the action: `{text?, html?, config?}` → `{success, parsed}`.
pub fn parse_email_reply(input: &Value) -> Result<Value, Failure> {
    let body = |field: &str| match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(Failure::new(
            category::VALIDATION,
            format!(
                "parse_email_reply: `{field}` must be a string, found {}",
                alga_interpreter::definition::json_type(other)
            ),
        )),
    };
    let (text, html) = (body("text")?, body("html")?);
    let mut heuristics = Vec::new();
    let mut warnings = Vec::new();
    // HTML too large or deep to parse in reasonable time is left out; its text is still read.
    let unparsed = html.filter(|html| super::html_limits::unparseable(html).is_some());
    if unparsed.is_some() {
        warnings.push("html-not-parsed");
    }
    let parsed_html = html.filter(|_| unparsed.is_none());
    let sanitized_html = parsed_html.map(|html| sanitized_reply_html(html, &mut heuristics));
    let source_text = match (text, &sanitized_html, unparsed) {
        (Some(text), _, _) => Some(text.replace("\r\n", "\n")),
        (None, Some(html), _) => Some(html_text(html)),
        (None, None, Some(html)) => Some(super::html_limits::stripped_text(html)),
        (None, None, None) => None,
    };
    let sanitized_text = source_text.as_deref().map(|text| {
        let reply = reply_text(text, &mut heuristics);
        if reply.is_empty() && !text.trim().is_empty() {
            warnings.push("empty-after-stripping");
            text.trim().to_owned()
        } else {
            reply
        }
    });
    let definite = heuristics
        .iter()
        .any(|h| !matches!(*h, "quoted-lines" | "signature"));
    let confidence = if !warnings.is_empty() || source_text.is_none() {
        "low"
    } else if definite {
        "high"
    } else {
        "medium"
    };
    let strategy = match (text.is_some(), html.is_some()) {
        (_, true) if !heuristics.is_empty() => "html-and-text",
        (true, _) => "text",
        (false, true) => "html",
        (false, false) => "empty",
    };
    heuristics.dedup();
    Ok(json!({
        "success": true,
        "parsed": {
            "sanitizedText": sanitized_text.unwrap_or_default(),
            "sanitizedHtml": sanitized_html,
            "confidence": confidence,
            "strategy": strategy,
            "appliedHeuristics": heuristics,
            "warnings": warnings,
            "tokens": null,
        }
    }))
}

/// The reply's text: lines up to the first that opens a quoted thread or a signature,
/// trailing blank lines dropped.
fn reply_text(text: &str, heuristics: &mut Vec<&'static str>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if let Some(heuristic) = thread_start(&lines, i) {
            heuristics.push(heuristic);
            end = i;
            break;
        }
        if SIGNATURE.is_match(line.trim_end()) {
            heuristics.push("signature");
            end = i;
            break;
        }
        if line.starts_with('>')
            && lines[i..]
                .iter()
                .all(|l| l.trim().is_empty() || l.starts_with('>'))
        {
            heuristics.push("quoted-lines");
            end = i;
            break;
        }
    }
    lines[..end].join("\n").trim_end().to_owned()
}

/// Whether line `i` opens a quoted thread: an `On … wrote:` line (also wrapped onto the next
/// line), a separator, or a `From:` header followed by the other headers of a quoted message.
fn thread_start(lines: &[&str], i: usize) -> Option<&'static str> {
    let line = lines[i];
    for (heuristic, pattern) in THREAD_STARTS.iter() {
        if !pattern.is_match(line) {
            continue;
        }
        if *heuristic == "outlook-header" && line.to_lowercase().contains("from:") {
            // A `From:` line alone is too common in a reply's own text.
            let headers = lines[i + 1..]
                .iter()
                .take(4)
                .filter(|l| {
                    let l = l.trim_start_matches('*').to_lowercase();
                    ["sent:", "date:", "to:", "subject:"]
                        .iter()
                        .any(|h| l.trim_start().starts_with(h))
                })
                .count();
            if headers < 2 {
                continue;
            }
        }
        return Some(heuristic);
    }
    let wrapped = lines.get(i + 1).is_some_and(|next| {
        ON_WROTE_WRAPPED.is_match(line) && next.trim_end().to_lowercase().ends_with("wrote:")
    });
    wrapped.then_some("on-wrote")
}

/// The HTML without the quoted thread, then sanitized.
fn sanitized_reply_html(html: &str, heuristics: &mut Vec<&'static str>) -> String {
    let mut document = Html::parse_document(html);
    let containers = Selector::parse(QUOTE_CONTAINERS).expect("a valid built-in selector");
    let starts = Selector::parse(QUOTE_STARTS).expect("a valid built-in selector");
    let mut removed = Vec::new();
    for element in document.select(&containers) {
        removed.push(element.id());
    }
    if !removed.is_empty() {
        heuristics.push("html-quote");
    }
    let mut cut = false;
    for start in document.select(&starts) {
        let mut next = Some(*start);
        while let Some(node) = next {
            removed.push(node.id());
            next = node.next_sibling();
        }
        cut = true;
    }
    if cut {
        heuristics.push("outlook-divider");
    }
    for id in removed {
        if let Some(mut node) = document.tree.get_mut(id) {
            node.detach();
        }
    }
    let body = Selector::parse("body").expect("a valid built-in selector");
    let inner = document
        .select(&body)
        .next()
        .map_or_else(|| document.root_element().inner_html(), |b| b.inner_html());
    ammonia::clean(&inner).trim().to_owned()
}

/// The text of sanitized HTML, a line per block.
fn html_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut text = String::new();
    super::html_blocks::visit_text(fragment.root_element(), &mut text, 0);
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: Value) -> Value {
        parse_email_reply(&input).expect("parses")["parsed"].clone()
    }

    #[test]
    fn the_quoted_thread_after_on_wrote_is_cut() {
        let p = parsed(
            json!({"text": "Thanks, that fixed it.\n\nOn Mon, 1 Dec 2026 at 10:00, Support <help@example.com> wrote:\n> Try restarting.\n> Regards"}),
        );
        assert_eq!(p["sanitizedText"], "Thanks, that fixed it.");
        assert_eq!(p["confidence"], "high");
        assert_eq!(p["appliedHeuristics"], json!(["on-wrote"]));
    }

    #[test]
    fn a_wrapped_on_wrote_and_an_outlook_header_are_cut() {
        let p = parsed(
            json!({"text": "Yes.\nOn Mon, 1 Dec 2026, Support Team\n<help@example.com> wrote:\n> old"}),
        );
        assert_eq!(p["sanitizedText"], "Yes.");
        let p = parsed(
            json!({"text": "Done.\r\n\r\nFrom: Support <help@example.com>\r\nSent: Monday\r\nTo: Me\r\nSubject: Re: printer\r\n\r\nold"}),
        );
        assert_eq!(p["sanitizedText"], "Done.");
        let p = parsed(json!({"text": "From: the printer room, it works now."}));
        assert_eq!(p["sanitizedText"], "From: the printer room, it works now.");
    }

    #[test]
    fn trailing_quotes_and_signatures_are_cut_with_medium_confidence() {
        let p = parsed(json!({"text": "Works now\n\n> earlier text\n> more"}));
        assert_eq!(p["sanitizedText"], "Works now");
        assert_eq!(p["confidence"], "medium");
        let p = parsed(json!({"text": "See below\n-- \nJane"}));
        assert_eq!(p["sanitizedText"], "See below");
    }

    #[test]
    fn a_reply_that_is_all_quote_keeps_its_text_with_low_confidence() {
        let p = parsed(json!({"text": "> only a quote"}));
        assert_eq!(p["sanitizedText"], "> only a quote");
        assert_eq!(p["confidence"], "low");
        assert_eq!(p["warnings"], json!(["empty-after-stripping"]));
    }

    #[test]
    fn html_loses_its_quote_and_anything_unsafe() {
        let html = r#"<div dir="ltr"><p>Please help with the printer.</p><script>alert(1)</script><img src="x" onerror="alert(2)"><a href="https://example.invalid/help">help</a> <a href="javascript:alert(3)">x</a></div><div class="gmail_quote"><div class="gmail_attr">On Mon wrote:</div><blockquote>old thread</blockquote></div>"#;
        let p = parsed(json!({ "html": html }));
        let clean = p["sanitizedHtml"].as_str().expect("html");
        assert!(clean.contains("Please help with the printer."), "{clean}");
        assert!(clean.contains("https://example.invalid/help"), "{clean}");
        for unsafe_part in ["<script", "onerror", "javascript:", "alert(", "old thread"] {
            assert!(!clean.contains(unsafe_part), "{unsafe_part} in {clean}");
        }
        assert!(
            p["sanitizedText"]
                .as_str()
                .expect("text")
                .starts_with("Please help")
        );
        assert_eq!(p["strategy"], "html-and-text");
    }

    #[test]
    fn outlooks_divider_drops_everything_after_it() {
        let html = r#"<p>New answer</p><div id="appendonsend"></div><hr><p>From: x</p><p>old</p>"#;
        let p = parsed(json!({ "html": html }));
        assert_eq!(p["sanitizedHtml"], "<p>New answer</p>");
    }

    #[test]
    fn a_body_of_the_wrong_type_is_a_validation_error() {
        let failure = parse_email_reply(&json!({"text": 3})).expect_err("refused");
        assert_eq!(failure.category, category::VALIDATION);
    }
}
