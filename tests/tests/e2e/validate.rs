//! `alga-wf validate`: every rule of dsl-semantics §2–4 and §13 that needs no database, with
//! codes and paths, through the real component.

use crate::common;

use crate::common::{definition, error_codes, validate};
use serde_json::{Value, json};

fn has(report: &Value, code: &str, path: &str) -> bool {
    error_codes(report)
        .iter()
        .any(|(c, p)| c == code && p == path)
}

fn assert_error(steps: Value, code: &str, path: &str) {
    let (status, report) = validate(&definition(steps));
    assert_eq!(status, 2, "{report:#}");
    assert_eq!(report["ok"], false);
    assert!(
        has(&report, code, path),
        "expected {code} at {path}: {report:#}"
    );
}

#[test]
fn a_valid_definition_passes() {
    let (status, report) = validate(&definition(json!([
        {"id": "a", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": {"$expr": "payload.x"}, "lit": [1, {"k": {"$expr": "len('ab')"}}],
                             "key": {"$secret": "API_KEY"}},
            "saveAs": "vars.out", "idempotencyKey": {"$expr": "payload.id"}}},
        {"id": "b", "type": "control.if", "condition": {"$expr": "vars.out.value == 1"},
            "then": [{"id": "c", "type": "state.set", "config": {"state": "ONE"}}],
            "else": [{"id": "d", "type": "control.return"}]}
    ])));
    assert_eq!(status, 0, "{report:#}");
    assert_eq!(report, json!({"ok": true, "errors": [], "warnings": []}));
}

#[test]
fn unknown_keys_are_rejected_at_every_level() {
    let mut def = definition(json!([{"id": "a", "type": "control.return", "extra": 1}]));
    def["colour"] = json!("blue");
    let (status, report) = validate(&def);
    assert_eq!(status, 2);
    assert!(
        has(&report, "INVALID_WORKFLOW_DEFINITION", "colour"),
        "{report:#}"
    );
    assert!(
        has(&report, "INVALID_WORKFLOW_DEFINITION", "steps[0].extra"),
        "{report:#}"
    );
}

#[test]
fn required_top_level_fields_are_named() {
    let (status, report) = validate(&json!({"id": "x", "version": 0, "steps": []}));
    assert_eq!(status, 2);
    for path in ["version", "name", "payloadSchemaRef"] {
        assert!(
            has(&report, "INVALID_WORKFLOW_DEFINITION", path),
            "{path}: {report:#}"
        );
    }
}

#[test]
fn duplicate_step_ids_are_found_across_nesting() {
    assert_error(
        json!([{"id": "a", "type": "control.if", "condition": {"$expr": "true"},
            "then": [{"id": "a", "type": "control.return"}]}]),
        "DUPLICATE_STEP_ID",
        "root.steps[0].then.steps[0]",
    );
    assert_error(
        json!([{"id": "t", "type": "control.tryCatch", "try": [{"id": "x", "type": "control.return"}],
            "catch": [{"id": "y", "type": "control.forEach", "items": {"$expr": "[1]"}, "itemVar": "i",
                "body": [{"id": "x", "type": "control.return"}]}]}]),
        "DUPLICATE_STEP_ID",
        "root.steps[0].catch.steps[0].body.steps[0]",
    );
}

#[test]
fn expressions_are_compiled_under_the_language_rules() {
    let cases = [
        ("payload.a +", "syntax"),
        ("$count(payload.items)", "disallowed function: count"),
        ("$string(1)", "disallowed function: string"),
        ("function($x){$x}(1)", "lambda"),
        ("payload ~> $uppercase", "disallowed function: uppercase"),
    ];
    for (source, _) in cases {
        assert_error(
            json!([{"id": "a", "type": "control.if", "condition": {"$expr": source}, "then": []}]),
            "INVALID_EXPR",
            "root.steps[0]",
        );
    }
    let (_, report) = validate(&definition(json!([{"id": "a", "type": "control.if",
        "condition": {"$expr": "$count(x) > 0"}, "then": []}])));
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("disallowed function: count"), "{message}");
    assert!(
        message.contains("len"),
        "a suggestion is offered: {message}"
    );
}

#[test]
fn the_five_functions_are_allowed_with_or_without_dollar() {
    let (status, report) = validate(&definition(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {
            "vars.a": {"$expr": "nowIso()"},
            "vars.b": {"$expr": "$coalesce(payload.x, 'd')"},
            "vars.c": {"$expr": "len('abc') + $len([1])"},
            "vars.d": {"$expr": "toString(1) & $toString(2)"},
            "vars.e": {"$expr": "append([1], 2) ~> $append(3)"}
        }}}]),
    ));
    assert_eq!(status, 0, "{report:#}");
}

