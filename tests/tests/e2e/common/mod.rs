//! Helpers shared by the end-to-end tests: the real `alga-wf` binary and the real component.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use alga_wf::engine::{EngineConfig, InterpreterEngine};
use serde_json::{Value, json};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `alga-wf` binary built beside these tests (`scripts/build` builds it).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let binary = profile_dir.join("alga-wf");
    assert!(
        binary.exists(),
        "{} is missing: run scripts/build (or scripts/test) first",
        binary.display()
    );
    binary
}

/// The interpreter component of this build tree (`scripts/build`), which the binary under test
/// also embeds.
pub fn component() -> PathBuf {
    let path = root().join("target/wasm/alga_interpreter.component.wasm");
    assert!(
        path.exists(),
        "{} is missing: run scripts/build (or scripts/test) first",
        path.display()
    );
    path
}

/// The engine over the real component, loaded once per test binary.
pub fn engine() -> &'static InterpreterEngine {
    static ENGINE: OnceLock<InterpreterEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        alga_wf::locate::InterpreterSource::File(component())
            .load(EngineConfig::default())
            .expect("the interpreter component loads")
    })
}

/// What a CLI invocation printed and returned.
pub struct Output {
    /// Exit status.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Standard output as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `alga-wf ARGS...`.
pub fn alga_wf(args: &[&str]) -> Output {
    let output = Command::new(binary())
        .env("ALGA_WF_TEST_ACTIONS", "true")
        .args(args)
        .output()
        .expect("alga-wf runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Replays `histories` with no server (on the modules of `interpreters` too, if given) and
/// requires an `ok` verdict for every one.
pub fn assert_replays_ok(interpreters: Option<&Path>, histories: &[String]) {
    let mut args = Vec::new();
    if let Some(dir) = interpreters {
        args.extend(["--interpreters", dir.to_str().expect("a UTF-8 path")]);
    }
    args.push("replay");
    args.extend(histories.iter().map(String::as_str));
    let out = alga_wf(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let verdicts = out.json();
    assert_eq!(verdicts.as_array().unwrap().len(), histories.len());
    for verdict in verdicts.as_array().unwrap() {
        assert_eq!(verdict["result"], "ok", "{verdict:#}");
    }
}

/// Writes `value` to a temporary file and runs `alga-wf COMMAND FILE`.
pub fn alga_wf_json(command: &str, value: &Value) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("input.json");
    std::fs::write(&file, serde_json::to_vec_pretty(value).expect("json")).expect("write");
    alga_wf(&[command, file.to_str().expect("utf-8 path")])
}

/// A definition with the given steps.
pub fn definition(steps: Value) -> Value {
    json!({
        "id": "wf-test",
        "version": 1,
        "name": "Test workflow",
        "payloadSchemaRef": "payload.Test.v1",
        "steps": steps,
    })
}

/// Simulates a scenario in this process, twice: in the interpreter component (what the worker
/// runs) and in the interpreter library linked natively; the two reports must be the same, and
/// the component's is returned. Every simulation also audits replay: after each activation the
/// run is rebuilt in a fresh instance from its activations and must give the same commands.
/// `alga-wf simulate` itself (its file, its exit status) is tested through the binary by
/// `simulate_cli` and the suites that check exit statuses.
pub fn simulate(scenario: Value) -> Value {
    use alga_wf::simulate::{RunStatus, Scenario};
    let mut parsed = Scenario::parse(&scenario)
        .unwrap_or_else(|errors| panic!("the scenario is invalid: {errors:?}"));
    parsed.audit_replay = true;
    let wasm = alga_wf::simulate::simulate(engine(), &parsed)
        .unwrap_or_else(|e| panic!("simulating in the component failed: {e}"));
    let native = alga_wf::simulate::simulate(&alga_wf::runtime::NativeRuntime, &parsed)
        .unwrap_or_else(|e| panic!("simulating natively failed: {e}"));
    assert_ne!(wasm.status, RunStatus::Invalid, "{wasm:?}");
    let wasm = serde_json::to_value(&wasm).expect("a report is JSON");
    let native = serde_json::to_value(&native).expect("a report is JSON");
    assert_eq!(
        wasm, native,
        "the component and the native library disagree on this scenario"
    );
    wasm
}

/// Simulates a scenario in the component alone, for what only the component has: its fuel and
/// memory limits (natively an evaluation has neither).
pub fn simulate_in_component(scenario: Value) -> Value {
    let mut parsed = alga_wf::simulate::Scenario::parse(&scenario)
        .unwrap_or_else(|errors| panic!("the scenario is invalid: {errors:?}"));
    parsed.audit_replay = true;
    let report = alga_wf::simulate::simulate(engine(), &parsed)
        .unwrap_or_else(|e| panic!("simulating in the component failed: {e}"));
    serde_json::to_value(&report).expect("a report is JSON")
}

/// Simulates `steps` with `payload` and nothing scripted.
pub fn simulate_steps(steps: Value, payload: Value) -> Value {
    simulate(json!({"definition": definition(steps), "payload": payload}))
}

/// Validates a definition; returns (exit status, report).
pub fn validate(definition: &Value) -> (i32, Value) {
    let out = alga_wf_json("validate", definition);
    (out.code, out.json())
}

/// The codes and paths of a validate report's errors.
pub fn error_codes(report: &Value) -> Vec<(String, String)> {
    report["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["code"].as_str().unwrap_or_default().to_owned(),
                        e["path"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The start input of a run of `definition` with `payload`, pinned to this build's semantics.
pub fn run_start(
    definition: Value,
    payload: Value,
) -> alga_interpreter::machine::protocol::RunStart {
    alga_interpreter::machine::protocol::RunStart {
        tenant_id: Some("tenant-test".into()),
        execution_key: "test".into(),
        ..alga_interpreter::machine::protocol::RunStart::pinned(
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
pub fn activation(
    jobs: Vec<alga_interpreter::machine::protocol::Job>,
) -> alga_interpreter::machine::protocol::Activation {
    alga_interpreter::machine::protocol::Activation {
        workflow_time_ms: 1_767_225_600_000,
        is_replaying: false,
        history_length: 7,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs,
    }
}
pub mod postgres;
pub mod redis;
pub mod temporal;

/// A modules directory (`target/probe/modules`) holding the probe module: the guest built with
/// `--features probe-semantics` (a deliberately different semantics: `state.set` appends `!`),
/// registered with `alga-wf interpreters add`. Built once per test run. Returns the directory
/// and the probe's version.
pub fn probe_modules() -> (std::path::PathBuf, String) {
    static PROBE: std::sync::OnceLock<(std::path::PathBuf, String)> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let dir = root().join("target/probe");
            let component = dir.join("probe.component.wasm");
            let status = std::process::Command::new(
                std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            )
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
            .args(["--features", "probe-semantics", "--out"])
            .arg(&component)
            .status()
            .expect("cargo runs");
            assert!(status.success(), "the probe module builds");
            let modules = dir.join("modules");
            let _ = std::fs::remove_dir_all(&modules);
            let out = alga_wf(&[
                "interpreters",
                "add",
                component.to_str().unwrap(),
                "--dir",
                modules.to_str().unwrap(),
            ]);
            assert_eq!(out.code, 0, "{}", out.stderr);
            let version = out.json()["version"].as_str().unwrap().to_owned();
            (modules, version)
        })
        .clone()
}
