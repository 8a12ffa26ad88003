//! The chaos run: a mixed workload across two tenants while the worker is killed, PostgreSQL is
//! stopped and started again, Temporal is killed and started again on its data, and the API is
//! killed and started again, at seeded moments. A worker that exits on its own (its poll loop
//! gave up while Temporal was away) is started again, as its supervisor would. At
//! the end, from the database and Temporal: every accepted event started exactly one run, every
//! run ended as its definition says, every event reached its wait exactly once, every side
//! effect is recorded once, and the read model agrees with Temporal. One line of figures.
//!
//! The test suite runs a short version (`chaos::a_short_chaos_run_loses_nothing`, 40 s of
//! workload); `scripts/chaos --minutes N [--seed S]` runs the long one (`chaos::soak`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Api, create_key};
use crate::common;
use crate::common::temporal::System;

const TENANTS: [&str; 2] = [
    "c4a05000-0000-4000-8000-0000000000a1",
    "c4a05000-0000-4000-8000-0000000000b2",
];

/// A fault the run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGKILL the worker, start it again.
    Worker,
    /// Stop PostgreSQL (connections cut), start it again on the same data.
    Database,
    /// Kill the API process, start another.
    Api,
    /// SIGKILL Temporal, start it again on the same port and data.
    Temporal,
}

/// The worker's settings in a chaos run: launches and schedules finished a few seconds after
/// they fail, so the run settles quickly once the faults stop.
const WORKER_ENV: [(&str, &str); 1] = [("ALGA_WF_LAUNCH_GRACE_SECS", "3")];

/// What a chaos run measured.
#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    faults: [usize; 4],
    supervisor_restarts: usize,
    runs_lost: usize,
    duplicate_runs: usize,
    unfinished: usize,
    events_lost: usize,
    duplicate_side_effects: usize,
    reattempted: usize,
    mismatches: usize,
    longest_recovery: Duration,
}

/// An event to send until the API accepts it (retries are safe: events have ids).
struct Send {
    key: usize,
    body: Value,
}

fn event_id(kind: u32, i: usize) -> String {
    format!("c4a05000-{kind:04x}-4000-8000-{i:012x}")
}

fn workflow() -> Value {
    let mut definition = common::definition(json!([
        {"id": "effect", "type": "action.call", "config": {"actionId": "test.sideEffect",
            "version": 1, "saveAs": "vars.effect"}},
        {"id": "go", "type": "event.wait", "config": {"eventName": "CHAOS_GO",
            "correlationKey": {"$expr": "payload.k"}}},
        {"id": "pause", "type": "time.wait", "config": {"mode": "duration", "durationMs": 500}},
        {"id": "done", "type": "state.set", "config": {"state": "DONE"}}
    ]));
    definition["id"] = json!("chaos");
    definition["trigger"] = json!({"type": "event", "eventName": "CHAOS_START"});
    definition
}

