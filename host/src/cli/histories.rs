//! The commands that read saved histories with no server: `replay` (does this build make
//! the same decisions?) and `certify` (may runs move from one module to another?).

use anyhow::Context;
use std::path::PathBuf;

use serde_json::{Value, json};
use temporalio_common::protos::temporal::api::history::v1::History;

use super::modules::load_modules_for;
use super::{Cli, EXIT_INVALID, print_json};
use crate::worker::certify::{Certificate, certify as certify_histories};
use crate::worker::{ReplayVerdict, read_history};

/// Reads each history file (`alga-wf history`, or `temporal workflow show -o json`).
fn read_histories(files: &[PathBuf]) -> anyhow::Result<Vec<History>> {
    files
        .iter()
        .map(|file| {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            read_history(&bytes).with_context(|| format!("{}", file.display()))
        })
        .collect()
}

/// `alga-wf replay`: "ok" per history, or its first divergence with the step it happened at.
pub(super) async fn replay(cli: &Cli, files: &[PathBuf]) -> anyhow::Result<u8> {
    let modules = load_modules_for(cli, 8)?;
    let verdicts = crate::worker::replay(modules, read_histories(files)?).await?;
    let mut diverged = false;
    let results: Vec<Value> = files
        .iter()
        .zip(verdicts.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(file, verdict)| match verdict {
            Some(ReplayVerdict::Ok) => json!({"history": file, "result": "ok"}),
            Some(ReplayVerdict::Diverged { message, step_path }) => {
                diverged = true;
                json!({"history": file, "result": "diverged", "message": message,
                    "stepPath": step_path})
            }
            None => {
                diverged = true;
                json!({"history": file, "result": "not replayed"})
            }
        })
        .collect();
    print_json(&Value::Array(results));
    Ok(if diverged { EXIT_INVALID } else { 0 })
}

/// `alga-wf certify`: each history replayed on the modules of semantics `from` and `to`.
pub(super) async fn certify(
    cli: &Cli,
    from: &str,
    to: &str,
    files: &[PathBuf],
) -> anyhow::Result<u8> {
    let modules = load_modules_for(cli, 4)?;
    let module = |version: &str| {
        modules.for_version(version).cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "no interpreter module for semantics {version} (loaded: {}; add older ones with \
                 --interpreters)",
                modules.versions().join(", ")
            )
        })
    };
    let (from_module, to_module) = (module(from)?, module(to)?);
    let certificates = certify_histories(from_module, to_module, read_histories(files)?).await?;
    let mut safe = true;
    let results: Vec<Value> = files
        .iter()
        .zip(certificates)
        .map(|(file, certificate)| {
            safe &= certificate == Certificate::Safe;
            let mut entry = serde_json::to_value(&certificate).unwrap_or_default();
            entry["history"] = json!(file);
            entry
        })
        .collect();
    print_json(&Value::Array(results));
    Ok(if safe { 0 } else { EXIT_INVALID })
}
