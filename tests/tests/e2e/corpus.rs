//! The history corpus: histories the worker test produced on a real Temporal server
//! (`tests/histories/`, refreshed with `ALGA_WF_EXPORT_HISTORIES=tests/histories` on the worker
//! test), replayed with no server through every module: the current build and the probe module
//! (`target/probe/modules`), each history on the module it pinned. The corpus holds histories
//! of both, so a change to the interpreter that alters what either pinned version decides
//! fails here.

use base64::Engine as _;
use serde_json::Value;

use crate::common;

/// The runtime semantics version a history's run pinned (its start event's input).
fn pinned_version(history: &Value) -> String {
    let data = history["events"][0]["attributes"]["WorkflowExecutionStartedEventAttributes"]
        ["input"]["payloads"][0]["data"]
        .as_str()
        .expect("a start event with an input");
    let start: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64"),
    )
    .expect("JSON");
    start["runtimeSemanticsVersion"]
        .as_str()
        .expect("a pinned version")
        .to_owned()
}

#[test]
fn the_history_corpus_replays_through_every_module() {
    let dir = common::root().join("tests/histories");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/histories exists")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| path.to_str().unwrap().to_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the corpus has {} histories", files.len());
    let pinned: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| pinned_version(&serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()))
        .collect();

    // Every module the worker would load: the current build and the probe module.
    let (modules, probe) = common::probe_modules();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(modules.join("manifest.json")).unwrap()).unwrap();
    let mut versions: std::collections::BTreeSet<String> = manifest["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap().to_owned())
        .collect();
    versions.insert(alga_interpreter::RUNTIME_SEMANTICS_VERSION.to_owned());
    assert!(
        versions.contains(&probe) && versions.contains(alga_interpreter::RUNTIME_SEMANTICS_VERSION),
        "{versions:?}"
    );
    assert_eq!(
        pinned, versions,
        "the corpus has histories of exactly the modules loaded"
    );

    common::assert_replays_ok(Some(&modules), &files);
}

fn certify(modules: &std::path::Path, from: &str, to: &str, files: &[&str]) -> (i32, Value) {
    let mut args = vec!["--interpreters", modules.to_str().unwrap(), "certify"];
    args.extend(["--from", from, "--to", to]);
    let paths: Vec<String> = files
        .iter()
        .map(|f| {
            common::root()
                .join("tests/histories")
                .join(f)
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let out = common::alga_wf(&args);
    (
        out.code,
        serde_json::from_str(&out.stdout).unwrap_or(Value::Null),
    )
}

/// `certify` passes the current module against itself (an unchanged rebuild) and finds the
/// probe module's planted difference, with the step and both sides.
#[test]
fn certify_finds_the_planted_divergence_and_passes_an_unchanged_rebuild() {
    let (modules, probe) = common::probe_modules();
    let current = alga_interpreter::RUNTIME_SEMANTICS_VERSION;
    let corpus = [
        "basic.history.json",
        "timed.history.json",
        "triage.history.json",
    ];
    let (code, same) = certify(&modules, current, current, &corpus);
    assert_eq!(code, 0, "{same:#}");
    for certificate in same.as_array().unwrap() {
        assert_eq!(certificate["result"], "safe to move", "{certificate:#}");
    }
    let (code, moved) = certify(&modules, current, &probe, &corpus[..2]);
    assert_eq!(code, 2, "{moved:#}");
    let basic = &moved[0];
    assert_eq!(basic["result"], "diverged", "{basic:#}");
    assert!(
        basic["stepPath"]
            .as_str()
            .unwrap()
            .starts_with("root.steps["),
        "{basic:#}"
    );
    assert_eq!(
        basic["from"]["completeRun"]["result"]["meta"]["state"],
        "DONE"
    );
    assert_eq!(
        basic["to"]["completeRun"]["result"]["meta"]["state"],
        "DONE!"
    );
    assert_eq!(
        moved[1]["result"], "safe to move",
        "timed sets no state: {moved:#}"
    );
}
