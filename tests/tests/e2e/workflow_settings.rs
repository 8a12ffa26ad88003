//! A workflow's operator settings (`PUT .../metadata`). Every run has a deadline: one still
//! open past its execution timeout (its workflow's own, else the deployment's) is ended in
//! Temporal and its row fails with a `TimeoutError`. A concurrency limit refuses starts past
//! it, however they come.

use serde_json::{Value, json};

use crate::api::{Api, create_key};
use crate::common::temporal::System;
use crate::faults::{poll, publish_and_start};

const TENANT: &str = "de000000-0000-4000-8000-0000000000d1";
const STRANGER: &str = "de000000-0000-4000-8000-0000000000d2";

fn waits_forever() -> serde_json::Value {
    json!([{"id": "w", "type": "event.wait", "config": {"eventName": "NEVER",
        "correlationKey": {"$expr": "\"k\""}}}])
}

/// The deployment allows 3 s. `hasty` (no timeout of its own) fails with a `TimeoutError`
/// once past it, its wait closed and its workflow terminated in Temporal; `patient`, whose own
/// timeout is an hour, stays open past the deployment's, until its own is cleared.
#[test]
fn runs_past_their_execution_timeout_fail_with_a_timeout_error() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(
        dir.path(),
        &[
            ("ALGA_WF_RUN_TIMEOUT_SECS", "3"),
            ("ALGA_WF_SWEEP_INTERVAL_SECS", "1"),
        ],
    );
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let stranger = create_key(&system, STRANGER, "admin");

    let patient = publish_and_start(&api, &admin, "patient", waits_forever(), json!({}));
    let patient = patient["runId"].as_str().unwrap().to_owned();
    let metadata = "/api/workflow-definitions/patient/metadata";
    let (status, body) = api.call(
        "PUT",
        metadata,
        Some(&admin),
        Some(&json!({"executionTimeoutSecs": 3600})),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["executionTimeoutSecs"], 3600, "{body:#}");
    assert_eq!(
        body["isPaused"], false,
        "an absent setting is kept: {body:#}"
    );
    for bad in [
        json!({"executionTimeoutSecs": 0}),
        json!({"executionTimeoutSecs": "soon"}),
    ] {
        let (status, body) = api.call("PUT", metadata, Some(&admin), Some(&bad));
        assert_eq!(status, 400, "{bad}: {body:#}");
    }
    let (status, _) = api.call(
        "PUT",
        metadata,
        Some(&stranger),
        Some(&json!({"executionTimeoutSecs": 1})),
    );
    assert_eq!(status, 404, "another tenant's workflow is not found");

    let hasty = publish_and_start(&api, &admin, "hasty", waits_forever(), json!({}));
    let hasty = hasty["runId"].as_str().unwrap().to_owned();
    poll(&api, &admin, &format!("/api/workflow-runs/{hasty}"), |r| {
        r["status"] == "FAILED"
    });
    let (_, row) = api.call(
        "GET",
        &format!("/api/workflow-runs/{hasty}"),
        Some(&admin),
        None,
    );
    assert_eq!(row["error"]["category"], "TimeoutError", "{row:#}");
    assert!(
        row["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("execution timeout of 3 s")),
        "{row:#}"
    );
    let (_, waits) = api.call(
        "GET",
        &format!("/api/workflow-runs/{hasty}/waits"),
        Some(&admin),
        None,
    );
    assert_ne!(waits["waits"][0]["status"], "WAITING", "{waits:#}");
    let described = system.temporal_cli(&[
        "workflow",
        "describe",
        "--output",
        "json",
        "--workflow-id",
        &format!("workflow-runtime-v2:run:{hasty}"),
    ]);
    assert!(
        described.contains("WORKFLOW_EXECUTION_STATUS_TERMINATED"),
        "{described}"
    );

    let (_, row) = api.call(
        "GET",
        &format!("/api/workflow-runs/{patient}"),
        Some(&admin),
        None,
    );
    assert_eq!(row["status"], "WAITING", "its own hour holds: {row:#}");
    let (status, body) = api.call(
        "PUT",
        metadata,
        Some(&admin),
        Some(&json!({"executionTimeoutSecs": null})),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["executionTimeoutSecs"], json!(null), "{body:#}");
    poll(
        &api,
        &admin,
        &format!("/api/workflow-runs/{patient}"),
        |r| r["status"] == "FAILED" && r["error"]["category"] == "TimeoutError",
    );
}

