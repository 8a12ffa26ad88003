//! The product's event bus: events published on the Redis stream with the producer's layout
//! reach the same ingress as the API's, exactly once, through a consumer's crash, a poison
//! message and Redis going away.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{Api, create_key};
use crate::common::redis::{DEAD_LETTERS, Redis, STREAM, bus_message};
use crate::common::temporal::System;
use crate::faults::{poll, publish_and_start};

const TENANT: &str = "5e000000-0000-4000-8000-0000000000b1";

/// A worker consuming the stream at `redis`, as `consumer`, taking over messages idle for
/// 500 ms, with extra environment.
fn stream_env<'a>(redis: &'a Redis, consumer: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ALGA_WF_REDIS_URL", redis.url.as_str()),
        ("ALGA_WF_EVENT_CONSUMER", consumer),
        ("ALGA_WF_EVENT_CLAIM_IDLE_MS", "500"),
    ]
}

/// Publishes `id`, triggered by `event`, that records the event's ticket.
fn publish_triggered(api: &Api, admin: &str, id: &str, event: &str) {
    let mut definition = crate::common::definition(json!([
        {"id": "s", "type": "state.set", "config": {"state": "TRIGGERED"}}
    ]));
    definition["id"] = json!(id);
    definition["trigger"] = json!({"type": "event", "eventName": event});
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(admin),
        Some(&json!({"definition": definition})),
    );
    assert_eq!(status, 201, "{body:#}");
}

/// Runs of `workflow` for the tenant, from the read model.
fn runs_of(system: &System, workflow: &str) -> Vec<String> {
    let rows = system.database.sql(&format!(
        "SELECT status FROM workflow_runs WHERE tenant = '{TENANT}' AND workflow_id IN
           (SELECT workflow_id FROM workflow_definitions WHERE tenant = '{TENANT}' AND key = '{workflow}')
         ORDER BY started_at"
    ));
    rows.lines().map(str::to_owned).collect()
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn event_id(n: u32) -> String {
    format!("e7000000-0000-4000-8000-{n:012}")
}

/// Five events published at once with the producer's fields (no correlation key: it is read
/// from `ticketId`); the consumer handles two, stores and routes the third, and dies before
/// acknowledging it, with the fourth and fifth read but not handled. A worker with another
/// consumer name takes the dead one's messages over once they are idle: every event is stored
/// once, each waiting run hears its event once, and each event starts its triggered run once.
#[test]
fn stream_events_start_and_resume_runs_exactly_once_through_a_consumers_crash() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    let mut env = stream_env(&redis, "first");
    env.push(("FAILPOINTS", "stream-before-ack=2*off->return"));
    let system = System::start_with_worker_env(dir.path(), &env);
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");

    // Three runs wait on their ticket's update (showing `WAITING`); after it, a slow action
    // (showing `RUNNING` again) leaves time for a second delivery to show in their history if
    // one were sent.
    let waiter = json!([
        {"id": "w", "type": "event.wait", "config": {"eventName": "TICKET_UPDATED",
            "correlationKey": {"$expr": "payload.ticketId"}, "assign": {"vars.update": {"$expr": "vars.event"}}}},
        {"id": "work", "type": "action.call", "config": {"actionId": "test.sleep", "version": 1,
            "inputMapping": {"ms": 3000}}}
    ]);
    let mut waiting = Vec::new();
    for ticket in ["t-1", "t-2", "t-3"] {
        let started = if waiting.is_empty() {
            publish_and_start(
                &api,
                &admin,
                "waiter",
                waiter.clone(),
                json!({"ticketId": ticket}),
            )
        } else {
            let start = json!({"workflowId": "waiter", "payload": {"ticketId": ticket}});
            let (status, started) =
                api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
            assert_eq!(status, 201, "{started:#}");
            started
        };
        let run = started["runId"].as_str().unwrap().to_owned();
        poll(&api, &admin, &format!("/api/workflow-runs/{run}"), |r| {
            r["status"] == "WAITING"
        });
        waiting.push(run);
    }
    publish_triggered(&api, &admin, "on-update", "TICKET_UPDATED");

    let messages: Vec<_> = (1..=5)
        .map(|n| {
            bus_message(
                TENANT,
                "TICKET_UPDATED",
                &event_id(n),
                &json!({"ticketId": format!("t-{n}"), "status": "open"}),
            )
        })
        .collect();
    redis.publish(&messages);

    wait_until(
        "the first consumer's crash",
        Duration::from_secs(60),
        || system.worker_exited(),
    );
    assert_eq!(
        system.database.sql(&format!(
            "SELECT count(*) FROM workflow_runtime_events WHERE tenant = '{TENANT}'"
        )),
        "3",
        "the crash came after the third event was stored"
    );
    assert_eq!(
        redis.pending(),
        3,
        "the third to fifth were read, not acknowledged"
    );

    system.start_worker_with(dir.path(), &stream_env(&redis, "second"));
    // The first run heard its event before the crash and is working again.
    poll(
        &api,
        &admin,
        &format!("/api/workflow-runs/{}", waiting[0]),
        |r| r["status"] == "RUNNING",
    );
    wait_until(
        "every message acknowledged",
        Duration::from_secs(60),
        || {
            redis.pending() == 0
            && system.database.sql(&format!(
                "SELECT count(*) FROM workflow_runtime_events WHERE tenant = '{TENANT}' AND processed_at IS NOT NULL"
            )) == "5"
        },
    );
    for run in &waiting {
        poll(&api, &admin, &format!("/api/workflow-runs/{run}"), |r| {
            r["status"] == "SUCCEEDED"
        });
        let history = system.history_json(&format!("workflow-runtime-v2:run:{run}"));
        let signals = history.matches("\"WorkflowExecutionSignaled\"").count()
            + history
                .matches("EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED")
                .count();
        assert_eq!(signals, 1, "run {run} heard its event once: {history}");
    }
    wait_until("five triggered runs", Duration::from_secs(60), || {
        runs_of(&system, "on-update") == vec!["SUCCEEDED"; 5]
    });
    let fire_keys = system.database.sql(&format!(
        "SELECT count(DISTINCT trigger_fire_key) FROM workflow_runs WHERE tenant = '{TENANT}' AND trigger_type = 'event'"
    ));
    assert_eq!(fire_keys, "5", "one start per event");
    assert!(redis.messages(DEAD_LETTERS).is_empty());
    let log = system.worker_log();
    assert!(log.contains("claimed idle messages"), "{log}");
}

