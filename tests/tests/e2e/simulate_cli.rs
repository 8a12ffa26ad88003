//! `alga-wf simulate` through the binary: the semantics suites simulate in process (see
//! `common::simulate`), so these check that the command gives the same report from a file, and
//! its exit statuses.

use crate::common;

use serde_json::json;

#[test]
fn the_command_reports_what_the_in_process_simulation_does() {
    let scenario = json!({
        "definition": common::definition(json!([
            {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
                "inputMapping": {"value": {"$expr": "payload.n * 2"}}, "saveAs": "vars.doubled"}},
            {"id": "wait", "type": "event.wait", "config": {"eventName": "GO",
                "correlationKey": {"$expr": "'k'"}, "timeoutMs": 60000}},
            {"id": "done", "type": "state.set", "config": {"state": "DONE"}}
        ])),
        "payload": {"n": 21},
        "stimuli": [{"event": {"eventName": "GO", "correlationKey": "k", "payload": {"ok": true}}}]
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.json");
    std::fs::write(&file, scenario.to_string()).unwrap();
    let out = common::alga_wf(&["simulate", file.to_str().unwrap(), "--audit-replay"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["doubled"]["value"], 42);
    assert_eq!(report, common::simulate(scenario));
}

#[test]
fn the_command_exits_2_for_an_invalid_definition_or_scenario() {
    let invalid_definition = json!({"definition": common::definition(json!([
        {"id": "a", "type": "state.set", "config": {"state": "A"}},
        {"id": "a", "type": "state.set", "config": {"state": "B"}}
    ]))});
    let out = common::alga_wf_json("simulate", &invalid_definition);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(out.json()["status"], "INVALID");
    assert_eq!(out.json()["errors"][0]["code"], "DUPLICATE_STEP_ID");

    let invalid_scenario = json!({"definition": common::definition(json!([])), "stimulus": []});
    let out = common::alga_wf_json("simulate", &invalid_scenario);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(out.json()["status"], "INVALID");
}

#[test]
fn invalid_definitions_and_scenarios_are_reported_not_run() {
    let out = common::alga_wf_json(
        "simulate",
        &json!({"definition": common::definition(json!([{"id": "a", "type": "control.if", "condition": {"$expr": "$count(1)"}, "then": []}]))}),
    );
    assert_eq!(out.code, 2);
    let report = out.json();
    assert_eq!(report["status"], "INVALID");
    assert_eq!(report["errors"][0]["code"], "INVALID_EXPR");

    let out = common::alga_wf_json(
        "simulate",
        &json!({"definition": common::definition(json!([])), "stimulus": []}),
    );
    assert_eq!(out.code, 2);
    let report = out.json();
    assert_eq!(report["errors"][0]["code"], "INVALID_SCENARIO");
    assert_eq!(report["errors"][0]["path"], "stimulus");
}

#[test]
fn the_same_scenario_gives_byte_identical_reports() {
    let scenario = json!({
        "definition": common::definition(json!([
            {"id": "a", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                "retry": {"maxAttempts": 2, "backoffMs": 5}, "onError": {"policy": "continue"}},
            {"id": "b", "type": "transform.assign", "config": {"assign": {"vars.t": {"$expr": "nowIso()"},
                "vars.z": {"$expr": "{\"z\": 1, \"a\": 2}"}}}},
            {"id": "c", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
                "inputMapping": {"value": {"$expr": "vars"}}, "saveAs": "vars.copy"}}
        ]))
    });
    let first = common::alga_wf_json("simulate", &scenario);
    let second = common::alga_wf_json("simulate", &scenario);
    assert_eq!(first.code, 0);
    assert_eq!(first.stdout, second.stdout);
}
