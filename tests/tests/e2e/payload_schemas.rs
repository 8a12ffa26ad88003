//! Payload schemas: a tenant registers the JSON Schema a `payloadSchemaRef` names; every start
//! (the API, an event's trigger) is checked against it and refused with every error and its
//! path, storing nothing; a schedule's payload is checked when it is made, when a new version
//! it does not fit is published and when its schema is replaced (the schedule is then failed
//! with the reason).

use serde_json::{Value, json};

use crate::api::{Api, create_key};
use crate::common::temporal::System;

const TENANT: &str = "5c000000-0000-4000-8000-0000000000f1";
const STRANGER: &str = "5c000000-0000-4000-8000-0000000000f2";

fn publish(
    api: &Api,
    key: &str,
    (id, version): (&str, u32),
    schema_ref: &str,
    trigger: Option<&str>,
) -> Value {
    let mut definition = crate::common::definition(json!([
        {"id": "s", "type": "state.set", "config": {"state": "DONE"}}
    ]));
    definition["id"] = json!(id);
    definition["version"] = json!(version);
    definition["payloadSchemaRef"] = json!(schema_ref);
    if let Some(event) = trigger {
        definition["trigger"] = json!({"type": "event", "eventName": event});
    }
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(key),
        Some(&json!({"definition": definition})),
    );
    assert_eq!(status, 201, "{body:#}");
    body
}

