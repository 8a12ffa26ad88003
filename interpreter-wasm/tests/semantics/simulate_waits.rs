//! `time.wait` and `event.wait` (dsl-semantics §4.6, §4.7) through the simulator, on the component
//! and natively.

use crate::common::{definition, simulate};
use serde_json::{Value, json};

fn event_wait(id: &str, config: Value) -> Value {
    json!({"id": id, "type": "event.wait", "config": config})
}

fn event(name: &str, key: &str, payload: Value) -> Value {
    json!({"event": {"eventName": name, "correlationKey": key, "payload": payload}})
}

#[test]
fn time_wait_duration_uses_a_timer_and_records_the_wait() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "w", "type": "time.wait", "config": {"mode": "duration", "durationMs": 60000,
                "assign": {"vars.after": {"$expr": "vars.timeWait.resumedAt"}}}}
        ]))
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["virtualElapsedMs"], 60000);
    assert_eq!(
        report["scopes"]["vars"]["timeWait"],
        json!({"mode": "duration", "dueAt": "2026-01-01T00:01:00.000Z", "resumedAt": "2026-01-01T00:01:00.000Z"})
    );
    assert_eq!(
        report["scopes"]["vars"]["after"],
        "2026-01-01T00:01:00.000Z"
    );
    assert_eq!(
        report["waits"],
        json!([{"type": "time", "path": "root.steps[0]", "status": "RESOLVED", "eventName": null,
                "correlationKey": null, "dueAt": "2026-01-01T00:01:00.000Z"}])
    );
}

#[test]
fn time_wait_until_in_the_past_takes_the_fast_path() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "w", "type": "time.wait", "config": {"mode": "until", "until": {"$expr": "'2025-06-01'"}}}
        ]))
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["virtualElapsedMs"], 0);
    assert_eq!(report["activations"], 1, "no timer was started");
    assert_eq!(report["scopes"]["vars"]["timeWait"]["mode"], "until");
}

#[test]
fn time_wait_until_in_the_future_waits_until_then() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "w", "type": "time.wait", "config": {"mode": "until", "until": {"$expr": "payload.at"}}}
        ])),
        "payload": {"at": "2026-01-01T02:00:00Z"}
    }));
    assert_eq!(report["virtualElapsedMs"], 7_200_000);
}

#[test]
fn invalid_until_is_a_validation_error() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "w", "type": "time.wait", "config": {"mode": "until", "until": {"$expr": "'next tuesday'"}}}
        ]))
    }));
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["error"]["category"], "ValidationError");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("valid date/time")
    );
}

#[test]
fn event_wait_resumes_on_a_matching_event_and_assigns() {
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("w", json!({"eventName": "TICKET_UPDATED", "correlationKey": {"$expr": "payload.ticketId"},
                "assign": {"vars.status": {"$expr": "vars.event.status"}}}))
        ])),
        "payload": {"ticketId": "T-1"},
        "stimuli": [
            event("TICKET_UPDATED", "T-2", json!({"status": "other ticket"})),
            event("OTHER_EVENT", "T-1", json!({"status": "other event"})),
            event("TICKET_UPDATED", "T-1", json!({"status": "closed"}))
        ]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["status"], "closed");
    assert_eq!(report["scopes"]["vars"]["eventName"], "TICKET_UPDATED");
    assert_eq!(report["waits"][0]["status"], "RESOLVED");
    assert_eq!(report["waits"][0]["correlationKey"], "T-1");
    assert_eq!(report["waits"][0]["eventName"], "TICKET_UPDATED");
}

#[test]
fn a_null_correlation_key_matches_any_key() {
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("w", json!({"eventName": "E", "correlationKey": {"$expr": "null"}}))
        ])),
        "stimuli": [event("E", "anything", json!({"n": 1}))]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["event"], json!({"n": 1}));
}

