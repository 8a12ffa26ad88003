//! The HTTP API (`alga-wf serve`) on the worker test's system: keys and tenants, publish,
//! start, read, event ingress (with duplicates), cancellation, and the error statuses. Called
//! from the worker test, which owns the dev server and the database.
//!
//! Over 600 lines: its scenarios run in order on one system (a dev server and a database take
//! seconds to start), each on the objects the earlier ones made.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;
use crate::common::temporal::{Process, System, free_port};

/// A running `alga-wf serve` and an HTTP client for it.
pub(crate) struct Api {
    base: String,
    agent: ureq::Agent,
    _process: Process,
}

impl Api {
    pub(crate) fn start(system: &System) -> Api {
        Api::start_with(system, &[])
    }

    pub(crate) fn start_with(system: &System, extra: &[&str]) -> Api {
        Api::start_with_env(system, extra, &[])
    }

    /// `alga-wf serve` with extra arguments and environment (e.g. FAILPOINTS).
    pub(crate) fn start_with_env(system: &System, extra: &[&str], env: &[(&str, &str)]) -> Api {
        let port = free_port();
        let child = Command::new(common::binary())
            .env("ALGA_WF_TEST_ACTIONS", "true")
            .envs(env.iter().copied())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .args(system.args())
            .args(system.database_args())
            .env("ALGA_WF_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("alga-wf serve starts");
        let api = Api {
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            _process: Process(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while api.get("/healthz", None).0 != 200 {
            assert!(Instant::now() < deadline, "the API never became healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
        api
    }

    fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        match request.call() {
            Ok(response) => read(response),
            Err(_) => (0, Value::Null),
        }
    }

    fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        read(request.send_json(body).expect("the API answers"))
    }
}

impl Api {
    /// Any method, with an optional key and JSON body: the status and the body (null when
    /// there is none or it is not JSON).
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(key) = key {
            builder = builder.header("x-api-key", key);
        }
        let response = match body {
            Some(body) => {
                let request = builder
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .expect("a request");
                self.agent.run(request)
            }
            None => self.agent.run(builder.body(()).expect("a request")),
        };
        read(response.expect("the API answers"))
    }

    /// A POST that may find nobody listening (the API killed): `None` then, as a client's
    /// connection error.
    pub(crate) fn try_post(&self, path: &str, key: &str, body: &Value) -> Option<(u16, Value)> {
        self.agent
            .post(format!("{}{path}", self.base))
            .header("x-api-key", key)
            .send_json(body)
            .ok()
            .map(read)
    }

    /// Any method with a raw body (sent as JSON whatever it holds): the status and the body.
    pub(crate) fn call_raw(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("x-api-key", key)
            .header("content-type", "application/json");
        let response = match body {
            Some(body) => self
                .agent
                .run(builder.body(body.to_owned()).expect("a request")),
            None => self.agent.run(builder.body(()).expect("a request")),
        };
        read(response.expect("the API answers"))
    }

    /// A GET's status and its `Retry-After` header.
    pub(crate) fn retry_after(&self, path: &str, key: &str) -> (u16, Option<String>) {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("x-api-key", key)
            .call()
            .expect("the API answers");
        let header = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), header)
    }

    fn get_text(&self, path: &str) -> String {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .expect("the API answers");
        response.body_mut().read_to_string().unwrap_or_default()
    }

    fn delete(&self, path: &str, key: &str) -> u16 {
        let request = self
            .agent
            .delete(format!("{}{path}", self.base))
            .header("x-api-key", key);
        read(request.call().expect("the API answers")).0
    }

    fn put(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let request = self
            .agent
            .put(format!("{}{path}", self.base))
            .header("x-api-key", key);
        read(request.send_json(body).expect("the API answers"))
    }
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.body_mut().read_json().unwrap_or(Value::Null);
    (status, body)
}

