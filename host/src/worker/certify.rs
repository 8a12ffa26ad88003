//! `alga-wf certify --from A --to B HISTORY...`: may runs recorded on semantics A move to B?
//! Each history is replayed on A (it must replay cleanly: it is A's own record) and, with its
//! start re-pinned to B, on B; the interpreter's command streams are compared. Equal streams
//! and a clean replay on B are "safe to move"; otherwise the first command that differs is
//! reported with the step it was made at and both sides, as the interpreter's own JSON.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use serde::Serialize;
use serde_json::Value;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::engine::InterpreterEngine;
use crate::engine::modules::Modules;
use crate::worker::{ReplayVerdict, TracedCommand, replay_traced};

/// The verdict for one history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Certificate {
    /// B makes the same commands as A.
    #[serde(rename = "safe to move")]
    Safe,
    /// The history is not a run of A.
    #[serde(rename = "not pinned to from")]
    NotPinned {
        /// The version it pinned.
        pinned: String,
    },
    /// The history does not even replay on A.
    #[serde(rename = "does not replay on from")]
    BrokenOnFrom {
        /// Why.
        message: String,
    },
    /// B decides differently.
    #[serde(rename = "diverged")]
    Diverged {
        /// The position of the first differing command in the run (0-based).
        command: usize,
        /// The step A was at when it made that command.
        #[serde(rename = "stepPath")]
        step_path: Option<String>,
        /// A's command (none: A made no more).
        from: Option<Value>,
        /// B's command (none: B made no more).
        to: Option<Value>,
        /// What Temporal's replay said of B, if it objected too.
        core: Option<String>,
    },
}

/// Certifies each history for a move from `from` to `to`.
pub async fn certify(
    from: Arc<InterpreterEngine>,
    to: Arc<InterpreterEngine>,
    histories: Vec<History>,
) -> Result<Vec<Certificate>> {
    let mut certificates = Vec::new();
    for history in histories {
        let pinned = pinned_version(&history)?;
        if pinned != from.semantics_version() {
            certificates.push(Certificate::NotPinned { pinned });
            continue;
        }
        let on_from = replay_one(&from, history.clone()).await?;
        if let ReplayVerdict::Diverged { message, .. } = on_from.verdict {
            certificates.push(Certificate::BrokenOnFrom { message });
            continue;
        }
        let moved = repin(history, to.semantics_version())?;
        let on_to = replay_one(&to, moved).await?;
        let core = match on_to.verdict {
            ReplayVerdict::Ok => None,
            ReplayVerdict::Diverged { message, .. } => Some(message),
        };
        certificates.push(compare(&on_from.commands, &on_to.commands, core));
    }
    Ok(certificates)
}

async fn replay_one(
    engine: &Arc<InterpreterEngine>,
    history: History,
) -> Result<crate::worker::Replayed> {
    let modules = Arc::new(Modules::single(engine.clone()));
    replay_traced(modules, vec![history], true)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("the replay gave no verdict"))
}

/// The first difference between the two command streams.
fn compare(from: &[TracedCommand], to: &[TracedCommand], core: Option<String>) -> Certificate {
    let json = |c: Option<&TracedCommand>| c.and_then(|c| serde_json::to_value(&c.command).ok());
    let first_difference = (0..from.len().max(to.len()))
        .find(|&i| from.get(i).map(|c| &c.command) != to.get(i).map(|c| &c.command));
    let index = match (first_difference, &core) {
        (None, None) => return Certificate::Safe,
        (Some(i), _) => i,
        // The same commands, but Temporal's replay objected after them.
        (None, Some(_)) => from.len(),
    };
    let at = from
        .get(index)
        .or_else(|| to.get(index))
        .or_else(|| from.last());
    Certificate::Diverged {
        command: index,
        step_path: at.and_then(|c| c.step_path.clone()),
        from: json(from.get(index)),
        to: json(to.get(index)),
        core,
    }
}

fn started(history: &History) -> Result<&Vec<Payload>> {
    match history.events.first().and_then(|e| e.attributes.as_ref()) {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a
            .input
            .as_ref()
            .map(|input| &input.payloads)
            .ok_or_else(|| anyhow!("the history's start has no input")),
        _ => Err(anyhow!(
            "the history does not begin with WorkflowExecutionStarted"
        )),
    }
}

/// The semantics version the history's run pinned.
fn pinned_version(history: &History) -> Result<String> {
    let start = crate::temporal::payload::first(started(history)?).map_err(|e| anyhow!(e))?;
    start["runtimeSemanticsVersion"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the history's start pins no runtimeSemanticsVersion"))
}

/// The history with its run's start re-pinned to `version`.
fn repin(mut history: History, version: &str) -> Result<History> {
    let mut start = crate::temporal::payload::first(started(&history)?).map_err(|e| anyhow!(e))?;
    start["runtimeSemanticsVersion"] = Value::String(version.to_owned());
    if let Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) = history
        .events
        .first_mut()
        .and_then(|e| e.attributes.as_mut())
        && let Some(input) = a.input.as_mut()
        && let Some(first) = input.payloads.first_mut()
    {
        *first = crate::temporal::payload::encode(&start);
    }
    Ok(history)
}
