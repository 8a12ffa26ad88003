//! One interpreter instance per cached run, tracking core's sticky cache exactly: created at
//! the first activation of a run (or of a replay after an eviction), dropped at eviction.

use std::collections::HashMap;
use std::sync::Arc;

use alga_interpreter::error::{Failure, RuntimeError};
use alga_interpreter::machine::protocol::{self as p, Command};
use serde_json::Value;
use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;
use temporalio_common::protos::temporal::api::failure::v1::Failure as ApiFailure;

use super::convert::{self, CommandContext};
use crate::engine::RunInstance;
use crate::engine::modules::Modules;
use crate::simulate::INTERPRETER_TRAP;
use crate::store::{Batch, RunEnd, StoreError};

/// A cached run: its instance and its start input.
struct CachedRun {
    instance: RunInstance,
    start: Option<p::RunStart>,
}

/// Resolves a child's pinned definition by tenant, workflow id and version.
pub type DefinitionLookup = Arc<FindDefinition>;

/// Finds a pinned definition by tenant, workflow id and version.
pub type FindDefinition = dyn Fn(Option<&str>, &str, u32) -> Option<Value> + Send + Sync;

/// The runs this worker has cached.
pub struct Runs {
    modules: Arc<Modules>,
    task_queue: String,
    namespace: String,
    definitions: DefinitionLookup,
    activity_timeout: std::time::Duration,
    action_queues: std::collections::BTreeMap<String, String>,
    cached: HashMap<String, CachedRun>,
    /// When set, the interpreter's commands of every activation, kept for `certify`.
    captured: Option<Vec<Command>>,
}

impl Runs {
    /// An empty cache.
    pub fn new(
        modules: Arc<Modules>,
        task_queue: &str,
        namespace: &str,
        definitions: DefinitionLookup,
        activity_timeout: std::time::Duration,
        action_queues: std::collections::BTreeMap<String, String>,
    ) -> Self {
        Runs {
            modules,
            task_queue: task_queue.into(),
            namespace: namespace.into(),
            definitions,
            activity_timeout,
            action_queues,
            cached: HashMap::new(),
            captured: None,
        }
    }

    /// Keeps the interpreter's commands of each activation from now on ([`Runs::take_commands`]).
    pub fn capture_commands(&mut self) {
        self.captured = Some(Vec::new());
    }