#[test]
fn expressions_must_be_expression_objects() {
    assert_error(
        json!([{"id": "a", "type": "control.if", "condition": "payload.x", "then": []}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].condition",
    );
    // Extra keys next to $expr are dropped, as the reference's normalisation does.
    let (status, report) = validate(&definition(json!([{"id": "a", "type": "control.if",
        "condition": {"$expr": "true", "note": "ignored"}, "then": []}])));
    assert_eq!(status, 0, "{report:#}");
}

#[test]
fn unknown_node_types_get_a_suggestion() {
    let (status, report) = validate(&definition(
        json!([{"id": "a", "type": "action.cal", "config": {}}]),
    ));
    assert_eq!(status, 2);
    assert!(
        has(&report, "UNKNOWN_NODE_TYPE", "steps[0].type"),
        "{report:#}"
    );
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("action.call")
    );
    // An unknown `control.*` type is an unknown node type too, as the reference reports it.
    assert_error(
        json!([{"id": "a", "type": "control.loop"}]),
        "UNKNOWN_NODE_TYPE",
        "steps[0].type",
    );
    let (_, report) = validate(&definition(json!([{"id": "a", "type": "control.iff"}])));
    assert!(
        has(&report, "UNKNOWN_NODE_TYPE", "steps[0].type")
            && report["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Did you mean `control.if`")),
        "{report:#}"
    );
    assert_error(
        json!([{"id": "a"}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].type",
    );
}

#[test]
fn node_configs_are_checked() {
    assert_error(
        json!([{"id": "a", "type": "state.set", "config": {}}]),
        "INVALID_CONFIG",
        "steps[0].config.state",
    );
    assert_error(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {}, "more": 1}}]),
        "INVALID_CONFIG",
        "steps[0].config.more",
    );
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"inputMapping": {}}}]),
        "INVALID_ACTION_CONFIG",
        "steps[0].config.actionId",
    );
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "test.echo", "version": 0}}]),
        "INVALID_ACTION_CONFIG",
        "steps[0].config.version",
    );
    assert_error(
        json!([{"id": "a", "type": "human.task", "config": {"taskType": "t"}}]),
        "INVALID_CONFIG",
        "steps[0].config.title",
    );
}

#[test]
fn mappings_check_secrets_and_special_keys() {
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"k": {"$secret": ""}}}}]),
        "INVALID_SECRET_NAME",
        "steps[0].config.inputMapping.k.$secret",
    );
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"k": {"$exp": "1"}}}}]),
        "UNKNOWN_SPECIAL_KEY",
        "steps[0].config.inputMapping.k.$exp",
    );
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"k": {"$expr": ""}}}}]),
        "EMPTY_EXPRESSION",
        "root.steps[0]",
    );
    // callWorkflow mappings take expressions only.
    assert_error(
        json!([{"id": "a", "type": "control.callWorkflow", "workflowId": "w", "workflowVersion": 1,
            "inputMapping": {"x": 1}}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].inputMapping.x",
    );
}

#[test]
fn assignment_paths_are_checked() {
    assert_error(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {"x.y": {"$expr": "1"}}}}]),
        "INVALID_ASSIGN_PATH",
        "root.steps[0]",
    );
    assert_error(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {"vars.__proto__.x": {"$expr": "1"}}}}]),
        "INVALID_ASSIGN_PATH",
        "root.steps[0]",
    );
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "saveAs": "vars.constructor"}}]),
        "INVALID_ASSIGN_PATH",
        "root.steps[0]",
    );
}

