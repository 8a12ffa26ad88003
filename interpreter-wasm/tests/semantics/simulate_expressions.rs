//! Expressions (dsl-semantics §5) observed through the simulator, on the component and natively.

use crate::common;

use crate::common::{simulate, simulate_steps};
use serde_json::{Value, json};

/// Assigns each entry to `vars` with `transform.assign` and returns the final vars.
fn assign_vars(assign: Value, payload: Value) -> Value {
    let report = simulate_steps(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": assign}}]),
        payload,
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    report["scopes"]["vars"].clone()
}

/// Runs one `control.if` whose condition fails, returning the run's error.
fn failing_condition(condition: &str, payload: Value) -> Value {
    let report = simulate_steps(
        json!([{"id": "c", "type": "control.if", "condition": {"$expr": condition}, "then": []}]),
        payload,
    );
    assert_eq!(report["status"], "FAILED", "{report:#}");
    report["error"].clone()
}

#[test]
fn the_five_functions_behave_like_the_reference() {
    let vars = assign_vars(
        json!({
            "vars.now": {"$expr": "nowIso()"},
            "vars.c1": {"$expr": "coalesce(payload.missing, null, 'd')"},
            "vars.c2": {"$expr": "coalesce()"},
            "vars.len1": {"$expr": "len('é😀')"},
            "vars.len2": {"$expr": "len(payload.items)"},
            "vars.len3": {"$expr": "len(payload.obj)"},
            "vars.s1": {"$expr": "toString(1.0)"},
            "vars.s2": {"$expr": "toString(0.1 + 0.2)"},
            "vars.s3": {"$expr": "toString(payload.items)"},
            "vars.s4": {"$expr": "toString(payload.obj)"},
            "vars.s5": {"$expr": "toString(payload.missing)"},
            "vars.a1": {"$expr": "append(payload.missing, 1)"},
            "vars.a2": {"$expr": "append('x', ['y', 'z'])"},
            "vars.a3": {"$expr": "payload.items ~> $append(4)"}
        }),
        json!({"items": [1, 2, 3], "obj": {"k": 1}}),
    );
    assert_eq!(
        vars["now"], "2026-01-01T00:00:00.000Z",
        "nowIso reads workflow time"
    );
    assert_eq!(vars["c1"], "d");
    assert_eq!(vars["c2"], Value::Null);
    assert_eq!(vars["len1"], 3, "UTF-16 code units");
    assert_eq!(vars["len2"], 3);
    assert_eq!(vars["len3"], 0);
    assert_eq!(vars["s1"], "1");
    assert_eq!(vars["s2"], "0.30000000000000004");
    assert_eq!(vars["s3"], "1,2,3");
    assert_eq!(vars["s4"], "[object Object]");
    assert_eq!(vars["s5"], "");
    assert_eq!(vars["a1"], json!([1]));
    assert_eq!(vars["a2"], json!(["x", "y", "z"]));
    assert_eq!(vars["a3"], json!([1, 2, 3, 4]));
}

#[test]
fn now_iso_follows_the_virtual_clock() {
    let report = simulate(json!({
        "definition": common::definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                "retry": {"maxAttempts": 2, "backoffMs": 1500}, "onError": {"policy": "continue"}},
            {"id": "b", "type": "transform.assign", "config": {"assign": {"vars.t": {"$expr": "nowIso()"}}}}
        ])),
        "startTime": "2026-03-04T05:06:07.000Z"
    }));
    assert_eq!(
        report["scopes"]["vars"]["t"], "2026-03-04T05:06:08.500Z",
        "{report:#}"
    );
    assert_eq!(report["virtualElapsedMs"], 1500);
}

#[test]
fn double_equals_and_bare_calls_are_normalised() {
    let vars = assign_vars(
        json!({
            "vars.eq": {"$expr": "payload.a == 1"},
            "vars.text": {"$expr": "'a==b'"},
            "vars.n": {"$expr": "len (payload.s)"}
        }),
        json!({"a": 1, "s": "abcd"}),
    );
    assert_eq!(vars["eq"], true);
    assert_eq!(
        vars["text"], "a==b",
        "string literals are not rewritten (divergence, see docs)"
    );
    assert_eq!(vars["n"], 4);
}