pub(crate) fn create_key(system: &System, tenant: &str, role: &str) -> String {
    let mut args = vec!["create-api-key", "--tenant", tenant, "--role", role];
    let database = system.database_args();
    args.extend(database.iter().map(String::as_str));
    let out = common::alga_wf(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json()["key"].as_str().unwrap().to_owned()
}

/// Polls a run through the API until `done` accepts it.
fn wait_for_run(api: &Api, key: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = api.get(path, Some(key));
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {body:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn api_scenarios(system: &System, _dir: &Path) {
    let api = Api::start(system);
    let tenant = "6a1c1d5e-2a4b-4c4e-9f00-000000000001";
    let admin = create_key(system, tenant, "admin");
    let reader = create_key(system, tenant, "read");
    // The stranger's tenant owns the worker's tenant secret (`smtp`).
    let stranger = create_key(system, common::temporal::SECRET_TENANT, "admin");

    // Every request needs a live key.
    assert_eq!(api.get("/api/workflow-runs", None).0, 401);
    assert_eq!(api.get("/api/workflow-runs", Some("awf_nope")).0, 401);
    assert_eq!(api.get("/readyz", None).0, 200);

    // Publishing: created, then idempotent; invalid definitions say what and where; roles.
    let mut shipped = common::definition(json!([
        {"id": "wait", "type": "event.wait", "config": {"eventName": "ORDER_SHIPPED",
            "correlationKey": {"$expr": "payload.order"},
            "assign": {"vars.carrier": {"$expr": "vars.event.carrier"}}}},
        {"id": "done", "type": "state.set", "config": {"state": "SHIPPED"}}
    ]));
    shipped["id"] = json!("shipped");
    let publish = json!({"definition": shipped});
    let (status, body) = api.post("/api/workflow-definitions/publish", Some(&admin), &publish);
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["publishedVersion"], 1);
    assert_eq!(
        api.post("/api/workflow-definitions/publish", Some(&admin), &publish)
            .0,
        200
    );
    let (status, _) = api.post("/api/workflow-definitions/publish", Some(&reader), &publish);
    assert_eq!(status, 403);
    let mut broken = shipped.clone();
    broken["steps"][1]["type"] = json!("state.sett");
    let (status, body) = api.post(
        "/api/workflow-definitions/publish",
        Some(&admin),
        &json!({"definition": broken}),
    );
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(
        body["details"]["errors"][0]["code"], "UNKNOWN_NODE_TYPE",
        "{body:#}"
    );
    let (status, body) = api.get("/api/workflow-definitions/shipped/1", Some(&reader));
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["definition"]["steps"][0]["id"], "wait");

    // Starting, reading, and another tenant seeing nothing.
    let start = json!({"workflowId": "shipped", "payload": {"order": "O-7"}});
    let (status, body) = api.post("/api/workflow-runs", Some(&admin), &start);
    assert_eq!(status, 201, "{body:#}");
    let run = body["runId"].as_str().unwrap().to_owned();
    let run_path = format!("/api/workflow-runs/{run}");
    assert_eq!(api.get(&run_path, Some(&stranger)).0, 404);
    assert_eq!(api.get(&run_path, Some(&reader)).0, 200);
    assert_eq!(
        api.post("/api/workflow-runs", Some(&stranger), &start).0,
        404,
        "another tenant cannot start this tenant's workflow"
    );
    wait_for_run(&api, &reader, &format!("{run_path}/steps"), |steps| {
        steps["waits"][0]["status"] == "WAITING"
    });

    // Event ingress resumes the waiting run once; the duplicate signals nothing. The event
    // names no key: it is read from the payload (`projectId`, one of the default paths).
    let event = json!({"eventId": "0c9b1f7e-1111-4a4a-8888-000000000001", "eventName": "ORDER_SHIPPED",
        "payload": {"carrier": "DHL", "projectId": "O-7"}});
    let (status, body) = api.post("/api/workflow/events", Some(&admin), &event);
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["status"], "resumed");
    assert_eq!(body["runId"], run.as_str());
    let (_, again) = api.post("/api/workflow/events", Some(&admin), &event);
    assert_eq!(again["status"], "duplicate", "{again:#}");
    assert_eq!(again["runId"], run.as_str());
    let finished = wait_for_run(&api, &reader, &run_path, |r| r["status"] == "SUCCEEDED");
    assert_eq!(finished["nodePath"], Value::Null);
    let (_, unmatched) = api.post(
        "/api/workflow/events",
        Some(&admin),
        &json!({"eventName": "ORDER_SHIPPED", "correlationKey": "O-404"}),
    );
    assert_eq!(unmatched["status"], "no_wait", "{unmatched:#}");

    tenants_cannot_reach_each_other(system, &api, &admin, &stranger);
    keys_are_made_listed_revoked_and_expire(&api, &admin, &reader, &stranger);
    events_start_runs_and_reach_late_waits(&api, &admin, &reader);
    the_cli_sends_events_through_ingress(system, tenant, &api, &reader);
    human_tasks_complete_through_the_api(system, &api, &admin, &reader, &stranger);
    replay_and_redrive(system, tenant, &api, &admin, &reader);
    the_document_and_metrics_describe_the_api(&api);
    drafts_and_the_catalogue(&api, &admin, &reader, &stranger);
    schedules_fire_runs(system, tenant, &api, &admin, &reader, &stranger);
    starts_past_the_tenant_rate_are_refused(system, &admin);

    // Cancellation (admin only) ends a waiting run CANCELED.
    let (_, body) = api.post(
        "/api/workflow-runs",
        Some(&admin),
        &json!({"workflowId": "shipped",
        "payload": {"order": "O-8"}}),
    );
    let run = body["runId"].as_str().unwrap().to_owned();
    let run_path = format!("/api/workflow-runs/{run}");
    wait_for_run(&api, &reader, &format!("{run_path}/steps"), |steps| {
        steps["waits"][0]["status"] == "WAITING"
    });
    let cancel = json!({"reason": "customer withdrew"});
    assert_eq!(
        api.post(&format!("{run_path}/cancel"), Some(&reader), &cancel)
            .0,
        403
    );
    let (status, body) = api.post(&format!("{run_path}/cancel"), Some(&admin), &cancel);
    assert_eq!(status, 200, "{body:#}");
    wait_for_run(&api, &reader, &run_path, |r| r["status"] == "CANCELED");

    // Listing is per tenant.
    let (_, listed) = api.get("/api/workflow-runs?status=CANCELED", Some(&reader));
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1, "{listed:#}");
    let (_, foreign) = api.get("/api/workflow-runs", Some(&stranger));
    let foreign = foreign["runs"].as_array().unwrap();
    // The stranger's own runs (`mailer` and `b-shipped` of the isolation scenario) only.
    assert_eq!(foreign.len(), 2, "{foreign:#?}");
    assert!(
        foreign.iter().all(|r| r["runId"] != run.as_str()),
        "{foreign:#?}"
    );

    // Errors: unknown workflow, bad bodies, oversized bodies.
    let (status, body) = api.post(
        "/api/workflow-runs",
        Some(&admin),
        &json!({"workflowId": "nope"}),
    );
    assert_eq!(status, 404, "{body:#}");
    let (status, body) = api.post(
        "/api/workflow-runs",
        Some(&admin),
        &json!({"workflowId": "shipped", "payload": [1]}),
    );
    assert_eq!(status, 400, "{body:#}");
    let (status, body) = api.post(
        "/api/workflow-runs",
        Some(&admin),
        &json!({"workflow": "x"}),
    );
    assert_eq!(status, 400, "{body:#}");
    assert!(
        body["message"].as_str().unwrap().contains("workflow"),
        "{body:#}"
    );
    let huge = json!({"workflowId": "shipped", "payload": {"blob": "x".repeat(600 * 1024)}});
    assert_eq!(api.post("/api/workflow-runs", Some(&admin), &huge).0, 413);

    // A value PostgreSQL cannot store is the caller's problem (400, never a 503 to retry
    // forever), and nothing is stored.
    let (_, before) = api.get("/api/workflow-runs?limit=200", Some(&reader));
    let (status, body) = api.post(
        "/api/workflow-runs",
        Some(&admin),
        &json!({"workflowId": "shipped", "payload": {"a": "x\u{0}y"}}),
    );
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["error"], "INVALID_VALUE", "{body:#}");
    let (_, after) = api.get("/api/workflow-runs?limit=200", Some(&reader));
    assert_eq!(before["runs"], after["runs"], "a run row was stored");
}

fn publish(api: &Api, key: &str, id: &str, trigger: Option<Value>, steps: Value) {
    let mut definition = common::definition(steps);
    definition["id"] = json!(id);
    if let Some(trigger) = trigger {
        definition["trigger"] = trigger;
    }
    let (status, body) = api.post(
        "/api/workflow-definitions/publish",
        Some(key),
        &json!({"definition": definition}),
    );
    assert!(status == 201 || status == 200, "{body:#}");
}

