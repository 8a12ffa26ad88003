//! Replaying recorded histories through the interpreter with no server: sdk-core's replay
//! worker feeds each history's activations to the same run cache the live worker uses, and the
//! eviction that closes each history says whether the interpreter made the same commands.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use temporalio_client::WorkflowHistory;
use temporalio_common::protos::coresdk::workflow_activation::{
    remove_from_cache::EvictionReason, workflow_activation_job,
};
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::replay::{HistoryForReplay, ReplayWorkerInput};
use temporalio_sdk_core::{PollError, WorkerConfig, WorkerVersioningStrategy, init_replay_worker};

use super::definitions::DefinitionLookup;
use super::runs::Runs;
use crate::engine::modules::Modules;
use alga_protocol::protocol::{Command, RunEvent};

/// The verdict for one history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// The interpreter made the same decisions.
    Ok,
    /// It diverged: core's message, and the step the run was at.
    Diverged {
        /// What core reported.
        message: String,
        /// The last step the interpreter started before the divergence.
        step_path: Option<String>,
    },
}

/// Descriptors of Temporal's API protos, history included: the set `temporalio-protos` compiles
/// for itself, located by `build.rs`.
static HISTORY_DESCRIPTORS: &[u8] = include_bytes!(env!("ALGA_WF_TEMPORAL_DESCRIPTORS"));

/// Reads a history: the SDK's JSON encoding (`alga-wf history`) or proto-JSON
/// (`temporal workflow show -o json`, the web UI's download).
pub fn read_history(bytes: &[u8]) -> Result<History> {
    let sdk = match serde_json::from_slice::<History>(bytes) {
        Ok(history) => return Ok(history),
        Err(e) => e,
    };
    read_proto_json(bytes).map_err(|proto| {
        anyhow!(
            "the file is neither a history in the SDK's JSON encoding ({sdk}) nor in proto-JSON \
             ({proto:#})"
        )
    })
}

fn read_proto_json(bytes: &[u8]) -> Result<History> {
    use prost::Message;
    let pool = prost_reflect::DescriptorPool::decode(HISTORY_DESCRIPTORS)
        .context("the built-in history descriptors")?;
    let descriptor = pool
        .get_message_by_name("temporal.api.history.v1.History")
        .ok_or_else(|| anyhow!("the built-in descriptors lack History"))?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let message = prost_reflect::DynamicMessage::deserialize(descriptor, &mut deserializer)?;
    deserializer.end()?;
    Ok(History::decode(message.encode_to_vec().as_slice())?)
}

/// Encodes a fetched history for `read_history`.
pub async fn history_json(history: WorkflowHistory) -> Result<Vec<u8>> {
    history.to_json().await.map_err(|e| anyhow!("{e}"))
}

fn workflow_id_of(history: &History) -> String {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    history
        .events
        .first()
        .and_then(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                Some(a.workflow_id.clone())
            }
            _ => None,
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "replayed".into())
}

/// Replays each history, in order, and returns a verdict per history.
pub async fn replay(modules: Arc<Modules>, histories: Vec<History>) -> Result<Vec<ReplayVerdict>> {
    Ok(replay_traced(modules, histories, false)
        .await?
        .into_iter()
        .map(|replayed| replayed.verdict)
        .collect())
}

/// A command the interpreter made on replay, with the step it was at.
#[derive(Debug, Clone, PartialEq)]
pub struct TracedCommand {
    /// The last step the interpreter had started.
    pub step_path: Option<String>,
    /// The command.
    pub command: Command,
}

/// One history replayed, with the commands the interpreter made when `trace` was asked.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The verdict.
    pub verdict: ReplayVerdict,
    /// The interpreter's commands, in order.
    pub commands: Vec<TracedCommand>,
}

