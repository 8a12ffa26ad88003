//! One interpreter instance per cached run, tracking core's sticky cache exactly: created at
//! the first activation of a run (or of a replay after an eviction), dropped at eviction.

use std::collections::HashMap;
use std::sync::Arc;

use alga_interpreter::error::{Failure, RuntimeError};
use alga_interpreter::machine::protocol::{self as p, Command};
use serde_json::Value;
use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::temporal::api::failure::v1::Failure as ApiFailure;

use super::convert::{self, CommandContext};
use crate::engine::{EngineError, InterpreterEngine, RunInstance};
use crate::simulate::INTERPRETER_TRAP;

/// A cached run: its instance and its start input.
struct CachedRun {
    instance: RunInstance,
    start: Option<p::RunStart>,
}

/// Resolves a child's pinned definition by workflow id and version.
pub type DefinitionLookup = Arc<dyn Fn(&str, u32) -> Option<Value> + Send + Sync>;

/// The runs this worker has cached.
pub struct Runs {
    engine: Arc<InterpreterEngine>,
    task_queue: String,
    namespace: String,
    definitions: DefinitionLookup,
    cached: HashMap<String, CachedRun>,
}

impl Runs {
    /// An empty cache.
    pub fn new(
        engine: Arc<InterpreterEngine>,
        task_queue: &str,
        namespace: &str,
        definitions: DefinitionLookup,
    ) -> Self {
        Runs {
            engine,
            task_queue: task_queue.into(),
            namespace: namespace.into(),
            definitions,
            cached: HashMap::new(),
        }
    }

    /// Answers one activation; every activation gets exactly one completion, evictions too.
    pub fn complete(
        &mut self,
        activation: &WorkflowActivation,
    ) -> (WorkflowActivationCompletion, Vec<p::RunEvent>) {
        let run_id = activation.run_id.clone();
        let jobs = match convert::activation(activation) {
            Ok(Some(jobs)) => jobs,
            Ok(None) => {
                self.cached.remove(&run_id);
                return (WorkflowActivationCompletion::empty(run_id), Vec::new());
            }
            Err(problem) => return (self.task_failure(&run_id, problem), Vec::new()),
        };
        if !self.cached.contains_key(&run_id) {
            match self.engine.instantiate() {
                Ok(instance) => {
                    self.cached.insert(
                        run_id.clone(),
                        CachedRun {
                            instance,
                            start: None,
                        },
                    );
                }
                Err(e) => return (self.task_failure(&run_id, e.to_string()), Vec::new()),
            }
        }
        let Some(run) = self.cached.get_mut(&run_id) else {
            return (
                self.task_failure(&run_id, "the run's instance vanished".into()),
                Vec::new(),
            );
        };
        if let Some(p::Job::Start(start)) = jobs.jobs.iter().find(|j| matches!(j, p::Job::Start(_)))
        {
            run.start = Some((**start).clone());
        }
        let commands = match run.instance.activate(&jobs) {
            Ok(commands) => commands,
            Err(e @ (EngineError::OutOfFuel(_) | EngineError::Trap(_))) => {
                // Deterministic: the same history traps at the same point, so the run fails
                // instead of retrying its workflow task forever. The poisoned instance goes.
                self.cached.remove(&run_id);
                let error = RuntimeError {
                    failure: Failure::new(INTERPRETER_TRAP, e.to_string()),
                    node_path: "root".into(),
                    at: alga_interpreter::expr::now_iso(jobs.workflow_time_ms),
                };
                return (
                    self.finish(&run_id, vec![Command::FailRun { error }], None)
                        .0,
                    Vec::new(),
                );
            }
            Err(e) => {
                self.cached.remove(&run_id);
                return (self.task_failure(&run_id, e.to_string()), Vec::new());
            }
        };
        let start = run.start.clone();
        self.finish(&run_id, commands, start.as_ref())
    }

    fn finish(
        &self,
        run_id: &str,
        commands: Vec<Command>,
        start: Option<&p::RunStart>,
    ) -> (WorkflowActivationCompletion, Vec<p::RunEvent>) {
        let ctx = CommandContext {
            task_queue: &self.task_queue,
            namespace: &self.namespace,
            start,
            definitions: &*self.definitions,
        };
        let (variants, records) = convert::commands(commands, &ctx);
        (
            WorkflowActivationCompletion::from_cmds(run_id.to_owned(), variants),
            records,
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