#[test]
fn for_each_concurrency_above_one_is_rejected() {
    assert_error(
        json!([{"id": "a", "type": "control.forEach", "items": {"$expr": "[1]"}, "itemVar": "i",
            "concurrency": 2, "body": []}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].concurrency",
    );
    assert_error(
        json!([{"id": "a", "type": "control.forEach", "items": {"$expr": "[1]"}, "itemVar": "i",
            "concurrency": 0, "body": []}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].concurrency",
    );
}

#[test]
fn wait_configs_and_filters_are_checked() {
    assert_error(
        json!([{"id": "w", "type": "event.wait", "config": {"eventName": "E", "correlationKey": {"$expr": "'k'"},
            "filters": [{"path": "a", "op": "in", "value": 1}]}}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].config.filters[0].value",
    );
    assert_error(
        json!([{"id": "w", "type": "event.wait", "config": {"eventName": "E", "correlationKey": {"$expr": "'k'"},
            "filters": [{"path": "a", "op": "exists", "value": 1}]}}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].config.filters[0].value",
    );
    assert_error(
        json!([{"id": "w", "type": "event.wait", "config": {"eventName": "E"}}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].config.correlationKey",
    );
    assert_error(
        json!([{"id": "w", "type": "time.wait", "config": {"mode": "duration"}}]),
        "INVALID_WORKFLOW_DEFINITION",
        "steps[0].config.durationMs",
    );
}

#[test]
fn unknown_actions_are_reported_and_remote_actions_accepted() {
    let def = definition(json!([{"id": "a", "type": "action.call",
        "config": {"actionId": "email.send", "version": 1}}]));
    let (status, report) = validate(&def);
    assert_eq!(status, 2);
    assert!(
        has(&report, "UNKNOWN_ACTION", "root.steps[0]"),
        "{report:#}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("def.json");
    std::fs::write(&file, def.to_string()).unwrap();
    let out = common::alga_wf(&[
        "--remote-action",
        "email.send@1",
        "validate",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn trigger_rules_are_checked() {
    let mut def = definition(json!([]));
    def["trigger"] =
        json!({"type": "event", "eventName": "E", "sourcePayloadSchemaRef": "payload.Other.v1"});
    let (_, report) = validate(&def);
    assert!(
        has(
            &report,
            "TRIGGER_MAPPING_REQUIRED",
            "trigger.payloadMapping"
        ),
        "{report:#}"
    );
    def["trigger"]["payloadMapping"] = json!({"ticketId": {"$expr": "payload.id"}});
    let (_, report) = validate(&def);
    assert!(
        has(
            &report,
            "TRIGGER_MAPPING_INVALID_ROOT",
            "trigger.payloadMapping.ticketId"
        ),
        "{report:#}"
    );
    def["trigger"] = json!({"type": "recurring", "cron": "* * *", "timezone": "Nowhere"});
    let (_, report) = validate(&def);
    assert!(
        has(&report, "TIME_TRIGGER_INVALID_CRON", "trigger.cron"),
        "{report:#}"
    );
    assert!(
        has(&report, "TIME_TRIGGER_INVALID_TIMEZONE", "trigger.timezone"),
        "{report:#}"
    );
}

#[test]
fn malformed_files_get_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, "{\"id\": \"x\",\n  \"steps\": [\n").unwrap();
    let out = common::alga_wf(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("broken.json is not valid JSON"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);

    let out = common::alga_wf(&["validate", "/nonexistent/definition.json"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr.trim().lines().count(), 1);
    assert!(
        out.stderr
            .contains("cannot read /nonexistent/definition.json")
    );

    let (status, report) = validate(&json!([1, 2]));
    assert_eq!(status, 2);
    assert!(
        has(&report, "INVALID_WORKFLOW_DEFINITION", ""),
        "{report:#}"
    );
}

#[test]
fn required_inputs_of_built_in_actions_must_be_mapped() {
    assert_error(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "transform.split_text", "version": 1,
            "inputMapping": {"text": "a,b"}}}]),
        "MISSING_REQUIRED_MAPPING",
        "root.steps[0]",
    );
}

#[test]
fn email_node_configs_are_checked_at_publish() {
    let (code, report) = validate(&definition(json!([
        {"id": "parse", "type": "email.parseBody", "config": {"saveAs": "vars.__proto__.x"}},
        {"id": "r", "type": "email.renderCommentBlocks", "config": {"html": "<p>x</p>", "body": 1}},
        {"id": "w", "type": "event.wait", "config": {"eventName": "E", "correlationKey": {"$expr": "'k'"},
            "assign": {"bad.path": {"$expr": "vars.event"}, "vars.ok": {"$expr": "vars.event"}}}},
        {"id": "t", "type": "time.wait", "config": {"mode": "duration", "durationMs": 5,
            "assign": {"local.item": {"$expr": "1"}}}}
    ])));
    assert_ne!(code, 0);
    let codes = error_codes(&report);
    assert!(
        codes.contains(&("INVALID_ASSIGN_PATH".into(), "root.steps[0]".into())),
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .any(|(c, p)| c == "INVALID_CONFIG" && p.starts_with("steps[1].config")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("INVALID_ASSIGN_PATH".into(), "root.steps[2]".into())),
        "{codes:?}"
    );
    assert_eq!(
        codes
            .iter()
            .filter(|(c, _)| c == "INVALID_ASSIGN_PATH")
            .count(),
        2,
        "vars.ok and local.item are scoped: {codes:?}"
    );
}
