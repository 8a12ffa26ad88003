//! Faults the system must ride out: a dependency that goes away and comes back.

use std::time::{Duration, Instant};

use crate::api::{Api, create_key};
use crate::common::temporal::System;

pub(crate) const TENANT: &str = "7c000000-0000-4000-8000-0000000000a1";

/// While the database is away the API says so within seconds, with `Retry-After` (not after
/// sqlx's 30 s default), and it serves again once the database is back.
#[test]
fn a_database_outage_is_a_prompt_503_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    assert_eq!(
        api.call("GET", "/api/workflow-runs", Some(&admin), None).0,
        200
    );
    system.database.stop();
    let asked = Instant::now();
    let (status, body) = api.call("GET", "/api/workflow-runs", Some(&admin), None);
    let waited = asked.elapsed();
    assert_eq!(status, 503, "{body:#}");
    assert_eq!(body["error"], "DATABASE_UNAVAILABLE", "{body:#}");
    // The pool gives up after 3 s; 15 s leaves a slow machine room and is still half of the
    // 30 s an API call used to hang.
    assert!(waited < Duration::from_secs(15), "the 503 took {waited:?}");
    let (status, retry_after) = api.retry_after("/api/workflow-runs", &admin);
    assert_eq!((status, retry_after.as_deref()), (503, Some("2")));
    system.database.start_again();
    let within = Duration::from_secs(30);
    poll_within(&api, &admin, "/api/workflow-runs", within, |_| true);
}

/// A signal that fails during ingress gives its claim back, and the worker's sweeper delivers
/// the event later, once: the run it was for is not left waiting forever.
#[test]
fn a_failed_delivery_is_sent_by_the_sweeper_once() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    // The API's first signal fails, as one would with Temporal briefly away.
    let api = Api::start_with_env(&system, &[], &[("FAILPOINTS", "delivery-signal=1*return")]);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "swept",
        serde_json::json!([
            {"id": "wait", "type": "event.wait", "config": {"eventName": "SWEPT",
                "correlationKey": {"$expr": "payload.k"}}}
        ]),
        serde_json::json!({"k": "k1"}),
    );
    let run_path = format!("/api/workflow-runs/{}", started["runId"].as_str().unwrap());
    let waits = format!("{run_path}/waits");
    poll(&api, &admin, &waits, |w| {
        w["waits"][0]["status"] == "WAITING"
    });

    let event = serde_json::json!({"eventName": "SWEPT", "correlationKey": "k1", "payload": {}});
    let (status, routed) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
    assert_eq!(status, 200, "{routed:#}");
    assert!(
        routed["error"]
            .as_str()
            .is_some_and(|e| e.contains("failpoint")),
        "{routed:#}"
    );
    assert_eq!(routed["resumedRuns"], serde_json::json!([]), "{routed:#}");

    // The worker's sweeper (every 5 s) sends it.
    poll(&api, &admin, &run_path, |r| r["status"] == "SUCCEEDED");
    let event_id = routed["eventId"].as_str().unwrap();
    let (_, stored) = api.call(
        "GET",
        &format!("/api/workflow/events/{event_id}"),
        Some(&admin),
        None,
    );
    let delivered = stored["deliveredTo"].as_array().map(Vec::len);
    assert_eq!(delivered, Some(1), "{stored:#}");
}

/// Polls a GET until it answers 200 with a body `done` accepts (60 s at most).
pub(crate) fn poll(api: &Api, key: &str, path: &str, done: impl Fn(&serde_json::Value) -> bool) {
    poll_within(api, key, path, Duration::from_secs(60), done);
}

/// [`poll`], for at most `within`.
fn poll_within(
    api: &Api,
    key: &str,
    path: &str,
    within: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = api.call("GET", path, Some(key), None);
        if status == 200 && done(&body) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {body:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// SIGTERM (what a container runtime sends) stops the worker gracefully with status 0, and a
/// run it was serving finishes on the next worker.
#[test]
fn sigterm_stops_the_worker_cleanly_and_runs_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "patient",
        serde_json::json!([
            {"id": "pause", "type": "time.wait", "config": {"mode": "duration", "durationMs": 3000}},
            {"id": "done", "type": "state.set", "config": {"state": "DONE"}}
        ]),
        serde_json::json!({}),
    );
    let run_path = format!("/api/workflow-runs/{}", started["runId"].as_str().unwrap());
    poll(&api, &admin, &format!("{run_path}/waits"), |w| {
        w["waits"][0]["status"] == "WAITING"
    });
    let status = system.terminate_worker();
    assert_eq!(status.code(), Some(0), "the worker's exit: {status}");
    system.start_worker(dir.path());
    poll(&api, &admin, &run_path, |r| r["status"] == "SUCCEEDED");
}