/// Replays each history; with `trace`, also keeps the interpreter's commands of each.
pub async fn replay_traced(
    modules: Arc<Modules>,
    histories: Vec<History>,
    trace: bool,
) -> Result<Vec<Replayed>> {
    let count = histories.len();
    let inputs: Vec<HistoryForReplay> = histories
        .into_iter()
        .enumerate()
        .map(|(i, history)| {
            let id = format!("{}#{i}", workflow_id_of(&history));
            HistoryForReplay::new(history, id)
        })
        .collect();
    let config = WorkerConfig::builder()
        .namespace("default")
        .task_queue("alga-wf-replay")
        .task_types(WorkerTaskTypes::workflow_only())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: "alga-wf-replay".into(),
        })
        .max_cached_workflows(1_usize)
        .max_outstanding_workflow_tasks(2_usize)
        .max_outstanding_activities(1_usize)
        .max_outstanding_local_activities(1_usize)
        .build()
        .map_err(|e| anyhow!("replay worker configuration: {e}"))?;
    let worker = init_replay_worker(ReplayWorkerInput::new(
        config,
        futures_util::stream::iter(inputs),
    ))
    .context("starting the replay worker")?;
    let lookup = DefinitionLookup::default();
    // Command attributes such as timeouts are not compared on replay.
    let timeouts = super::ActivityTimeouts {
        start_to_close: std::time::Duration::from_secs(600),
        liveness: std::time::Duration::from_secs(30),
    };
    let queues = Default::default();
    let mut runs = Runs::new(
        modules,
        "alga-wf-replay",
        "default",
        lookup,
        timeouts,
        queues,
    );
    if trace {
        runs.capture_commands();
    }
    let mut verdicts: Vec<(String, ReplayVerdict)> = Vec::new();
    // Runs already judged: a run may be evicted more than once, and the first verdict stands.
    // A set, so replaying thousands of histories does not scan every verdict at each eviction.
    let mut judged: HashSet<String> = HashSet::new();
    let mut last_step: HashMap<String, String> = HashMap::new();
    let mut traced: HashMap<String, Vec<TracedCommand>> = HashMap::new();
    loop {
        let activation = match worker.poll_workflow_activation().await {
            Ok(activation) => activation,
            Err(PollError::ShutDown) => break,
            Err(e) => return Err(anyhow!("replaying: {e}")),
        };
        for job in &activation.jobs {
            if let Some(workflow_activation_job::Variant::RemoveFromCache(eviction)) = &job.variant
                && judged.insert(activation.run_id.clone())
            {
                let step_path = last_step.remove(&activation.run_id);
                let verdict = match eviction.reason() {
                    EvictionReason::LangRequested
                    | EvictionReason::CacheFull
                    | EvictionReason::WorkflowExecutionEnding => ReplayVerdict::Ok,
                    _ => ReplayVerdict::Diverged {
                        message: eviction.message.clone(),
                        step_path,
                    },
                };
                verdicts.push((activation.run_id.clone(), verdict));
            }
        }
        let (completion, batch) = runs.complete(&activation).await;
        for record in batch.map(|b| b.records).unwrap_or_default() {
            if let RunEvent::StepStarted { path, .. } = record {
                last_step.insert(activation.run_id.clone(), path);
            }
        }
        if trace {
            let step_path = last_step.get(&activation.run_id).cloned();
            traced.entry(activation.run_id.clone()).or_default().extend(
                runs.take_commands()
                    .into_iter()
                    .map(|command| TracedCommand {
                        step_path: step_path.clone(),
                        command,
                    }),
            );
        }
        worker
            .complete_workflow_activation(completion)
            .await
            .map_err(|e| anyhow!("completing a replayed activation: {e}"))?;
        if verdicts.len() == count {
            worker.initiate_shutdown();
        }
    }
    worker.finalize_shutdown().await;
    Ok(verdicts
        .into_iter()
        .map(|(run, verdict)| Replayed {
            verdict,
            commands: traced.remove(&run).unwrap_or_default(),
        })
        .collect())
}
