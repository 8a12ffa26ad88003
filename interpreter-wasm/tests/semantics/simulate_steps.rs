//! Scopes and assignment (dsl-semantics §6) and the step types, through the simulator on the
//! component and natively.

use crate::common::{definition, simulate, simulate_steps, step_statuses};
use serde_json::{Value, json};

fn echo(id: &str, value: Value, save_as: &str) -> Value {
    json!({"id": id, "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
        "inputMapping": {"value": value}, "saveAs": save_as}})
}

#[test]
fn an_empty_definition_succeeds() {
    let report = simulate_steps(json!([]), json!({"a": 1}));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["payload"], json!({"a": 1}));
    assert_eq!(report["steps"], json!([]));
}

#[test]
fn the_rich_context_spreads_vars_and_exposes_system_fields() {
    let report = simulate(json!({
        "definition": definition(json!([
            echo("a", json!("v"), "vars.payload"),
            echo("b", json!({"$expr": "[payload.x, vars.payload.value, meta.runId, system.workflowId, local, error]"}), "vars.seen"),
            echo("c", json!({"$expr": "seen.value[0]"}), "vars.bare")
        ])),
        "payload": {"x": 7},
        "runId": "run-42"
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    let vars = &report["scopes"]["vars"];
    assert_eq!(
        vars["seen"]["value"],
        json!([7, "v", "run-42", "wf-test", {}, null])
    );
    assert_eq!(vars["bare"]["value"], 7, "vars are reachable as bare names");
}

#[test]
fn interpreter_assignment_paths_land_where_the_reference_puts_them() {
    let report = simulate_steps(
        json!([
            echo("a", json!(1), "vars.a.b"),
            echo("b", json!(2), "payload.p"),
            echo("c", json!(3), "meta.m"),
            echo("d", json!(4), "error.e"),
            echo("e", json!(5), "plain.path"),
            echo("f", json!(6), "/x/y~1z"),
            echo("g", json!(7), "/payload/q"),
            echo("h", json!(8), "local.l")
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    let vars = &report["scopes"]["vars"];
    let value = |v: i64| json!({"value": v});
    assert_eq!(vars["a"]["b"], value(1));
    assert_eq!(report["scopes"]["payload"]["p"], value(2));
    assert_eq!(
        vars["m"],
        value(3),
        "meta.x goes to vars.x as in the reference"
    );
    assert_eq!(vars["error"]["e"], value(4));
    assert_eq!(vars["plain"]["path"], value(5));
    assert_eq!(vars["x"]["y/z"], value(6));
    assert_eq!(report["scopes"]["payload"]["q"], value(7));
    assert_eq!(vars["l"], value(8), "local outside a loop is vars");
    assert_eq!(report["scopes"]["meta"], json!({}));
}

#[test]
fn node_assignments_are_sequential_and_scoped() {
    let report = simulate_steps(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {
            "vars.x": {"$expr": "1"},
            "vars.y": {"$expr": "vars.x + 1"},
            "meta.note": {"$expr": "'real meta'"},
            "/fromPointer": {"$expr": "vars.y * 10"},
            "payload.deep.er": {"$expr": "true"}
        }}}]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"], json!({"x": 1, "y": 2}));
    assert_eq!(report["scopes"]["meta"], json!({"note": "real meta"}));
    assert_eq!(
        report["scopes"]["payload"],
        json!({"fromPointer": 20, "deep": {"er": true}})
    );
}

#[test]
fn meta_and_error_survive_assignments() {
    // The reference engine loses meta.state after a saveAs and error after any assignment (§6.3).
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "s", "type": "state.set", "config": {"state": "READY"}},
            {"id": "f", "type": "action.call", "config": {"actionId": "test.fail", "version": 1,
                "onError": {"policy": "continue"}}},
            echo("e", json!({"$expr": "[meta.state, error.category]"}), "vars.seen")
        ]))
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["meta"]["state"], "READY");
    assert_eq!(report["scopes"]["error"]["category"], "ActionError");
    assert_eq!(report["scopes"]["error"]["nodePath"], "root.steps[1]");
    assert_eq!(
        report["scopes"]["vars"]["seen"]["value"],
        json!(["READY", "ActionError"])
    );
}

