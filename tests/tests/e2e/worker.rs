//! The worker end to end: a real Temporal dev server, the real `alga-wf worker` process running
//! the real component, and runs started, signalled, queried and cancelled through the CLI.
//! One dev server serves every scenario of this file (it takes seconds to start), which is why
//! the file is over 600 lines.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::temporal::System;
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs a definition to its end through the worker.
fn run(system: &System, dir: &Path, name: &str, definition: &Value, payload: &Value) -> Value {
    let file = write(dir, &format!("{name}.json"), definition);
    let out = system.cli(&[
        "run",
        &file,
        "--run-id",
        name,
        "--payload",
        &payload.to_string(),
    ]);
    assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, out.stderr);
    out.json()
}

/// Starts a run without waiting.
fn start(system: &System, dir: &Path, name: &str, definition: &Value, extra: &[&str]) {
    let file = write(dir, &format!("{name}.json"), definition);
    let mut args = vec!["run", &file, "--run-id", name, "--no-wait"];
    args.extend_from_slice(extra);
    let out = system.cli(&args);
    assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, out.stderr);
}

fn result(system: &System, name: &str) -> Value {
    let out = system.cli(&["result", name]);
    assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, out.stderr);
    out.json()
}

/// Polls a query until `done` accepts the answer.
fn wait_for_query(system: &System, run: &str, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = system.cli(&["query", run, query]);
        if out.code == 0 {
            let answer = out.json();
            if done(&answer) {
                return answer;
            }
        }
        assert!(
            Instant::now() < deadline,
            "query {query} on {run} never satisfied: {}{}",
            out.stdout,
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The same definition and payload through `alga-wf simulate`.
fn simulated(definition: &Value, payload: &Value) -> Value {
    common::simulate(json!({"definition": definition, "payload": payload}))
}

fn assign(id: &str, target: &str, expr: &str) -> Value {
    json!({"id": id, "type": "transform.assign", "config": {"assign": {target: {"$expr": expr}}}})
}

#[test]
fn runs_execute_on_temporal_through_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let definitions = dir.path().join("definitions");
    std::fs::create_dir_all(&definitions).unwrap();
    let child = common::definition(json!([assign("double", "vars.doubled", "payload.n * 2")]));
    let mut child = child;
    child["id"] = json!("doubler");
    write(&definitions, "doubler.json", &child);
    let system = System::start(&definitions);

    // Actions (activity and inline), branching and return: the same end as the simulator.
    let basic = common::definition(json!([
        {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": {"$expr": "'hi ' & payload.name"}}, "saveAs": "vars.echo"}},
        {"id": "upper", "type": "action.call", "config": {"actionId": "transform.uppercase_text", "version": 1,
            "inputMapping": {"text": {"$expr": "vars.echo.value"}}, "saveAs": "vars.upper"}},
        {"id": "state", "type": "state.set", "config": {"state": "DONE"}},
        {"id": "branch", "type": "control.if", "condition": {"$expr": "len(vars.upper.text) > 3"},
            "then": [{"id": "ret", "type": "control.return"}]},
        assign("never", "vars.never", "true")
    ]));
    let payload = json!({"name": "ada"});
    let report = run(&system, dir.path(), "basic", &basic, &payload);
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["upper"]["text"], "HI ADA");
    assert_eq!(
        report["scopes"],
        simulated(&basic, &payload)["scopes"],
        "worker and simulator agree"
    );

    // More shapes give the same outcome through the worker and the simulator.
    let shapes = [
        json!([
            assign("init", "vars.seen", "[]"),
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2, 3]"}, "itemVar": "n",
             "onItemError": "continue", "body": [
                {"id": "maybe", "type": "control.if", "condition": {"$expr": "n = 2"},
                    "then": [{"id": "boom", "type": "action.call", "config": {"actionId": "test.fail", "version": 1}}]},
                assign("record", "vars.seen", "append(vars.seen, vars.n)")
            ]}
        ]),
        json!([
            {"id": "t", "type": "control.tryCatch", "captureErrorAs": "caught",
             "try": [{"id": "bad", "type": "control.if", "condition": {"$expr": "payload.name > 5"}, "then": []}],
             "catch": [assign("c", "vars.category", "vars.caught.category")]},
            {"id": "split", "type": "action.call", "config": {"actionId": "transform.split_text", "version": 1,
                "inputMapping": {"text": "a,b,,c", "delimiter": ",", "removeEmpty": true}, "saveAs": "vars.parts"}}
        ]),
        json!([
            {"id": "first", "type": "action.call", "config": {"actionId": "test.fail", "version": 1},
                "retry": {"maxAttempts": 2, "backoffMs": 100}, "onError": {"policy": "continue"}},
            {"id": "state", "type": "state.set", "config": {"state": "AFTER"}}
        ]),
    ];
    for (i, steps) in shapes.into_iter().enumerate() {
        let definition = common::definition(steps);
        let through_worker = run(
            &system,
            dir.path(),
            &format!("shape{i}"),
            &definition,
            &payload,
        );
        let through_simulator = simulated(&definition, &payload);
        assert_eq!(
            through_worker["status"], "SUCCEEDED",
            "shape {i}: {through_worker:#}"
        );
        assert_eq!(
            through_simulator["status"], "SUCCEEDED",
            "shape {i}: {through_simulator:#}"
        );
        let (mut w, mut s) = (
            through_worker["scopes"].clone(),
            through_simulator["scopes"].clone(),
        );
        // Error timestamps are workflow time, which the simulator's virtual clock does not share.
        for scopes in [&mut w, &mut s] {
            if let Some(error) = scopes.get_mut("error").and_then(Value::as_object_mut) {
                error.remove("at");
            }
            if let Some(caught) = scopes
                .pointer_mut("/vars/caught")
                .and_then(Value::as_object_mut)
            {
                caught.remove("at");
            }
        }
        assert_eq!(w, s, "shape {i}: the worker and the simulator disagree");
    }

    // Failures keep their category and code through Temporal's wrapping; retries with backoff.
    let failing = common::definition(json!([
        {"id": "flaky", "type": "action.call", "config": {"actionId": "test.retryable", "version": 1, "saveAs": "vars.flaky"},
            "retry": {"maxAttempts": 3, "backoffMs": 200, "retryOn": ["TransientError"]}},
        {"id": "boom", "type": "action.call", "config": {"actionId": "test.fail", "version": 1, "inputMapping": {"message": "no"}}}
    ]));
    let report = run(&system, dir.path(), "failing", &failing, &json!({}));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "ActionError");
    assert_eq!(report["error"]["code"], "INTERNAL_ERROR");
    assert_eq!(report["error"]["message"], "no");
    assert_eq!(report["error"]["nodePath"], "root.steps[1]");
    let simulated_failure = simulated(&failing, &json!({}));
    assert_eq!(
        simulated_failure["error"]["category"],
        report["error"]["category"]
    );
    // Temporal runs the authored retry (see the history below) and the attempt numbers are
    // the simulator's, whose interpreter retries on durable timers.
    let flaky = common::definition(json!([failing["steps"][0].clone()]));
    let report = run(&system, dir.path(), "flaky", &flaky, &json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["flaky"]["attempt"], 2,
        "{report:#}"
    );
    assert_eq!(
        report["scopes"],
        simulated(&flaky, &json!({}))["scopes"],
        "worker and simulator agree"
    );

    // A timer fires.
    let timed = common::definition(json!([
        {"id": "wait", "type": "time.wait", "config": {"mode": "duration", "durationMs": 1500}},
        assign("after", "vars.after", "vars.timeWait.mode")
    ]));
    let started = Instant::now();
    let report = run(&system, dir.path(), "timed", &timed, &json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert!(started.elapsed() >= Duration::from_millis(1500));

    // A signal resumes an event wait; queries answer while it waits.
    let waiting = common::definition(json!([
        {"id": "w", "type": "event.wait", "config": {"eventName": "TICKET_CLOSED", "correlationKey": {"$expr": "payload.ticket"},
            "assign": {"vars.closedBy": {"$expr": "vars.event.by"}}}}
    ]));
    start(
        &system,
        dir.path(),
        "waiting",
        &waiting,
        &["--payload", r#"{"ticket": "T-9"}"#],
    );
    let wait = wait_for_query(&system, "waiting", "workflowRuntimeV2CurrentWait", |a| {
        !a.is_null()
    });
    assert_eq!(wait["type"], "event.wait");
    assert_eq!(wait["descriptor"]["correlationKey"], "T-9");
    let out = system.cli(&[
        "signal-event",
        "waiting",
        "--event-name",
        "TICKET_CLOSED",
        "--correlation-key",
        "T-9",
        "--payload",
        r#"{"by": "ada"}"#,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = result(&system, "waiting");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["closedBy"], "ada");

    // Many runs parked at once each keep a cached instance (more than the CLI's default pool
    // for other commands): every one of them answers.
    for i in 0..20 {
        let name = format!("parked{i}");
        let payload = format!(r#"{{"ticket": "P-{i}"}}"#);
        start(
            &system,
            dir.path(),
            &name,
            &waiting,
            &["--payload", &payload],
        );
    }
    for i in 0..20 {
        wait_for_query(
            &system,
            &format!("parked{i}"),
            "workflowRuntimeV2CurrentWait",
            |a| a["type"] == "event.wait",
        );
    }

    // Cancellation ends a waiting run CANCELED.
    start(
        &system,
        dir.path(),
        "cancelled",
        &waiting,
        &["--payload", r#"{"ticket": "T-1"}"#],
    );
    wait_for_query(&system, "cancelled", "workflowRuntimeV2CurrentWait", |a| {
        !a.is_null()
    });
    let out = system.cli(&["cancel", "cancelled"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(result(&system, "cancelled")["status"], "CANCELED");

    // A child runs its pinned definition and maps its output.
    let parent = common::definition(json!([
        {"id": "call", "type": "control.callWorkflow", "workflowId": "doubler", "workflowVersion": 1,
            "inputMapping": {"n": {"$expr": "payload.n"}},
            "outputMapping": {"vars.doubled": {"$expr": "childRun.vars.doubled"}}}
    ]));
    let report = run(&system, dir.path(), "parent", &parent, &json!({"n": 21}));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["doubled"], 42);

    // Continue-as-new carries a long loop to completion.
    let looping = common::definition(json!([
        assign("init", "vars.sum", "0"),
        {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1..12]"}, "itemVar": "n", "body": [
            {"id": "tick", "type": "time.wait", "config": {"mode": "duration", "durationMs": 1}},
            assign("add", "vars.sum", "vars.sum + vars.n")
        ]}
    ]));
    let file = write(dir.path(), "looping.json", &looping);
    let out = system.cli(&[
        "run",
        &file,
        "--run-id",
        "looping",
        "--continue-as-new-after-events",
        "20",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["sum"], 78);

    // A long history for the corpus: replay's speed is measured on it (`scripts/bench replay`).
    let long = common::definition(json!([
        {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1..100]"}, "itemVar": "n", "body": [
            {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
                "inputMapping": {"value": {"$expr": "vars.n"}}, "saveAs": "vars.last"}}
        ]}
    ]));
    let report = run(&system, dir.path(), "long", &long, &json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["last"]["value"], 100);

    // SIGKILL the worker in the middle of a run; a new worker finishes it from history.
    let durable = common::definition(json!([
        {"id": "first", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": "before the crash"}, "saveAs": "vars.first"}},
        {"id": "pause", "type": "time.wait", "config": {"mode": "duration", "durationMs": 3000}},
        {"id": "second", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": "after the crash"}, "saveAs": "vars.second"}}
    ]));
    start(&system, dir.path(), "durable", &durable, &[]);
    wait_for_query(&system, "durable", "workflowRuntimeV2CurrentWait", |a| {
        a["type"] == "time.wait"
    });
    system.kill_worker();
    system.start_worker(&definitions);
    let report = result(&system, "durable");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        report["scopes"]["vars"]["first"]["value"],
        "before the crash"
    );
    assert_eq!(
        report["scopes"]["vars"]["second"]["value"],
        "after the crash"
    );

    // The recorded histories replay through the interpreter with no server.
    replay_runs(
        &system,
        dir.path(),
        &[
            "basic",
            "failing",
            "flaky",
            "timed",
            "waiting",
            "cancelled",
            "parent",
            "durable",
        ],
    );

    // Histories exported by the Temporal CLI (proto-JSON) replay too.
    let mut exported = Vec::new();
    for run in ["basic", "waiting", "parent", "durable"] {
        let file = dir.path().join(format!("{run}.cli-history.json"));
        let shown = system.history_json(&format!("workflow-runtime-v2:run:{run}"));
        std::fs::write(&file, shown).unwrap();
        exported.push(file.to_str().unwrap().to_owned());
    }
    let mut args = vec!["replay"];
    args.extend(exported.iter().map(String::as_str));
    let out = common::alga_wf(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["result"] == "ok"),
        "{}",
        out.stdout
    );

    // The same history with other decisions: the run's pinned definition now waits first
    // where it acted first. Replay reports the divergence and the step it happened at.
    let planted = dir.path().join("durable.planted.history.json");
    let mut history: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("durable.history.json")).unwrap())
            .unwrap();
    edit_run_start(&mut history, |start| {
        start["definition"]["steps"][0] = json!({"id": "first", "type": "time.wait",
            "config": {"mode": "duration", "durationMs": 5}});
        // A run refuses a definition that does not match its pinned hash; this one is re-pinned.
        start["definitionHash"] = json!(alga_interpreter::canonical::definition_hash(
            &start["definition"]
        ));
    });
    std::fs::write(&planted, serde_json::to_vec(&history).unwrap()).unwrap();
    let out = common::alga_wf(&["replay", planted.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let verdict = &out.json()[0];
    assert_eq!(verdict["result"], "diverged", "{verdict:#}");
    assert_eq!(verdict["stepPath"], "root.steps[0]", "{verdict:#}");

    // The authored retry ran as Temporal's activity retry: one scheduled activity per action
    // step and no backoff timer in the history.
    let flaky: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("flaky.history.json")).unwrap())
            .unwrap();
    assert_eq!(events_of(&flaky, "ActivityTaskScheduled"), 1);
    assert_eq!(events_of(&flaky, "TimerStarted"), 0);
    assert_eq!(attempts_started(&flaky), [2]);

    // An action configured as remote runs on its own task queue (here a second worker).
    let remote = common::definition(json!([
        {"id": "provided", "type": "action.call", "config": {"actionId": "test.actionProvided", "version": 1,
            "inputMapping": {"key": "k"}, "saveAs": "vars.provided"}}
    ]));
    let report = run(&system, dir.path(), "remote", &remote, &json!({}));
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["provided"]["key"], "remote:k");
    let file = dir.path().join("remote.history.json");
    let out = system.cli(&["history", "remote", "--out", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let history: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let scheduled = events_of_kind(&history, "ActivityTaskScheduled");
    let queue = &scheduled[0];
    let queue = queue
        .get("task_queue")
        .or_else(|| queue.get("taskQueue"))
        .unwrap();
    assert_eq!(queue["name"], system.remote_queue(), "{queue:#}");
    // The run is findable in the Temporal UI by what the product calls it (memo).
    let started = events_of_kind(&history, "WorkflowExecutionStarted");
    let memo = &started[0]["memo"]["fields"];
    for field in [
        "runId",
        "tenantId",
        "workflowId",
        "workflowVersion",
        "triggerType",
    ] {
        assert!(
            memo[field].is_object(),
            "memo lacks {field}: {:#}",
            started[0]
        );
    }

    // The example triage flow, its product actions stood in for by the scenario's scripted
    // results: the same end as the simulator (the retried ticket creation included).
    let scenario: Value = serde_json::from_slice(
        &std::fs::read(common::root().join("examples/triage/scenario.json")).unwrap(),
    )
    .unwrap();
    let file = write(dir.path(), "triage.json", &scenario["definition"]);
    let out = system.cli(&[
        "run",
        &file,
        "--run-id",
        "triage",
        "--tenant",
        scenario["tenantId"].as_str().unwrap(),
        "--payload",
        &scenario["payload"].to_string(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let through_worker = out.json();
    let through_simulator = common::simulate(scenario.clone());
    assert_eq!(through_worker["status"], "SUCCEEDED", "{through_worker:#}");
    let timeless = |report: &Value| {
        let mut scopes = report["scopes"].clone();
        scopes["vars"]["receivedAt"] = Value::Null;
        scopes["error"]["at"] = Value::Null;
        scopes
    };
    assert_eq!(timeless(&through_worker), timeless(&through_simulator));

    // A missing secret fails the step with an error that names it and where it is.
    let missing = common::definition(json!([
        {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": {"$secret": "no-such-secret"}}}}
    ]));
    let report = run(&system, dir.path(), "missing-secret", &missing, &json!({}));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["code"], "SECRET_NOT_FOUND");
    assert_eq!(report["error"]["category"], "ValidationError");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input/value")
    );

    store_scenarios(&system, dir.path(), &definitions);
    crate::api::api_scenarios(&system, dir.path());
    crate::determinism::every_activation_rebuilds_the_run(&system, dir.path(), &definitions);
    crate::modules::runs_stay_on_their_pinned_module(&system, dir.path(), &definitions);

    // The other runs of this test replay cleanly too (the store's runs replay in their own
    // scenarios).
    replay_runs(
        &system,
        dir.path(),
        &[
            "shape0",
            "shape1",
            "shape2",
            "looping",
            "long",
            "remote",
            "missing-secret",
            "triage",
        ],
    );
}

/// Saves each run's history (`<run>.history.json` in `dir`) and replays them all: every
/// verdict is `ok`. With `ALGA_WF_EXPORT_HISTORIES=DIR` the histories are also copied there
/// (how `tests/histories/`, the corpus `corpus.rs` replays, is refreshed).
fn replay_runs(system: &System, dir: &Path, runs: &[&str]) {
    let export = std::env::var_os("ALGA_WF_EXPORT_HISTORIES").map(std::path::PathBuf::from);
    let mut files = Vec::new();
    for run in runs {
        let file = dir.join(format!("{run}.history.json"));
        let out = system.cli(&["history", run, "--out", file.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{run}: {}", out.stderr);
        if let Some(export) = &export {
            std::fs::create_dir_all(export).unwrap();
            std::fs::copy(&file, export.join(format!("{run}.history.json"))).unwrap();
        }
        files.push(file.to_str().unwrap().to_owned());
    }
    common::assert_replays_ok(None, &files);
}

/// `alga-wf` with the system's database (for `publish` and `show`).
fn with_database(system: &System, args: &[&str]) -> common::Output {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(system.database_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    common::alga_wf(&refs)
}

/// Starts a published workflow; returns the run id (or the outcome with `--wait`).
fn start_published(system: &System, workflow: &str, payload: &Value, wait: bool) -> Value {
    let mut args = vec![
        "start".to_owned(),
        workflow.to_owned(),
        "--payload".to_owned(),
        payload.to_string(),
    ];
    if wait {
        args.push("--wait".into());
    }
    args.extend(system.database_args());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = system.cli(&refs);
    assert_eq!(
        out.code, 0,
        "start {workflow}: {}\n{}",
        out.stdout, out.stderr
    );
    out.json()
}

fn show(system: &System, run: &str) -> Value {
    let out = with_database(system, &["show", run]);
    assert_eq!(out.code, 0, "show {run}: {}\n{}", out.stdout, out.stderr);
    out.json()
}

/// Runs launched from PostgreSQL: publish, start, the projections `show` reads, and the
/// idempotency ledger across a worker that dies after an action's side effect.
fn store_scenarios(system: &System, dir: &Path, definitions: &Path) {
    let mut projected = common::definition(json!([
        {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": {"$expr": "payload.name"}}, "saveAs": "vars.echo"}},
        {"id": "upper", "type": "action.call", "config": {"actionId": "transform.uppercase_text", "version": 1,
            "inputMapping": {"text": {"$expr": "vars.echo.value"}}, "saveAs": "vars.upper"}},
        {"id": "loop", "type": "control.forEach", "items": {"$expr": "[1, 2]"}, "itemVar": "n", "body": [
            assign("add", "vars.last", "vars.n")
        ]},
        {"id": "pause", "type": "time.wait", "config": {"mode": "duration", "durationMs": 200}}
    ]));
    projected["id"] = json!("projected");
    let file = write(dir, "projected.json", &projected);

    // Publishing validates, stores an immutable version, and is idempotent.
    let out = with_database(system, &["publish", &file]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let published = out.json();
    assert_eq!(published["version"], 1);
    assert_eq!(published["key"], "projected");
    assert_eq!(published["created"], true);
    assert_eq!(
        with_database(system, &["publish", &file]).json()["created"],
        false
    );
    let mut changed = projected.clone();
    changed["name"] = json!("changed");
    let changed_file = write(dir, "projected-changed.json", &changed);
    let out = with_database(system, &["publish", &changed_file]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("already published with different content"),
        "{}",
        out.stderr
    );
    let mut invalid = projected.clone();
    invalid["steps"][0]["config"]["actionId"] = json!("no.such_action");
    let invalid_file = write(dir, "projected-invalid.json", &invalid);
    assert_eq!(with_database(system, &["publish", &invalid_file]).code, 2);

    // A run started from the store converges in the read model.
    let outcome = start_published(system, "projected", &json!({"name": "ada"}), true);
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome:#}");
    let run = outcome["runId"].as_str().unwrap().to_owned();
    let view = show(system, &run);
    assert_eq!(view["run"]["status"], "SUCCEEDED", "{view:#}");
    assert_eq!(view["run"]["nodePath"], Value::Null);
    assert_eq!(view["run"]["engine"], "temporal");
    assert!(
        view["run"]["definitionHash"]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );
    assert!(
        !view["run"]["temporalRunId"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    let steps = view["steps"].as_array().unwrap();
    let paths: Vec<&str> = steps
        .iter()
        .map(|s| s["stepPath"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "root.steps[0]",
            "root.steps[1]",
            "root.steps[2]",
            "root.steps[2].body.steps[0]",
            "root.steps[2].body.steps[0]",
            "root.steps[3]"
        ],
        "{view:#}"
    );
    assert!(steps.iter().all(|s| s["status"] == "SUCCEEDED"), "{view:#}");
    // The reference's `attempt` counts executions of a path: the loop body's second is 2.
    assert_eq!(steps[4]["attempt"], 2);
    let waits = view["waits"].as_array().unwrap();
    assert_eq!(waits.len(), 1, "{view:#}");
    assert_eq!(waits[0]["waitType"], "time");
    assert_eq!(waits[0]["status"], "RESOLVED");
    let invocations = view["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 2, "{view:#}");
    let echo = invocations
        .iter()
        .find(|i| i["actionId"] == "test.echo")
        .unwrap();
    assert_eq!(echo["status"], "SUCCEEDED");
    assert_eq!(echo["output"]["value"], "ada");
    assert_eq!(echo["attempt"], 1);
    let upper = invocations
        .iter()
        .find(|i| i["actionId"] == "transform.uppercase_text")
        .unwrap();
    assert_eq!(upper["status"], "SUCCEEDED");

    // Secrets are resolved inside the activity: the ledger keeps the reference, and what the
    // action returned names the secret instead of carrying its value.
    let mut secretive = common::definition(json!([
        {"id": "echo", "type": "action.call", "config": {"actionId": "test.echo", "version": 1,
            "inputMapping": {"value": {"$secret": "test-token"}}, "saveAs": "vars.echo"}}
    ]));
    secretive["id"] = json!("secretive");
    let file = write(dir, "secretive.json", &secretive);
    assert_eq!(with_database(system, &["publish", &file]).code, 0);
    let outcome = start_published(system, "secretive", &json!({}), true);
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome:#}");
    assert_eq!(
        outcome["scopes"]["vars"]["echo"]["value"],
        "[secret:test-token]"
    );
    assert!(!outcome.to_string().contains(common::temporal::SECRET_VALUE));
    let view = show(system, outcome["runId"].as_str().unwrap());
    assert_eq!(
        view["invocations"][0]["input"],
        json!({"value": {"$secret": "test-token"}}),
        "{view:#}"
    );

    // A value with a NUL (which PostgreSQL's text and jsonb refuse) reaches the read model
    // escaped instead of failing the projection, so the run is not wedged: here a correlation
    // key parsed from JSON, whose wait times out and is caught.
    let mut nul = common::definition(json!([
        {"id": "parse", "type": "action.call", "config": {"actionId": "transform.parse_json",
            "version": 1, "inputMapping": {"source": "\"x\\u0000y\""}, "saveAs": "vars.parsed"}},
        {"id": "guard", "type": "control.tryCatch", "try": [
            {"id": "wait", "type": "event.wait", "config": {"eventName": "NUL_KEY",
                "correlationKey": {"$expr": "vars.parsed.value"}, "timeoutMs": 1000}}],
            "catch": [{"id": "timed-out", "type": "state.set", "config": {"state": "TIMED_OUT"}}]}
    ]));
    nul["id"] = json!("nul-key");
    let file = write(dir, "nul-key.json", &nul);
    assert_eq!(with_database(system, &["publish", &file]).code, 0);
    let outcome = start_published(system, "nul-key", &json!({}), true);
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome:#}");
    let run_id = outcome["runId"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = show(system, run_id);
        if view["run"]["status"] == "SUCCEEDED" {
            break view;
        }
        assert!(
            Instant::now() < deadline,
            "the read model never caught up: {view:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(view["waits"][0]["key"], "x\\u0000y", "{view:#}");

    // A human task opens a `workflow_tasks` row, and its response is checked against the form
    // the catalog gives its task type.
    system.database.sql(
        r#"INSERT INTO system_workflow_form_definitions (name, json_schema) VALUES ('approval-form',
             '{"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}}');
           INSERT INTO system_workflow_task_definitions (task_type, name, form_id)
             VALUES ('approval', 'Approval', 'approval-form');"#,
    );
    let mut reviewed = common::definition(json!([
        {"id": "ask", "type": "human.task", "config": {"taskType": "approval",
            "title": {"$expr": "'Approve ' & payload.item"}, "contextData": {"item": {"$expr": "payload.item"}},
            "assign": {"vars.decision": {"$expr": "vars.event"}}}}
    ]));
    reviewed["id"] = json!("reviewed");
    let file = write(dir, "reviewed.json", &reviewed);
    assert_eq!(with_database(system, &["publish", &file]).code, 0);
    let mut answered = Vec::new();
    for (item, response) in [
        ("desk", json!({"approved": true})),
        ("lamp", json!({"approved": "yes"})),
    ] {
        let started = start_published(system, "reviewed", &json!({"item": item}), false);
        let run = started["runId"].as_str().unwrap().to_owned();
        let wait = wait_for_query(system, &run, "workflowRuntimeV2CurrentWait", |a| {
            a["descriptor"]["taskId"].is_string()
        });
        let task_id = wait["descriptor"]["taskId"].as_str().unwrap().to_owned();
        let row = system.database.sql(&format!(
            "SELECT title || '|' || status || '|' || system_task_definition_task_type
             FROM workflow_tasks WHERE task_id = '{task_id}'"
        ));
        assert_eq!(row, format!("Approve {item}|pending|approval"));
        let out = system.cli(&[
            "complete-task",
            &run,
            "--task-id",
            &task_id,
            "--payload",
            &response.to_string(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        answered.push(result(system, &run));
    }
    assert_eq!(answered[0]["status"], "SUCCEEDED", "{:#}", answered[0]);
    assert_eq!(answered[1]["status"], "FAILED", "{:#}", answered[1]);
    assert_eq!(
        answered[1]["error"]["category"], "ValidationError",
        "{:#}",
        answered[1]
    );

    // The worker is killed (SIGKILL) right after an action's side effect is recorded, before
    // Temporal hears of it: it pauses at a fault point there, and the test kills it once the
    // ledger row says SUCCEEDED. Temporal retries the attempt on the next worker, and the
    // ledger hands back the recorded output: the action ran once.
    let mut crashy = common::definition(json!([
        {"id": "effect", "type": "action.call", "config": {"actionId": "test.sideEffect", "version": 1,
            "saveAs": "vars.effect"}},
        assign("after", "vars.after", "true")
    ]));
    crashy["id"] = json!("crashy");
    let file = write(dir, "crashy.json", &crashy);
    assert_eq!(with_database(system, &["publish", &file]).code, 0);
    system.kill_worker();
    system.start_worker_with(definitions, &[("FAILPOINTS", "ledger-after-settle=pause")]);
    let started = start_published(system, "crashy", &json!({}), false);
    let run = started["runId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while system.database.sql(&format!(
        "SELECT count(*) FROM workflow_action_invocations WHERE run_id = '{run}' AND status = 'SUCCEEDED'"
    )) != "1"
    {
        assert!(Instant::now() < deadline, "the action never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    system.kill_worker();
    let metrics = format!("127.0.0.1:{}", common::temporal::free_port());
    system.start_worker_with(definitions, &[("ALGA_WF_METRICS_LISTEN", &metrics)]);
    let report = result(system, &run);
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["effect"]["count"], 1);
    // The new worker's metrics count the ledger's answer.
    let text = ureq::get(format!("http://{metrics}/metrics"))
        .call()
        .expect("the worker serves metrics")
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(text.contains("alga_wf_ledger_hits_total 1"), "{text}");
    assert!(text.contains("alga_wf_activations_total"), "{text}");
    let view = show(system, &run);
    let effect = &view["invocations"][0];
    assert_eq!(effect["actionId"], "test.sideEffect", "{view:#}");
    assert_eq!(effect["status"], "SUCCEEDED");
    assert_eq!(
        effect["attempt"], 1,
        "the ledger was claimed once: {view:#}"
    );
    assert_eq!(view["run"]["status"], "SUCCEEDED");
    let history_file = dir.join("crashy.history.json");
    let out = system.cli(&["history", &run, "--out", history_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let history: Value = serde_json::from_slice(&std::fs::read(&history_file).unwrap()).unwrap();
    assert!(
        attempts_started(&history).contains(&2),
        "Temporal retried the lost attempt: {:?}",
        attempts_started(&history)
    );
    let out = common::alga_wf(&["replay", history_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// The attempt numbers of a history's `ActivityTaskStarted` events.
fn attempts_started(history: &Value) -> Vec<u64> {
    events_of_kind(history, "ActivityTaskStarted")
        .into_iter()
        .filter_map(|attributes| attributes["attempt"].as_u64())
        .collect()
}

/// The attributes of each event of `kind` in a history (the SDK's JSON encoding, which nests
/// them as `attributes: {KindEventAttributes: {...}}`; proto-JSON puts them on the event).
fn events_of_kind<'a>(history: &'a Value, kind: &str) -> Vec<&'a Value> {
    let wanted = format!("{kind}EventAttributes").to_lowercase();
    let matches = |key: &str| key.replace('_', "").to_lowercase() == wanted;
    history["events"]
        .as_array()
        .expect("a history has events")
        .iter()
        .filter_map(|event| {
            let fields = event.as_object()?;
            let nested = fields.get("attributes").and_then(Value::as_object);
            fields
                .iter()
                .chain(nested.into_iter().flatten())
                .find_map(|(key, value)| matches(key).then_some(value))
        })
        .collect()
}

/// Edits the run start (the workflow input) recorded in a history's first event.
fn edit_run_start(history: &mut Value, edit: impl FnOnce(&mut Value)) {
    use base64::Engine;
    let event = &mut history["events"][0];
    let attributes = if event.get("attributes").is_some() {
        event["attributes"]
            .as_object_mut()
            .and_then(|a| a.values_mut().next())
            .expect("the first event has attributes")
    } else {
        event
            .as_object_mut()
            .and_then(|fields| {
                fields
                    .iter_mut()
                    .find_map(|(k, v)| k.ends_with("EventAttributes").then_some(v))
            })
            .expect("the first event has attributes")
    };
    let data = &mut attributes["input"]["payloads"][0]["data"];
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine
        .decode(data.as_str().expect("payload data is base64"))
        .unwrap();
    let mut start: Value = serde_json::from_slice(&bytes).unwrap();
    edit(&mut start);
    *data = Value::String(engine.encode(serde_json::to_vec(&start).unwrap()));
}

/// How many events of a history have attributes of `kind`.
fn events_of(history: &Value, kind: &str) -> usize {
    events_of_kind(history, kind).len()
}
