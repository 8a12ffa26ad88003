//! What happened, for people: a run's log tells its story (the worker's moments and the API's
//! actions with the key that acted), and the tenant's audit trail records every change made
//! through the API; another tenant sees neither.

use serde_json::{Value, json};

use crate::api::{Api, create_key};
use crate::common::temporal::System;
use crate::faults::{poll, publish_and_start};

const TENANT: &str = "a0d10000-0000-4000-8000-0000000000e1";
const STRANGER: &str = "a0d10000-0000-4000-8000-0000000000e2";

fn messages(api: &Api, key: &str, run: &str) -> Vec<(String, String)> {
    let (status, body) = api.call(
        "GET",
        &format!("/api/workflow-runs/{run}/logs"),
        Some(key),
        None,
    );
    assert_eq!(status, 200, "{body:#}");
    body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["source"].as_str().unwrap_or_default().to_owned(),
                l["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn runs_log_their_story_and_changes_leave_an_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let reader = create_key(&system, TENANT, "read");
    let stranger = create_key(&system, STRANGER, "admin");
    let (_, keys) = api.call("GET", "/api/api-keys", Some(&admin), None);
    let admin_id = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "admin")
        .and_then(|k| k["keyId"].as_str())
        .unwrap()
        .to_owned();

    let steps = json!([{"id": "w", "type": "event.wait", "config": {"eventName": "GO",
        "correlationKey": {"$expr": "payload.k"}}}]);
    let done = publish_and_start(&api, &admin, "logged", steps, json!({"k": "one"}));
    let done = done["runId"].as_str().unwrap().to_owned();
    poll(&api, &admin, &format!("/api/workflow-runs/{done}"), |r| {
        r["status"] == "WAITING"
    });
    let event = json!({"eventName": "GO", "correlationKey": "one", "payload": {}});
    assert_eq!(
        api.call("POST", "/api/workflow/events", Some(&admin), Some(&event))
            .0,
        200
    );
    poll(&api, &admin, &format!("/api/workflow-runs/{done}"), |r| {
        r["status"] == "SUCCEEDED"
    });
    let story: Vec<String> = messages(&api, &reader, &done)
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        story,
        [
            "run started (version 1)",
            "waiting for an event",
            "the wait for an event resolved",
            "run succeeded"
        ],
        "{story:#?}"
    );

    // A cancel names the key that asked for it, before the run's own end.
    let start = json!({"workflowId": "logged", "payload": {"k": "two"}});
    let (_, cancelled) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    let cancelled = cancelled["runId"].as_str().unwrap().to_owned();
    poll(
        &api,
        &admin,
        &format!("/api/workflow-runs/{cancelled}"),
        |r| r["status"] == "WAITING",
    );
    let (status, _) = api.call(
        "POST",
        &format!("/api/workflow-runs/{cancelled}/cancel"),
        Some(&admin),
        Some(&json!({"reason": "not needed"})),
    );
    assert_eq!(status, 200);
    poll(
        &api,
        &admin,
        &format!("/api/workflow-runs/{cancelled}"),
        |r| r["status"] == "CANCELED",
    );
    let story = messages(&api, &admin, &cancelled);
    assert!(
        story.contains(&(
            "api".into(),
            format!("run.cancel_requested by key {admin_id}")
        )),
        "{story:#?}"
    );
    assert_eq!(
        story.last().map(|(_, m)| m.as_str()),
        Some("run cancelled"),
        "{story:#?}"
    );

    // Settings and keys changed through the API are on the trail, with the key.
    let (status, _) = api.call(
        "PUT",
        "/api/workflow-definitions/logged/metadata",
        Some(&admin),
        Some(&json!({"isPaused": true})),
    );
    assert_eq!(status, 200);
    let (status, made) = api.call(
        "POST",
        "/api/api-keys",
        Some(&admin),
        Some(&json!({"name": "robot", "role": "read"})),
    );
    assert_eq!(status, 201, "{made:#}");
    let (status, trail) = api.call("GET", "/api/workflow-audit", Some(&admin), None);
    assert_eq!(status, 200, "{trail:#}");
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        [
            "api_key.created",
            "workflow.settings_changed",
            "run.cancel_requested",
            "workflow.published"
        ],
        "newest first: {trail:#}"
    );
    let entries = trail["entries"].as_array().unwrap();
    assert!(
        entries.iter().all(|e| e["keyId"] == admin_id.as_str()),
        "{trail:#}"
    );
    assert_eq!(entries[0]["targetId"], made["keyId"], "{trail:#}");
    assert_eq!(entries[1]["details"]["isPaused"], true, "{trail:#}");
    let (_, runs_only) = api.call(
        "GET",
        &format!("/api/workflow-audit?targetType=run&targetId={cancelled}"),
        Some(&admin),
        None,
    );
    assert_eq!(
        runs_only["entries"].as_array().map(Vec::len),
        Some(1),
        "{runs_only:#}"
    );

    // Only admins read the trail; another tenant sees nothing of this one.
    assert_eq!(
        api.call("GET", "/api/workflow-audit", Some(&reader), None)
            .0,
        403
    );
    let (_, theirs) = api.call("GET", "/api/workflow-audit", Some(&stranger), None);
    assert_eq!(theirs["entries"], Value::Array(Vec::new()), "{theirs:#}");
    let (status, _) = api.call(
        "GET",
        &format!("/api/workflow-runs/{done}/logs"),
        Some(&stranger),
        None,
    );
    assert_eq!(status, 404);
}
