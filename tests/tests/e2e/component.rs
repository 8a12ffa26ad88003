//! The artifact itself: what the component imports, which semantics it reports, and how it
//! ends runaway work.

use crate::common;

use serde_json::json;

#[test]
fn component_imports_only_our_interface() {
    let imports = common::engine().component_imports();
    assert!(
        !imports.is_empty(),
        "the component calls the host, so it imports our interface"
    );
    for import in &imports {
        assert!(
            import.starts_with("alga:workflow/"),
            "the component imports `{import}`, which is not our interface (all: {imports:?})"
        );
    }
    assert!(imports.iter().any(|i| i.starts_with("alga:workflow/host")));
}

#[test]
fn component_reports_its_semantics_version() {
    assert_eq!(
        common::engine().semantics_version(),
        alga_interpreter::RUNTIME_SEMANTICS_VERSION
    );
}

#[test]
fn runaway_expression_fails_with_a_clear_expression_error() {
    let rejected = common::alga_wf_json(
        "simulate",
        &json!({"definition": common::definition(json!([{"id": "spin", "type": "transform.assign",
            "config": {"assign": {"vars.x": {"$expr": "$count([1..5000000].($ * 2))"}}}}]))}),
    );
    // `$count` is not allowed: the definition is rejected before anything runs.
    assert_eq!(rejected.code, 2);
    assert_eq!(rejected.json()["status"], "INVALID");

    let report = common::simulate_steps(
        json!([{"id": "spin", "type": "transform.assign", "config": {"assign": {
            "vars.x": {"$expr": "len([1..5000000].($ * 2))"}
        }}}]),
        json!({}),
    );
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "ExpressionError");
    assert_eq!(report["error"]["code"], "U1006");
    assert_eq!(report["error"]["nodePath"], "root.steps[0]");
}

#[test]
fn exhausted_fuel_fails_the_run_instead_of_hanging() {
    let scenario = json!({
        "definition": common::definition(json!([
            {"id": "a", "type": "transform.assign", "config": {"assign": {"vars.n": {"$expr": "len([1..200000].($ * 2))"}}}}
        ])),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.json");
    std::fs::write(&file, scenario.to_string()).unwrap();
    let out = common::alga_wf(&["--fuel", "20000000", "simulate", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "InterpreterTrap");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fuel budget of 20000000"),
        "{report:#}"
    );
}

/// Found by the differential fuzz target: ten million items outgrow the instance's 256 MiB.
/// The engine says so (rather than "unreachable executed"), and the run fails with
/// `InterpreterTrap` naming the limit, as it does when fuel runs out.
#[test]
fn exhausted_memory_is_named_and_fails_the_run() {
    let mut instance = common::engine().instantiate().unwrap();
    let options = alga_wf::engine::ExpressionOptions {
        workflow_rules: false,
        now_ms: 0,
        max_depth: None,
    };
    match instance.evaluate("[5..10000000] ~> $co", None, &json!({}), options) {
        Err(alga_wf::engine::EngineError::OutOfMemory(exhausted)) => {
            assert_eq!(exhausted.limit, alga_wf::engine::DEFAULT_MEMORY_LIMIT)
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }

    let report = common::simulate_in_component(json!({"definition": common::definition(json!([
    {"id": "grow", "type": "transform.assign", "config": {"assign": {
        "vars.x": {"$expr": "len([5..10000000].[$])"}
    }}}]))}));
    assert_eq!(report["status"], "FAILED", "{report:#}");
    assert_eq!(report["error"]["category"], "InterpreterTrap");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("memory limit"),
        "{report:#}"
    );
}

/// The run cache charges an instance what it costs: the memory it grew, and a fixed charge
/// for the pages of its first memory it wrote. Most of the first memory is the module's image,
/// shared by every instance until written, so charging all of it (2 MiB) made a worker's
/// default budget fit a thousand parked runs where they cost about 60 KiB each.
#[test]
fn an_instance_is_charged_the_memory_it_wrote_not_the_modules_image() {
    use alga_interpreter::machine::protocol::{Activation, Job, RunStart};
    let start = |steps: serde_json::Value, payload: serde_json::Value| Activation {
        workflow_time_ms: 1_767_225_600_000,
        is_replaying: false,
        history_length: 3,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs: vec![Job::Start(Box::new(RunStart {
            tenant_id: Some("t".into()),
            ..RunStart::pinned(
                "r",
                "w",
                1,
                common::definition(steps),
                payload,
                alga_interpreter::RUNTIME_SEMANTICS_VERSION,
            )
        }))],
    };
    let wait = json!({"id": "wait", "type": "event.wait",
        "config": {"eventName": "GO", "correlationKey": {"$expr": "'k'"}}});

    let mut parked = common::engine().instantiate().expect("an instance");
    parked
        .activate(&start(json!([wait.clone()]), json!({})))
        .expect("the run parks");
    assert!(
        parked.footprint_bytes() <= 256 << 10
            && parked.footprint_bytes() * 8 <= parked.memory_bytes(),
        "charged {} of its {} bytes of linear memory",
        parked.footprint_bytes(),
        parked.memory_bytes()
    );

    // A run holding 8 MiB of variables is charged at least that.
    let doubling = json!([
        {"id": "seed", "type": "transform.assign",
            "config": {"assign": {"vars.s": {"$expr": "payload.seed"}}}},
        {"id": "grow", "type": "control.forEach", "items": {"$expr": "payload.doublings"},
            "itemVar": "d", "body": [{"id": "double", "type": "transform.assign",
                "config": {"assign": {"vars.s": {"$expr": "vars.s & vars.s"}}}}]},
        {"id": "copy", "type": "transform.assign", "config": {"assign": {
            "vars.a": {"$expr": "vars.s & 'a'"}, "vars.b": {"$expr": "vars.s & 'b'"},
            "vars.c": {"$expr": "vars.s & 'c'"}, "vars.d": {"$expr": "vars.s & 'd'"}}}},
        wait
    ]);
    // 256 KiB after 8 doublings of 1 KiB: the most one expression may build.
    let payload = json!({"seed": "x".repeat(1024), "doublings": [1, 2, 3, 4, 5, 6, 7, 8]});
    let mut large = common::engine().instantiate().expect("an instance");
    large
        .activate(&start(doubling, payload))
        .expect("the run parks");
    assert!(
        large.footprint_bytes() >= 1 << 20,
        "a run holding five 256 KiB strings is charged {} bytes",
        large.footprint_bytes()
    );
}