#[test]
fn filters_select_the_event() {
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("w", json!({"eventName": "E", "correlationKey": {"$expr": "'k'"},
                "filters": [{"path": "priority", "op": "in", "value": ["high", "urgent"]},
                            {"path": "$.size", "op": ">", "value": 10},
                            {"path": "note", "op": "not_exists"}]}))
        ])),
        "stimuli": [
            event("E", "k", json!({"priority": "low", "size": 50})),
            event("E", "k", json!({"priority": "high", "size": "50"})),
            event("E", "k", json!({"priority": "high", "size": 50, "note": "x"})),
            event("E", "k", json!({"priority": "urgent", "size": 11, "id": "winner"}))
        ]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["event"]["id"], "winner");
}

#[test]
fn events_before_the_wait_are_buffered_and_consumed_in_order() {
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "slow", "type": "time.wait", "config": {"mode": "duration", "durationMs": 1000}},
            event_wait("first", json!({"eventName": "E", "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.first": {"$expr": "vars.event.n"}}})),
            event_wait("second", json!({"eventName": "E", "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.second": {"$expr": "vars.event.n"}}}))
        ])),
        "stimuli": [event("E", "k", json!({"n": 1})), event("E", "k", json!({"n": 2}))]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["first"], 1);
    assert_eq!(report["scopes"]["vars"]["second"], 2);
}

#[test]
fn non_matching_events_are_kept_for_a_later_wait() {
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("a", json!({"eventName": "A", "correlationKey": {"$expr": "'k'"}})),
            event_wait("b", json!({"eventName": "B", "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.b": {"$expr": "vars.event.v"}}}))
        ])),
        "stimuli": [event("B", "k", json!({"v": "early b"})), event("A", "k", json!({}))]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["b"], "early b");
}

#[test]
fn event_wait_timeout_is_a_catchable_timeout_error() {
    let wait = event_wait(
        "w",
        json!({"eventName": "E", "correlationKey": {"$expr": "'k'"}, "timeoutMs": 5000}),
    );
    let report = simulate(json!({"definition": definition(json!([wait.clone()]))}));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "TimeoutError");
    assert_eq!(
        report["error"]["message"],
        "event.wait timed out waiting for E"
    );
    assert_eq!(
        report["error"]["details"],
        json!({"eventName": "E", "correlationKey": "k", "timeoutAt": "2026-01-01T00:00:05.000Z"})
    );
    assert_eq!(report["waits"][0]["status"], "TIMEOUT");
    assert_eq!(report["virtualElapsedMs"], 5000);

    let caught = simulate(json!({"definition": definition(json!([
        {"id": "t", "type": "control.tryCatch", "try": [wait], "catch": [
            {"id": "c", "type": "transform.assign", "config": {"assign": {"vars.timedOut": {"$expr": "error.category"}}}}]}
    ]))}));
    assert_eq!(caught["status"], "SUCCEEDED");
    assert_eq!(caught["scopes"]["vars"]["timedOut"], "TimeoutError");
}

#[test]
fn a_timed_stimulus_before_the_timeout_wins() {
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("w", json!({"eventName": "E", "correlationKey": {"$expr": "'k'"}, "timeoutMs": 5000}))
        ])),
        "stimuli": [{"atMs": 4000, "event": {"eventName": "E", "correlationKey": "k", "payload": {}}}]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["virtualElapsedMs"], 4000);
    let late = simulate(json!({
        "definition": definition(json!([
            event_wait("w", json!({"eventName": "E", "correlationKey": {"$expr": "'k'"}, "timeoutMs": 5000}))
        ])),
        "stimuli": [{"atMs": 6000, "event": {"eventName": "E", "correlationKey": "k", "payload": {}}}]
    }));
    assert_eq!(late["status"], "FAILED");
    assert_eq!(late["error"]["category"], "TimeoutError");
}

#[test]
fn a_run_blocked_without_stimuli_reports_waiting() {
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("w", json!({"eventName": "E", "correlationKey": {"$expr": "'k'"}}))
        ]))
    }));
    assert_eq!(report["status"], "WAITING");
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["steps"][0]["status"], "WAITING");
    assert_eq!(report["waits"][0]["status"], "WAITING");
}

