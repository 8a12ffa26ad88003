//! The history corpus: histories the worker test produced on a real Temporal server
//! (`tests/histories/`, refreshed with `ALGA_WF_EXPORT_HISTORIES=tests/histories` on the worker
//! test), replayed with no server through the modules in `target/interpreters/` (the build
//! registers the current one there; each history runs on the module it pinned). A change to
//! the interpreter that alters what a pinned version decides fails here.

use crate::common;

#[test]
fn the_history_corpus_replays_on_its_pinned_modules() {
    let dir = common::root().join("tests/histories");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/histories exists")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| path.to_str().unwrap().to_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the corpus has {} histories", files.len());
    let modules = common::root().join("target/interpreters");
    let mut args = vec!["--interpreters", modules.to_str().unwrap(), "replay"];
    args.extend(files.iter().map(String::as_str));
    let out = common::alga_wf(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let verdicts = out.json();
    assert_eq!(verdicts.as_array().unwrap().len(), files.len());
    for verdict in verdicts.as_array().unwrap() {
        assert_eq!(verdict["result"], "ok", "{verdict:#}");
    }
}