/// Event triggers (mapping with the `event.*` context; a broken neighbour does not stop the
/// others), and an event that arrives before the run's wait is registered.
fn events_start_runs_and_reach_late_waits(api: &Api, admin: &str, reader: &str) {
    let trigger = |mapping: Value| json!({"type": "event", "eventName": "TICKET_CREATED", "payloadMapping": mapping});
    publish(
        api,
        admin,
        "ticket-intake",
        Some(trigger(json!({
            "ticket.id": {"$expr": "event.payload.id"},
            "ticket.key": {"$expr": "event.correlationKey"}
        }))),
        json!([{"id": "note", "type": "state.set", "config": {"state": "TRIAGED"}}]),
    );
    publish(
        api,
        admin,
        "ticket-broken-mapping",
        Some(trigger(
            json!({"x": {"$expr": "event.payload.missing.field"}}),
        )),
        json!([{"id": "note", "type": "state.set", "config": {"state": "NEVER"}}]),
    );
    let event = json!({"eventName": "TICKET_CREATED", "correlationKey": "T-9",
        "payload": {"id": 9}});
    let (status, routed) = api.post("/api/workflow/events", Some(admin), &event);
    assert_eq!(status, 200, "{routed:#}");
    assert_eq!(routed["status"], "started", "{routed:#}");
    let started = routed["startedRuns"].as_array().unwrap();
    assert_eq!(
        started.len(),
        1,
        "only the workflow whose mapping works starts: {routed:#}"
    );
    let error = routed["error"].as_str().unwrap();
    assert!(
        error.contains("trigger.payloadMapping.x"),
        "the failing mapping is named with its path: {error}"
    );
    let run_path = format!(
        "/api/workflow-runs/{}",
        started[0]["runId"].as_str().unwrap()
    );
    let run = wait_for_run(api, reader, &run_path, |r| r["status"] == "SUCCEEDED");
    assert_eq!(run["input"], json!({"ticket": {"id": 9, "key": "T-9"}}));
    assert_eq!(run["triggerType"], "event");
    let event_path = format!(
        "/api/workflow/events/{}",
        routed["eventId"].as_str().unwrap()
    );
    let (status, stored) = api.get(&event_path, Some(reader));
    assert_eq!(status, 200, "{stored:#}");
    assert_eq!(stored["matchedRunId"], started[0]["runId"]);

    // The run is still on its timer when the event comes: ingress finds no wait, and the
    // worker delivers the event when the wait opens.
    publish(
        api,
        admin,
        "late-wait",
        None,
        json!([
            {"id": "pause", "type": "time.wait", "config": {"mode": "duration", "durationMs": 1500}},
            {"id": "wait", "type": "event.wait", "config": {"eventName": "PARTS_ARRIVED",
                "correlationKey": {"$expr": "payload.order"},
                "assign": {"vars.parts": {"$expr": "vars.event.count"}}}}
        ]),
    );
    let (status, body) = api.post(
        "/api/workflow-runs",
        Some(admin),
        &json!({"workflowId": "late-wait", "payload": {"order": "L-1"}}),
    );
    assert_eq!(status, 201, "{body:#}");
    let run_path = format!("/api/workflow-runs/{}", body["runId"].as_str().unwrap());
    let (_, routed) = api.post(
        "/api/workflow/events",
        Some(admin),
        &json!({"eventName": "PARTS_ARRIVED", "correlationKey": "L-1", "payload": {"count": 3}}),
    );
    assert_eq!(routed["status"], "no_wait", "{routed:#}");
    wait_for_run(api, reader, &run_path, |r| r["status"] == "SUCCEEDED");
    let (_, listed) = api.get("/api/workflow/events?eventName=PARTS_ARRIVED", Some(reader));
    assert_eq!(listed["events"].as_array().unwrap().len(), 1, "{listed:#}");
}

/// A human task listed, claimed, answered wrongly (400 with the form's errors, nothing
/// changes), then answered rightly (the run resumes through a Workflow Update).
fn human_tasks_complete_through_the_api(
    system: &System,
    api: &Api,
    admin: &str,
    reader: &str,
    stranger: &str,
) {
    system.database.sql(
        r#"INSERT INTO system_workflow_form_definitions (name, json_schema) VALUES ('api-approval-form',
             '{"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}}');
           INSERT INTO system_workflow_task_definitions (task_type, name, form_id)
             VALUES ('api-approval', 'Approval', 'api-approval-form');"#,
    );
    publish(
        api,
        admin,
        "api-reviewed",
        None,
        json!([{"id": "ask", "type": "human.task", "config": {"taskType": "api-approval",
            "title": {"$expr": "'Approve the purchase'"}, "assign": {"vars.decision": {"$expr": "vars.event.approved"}}}}]),
    );
    let (_, body) = api.post(
        "/api/workflow-runs",
        Some(admin),
        &json!({"workflowId": "api-reviewed", "payload": {}}),
    );
    let run = body["runId"].as_str().unwrap().to_owned();
    let listed = wait_for_run(
        api,
        reader,
        &format!("/api/workflow-tasks?runId={run}"),
        |l| l["tasks"].as_array().is_some_and(|t| !t.is_empty()),
    );
    let task = &listed["tasks"][0];
    assert_eq!(task["status"], "pending", "{listed:#}");
    assert_eq!(task["title"], "Approve the purchase");
    let task_path = format!("/api/workflow-tasks/{}", task["taskId"].as_str().unwrap());
    let (status, view) = api.get(&task_path, Some(reader));
    assert_eq!(status, 200, "{view:#}");
    assert_eq!(view["formSchema"]["required"], json!(["approved"]));
    assert_eq!(api.get(&task_path, Some(stranger)).0, 404);
    assert_eq!(
        api.post(&format!("{task_path}/claim"), Some(reader), &json!({}))
            .0,
        403
    );
    let (status, body) = api.post(&format!("{task_path}/claim"), Some(admin), &json!({}));
    assert_eq!(status, 200, "{body:#}");

    // Another manager may neither dismiss the admin's claimed task nor skip the form.
    let (_, made) = api.post(
        "/api/api-keys",
        Some(admin),
        &json!({"name": "m", "role": "manage"}),
    );
    let manager = made["key"].as_str().unwrap().to_owned();
    let (status, body) = api.post(&format!("{task_path}/dismiss"), Some(&manager), &json!({}));
    assert_eq!(status, 409, "{body:#}");
    let (status, body) = api.post(
        &format!("{task_path}/complete"),
        Some(&manager),
        &json!({"payload": {"__admin_override": true}}),
    );
    assert_eq!(status, 403, "{body:#}");

    // The form says no: 400 with the errors, the task stays open, the run keeps waiting.
    let (status, body) = api.post(
        &format!("{task_path}/complete"),
        Some(admin),
        &json!({"payload": {"approved": "yes"}}),
    );
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["error"], "TASK_RESPONSE_INVALID", "{body:#}");
    assert!(
        body["details"]["details"]["errors"][0].is_string(),
        "{body:#}"
    );
    assert_eq!(
        api.get(&task_path, Some(reader)).1["task"]["status"],
        "claimed"
    );
    let run_path = format!("/api/workflow-runs/{run}");
    assert_eq!(
        api.get(&run_path, Some(reader)).1["status"],
        "WAITING",
        "a run waiting on a person shows WAITING"
    );

    let (status, body) = api.post(
        &format!("{task_path}/complete"),
        Some(admin),
        &json!({"payload": {"approved": true}}),
    );
    assert_eq!(status, 200, "{body:#}");
    wait_for_run(api, reader, &run_path, |r| r["status"] == "SUCCEEDED");
    let (_, view) = api.get(&task_path, Some(reader));
    assert_eq!(view["task"]["status"], "completed", "{view:#}");
    assert_eq!(view["task"]["responseData"], json!({"approved": true}));
    let again = api.post(
        &format!("{task_path}/complete"),
        Some(admin),
        &json!({"payload": {"approved": true}}),
    );
    assert_eq!(again.0, 409, "{:#}", again.1);
    assert_eq!(
        api.post(&format!("{task_path}/dismiss"), Some(admin), &json!({}))
            .0,
        409
    );
}

