//! The official JSONata test suite, run through the real component's expression export with
//! the workflow rules off. Scored as docs/jsonata.md §4 says: deep equality where 1
//! and 1.0 are equal, error cases compared on the error code, `depth` passed through.

use crate::common;

use std::path::{Path, PathBuf};

use alga_wf::engine::ExpressionOptions;
use serde_json::{Map, Value, json};

/// Cases known to fail with jlens-core 0.26.0 (docs/jsonata.md §4): lone UTF-16
/// surrogates, three depth/time-box codes, and `$string(1/0)`'s code.
const EXPECTED_FAILURES: usize = 6;

fn suite_dir() -> PathBuf {
    std::env::var_os("JSONATA_SUITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("tests/jsonata-test-suite"))
}

struct Case {
    name: String,
    expr: String,
    input: Option<Value>,
    bindings: Value,
    depth: Option<u32>,
    expected: Value,
}

/// Loads every case; files serde_json cannot read (lone UTF-16 surrogates, which no Rust
/// string can hold) are returned as names of cases that cannot run.
fn load_cases(dir: &Path) -> (Vec<Case>, Vec<String>) {
    let groups = dir.join("groups");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&groups)
        .unwrap_or_else(|e| panic!("cannot read the JSONata suite at {}: {e}", groups.display()))
        .flat_map(|group| {
            let group = group.expect("dir entry").path();
            std::fs::read_dir(&group)
                .expect("group dir")
                .map(|f| f.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    let mut unreadable = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("case file");
        let value: Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(e) => {
                unreadable.push(format!("{}: unreadable case ({e})", file.display()));
                continue;
            }
        };
        let list = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        for (i, case) in list.into_iter().enumerate() {
            let name = format!(
                "{}#{i}",
                file.strip_prefix(&groups).unwrap_or(&file).display()
            );
            let expr = match (&case["expr"], &case["expr-file"]) {
                (Value::String(e), _) => e.clone(),
                (_, Value::String(f)) => {
                    std::fs::read_to_string(file.parent().unwrap().join(f)).expect("expr-file")
                }
                _ => continue,
            };
            let input = if let Some(data) = case.get("data") {
                Some(data.clone())
            } else {
                match &case["dataset"] {
                    Value::String(name) => {
                        let path = dir.join("datasets").join(format!("{name}.json"));
                        Some(
                            serde_json::from_str(&std::fs::read_to_string(path).expect("dataset"))
                                .expect("dataset JSON"),
                        )
                    }
                    _ => None,
                }
            };
            let expected = if let Some(result) = case.get("result") {
                json!({"result": result})
            } else if case["undefinedResult"] == json!(true) {
                json!({"undefined": true})
            } else if let Some(code) = case.get("code") {
                json!({"code": code})
            } else if let Some(error) = case.get("error") {
                json!({"code": error["code"]})
            } else {
                json!({"undefined": true})
            };
            cases.push(Case {
                name,
                expr,
                input,
                bindings: case
                    .get("bindings")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new())),
                depth: case["depth"].as_u64().map(|d| d as u32),
                expected,
            });
        }
    }
    (cases, unreadable)
}

/// Deep equality with numbers compared as numbers (1 == 1.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn official_jsonata_suite_passes_through_the_component() {
    let dir = suite_dir();
    let (cases, unreadable) = load_cases(&dir);
    let total = cases.len() + unreadable.len();
    assert!(
        total > 1600,
        "expected the whole suite, found {total} cases in {}",
        dir.display()
    );
    // Two range cases build ten-million-item arrays; give this engine room for them.
    let engine = alga_wf::locate::InterpreterSource::File(common::component())
        .load(alga_wf::engine::EngineConfig {
            memory_limit: 2 << 30,
            pool_instances: 2,
            ..Default::default()
        })
        .expect("engine");
    let mut instance = engine.instantiate().expect("instance");
    let mut failures = unreadable;
    for case in &cases {
        let options = ExpressionOptions {
            workflow_rules: false,
            now_ms: 1_767_225_600_000,
            max_depth: case.depth,
        };
        let outcome =
            match instance.evaluate(&case.expr, case.input.as_ref(), &case.bindings, options) {
                Ok(outcome) => outcome,
                Err(e) => {
                    // A trap poisons the instance; note the case and carry on with a fresh one.
                    failures.push(format!("{}: engine error {e}", case.name));
                    instance = engine.instantiate().expect("instance");
                    continue;
                }
            };
        let ok = match (&outcome, &case.expected) {
            (Ok(Some(v)), expected) if expected.get("result").is_some() => {
                same(v, &expected["result"])
            }
            (Ok(None), expected) => expected.get("undefined").is_some(),
            (Err((code, _)), expected) => expected["code"] == json!(code),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: got {outcome:?}, expected {}",
                case.name, case.expected
            ));
        }
    }
    let passed = total - failures.len();
    println!(
        "JSONata suite through the wasm component: {passed} / {total} passed ({:.1}%)",
        100.0 * passed as f64 / total as f64
    );
    for failure in &failures {
        println!("  miss: {failure}");
    }
    assert!(
        passed * 100 >= total * 99,
        "below 99%: {} failures",
        failures.len()
    );
    assert!(
        failures.len() <= EXPECTED_FAILURES,
        "more failures than the {EXPECTED_FAILURES} known for jlens-core 0.26.0: {failures:#?}"
    );
}