#[test]
fn action_call_maps_input_saves_output_and_keys_the_ledger() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "crm.lookup", "version": 2,
                "inputMapping": {"name": {"$expr": "payload.name"}, "fixed": [1, {"n": {"$expr": "1 + 1"}}],
                                 "token": {"$secret": "CRM_TOKEN"}},
                "saveAs": "vars.crm"}},
            {"id": "b", "type": "action.call", "config": {"actionId": "crm.lookup", "version": 2,
                "inputMapping": {"name": {"$expr": "payload.name"}},
                "idempotencyKey": {"$expr": "'msg-' & payload.id"}}}
        ])),
        "payload": {"name": "Ada", "id": 9},
        "tenantId": "acme",
        "actions": {"crm.lookup@2": [{"output": {"found": true}}]}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["crm"], json!({"found": true}));
    let first = &report["actions"][0];
    assert_eq!(
        first["input"],
        json!({"name": "Ada", "fixed": [1, {"n": 2}], "token": {"$secret": "CRM_TOKEN"}}),
        "secret references stay unresolved in the interpreter"
    );
    let key = first["idempotencyKey"].as_str().unwrap();
    assert!(
        key.starts_with("acme:run-sim:root.steps[0]:crm.lookup:2:"),
        "{key}"
    );
    assert_eq!(report["actions"][1]["idempotencyKey"], "acme:msg-9");
    assert!(
        report["scopes"]["vars"].get("b").is_none(),
        "no saveAs, output discarded"
    );
}

#[test]
fn identical_inputs_give_identical_deterministic_keys() {
    let steps = json!([echo("a", json!("same"), "vars.a")]);
    let one = simulate_steps(steps.clone(), json!({}));
    let two = simulate_steps(steps, json!({"other": "payload"}));
    assert_eq!(
        one["actions"][0]["idempotencyKey"],
        two["actions"][0]["idempotencyKey"]
    );
    let three = simulate_steps(json!([echo("a", json!("different"), "vars.a")]), json!({}));
    assert_ne!(
        one["actions"][0]["idempotencyKey"],
        three["actions"][0]["idempotencyKey"]
    );
}

#[test]
fn scripted_failures_keep_category_code_and_details() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "x.y", "version": 1}},
            {"id": "never", "type": "state.set", "config": {"state": "NO"}}
        ])),
        "actions": {"a": [{"error": {"category": "TransientError", "message": "busy", "code": "E_BUSY", "details": {"retryIn": 5}}}],
                    "x.y@1": [{"output": {}}]}
    }));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(
        report["error"],
        json!({"category": "TransientError", "message": "busy", "nodePath": "root.steps[0]",
               "code": "E_BUSY", "details": {"retryIn": 5}})
    );
    assert_eq!(
        report["steps"].as_array().unwrap().len(),
        1,
        "later steps do not run"
    );
    assert_eq!(report["steps"][0]["status"], "FAILED");
    assert_eq!(report["actions"][0]["outcome"], "error");
}

#[test]
fn unscripted_unknown_actions_fail_naming_the_action() {
    let report = simulate_steps(
        json!([{"id": "a", "type": "action.call", "config": {"actionId": "nope.missing", "version": 3}}]),
        json!({}),
    );
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["error"]["category"], "ActionError");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope.missing@3")
    );
}

#[test]
fn retries_use_exact_backoff_and_count_attempts() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "x.y", "version": 1, "saveAs": "vars.r"},
                "retry": {"maxAttempts": 3, "backoffMs": 100, "jitter": true}}
        ])),
        "actions": {"a": [{"error": {"category": "ActionError", "message": "1"}},
                          {"error": {"category": "ActionError", "message": "2"}},
                          {"output": {"ok": true}}]}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["virtualElapsedMs"], 300, "100 then 200, no jitter");
    assert_eq!(report["steps"][0]["attempt"], 3);
    let attempts: Vec<Value> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt"].clone())
        .collect();
    assert_eq!(attempts, vec![json!(1), json!(2), json!(3)]);

    let capped = simulate(json!({
        "definition": definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                "retry": {"maxAttempts": 4, "backoffMs": 1000, "backoffMultiplier": 10, "maxDelayMs": 5000}}
        ]))
    }));
    assert_eq!(capped["status"], "FAILED");
    assert_eq!(capped["virtualElapsedMs"], 11000, "1000 + 5000 + 5000");
    assert_eq!(capped["steps"][0]["attempt"], 4);
}

#[test]
fn retry_on_limits_retried_categories() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                "retry": {"maxAttempts": 3, "backoffMs": 10, "retryOn": ["TransientError"]}}
        ]))
    }));
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        report["actions"].as_array().unwrap().len(),
        1,
        "ActionError is not retried"
    );
    let retried = simulate(json!({
        "definition": definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "test.retryable", "version": 1, "saveAs": "vars.r"},
                "retry": {"maxAttempts": 3, "backoffMs": 10, "retryOn": ["TransientError"]}}
        ]))
    }));
    assert_eq!(retried["status"], "SUCCEEDED", "{retried:#}");
    assert_eq!(retried["scopes"]["vars"]["r"], json!({"attempt": 2}));
}