/// A failed run redriven with an edited input: the action it completed is answered from the
/// ledger (one ledger row across both runs), the event it had received is handed over, and
/// the new run finishes. Replay starts afresh on the same version.
fn replay_and_redrive(system: &System, tenant: &str, api: &Api, admin: &str, reader: &str) {
    publish(
        api,
        admin,
        "redrivable",
        None,
        json!([
            {"id": "effect", "type": "action.call", "config": {"actionId": "test.sideEffect",
                "version": 1, "saveAs": "vars.effect"}},
            {"id": "go", "type": "event.wait", "config": {"eventName": "GO",
                "correlationKey": {"$expr": "payload.order"}}},
            {"id": "check", "type": "control.if", "condition": {"$expr": "payload.broken = true"},
                "then": [{"id": "boom", "type": "action.call", "config": {"actionId": "test.fail",
                    "version": 1}}]}
        ]),
    );
    let (_, body) = api.post(
        "/api/workflow-runs",
        Some(admin),
        &json!({"workflowId": "redrivable", "payload": {"order": "R-1", "broken": true}}),
    );
    let failed = body["runId"].as_str().unwrap().to_owned();
    let failed_path = format!("/api/workflow-runs/{failed}");
    wait_for_run(api, reader, &format!("{failed_path}/waits"), |w| {
        w["waits"][0]["status"] == "WAITING"
    });
    let (_, routed) = api.post(
        "/api/workflow/events",
        Some(admin),
        &json!({"eventName": "GO", "correlationKey": "R-1"}),
    );
    assert_eq!(routed["status"], "resumed", "{routed:#}");
    let run = wait_for_run(api, reader, &failed_path, |r| r["status"] == "FAILED");
    assert_eq!(
        run["error"]["nodePath"], "root.steps[2].then.steps[0]",
        "{run:#}"
    );

    let fixed = json!({"reason": "fixed the flag", "payload": {"order": "R-1", "broken": false}});
    assert_eq!(
        api.post(&format!("{failed_path}/redrive"), Some(reader), &fixed)
            .0,
        403
    );
    let (status, body) = api.post(&format!("{failed_path}/redrive"), Some(admin), &fixed);
    assert_eq!(status, 201, "{body:#}");
    let redriven = body["runId"].as_str().unwrap().to_owned();
    let redriven_path = format!("/api/workflow-runs/{redriven}");
    let run = wait_for_run(api, reader, &redriven_path, |r| r["status"] == "SUCCEEDED");
    assert_eq!(run["triggerMetadata"]["redriveOfRunId"], failed.as_str());
    let rows = system.database.sql(&format!(
        "SELECT count(*) FROM workflow_action_invocations WHERE action_id = 'test.sideEffect'
         AND (idempotency_key LIKE '%{failed}%' OR idempotency_key LIKE '%{redriven}%')"
    ));
    assert_eq!(
        rows, "1",
        "the redrive reused the failed run's ledger entry"
    );
    let (status, body) = api.post(&format!("{redriven_path}/redrive"), Some(admin), &fixed);
    assert_eq!(status, 409, "only failed runs are redriven: {body:#}");
    // A failed run is redriven once: asking again answers with the same redrive.
    let (status, again) = api.post(&format!("{failed_path}/redrive"), Some(admin), &fixed);
    assert_eq!(status, 200, "{again:#}");
    assert_eq!(again["runId"], redriven.as_str(), "{again:#}");
    assert_eq!(again["created"], false, "{again:#}");
    // The command line relaunches through the same use case: its redrive is that redrive too,
    // and its replay is a new run of the version.
    let relaunch = |kind: &str| {
        let mut args: Vec<String> = ["relaunch", &failed, "--kind", kind, "--tenant", tenant]
            .into_iter()
            .map(String::from)
            .collect();
        args.extend(["--reason".into(), "from the command line".into()]);
        args.extend(system.args());
        args.extend(system.database_args());
        let out = common::alga_wf(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.code, 0, "relaunch --kind {kind}: {}", out.stderr);
        out.json()
    };
    let by_cli = relaunch("redrive");
    assert_eq!(by_cli["runId"], redriven.as_str(), "{by_cli:#}");
    assert_eq!(by_cli["created"], false, "{by_cli:#}");
    let replayed_by_cli = relaunch("replay");
    assert_eq!(replayed_by_cli["created"], true, "{replayed_by_cli:#}");
    let cli_replay = format!(
        "/api/workflow-runs/{}",
        replayed_by_cli["runId"].as_str().unwrap()
    );
    let (_, row) = api.get(&cli_replay, Some(reader));
    assert_eq!(
        row["triggerMetadata"]["replayOfRunId"],
        failed.as_str(),
        "{row:#}"
    );

    let (_, summary) = api.get(&format!("{redriven_path}/summary"), Some(reader));
    assert_eq!(summary["status"], "SUCCEEDED", "{summary:#}");
    assert_eq!(summary["openWaits"], json!([]));
    let (_, timeline) = api.get(&format!("{redriven_path}/timeline"), Some(reader));
    let kinds: Vec<&str> = timeline["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run.started"), "{timeline:#}");
    assert_eq!(kinds.last(), Some(&"run.succeeded"), "{timeline:#}");
    assert!(kinds.contains(&"wait.resolved"), "{timeline:#}");

    let (status, body) = api.post(
        &format!("{failed_path}/replay"),
        Some(admin),
        &json!({"reason": "try again"}),
    );
    assert_eq!(status, 201, "{body:#}");
    let replay_path = format!("/api/workflow-runs/{}", body["runId"].as_str().unwrap());
    let run = wait_for_run(api, reader, &format!("{replay_path}/waits"), |w| {
        w["waits"][0]["status"] == "WAITING"
    });
    assert_eq!(run["waits"][0]["eventName"], "GO");
    let (_, replayed) = api.get(&replay_path, Some(reader));
    assert_eq!(
        replayed["triggerMetadata"]["replayOfRunId"],
        failed.as_str()
    );
    assert_eq!(replayed["input"], json!({"order": "R-1", "broken": true}));
}

