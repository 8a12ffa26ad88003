//! The authorization matrix: every operation of the OpenAPI document, called by every kind of
//! caller that must be refused, against a tenant's real objects (a workflow, a run, its task,
//! an event, a schedule, a key), with the exact status each must get and nothing of the
//! tenant's changed afterwards.
//!
//! The role an operation needs is read from its security scope in the document, the same
//! annotation that sits on the handler whose signature enforces it (`Caller<ToManage>`). An
//! `/api` operation without a scope, or a request body this file does not know, fails the test:
//! a new route cannot escape the matrix.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Api, create_key};
use crate::common;
use crate::common::temporal::System;

const TENANT: &str = "7b000000-0000-4000-8000-0000000000a1";
/// The tenant's own payload schema.
const SCHEMA_REF: &str = "payload.Matrix.v1";
/// The tenant's own task type.
const TASK_TYPE: &str = "matrix-own-approval";
const OTHER: &str = "7b000000-0000-4000-8000-0000000000b2";
const WORKFLOW: &str = "7b000000-1111-4000-8000-000000000001";
const EVENT: &str = "7b000000-2222-4000-8000-000000000001";
const ROLES: [&str; 4] = ["read", "manage", "publish", "admin"];

/// Whether `role` satisfies `needed` (the reference's rule, as the API applies it).
fn allows(role: &str, needed: &str) -> bool {
    role == "admin" || role == needed || needed == "read"
}

/// Every row of the tenant's, as text (the API key's `last_used_at` aside: using a key is not
/// changing anything).
fn fingerprint(system: &System) -> String {
    let tables = system.database.sql(
        "SELECT string_agg(table_name, ' ' ORDER BY table_name) FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'tenant'",
    );
    tables
        .split_whitespace()
        .map(|table| {
            // Bookkeeping no caller writes: a key's last use, and the sweeper's last question
            // to Temporal about a run idle for a minute (a slow machine takes that long).
            let row = match table {
                "workflow_api_keys" => "to_jsonb(t) - 'last_used_at'",
                "workflow_runs" => "to_jsonb(t) - 'reconciled_at'",
                _ => "to_jsonb(t)",
            };
            system.database.sql(&format!(
                "SELECT '{table}: ' || coalesce(string_agg(({row})::text, ',' ORDER BY ({row})::text), '')
                 FROM {table} t WHERE tenant = '{TENANT}'"
            ))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of each path parameter of the document: the tenant's objects.
fn path_ids(objects: &Objects) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("{workflow}", WORKFLOW.to_owned()),
        ("{version}", "1".to_owned()),
        ("{run_id}", objects.run.clone()),
        ("{id}", objects.schedule.clone()),
        ("{task_id}", objects.task.clone()),
        ("{event_id}", EVENT.to_owned()),
        ("{key_id}", objects.key_id.clone()),
        ("{schema_ref}", SCHEMA_REF.to_owned()),
        ("{task_type}", TASK_TYPE.to_owned()),
    ])
}

/// No call failed its expectation, and the tenant's rows are as they were `before`.
fn assert_held(system: &System, before: &str, failures: &[String], what: &str) {
    assert!(
        failures.is_empty(),
        "{} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        before,
        fingerprint(system),
        "{what} changed the tenant's rows"
    );
}

/// A definition with `WORKFLOW` as its id, at `version`.
fn definition(version: u32) -> Value {
    let mut definition = common::definition(json!([
        {"id": "ask", "type": "human.task", "config": {"taskType": "matrix-approval",
            "title": {"$expr": "'Approve'"}}}
    ]));
    definition["id"] = json!(WORKFLOW);
    definition["version"] = json!(version);
    definition
}

