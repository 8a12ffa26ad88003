//! A tenant's own human-task types: a `human.task` of a type the tenant defined takes the
//! tenant's form (before a system type of the same name), and its response is checked against it.

use serde_json::{Value, json};

use crate::api::{Api, create_key};
use crate::common::temporal::System;
use crate::faults::{poll, publish_and_start};

const TENANT: &str = "7a000000-0000-4000-8000-0000000000a7";
const STRANGER: &str = "7a000000-0000-4000-8000-0000000000a8";

#[test]
fn a_tenant_defined_task_type_validates_against_the_tenants_form() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let reader = create_key(&system, TENANT, "read");
    let stranger = create_key(&system, STRANGER, "admin");
    // The system catalog has a type of the same name, with another form.
    system.database.sql(
        r#"INSERT INTO system_workflow_form_definitions (name, json_schema) VALUES ('expense-form',
             '{"type": "object", "required": ["ok"]}');
           INSERT INTO system_workflow_task_definitions (task_type, name, form_id)
             VALUES ('expense-approval', 'Expense', 'expense-form');"#,
    );
    let form = json!({"type": "object", "required": ["approved"],
        "properties": {"approved": {"type": "boolean"}}});
    let put = |key: &str, name: &str, body: &Value| {
        api.call(
            "PUT",
            &format!("/api/workflow-task-types/{name}"),
            Some(key),
            Some(body),
        )
    };
    let body = json!({"description": "Approve an expense", "formSchema": form});
    let (status, saved) = put(&admin, "expense-approval", &body);
    assert_eq!(status, 201, "{saved:#}");
    assert_eq!(saved["scope"], "tenant", "{saved:#}");
    assert_eq!(put(&admin, "expense-approval", &body).0, 200, "redefined");
    let (status, refused) = put(&admin, "broken", &json!({"formSchema": {"type": 5}}));
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("FORM_SCHEMA_INVALID")),
        "{refused:#}"
    );
    assert_eq!(put(&reader, "expense-approval", &body).0, 403);
    // Another tenant still sees the system's type.
    let (_, theirs) = api.call(
        "GET",
        "/api/workflow-task-types/expense-approval",
        Some(&stranger),
        None,
    );
    assert_eq!(theirs["scope"], "system", "{theirs:#}");
    let (_, listed) = api.call("GET", "/api/workflow-task-types", Some(&admin), None);
    let mine: Vec<&Value> = listed["taskTypes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["taskType"] == "expense-approval")
        .collect();
    assert_eq!(mine.len(), 1, "the tenant's hides the system's: {listed:#}");
    assert_eq!(mine[0]["scope"], "tenant");

    let started = publish_and_start(
        &api,
        &admin,
        "expenses",
        json!([{"id": "ask", "type": "human.task", "config": {"taskType": "expense-approval",
            "title": {"$expr": "'Approve the expense'"},
            "assign": {"vars.approved": {"$expr": "vars.event.approved"}}}}]),
        json!({}),
    );
    let run = started["runId"].as_str().unwrap().to_owned();
    let task = loop {
        let (_, tasks) = api.call(
            "GET",
            &format!("/api/workflow-tasks?runId={run}"),
            Some(&admin),
            None,
        );
        if let Some(id) = tasks["tasks"][0]["taskId"].as_str() {
            break id.to_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let (_, detail) = api.call(
        "GET",
        &format!("/api/workflow-tasks/{task}"),
        Some(&admin),
        None,
    );
    assert_eq!(detail["formSchema"], form, "{detail:#}");
    let complete = |payload: Value| {
        api.call(
            "POST",
            &format!("/api/workflow-tasks/{task}/complete"),
            Some(&admin),
            Some(&json!({"payload": payload})),
        )
    };
    // The system form's answer does not satisfy the tenant's.
    let (status, body) = complete(json!({"ok": true}));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("TASK_RESPONSE_INVALID")),
        "{body:#}"
    );
    let (status, body) = complete(json!({"approved": true}));
    assert_eq!(status, 200, "{body:#}");
    poll(&api, &admin, &format!("/api/workflow-runs/{run}"), |r| {
        r["status"] == "SUCCEEDED"
    });
}
