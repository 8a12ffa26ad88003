//! `human.task` and `control.callWorkflow` through the simulator, on the component and natively.

use crate::common::{definition, simulate};
use serde_json::{Value, json};

fn approval_task() -> Value {
    json!({"id": "approve", "type": "human.task", "config": {
        "taskType": "approval",
        "title": {"$expr": "'Approve ' & payload.item"},
        "description": {"$expr": "null"},
        "contextData": {"item": {"$expr": "payload.item"}},
        "assign": {"vars.approved": {"$expr": "vars.event.approved"}}
    }})
}

fn task_types() -> Value {
    json!({"approval": {"formSchema": {"type": "object", "required": ["approved"],
        "properties": {"approved": {"type": "boolean"}, "comment": {"type": "string"}}}}})
}

#[test]
fn a_valid_response_resumes_the_task() {
    let report = simulate(json!({
        "definition": definition(json!([approval_task()])),
        "payload": {"item": "laptop"},
        "taskTypes": task_types(),
        "stimuli": [{"humanTask": {"response": {"approved": true, "comment": "ok"}}}]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["approved"], true);
    assert_eq!(
        report["scopes"]["vars"]["eventName"],
        "HUMAN_TASK_COMPLETED"
    );
    assert_eq!(report["waits"][0]["type"], "human");
    assert_eq!(report["waits"][0]["status"], "RESOLVED");
    assert_eq!(report["waits"][0]["taskId"], "task-1");
}

#[test]
fn an_invalid_response_fails_the_step_with_the_form_errors() {
    let report = simulate(json!({
        "definition": definition(json!([approval_task()])),
        "payload": {"item": "laptop"},
        "taskTypes": task_types(),
        "stimuli": [{"humanTask": {"taskId": "task-1", "response": {"approved": "yes"}}}]
    }));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "ValidationError");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Human task response validation failed"),
        "{message}"
    );
    assert!(message.contains("/approved"), "names the field: {message}");
    assert_eq!(report["waits"][0]["status"], "CANCELED");
}

#[test]
fn admin_override_skips_validation_and_a_missing_schema_is_an_error() {
    let bypass = simulate(json!({
        "definition": definition(json!([approval_task()])),
        "payload": {"item": "x"},
        "taskTypes": task_types(),
        "stimuli": [{"humanTask": {"response": {"__admin_override": true, "approved": false}}}]
    }));
    assert_eq!(bypass["status"], "SUCCEEDED", "{bypass:#}");
    let missing = simulate(json!({
        "definition": definition(json!([approval_task()])),
        "payload": {"item": "x"},
        "stimuli": [{"humanTask": {"response": {"approved": true}}}]
    }));
    assert_eq!(missing["status"], "FAILED");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Missing form schema for task type approval")
    );
}

#[test]
fn responses_for_other_tasks_stay_buffered() {
    let report = simulate(json!({
        "definition": definition(json!([approval_task()])),
        "payload": {"item": "x"},
        "taskTypes": task_types(),
        "stimuli": [{"humanTask": {"taskId": "task-99", "response": {"approved": true}}}]
    }));
    assert_eq!(report["status"], "WAITING", "{report:#}");
}

fn child_definition() -> Value {
    json!({"id": "child", "version": 2, "name": "Child", "payloadSchemaRef": "payload.Child.v1", "steps": [
        {"id": "double", "type": "transform.assign", "config": {"assign": {"vars.result": {"$expr": "payload.n * 2"}}}},
        {"id": "mark", "type": "state.set", "config": {"state": "CHILD_DONE"}}
    ]})
}

fn call_child(extra: Value) -> Value {
    let mut step = json!({"id": "call", "type": "control.callWorkflow", "workflowId": "child", "workflowVersion": 2,
        "inputMapping": {"n": {"$expr": "payload.n"}},
        "outputMapping": {"vars.fromChild": {"$expr": "childRun.vars.result"},
                          "vars.childState": {"$expr": "childRun.meta.state"}}});
    if let (Some(step), Some(extra)) = (step.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            step.insert(k.clone(), v.clone());
        }
    }
    step
}