/// The body each writing operation is sent (well-formed, so the refusal is about the caller
/// and not the body). An operation missing here fails the test.
fn body_for(method: &str, path: &str, schedule_at: &str) -> Option<Value> {
    let body = match (method, path) {
        ("POST", "/api/workflow-definitions")
        | ("POST", "/api/workflow-definitions/publish")
        | ("POST", "/api/workflow-definitions/validate")
        | ("PUT", "/api/workflow-definitions/{workflow}/draft") => {
            json!({"definition": definition(2)})
        }
        ("POST", "/api/workflow-definitions/{workflow}/publish") => json!({}),
        ("POST", "/api/workflow-definitions/{workflow}/simulate") => json!({"payload": {}}),
        ("PUT", "/api/workflow-definitions/{workflow}/metadata") => json!({"isPaused": true}),
        ("POST", "/api/workflow-runs") => json!({"workflowId": WORKFLOW, "payload": {}}),
        ("POST", "/api/workflow-runs/{run_id}/cancel")
        | ("POST", "/api/workflow-runs/{run_id}/replay")
        | ("POST", "/api/workflow-runs/{run_id}/redrive") => json!({"reason": "the matrix"}),
        ("POST", "/api/workflow-schedules") => {
            json!({"workflowId": WORKFLOW, "triggerType": "schedule", "runAt": schedule_at})
        }
        ("PUT", "/api/workflow-schedules/{id}") => json!({"name": "moved", "runAt": schedule_at}),
        ("POST", "/api/workflow-schedules/{id}/pause")
        | ("POST", "/api/workflow-schedules/{id}/resume")
        | ("POST", "/api/workflow-tasks/{task_id}/claim")
        | ("POST", "/api/workflow-tasks/{task_id}/dismiss") => json!({}),
        ("POST", "/api/workflow-tasks/{task_id}/complete") => json!({"payload": {}}),
        // No id: the server makes one, so another tenant's accepted event is a new one of its
        // own (event ids are per tenant) and never the tenant's `EVENT`.
        ("POST", "/api/workflow/events") => json!({"eventName": "MATRIX_EVENT", "payload": {}}),
        ("POST", "/api/api-keys") => json!({"name": "matrix", "role": "read"}),
        ("PUT", "/api/workflow-payload-schemas/{schema_ref}") => {
            json!({"schema": {"type": "object"}})
        }
        ("PUT", "/api/workflow-task-types/{task_type}") => {
            json!({"formSchema": {"type": "object"}})
        }
        ("GET" | "DELETE", _) => return None,
        _ => panic!("{method} {path} has no body in the authorization matrix: add one"),
    };
    Some(body)
}

/// What another tenant's admin gets from an operation that names no object in its path:
/// lists answer with the caller's own (empty) data; creations that name the first tenant's
/// workflow find nothing; the rest act on the caller's own tenant.
fn other_tenant_expects(method: &str, path: &str) -> u16 {
    match (method, path) {
        ("GET", _) => 200,
        ("POST", "/api/workflow-definitions/validate") => 200,
        ("POST", "/api/api-keys") => 201,
        // Event ids are unique per tenant (docs/api.md): the same id is the caller's own event.
        ("POST", "/api/workflow/events") => 200,
        _ => 404,
    }
}

/// The tenant's objects every operation is called against.
pub(crate) struct Objects {
    admin: String,
    run: String,
    task: String,
    schedule: String,
    key_id: String,
    schedule_at: String,
}

/// Makes the tenant's objects: a published workflow, a run waiting on its human task, an
/// event, a schedule far in the future, and an admin key.
fn populate(system: &System, api: &Api) -> Objects {
    system.database.sql(
        r#"INSERT INTO system_workflow_form_definitions (name, json_schema) VALUES ('matrix-form',
             '{"type": "object"}');
           INSERT INTO system_workflow_task_definitions (task_type, name, form_id)
             VALUES ('matrix-approval', 'Approval', 'matrix-form');"#,
    );
    let admin = create_key(system, TENANT, "admin");
    let (status, body) = api.call(
        "PUT",
        &format!("/api/workflow-payload-schemas/{SCHEMA_REF}"),
        Some(&admin),
        Some(&json!({"schema": {"type": "object"}})),
    );
    assert_eq!(status, 201, "{body:#}");
    let (status, body) = api.call(
        "PUT",
        &format!("/api/workflow-task-types/{TASK_TYPE}"),
        Some(&admin),
        Some(&json!({"formSchema": {"type": "object"}})),
    );
    assert_eq!(status, 201, "{body:#}");

    // The tenant's objects.
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&admin),
        Some(&json!({"definition": definition(1)})),
    );
    assert_eq!(status, 201, "{body:#}");
    let (status, started) = api.call(
        "POST",
        "/api/workflow-runs",
        Some(&admin),
        Some(&json!({"workflowId": WORKFLOW, "payload": {}})),
    );
    assert_eq!(status, 201, "{started:#}");
    let run = started["runId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        let (_, listed) = api.call(
            "GET",
            &format!("/api/workflow-tasks?runId={run}"),
            Some(&admin),
            None,
        );
        if let Some(id) = listed["tasks"][0]["taskId"].as_str() {
            break id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the task never opened: {listed:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (status, body) = api.call(
        "POST",
        "/api/workflow/events",
        Some(&admin),
        Some(&json!({"eventId": EVENT, "eventName": "MATRIX_EVENT", "payload": {}})),
    );
    assert_eq!(status, 200, "{body:#}");
    let schedule_at = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, schedule) = api.call(
        "POST",
        "/api/workflow-schedules",
        Some(&admin),
        Some(&json!({"workflowId": WORKFLOW, "triggerType": "schedule", "runAt": schedule_at})),
    );
    assert_eq!(status, 201, "{schedule:#}");
    let schedule = schedule["id"].as_str().unwrap().to_owned();
    let (_, listed) = api.call("GET", "/api/api-keys", Some(&admin), None);
    let key_id = listed["keys"][0]["keyId"].as_str().unwrap().to_owned();

    Objects {
        admin,
        run,
        task,
        schedule,
        key_id,
        schedule_at,
    }
}