/// A run Temporal ends without an activation (an operator's terminate) is found by the
/// sweeper: its row fails with the reason, its wait closes, and events stop reaching it.
#[test]
fn a_run_terminated_in_temporal_is_closed_in_the_read_model() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(dir.path(), &[("ALGA_WF_RECONCILE_IDLE_SECS", "1")]);
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "forsaken",
        serde_json::json!([
            {"id": "wait", "type": "event.wait", "config": {"eventName": "NEVER",
                "correlationKey": {"$expr": "payload.k"}}}
        ]),
        serde_json::json!({"k": "k9"}),
    );
    let run = started["runId"].as_str().unwrap().to_owned();
    let run_path = format!("/api/workflow-runs/{run}");
    poll(&api, &admin, &format!("{run_path}/waits"), |w| {
        w["waits"][0]["status"] == "WAITING"
    });

    system.temporal_cli(&[
        "workflow",
        "terminate",
        "--reason",
        "an operator's decision",
        "--workflow-id",
        &format!("workflow-runtime-v2:run:{run}"),
    ]);

    poll(&api, &admin, &run_path, |r| r["status"] == "FAILED");
    let (_, row) = api.call("GET", &run_path, Some(&admin), None);
    assert_eq!(row["error"]["category"], "TerminatedError", "{row:#}");
    let (_, waits) = api.call("GET", &format!("{run_path}/waits"), Some(&admin), None);
    assert_eq!(waits["waits"][0]["status"], "CANCELED", "{waits:#}");
    let event = serde_json::json!({"eventName": "NEVER", "correlationKey": "k9", "payload": {}});
    let (_, routed) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
    assert_eq!(routed["status"], "no_wait", "{routed:#}");
}

/// Publishes `steps` as workflow `id` and starts a run of it with `payload`: the start's answer.
/// Waits for a run `publish_and_start` (or a start) answered to end, requires it SUCCEEDED,
/// and returns its steps and invocations.
pub(crate) fn succeeded(api: &Api, admin: &str, started: &serde_json::Value) -> serde_json::Value {
    let run_path = format!("/api/workflow-runs/{}", started["runId"].as_str().unwrap());
    poll(api, admin, &run_path, |r| {
        r["status"] == "SUCCEEDED" || r["status"] == "FAILED"
    });
    let (_, row) = api.call("GET", &run_path, Some(admin), None);
    assert_eq!(row["status"], "SUCCEEDED", "{row:#}");
    api.call("GET", &format!("{run_path}/steps"), Some(admin), None)
        .1
}

pub(crate) fn publish_and_start(
    api: &Api,
    key: &str,
    id: &str,
    steps: serde_json::Value,
    payload: serde_json::Value,
) -> serde_json::Value {
    let mut definition = crate::common::definition(steps);
    definition["id"] = serde_json::json!(id);
    let publish = serde_json::json!({"definition": definition});
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(key),
        Some(&publish),
    );
    assert_eq!(status, 201, "{body:#}");
    let start = serde_json::json!({"workflowId": id, "payload": payload});
    let (status, started) = api.call("POST", "/api/workflow-runs", Some(key), Some(&start));
    assert_eq!(status, 201, "{started:#}");
    started
}