#[test]
fn a_child_runs_its_pinned_definition_and_maps_its_output() {
    let report = simulate(json!({
        "definition": definition(json!([call_child(json!({}))])),
        "payload": {"n": 21},
        "workflows": {"child@2": child_definition()}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["fromChild"], 42);
    assert_eq!(report["scopes"]["vars"]["childState"], "CHILD_DONE");
    assert_eq!(report["children"][0]["report"]["status"], "SUCCEEDED");
    assert_eq!(report["children"][0]["childKey"], "run-sim:root.steps[0]:1");
}

/// `childRun.meta` and `childRun.system` hold the child's system fields (the reference's
/// `childRun.meta` is only those), its definition hash included.
#[test]
fn a_childs_output_mapping_reads_the_childs_system_fields() {
    let mut step = call_child(json!({}));
    step["outputMapping"] = json!({
        "vars.childWorkflow": {"$expr": "childRun.meta.workflowId"},
        "vars.childVersion": {"$expr": "childRun.meta.workflowVersion"},
        "vars.childRunId": {"$expr": "childRun.system.runId"},
        "vars.childHash": {"$expr": "childRun.system.definitionHash"},
        "vars.childTenant": {"$expr": "childRun.meta.tenantId"}
    });
    let report = simulate(json!({
        "definition": definition(json!([step])),
        "payload": {"n": 1},
        "workflows": {"child@2": child_definition()}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    let vars = &report["scopes"]["vars"];
    assert_eq!(vars["childWorkflow"], "child");
    assert_eq!(vars["childVersion"], 2);
    assert_eq!(vars["childRunId"], report["children"][0]["childKey"]);
    assert_eq!(vars["childTenant"], "tenant-sim");
    let hash = vars["childHash"].as_str().unwrap_or_default();
    assert!(
        hash.starts_with("blake3:"),
        "the child's definition hash: {vars:#}"
    );
    assert!(
        report["scopes"].get("system").is_none(),
        "the report's scopes stay payload, vars, meta, error"
    );
}

#[test]
fn a_failed_child_is_a_child_workflow_error_with_details() {
    let failing = json!({"id": "child", "version": 2, "name": "Child", "payloadSchemaRef": "p", "steps": [
        {"id": "boom", "type": "action.call", "config": {"actionId": "test.fail", "version": 1, "inputMapping": {"message": "child broke"}}}
    ]});
    let report = simulate(json!({
        "definition": definition(json!([call_child(json!({}))])),
        "payload": {"n": 1},
        "workflows": {"child@2": failing}
    }));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "ChildWorkflowError");
    let details = &report["error"]["details"];
    assert_eq!(details["workflowId"], "child");
    assert_eq!(details["workflowVersion"], 2);
    assert_eq!(details["cause"], "child broke");
}

#[test]
fn a_child_retry_reuses_the_same_child_identity() {
    let flaky = json!({"id": "child", "version": 2, "name": "Child", "payloadSchemaRef": "p", "steps": [
        {"id": "flaky", "type": "action.call", "config": {"actionId": "x.flaky", "version": 1, "saveAs": "vars.result"}},
        {"id": "mark", "type": "state.set", "config": {"state": "OK"}}
    ]});
    let report = simulate(json!({
        "definition": definition(json!([call_child(json!({"retry": {"maxAttempts": 2, "backoffMs": 500, "retryOn": ["ChildWorkflowError"]}}))])),
        "payload": {"n": 1},
        "workflows": {"child@2": flaky},
        "actions": {"x.flaky@1": [{"error": {"category": "TransientError", "message": "first"}}, {"output": 7}]}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["fromChild"], 7);
    assert_eq!(report["steps"][0]["attempt"], 2);
    let keys: Vec<&Value> = report["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["childKey"])
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the retry reuses the child identity");
}

#[test]
fn a_child_inside_a_try_is_caught() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "t", "type": "control.tryCatch", "try": [call_child(json!({}))], "catch": [
                {"id": "c", "type": "transform.assign", "config": {"assign": {"vars.caught": {"$expr": "error.category"}}}}]}
        ])),
        "payload": {"n": 1},
        "workflows": {}
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["caught"], "ChildWorkflowError");
}

#[test]
fn cancelling_the_parent_while_its_child_waits_cancels_both() {
    let waiting_child = json!({"id": "child", "version": 2, "name": "Child", "payloadSchemaRef": "p", "steps": [
        {"id": "w", "type": "event.wait", "config": {"eventName": "NEVER", "correlationKey": {"$expr": "'k'"}}}
    ]});
    let report = simulate(json!({
        "definition": definition(json!([call_child(json!({}))])),
        "payload": {"n": 1},
        "workflows": {"child@2": waiting_child},
        "stimuli": [{"cancel": true}]
    }));
    assert_eq!(report["status"], "CANCELED", "{report:#}");
    assert_eq!(report["steps"][0]["status"], "CANCELED");
}

/// A cancellation that arrives while the child's action runs is the run's: the child is
/// cancelled and so is its parent (not failed with a `ChildWorkflowError`), as cancelling a run
/// cancels its children; the cancelled attempt is in the child's report.
#[test]
fn a_cancellation_while_the_childs_action_runs_cancels_both() {
    let working_child = json!({"id": "child", "version": 2, "name": "Child", "payloadSchemaRef": "p", "steps": [
        {"id": "work", "type": "action.call", "config": {"actionId": "slow.thing", "version": 1}},
        {"id": "mark", "type": "state.set", "config": {"state": "CHILD_DONE"}}
    ]});
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "t", "type": "control.tryCatch", "try": [call_child(json!({}))], "catch": [
                {"id": "c", "type": "state.set", "config": {"state": "CAUGHT"}}]}
        ])),
        "payload": {"n": 1},
        "workflows": {"child@2": working_child},
        "actions": {"slow.thing@1": [{"cancel": true}]}
    }));
    assert_eq!(report["status"], "CANCELED", "{report:#}");
    assert_eq!(report["error"]["category"], "Cancellation", "{report:#}");
    let child = &report["children"][0]["report"];
    assert_eq!(child["status"], "CANCELED", "{report:#}");
    assert_eq!(child["actions"][0]["actionId"], "slow.thing", "{child:#}");
    assert_eq!(child["actions"][0]["outcome"], "cancelled", "{child:#}");
    assert_ne!(
        report["scopes"]["meta"]["state"], "CAUGHT",
        "a cancellation is not caught"
    );
}

/// A run's own action cancelled while it runs is in the report's actions, `cancelled`.
#[test]
fn a_cancelled_attempt_is_reported() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "work", "type": "action.call", "config": {"actionId": "slow.thing", "version": 1}}
        ])),
        "payload": {},
        "actions": {"slow.thing@1": [{"cancel": true}]}
    }));
    assert_eq!(report["status"], "CANCELED", "{report:#}");
    let actions = report["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{report:#}");
    assert_eq!(actions[0]["outcome"], "cancelled");
    assert_eq!(actions[0]["attempt"], 1);
}
