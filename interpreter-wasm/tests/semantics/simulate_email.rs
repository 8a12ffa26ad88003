//! The inbound-email nodes (`email.parseBody`, `email.renderCommentBlocks`, dsl-semantics §4.5)
//! on the real component and natively: their actions go through the action path (the report's
//! actions, scripted stand-ins), the built-in parser and converter serve them otherwise, and a
//! failed action leaves the reference's fallback instead of a failed step.

use crate::common::{definition, simulate};
use serde_json::{Value, json};

const THREAD: &str = "Thanks, it works now.\n\nOn Mon, 30 Nov 2026 at 09:12, Support <support@example.com> wrote:\n> Did you restart it?";

fn parse_body(config: Value) -> Value {
    json!({"id": "parse", "type": "email.parseBody", "config": config})
}

fn render_blocks(config: Value) -> Value {
    json!({"id": "render", "type": "email.renderCommentBlocks", "config": config})
}

fn actions_of<'a>(report: &'a Value, action_id: &str) -> Vec<&'a Value> {
    report["actions"]
        .as_array()
        .map(|actions| {
            actions
                .iter()
                .filter(|a| a["actionId"] == action_id)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn parse_body_strips_the_quoted_thread_through_the_built_in_parser() {
    let report = simulate(json!({
        "definition": definition(json!([
            parse_body(json!({"text": {"$expr": "payload.text"}, "html": {"$expr": "payload.html"}})),
            {"id": "again", "type": "email.parseBody",
                "config": {"text": {"$expr": "payload.text"}, "saveAs": "parsedAgain"}}
        ])),
        "payload": {"text": THREAD, "html": "<p>Thanks, it <b>works</b> now.</p><blockquote type=\"cite\">Did you restart it?</blockquote><script>steal()</script>"}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    let parsed = &report["scopes"]["payload"]["parsedEmail"];
    assert_eq!(
        parsed["sanitizedText"], "Thanks, it works now.",
        "{parsed:#}"
    );
    assert_eq!(parsed["confidence"], "high");
    let html = parsed["sanitizedHtml"].as_str().unwrap_or_default();
    assert!(
        html.contains("<b>works</b>") && !html.contains("restart") && !html.contains("steal"),
        "{html}"
    );
    assert!(
        parsed["metadata"]["parser"]["heuristics"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
    assert_eq!(
        report["scopes"]["vars"]["parsedAgain"]["sanitizedText"], "Thanks, it works now.",
        "a bare saveAs is a variable"
    );
    let calls = actions_of(&report, "parse_email_reply");
    assert_eq!(
        calls.len(),
        2,
        "each node calls its action once: {report:#}"
    );
    assert_eq!(calls[0]["input"]["text"], THREAD);
    assert!(
        calls[0]["idempotencyKey"]
            .as_str()
            .unwrap_or_default()
            .contains("root.steps[0]")
    );
}

#[test]
fn a_failed_or_unavailable_parser_leaves_the_raw_body_with_low_confidence() {
    for (scripted, warning) in [
        (
            json!([{"error": {"category": "TransientError", "message": "parser down"}}]),
            "parser-error",
        ),
        (
            json!([{"output": {"success": false, "parsed": null}}]),
            "parser-unavailable",
        ),
    ] {
        let report = simulate(json!({
            "definition": definition(json!([
                parse_body(json!({"text": {"$expr": "payload.text"}, "html": {"$expr": "coalesce(payload.missing, null)"}}))
            ])),
            "payload": {"text": THREAD},
            "actions": {"parse_email_reply@1": scripted}
        }));
        assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
        assert_eq!(report["steps"][0]["status"], "SUCCEEDED");
        let parsed = &report["scopes"]["payload"]["parsedEmail"];
        assert_eq!(parsed["sanitizedText"], THREAD, "{parsed:#}");
        assert_eq!(parsed["confidence"], "low");
        assert_eq!(parsed["metadata"]["parser"]["warnings"], json!([warning]));
        assert_eq!(parsed["metadata"]["parser"]["rawText"], THREAD);
        assert!(
            parsed.get("sanitizedHtml").is_none(),
            "a null html is absent"
        );
        assert_eq!(
            actions_of(&report, "parse_email_reply").len(),
            1,
            "one attempt, no retry"
        );
    }
}

#[test]
fn render_blocks_converts_html_and_falls_back_to_a_paragraph_of_text() {
    let report = simulate(json!({
        "definition": definition(json!([
            render_blocks(json!({"html": {"$expr": "payload.html"}, "text": {"$expr": "payload.text"}}))
        ])),
        "payload": {"html": "<p>Keep <i>this</i></p><ul><li>one</li></ul>", "text": "Keep this"}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["payload"]["commentBlocks"],
        json!([
            {"type": "paragraph", "content": [{"type": "text", "text": "Keep "},
                {"type": "text", "text": "this", "styles": {"italic": true}}]},
            {"type": "bulletListItem", "content": [{"type": "text", "text": "one"}]}
        ])
    );
    let fallback =
        json!([{"type": "paragraph", "content": [{"type": "text", "text": "Keep this"}]}]);
    // No HTML: no action call at all.
    let report = simulate(json!({
        "definition": definition(json!([render_blocks(json!({"text": {"$expr": "payload.text"}, "saveAs": "vars.blocks"}))])),
        "payload": {"text": "Keep this"}
    }));
    assert_eq!(report["scopes"]["vars"]["blocks"], fallback, "{report:#}");
    assert!(actions_of(&report, "convert_html_to_blocks").is_empty());
    // A converter that fails or says it could not.
    for scripted in [
        json!([{"error": {"category": "ActionError", "message": "no converter"}}]),
        json!([{"output": {"success": false, "blocks": []}}]),
    ] {
        let report = simulate(json!({
            "definition": definition(json!([
                render_blocks(json!({"html": {"$expr": "payload.html"}, "text": {"$expr": "payload.text"}}))
            ])),
            "payload": {"html": "<p>Keep this</p>", "text": "Keep this"},
            "actions": {"convert_html_to_blocks@1": scripted}
        }));
        assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
        assert_eq!(report["scopes"]["payload"]["commentBlocks"], fallback);
    }
}

#[test]
fn a_body_expression_that_fails_fails_the_step_with_its_field() {
    let report = simulate(json!({
        "definition": definition(json!([parse_body(json!({"text": {"$expr": "payload.nothing.here"}}))])),
        "payload": {}
    }));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "ExpressionError");
    assert_eq!(report["error"]["nodePath"], "root.steps[0]");
    assert_eq!(report["error"]["details"]["field"], "config.text");
}