/// `single` may have one run open: a second start is refused with 409 and says why, also when
/// many starts race for the last place; an event's launch past the limit records the reason;
/// clearing the limit lets starts through again.
#[test]
fn a_concurrency_limit_refuses_starts_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    // Every launch of a limited workflow dawdles between counting and inserting, so racing
    // launches overlap there.
    let api = Api::start_with_env(
        &system,
        &[],
        &[("FAILPOINTS", "run-limit-counted=sleep(300)")],
    );
    let admin = create_key(&system, TENANT, "admin");
    let first = publish_and_start(&api, &admin, "single", waits_forever(), json!({}));
    assert!(first["runId"].is_string(), "{first:#}");
    let limit = |workflow: &str, value: serde_json::Value| {
        let path = format!("/api/workflow-definitions/{workflow}/metadata");
        api.call(
            "PUT",
            &path,
            Some(&admin),
            Some(&json!({"concurrencyLimit": value})),
        )
    };
    let (status, body) = limit("single", json!(1));
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["concurrencyLimit"], 1, "{body:#}");
    for bad in [json!(0), json!(-1), json!("one")] {
        assert_eq!(limit("single", bad.clone()).0, 400, "{bad}");
    }
    let start = json!({"workflowId": "single", "payload": {}});
    let (status, body) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    assert_eq!(status, 409, "{body:#}");
    assert_eq!(body["error"], "CONCURRENCY_LIMIT_REACHED", "{body:#}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("concurrency limit is 1")),
        "{body:#}"
    );

    // Six starts at once for two places: exactly two get them.
    let raced = publish_and_start(&api, &admin, "raced", waits_forever(), json!({}));
    assert!(raced["runId"].is_string());
    assert_eq!(limit("raced", json!(3)).0, 200);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let start = json!({"workflowId": "raced", "payload": {}});
                    api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start))
                        .0
                })
            })
            .collect();
        starts.into_iter().map(|s| s.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        4,
        "{statuses:?}"
    );

    // An event's launch past the limit starts nothing and the event says why.
    let mut triggered = crate::common::definition(waits_forever());
    triggered["id"] = json!("on-ping");
    triggered["trigger"] = json!({"type": "event", "eventName": "PING"});
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&admin),
        Some(&json!({"definition": triggered})),
    );
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(limit("on-ping", json!(1)).0, 200);
    let ping = |id: &str| {
        let event = json!({"eventId": id, "eventName": "PING", "payload": {}});
        api.call("POST", "/api/workflow/events", Some(&admin), Some(&event))
            .1
    };
    let routed = ping("d0000000-0000-4000-8000-000000000001");
    assert_eq!(routed["status"], "started", "{routed:#}");
    let refused = ping("d0000000-0000-4000-8000-000000000002");
    assert_eq!(refused["startedRuns"], json!([]), "{refused:#}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("concurrency limit")),
        "{refused:#}"
    );
    let (_, stored) = api.call(
        "GET",
        "/api/workflow/events/d0000000-0000-4000-8000-000000000002",
        Some(&admin),
        None,
    );
    assert!(
        stored["errorMessage"]
            .as_str()
            .is_some_and(|e| e.contains("concurrency limit")),
        "{stored:#}"
    );

    // A schedule's fire past the limit (Temporal starts it; nobody can be answered 409) fails
    // at once with the reason on its row, before any step runs.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (status, schedule) = api.call(
        "POST",
        "/api/workflow-schedules",
        Some(&admin),
        Some(&json!({"workflowId": "single", "triggerType": "schedule", "runAt": at})),
    );
    assert_eq!(status, 201, "{schedule:#}");
    let fired = "/api/workflow-runs?status=FAILED";
    poll(&api, &admin, fired, |list| {
        list["runs"].as_array().is_some_and(|runs| !runs.is_empty())
    });
    let (_, list) = api.call("GET", fired, Some(&admin), None);
    let refused = &list["runs"][0];
    assert_eq!(refused["triggerType"], "schedule", "{refused:#}");
    let run_id = refused["runId"].as_str().unwrap();
    let (_, row) = api.call(
        "GET",
        &format!("/api/workflow-runs/{run_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(row["error"]["code"], "CONCURRENCY_LIMIT_REACHED", "{row:#}");
    assert!(
        row["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("concurrency limit is 1")),
        "{row:#}"
    );
    let (_, steps) = api.call(
        "GET",
        &format!("/api/workflow-runs/{run_id}/steps"),
        Some(&admin),
        None,
    );
    assert_eq!(steps["steps"], json!([]), "no step ran: {steps:#}");
    let described = system.temporal_cli(&[
        "workflow",
        "describe",
        "--workflow-id",
        row["temporalWorkflowId"].as_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(
        described.contains("FAILED"),
        "the workflow failed in Temporal too: {described}"
    );

    // No limit: any number.
    assert_eq!(limit("single", json!(null)).0, 200);
    let (status, body) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    assert_eq!(status, 201, "{body:#}");
}

/// A workflow that pauses on failure pauses itself once enough of its recent runs failed (not
/// before), and the audit trail says why, with no key.
#[test]
fn a_workflow_whose_runs_keep_failing_pauses_itself() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let failing = json!([{"id": "boom", "type": "action.call", "config": {
        "actionId": "test.fail", "version": 1}}]);
    let first = publish_and_start(&api, &admin, "brittle", failing, json!({}));
    let (status, body) = api.call(
        "PUT",
        "/api/workflow-definitions/brittle/metadata",
        Some(&admin),
        Some(
            &json!({"autoPauseOnFailure": true, "failureRateThreshold": 0.5,
            "failureRateMinRuns": 3}),
        ),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["failureRateMinRuns"], 3, "{body:#}");
    for bad in [
        json!({"failureRateThreshold": 1.5}),
        json!({"failureRateMinRuns": 0}),
    ] {
        let path = "/api/workflow-definitions/brittle/metadata";
        assert_eq!(
            api.call("PUT", path, Some(&admin), Some(&bad)).0,
            400,
            "{bad}"
        );
    }
    let failed = |run: &str| {
        poll(&api, &admin, &format!("/api/workflow-runs/{run}"), |r| {
            r["status"] == "FAILED"
        })
    };
    let paused = || {
        let (_, trail) = api.call(
            "GET",
            "/api/workflow-audit?targetType=workflow",
            Some(&admin),
            None,
        );
        trail["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "workflow.auto_paused")
            .cloned()
    };
    failed(first["runId"].as_str().unwrap());
    let start = json!({"workflowId": "brittle", "payload": {}});
    let (_, second) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    failed(second["runId"].as_str().unwrap());
    assert!(
        paused().is_none(),
        "two runs are fewer than the three judged"
    );
    let (_, third) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    failed(third["runId"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let entry = loop {
        if let Some(entry) = paused() {
            break entry;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the workflow never paused"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(entry["keyId"], Value::Null, "{entry:#}");
    assert_eq!(entry["details"]["failureRate"], 1.0, "{entry:#}");
    assert_eq!(entry["details"]["runsJudged"], 3, "{entry:#}");
    let (_, definition) = api.call(
        "GET",
        "/api/workflow-definitions/brittle",
        Some(&admin),
        None,
    );
    assert_eq!(definition["isPaused"], true, "{definition:#}");
}

/// Ended runs past their workflow's retention are purged with their rows by the sweeper; a
/// recent one stays, and so does an old one of a workflow with no retention (the deployment
/// keeps runs for ever by default).
#[test]
fn runs_past_their_retention_are_purged_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(
        dir.path(),
        &[
            ("ALGA_WF_SCHEDULE_SWEEP_SECS", "1"),
            ("ALGA_WF_SWEEP_INTERVAL_SECS", "1"),
        ],
    );
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let quick = json!([{"id": "s", "type": "state.set", "config": {"state": "DONE"}}]);
    let old = publish_and_start(&api, &admin, "short-lived", quick.clone(), json!({}));
    let kept = publish_and_start(&api, &admin, "long-lived", quick, json!({}));
    let (status, body) = api.call(
        "PUT",
        "/api/workflow-definitions/short-lived/metadata",
        Some(&admin),
        Some(&json!({"retentionDays": 2})),
    );
    assert_eq!(
        (status, body["retentionDays"].as_i64()),
        (200, Some(2)),
        "{body:#}"
    );
    let start = json!({"workflowId": "short-lived", "payload": {}});
    let (_, recent) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    let ids: Vec<String> = [&old, &kept, &recent]
        .iter()
        .map(|r| r["runId"].as_str().unwrap().to_owned())
        .collect();
    for run in &ids {
        poll(&api, &admin, &format!("/api/workflow-runs/{run}"), |r| {
            r["status"] == "SUCCEEDED"
        });
    }
    let (old, kept, recent) = (&ids[0], &ids[1], &ids[2]);
    system.database.sql(&format!(
        "UPDATE workflow_runs SET completed_at = now() - interval '3 days'
         WHERE run_id IN ('{old}', '{kept}')"
    ));
    assert_ne!(
        system.database.sql(&format!(
            "SELECT count(*) FROM workflow_run_steps WHERE run_id = '{old}'"
        )),
        "0"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api
        .call(
            "GET",
            &format!("/api/workflow-runs/{old}"),
            Some(&admin),
            None,
        )
        .0
        != 404
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the old run was never purged"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for table in ["workflow_run_steps", "workflow_run_logs"] {
        assert_eq!(
            system.database.sql(&format!(
                "SELECT count(*) FROM {table} WHERE run_id = '{old}'"
            )),
            "0",
            "{table}"
        );
    }
    for run in [kept, recent] {
        let (status, _) = api.call(
            "GET",
            &format!("/api/workflow-runs/{run}"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 200, "{run} is kept");
    }
}