fn warning_codes(published: &Value) -> Vec<&str> {
    published["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect()
}

#[test]
fn payloads_are_checked_against_their_registered_schema() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let reader = create_key(&system, TENANT, "read");
    let stranger = create_key(&system, STRANGER, "admin");
    let order_v1 = json!({"type": "object", "required": ["orderId", "qty"], "properties": {
        "orderId": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}});
    let put = |key: &str, schema_ref: &str, schema: &Value| {
        api.call(
            "PUT",
            &format!("/api/workflow-payload-schemas/{schema_ref}"),
            Some(key),
            Some(&json!({"schema": schema})),
        )
    };
    let (status, body) = put(&admin, "payload.Order.v1", &order_v1);
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["scope"], "tenant", "{body:#}");
    assert_eq!(
        put(&admin, "payload.Order.v1", &order_v1).0,
        200,
        "replaced"
    );
    let (status, body) = put(&admin, "payload.Broken.v1", &json!({"type": 5}));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("PAYLOAD_SCHEMA_INVALID")),
        "{body:#}"
    );
    assert_eq!(put(&admin, "bad%20ref", &order_v1).0, 400);
    assert_eq!(put(&reader, "payload.Order.v1", &order_v1).0, 403);

    // The CLI manages the same registry.
    let file = dir.path().join("cli-schema.json");
    std::fs::write(
        &file,
        json!({"type": "object", "required": ["id"]}).to_string(),
    )
    .unwrap();
    let mut args = vec![
        "payload-schemas",
        "set",
        "--tenant",
        TENANT,
        "payload.Cli.v1",
    ];
    args.push(file.to_str().unwrap());
    let database = system.database_args();
    args.extend(database.iter().map(String::as_str));
    let out = crate::common::alga_wf(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["created"], true, "{}", out.stdout);
    let cli_schema = "/api/workflow-payload-schemas/payload.Cli.v1";
    let (status, body) = api.call("GET", cli_schema, Some(&admin), None);
    assert_eq!(
        (status, &body["schema"]["required"]),
        (200, &json!(["id"])),
        "{body:#}"
    );

    // The system's schemas are seen by every tenant; a tenant's own only by it.
    let (_, listed) = api.call("GET", "/api/workflow-payload-schemas", Some(&admin), None);
    let scopes: Vec<(&str, &str)> = listed["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["schemaRef"].as_str().unwrap(),
                s["scope"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        scopes.contains(&("payload.Order.v1", "tenant")),
        "{listed:#}"
    );
    assert!(
        scopes.contains(&("payload.Hello.v1", "system")),
        "{listed:#}"
    );
    let theirs = "/api/workflow-payload-schemas/payload.Order.v1";
    assert_eq!(api.call("GET", theirs, Some(&stranger), None).0, 404);
    let hello = "/api/workflow-payload-schemas/payload.Hello.v1";
    assert_eq!(
        api.call("GET", hello, Some(&stranger), None).1["scope"],
        "system"
    );

    // Publishing knows which refs are registered.
    let published = publish(
        &api,
        &admin,
        ("ordered", 1),
        "payload.Order.v1",
        Some("ORDER_PLACED"),
    );
    assert!(
        !warning_codes(&published).contains(&"PAYLOAD_SCHEMA_REF_UNKNOWN"),
        "{published:#}"
    );
    let unknown = publish(&api, &admin, ("unchecked", 1), "payload.Nobody.v1", None);
    assert!(
        warning_codes(&unknown).contains(&"PAYLOAD_SCHEMA_REF_UNKNOWN"),
        "{unknown:#}"
    );

    // A start that breaks the schema is refused with every error and path; nothing is stored.
    let bad = json!({"workflowId": "ordered", "payload": {"orderId": 5, "qty": 0}});
    let (status, body) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&bad));
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["error"], "PAYLOAD_INVALID", "{body:#}");
    assert_eq!(body["details"]["schemaRef"], "payload.Order.v1", "{body:#}");
    let errors: Vec<&str> = body["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(errors.len(), 2, "{body:#}");
    assert!(errors[0].starts_with("/orderId:"), "{errors:?}");
    assert!(errors[1].starts_with("/qty:"), "{errors:?}");
    let (_, runs) = api.call("GET", "/api/workflow-runs", Some(&admin), None);
    assert_eq!(runs["runs"], json!([]), "nothing stored: {runs:#}");
    let good = json!({"workflowId": "ordered", "payload": {"orderId": "o-1", "qty": 2}});
    assert_eq!(
        api.call("POST", "/api/workflow-runs", Some(&admin), Some(&good))
            .0,
        201
    );

    // An event's trigger is checked the same way, and the event says why it started nothing.
    let event = json!({"eventName": "ORDER_PLACED", "payload": {"orderId": "o-2"}});
    let (_, routed) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
    assert_eq!(routed["startedRuns"], json!([]), "{routed:#}");
    assert!(
        routed["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not match payload.Order.v1")),
        "{routed:#}"
    );

    // Schedules: a payload that does not fit is refused when the schedule is made...
    let schedule = |payload: Value| {
        json!({"workflowId": "ordered", "name": "nightly", "triggerType": "recurring",
            "cron": "0 3 * * *", "payload": payload})
    };
    let (status, body) = api.call(
        "POST",
        "/api/workflow-schedules",
        Some(&admin),
        Some(&schedule(json!({"qty": 1}))),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("PAYLOAD_INVALID")),
        "{body:#}"
    );
    let (status, nightly) = api.call(
        "POST",
        "/api/workflow-schedules",
        Some(&admin),
        Some(&schedule(json!({"orderId": "o-3", "qty": 1}))),
    );
    assert_eq!(status, 201, "{nightly:#}");
    // ...and a new version whose schema it does not fit fails the schedule with the reason.
    let order_v2 = json!({"type": "object", "required": ["orderId", "qty", "customer"]});
    assert_eq!(put(&admin, "payload.Order.v2", &order_v2).0, 201);
    let moved = publish(
        &api,
        &admin,
        ("ordered", 2),
        "payload.Order.v2",
        Some("ORDER_PLACED"),
    );
    assert!(
        moved["scheduleProblems"][0]
            .as_str()
            .is_some_and(|p| p.contains("customer")),
        "{moved:#}"
    );
    let (_, row) = api.call(
        "GET",
        &format!(
            "/api/workflow-schedules/{}",
            nightly["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    );
    assert_eq!(row["status"], "failed", "{row:#}");
    assert_eq!(row["enabled"], false, "{row:#}");
    assert_eq!(
        row["temporal"]["paused"], true,
        "it stops firing too: {row:#}"
    );
    assert!(
        row["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("customer")),
        "{row:#}"
    );

    // Replacing a schema checks the schedules of the workflows that name it, as publishing a
    // new version does: the one whose payload no longer fits fails and stops; a schedule of a
    // workflow under another schema is left alone.
    let audit_v1 = json!({"type": "object", "required": ["scope"]});
    assert_eq!(put(&admin, "payload.Audit.v1", &audit_v1).0, 201);
    publish(&api, &admin, ("audited", 1), "payload.Audit.v1", None);
    let make = |workflow: &str, payload: Value| {
        let body = json!({"workflowId": workflow, "name": "weekly", "triggerType": "recurring",
            "cron": "0 4 * * 1", "payload": payload});
        let (status, made) = api.call("POST", "/api/workflow-schedules", Some(&admin), Some(&body));
        assert_eq!(status, 201, "{made:#}");
        made["id"].as_str().unwrap().to_owned()
    };
    let weekly = make("audited", json!({"scope": "all"}));
    let untouched = make("unchecked", json!({}));
    let stricter = json!({"type": "object", "required": ["scope", "auditor"]});
    let (status, replaced) = put(&admin, "payload.Audit.v1", &stricter);
    assert_eq!(status, 200, "{replaced:#}");
    assert!(
        replaced["scheduleProblems"][0]
            .as_str()
            .is_some_and(|p| p.contains("auditor")),
        "{replaced:#}"
    );
    let row = |id: &str| {
        api.call(
            "GET",
            &format!("/api/workflow-schedules/{id}"),
            Some(&admin),
            None,
        )
        .1
    };
    let failed = row(&weekly);
    assert_eq!(
        (
            failed["status"].as_str(),
            failed["temporal"]["paused"].as_bool()
        ),
        (Some("failed"), Some(true)),
        "{failed:#}"
    );
    let other = row(&untouched);
    assert_eq!(other["enabled"], true, "{other:#}");
    assert_ne!(other["status"], "failed", "{other:#}");
}
