//! Loops, tries and their combinations, continue-as-new, and queries, on the component and natively.

use crate::common;

use crate::common::{activation, definition, simulate, simulate_steps};
use alga_interpreter::machine::protocol::{Command, Job};
use serde_json::{Value, json};

fn assign(id: &str, target: &str, expr: &str) -> Value {
    json!({"id": id, "type": "transform.assign", "config": {"assign": {target: {"$expr": expr}}}})
}

fn fail(id: &str, message: &str) -> Value {
    json!({"id": id, "type": "action.call", "config": {"actionId": "test.fail", "version": 1,
        "inputMapping": {"message": message}}})
}

#[test]
fn nested_loops_see_their_own_locals_and_outer_items_through_vars() {
    let report = simulate_steps(
        json!([
            assign("init", "vars.pairs", "[]"),
            {"id": "outer", "type": "control.forEach", "items": {"$expr": "[1, 2]"}, "itemVar": "o", "body": [
                {"id": "inner", "type": "control.forEach", "items": {"$expr": "['a', 'b']"}, "itemVar": "i", "body": [
                    {"id": "pair", "type": "action.call", "config": {"actionId": "transform.concat_text", "version": 1,
                        "inputMapping": {"values": {"$expr": "[o, item, index]"}, "separator": "-"}, "saveAs": "vars.last"}},
                    assign("collect", "vars.pairs", "append(vars.pairs, vars.last.text)")
                ]}
            ]}
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["pairs"],
        json!(["1-a-0", "1-b-1", "2-a-0", "2-b-1"])
    );
    assert!(
        report["scopes"]["vars"].get("o").is_none(),
        "item variables are removed after the loops"
    );
    assert!(report["scopes"]["vars"].get("i").is_none());
}

#[test]
fn on_item_error_continue_goes_on_with_the_next_step_of_the_same_item() {
    let report = simulate_steps(
        json!([
            assign("init", "vars.seen", "[]"),
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2, 3]"}, "itemVar": "n",
             "onItemError": "continue", "body": [
                {"id": "maybe", "type": "control.if", "condition": {"$expr": "n = 2"}, "then": [fail("boom", "two")]},
                assign("record", "vars.seen", "append(vars.seen, vars.n)")
            ]}
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["seen"], json!([1, 2, 3]));
    assert_eq!(report["scopes"]["error"]["message"], "two");
    let failed: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1);
}

#[test]
fn on_item_error_fail_fails_the_run() {
    let report = simulate_steps(
        json!([{"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2]"}, "itemVar": "n",
            "body": [fail("boom", "first item")]}]),
        json!({}),
    );
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["error"]["nodePath"], "root.steps[0].body.steps[0]");
}

#[test]
fn try_catch_inside_a_loop_handles_each_item() {
    let report = simulate_steps(
        json!([
            assign("init", "vars.caught", "0"),
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2, 3]"}, "itemVar": "n", "body": [
                {"id": "t", "type": "control.tryCatch", "try": [fail("boom", "x")],
                    "catch": [assign("count", "vars.caught", "vars.caught + 1")]}
            ]}
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["caught"], 3);
}

#[test]
fn a_failure_routed_out_of_a_loop_cleans_the_loop_up() {
    let report = simulate_steps(
        json!([
            assign("pre", "vars.n", "'before'"),
            {"id": "t", "type": "control.tryCatch", "try": [
                {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2, 3]"}, "itemVar": "n", "body": [
                    {"id": "maybe", "type": "control.if", "condition": {"$expr": "n = 2"}, "then": [fail("boom", "at two")]}
                ]}
            ], "catch": [
                {"id": "look", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
                    "inputMapping": {"value": {"$expr": "[vars.n, coalesce(index, 'no index'), error.message]"}}, "saveAs": "vars.seen"}}
            ]}
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["seen"]["value"],
        json!(["before", "no index", "at two"])
    );
}

