//! Seeds: the workflows runs are drawn from, and the starting corpus of every target.
//!
//! Definitions and payloads come from `examples/*/scenario.json` (with the scenario's scripted
//! action outputs) and from the start event of every history in `tests/histories/`;
//! expressions come from those definitions and from the JSONata test suite beside the project.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use alga_interpreter::canonical::definition_hash;
use base64::Engine as _;
use serde_json::Value;

/// A workflow to run: its definition, a payload it was run with, and outputs its actions gave.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Where it came from (`examples/hello`, `tests/histories/basic.history.json`).
    pub origin: String,
    /// The definition.
    pub definition: Value,
    /// A payload it ran with.
    pub payload: Value,
    /// Action outputs from its scenario, offered as activity results.
    pub outputs: Vec<Value>,
}

/// The project's root (the directory above this crate).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// Every seed workflow, loaded once; definitions seen twice are kept once.
pub fn workflows() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = project_root();
        let mut seeds = examples(&root.join("examples"));
        seeds.extend(histories(&root.join("tests/histories")));
        let mut seen = BTreeSet::new();
        seeds.retain(|seed| seen.insert(definition_hash(&seed.definition)));
        assert!(
            !seeds.is_empty(),
            "no seed workflows under {} (examples/ and tests/histories/)",
            root.display()
        );
        seeds
    })
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|read| read.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn examples(dir: &Path) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for example in sorted_entries(dir) {
        for file in sorted_entries(&example) {
            let is_scenario = file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("scenario.json"));
            let Some(scenario) = is_scenario.then(|| read_json(&file)).flatten() else {
                continue;
            };
            let outputs = scenario["actions"]
                .as_object()
                .into_iter()
                .flat_map(|actions| actions.values())
                .flat_map(|script| script.as_array().into_iter().flatten())
                .filter_map(|step| step.get("output").cloned())
                .collect();
            seeds.push(Seed {
                origin: file.display().to_string(),
                definition: scenario["definition"].clone(),
                payload: scenario["payload"].clone(),
                outputs,
            });
        }
    }
    seeds
}

/// The run start a history's first event carries (base64 JSON in Temporal's JSON form).
fn history_start(history: &Value) -> Option<Value> {
    let data = history["events"][0]["attributes"]["WorkflowExecutionStartedEventAttributes"]
        ["input"]["payloads"][0]["data"]
        .as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn histories(dir: &Path) -> Vec<Seed> {
    sorted_entries(dir)
        .into_iter()
        .filter_map(|file| {
            let start = history_start(&read_json(&file)?)?;
            Some(Seed {
                origin: file.display().to_string(),
                definition: start["definition"].clone(),
                payload: start["payload"].clone(),
                outputs: Vec::new(),
            })
        })
        .collect()
}

/// Expressions with an input document: `(source, input)`.
pub fn expressions() -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for seed in workflows() {
        let context = serde_json::json!({"payload": seed.payload, "vars": {}, "meta": {}});
        let mut sources = Vec::new();
        collect_expressions(&seed.definition, &mut sources);
        found.extend(sources.into_iter().map(|s| (s, context.clone())));
    }
    found.extend(jsonata_suite(
        &project_root().join("tests/jsonata-test-suite"),
    ));
    found
}

fn collect_expressions(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, entry) in map {
                match (key.as_str(), entry) {
                    (
                        "$expr" | "expr" | "condition" | "items" | "correlationKey",
                        Value::String(s),
                    ) => into.push(s.clone()),
                    _ => collect_expressions(entry, into),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_expressions(item, into)),
        _ => {}
    }
}

/// The JSONata suite's cases with their data (absent suite: none).
fn jsonata_suite(suite: &Path) -> Vec<(String, Value)> {
    let mut cases = Vec::new();
    for group in sorted_entries(&suite.join("groups")) {
        for file in sorted_entries(&group) {
            let Some(case) = read_json(&file) else {
                continue;
            };
            let Some(source) = case["expr"].as_str() else {
                continue;
            };
            let input = match case["dataset"].as_str() {
                Some(name) => {
                    read_json(&suite.join(format!("datasets/{name}.json"))).unwrap_or(Value::Null)
                }
                None => case.get("data").cloned().unwrap_or(Value::Null),
            };
            cases.push((source.to_owned(), input));
        }
    }
    cases
}

/// An expression target's input: the source, a NUL, the input document as JSON.
pub fn expression_input(source: &str, input: &Value) -> Vec<u8> {
    let mut bytes = source.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend(input.to_string().into_bytes());
    bytes
}

/// Writes the starting corpus of every target under `dir/<target>/`.
pub fn write_corpus(dir: &Path) -> std::io::Result<usize> {
    let mut written = 0;
    let mut write = |target: &str, name: String, bytes: Vec<u8>| -> std::io::Result<()> {
        let dir = dir.join(target);
        std::fs::create_dir_all(&dir)?;
        written += 1;
        std::fs::write(dir.join(name), bytes)
    };
    for (i, seed) in workflows().iter().enumerate() {
        let text = serde_json::to_vec_pretty(&seed.definition).unwrap_or_default();
        write("definition", format!("workflow-{i:03}.json"), text.clone())?;
        // A run of workflow i: its index, then bytes for the host's choices.
        let mut run: Vec<u8> = vec![i as u8];
        run.extend((0..256u32).map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8));
        write("activations", format!("workflow-{i:03}"), run.clone())?;
        let mut lockstep = vec![targets::Mode::Run as u8];
        lockstep.extend(&run);
        write("differential", format!("run-{i:03}"), lockstep)?;
        // The same run of an edited definition (an index of 128 or more edits it first).
        let mut edited = run;
        edited[0] = 128 + i as u8;
        write("activations", format!("edited-{i:03}"), edited)?;
        let mut validate = vec![targets::Mode::Validate as u8];
        validate.extend(text);
        write("differential", format!("validate-{i:03}"), validate)?;
    }
    // The suite has ~1,600 cases; every fourth keeps the corpus quick to load.
    for (i, (source, input)) in expressions().iter().enumerate() {
        let bytes = expression_input(source, input);
        if bytes.len() > 4096 {
            continue;
        }
        if i % 4 == 0 {
            let mut differential = vec![targets::Mode::Expression as u8];
            differential.extend(&bytes);
            write("differential", format!("expression-{i:04}"), differential)?;
        }
        write("expression", format!("expression-{i:04}"), bytes)?;
    }
    Ok(written)
}

use crate::targets;
