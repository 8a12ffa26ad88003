//! `email.parseBody` and `email.renderCommentBlocks` (dsl-semantics §4.5).
//!
//! Each evaluates its bodies with the node context, calls its action through the action path
//! (an activity, behind the ledger, routable to the product's queue: the product or the host's
//! built-in serves it), and saves the action's answer shaped as the reference's
//! `parseEmailBodyWithFallback` / `renderCommentBlocksWithFallback` shape it. When the action
//! fails or answers `success: false`, the node saves the reference's fallback (the raw body,
//! marked low confidence; one paragraph of the text) instead of failing: an inbound email must
//! become a ticket comment even when the parser is down. The node makes one attempt; `retry`
//! does not apply, as in the reference, where node steps ignore it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::protocol::{ActionInvocation, ActivityOutcome};
use super::run::{Flow, Run};
use super::steps::expression_failure;
use crate::definition::{EmailNode, EmailNodeKind, Step};
use crate::error::{Failure, category};
use crate::expr::js_string;
use crate::scope::NodeTarget;

/// How much of a raw body the parser's metadata keeps (the reference's `truncate`).
const RAW_BODY_LIMIT: usize = 4000;

/// The bodies an email node read: its action's input, and what its fallback is made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailBodies {
    /// The plain-text body (`String(value)`; absent when the expression gave null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl Run {
    /// Starts an email node: its action is scheduled, or (`renderCommentBlocks` without HTML)
    /// its fallback is saved at once.
    pub(super) fn run_email(&mut self, step: &Step, node: &EmailNode, path: &str) -> Flow {
        let bodies = match self.email_bodies(node) {
            Ok(bodies) => bodies,
            Err(failure) => return self.settled(step, Err(failure)),
        };
        let input = match node.kind {
            EmailNodeKind::ParseBody => serde_json::to_value(&bodies).unwrap_or(Value::Null),
            EmailNodeKind::RenderCommentBlocks => match &bodies.html {
                Some(html) if !html.is_empty() => json!({ "html": html }),
                _ => {
                    let saved = self.save_email_result(node, fallback_blocks(&bodies));
                    return self.settled(step, saved);
                }
            },
        };
        let action_id = node.kind.action_id();
        let idempotency_key = self.engine_ledger_key(path, action_id, 1, &input);
        let invocation = ActionInvocation {
            step_path: path.to_owned(),
            step_id: step.id.clone(),
            action_id: action_id.to_owned(),
            action_version: 1,
            attempt: 1,
            input,
            idempotency_key,
            step_config: json!({ "stepType": node.kind.step_type() }),
        };
        self.schedule_action(invocation, None, Some(bodies));
        Flow::Blocked
    }

    /// The node's action ended: its answer, shaped, or the fallback, is saved.
    pub(super) fn email_action_resolved(
        &mut self,
        step: &Step,
        node: &EmailNode,
        path: &str,
        (input, idempotency_key, attempt): (Value, String, u32),
        bodies: &EmailBodies,
        outcome: ActivityOutcome,
    ) -> Flow {
        let failure = match &outcome {
            ActivityOutcome::Completed(_) => None,
            ActivityOutcome::Failed(failure) => Some(failure.clone()),
            ActivityOutcome::Cancelled => Some(Failure::new(
                category::ACTION,
                "the action's activity was cancelled",
            )),
        };
        let action = (node.kind.action_id(), 1);
        self.record_attempt(
            action,
            path,
            attempt,
            input,
            idempotency_key,
            false,
            failure.as_ref(),
        );
        let result = match (node.kind, outcome) {
            // A cancelled activity belongs to a cancelled run: nothing is saved.
            (_, ActivityOutcome::Cancelled) => {
                return self.settled(step, Err(failure.unwrap_or_else(cancelled)));
            }
            (EmailNodeKind::ParseBody, ActivityOutcome::Completed(answer)) => {
                parsed_body(&answer, bodies)
            }
            (EmailNodeKind::ParseBody, ActivityOutcome::Failed(failure)) => {
                parse_fallback(bodies, "parser-error", Some(&failure.message))
            }
            (EmailNodeKind::RenderCommentBlocks, ActivityOutcome::Completed(answer)) => {
                match (answer.get("success"), answer.get("blocks")) {
                    (Some(success), Some(blocks)) if truthy(success) && truthy(blocks) => {
                        blocks.clone()
                    }
                    _ => fallback_blocks(bodies),
                }
            }
            (EmailNodeKind::RenderCommentBlocks, ActivityOutcome::Failed(_)) => {
                fallback_blocks(bodies)
            }
        };
        let saved = self.save_email_result(node, result);
        self.settled(step, saved)
    }

    /// Evaluates `text` and `html` with the node context; null becomes absent, anything else
    /// its string (the reference's `String(value)`).
    fn email_bodies(&mut self, node: &EmailNode) -> Result<EmailBodies, Failure> {
        let mut body = |field: &str, expr: &Option<crate::definition::Expr>| {
            let Some(expr) = expr else {
                return Ok(None);
            };
            let (exprs, now) = (&mut self.exprs, self.facts.now_ms);
            let value = self
                .state
                .scopes
                .with_node_context(|input| exprs.evaluate_input(&expr.source, input, now))
                .map_err(|e| expression_failure(e, &format!("config.{field}"), &expr.source))?;
            Ok::<_, Failure>((!value.is_null()).then(|| js_string(&value)))
        };
        Ok(EmailBodies {
            text: body("text", &node.text)?,
            html: body("html", &node.html)?,
        })
    }

    fn save_email_result(&mut self, node: &EmailNode, value: Value) -> Result<Flow, Failure> {
        let target = NodeTarget::parse(&node.save_as)
            .map_err(|e| Failure::new(category::VALIDATION, e.to_string()))?;
        self.state.scopes.assign_node(&target, value);
        Ok(Flow::Done {
            attempt: 1,
            handled: None,
        })
    }
}

