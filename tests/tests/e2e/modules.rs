//! Interpreter modules by runtime semantics version, on the worker test's system: a second
//! module with deliberately different semantics (the `probe-semantics` build, whose
//! `state.set` appends `!`) is added to a modules directory; one worker serves runs pinned to
//! either module side by side, each on its own; a run pinned to a version no worker has fails
//! its workflow task with a message naming the version; a tampered module is refused.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;
use crate::common::temporal::System;

pub fn runs_stay_on_their_pinned_module(system: &System, dir: &Path, definitions: &Path) {
    let (modules, probe_version) = common::probe_modules();
    let modules_arg = modules.to_str().unwrap();
    assert_ne!(probe_version, alga_interpreter::RUNTIME_SEMANTICS_VERSION);
    let out = common::alga_wf(&["interpreters", "list", "--dir", modules_arg]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A module whose bytes are not the ones the manifest names is refused.
    let tampered = dir.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(modules.join("manifest.json")).unwrap()).unwrap();
    let file = manifest["modules"][0]["file"].as_str().unwrap().to_owned();
    std::fs::copy(modules.join(&file), tampered.join(&file)).unwrap();
    manifest["modules"][0]["blake3"] = json!("0".repeat(64));
    std::fs::write(tampered.join("manifest.json"), manifest.to_string()).unwrap();
    let out = common::alga_wf(&["interpreters", "list", "--dir", tampered.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("refusing"), "{}", out.stderr);

    // One worker with both modules.
    system.start_worker_with(definitions, &[("ALGA_WF_INTERPRETERS", modules_arg)]);
    let mut definition = common::definition(json!([
        {"id": "wait", "type": "event.wait", "config": {"eventName": "GO",
            "correlationKey": {"$expr": "payload.key"}}},
        {"id": "mark", "type": "state.set", "config": {"state": "done"}}
    ]));
    definition["id"] = json!("pinned");
    let file = dir.join("pinned.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let start = |run: &str, extra: &[&str]| {
        let mut args = vec!["run", file, "--run-id", run, "--no-wait"];
        args.extend_from_slice(&["--payload", r#"{"key": "k"}"#]);
        args.extend_from_slice(extra);
        let out = system.cli(&args);
        assert_eq!(out.code, 0, "{run}: {}", out.stderr);
    };
    start("on-probe", &["--semantics-version", &probe_version]);
    start("on-current", &[]);
    for run in ["on-probe", "on-current"] {
        let out = system.cli(&[
            "signal-event",
            run,
            "--event-name",
            "GO",
            "--correlation-key",
            "k",
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let state = |run: &str| {
        let out = system.cli(&["result", run]);
        assert_eq!(out.code, 0, "{run}: {}", out.stderr);
        out.json()["scopes"]["meta"]["state"].clone()
    };
    assert_eq!(
        state("on-probe"),
        "done!",
        "the probe module ran its own semantics"
    );
    assert_eq!(
        state("on-current"),
        "done",
        "the current module ran the other run"
    );

    // Each history replays on its own module (and joins the corpus with
    // ALGA_WF_EXPORT_HISTORIES, so the corpus holds histories of both modules).
    let export = std::env::var_os("ALGA_WF_EXPORT_HISTORIES").map(std::path::PathBuf::from);
    let mut files = Vec::new();
    for (run, name) in [
        ("on-probe", "pinned-probe"),
        ("on-current", "pinned-current"),
    ] {
        let file = dir.join(format!("{name}.history.json"));
        let out = system.cli(&["history", run, "--out", file.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{run}: {}", out.stderr);
        if let Some(export) = &export {
            std::fs::copy(&file, export.join(file.file_name().unwrap())).unwrap();
        }
        files.push(file.to_str().unwrap().to_owned());
    }
    common::assert_replays_ok(Some(&modules), &files);

    // Nobody has this version: the workflow task fails, naming it, and is retried (never run
    // on other semantics).
    start("on-nothing", &["--semantics-version", "1999-01-01.none"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let history_file = dir.join("on-nothing.history.json");
    loop {
        let out = system.cli(&[
            "history",
            "on-nothing",
            "--out",
            history_file.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let text = std::fs::read_to_string(&history_file).unwrap();
        if text.contains("no interpreter module for runtime semantics 1999-01-01.none") {
            break;
        }
        assert!(Instant::now() < deadline, "no failed workflow task: {text}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = system.cli(&["cancel", "on-nothing"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    system.start_worker(definitions);
}