#[test]
fn cancellation_during_each_wait_cancels_the_step_the_wait_and_the_run() {
    let waits = [
        json!({"id": "w", "type": "time.wait", "config": {"mode": "duration", "durationMs": 60000}}),
        event_wait(
            "w",
            json!({"eventName": "E", "correlationKey": {"$expr": "'k'"}, "timeoutMs": 60000}),
        ),
        json!({"id": "w", "type": "human.task", "config": {"taskType": "approve", "title": {"$expr": "'Approve'"}}}),
    ];
    for wait in waits {
        let report = simulate(json!({
            "definition": definition(json!([
                {"id": "t", "type": "control.tryCatch", "try": [wait], "catch": [
                    {"id": "c", "type": "state.set", "config": {"state": "CAUGHT"}}]}
            ])),
            "stimuli": [{"atMs": 1000, "cancel": true}]
        }));
        assert_eq!(report["status"], "CANCELED", "{report:#}");
        assert_eq!(report["error"]["category"], "Cancellation");
        assert_eq!(report["error"]["nodePath"], "root.steps[0].try.steps[0]");
        assert_eq!(report["steps"][1]["status"], "CANCELED");
        assert_eq!(report["waits"][0]["status"], "CANCELED", "{report:#}");
        assert!(
            report["scopes"]["meta"].get("state").is_none(),
            "never caught"
        );
    }
}

/// A run keeps at most a thousand signals no wait has taken: past that the oldest are dropped,
/// so events nobody waits for cannot grow a run's state (and every checkpoint) without bound.
#[test]
fn buffered_signals_are_bounded_and_the_oldest_dropped() {
    let mut stimuli: Vec<Value> = (0..1_005)
        .map(|i| json!({"event": {"eventName": "NOISE", "correlationKey": "k", "payload": {"i": i}}}))
        .collect();
    stimuli.push(json!({"event": {"eventName": "GO", "correlationKey": "k", "payload": {}}}));
    let report = simulate(json!({
        "definition": definition(json!([
            {"id": "go", "type": "event.wait", "config": {"eventName": "GO",
                "correlationKey": {"$expr": "'k'"}}},
            {"id": "noise", "type": "event.wait", "config": {"eventName": "NOISE",
                "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.first": {"$expr": "vars.event.i"}}}}
        ])),
        "payload": {},
        "stimuli": stimuli
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{}", report["error"]);
    // Events 0 to 4 were dropped to keep a thousand buffered; the wait takes the oldest left.
    assert_eq!(report["scopes"]["vars"]["first"], 5, "{}", report["scopes"]);
}

/// An event delivered twice (the same `eventId`: a signal Temporal took although its sender saw
/// an error, and sent again) is taken once: the next wait for that event gets the next event.
#[test]
fn an_event_delivered_twice_is_taken_once() {
    let event_with_id = |id: &str, n: u32| {
        json!({"event": {"eventName": "EVT", "correlationKey": "k", "payload": {"n": n},
            "eventId": id}})
    };
    let report = simulate(json!({
        "definition": definition(json!([
            event_wait("one", json!({"eventName": "EVT", "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.first": {"$expr": "vars.event.n"}}})),
            event_wait("two", json!({"eventName": "EVT", "correlationKey": {"$expr": "'k'"},
                "assign": {"vars.second": {"$expr": "vars.event.n"}}}))
        ])),
        "payload": {},
        "stimuli": [event_with_id("e-1", 1), event_with_id("e-1", 1), event_with_id("e-2", 2)]
    }));
    assert_eq!(report["status"], "SUCCEEDED", "{}", report["error"]);
    assert_eq!(report["scopes"]["vars"]["first"], 1);
    assert_eq!(
        report["scopes"]["vars"]["second"], 2,
        "{}",
        report["scopes"]
    );
}
