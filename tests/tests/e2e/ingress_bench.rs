//! The ingress benchmark, run by `scripts/bench ingress` (release build) and ignored by the
//! test command. With 1,000 runs waiting on an event each: how long an accepted event takes to
//! resume its run to its end (from the `200` to the run's row closing), p50 and p99, first
//! with events sent one at a time (the latency of one event), then in a storm from eight
//! concurrent senders (how many events per second the API accepts, and the latency while the
//! worker catches up); then the same through the Redis stream. The whole system is real: a
//! Temporal dev server, PostgreSQL, Redis, `alga-wf serve` and `alga-wf worker`, on one machine,
//! sharing its cores.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::api::{Api, create_key};
use crate::common::temporal::System;
use crate::faults::TENANT;

const WAITING: usize = 1_000;
/// Events sent one at a time, 50 ms apart, before the storm.
const PACED: usize = 100;
const SENDERS: usize = 8;

/// Milliseconds since the epoch, the clock PostgreSQL's timestamps use on this machine.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The single number `sql` selects.
fn count(system: &System, sql: &str) -> usize {
    system.database.sql(sql).trim().parse().unwrap_or(0)
}

/// Runs `work(i)` for every `i` in `range` on `SENDERS` threads; what each returned, in order.
fn on_senders<T: Send>(range: std::ops::Range<usize>, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let (work, range) = (&work, range.clone());
                scope.spawn(move || {
                    (range.start + sender..range.end)
                        .step_by(SENDERS)
                        .map(|i| (i, work(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a sender panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn wait_for(system: &System, what: &str, sql: &str, target: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while count(system, sql) < target {
        assert!(Instant::now() < deadline, "never reached: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "a benchmark: scripts/bench ingress"]
fn ingress_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start_with(&system, &["--start-rate-per-tenant", "0"]);
    let admin = create_key(&system, TENANT, "admin");
    let mut definition = crate::common::definition(json!([
        {"id": "wait", "type": "event.wait", "config": {"eventName": "BENCH_EVENT",
            "correlationKey": {"$expr": "payload.k"}}},
        {"id": "done", "type": "state.set", "config": {"state": "DONE"}}
    ]));
    definition["id"] = json!("ingress-bench");
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&admin),
        Some(&json!({"definition": definition})),
    );
    assert_eq!(status, 201, "{body:#}");

    let runs: Vec<String> = on_senders(0..WAITING, |i| {
        let start = json!({"workflowId": "ingress-bench", "payload": {"k": format!("k{i}")}});
        let (status, started) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
        assert_eq!(status, 201, "{started:#}");
        started["runId"].as_str().unwrap().to_owned()
    });
    wait_for(
        &system,
        "every run waiting",
        "SELECT count(*) FROM workflow_run_waits WHERE status = 'WAITING'",
        WAITING,
    );

    let send = |i: usize| {
        let event = json!({"eventName": "BENCH_EVENT", "correlationKey": format!("k{i}"),
            "payload": {"i": i}});
        let (status, routed) = api.call("POST", "/api/workflow/events", Some(&admin), Some(&event));
        assert_eq!(status, 200, "{routed:#}");
        now_ms()
    };
    let mut accepted: Vec<f64> = (0..PACED)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(50));
            send(i)
        })
        .collect();
    let began = Instant::now();
    accepted.extend(on_senders(PACED..WAITING, send));
    let rate = (WAITING - PACED) as f64 / began.elapsed().as_secs_f64();
    wait_for(
        &system,
        "every run ended",
        "SELECT count(*) FROM workflow_runs WHERE status = 'SUCCEEDED'",
        WAITING,
    );

    let completed: HashMap<String, f64> = system
        .database
        .sql("SELECT run_id, extract(epoch FROM completed_at) * 1000 FROM workflow_runs")
        .lines()
        .filter_map(|line| {
            let (run, at) = line.split_once('|')?;
            Some((run.to_owned(), at.trim().parse().ok()?))
        })
        .collect();
    let latencies: Vec<f64> = runs
        .iter()
        .zip(&accepted)
        .map(|(run, accepted)| completed[run] - accepted)
        .collect();
    let percentiles = |mut some: Vec<f64>| {
        some.sort_by(f64::total_cmp);
        let at = |p: usize| some[(some.len() * p / 100).min(some.len() - 1)];
        format!("p50 {:7.1} ms   p99 {:7.1} ms", at(50), at(99))
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "ingress ({cores} cores, Temporal, PostgreSQL, API and worker on this machine), \
         {WAITING} runs waiting on an event each:"
    );
    println!(
        "  one event at a time ({PACED}, 50 ms apart): accepted event to run ended  {}",
        percentiles(latencies[..PACED].to_vec())
    );
    println!(
        "  a storm of {} events from {SENDERS} senders: {rate:.1} accepted per second; \
         accepted event to run ended  {}",
        WAITING - PACED,
        percentiles(latencies[PACED..].to_vec())
    );
}

/// The same through the product's event bus: 1,000 runs wait on an event each, and 1,000 events
/// are published on the Redis stream at once with the producer's fields. How many events per
/// second the worker's consumer stores and routes, and how long each stored event takes to
/// resume its run to its end (the event row's `created_at` to the run's `completed_at`).
#[test]
#[ignore = "a benchmark: scripts/bench ingress"]
fn stream_ingress_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let redis = crate::common::redis::Redis::start();
    let system = System::start_with_worker_env(
        dir.path(),
        &[
            ("ALGA_WF_REDIS_URL", redis.url.as_str()),
            ("ALGA_WF_EVENT_CONSUMER", "bench"),
        ],
    );
    let api = Api::start_with(&system, &["--start-rate-per-tenant", "0"]);
    let admin = create_key(&system, TENANT, "admin");
    let mut definition = crate::common::definition(json!([
        {"id": "wait", "type": "event.wait", "config": {"eventName": "BENCH_EVENT",
            "correlationKey": {"$expr": "payload.k"}}},
        {"id": "done", "type": "state.set", "config": {"state": "DONE"}}
    ]));
    definition["id"] = json!("stream-bench");
    let (status, body) = api.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&admin),
        Some(&json!({"definition": definition})),
    );
    assert_eq!(status, 201, "{body:#}");
    on_senders(0..WAITING, |i| {
        let start = json!({"workflowId": "stream-bench", "payload": {"k": format!("k{i}")}});
        let (status, started) = api.call("POST", "/api/workflow-runs", Some(&admin), Some(&start));
        assert_eq!(status, 201, "{started:#}");
    });
    wait_for(
        &system,
        "every run waiting",
        "SELECT count(*) FROM workflow_run_waits WHERE status = 'WAITING'",
        WAITING,
    );
    let messages: Vec<_> = (0..WAITING)
        .map(|i| {
            let id = format!("b0000000-0000-4000-8000-{i:012}");
            // No correlation key: it is read from the payload, as the product's events need.
            crate::common::redis::bus_message(
                TENANT,
                "BENCH_EVENT",
                &id,
                &json!({"ticketId": format!("k{i}")}),
            )
        })
        .collect();
    let published = now_ms();
    redis.publish(&messages);
    wait_for(
        &system,
        "every event stored and routed",
        "SELECT count(*) FROM workflow_runtime_events WHERE processed_at IS NOT NULL",
        WAITING,
    );
    let routed_in = now_ms() - published;
    wait_for(
        &system,
        "every run ended",
        "SELECT count(*) FROM workflow_runs WHERE status = 'SUCCEEDED'",
        WAITING,
    );
    let latencies: Vec<f64> = system
        .database
        .sql(
            "SELECT extract(epoch FROM r.completed_at - e.created_at) * 1000
             FROM workflow_runtime_events e
             JOIN workflow_event_deliveries d ON d.event_id = e.event_id AND d.tenant = e.tenant
             JOIN workflow_runs r ON r.run_id = d.run_id",
        )
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(latencies.len(), WAITING, "every event resumed its run once");
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    let at = |p: usize| sorted[(sorted.len() * p / 100).min(sorted.len() - 1)];
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "stream ingress ({cores} cores, Redis, Temporal, PostgreSQL and worker on this machine), \
         {WAITING} runs waiting on an event each, {WAITING} events published at once:"
    );
    println!(
        "  stored and routed by one consumer: {:.1} events per second; stored event to run \
         ended  p50 {:7.1} ms   p99 {:7.1} ms",
        WAITING as f64 / (routed_in / 1000.0),
        at(50),
        at(99)
    );
}