/// A message that can never be handled (its tenant is not a uuid; another's payload is not
/// JSON) is tried three times, then moved to the dead letters with its error and the original
/// fields; the good events around it are handled at once.
#[test]
fn a_poison_message_is_dead_lettered_after_three_deliveries_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    let system = System::start_with_worker_env(dir.path(), &stream_env(&redis, "only"));
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    publish_triggered(&api, &admin, "on-created", "TICKET_CREATED");

    let mut not_json = bus_message(TENANT, "TICKET_CREATED", &event_id(2), &json!({}));
    not_json.retain(|(k, _)| *k != "payload_json");
    not_json.push(("payload_json", "{\"ticketId\": ".to_owned()));
    redis.publish(&[
        bus_message(
            "acme",
            "TICKET_CREATED",
            &event_id(1),
            &json!({"ticketId": "t-1"}),
        ),
        not_json,
        bus_message(
            TENANT,
            "TICKET_CREATED",
            &event_id(3),
            &json!({"ticketId": "t-3"}),
        ),
    ]);
    wait_until("the good event's run", Duration::from_secs(60), || {
        runs_of(&system, "on-created") == vec!["SUCCEEDED"]
    });
    wait_until("two dead letters", Duration::from_secs(60), || {
        redis.messages(DEAD_LETTERS).len() == 2 && redis.pending() == 0
    });
    let dead = redis.messages(DEAD_LETTERS);
    let by_id = |id: &str| {
        dead.iter()
            .find(|m| m["event_id"] == id)
            .unwrap_or_else(|| panic!("{id} dead-lettered: {dead:#?}"))
    };
    let bad_tenant = by_id(&event_id(1));
    assert_eq!(
        bad_tenant["error"], "`tenant` is not a uuid: \"acme\"",
        "{bad_tenant:#?}"
    );
    assert_eq!(bad_tenant["deliveries"], "3");
    assert_eq!(bad_tenant["source_stream"], STREAM);
    assert_eq!(bad_tenant["tenant"], "acme", "the original fields are kept");
    let bad_payload = by_id(&event_id(2));
    assert!(
        bad_payload["error"].starts_with("`payload_json` is not JSON"),
        "{bad_payload:#?}"
    );
    assert_eq!(
        system.database.sql(&format!(
            "SELECT count(*) FROM workflow_runtime_events WHERE tenant = '{TENANT}'"
        )),
        "1",
        "nothing of the poison was stored"
    );
    // Nothing else was started by the poison (the good event alone started its run).
    assert_eq!(runs_of(&system, "on-created").len(), 1);
}

