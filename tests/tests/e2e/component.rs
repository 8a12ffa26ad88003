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

    let report = common::simulate_steps(
        json!([{"id": "grow", "type": "transform.assign", "config": {"assign": {
            "vars.x": {"$expr": "len([5..10000000].[$])"}
        }}}]),
        json!({}),
    );
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
