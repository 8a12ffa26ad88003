//! The determinism audit on the worker itself: a worker with no run cache
//! (`ALGA_WF_MAX_CACHED_RUNS=0`) evicts every run after every activation, so each workflow
//! task rebuilds the run from its recorded history and core compares the rebuilt run's
//! commands with the history's. Runs of every kind of wait and side effect finish exactly as
//! the simulator says, and no workflow task of theirs failed (a divergence would fail one).

use std::path::Path;

use serde_json::{Value, json};

use crate::common;
use crate::common::temporal::System;

/// The scenarios: actions (activity and inline), retries on durable timers, a timer, a
/// try/catch, a loop, a child, and an event that arrives while the run waits.
fn scenarios() -> Vec<(&'static str, Value, Value)> {
    let assign = |id: &str, target: &str, expr: &str| json!({"id": id, "type": "transform.assign", "config": {"assign": {target: {"$expr": expr}}}});
    vec![
        (
            "audit-actions",
            json!([
                {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
                    "inputMapping": {"value": {"$expr": "'hi ' & payload.name"}}, "saveAs": "vars.echo"}},
                {"id": "upper", "type": "action.call", "config": {"actionId": "transform.uppercase_text",
                    "version": 1, "inputMapping": {"text": {"$expr": "vars.echo.value"}}, "saveAs": "vars.upper"}},
                {"id": "flaky", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                    "retry": {"maxAttempts": 2, "backoffMs": 100}, "onError": {"policy": "continue"}},
                {"id": "state", "type": "state.set", "config": {"state": "DONE"}}
            ]),
            json!({"name": "ada"}),
        ),
        (
            "audit-control",
            json!([
                assign("init", "vars.seen", "[]"),
                {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2, 3]"}, "itemVar": "n",
                 "onItemError": "continue", "body": [
                    {"id": "tick", "type": "time.wait", "config": {"mode": "duration", "durationMs": 50}},
                    {"id": "maybe", "type": "control.if", "condition": {"$expr": "n = 2"},
                        "then": [{"id": "boom", "type": "action.call", "config": {"actionId": "test.fail", "version": 1}}]},
                    assign("record", "vars.seen", "append(vars.seen, vars.n)")
                ]},
                {"id": "t", "type": "control.tryCatch", "captureErrorAs": "caught",
                 "try": [{"id": "bad", "type": "control.if", "condition": {"$expr": "payload.name > 5"}, "then": []}],
                 "catch": [assign("c", "vars.category", "vars.caught.category")]}
            ]),
            json!({"name": "ada"}),
        ),
        (
            "audit-child",
            json!([
                {"id": "call", "type": "control.callWorkflow", "workflowId": "doubler", "workflowVersion": 1,
                    "inputMapping": {"n": {"$expr": "payload.n"}},
                    "outputMapping": {"vars.doubled": {"$expr": "childRun.vars.doubled"}}}
            ]),
            json!({"n": 21}),
        ),
    ]
}

/// Scopes without workflow-time stamps, which the simulator's virtual clock does not share.
fn comparable(mut scopes: Value) -> Value {
    for (pointer, stamps) in [
        ("/error", &["at"][..]),
        ("/vars/caught", &["at"]),
        ("/vars/timeWait", &["dueAt", "resumedAt"]),
    ] {
        if let Some(object) = scopes.pointer_mut(pointer).and_then(Value::as_object_mut) {
            for stamp in stamps {
                object.remove(*stamp);
            }
        }
    }
    scopes
}

fn failed_workflow_tasks(system: &System, dir: &Path, run: &str) -> usize {
    let file = dir.join(format!("{run}.audit.history.json"));
    let out = system.cli(&["history", run, "--out", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{run}: {}", out.stderr);
    std::fs::read_to_string(&file)
        .unwrap()
        .matches("WorkflowTaskFailedEventAttributes")
        .count()
}

/// Runs the scenarios on a worker that keeps no run cached, then restores the usual worker.
pub fn every_activation_rebuilds_the_run(system: &System, dir: &Path, definitions: &Path) {
    let metrics = format!("127.0.0.1:{}", common::temporal::free_port());
    system.start_worker_with(
        definitions,
        &[
            ("ALGA_WF_MAX_CACHED_RUNS", "0"),
            ("ALGA_WF_METRICS_LISTEN", &metrics),
        ],
    );
    for (name, steps, payload) in scenarios() {
        let definition = common::definition(steps);
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, definition.to_string()).unwrap();
        let out = system.cli(&[
            "run",
            file.to_str().unwrap(),
            "--run-id",
            name,
            "--payload",
            &payload.to_string(),
        ]);
        assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, out.stderr);
        let report = out.json();
        assert_eq!(report["status"], "SUCCEEDED", "{name}: {report:#}");
        if name == "audit-child" {
            // The simulator has no published children; the doubler's answer is known.
            assert_eq!(report["scopes"]["vars"]["doubled"], 42, "{report:#}");
        } else {
            let simulated = common::simulate(json!({"definition": definition, "payload": payload}));
            assert_eq!(
                comparable(report["scopes"].clone()),
                comparable(simulated["scopes"].clone()),
                "{name}: the uncached worker and the simulator disagree"
            );
        }
        assert_eq!(failed_workflow_tasks(system, dir, name), 0, "{name}");
    }

    // An event delivered while the run waits, and queries answered from a rebuilt run.
    let waiting = common::definition(json!([
        {"id": "w", "type": "event.wait", "config": {"eventName": "AUDITED",
            "correlationKey": {"$expr": "payload.key"}, "assign": {"vars.by": {"$expr": "vars.event.by"}}}},
        {"id": "after", "type": "time.wait", "config": {"mode": "duration", "durationMs": 100}}
    ]));
    let file = dir.join("audit-waiting.json");
    std::fs::write(&file, waiting.to_string()).unwrap();
    let out = system.cli(&[
        "run",
        file.to_str().unwrap(),
        "--run-id",
        "audit-waiting",
        "--no-wait",
        "--payload",
        r#"{"key": "k-1"}"#,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = system.cli(&["query", "audit-waiting", "workflowRuntimeV2CurrentWait"]);
        if out.code == 0 && out.json()["type"] == "event.wait" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never waited: {}",
            out.stderr
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = system.cli(&[
        "signal-event",
        "audit-waiting",
        "--event-name",
        "AUDITED",
        "--correlation-key",
        "k-1",
        "--payload",
        r#"{"by": "grace"}"#,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = system.cli(&["result", "audit-waiting"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["by"], "grace");
    assert_eq!(failed_workflow_tasks(system, dir, "audit-waiting"), 0);

    // The worker did evict: every run was rebuilt after each of its workflow tasks, not only
    // at its end (a cached worker evicts each of these five runs once; this one, about 16
    // times in all).
    let text = ureq::get(format!("http://{metrics}/metrics"))
        .call()
        .expect("the worker serves metrics")
        .body_mut()
        .read_to_string()
        .unwrap();
    let counter = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let (evictions, activations) = (
        counter("alga_wf_run_evictions_total"),
        counter("alga_wf_activations_total"),
    );
    eprintln!("determinism audit: {evictions} evictions, {activations} activations");
    assert!(
        evictions >= 10.0,
        "{evictions} evictions for {activations} activations"
    );

    system.start_worker(definitions);
}