/// Drafts (saved even when invalid, guarded by their revision), validation, simulating a
/// draft with fixtures, publishing it, the catalogue, and pausing a triggered workflow.
fn drafts_and_the_catalogue(api: &Api, admin: &str, reader: &str, stranger: &str) {
    let mut draft = common::definition(json!([
        {"id": "first", "type": "transform.assignn", "config": {}}
    ]));
    draft["id"] = json!("drafted");
    draft["trigger"] = json!({"type": "event", "eventName": "DRAFTED"});
    let (status, body) = api.post(
        "/api/workflow-definitions",
        Some(admin),
        &json!({"definition": draft}),
    );
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["draftVersion"], 1);
    assert_eq!(body["errors"][0]["path"], "steps[0].type", "{body:#}");
    let (_, checked) = api.post(
        "/api/workflow-definitions/validate",
        Some(reader),
        &json!({"definition": draft}),
    );
    assert_eq!(checked["ok"], false, "{checked:#}");

    draft["steps"] = json!([{"id": "first", "type": "action.call", "config": {
        "actionId": "test.echo", "version": 1, "inputMapping": {"value": {"$expr": "payload.n * 2"}},
        "saveAs": "vars.doubled"}}]);
    let update = json!({"definition": draft, "expectedDraftVersion": 1});
    let (status, body) = api.put("/api/workflow-definitions/drafted/draft", admin, &update);
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["draftVersion"], 2);
    assert_eq!(body["errors"], json!([]), "{body:#}");
    let (status, body) = api.put("/api/workflow-definitions/drafted/draft", admin, &update);
    assert_eq!(status, 409, "a stale revision is refused: {body:#}");
    let (status, _) = api.put("/api/workflow-definitions/other/draft", admin, &update);
    assert_eq!(status, 400);

    let (status, report) = api.post(
        "/api/workflow-definitions/drafted/simulate",
        Some(admin),
        &json!({"payload": {"n": 21}}),
    );
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["doubled"]["value"], 42,
        "{report:#}"
    );

    let (status, body) = api.post(
        "/api/workflow-definitions/drafted/publish",
        Some(admin),
        &json!({}),
    );
    assert_eq!(status, 201, "{body:#}");
    let (_, versions) = api.get("/api/workflow-definitions/drafted/versions", Some(reader));
    assert_eq!(versions["versions"][0]["version"], 1, "{versions:#}");
    let (_, listed) = api.get("/api/workflow-definitions", Some(reader));
    let drafted = listed["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "drafted")
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(drafted["publishedVersion"], 1);
    assert_eq!(drafted["status"], "published");
    assert_eq!(
        api.get("/api/workflow-definitions/drafted", Some(stranger))
            .0,
        404
    );

    // A paused workflow is not started by its event; resumed, it is.
    let pause = |paused: bool| {
        let (status, body) = api.put(
            "/api/workflow-definitions/drafted/metadata",
            admin,
            &json!({"isPaused": paused}),
        );
        assert_eq!(status, 200, "{body:#}");
    };
    pause(true);
    let event = json!({"eventName": "DRAFTED", "payload": {"n": 1}});
    let (_, routed) = api.post("/api/workflow/events", Some(admin), &event);
    assert_eq!(routed["status"], "no_wait", "{routed:#}");
    pause(false);
    let (_, routed) = api.post("/api/workflow/events", Some(admin), &event);
    assert_eq!(routed["status"], "started", "{routed:#}");
}

/// A second API with a tight limit: the third quick start of a tenant is a 429.
fn starts_past_the_tenant_rate_are_refused(system: &System, admin: &str) {
    let limited = Api::start_with(
        system,
        &[
            "--start-rate-per-tenant",
            "1",
            "--start-burst-per-tenant",
            "2",
        ],
    );
    let start = json!({"workflowId": "no-such-workflow"});
    let statuses: Vec<u16> = (0..3)
        .map(|_| limited.post("/api/workflow-runs", Some(admin), &start).0)
        .collect();
    assert_eq!(statuses, [404, 404, 429]);
    let (_, body) = limited.post("/api/workflow-runs", Some(admin), &start);
    assert_eq!(body["error"], "RATE_LIMITED", "{body:#}");
}