#[test]
fn undefined_results_are_expression_errors() {
    let report = simulate_steps(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {"vars.x": {"$expr": "payload.missing"}}}}]),
        json!({}),
    );
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["error"]["category"], "ExpressionError");
    assert_eq!(report["error"]["nodePath"], "root.steps[0]");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Expression result is not JSON-serializable"),
        "{report:#}"
    );
    // Undefined members of constructed objects are dropped, and comparisons with undefined are false.
    let vars = assign_vars(
        json!({
            "vars.obj": {"$expr": "{\"a\": payload.missing, \"b\": 1}"},
            "vars.eqNull": {"$expr": "payload.missing = null"},
            "vars.neNull": {"$expr": "payload.missing != null"}
        }),
        json!({}),
    );
    assert_eq!(vars["obj"], json!({"b": 1}));
    assert_eq!(vars["eqNull"], false);
    assert_eq!(vars["neNull"], false);
}

#[test]
fn large_results_hit_the_output_guard() {
    let report = simulate_steps(
        json!([{"id": "a", "type": "transform.assign", "config": {"assign": {
            "vars.big": {"$expr": "[1..60000].('abcd')"}
        }}}]),
        json!({}),
    );
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "ExpressionError");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded max output size")
    );
}

#[test]
fn jsonata_errors_keep_their_text_and_are_never_cancellation() {
    let error = failing_condition("payload.status > 5", json!({"status": "cancelled"}));
    assert_eq!(error["category"], "ExpressionError", "{error:#}");
    let message = error["message"].as_str().unwrap();
    assert_ne!(message, "[object Object]");
    assert!(
        message.contains("cancelled"),
        "JSONata's own text: {message}"
    );
    assert!(
        error["code"].as_str().unwrap().starts_with('T'),
        "{error:#}"
    );
}

#[test]
fn jsonata_errors_inside_try_are_caught_not_treated_as_cancellation() {
    let report = simulate_steps(
        json!([{"id": "t", "type": "control.tryCatch",
            "try": [{"id": "c", "type": "control.if", "condition": {"$expr": "payload.status > 5"}, "then": []}],
            "catch": [{"id": "r", "type": "transform.assign", "config": {"assign": {"vars.caught": {"$expr": "error.category"}}}}]}]),
        json!({"status": "cancelled"}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["caught"], "ExpressionError");
}

#[test]
fn non_boolean_conditions_fail() {
    let error = failing_condition("payload.n", json!({"n": 1}));
    assert_eq!(error["category"], "ExpressionError");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("must evaluate to a boolean")
    );
}

#[test]
fn available_jsonata_features_work() {
    let vars = assign_vars(
        json!({
            "vars.filtered": {"$expr": "[payload.items[n > 1].n]"},
            "vars.range": {"$expr": "[1..3]"},
            "vars.sorted": {"$expr": "[payload.items^(>n).n]"},
            "vars.bound": {"$expr": "($x := 2; $x * 3)"},
            "vars.cond": {"$expr": "payload.flag ? 'yes' : 'no'"},
            "vars.concat": {"$expr": "'a' & 1 & true"},
            "vars.inop": {"$expr": "2 in [1, 2]"}
        }),
        json!({"items": [{"n": 1}, {"n": 2}, {"n": 3}], "flag": true}),
    );
    assert_eq!(vars["filtered"], json!([2, 3]));
    assert_eq!(vars["range"], json!([1, 2, 3]));
    assert_eq!(vars["sorted"], json!([3, 2, 1]));
    assert_eq!(vars["bound"], 6);
    assert_eq!(vars["cond"], "yes");
    assert_eq!(vars["concat"], "a1true");
    assert_eq!(vars["inop"], true);
}