    /// The commands kept since the last call (empty when not capturing).
    pub fn take_commands(&mut self) -> Vec<Command> {
        self.captured
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// How many runs hold an interpreter instance.
    pub fn cached(&self) -> usize {
        self.cached.len()
    }

    /// Answers one activation; every activation gets exactly one completion, evictions too.
    pub fn complete(
        &mut self,
        activation: &WorkflowActivation,
    ) -> (WorkflowActivationCompletion, Option<Batch>) {
        let run_id = activation.run_id.clone();
        let jobs = match convert::activation(activation) {
            Ok(Some(jobs)) => jobs,
            Ok(None) => {
                if self.cached.remove(&run_id).is_some() {
                    metrics::counter!("alga_wf_run_evictions_total").increment(1);
                }
                return (WorkflowActivationCompletion::empty(run_id), None);
            }
            Err(problem) => return (self.task_failure(&run_id, problem), None),
        };
        if !self.cached.contains_key(&run_id) {
            // An uncached run's activation replays it from its start, which names the
            // semantics the run pinned: only that module may run it.
            let pinned = jobs.jobs.iter().find_map(|job| match job {
                p::Job::Start(start) => Some(start.runtime_semantics_version.as_str()),
                _ => None,
            });
            let module = match pinned.map(|version| (version, self.modules.for_version(version))) {
                Some((_, Some(module))) => module.clone(),
                Some((version, None)) => {
                    let message = format!(
                        "this worker has no interpreter module for runtime semantics {version} \
                         (it has {}); the workflow task is retried until a worker that has it \
                         takes the run",
                        self.modules.versions().join(", ")
                    );
                    return (self.task_failure(&run_id, message), None);
                }
                None => {
                    let message = "the run is not cached and its activation has no start".into();
                    return (self.task_failure(&run_id, message), None);
                }
            };
            match module.instantiate() {
                Ok(instance) => {
                    self.cached.insert(
                        run_id.clone(),
                        CachedRun {
                            instance,
                            start: None,
                        },
                    );
                }
                Err(e) => return (self.task_failure(&run_id, e.to_string()), None),
            }
        }
        let Some(run) = self.cached.get_mut(&run_id) else {
            return (
                self.task_failure(&run_id, "the run's instance vanished".into()),
                None,
            );
        };
        let started = jobs.jobs.iter().find_map(|job| match job {
            p::Job::Start(start) => Some((**start).clone()),
            _ => None,
        });
        if started.is_some() {
            run.start = started.clone();
        }
        let start = run.start.clone();
        let commands = match run.instance.activate(&jobs) {
            Ok(commands) => commands,
            Err(e) if e.is_guest_trap() => {
                // Deterministic: the same history traps at the same point, so the run fails
                // instead of retrying its workflow task forever. The poisoned instance goes.
                self.cached.remove(&run_id);
                let error = RuntimeError {
                    failure: Failure::new(INTERPRETER_TRAP, e.to_string()),
                    node_path: "root".into(),
                    at: alga_interpreter::expr::now_iso(jobs.workflow_time_ms),
                };
                return self.finish(
                    &run_id,
                    vec![Command::FailRun { error }],
                    start.as_ref(),
                    (jobs.workflow_time_ms, started),
                );
            }
            Err(e) => {
                self.cached.remove(&run_id);
                return (self.task_failure(&run_id, e.to_string()), None);
            }
        };
        self.finish(
            &run_id,
            commands,
            start.as_ref(),
            (jobs.workflow_time_ms, started),
        )
    }

    /// The completion of an activation whose projection batch could not be written: the
    /// workflow task fails, and its retry makes the batch again.
    pub fn projection_failure(run_id: &str, error: &StoreError) -> WorkflowActivationCompletion {
        tracing::error!(run_id, %error, "projection failed; failing the workflow task");
        WorkflowActivationCompletion::fail(
            run_id.to_owned(),
            ApiFailure {
                message: format!("writing the run's projection: {error}"),
                source: "alga-wf".into(),
                ..Default::default()
            },
            None,
        )
    }

    fn finish(
        &mut self,
        run_id: &str,
        commands: Vec<Command>,
        start: Option<&p::RunStart>,
        (at_ms, started): (i64, Option<p::RunStart>),
    ) -> (WorkflowActivationCompletion, Option<Batch>) {
        let end = commands.iter().find_map(|command| match command {
            Command::CompleteRun { .. } => Some(RunEnd::Succeeded),
            Command::FailRun { error } => Some(RunEnd::Failed(
                serde_json::to_value(error).unwrap_or(Value::Null),
            )),
            Command::CancelRun => Some(RunEnd::Canceled),
            _ => None,
        });
        let ctx = CommandContext {
            task_queue: &self.task_queue,
            namespace: &self.namespace,
            start,
            definitions: &*self.definitions,
            activity_timeout: self.activity_timeout,
            action_queues: &self.action_queues,
        };
        if let Some(captured) = &mut self.captured {
            captured.extend(commands.iter().cloned());
        }
        let (variants, records) = convert::commands(commands, &ctx);
        let batch = start.map(|start| Batch {
            run_id: start.run_id.clone(),
            at_ms,
            records,
            end,
            started,
        });
        (
            WorkflowActivationCompletion::from_cmds(run_id.to_owned(), variants),
            batch,
        )
    }

    /// Fails the workflow task (Temporal retries it) and drops the instance.
    fn task_failure(&mut self, run_id: &str, message: String) -> WorkflowActivationCompletion {
        tracing::error!(run_id, %message, "workflow task failed");
        self.cached.remove(run_id);
        WorkflowActivationCompletion::fail(
            run_id.to_owned(),
            ApiFailure {
                message,
                source: "alga-wf".into(),
                ..Default::default()
            },
            None,
        )
    }
}

/// The number of commands a completion sends (0 for a failed workflow task).
pub fn command_count(status: &Status) -> usize {
    match status {
        Status::Successful(success) => success.commands.len(),
        Status::Failed(_) => 0,
    }
}