fn cancelled() -> Failure {
    Failure::new(category::ACTION, "the action's activity was cancelled")
}

/// `parse_email_reply`'s answer as the reference's node saves it.
fn parsed_body(answer: &Value, bodies: &EmailBodies) -> Value {
    let parsed = match (answer.get("success"), answer.get("parsed")) {
        (Some(success), Some(parsed)) if truthy(success) && truthy(parsed) => parsed,
        _ => return parse_fallback(bodies, "parser-unavailable", None),
    };
    let field = |name: &str| parsed.get(name).filter(|v| truthy(v));
    let mut parser = Map::new();
    for (key, from) in [
        ("confidence", "confidence"),
        ("strategy", "strategy"),
        ("heuristics", "appliedHeuristics"),
        ("warnings", "warnings"),
    ] {
        if let Some(value) = parsed.get(from) {
            parser.insert(key.into(), value.clone());
        }
    }
    parser.insert(
        "tokens".into(),
        field("tokens").cloned().unwrap_or(Value::Null),
    );
    if parsed.get("confidence").and_then(Value::as_str) == Some("low") {
        insert_raw_bodies(&mut parser, bodies);
    }
    let mut result = Map::new();
    result.insert(
        "sanitizedText".into(),
        field("sanitizedText")
            .cloned()
            .unwrap_or_else(|| Value::String(bodies.text.clone().unwrap_or_default())),
    );
    if let Some(html) = field("sanitizedHtml") {
        result.insert("sanitizedHtml".into(), html.clone());
    }
    result.insert(
        "confidence".into(),
        field("confidence").cloned().unwrap_or_else(|| json!("low")),
    );
    result.insert("metadata".into(), json!({ "parser": parser }));
    Value::Object(result)
}

