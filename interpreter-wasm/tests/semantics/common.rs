//! Helpers of the semantics suites: the component, the two simulations, definitions.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use alga_interpreter::machine::protocol::{Activation, Job, RunStart};
use alga_wf_simulator::engine::{EngineConfig, InterpreterEngine};
use alga_wf_simulator::runtime::NativeRuntime;
use alga_wf_simulator::simulate::{RunStatus, Scenario, simulate as run};
use serde_json::{Value, json};

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("interpreter-wasm/ has a parent")
        .to_path_buf()
}

/// The interpreter component of this build tree (`scripts/build` builds it); built here, once,
/// when it is missing, so `cargo test -p alga-interpreter` works on a fresh clone.
fn component() -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let path = root().join("target/wasm/alga_interpreter.component.wasm");
    let _once = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    if !path.exists() {
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root())
                .args([
                    "run",
                    "--locked",
                    "-q",
                    "-p",
                    "xtask",
                    "--",
                    "build-interpreter",
                ])
                .status()
                .expect("cargo runs");
        assert!(status.success(), "the interpreter component builds");
    }
    path
}

/// The engine over the real component, loaded once per test binary (its compiled form cached
/// beside it).
pub fn engine() -> &'static InterpreterEngine {
    static ENGINE: OnceLock<InterpreterEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let component = component();
        let config = EngineConfig {
            cache_dir: component.parent().map(|dir| dir.join("cache")),
            ..EngineConfig::default()
        };
        InterpreterEngine::load(&component, config).expect("the interpreter component loads")
    })
}

/// A definition with `steps` and the fields every definition needs.
pub fn definition(steps: Value) -> Value {
    json!({
        "id": "wf-test",
        "version": 1,
        "name": "Test workflow",
        "payloadSchemaRef": "payload.Test.v1",
        "steps": steps,
    })
}

/// Simulates a scenario twice: in the interpreter component and in the interpreter library
/// linked natively; the two reports must be the same, and the component's is returned. Every
/// simulation also audits replay: after each activation the run is rebuilt in a fresh instance
/// from its activations and must give the same commands.
pub fn simulate(scenario: Value) -> Value {
    let mut parsed = Scenario::parse(&scenario)
        .unwrap_or_else(|errors| panic!("the scenario is invalid: {errors:?}"));
    parsed.audit_replay = true;
    let wasm = run(engine(), &parsed)
        .unwrap_or_else(|e| panic!("simulating in the component failed: {e}"));
    let native =
        run(&NativeRuntime, &parsed).unwrap_or_else(|e| panic!("simulating natively failed: {e}"));
    assert_ne!(wasm.status, RunStatus::Invalid, "{wasm:?}");
    let wasm = serde_json::to_value(&wasm).expect("a report is JSON");
    let native = serde_json::to_value(&native).expect("a report is JSON");
    assert_eq!(
        wasm, native,
        "the component and the native library disagree on this scenario"
    );
    wasm
}

/// Simulates `steps` with `payload` and nothing scripted.
pub fn simulate_steps(steps: Value, payload: Value) -> Value {
    simulate(json!({"definition": definition(steps), "payload": payload}))
}

/// Each step of a simulation report as `(stepId, status)`, in the order they started.
pub fn step_statuses(report: &Value) -> Vec<(&str, &str)> {
    report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let text = |field: &str| s[field].as_str().unwrap_or_default();
            (text("stepId"), text("status"))
        })
        .collect()
}

/// The start input of a run of `definition` with `payload`, pinned to this build's semantics.
pub fn run_start(definition: Value, payload: Value) -> RunStart {
    RunStart {
        tenant_id: Some("tenant-test".into()),
        execution_key: "test".into(),
        ..RunStart::pinned(
            "run-test",
            definition["id"].as_str().unwrap_or_default().to_owned(),
            1,
            definition,
            payload,
            alga_interpreter::RUNTIME_SEMANTICS_VERSION,
        )
    }
}

/// An activation at the default virtual start time.
pub fn activation(jobs: Vec<Job>) -> Activation {
    Activation {
        workflow_time_ms: 1_767_225_600_000,
        is_replaying: false,
        history_length: 7,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs,
    }
}