#[test]
fn return_inside_a_loop_ends_the_run_and_restores_the_item_variable() {
    let report = simulate_steps(
        json!([
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2, 3]"}, "itemVar": "n", "body": [
                {"id": "stop", "type": "control.if", "condition": {"$expr": "n = 2"}, "then": [{"id": "r", "type": "control.return"}]},
                assign("last", "vars.last", "vars.n")
            ]},
            assign("never", "vars.never", "true")
        ]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(report["scopes"]["vars"], json!({"last": 1}));
}

#[test]
fn a_failure_inside_catch_goes_to_the_next_enclosing_try() {
    let report = simulate_steps(
        json!([{"id": "outer", "type": "control.tryCatch", "try": [
            {"id": "inner", "type": "control.tryCatch", "try": [fail("a", "first")], "catch": [fail("b", "second")]}
        ], "catch": [assign("c", "vars.outerSaw", "error.message")]}]),
        json!({}),
    );
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["outerSaw"], "second");
}

#[test]
fn waits_inside_loops_take_one_event_per_item() {
    let report = simulate(json!({
        "definition": definition(json!([
            assign("init", "vars.got", "[]"),
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "payload.ids"}, "itemVar": "id", "body": [
                {"id": "w", "type": "event.wait", "config": {"eventName": "DONE", "correlationKey": {"$expr": "id"},
                    "assign": {"vars.got": {"$expr": "append(vars.got, vars.event.v)"}}}}
            ]}
        ])),
        "payload": {"ids": ["a", "b"]},
        "stimuli": [
            {"event": {"eventName": "DONE", "correlationKey": "b", "payload": {"v": "B"}}},
            {"event": {"eventName": "DONE", "correlationKey": "a", "payload": {"v": "A"}}}
        ]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["got"],
        json!(["A", "B"]),
        "b was buffered until its wait"
    );
}

fn long_loop(items: usize) -> Value {
    json!({
        "definition": definition(json!([
            assign("init", "vars.sum", "0"),
            {"id": "loop", "type": "control.forEach", "items": {"$expr": format!("[1..{items}]")}, "itemVar": "n", "body": [
                {"id": "tick", "type": "time.wait", "config": {"mode": "duration", "durationMs": 10}},
                assign("add", "vars.sum", "vars.sum + vars.n")
            ]},
            {"id": "late", "type": "event.wait", "config": {"eventName": "E", "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.late": {"$expr": "vars.event.v"}}}}
        ])),
        "stimuli": [{"atMs": 5, "event": {"eventName": "E", "correlationKey": "k", "payload": {"v": "kept"}}}]
    })
}

#[test]
fn continue_as_new_carries_a_long_loop_to_the_same_end() {
    let plain = simulate(long_loop(60));
    let mut scenario = long_loop(60);
    scenario["continueAsNewAfterEvents"] = json!(25);
    let continued = simulate(scenario);
    assert_eq!(plain["status"], "SUCCEEDED", "{plain:#}");
    assert_eq!(continued["status"], "SUCCEEDED", "{continued:#}");
    assert!(
        continued["continuedAsNew"].as_u64().unwrap() >= 3,
        "{}",
        continued["continuedAsNew"]
    );
    assert_eq!(continued["scopes"], plain["scopes"]);
    assert_eq!(continued["scopes"]["vars"]["sum"], 1830);
    assert_eq!(
        continued["scopes"]["vars"]["late"], "kept",
        "a signal buffered before continue-as-new survives it"
    );
    assert_eq!(continued["steps"], plain["steps"]);
    assert_eq!(continued["virtualElapsedMs"], plain["virtualElapsedMs"]);
}