/// What `email.parseBody` saves when its parser is unavailable or failed: the raw body, marked
/// low confidence, with the reason.
fn parse_fallback(bodies: &EmailBodies, warning: &str, error: Option<&str>) -> Value {
    let mut parser = Map::new();
    parser.insert("confidence".into(), json!("low"));
    parser.insert("warnings".into(), json!([warning]));
    if let Some(error) = error {
        parser.insert("error".into(), json!(error));
    }
    insert_raw_bodies(&mut parser, bodies);
    let mut result = Map::new();
    result.insert(
        "sanitizedText".into(),
        json!(bodies.text.clone().unwrap_or_default()),
    );
    if let Some(html) = &bodies.html {
        result.insert("sanitizedHtml".into(), json!(html));
    }
    result.insert("confidence".into(), json!("low"));
    result.insert("metadata".into(), json!({ "parser": parser }));
    Value::Object(result)
}

fn insert_raw_bodies(parser: &mut Map<String, Value>, bodies: &EmailBodies) {
    for (key, body) in [("rawText", &bodies.text), ("rawHtml", &bodies.html)] {
        if let Some(body) = body.as_deref().filter(|b| !b.is_empty()) {
            parser.insert(key.into(), Value::String(truncated(body)));
        }
    }
}

/// The first [`RAW_BODY_LIMIT`] characters and `...`, or the whole body when it is shorter.
fn truncated(body: &str) -> String {
    match body.char_indices().nth(RAW_BODY_LIMIT) {
        Some((end, _)) => format!("{}...", &body[..end]),
        None => body.to_owned(),
    }
}

/// What `email.renderCommentBlocks` saves without HTML or a converter: one paragraph of the
/// text.
fn fallback_blocks(bodies: &EmailBodies) -> Value {
    let text = bodies.text.clone().unwrap_or_default();
    json!([{ "type": "paragraph", "content": [{ "type": "text", "text": text }] }])
}

/// JavaScript truthiness, which the reference's checks of the action's answer use.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(text: &str, html: Option<&str>) -> EmailBodies {
        EmailBodies {
            text: Some(text.into()),
            html: html.map(Into::into),
        }
    }

    #[test]
    fn a_parsed_answer_is_reshaped_and_a_missing_text_falls_back_to_the_raw_body() {
        let answer = json!({"success": true, "parsed": {
            "sanitizedText": "", "confidence": "low", "strategy": "plain",
            "appliedHeuristics": ["on-wrote"], "warnings": [], "tokens": null}});
        let saved = parsed_body(&answer, &bodies("Hi\n\nOn Mon wrote:\n> x", None));
        assert_eq!(saved["sanitizedText"], "Hi\n\nOn Mon wrote:\n> x");
        assert_eq!(saved["confidence"], "low");
        assert_eq!(
            saved["metadata"]["parser"]["heuristics"],
            json!(["on-wrote"])
        );
        assert_eq!(saved["metadata"]["parser"]["tokens"], Value::Null);
        assert_eq!(
            saved["metadata"]["parser"]["rawText"],
            "Hi\n\nOn Mon wrote:\n> x"
        );
        assert!(saved.get("sanitizedHtml").is_none());
    }

    #[test]
    fn an_unsuccessful_answer_and_a_failure_save_the_fallback_with_the_reason() {
        let unavailable = parsed_body(
            &json!({"success": false}),
            &bodies("body", Some("<p>b</p>")),
        );
        assert_eq!(
            unavailable["metadata"]["parser"]["warnings"],
            json!(["parser-unavailable"])
        );
        assert_eq!(unavailable["sanitizedHtml"], "<p>b</p>");
        let failed = parse_fallback(&bodies("body", None), "parser-error", Some("down"));
        assert_eq!(failed["metadata"]["parser"]["error"], "down");
        assert_eq!(failed["confidence"], "low");
    }

    #[test]
    fn raw_bodies_are_cut_at_four_thousand_characters() {
        let long = "é".repeat(RAW_BODY_LIMIT + 10);
        let cut = truncated(&long);
        assert_eq!(cut.chars().count(), RAW_BODY_LIMIT + 3);
        assert!(cut.ends_with("..."));
        assert_eq!(truncated("short"), "short");
    }

    #[test]
    fn the_blocks_fallback_is_one_paragraph_of_the_text() {
        assert_eq!(
            fallback_blocks(&EmailBodies::default()),
            json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}])
        );
    }
}