/// A recurring schedule (Temporal Schedule, `@every 2s`) fires runs with its payload, moves to
/// a newly published version (through the API and the CLI alike), pauses with its workflow and
/// on its own, and goes away; a one-time schedule fires once; bad timing is a 400 that names
/// the field.
fn schedules_fire_runs(
    system: &System,
    tenant: &str,
    api: &Api,
    admin: &str,
    reader: &str,
    stranger: &str,
) {
    let steps = json!([{"id": "tick", "type": "state.set", "config": {"state": "TICKED"}}]);
    publish(api, admin, "ticking", None, steps.clone());
    let (status, created) = api.post(
        "/api/workflow-schedules",
        Some(admin),
        &json!({"workflowId": "ticking", "name": "every two seconds", "triggerType": "recurring",
            "cron": "@every 2s", "payload": {"tick": true}}),
    );
    assert_eq!(status, 201, "{created:#}");
    let schedule_path = format!(
        "/api/workflow-schedules/{}",
        created["id"].as_str().unwrap()
    );
    let workflow = created["workflowId"].as_str().unwrap().to_owned();
    let runs = wait_for_run(
        api,
        reader,
        &format!("/api/workflow-runs?workflowId={workflow}&status=SUCCEEDED"),
        |l| l["runs"].as_array().is_some_and(|r| !r.is_empty()),
    );
    let fired = &runs["runs"][0];
    assert_eq!(fired["triggerType"], "recurring", "{fired:#}");
    assert_eq!(fired["input"], json!({"tick": true}));
    let (status, described) = api.get(&schedule_path, Some(reader));
    assert_eq!(status, 200, "{described:#}");
    assert!(
        !described["temporal"]["recentRuns"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{described:#}"
    );
    assert_eq!(api.get(&schedule_path, Some(stranger)).0, 404);

    // Publishing version 2 moves the schedule onto it.
    let mut next = common::definition(steps.clone());
    next["id"] = json!("ticking");
    next["version"] = json!(2);
    let (status, body) = api.post(
        "/api/workflow-definitions/publish",
        Some(admin),
        &json!({"definition": next}),
    );
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["scheduleProblems"], json!([]), "{body:#}");
    assert_eq!(
        api.get(&schedule_path, Some(reader)).1["workflowVersion"],
        2
    );

    // The CLI's publish moves it too.
    let mut third = common::definition(steps);
    third["id"] = json!("ticking");
    third["version"] = json!(3);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), third.to_string()).unwrap();
    let mut args = vec![
        "publish".to_owned(),
        file.path().to_str().unwrap().to_owned(),
        "--tenant".to_owned(),
        tenant.to_owned(),
    ];
    args.extend(system.database_args());
    let out = system.cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["scheduleProblems"], json!([]), "{}", out.stdout);
    assert_eq!(
        api.get(&schedule_path, Some(reader)).1["workflowVersion"],
        3
    );

    // Pausing the workflow pauses its schedule in Temporal; resuming it resumes the schedule.
    let metadata = "/api/workflow-definitions/ticking/metadata";
    let (status, body) = api.put(metadata, admin, &json!({"isPaused": true}));
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["scheduleProblems"], json!([]), "{body:#}");
    temporal_paused_becomes(api, &schedule_path, reader, true);
    let (status, body) = api.put(metadata, admin, &json!({"isPaused": false}));
    assert_eq!(status, 200, "{body:#}");
    temporal_paused_becomes(api, &schedule_path, reader, false);

    let (status, paused) = api.post(&format!("{schedule_path}/pause"), Some(admin), &json!({}));
    assert_eq!(status, 200, "{paused:#}");
    temporal_paused_becomes(api, &schedule_path, reader, true);
    let (status, updated) = api.put(
        &schedule_path,
        admin,
        &json!({"name": "every three seconds", "cron": "@every 3s"}),
    );
    assert_eq!(status, 200, "{updated:#}");
    assert_eq!(updated["cron"], "@every 3s");
    let (status, resumed) = api.post(&format!("{schedule_path}/resume"), Some(admin), &json!({}));
    assert_eq!(status, 200, "{resumed:#}");
    let described = temporal_paused_becomes(api, &schedule_path, reader, false);
    assert_eq!(described["name"], "every three seconds");
    assert_eq!(api.delete(&schedule_path, admin), 200);
    assert_eq!(api.get(&schedule_path, Some(reader)).0, 404);

    // One time: fires once, a few seconds from now.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let (status, once) = api.post(
        "/api/workflow-schedules",
        Some(admin),
        &json!({"workflowId": "ticking", "triggerType": "schedule", "runAt": at}),
    );
    assert_eq!(status, 201, "{once:#}");
    wait_for_run(
        api,
        reader,
        &format!("/api/workflow-runs?workflowId={workflow}&status=SUCCEEDED"),
        |l| {
            l["runs"]
                .as_array()
                .is_some_and(|r| r.iter().any(|run| run["triggerType"] == "schedule"))
        },
    );

    for (input, field) in [
        (
            json!({"workflowId": "ticking", "triggerType": "recurring", "cron": "* *"}),
            "cron",
        ),
        (
            json!({"workflowId": "ticking", "triggerType": "weekly"}),
            "triggerType",
        ),
        (
            json!({"workflowId": "ticking", "triggerType": "schedule", "runAt": "2001-01-01T00:00:00Z"}),
            "runAt",
        ),
    ] {
        let (status, body) = api.post("/api/workflow-schedules", Some(admin), &input);
        assert_eq!(status, 400, "{body:#}");
        assert!(
            body["message"].as_str().unwrap().contains(field),
            "{body:#}"
        );
    }
}

/// `/openapi.json` is generated from the routes: every operation is there with its
/// parameters, bodies and error statuses; `/metrics` counts what the scenarios did.
fn the_document_and_metrics_describe_the_api(api: &Api) {
    let (status, document) = api.get("/openapi.json", None);
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 33, "{:?}", paths.keys());
    let redrive = &paths["/api/workflow-runs/{run_id}/redrive"]["post"];
    assert!(redrive["requestBody"].is_object(), "{redrive:#}");
    for code in ["201", "400", "401", "403", "404", "409", "429"] {
        assert!(
            redrive["responses"][code].is_object(),
            "{code}: {redrive:#}"
        );
    }
    assert_eq!(
        document["components"]["securitySchemes"]["api_key"]["name"],
        "x-api-key"
    );
    let metrics = api.get_text("/metrics");
    for name in [
        "alga_wf_events_ingested_total",
        "alga_wf_events_delivered_total",
        "alga_wf_runs_started_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
}