/// An event's triggered run whose workflow start failed after its row was written (Temporal
/// away, or the launcher died) is not lost, and its row does not block the event's launch: the
/// sweeper starts it once, and the event sent again is a duplicate that starts nothing more.
#[test]
fn a_triggered_launch_that_failed_is_started_by_the_sweeper() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(dir.path(), &[("ALGA_WF_LAUNCH_GRACE_SECS", "1")]);
    let api = Api::start_with_env(&system, &[], &[("FAILPOINTS", "launch-start=1*return")]);
    let admin = create_key(&system, TENANT, "admin");
    let mut definition = crate::common::definition(serde_json::json!([
        {"id": "s", "type": "state.set", "config": {"state": "LAUNCHED"}}
    ]));
    definition["id"] = serde_json::json!("launched");
    definition["trigger"] = serde_json::json!({"type": "event", "eventName": "LAUNCH_ME"});
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&admin),
        Some(&serde_json::json!({"definition": definition})),
    );
    assert_eq!(status, 201, "{body:#}");

    let event = serde_json::json!({"eventId": "5a1e0000-0000-4000-8000-000000000001",
        "eventName": "LAUNCH_ME", "payload": {}});
    let (status, routed) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
    assert_eq!(status, 200, "{routed:#}");
    assert!(
        routed["error"]
            .as_str()
            .is_some_and(|e| e.contains("failpoint")),
        "{routed:#}"
    );
    assert_eq!(routed["startedRuns"], serde_json::json!([]), "{routed:#}");

    // The sweeper (every 5 s, for rows older than the 1 s grace) starts it.
    let runs = "/api/workflow-runs";
    poll(&api, &admin, runs, |r| {
        r["runs"][0]["status"] == "SUCCEEDED"
    });
    let (status, again) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
    assert_eq!(status, 200, "{again:#}");
    assert_eq!(again["status"], "duplicate", "{again:#}");
    let (_, listed) = api.call("GET", runs, Some(&admin), None);
    let listed = listed["runs"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["triggerType"], "event", "{listed:#?}");
    assert!(listed[0].get("pendingStartJson").is_none(), "{listed:#?}");
    let log = system.worker_log();
    assert!(
        log.contains("started a triggered run whose launch had failed"),
        "{log}"
    );
}

/// A parent whose child's definition cannot be read (the database away for a moment) retries
/// its workflow task; the child is not started without its definition and does not fail.
#[test]
fn a_child_definition_unreadable_for_a_moment_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let system =
        System::start_with_worker_env(dir.path(), &[("FAILPOINTS", "child-definition=1*return")]);
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let mut child = crate::common::definition(serde_json::json!([
        {"id": "double", "type": "transform.assign", "config": {"assign": {
            "vars.doubled": {"$expr": "payload.n * 2"}}}}
    ]));
    child["id"] = serde_json::json!("doubling");
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&admin),
        Some(&serde_json::json!({"definition": child})),
    );
    assert_eq!(status, 201, "{body:#}");
    let started = publish_and_start(
        &api,
        &admin,
        "parenting",
        serde_json::json!([
            {"id": "call", "type": "control.callWorkflow", "workflowId": "doubling",
                "workflowVersion": 1, "inputMapping": {"n": {"$expr": "payload.n"}},
                "outputMapping": {"vars.doubled": {"$expr": "childRun.vars.doubled"}}}
        ]),
        serde_json::json!({"n": 21}),
    );
    succeeded(&api, &admin, &started);
    let log = system.worker_log();
    assert!(log.contains("the child-definition failpoint"), "{log}");
}

/// The worker's own failures (here the ledger's claim failing twice, as in a database blip)
/// are retried inside the attempt: an action allowed two attempts, run by Temporal's retry
/// policy, still runs once, as its first attempt.
#[test]
fn infrastructure_failures_do_not_use_up_authored_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let system =
        System::start_with_worker_env(dir.path(), &[("FAILPOINTS", "ledger-claim=2*return")]);
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "patiently",
        serde_json::json!([
            {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo",
                "version": 1, "inputMapping": {"value": "once"}, "saveAs": "vars.echo"},
                "retry": {"maxAttempts": 2, "backoffMs": 100}}
        ]),
        serde_json::json!({}),
    );
    let steps = succeeded(&api, &admin, &started);
    assert_eq!(steps["invocations"][0]["attempt"], 1, "{steps:#}");
}

/// Cached runs are kept within a memory budget: past it the least recently used are evicted
/// (here all but one or two: 1 MiB less room for an instance per activation slot), and an
/// evicted run is rebuilt by replay when its event comes, and ends as it would have.
#[test]
fn runs_evicted_by_the_memory_budget_replay_and_finish() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(dir.path(), &[("ALGA_WF_CACHE_MEMORY_MIB", "1")]);
    park_evict_and_finish(
        &system,
        "evicted",
        "evicting a cached run to keep within the memory budget",
    );
}