#[test]
fn on_error_continue_records_the_error_and_step_level_wins() {
    let report = simulate_steps(
        json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1,
                "inputMapping": {"message": "boom"}, "onError": {"policy": "fail"}},
                "onError": {"policy": "continue"}},
            {"id": "b", "type": "state.set", "config": {"state": "AFTER"}}
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["steps"][0]["status"], "SUCCEEDED");
    assert_eq!(report["scopes"]["error"]["message"], "boom");
    assert_eq!(report["scopes"]["meta"]["state"], "AFTER");
}

#[test]
fn on_error_continue_preempts_an_enclosing_try_catch() {
    let report = simulate_steps(
        json!([{"id": "t", "type": "control.tryCatch",
            "try": [{"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                     "onError": {"policy": "continue"}}],
            "catch": [{"id": "c", "type": "state.set", "config": {"state": "CAUGHT"}}]}]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED");
    assert!(
        report["scopes"]["meta"].get("state").is_none(),
        "{report:#}"
    );
}

#[test]
fn control_if_chooses_a_branch_and_empty_branches_continue() {
    let steps = json!([
        {"id": "i", "type": "control.if", "condition": {"$expr": "payload.n > 1"},
            "then": [{"id": "t", "type": "state.set", "config": {"state": "BIG"}}],
            "else": []},
        {"id": "after", "type": "transform.assign", "config": {"assign": {"vars.after": {"$expr": "true"}}}}
    ]);
    let big = simulate_steps(steps.clone(), json!({"n": 2}));
    assert_eq!(big["scopes"]["meta"]["state"], "BIG");
    assert_eq!(big["scopes"]["vars"]["after"], true);
    let small = simulate_steps(steps, json!({"n": 0}));
    assert!(small["scopes"]["meta"].get("state").is_none());
    assert_eq!(small["scopes"]["vars"]["after"], true);
    let paths: Vec<&str> = big["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "root.steps[0]",
            "root.steps[0].then.steps[0]",
            "root.steps[1]"
        ]
    );
}

#[test]
fn control_return_ends_the_run_from_any_depth() {
    let report = simulate_steps(
        json!([
            {"id": "t", "type": "control.tryCatch", "try": [
                {"id": "i", "type": "control.if", "condition": {"$expr": "true"},
                    "then": [{"id": "r", "type": "control.return"}, {"id": "x", "type": "state.set", "config": {"state": "NO"}}]}
            ], "catch": []},
            {"id": "y", "type": "state.set", "config": {"state": "NO"}}
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(report["scopes"]["meta"], json!({}));
    assert_eq!(
        report["steps"].as_array().unwrap().last().unwrap()["stepId"],
        "r"
    );
}

#[test]
fn try_catch_routes_failures_and_keeps_error_visible_with_capture() {
    let report = simulate_steps(
        json!([{"id": "t", "type": "control.tryCatch", "captureErrorAs": "caught",
            "try": [
                {"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1, "inputMapping": {"message": "nope"}}},
                {"id": "skipped", "type": "state.set", "config": {"state": "NO"}}
            ],
            "catch": [echo("c", json!({"$expr": "[error.message, vars.caught.message, caught.nodePath]"}), "vars.seen")]}]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["seen"]["value"],
        json!(["nope", "nope", "root.steps[0].try.steps[0]"])
    );
    let statuses = step_statuses(&report);
    assert_eq!(
        statuses,
        [("t", "SUCCEEDED"), ("a", "FAILED"), ("c", "SUCCEEDED")]
    );
}

#[test]
fn for_each_binds_items_and_restores_the_item_variable() {
    let report = simulate_steps(
        json!([
            {"id": "pre", "type": "transform.assign", "config": {"assign": {"vars.it": {"$expr": "'before'"}, "vars.out": {"$expr": "[]"}}}},
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "payload.items"}, "itemVar": "it",
                "body": [{"id": "collect", "type": "transform.assign", "config": {"assign": {
                    "vars.out": {"$expr": "append(vars.out, vars.it)"}}}},
                    echo("e", json!({"$expr": "[item, index, length, isFirst, isLast, local.it]"}), "vars.last")]}
        ]),
        json!({"items": ["a", "b", "c"]}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    let vars = &report["scopes"]["vars"];
    assert_eq!(vars["out"], json!(["a", "b", "c"]));
    assert_eq!(vars["last"]["value"], json!(["c", 2, 3, false, true, "c"]));
    assert_eq!(vars["it"], "before", "the item variable is restored");
}

#[test]
fn cancellation_while_an_action_runs_cancels_the_run() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "t", "type": "control.tryCatch",
                "try": [{"id": "a", "type": "action.call", "config": {"actionId": "slow.op", "version": 1}}],
                "catch": [{"id": "c", "type": "state.set", "config": {"state": "CAUGHT"}}]}
        ])),
        "actions": {"slow.op@1": [{"cancel": true}]}
    }));
    assert_eq!(report["status"], "CANCELED", "{report:#}");
    assert_eq!(report["error"]["category"], "Cancellation");
    assert_eq!(report["error"]["nodePath"], "root.steps[0].try.steps[0]");
    assert!(
        report["scopes"]["meta"].get("state").is_none(),
        "cancellation is never caught"
    );
    // The tryCatch it was cancelled in did not succeed either (its row said so at entry).
    let statuses = step_statuses(&report);
    assert_eq!(statuses, [("t", "CANCELED"), ("a", "CANCELED")]);
}

