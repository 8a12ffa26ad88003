//! Faults between schedule rows and their Temporal Schedules: a row that cannot be stored
//! leaves no Schedule behind, and the sweeper matches rows and Schedules both ways.

use std::time::{Duration, Instant};

use crate::api::{Api, create_key};
use crate::common::temporal::System;
use crate::faults::{TENANT, publish_and_start};

/// A schedule whose row cannot be stored leaves no Temporal Schedule behind (one would fire
/// for ever, unseen by the API): the row is written first.
#[test]
fn a_schedule_that_cannot_be_stored_leaves_no_temporal_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start_with_env(&system, &[], &[("FAILPOINTS", "schedule-save=1*return")]);
    let admin = create_key(&system, TENANT, "admin");
    let schedule = one_step_workflow_to_schedule(&api, &admin, "scheduled");
    let (status, body) = api.call(
        "POST",
        "/api/workflow-schedules",
        Some(&admin),
        Some(&schedule),
    );
    assert_eq!(status, 503, "{body:#}");
    assert_eq!(
        temporal_schedules(&system).len(),
        0,
        "an orphan Temporal Schedule"
    );
    let (_, listed) = api.call("GET", "/api/workflow-schedules", Some(&admin), None);
    assert_eq!(
        listed["schedules"].as_array().map(Vec::len),
        Some(0),
        "{listed:#}"
    );
    // The next one (the fault spent) is stored and registered.
    let (status, body) = api.call(
        "POST",
        "/api/workflow-schedules",
        Some(&admin),
        Some(&schedule),
    );
    assert_eq!(status, 201, "{body:#}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while temporal_schedules(&system).is_empty() {
        assert!(
            Instant::now() < deadline,
            "Temporal never listed the schedule"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Temporal's listing has caught up with the second: it holds that one only.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        temporal_schedules(&system).len(),
        1,
        "an orphan besides the stored schedule"
    );
}

/// Publishes (and runs once) a one-step workflow `id`; the body of a schedule that would start it
/// once, a month from now.
fn one_step_workflow_to_schedule(api: &Api, admin: &str, id: &str) -> serde_json::Value {
    publish_and_start(
        api,
        admin,
        id,
        serde_json::json!([{"id": "s", "type": "state.set", "config": {"state": "X"}}]),
        serde_json::json!({}),
    );
    let run_at = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    serde_json::json!({"workflowId": id, "triggerType": "schedule", "runAt": run_at})
}

/// The ids of our Temporal Schedules (`alga-wf-schedule:<id>`) the server lists.
fn temporal_schedules(system: &System) -> Vec<String> {
    let listed = system.temporal_cli(&["schedule", "list", "--output", "json"]);
    let mut ids: Vec<String> = listed
        .split("alga-wf-schedule:")
        .skip(1)
        .map(|rest| rest.chars().take(36).collect())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A schedule row whose Temporal Schedule went missing gets it again, and a Temporal Schedule
/// whose row went missing is deleted: the sweeper matches the two both ways.
#[test]
fn schedules_and_temporal_schedules_are_matched_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_with_worker_env(
        dir.path(),
        &[
            ("ALGA_WF_LAUNCH_GRACE_SECS", "1"),
            ("ALGA_WF_SCHEDULE_SWEEP_SECS", "1"),
        ],
    );
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let schedule = one_step_workflow_to_schedule(&api, &admin, "matched");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = api.call(
            "POST",
            "/api/workflow-schedules",
            Some(&admin),
            Some(&schedule),
        );
        assert_eq!(status, 201, "{body:#}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (kept, orphaned) = (&ids[0], &ids[1]);
    // The first loses its Temporal Schedule, the second its row.
    system.temporal_cli(&[
        "schedule",
        "delete",
        "--schedule-id",
        &format!("alga-wf-schedule:{kept}"),
    ]);
    system.database.sql(&format!(
        "DELETE FROM tenant_workflow_schedule WHERE id = '{orphaned}'"
    ));

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let listed = temporal_schedules(&system);
        if listed == [kept.clone()] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the schedules never matched: {listed:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (status, described) = api.call(
        "GET",
        &format!("/api/workflow-schedules/{kept}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{described:#}");
    assert_eq!(described["temporal"]["paused"], false, "{described:#}");
}