/// `alga-wf send-event` is ingress from the command line: the same trigger starts a run, and
/// the same event id again is a duplicate.
fn the_cli_sends_events_through_ingress(system: &System, tenant: &str, api: &Api, reader: &str) {
    let mut args = vec![
        "send-event".to_owned(),
        "--tenant".into(),
        tenant.into(),
        "--event-name".into(),
        "TICKET_CREATED".into(),
        "--correlation-key".into(),
        "T-10".into(),
        "--payload".into(),
        r#"{"id": 10}"#.into(),
        "--event-id".into(),
        "0c9b1f7e-1111-4a4a-8888-000000000010".into(),
    ];
    args.extend(system.args());
    args.extend(system.database_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::alga_wf(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let routed = out.json();
    assert_eq!(routed["status"], "started", "{routed:#}");
    let run_path = format!("/api/workflow-runs/{}", routed["runId"].as_str().unwrap());
    let run = wait_for_run(api, reader, &run_path, |r| r["status"] == "SUCCEEDED");
    assert_eq!(run["input"]["ticket"]["id"], 10);
    let again = common::alga_wf(&args);
    assert_eq!(again.json()["status"], "duplicate", "{}", again.stdout);
}

/// The two holes of issue 11, closed: a secret name that spells another tenant's prefix is
/// refused at publish, and another tenant's workflow uuid behaves as a missing workflow. A
/// tenant's own secret, echoed, failed with and transformed, reaches no table and no history.
fn tenants_cannot_reach_each_other(system: &System, api: &Api, admin: &str, stranger: &str) {
    use common::temporal::{SECRET_TENANT, TENANT_SECRET_VALUE};
    let publish_body = |id: &str, version: u32, steps: Value| {
        let mut definition = common::definition(steps);
        definition["id"] = json!(id);
        definition["version"] = json!(version);
        json!({"definition": definition})
    };

    // A's run cannot name B's secret: the name is refused at publish.
    let spelled = json!([{"id": "leak", "type": "action.call", "config": {"actionId": "test.echo",
        "version": 1, "inputMapping": {"value": {"$secret": format!("{SECRET_TENANT}_smtp")}}}}]);
    let (status, body) = api.post(
        "/api/workflow-definitions/publish",
        Some(admin),
        &publish_body("leaky", 1, spelled),
    );
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(
        body["details"]["errors"][0]["code"], "INVALID_SECRET_NAME",
        "{body:#}"
    );
    // Nor can it read B's secret under its own name: a tenant's secrets are its own.
    publish(
        api,
        admin,
        "borrower",
        None,
        json!([{"id": "borrow", "type": "action.call",
        "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": {"$secret": "smtp"}}}}]),
    );
    let (_, started) = api.post(
        "/api/workflow-runs",
        Some(admin),
        &json!({"workflowId": "borrower"}),
    );
    let run_path = format!("/api/workflow-runs/{}", started["runId"].as_str().unwrap());
    let failed = wait_for_run(api, admin, &run_path, |r| r["status"] == "FAILED");
    assert!(
        !failed.to_string().contains(TENANT_SECRET_VALUE),
        "{failed:#}"
    );
    let (_, steps) = api.get(&format!("{run_path}/steps"), Some(admin));
    assert!(steps.to_string().contains("SECRET_NOT_FOUND"), "{steps:#}");

    // B uses its own secret: echoed, transformed after, and put in a failure's message.
    publish(
        api,
        stranger,
        "mailer",
        None,
        json!([
            {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
                "inputMapping": {"value": {"$secret": "smtp"}, "nested": [{"$secret": "smtp"}]},
                "saveAs": "vars.echoed"}},
            {"id": "shout", "type": "action.call", "config": {"actionId": "transform.uppercase_text",
                "version": 1, "inputMapping": {"text": {"$expr": "vars.echoed.value"}}, "saveAs": "vars.loud"}},
            {"id": "guard", "type": "control.tryCatch", "try": [
                {"id": "fail", "type": "action.call", "config": {"actionId": "test.fail", "version": 1,
                    "inputMapping": {"message": {"$secret": "smtp"}}}}],
                "catch": [{"id": "caught", "type": "state.set", "config": {"state": "CAUGHT"}}],
                "captureErrorAs": "vars.error"}
        ]),
    );
    let (status, started) = api.post(
        "/api/workflow-runs",
        Some(stranger),
        &json!({"workflowId": "mailer"}),
    );
    assert_eq!(status, 201, "{started:#}");
    let run = started["runId"].as_str().unwrap().to_owned();
    let run_path = format!("/api/workflow-runs/{run}");
    let done = wait_for_run(api, stranger, &run_path, |r| r["status"] == "SUCCEEDED");
    let (_, steps) = api.get(&format!("{run_path}/steps"), Some(stranger));
    assert!(steps.to_string().contains("[secret:smtp]"), "{steps:#}");
    // The manager sees the failed attempt's message (the reader below does not).
    assert!(
        steps["invocations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["errorMessage"].is_string()),
        "{steps:#}"
    );
    // A reader of B sees the invocations without their input, output or error message.
    let (_, made) = api.post(
        "/api/api-keys",
        Some(stranger),
        &json!({"name": "r", "role": "read"}),
    );
    let b_reader = made["key"].as_str().unwrap().to_owned();
    let (_, seen) = api.get(&format!("{run_path}/steps"), Some(&b_reader));
    let invocations = seen["invocations"].as_array().unwrap();
    assert!(!invocations.is_empty(), "{seen:#}");
    for invocation in invocations {
        assert_eq!(invocation["input"], json!({"redacted": true}), "{seen:#}");
        assert!(invocation["error"].get("message").is_none(), "{seen:#}");
        assert_eq!(invocation["errorMessage"], Value::Null, "{seen:#}");
    }
    for place in [done.to_string(), steps.to_string()] {
        assert!(!place.contains("hunter2"), "{place}");
    }
    // Every table of the database, as text.
    let union = system.database.sql(
        "SELECT string_agg(format('SELECT %L || '' '' || t::text FROM %I t', table_name, table_name),
                           ' UNION ALL ')
         FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    let everything = system.database.sql(union.trim());
    assert!(
        everything.contains("[secret:smtp]"),
        "the run's rows are there"
    );
    assert!(
        !everything.contains("hunter2"),
        "a table holds the plaintext"
    );
    // And the run's whole Temporal history.
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = file.path().to_str().unwrap();
    let history = system.cli(&["history", &run, "--out", out]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    let history: Value = serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    let text = decoded_text(&history);
    assert!(
        text.contains("[secret:smtp]"),
        "the history has the run's actions"
    );
    assert!(!text.contains("hunter2"), "the history holds the plaintext");
    // And the worker's log.
    let log = system.worker_log();
    assert!(
        log.contains("worker started"),
        "the log is the worker's: {log}"
    );
    assert!(
        !log.contains("hunter2"),
        "the worker's log holds the plaintext"
    );

    // B cannot publish over A's workflow uuid: a 404, and A's catalogue is untouched.
    let owned = "0b6e2a52-5d0c-4b59-9a57-3f1d8c0f0a11";
    let (status, body) = api.post(
        "/api/workflow-definitions/publish",
        Some(admin),
        &publish_body(
            owned,
            1,
            json!([{"id": "s", "type": "state.set", "config": {"state": "A"}}]),
        ),
    );
    assert_eq!(status, 201, "{body:#}");
    let (_, before) = api.get(&format!("/api/workflow-definitions/{owned}"), Some(admin));
    let mut hijack = publish_body(
        owned,
        2,
        json!([{"id": "s", "type": "state.set", "config": {"state": "B"}}]),
    );
    hijack["definition"]["name"] = json!("hijack");
    let (status, body) = api.post("/api/workflow-definitions/publish", Some(stranger), &hijack);
    assert_eq!(status, 404, "{body:#}");
    assert!(!body.to_string().contains("another tenant"), "{body:#}");
    let (_, after) = api.get(&format!("/api/workflow-definitions/{owned}"), Some(admin));
    assert_eq!(before, after, "A's workflow changed");
    let (_, versions) = api.get(
        &format!("/api/workflow-definitions/{owned}/versions"),
        Some(admin),
    );
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(1),
        "{versions:#}"
    );
    assert_eq!(
        api.get(
            &format!("/api/workflow-definitions/{owned}"),
            Some(stranger)
        )
        .0,
        404
    );

    // Event ids are per tenant: B sends the id A used (above) to its own waiting run, which it
    // resumes; A's event, its deliveries and its deduplication are untouched.
    let shared_id = "0c9b1f7e-1111-4a4a-8888-000000000001";
    let event_path = format!("/api/workflow/events/{shared_id}");
    let (status, a_event) = api.get(&event_path, Some(admin));
    assert_eq!(status, 200, "{a_event:#}");
    publish(
        api,
        stranger,
        "b-shipped",
        None,
        json!([{"id": "wait", "type": "event.wait", "config": {"eventName": "ORDER_SHIPPED",
            "correlationKey": {"$expr": "payload.order"}}}]),
    );
    let (_, started) = api.post(
        "/api/workflow-runs",
        Some(stranger),
        &json!({"workflowId": "b-shipped", "payload": {"order": "O-7"}}),
    );
    let b_run = started["runId"].as_str().unwrap().to_owned();
    let b_run_path = format!("/api/workflow-runs/{b_run}");
    wait_for_run(api, stranger, &format!("{b_run_path}/steps"), |steps| {
        steps["waits"][0]["status"] == "WAITING"
    });
    let event = json!({"eventId": shared_id, "eventName": "ORDER_SHIPPED",
        "correlationKey": "O-7", "payload": {"carrier": "UPS"}});
    let (status, routed) = api.post("/api/workflow/events", Some(stranger), &event);
    assert_eq!(status, 200, "{routed:#}");
    assert_eq!(routed["status"], "resumed", "{routed:#}");
    assert_eq!(routed["runId"], b_run.as_str(), "{routed:#}");
    wait_for_run(api, stranger, &b_run_path, |r| r["status"] == "SUCCEEDED");
    let (_, b_event) = api.get(&event_path, Some(stranger));
    assert_eq!(b_event["deliveredTo"], json!([b_run]), "{b_event:#}");
    assert_eq!(b_event["payload"]["carrier"], "UPS", "{b_event:#}");
    assert_eq!(
        api.get(&event_path, Some(admin)).1,
        a_event,
        "A's event changed"
    );
    let (_, again) = api.post("/api/workflow/events", Some(admin), &event);
    assert_eq!(again["status"], "duplicate", "{again:#}");
}