/// Alga's loops run over a ticket's comments or an invoice's lines: ten thousand items with a
/// few steps each. Each step costs the same whatever the length of the loop (a step used to
/// copy the loop's items, and a thousand items ran out of fuel), and an execution runs at most
/// `STEPS_PER_EXECUTION` steps before it continues as new, so no activation comes near the
/// default fuel and the run ends as a short loop would.
#[test]
fn a_ten_thousand_item_loop_completes_within_the_default_fuel() {
    let items: Vec<Value> = (0..10_000).map(|n| json!({"n": n})).collect();
    let steps = json!([
        assign("init", "vars.sum", "0"),
        {"id": "each", "type": "control.forEach", "items": {"$expr": "payload.items"},
            "itemVar": "it", "body": [
            assign("add", "vars.sum", "vars.sum + vars.it.n"),
            {"id": "parity", "type": "control.if", "condition": {"$expr": "it.n % 2 = 0"},
                "then": [assign("count", "vars.even", "coalesce(vars.even, 0) + 1")]},
            {"id": "mark", "type": "state.set", "config": {"state": "SUMMING"}}
        ]}
    ]);
    let payload = json!({"items": items});

    // The first activation: exactly the bound's worth of steps, then continue-as-new, on a
    // fraction of the fuel.
    let mut instance = common::engine().instantiate().unwrap();
    let commands = instance
        .activate(&activation(vec![Job::Start(Box::new(common::run_start(
            definition(steps.clone()),
            payload.clone(),
        )))]))
        .unwrap();
    let started = commands
        .iter()
        .filter(|c| {
            matches!(
                c,
                Command::Record(alga_interpreter::machine::protocol::RunEvent::StepStarted { .. })
            )
        })
        .count() as u64;
    assert_eq!(
        started,
        alga_interpreter::machine::STEPS_PER_EXECUTION,
        "{:?}",
        &commands[..commands.len().min(12)]
    );
    assert!(
        matches!(commands.last(), Some(Command::ContinueAsNew(_))),
        "{:?}",
        commands.last()
    );
    let budget = alga_wf_simulator::engine::EngineConfig::default().fuel_per_activation;
    assert!(
        instance.fuel_used() < budget / 2,
        "{} of {budget} fuel for one execution's steps",
        instance.fuel_used()
    );

    // The whole run, continued as new three times, ends as a short loop would.
    let report = simulate(json!({"definition": definition(steps), "payload": payload}));
    assert_eq!(report["status"], "SUCCEEDED", "{}", report["error"]);
    assert_eq!(report["continuedAsNew"], 3);
    assert_eq!(report["scopes"]["vars"]["sum"], 49_995_000);
    assert_eq!(report["scopes"]["vars"]["even"], 5_000);
    assert_eq!(report["scopes"]["meta"]["state"], "SUMMING");
}

fn start_job(steps: Value) -> Job {
    Job::Start(Box::new(common::run_start(definition(steps), json!({}))))
}

fn query(name: &str) -> Job {
    Job::Query {
        id: name.into(),
        name: name.into(),
        args: json!([]),
    }
}

#[test]
fn queries_report_the_current_step_wait_and_summary() {
    let mut instance = common::engine().instantiate().unwrap();
    instance
        .activate(&activation(vec![start_job(json!([
            assign("a", "vars.x", "1"),
            {"id": "w", "type": "event.wait", "config": {"eventName": "E", "correlationKey": {"$expr": "'k'"}, "timeoutMs": 1000}}
        ]))]))
        .unwrap();
    let commands = instance
        .activate(&activation(vec![
            query("workflowRuntimeV2CurrentStep"),
            query("workflowRuntimeV2CurrentWait"),
            query("workflowRuntimeV2InterpreterSummary"),
            query("nope"),
        ]))
        .unwrap();
    let answers: Vec<Result<Value, String>> = commands
        .into_iter()
        .filter_map(|c| match c {
            Command::RespondQuery { answer, .. } => Some(answer),
            _ => None,
        })
        .collect();
    assert_eq!(
        answers[0],
        Ok(json!({"runId": "run-test", "currentStepPath": "root.steps[1]"}))
    );
    assert_eq!(
        answers[1],
        Ok(
            json!({"type": "event.wait", "stepPath": "root.steps[1]", "descriptor":
            {"eventName": "E", "correlationKey": "k", "timeoutAt": "2026-01-01T00:00:01.000Z"}})
        )
    );
    let summary = answers[2].clone().unwrap();
    assert_eq!(summary["stepCount"], 1);
    assert_eq!(summary["frameDepth"], 1);
    assert_eq!(summary["historyLength"], 7);
    assert!(
        answers[3]
            .as_ref()
            .unwrap_err()
            .contains("unknown query `nope`")
    );
}