/// A run parked longer than `--evict-parked-secs` gives its instance back, and is rebuilt by
/// replay when its event comes.
#[test]
fn runs_parked_a_long_while_are_evicted_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(dir.path(), &[("ALGA_WF_EVICT_PARKED_SECS", "1")]);
    park_evict_and_finish(
        &system,
        "long-parked",
        "evicting a run parked longer than --evict-parked-secs",
    );
}

/// Parks three runs of a workflow on an event wait, waits for the worker to log `eviction`,
/// then sends each its event: each is rebuilt by replay and ends SUCCEEDED.
fn park_evict_and_finish(system: &System, workflow: &str, eviction: &str) {
    let api = Api::start(system);
    let admin = create_key(system, TENANT, "admin");
    let steps = serde_json::json!([
        {"id": "before", "type": "transform.assign", "config": {"assign": {
            "vars.before": {"$expr": "payload.k"}}}},
        {"id": "wait", "type": "event.wait", "config": {"eventName": "EVICTED",
            "correlationKey": {"$expr": "payload.k"}}},
        {"id": "after", "type": "state.set", "config": {"state": "DONE"}}
    ]);
    let mut runs = Vec::new();
    for k in ["k1", "k2", "k3"] {
        let started = if runs.is_empty() {
            publish_and_start(
                &api,
                &admin,
                workflow,
                steps.clone(),
                serde_json::json!({"k": k}),
            )
        } else {
            let start = serde_json::json!({"workflowId": workflow, "payload": {"k": k}});
            let (status, started) =
                api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
            assert_eq!(status, 201, "{started:#}");
            started
        };
        let path = format!("/api/workflow-runs/{}", started["runId"].as_str().unwrap());
        poll(&api, &admin, &format!("{path}/waits"), |w| {
            w["waits"][0]["status"] == "WAITING"
        });
        runs.push((k, path));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !system.worker_log().contains(eviction) {
        assert!(Instant::now() < deadline, "{}", system.worker_log());
        std::thread::sleep(Duration::from_millis(200));
    }
    for (k, path) in &runs {
        let event = serde_json::json!({"eventName": "EVICTED", "correlationKey": k});
        let (status, routed) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
        assert_eq!(status, 200, "{routed:#}");
        poll(&api, &admin, path, |r| r["status"] == "SUCCEEDED");
    }
}

/// An action's outcome that cannot be recorded at first (the database away just after the
/// action ran) is recorded when the database answers, within the attempt: the action is not
/// run a second time.
#[test]
fn an_outcome_recorded_late_does_not_run_the_action_again() {
    let dir = tempfile::tempdir().unwrap();
    let system =
        System::start_with_worker_env(dir.path(), &[("FAILPOINTS", "ledger-settle=2*return")]);
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "settling",
        serde_json::json!([
            {"id": "effect", "type": "action.call", "config": {"actionId": "test.sideEffect",
                "version": 1, "saveAs": "vars.effect"}}
        ]),
        serde_json::json!({}),
    );
    let steps = succeeded(&api, &admin, &started);
    let invocation = &steps["invocations"][0];
    assert_eq!(invocation["status"], "SUCCEEDED", "{steps:#}");
    assert_eq!(invocation["attempt"], 1, "the action ran again: {steps:#}");
    assert!(
        system.worker_log().contains("the ledger-settle failpoint"),
        "the failpoint fired"
    );
}

/// A read model that cannot be written for longer than the worker's quick retries fails the
/// workflow task, which Temporal retries: the run is not wedged, and its read model is whole.
#[test]
fn a_projection_that_fails_for_a_while_is_written_on_the_task_retry() {
    let dir = tempfile::tempdir().unwrap();
    let system =
        System::start_with_worker_env(dir.path(), &[("FAILPOINTS", "projection=4*return")]);
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "projected",
        serde_json::json!([
            {"id": "one", "type": "state.set", "config": {"state": "ONE"}},
            {"id": "two", "type": "state.set", "config": {"state": "TWO"}}
        ]),
        serde_json::json!({}),
    );
    let run_path = format!("/api/workflow-runs/{}", started["runId"].as_str().unwrap());
    poll(&api, &admin, &run_path, |r| r["status"] == "SUCCEEDED");
    let (_, steps) = api.call("GET", &format!("{run_path}/steps"), Some(&admin), None);
    assert_eq!(
        steps["steps"].as_array().map(Vec::len),
        Some(2),
        "{steps:#}"
    );
    let log = system.worker_log();
    assert!(
        log.contains("projection failed; failing the workflow task"),
        "{log}"
    );
}