/// A run cancelled inside nested blocks finishes every block it was in as cancelled, the
/// loop's later items never run, and in the worker's read model too (`worker::` runs the
/// projections; the report is the same events).
#[test]
fn cancellation_inside_a_loop_and_a_try_cancels_the_enclosing_steps() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "first", "type": "state.set", "config": {"state": "A"}},
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2]"}, "itemVar": "it",
                "body": [{"id": "t", "type": "control.tryCatch",
                    "try": [{"id": "a", "type": "action.call", "config": {"actionId": "slow.op", "version": 1}}],
                    "catch": []}]}
        ])),
        "actions": {"slow.op@1": [{"output": 1}, {"cancel": true}]}
    }));
    assert_eq!(report["status"], "CANCELED", "{report:#}");
    let statuses = step_statuses(&report);
    assert_eq!(
        statuses,
        [
            ("first", "SUCCEEDED"),
            ("loop", "CANCELED"),
            ("t", "SUCCEEDED"),
            ("a", "SUCCEEDED"),
            ("t", "CANCELED"),
            ("a", "CANCELED")
        ]
    );
}

#[test]
fn scripts_by_step_id_win_over_action_keys() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "first", "type": "action.call", "config": {"actionId": "x.y", "version": 1, "saveAs": "vars.a"}},
            {"id": "second", "type": "action.call", "config": {"actionId": "x.y", "version": 1, "saveAs": "vars.b"}}
        ])),
        "actions": {"first": [{"output": "by-step"}], "x.y@1": [{"output": "by-action"}]}
    }));
    assert_eq!(
        report["scopes"]["vars"],
        json!({"a": "by-step", "b": "by-action"})
    );
}

#[test]
fn pure_transforms_run_inside_the_interpreter_unless_scripted() {
    let steps = json!([{"id": "p", "type": "action.call", "config": {"actionId": "transform.parse_json", "version": 1,
        "inputMapping": {"source": "{\"a\": [1, 2]}"}, "saveAs": "vars.parsed"}}]);
    let inline = simulate_steps(steps.clone(), json!({}));
    assert_eq!(
        inline["scopes"]["vars"]["parsed"],
        json!({"type": "object", "value": {"a": [1, 2]}})
    );
    assert_eq!(inline["actions"][0]["inline"], true);
    assert_eq!(inline["activations"], 1, "no activity, no extra activation");
    let scripted = simulate(
        json!({"definition": definition(steps), "actions": {"p": [{"output": {"value": "scripted"}}]}}),
    );
    assert_eq!(
        scripted["scopes"]["vars"]["parsed"],
        json!({"value": "scripted"})
    );
    assert_eq!(scripted["actions"][0]["inline"], false);
}

/// A catastrophically backtracking pattern fails its step with a catchable error inside the
/// component, well inside the activation's fuel, instead of trapping the run.
#[test]
fn a_catastrophic_regular_expression_is_a_catchable_action_error() {
    let report = simulate_steps(
        json!([{"id": "guard", "type": "control.tryCatch", "try": [
            {"id": "m", "type": "action.call", "config": {"actionId": "transform.regex_match",
                "version": 1, "inputMapping": {"text": {"$expr": "payload.text"},
                "pattern": "^(a+)+$"}, "saveAs": "vars.m"}}],
            "catch": [{"id": "c", "type": "state.set", "config": {"state": "CAUGHT"}}],
            "captureErrorAs": "vars.err"}]),
        json!({"text": format!("{}!", "a".repeat(40))}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["meta"]["state"], "CAUGHT");
    assert_eq!(
        report["scopes"]["vars"]["err"]["code"],
        "REGEX_BACKTRACK_LIMIT"
    );
    assert_eq!(report["scopes"]["vars"]["err"]["category"], "ActionError");
}