fn run_chaos(workload: Duration, seed: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start_on(
        crate::common::temporal::DevServer::start_durable(),
        dir.path(),
        &WORKER_ENV,
    );
    let mut api = Api::start(&system);
    let keys: Vec<String> = TENANTS
        .iter()
        .map(|tenant| create_key(&system, tenant, "admin"))
        .collect();
    for key in &keys {
        let (status, body) = api.call(
            "POST",
            "/api/workflow-definitions/publish",
            Some(key),
            Some(&json!({"definition": workflow()})),
        );
        assert_eq!(status, 201, "{body:#}");
    }

    let mut rng = fastrand::Rng::with_seed(seed);
    let mut figures = Figures::default();
    let mut pending: Vec<Send> = Vec::new();
    let mut accepted_starts = Vec::new();
    let began = Instant::now();
    let mut next_fault = began + Duration::from_secs(rng.u64(3..7));
    // From a fault's start until the API accepts events again.
    let mut recovering: Option<Instant> = None;
    let mut i = 0;
    while began.elapsed() < workload {
        if Instant::now() >= next_fault {
            let fault =
                [Fault::Worker, Fault::Database, Fault::Api, Fault::Temporal][rng.usize(0..4)];
            let pause = Duration::from_millis(rng.u64(500..3_000));
            recovering.get_or_insert_with(Instant::now);
            match fault {
                Fault::Worker => {
                    system.kill_worker();
                    std::thread::sleep(pause);
                    system.start_worker_with(dir.path(), &WORKER_ENV);
                }
                Fault::Temporal => system.server.restart(pause),
                Fault::Database => {
                    system.database.stop();
                    std::thread::sleep(pause);
                    system.database.start_again();
                }
                Fault::Api => {
                    drop(api);
                    std::thread::sleep(pause);
                    api = Api::start(&system);
                }
            }
            figures.faults[fault as usize] += 1;
            next_fault = Instant::now() + Duration::from_secs(rng.u64(4..9));
        }
        // A run's start and the event it waits for, sent together: the event may well come
        // before the run's wait exists.
        if system.worker_exited() {
            figures.supervisor_restarts += 1;
            system.start_worker_with(dir.path(), &WORKER_ENV);
        }
        let key = i % TENANTS.len();
        let k = format!("k{i}");
        pending.push(Send {
            key,
            body: json!({"eventId": event_id(0, i), "eventName": "CHAOS_START",
                "payload": {"k": k}}),
        });
        pending.push(Send {
            key,
            body: json!({"eventId": event_id(1, i), "eventName": "CHAOS_GO",
                "correlationKey": k, "payload": {}}),
        });
        accepted_starts.push(event_id(0, i));
        i += 1;
        let delivered = send_pending(&api, &keys, &mut pending);
        if delivered && let Some(since) = recovering.take() {
            figures.longest_recovery = figures.longest_recovery.max(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The faults stop; whatever was refused meanwhile is sent until accepted.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "events never accepted");
        if system.worker_exited() {
            figures.supervisor_restarts += 1;
            system.start_worker_with(dir.path(), &WORKER_ENV);
        }
        send_pending(&api, &keys, &mut pending);
        std::thread::sleep(Duration::from_millis(500));
    }
    figures.runs = accepted_starts.len();

    // Quiescence: every run ended, or two minutes passed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open = system
            .database
            .sql("SELECT count(*) FROM workflow_runs WHERE status IN ('RUNNING', 'WAITING')");
        let runs = system
            .database
            .sql("SELECT count(*) FROM workflow_runs")
            .trim()
            .parse::<usize>()
            .unwrap_or(0);
        if open.trim() == "0" && runs >= figures.runs || Instant::now() > deadline {
            break;
        }
        if system.worker_exited() {
            figures.supervisor_restarts += 1;
            system.start_worker_with(dir.path(), &WORKER_ENV);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    check(&system, &accepted_starts, &mut figures);
    figures
}

/// Sends what is pending once each; keeps what the API did not accept. Whether any was
/// accepted.
fn send_pending(api: &Api, keys: &[String], pending: &mut Vec<Send>) -> bool {
    let mut any = false;
    pending.retain(|send| {
        match api.try_post("/api/workflow/events", &keys[send.key], &send.body) {
            Some((200, _)) => {
                any = true;
                false
            }
            Some((status, body)) if (400..500).contains(&status) && status != 429 => {
                panic!("an event was refused for good: {status} {body:#}")
            }
            _ => true,
        }
    });
    any
}

/// Counts what went wrong, from the database and Temporal.
fn check(system: &System, starts: &[String], figures: &mut Figures) {
    let sql = |query: &str| -> Vec<Vec<String>> {
        system
            .database
            .sql(query)
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.split('|').map(str::to_owned).collect())
            .collect()
    };
    let runs = sql(
        "SELECT trigger_metadata_json ->> 'eventId', count(*), bool_and(status = 'SUCCEEDED')
         FROM workflow_runs GROUP BY 1",
    );
    for start in starts {
        match runs.iter().find(|row| &row[0] == start) {
            None => figures.runs_lost += 1,
            Some(row) => {
                if row[1] != "1" {
                    figures.duplicate_runs += 1;
                }
                if row[2] != "t" {
                    figures.unfinished += 1;
                }
            }
        }
    }
    // Every CHAOS_GO reached exactly one run (its own); none is undelivered.
    let undelivered = sql("SELECT count(*) FROM workflow_runtime_events e
         WHERE e.event_name = 'CHAOS_GO' AND NOT EXISTS (
             SELECT 1 FROM workflow_event_deliveries d
             WHERE d.event_id = e.event_id AND d.tenant = e.tenant)");
    figures.events_lost = undelivered[0][0].parse().unwrap_or(usize::MAX);
    let side_effects = sql(
        "SELECT count(*) FILTER (WHERE n > 1), coalesce(sum(reattempted), 0) FROM (
             SELECT run_id, count(*) AS n, count(*) FILTER (WHERE attempt > 1) AS reattempted
             FROM workflow_action_invocations WHERE action_id = 'test.sideEffect'
             GROUP BY run_id) per_run",
    );
    figures.duplicate_side_effects = side_effects[0][0].parse().unwrap_or(usize::MAX);
    figures.reattempted = side_effects[0][1].parse().unwrap_or(usize::MAX);
    // The read model and Temporal agree: nothing running on either side.
    let running_in_temporal = system
        .temporal_cli(&[
            "workflow",
            "list",
            "--query",
            "ExecutionStatus='Running'",
            "--output",
            "json",
        ])
        .matches("\"workflowId\"")
        .count();
    let running_rows: usize =
        sql("SELECT count(*) FROM workflow_runs WHERE status IN ('RUNNING', 'WAITING')")[0][0]
            .parse()
            .unwrap_or(usize::MAX);
    figures.mismatches = running_in_temporal.abs_diff(running_rows) + running_rows;
}

fn report(seed: u64, workload: Duration, figures: &Figures) {
    println!(
        "chaos: seed {seed}, {} s of workload, {} runs, faults {} (worker {}, database {}, api {}, \
         temporal {}; workers restarted after exiting on their own: {}), \
         runs lost {}, duplicate runs {}, unfinished {}, events lost {}, duplicate side effects {} \
         (re-attempted after a fault, inside the at-least-once window: {}), read-model mismatches \
         {}, longest recovery {:.1} s",
        workload.as_secs(),
        figures.runs,
        figures.faults.iter().sum::<usize>(),
        figures.faults[0],
        figures.faults[1],
        figures.faults[2],
        figures.faults[3],
        figures.supervisor_restarts,
        figures.runs_lost,
        figures.duplicate_runs,
        figures.unfinished,
        figures.events_lost,
        figures.duplicate_side_effects,
        figures.reattempted,
        figures.mismatches,
        figures.longest_recovery.as_secs_f64(),
    );
    assert_eq!(
        (
            figures.runs_lost,
            figures.duplicate_runs,
            figures.unfinished,
            figures.events_lost,
            figures.duplicate_side_effects,
            figures.mismatches
        ),
        (0, 0, 0, 0, 0, 0),
        "{figures:#?}"
    );
}

/// The suite's short chaos run: 40 s of workload, a fixed seed.
#[test]
fn a_short_chaos_run_loses_nothing() {
    let (workload, seed) = (Duration::from_secs(40), 7);
    let figures = run_chaos(workload, seed);
    report(seed, workload, &figures);
    assert!(figures.faults.iter().sum::<usize>() >= 4, "{figures:#?}");
}

/// `scripts/chaos`: `CHAOS_SECONDS` of workload (default 300) with `CHAOS_SEED` (default: the
/// clock's), printed so a run can be repeated.
#[test]
#[ignore = "long: run through scripts/chaos"]
fn soak() {
    let seconds = std::env::var("CHAOS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    let workload = Duration::from_secs(seconds);
    let figures = run_chaos(workload, seed);
    report(seed, workload, &figures);
}