/// An action that runs longer than its heartbeat timeout and its ledger lease (4 s here, within
/// a 30 s start-to-close timeout) runs once: the worker heartbeats while it runs, so Temporal
/// does not time the attempt out and start another, and renews the ledger claim, so no other
/// attempt could take it over.
#[test]
fn a_long_action_heartbeats_and_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(
        dir.path(),
        &[
            ("ALGA_WF_ACTIVITY_TIMEOUT_SECS", "30"),
            ("ALGA_WF_HEARTBEAT_TIMEOUT_SECS", "4"),
        ],
    );
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let started = publish_and_start(
        &api,
        &admin,
        "long-action",
        serde_json::json!([
            {"id": "long", "type": "action.call", "config": {"actionId": "test.sleep",
                "version": 1, "inputMapping": {"ms": 10000}, "saveAs": "vars.slept"},
                "retry": {"maxAttempts": 3, "backoffMs": 100}}
        ]),
        serde_json::json!({}),
    );
    let steps = succeeded(&api, &admin, &started);
    assert_eq!(steps["invocations"][0]["attempt"], 1, "{steps:#}");

    let run = started["runId"].as_str().unwrap();
    let history: serde_json::Value =
        serde_json::from_str(&system.history_json(&format!("workflow-runtime-v2:run:{run}")))
            .unwrap();
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .collect();
    assert!(
        kinds.iter().any(|k| k.contains("ACTIVITY_TASK_COMPLETED")),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k.contains("TIMED_OUT")),
        "an attempt timed out: {kinds:?}"
    );
    let started_attempts: Vec<&serde_json::Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("activityTaskStartedEventAttributes"))
        .map(|a| &a["attempt"])
        .collect();
    assert_eq!(started_attempts, [&serde_json::json!(1)], "{history:#}");
}

/// Two launches of one fire key at once (the API routing an event while the sweeper routes it
/// too) start one run: the launch whose insert loses to the other's returns that run, instead of
/// failing on the fire key's unique index (the API answered `no_wait` with "duplicate key value
/// violates unique constraint workflow_runs_trigger_fire_key_unique" once, on a loaded machine).
#[test]
fn two_launches_of_one_fire_key_at_once_start_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    publish_and_start(
        &api,
        &admin,
        "raced",
        serde_json::json!([{"id": "s", "type": "state.set", "config": {"state": "RAN"}}]),
        serde_json::json!({}),
    );
    // Each launch waits between its lookup of the fire key and its insert, so both look up
    // before either inserts.
    fail::cfg("launch-before-insert", "sleep(500)").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let launched = runtime.block_on(async {
        let store = alga_wf::store::Store::connect(&system.database.url)
            .await
            .unwrap();
        let mut settings = alga_wf::temporal::TemporalSettings::local(&system.server.address);
        settings.task_queue = system.task_queue.clone();
        let client = alga_wf::temporal::connect(&settings).await.unwrap().client;
        let tenant = uuid::Uuid::parse_str(TENANT).unwrap();
        let launch = || {
            let (store, client) = (store.clone(), client.clone());
            let queue = settings.task_queue.clone();
            tokio::spawn(async move {
                let request = alga_wf::usecases::launch::Launch {
                    trigger_type: Some("event".into()),
                    fire_key: Some("raced:fire-key".into()),
                    ..alga_wf::usecases::launch::Launch::manual(
                        Some(tenant),
                        "raced",
                        None,
                        serde_json::json!({}),
                    )
                };
                alga_wf::usecases::launch::launch(&store, &client, &queue, request).await
            })
        };
        let (first, second) = (launch(), launch());
        (first.await.unwrap(), second.await.unwrap())
    });
    fail::remove("launch-before-insert");
    let (first, second) = (launched.0.unwrap(), launched.1.unwrap());
    assert_eq!(first.run_id, second.run_id, "{first:?} {second:?}");
    assert_ne!(first.created, second.created, "{first:?} {second:?}");
    let rows = system
        .database
        .sql("SELECT count(*) FROM workflow_runs WHERE trigger_fire_key = 'raced:fire-key'");
    assert_eq!(rows.trim(), "1");
}