/// Redis killed and started again a few seconds later (its data kept): the worker, which never
/// stopped, reconnects by itself and handles what is published after.
#[test]
fn the_consumer_rides_out_a_redis_outage() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    let system = System::start_with_worker_env(dir.path(), &stream_env(&redis, "only"));
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    publish_triggered(&api, &admin, "on-closed", "TICKET_CLOSED");
    redis.publish(&[bus_message(
        TENANT,
        "TICKET_CLOSED",
        &event_id(1),
        &json!({}),
    )]);
    wait_until("the first run", Duration::from_secs(60), || {
        runs_of(&system, "on-closed").len() == 1
    });
    redis.stop();
    std::thread::sleep(Duration::from_secs(4));
    redis.start_again();
    redis.publish(&[bus_message(
        TENANT,
        "TICKET_CLOSED",
        &event_id(2),
        &json!({}),
    )]);
    wait_until("the second run", Duration::from_secs(60), || {
        runs_of(&system, "on-closed") == vec!["SUCCEEDED"; 2]
    });
    assert!(!system.worker_exited(), "the worker rode it out");
    let log = system.worker_log();
    // Whichever call met the outage (a read, or the acknowledgement of a handled message)
    // was retried.
    assert!(
        log.contains("event stream: Redis failed; retrying")
            || log.contains("event stream: a dependency is away; retrying"),
        "{log}"
    );
}

/// A stream event with no key of its own resumes a run waiting on any key its payload holds
/// at the event's paths (`INVOICE_*`: `invoiceId`, then `clientId`), and the run hears the key
/// its wait has; one that arrives before such a wait opens reaches it when it does.
#[test]
fn an_event_resumes_runs_waiting_on_any_key_its_payload_holds() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    let system = System::start_with_worker_env(dir.path(), &stream_env(&redis, "only"));
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    let by_client = json!([
        {"id": "first", "type": "action.call", "config": {"actionId": "test.sleep", "version": 1,
            "inputMapping": {"ms": {"$expr": "payload.delayMs"}}}},
        {"id": "w", "type": "event.wait", "config": {"eventName": "INVOICE_PAID",
            "correlationKey": {"$expr": "payload.clientId"},
            "assign": {"vars.heard": {"$expr": "vars.event"}}}}
    ]);
    let waiting = publish_and_start(
        &api,
        &admin,
        "by-client",
        by_client,
        json!({"clientId": "c-1", "delayMs": 0}),
    );
    let waiting = waiting["runId"].as_str().unwrap().to_owned();
    poll(
        &api,
        &admin,
        &format!("/api/workflow-runs/{waiting}"),
        |r| r["status"] == "WAITING",
    );
    // This one's wait opens three seconds after it starts; its event comes in between.
    let start = json!({"workflowId": "by-client", "payload": {"clientId": "c-2", "delayMs": 3000}});
    let (_, late) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
    let late = late["runId"].as_str().unwrap().to_owned();
    redis.publish(&[
        bus_message(
            TENANT,
            "INVOICE_PAID",
            &event_id(1),
            &json!({"invoiceId": "i-1", "clientId": "c-1"}),
        ),
        bus_message(
            TENANT,
            "INVOICE_PAID",
            &event_id(2),
            &json!({"invoiceId": "i-2", "clientId": "c-2"}),
        ),
    ]);
    for run in [&waiting, &late] {
        poll(&api, &admin, &format!("/api/workflow-runs/{run}"), |r| {
            r["status"] == "SUCCEEDED"
        });
    }
    let stored = system.database.sql(&format!(
        "SELECT correlation_key || ' ' || array_to_string(correlation_keys, ',')
         FROM workflow_runtime_events WHERE event_id = '{}'",
        event_id(1)
    ));
    assert_eq!(
        stored, "i-1 i-1,c-1",
        "the event's own key is the first it holds"
    );
    // The signal the run got names the key its wait has (payloads are base64 in a history).
    let history: serde_json::Value =
        serde_json::from_str(&system.history_json(&format!("workflow-runtime-v2:run:{waiting}")))
            .unwrap();
    let signals: Vec<serde_json::Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e["workflowExecutionSignaledEventAttributes"]["input"]["payloads"][0]["data"].as_str()
        })
        .filter_map(|data| {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()?;
            serde_json::from_slice(&bytes).ok()
        })
        .collect();
    assert_eq!(signals.len(), 1, "{history:#}");
    assert_eq!(signals[0]["correlationKey"], "c-1", "{:#}", signals[0]);
}