#[test]
fn every_route_refuses_every_caller_it_should_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let objects = populate(&system, &api);
    let ids = path_ids(&objects);
    let Objects {
        admin,
        run,
        task,
        schedule,
        key_id,
        schedule_at,
    } = objects;
    let keys: BTreeMap<&str, String> = ROLES
        .iter()
        .map(|role| (*role, create_key(&system, TENANT, role)))
        .collect();
    let other = create_key(&system, OTHER, "admin");

    // Keys that must not work: revoked, expired, made up.
    let revoked = create_key(&system, TENANT, "admin");
    let expired = create_key(&system, TENANT, "admin");
    let (_, listed) = api.call("GET", "/api/api-keys", Some(&admin), None);
    let newest: Vec<String> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|k| k["keyId"].as_str().unwrap().to_owned())
        .collect();
    // Newest first: `expired` then `revoked`.
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/api-keys/{}", newest[1]),
            Some(&admin),
            None
        )
        .0,
        204
    );
    system.database.sql(&format!(
        "UPDATE workflow_api_keys SET expires_at = now() - interval '1 second' WHERE key_id = '{}'",
        newest[0]
    ));
    let refused: [(&str, Option<&str>); 4] = [
        ("no key", None),
        (
            "a made-up key",
            Some("awf_00000000000000000000000000000000"),
        ),
        ("a revoked key", Some(&revoked)),
        ("an expired key", Some(&expired)),
    ];

    let document: Value = serde_json::from_str(&common::alga_wf(&["openapi"]).stdout).unwrap();
    let before = fingerprint(&system);
    let mut operations = 0;
    let mut cells = 0;
    let mut failures = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            operations += 1;
            let mut path = template.clone();
            for (name, id) in &ids {
                path = path.replace(name, id);
            }
            assert!(
                !path.contains('{'),
                "{method} {template}: a path parameter has no object"
            );
            let body = if method == "GET" {
                None
            } else {
                body_for(&method, template, &schedule_at)
            };
            let scope = operation["security"][0]["api_key"][0].as_str();
            let mut check = |who: &str, key: Option<&str>, expected: u16| {
                cells += 1;
                let (status, answer) = api.call(&method, &path, key, body.as_ref());
                if status != expected {
                    failures.push(format!(
                        "{method} {template} by {who}: {status}, not {expected}: {answer}"
                    ));
                }
                answer
            };
            let Some(needed) = scope else {
                assert!(
                    !template.starts_with("/api/"),
                    "{method} {template} has no role scope"
                );
                // Health and metrics: open to anyone.
                check("no key", None, 200);
                continue;
            };
            for (who, key) in refused {
                check(who, key, 401);
            }
            for role in ROLES {
                if !allows(role, needed) {
                    check(role, Some(&keys[role]), 403);
                } else if method == "GET" {
                    check(role, Some(&keys[role]), 200);
                }
            }
            let per_tenant_name = template == "/api/workflow-payload-schemas/{schema_ref}"
                || template == "/api/workflow-task-types/{task_type}";
            let expected = if per_tenant_name {
                // A schema ref or task type names one in the caller's own registry: another
                // tenant has none of that name (404), defines its own (201) and removes it
                // again (200), and the first tenant's is never touched (the document lists
                // get, put, delete).
                match method.as_str() {
                    "PUT" => 201,
                    "DELETE" => 200,
                    _ => 404,
                }
            } else if template.contains('{') {
                404
            } else {
                other_tenant_expects(&method, template)
            };
            let answer = check("another tenant's admin", Some(&other), expected);
            // What it was given back (its own lists, its own new key) holds nothing of the
            // first tenant's; an error may only repeat the id the caller sent.
            if (200..300).contains(&expected) {
                let text = answer.to_string();
                for id in [WORKFLOW, &run, &task, EVENT, &schedule, &key_id] {
                    if text.contains(id) {
                        failures.push(format!("{method} {template} showed {id}: {text}"));
                    }
                }
            }
        }
    }
    assert_held(&system, &before, &failures, "a refused call");
    println!("authorization matrix: {operations} operations, {cells} calls, all as expected");
}

