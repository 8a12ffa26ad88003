//! Every run has a deadline: one still open past its execution timeout (its workflow's own,
//! else the deployment's) is ended in Temporal and its row fails with a `TimeoutError`.

use serde_json::json;

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
    assert_eq!(row["error_json"]["category"], "TimeoutError", "{row:#}");
    assert!(
        row["error_json"]["message"]
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
        |r| r["status"] == "FAILED" && r["error_json"]["category"] == "TimeoutError",
    );
}