/// Every string of `value`, and every payload's bytes decoded (base64 strings and byte arrays
/// alike), as one text to search.
fn decoded_text(value: &Value) -> String {
    use base64::Engine;
    let mut text = String::new();
    let mut walk = vec![value];
    while let Some(value) = walk.pop() {
        match value {
            Value::String(s) => {
                text.push_str(s);
                text.push('\n');
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                    text.push('\n');
                }
            }
            Value::Array(items) => {
                let bytes: Option<Vec<u8>> = items
                    .iter()
                    .map(|i| i.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect();
                match bytes {
                    Some(bytes) if !bytes.is_empty() => {
                        text.push_str(&String::from_utf8_lossy(&bytes));
                        text.push('\n');
                    }
                    _ => walk.extend(items),
                }
            }
            Value::Object(map) => walk.extend(map.values()),
            _ => {}
        }
    }
    text
}

/// The key lifecycle through the API: an admin makes a key (shown once), lists keys with when
/// they were last used, revokes one (refused from the next request on) and makes one that
/// expires; other roles and other tenants cannot.
fn keys_are_made_listed_revoked_and_expire(api: &Api, admin: &str, reader: &str, stranger: &str) {
    let (status, made) = api.post(
        "/api/api-keys",
        Some(admin),
        &json!({"name": "ci", "role": "read"}),
    );
    assert_eq!(status, 201, "{made:#}");
    let key = made["key"].as_str().unwrap().to_owned();
    let key_id = made["keyId"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/workflow-runs", Some(&key)).0, 200);
    let (status, listed) = api.get("/api/api-keys", Some(admin));
    assert_eq!(status, 200, "{listed:#}");
    let entry = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == key_id.as_str())
        .unwrap_or_else(|| panic!("the new key is listed: {listed:#}"));
    assert_eq!(entry["role"], "read");
    assert!(entry["lastUsedAt"].is_string(), "{entry:#}");
    assert!(
        !listed.to_string().contains(&key),
        "a listing never shows a key"
    );

    // Only an admin manages keys, and only its own tenant's.
    assert_eq!(
        api.post(
            "/api/api-keys",
            Some(reader),
            &json!({"name": "x", "role": "admin"})
        )
        .0,
        403
    );
    assert_eq!(api.get("/api/api-keys", Some(reader)).0, 403);
    assert_eq!(
        api.delete(&format!("/api/api-keys/{key_id}"), stranger),
        404
    );
    assert_eq!(
        api.get("/api/workflow-runs", Some(&key)).0,
        200,
        "a stranger revoked nothing"
    );
    let (status, body) = api.post(
        "/api/api-keys",
        Some(admin),
        &json!({"name": "x", "role": "root"}),
    );
    assert_eq!(status, 400, "{body:#}");
    let (status, body) = api.post(
        "/api/api-keys",
        Some(admin),
        &json!({"name": "x", "role": "read", "expiresAt": "2001-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 400, "{body:#}");

    // Revoked: refused at once.
    assert_eq!(api.delete(&format!("/api/api-keys/{key_id}"), admin), 204);
    assert_eq!(api.get("/api/workflow-runs", Some(&key)).0, 401);

    // Expiring: works until its time, then is refused.
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, made) = api.post(
        "/api/api-keys",
        Some(admin),
        &json!({"name": "brief", "role": "read", "expiresAt": expires.to_rfc3339()}),
    );
    assert_eq!(status, 201, "{made:#}");
    let brief = made["key"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/workflow-runs", Some(&brief)).0, 200);
    std::thread::sleep(Duration::from_millis(2500));
    let (status, body) = api.get("/api/workflow-runs", Some(&brief));
    assert_eq!(status, 401, "{body:#}");
}

/// Waits until the schedule's Temporal Schedule reports `paused` as `expected`, and returns
/// the schedule then. Temporal applies a pause or resume in the Schedule's own workflow, so a
/// description read at once may still show the state before (seen on a loaded machine).
fn temporal_paused_becomes(api: &Api, schedule_path: &str, key: &str, expected: bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, described) = api.get(schedule_path, Some(key));
        if described["temporal"]["paused"] == expected {
            return described;
        }
        assert!(
            Instant::now() < deadline,
            "paused never became {expected}: {described:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