/// Bad input, everywhere: every operation of the document, called by the tenant's admin with
/// ids of the wrong shape and (where it takes a body) malformed JSON, the wrong type, a body
/// nested ten thousand deep, one past the size limit, a lone surrogate, and an unknown field,
/// answers with a 4xx and our error body, never a 5xx, and stores nothing.
#[test]
fn bad_input_is_a_4xx_everywhere_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let objects = populate(&system, &api);
    let ids = path_ids(&objects);
    let document: Value = serde_json::from_str(&common::alga_wf(&["openapi"]).stdout).unwrap();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!("{{\"blob\": \"{}\"}}", "x".repeat(600 * 1024));
    let before = fingerprint(&system);
    let (mut calls, mut failures) = (0, Vec::new());
    for (template, item) in document["paths"].as_object().unwrap() {
        if !template.starts_with("/api/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let mut check = |what: &str, path: &str, body: Option<&str>| {
                calls += 1;
                let (status, answer) = api.call_raw(&method, path, &objects.admin, body);
                let shaped = answer["error"].is_string() && answer["message"].is_string();
                if !(400..500).contains(&status) || !shaped {
                    failures.push(format!(
                        "{method} {template} with {what}: {status} {answer}"
                    ));
                }
            };
            // Ids of the wrong shape, one parameter at a time.
            for name in ids.keys().filter(|name| template.contains(*name)) {
                let mut path = template.clone();
                for (other, id) in &ids {
                    let value = if other == name {
                        "not-an-id%00"
                    } else {
                        id.as_str()
                    };
                    path = path.replace(other, value);
                }
                let body = body_for(&method, template, &objects.schedule_at).map(|b| b.to_string());
                check(&format!("a malformed {name}"), &path, body.as_deref());
            }
            if operation.get("requestBody").is_none() {
                continue;
            }
            let mut path = template.clone();
            for (name, id) in &ids {
                path = path.replace(name, id);
            }
            let valid = body_for(&method, template, &objects.schedule_at).unwrap_or(json!({}));
            let mut surplus = valid.clone();
            surplus["surplusField"] = json!(true);
            let surplus = surplus.to_string();
            for (what, body) in [
                ("malformed JSON", "{\"a\": "),
                ("the wrong type", "[1, 2]"),
                ("10,000 levels of nesting", deep.as_str()),
                ("a body past the limit", huge.as_str()),
                ("a lone surrogate", "{\"definition\": \"\\ud800\"}"),
                ("an unknown field", surplus.as_str()),
            ] {
                check(what, &path, Some(body));
            }
        }
    }
    assert_held(&system, &before, &failures, "bad input");
    println!("bad input: {calls} calls, every one a 4xx with an error body");
}

/// `/metrics` and `/openapi.json` can be put behind a key, and metrics on an address of their
/// own, for an API reachable beyond the operator's network.
#[test]
fn operations_pages_can_need_a_key_and_metrics_an_address_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let metrics_port = crate::common::temporal::free_port();
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    let api = Api::start_with(
        &system,
        &[
            "--keyed-operations-pages",
            "--metrics-listen",
            &metrics_listen,
        ],
    );
    let reader = create_key(&system, TENANT, "read");
    for page in ["/metrics", "/openapi.json"] {
        assert_eq!(
            api.call("GET", page, None, None).0,
            401,
            "{page} without a key"
        );
        assert_eq!(
            api.call("GET", page, Some("awf_made_up"), None).0,
            401,
            "{page}"
        );
        assert_eq!(
            api.call("GET", page, Some(&reader), None).0,
            200,
            "{page} with a key"
        );
    }
    // Prometheus' text format, without a key (the address is the operator's to keep private).
    let scraped = ureq::get(format!("http://{metrics_listen}/metrics"))
        .call()
        .expect("the metrics address answers");
    assert_eq!(scraped.status().as_u16(), 200);
    // The default stays open, as `/healthz` is.
    let open = Api::start(&system);
    assert_eq!(open.call("GET", "/metrics", None, None).0, 200);
}

/// A request refused before its body is parsed (no key, or too small a role) still gets its
/// answer when the body is large: the API reads the whole body first, so it never closes a
/// connection with data unread (which resets it and can lose the answer).
#[test]
fn a_refused_request_with_a_large_body_gets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let reader = create_key(&system, TENANT, "read");
    let large = json!({"workflowId": WORKFLOW, "payload": {"blob": "x".repeat(400 * 1024)}});
    for _ in 0..10 {
        let (status, body) = api.call("POST", "/api/workflow-runs", None, Some(&large));
        assert_eq!(status, 401, "{body:#}");
        let (status, body) = api.call("POST", "/api/workflow-runs", Some(&reader), Some(&large));
        assert_eq!(status, 403, "{body:#}");
    }
}
