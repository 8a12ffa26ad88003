//! Runs in a tree: a child's row names the run that started it and the run at the top, and the
//! API lists a run's children; a run parked on a wait shows `WAITING`.

use serde_json::json;

use crate::api::{Api, create_key};
use crate::common::temporal::System;
use crate::faults::{publish_and_start, succeeded};

const TENANT: &str = "1e000000-0000-4000-8000-0000000000c1";
const STRANGER: &str = "1e000000-0000-4000-8000-0000000000c2";

fn publish(api: &Api, admin: &str, id: &str, steps: serde_json::Value) {
    let mut definition = crate::common::definition(steps);
    definition["id"] = json!(id);
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(admin),
        Some(&json!({"definition": definition})),
    );
    assert_eq!(status, 201, "{body:#}");
}

fn call(workflow: &str) -> serde_json::Value {
    json!({"id": "call", "type": "control.callWorkflow", "workflowId": workflow,
        "workflowVersion": 1, "inputMapping": {"n": {"$expr": "payload.n"}},
        "outputMapping": {"vars.n": {"$expr": "childRun.vars.n"}}})
}

/// Three generations: `top` calls `middle`, which calls `leaf`. Each child's row names its
/// parent and the top run as its root; `/children` lists them; another tenant sees nothing.
#[test]
fn a_childs_row_names_its_parent_and_root_and_the_api_lists_children() {
    let dir = tempfile::tempdir().unwrap();
    // The sweeper closes rows of runs Temporal ended without telling the worker within seconds.
    let system = System::start_with_worker_env(
        dir.path(),
        &[
            ("ALGA_WF_RECONCILE_IDLE_SECS", "1"),
            ("ALGA_WF_SWEEP_INTERVAL_SECS", "1"),
        ],
    );
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let stranger = create_key(&system, STRANGER, "admin");
    publish(
        &api,
        &admin,
        "leaf",
        json!([{"id": "inc", "type": "transform.assign", "config": {"assign": {
            "vars.n": {"$expr": "payload.n + 1"}}}}]),
    );
    publish(&api, &admin, "middle", json!([call("leaf")]));
    // The top run reads its child's system fields (childRun.meta, childRun.system) through a
    // real Temporal child's result, and fails unless they are the child's.
    let mut call_middle = call("middle");
    call_middle["outputMapping"]["vars.child"] = json!({"$expr": "childRun.meta.workflowId"});
    call_middle["outputMapping"]["vars.childRun"] = json!({"$expr": "childRun.system.runId"});
    call_middle["outputMapping"]["vars.childHash"] =
        json!({"$expr": "childRun.system.definitionHash"});
    let check = json!({"id": "check", "type": "control.if",
        "condition": {"$expr": "vars.child != null and vars.childRun != null and vars.childHash != null and vars.childRun != system.runId"},
        "then": [],
        "else": [{"id": "wrong", "type": "action.call", "config": {"actionId": "test.fail",
            "version": 1, "inputMapping": {"message": {"$expr": "toString(vars)"}}}}]});
    let started = publish_and_start(
        &api,
        &admin,
        "top",
        json!([call_middle, check]),
        json!({"n": 1}),
    );
    succeeded(&api, &admin, &started);
    let top = started["runId"].as_str().unwrap();

    let children_of = |run: &str| {
        let (status, body) = api.call(
            "GET",
            &format!("/api/workflow-runs/{run}/children"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 200, "{body:#}");
        body
    };
    let at_top = children_of(top);
    assert_eq!(at_top["parentRunId"], json!(null), "{at_top:#}");
    assert_eq!(at_top["rootRunId"], json!(null), "{at_top:#}");
    let middle = &at_top["children"][0];
    assert_eq!(
        at_top["children"].as_array().map(Vec::len),
        Some(1),
        "{at_top:#}"
    );
    assert_eq!(middle["parentRunId"], top, "{middle:#}");
    assert_eq!(middle["rootRunId"], top, "{middle:#}");
    assert_eq!(middle["status"], "SUCCEEDED", "{middle:#}");
    let middle_id = middle["runId"].as_str().unwrap();

    let below = children_of(middle_id);
    assert_eq!(below["parentRunId"], top, "{below:#}");
    assert_eq!(below["rootRunId"], top, "{below:#}");
    let leaf = &below["children"][0];
    assert_eq!(leaf["parentRunId"], middle_id, "{leaf:#}");
    assert_eq!(
        leaf["rootRunId"], top,
        "the grandchild's root is the top run: {leaf:#}"
    );
    let leaf_id = leaf["runId"].as_str().unwrap();
    assert_eq!(children_of(leaf_id)["children"], json!([]));

    // The row itself says so too, and another tenant cannot see the tree at all.
    let (_, row) = api.call(
        "GET",
        &format!("/api/workflow-runs/{leaf_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(row["rootRunId"], top, "{row:#}");
    let (status, _) = api.call(
        "GET",
        &format!("/api/workflow-runs/{top}/children"),
        Some(&stranger),
        None,
    );
    assert_eq!(status, 404);

    // Cancelling a run that waits on its child cancels the child too, and both rows end.
    publish(
        &api,
        &admin,
        "stuck",
        json!([{"id": "w", "type": "event.wait", "config": {"eventName": "NEVER",
            "correlationKey": {"$expr": "\"k\""}}}]),
    );
    let waiting = publish_and_start(
        &api,
        &admin,
        "waits-on-child",
        json!([call("stuck")]),
        json!({"n": 1}),
    );
    let parent = waiting["runId"].as_str().unwrap();
    let child = loop {
        let children = children_of(parent);
        if let Some(child) = children["children"][0]["runId"].as_str() {
            break child.to_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    crate::faults::poll(&api, &admin, &format!("/api/workflow-runs/{child}"), |r| {
        r["status"] == "WAITING"
    });
    let (status, body) = api.call(
        "POST",
        &format!("/api/workflow-runs/{parent}/cancel"),
        Some(&admin),
        Some(&json!({"reason": "no longer needed"})),
    );
    assert_eq!(status, 200, "{body:#}");
    crate::faults::poll(&api, &admin, &format!("/api/workflow-runs/{parent}"), |r| {
        r["status"] == "CANCELED"
    });
    crate::faults::poll(&api, &admin, &format!("/api/workflow-runs/{child}"), |r| {
        r["status"] == "CANCELED"
    });
}
