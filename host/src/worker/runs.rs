//! One interpreter instance per cached run, tracking core's sticky cache exactly: created at
//! the first activation of a run (or of a replay after an eviction), dropped at eviction.
//! An activation is prepared and finished against the cache, and run in between without it,
//! so the worker can run many runs' activations at once and a slow one delays only its own.

use std::collections::HashMap;
use std::sync::Arc;

use alga_protocol::error::{Failure, RuntimeError, category};
use alga_protocol::protocol::{self as p, Command};
use serde_json::Value;
use temporalio_common::protos::coresdk::workflow_activation::WorkflowActivation;
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;
use temporalio_common::protos::temporal::api::failure::v1::Failure as ApiFailure;

use super::convert::{self, CommandContext};
use super::definitions::DefinitionLookup;
use crate::engine::RunInstance;
use crate::engine::modules::Modules;
use crate::store::{Batch, Lineage, RunEnd, StoreError};
use alga_protocol::error::category::INTERPRETER_TRAP;

/// A cached run: its instance and its start input, shared rather than cloned: every
/// activation's completion reads it, and it holds the definition, the payload and any
/// checkpoint, which may be megabytes.
struct CachedRun {
    instance: RunInstance,
    start: Option<Arc<p::RunStart>>,
    /// When it last ran (the cache's clock), for choosing what a memory budget evicts.
    used: u64,
    /// When its last activation ended, for evicting runs parked a long while.
    parked_since: std::time::Instant,
}

/// What [`Runs::prepare`] made of an activation.
// One value per activation, moved once: boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// Answered already (an eviction, or a workflow task that fails).
    Done(WorkflowActivationCompletion, Option<Batch>),
    /// The interpreter must run it: [`Prepared::activate`], anywhere, then
    /// [`Runs::finish_activation`].
    Activate(Prepared),
}

/// An activation with its run's instance, out of the cache.
pub struct Prepared {
    run_id: String,
    jobs: p::Activation,
    run: CachedRun,
    started: Option<p::RunStart>,
    lineage: Option<Lineage>,
}

impl Prepared {
    /// Runs the interpreter: the only slow part of an activation (bounded by fuel), so the
    /// worker runs it on a blocking thread, off the poll loop.
    pub fn activate(mut self) -> Activated {
        let result = self.run.instance.activate(&self.jobs);
        Activated {
            run_id: self.run_id,
            workflow_time_ms: self.jobs.workflow_time_ms,
            started: self.started,
            lineage: self.lineage,
            run: self.run,
            result,
        }
    }

    /// The run this activation is for.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The run's tenant (empty for a run without one), which shares the interpreter's slots
    /// fairly with the others.
    pub fn tenant(&self) -> &str {
        self.run
            .start
            .as_ref()
            .and_then(|start| start.tenant_id.as_deref())
            .unwrap_or_default()
    }
}

/// An activation the interpreter has run.
pub struct Activated {
    run_id: String,
    workflow_time_ms: i64,
    started: Option<p::RunStart>,
    lineage: Option<Lineage>,
    run: CachedRun,
    result: Result<Vec<Command>, crate::engine::EngineError>,
}

/// The runs this worker has cached.
pub struct Runs {
    modules: Arc<Modules>,
    completer: Arc<Completer>,
    cached: HashMap<String, CachedRun>,
    /// Bytes the cached runs may cost together, each its instance's
    /// [`footprint`](crate::engine::RunInstance::footprint_bytes) (0: no budget, only the count
    /// sdk-core keeps).
    memory_budget: usize,
    /// Activations that may be in flight at once, each holding an instance outside the cache.
    activation_slots: usize,
    /// Runs whose eviction was asked for and has not arrived yet.
    evicting: std::collections::HashSet<String>,
    /// The cache's clock: one tick per activation.
    clock: u64,
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
        timeouts: super::ActivityTimeouts,
        action_queues: std::collections::BTreeMap<String, String>,
    ) -> Self {
        Runs {
            modules,
            completer: Arc::new(Completer {
                task_queue: task_queue.into(),
                namespace: namespace.into(),
                definitions,
                timeouts,
                action_queues,
            }),
            cached: HashMap::new(),
            memory_budget: 0,
            activation_slots: 0,
            evicting: std::collections::HashSet::new(),
            clock: 0,
            captured: None,
        }
    }

    /// Keeps what the cached runs and `activation_slots` activations in flight cost within
    /// `bytes` together (0: no budget): see [`Runs::over_budget`].
    pub fn with_memory_budget(mut self, bytes: usize, activation_slots: usize) -> Self {
        self.memory_budget = bytes;
        self.activation_slots = activation_slots;
        self
    }

    /// The least recently used runs to evict so the cache's memory fits its budget again (each
    /// asked for once). Evicting is sdk-core's to do (it then sends the eviction and, for the
    /// run's next task, the whole history), so the caller asks it to.
    pub fn over_budget(&mut self) -> Vec<String> {
        if self.memory_budget == 0 {
            return Vec::new();
        }
        // (last used, bytes, run) of the runs not already on their way out.
        let mut kept: Vec<(u64, usize, &String)> = self
            .cached
            .iter()
            .filter(|(id, _)| !self.evicting.contains(*id))
            .map(|(id, run)| (run.used, run.instance.footprint_bytes(), id))
            .collect();
        let mut held: usize = kept.iter().map(|(_, bytes, _)| bytes).sum();
        // Activations in flight hold instances too (out of the cache while they run) and may
        // grow them: room is kept for one instance as large as the largest cached per slot,
        // so the budget holds at the peak, not only between activations.
        let largest = kept.iter().map(|(_, bytes, _)| *bytes).max().unwrap_or(0);
        let limit = self
            .memory_budget
            .saturating_sub(largest.saturating_mul(self.activation_slots));
        if held <= limit {
            return Vec::new();
        }
        kept.sort_unstable();
        let mut victims = Vec::new();
        for (_, bytes, id) in kept {
            if held <= limit {
                break;
            }
            held -= bytes;
            victims.push(id.clone());
        }
        self.evicting.extend(victims.iter().cloned());
        metrics::counter!("alga_wf_memory_evictions_total").increment(victims.len() as u64);
        victims
    }

    /// The runs parked (cached, not activating) for `longer_than` or more, to evict (each
    /// asked for once): a long-parked run gives its instance back and is rebuilt by replay
    /// when its timer, event or answer comes.
    pub fn parked_longer_than(&mut self, longer_than: std::time::Duration) -> Vec<String> {
        let victims: Vec<String> = self
            .cached
            .iter()
            .filter(|(id, run)| {
                !self.evicting.contains(*id) && run.parked_since.elapsed() >= longer_than
            })
            .map(|(id, _)| id.clone())
            .collect();
        self.evicting.extend(victims.iter().cloned());
        metrics::counter!("alga_wf_idle_evictions_total").increment(victims.len() as u64);
        victims
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

    /// Answers one activation here and now; every activation gets exactly one completion,
    /// evictions too. (The worker runs the interpreter off its poll loop instead:
    /// [`Runs::prepare`], [`Prepared::activate`], [`Runs::finish_activation`].)
    pub async fn complete(
        &mut self,
        activation: &WorkflowActivation,
    ) -> (WorkflowActivationCompletion, Option<Batch>) {
        match self.prepare(activation) {
            Step::Done(completion, batch) => (completion, batch),
            Step::Activate(prepared) => {
                let decided = self.finish_activation(prepared.activate());
                if let (Some(captured), Decided::Commands { commands, .. }) =
                    (&mut self.captured, &decided)
                {
                    captured.extend(commands.iter().cloned());
                }
                self.completer.complete(decided).await
            }
        }
    }

    /// What turns decided commands into completions, for use without the cache.
    pub fn completer(&self) -> Arc<Completer> {
        self.completer.clone()
    }

    /// The part of an activation that needs the cache: an eviction is answered at once, an
    /// activation the worker cannot serve fails its workflow task, and any other takes its
    /// run's instance out of the cache (core sends one activation per run at a time) so the
    /// interpreter can run without holding the cache.
    pub fn prepare(&mut self, activation: &WorkflowActivation) -> Step {
        let run_id = activation.run_id.clone();
        let jobs = match convert::activation(activation) {
            Ok(Some(jobs)) => jobs,
            Ok(None) => {
                self.evicting.remove(&run_id);
                if self.cached.remove(&run_id).is_some() {
                    metrics::counter!("alga_wf_run_evictions_total").increment(1);
                }
                return Step::Done(WorkflowActivationCompletion::empty(run_id), None);
            }
            Err(problem) => return Step::Done(self.task_failure(&run_id, problem), None),
        };
        let mut run = match self.cached.remove(&run_id) {
            Some(run) => run,
            None => match self.instantiate_for(&jobs) {
                Ok(run) => run,
                Err(message) => return Step::Done(self.task_failure(&run_id, message), None),
            },
        };
        let started = jobs.jobs.iter().find_map(|job| match job {
            p::Job::Start(start) => Some((**start).clone()),
            _ => None,
        });
        if started.is_some() {
            run.start = started.clone().map(Arc::new);
        }
        Step::Activate(Prepared {
            run_id,
            jobs,
            run,
            started,
            lineage: convert::lineage(activation),
        })
    }

    /// A fresh instance for an uncached run, whose activation replays it from its start: the
    /// start names the semantics the run pinned, and only that module may run it.
    fn instantiate_for(&self, jobs: &p::Activation) -> Result<CachedRun, String> {
        let pinned = jobs.jobs.iter().find_map(|job| match job {
            p::Job::Start(start) => Some(start.runtime_semantics_version.as_str()),
            _ => None,
        });
        let module = match pinned.map(|version| (version, self.modules.for_version(version))) {
            Some((_, Some(module))) => module.clone(),
            Some((version, None)) => {
                return Err(format!(
                    "this worker has no interpreter module for runtime semantics {version} \
                     (it has {}); the workflow task is retried until a worker that has it \
                     takes the run",
                    self.modules.versions().join(", ")
                ));
            }
            None => return Err("the run is not cached and its activation has no start".into()),
        };
        let instance = module.instantiate().map_err(|e| e.to_string())?;
        Ok(CachedRun {
            instance,
            start: None,
            used: 0,
            parked_since: std::time::Instant::now(),
        })
    }

    /// The rest of an activation: the run goes back into the cache (unless its instance
    /// trapped or failed) and its commands become the completion and the projection batch.
    pub fn finish_activation(&mut self, activated: Activated) -> Decided {
        let Activated {
            run_id,
            workflow_time_ms,
            started,
            lineage,
            run,
            result,
        } = activated;
        let start = run.start.clone();
        let commands = match result {
            Ok(commands) => {
                let mut run = run;
                self.clock += 1;
                run.used = self.clock;
                run.parked_since = std::time::Instant::now();
                self.cached.insert(run_id.clone(), run);
                commands
            }
            Err(e) if e.is_guest_trap() => {
                // Deterministic: the same history traps at the same point, so the run fails
                // instead of retrying its workflow task forever. The poisoned instance goes.
                let error = RuntimeError {
                    failure: Failure::new(INTERPRETER_TRAP, e.to_string()),
                    node_path: "root".into(),
                    at: alga_interpreter::expr::now_iso(workflow_time_ms),
                };
                vec![Command::FailRun { error }]
            }
            Err(e) => return Decided::Failed(self.task_failure(&run_id, e.to_string())),
        };
        Decided::Commands {
            run_id,
            commands,
            start,
            at_ms: workflow_time_ms,
            started,
            lineage,
        }
    }

    /// The completion of an activation whose interpreter thread panicked: the workflow task
    /// fails and is retried (the run, out of the cache, is rebuilt by replay).
    pub fn panicked(run_id: &str, panic: &str) -> WorkflowActivationCompletion {
        tracing::error!(run_id, panic, "the interpreter's thread panicked");
        WorkflowActivationCompletion::fail(
            run_id.to_owned(),
            ApiFailure {
                message: format!("the activation panicked: {panic}"),
                source: "alga-wf".into(),
                ..Default::default()
            },
            None,
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

    /// The completion of a schedule's fire refused at its workflow's concurrency limit (its
    /// row already says `FAILED` with the reason): the workflow fails at once, in place of
    /// whatever its first activation decided, so none of it happens. Only a first activation
    /// that is not a replay is refused, and the refusal is the run's whole history.
    pub fn refused_at_limit(
        run_id: &str,
        reason: &str,
        at_ms: i64,
    ) -> WorkflowActivationCompletion {
        tracing::warn!(
            run_id,
            reason,
            "a schedule's fire was refused at its workflow's concurrency limit"
        );
        let error = RuntimeError {
            failure: Failure::new(
                category::VALIDATION,
                format!("the schedule's fire was refused: {reason}"),
            )
            .with_code("CONCURRENCY_LIMIT_REACHED"),
            node_path: "root".into(),
            at: alga_interpreter::expr::now_iso(at_ms),
        };
        WorkflowActivationCompletion::from_cmds(run_id.to_owned(), vec![convert::fail_run(&error)])
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

/// What the interpreter decided for one activation.
// One value per activation, moved a few times: boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Decided {
    /// The workflow task fails (Temporal retries it).
    Failed(WorkflowActivationCompletion),
    /// Commands for core, and the projection's records.
    Commands {
        /// The run.
        run_id: String,
        /// The interpreter's commands.
        commands: Vec<Command>,
        /// The run's start input.
        start: Option<Arc<p::RunStart>>,
        /// Workflow time of the activation.
        at_ms: i64,
        /// The start input, on the activation that started the run.
        started: Option<p::RunStart>,
        /// A child's parent and root, on the activation that started it.
        lineage: Option<Lineage>,
    },
}

/// Turns decided commands into core's completion and the read model's batch: it reads the
/// definitions of the children the commands start, then converts them (with no IO), never
/// touching the run cache.
pub struct Completer {
    task_queue: String,
    namespace: String,
    definitions: DefinitionLookup,
    timeouts: super::ActivityTimeouts,
    action_queues: std::collections::BTreeMap<String, String>,
}

impl Completer {
    /// The completion and batch of `decided`.
    pub async fn complete(
        &self,
        decided: Decided,
    ) -> (WorkflowActivationCompletion, Option<Batch>) {
        let (run_id, commands, start, at_ms, started, lineage) = match decided {
            Decided::Failed(completion) => return (completion, None),
            Decided::Commands {
                run_id,
                commands,
                start,
                at_ms,
                started,
                lineage,
            } => (run_id, commands, start, at_ms, started, lineage),
        };
        let end = commands.iter().find_map(|command| match command {
            Command::CompleteRun { .. } => Some(RunEnd::Succeeded),
            Command::FailRun { error } => Some(RunEnd::Failed(
                serde_json::to_value(error).unwrap_or(Value::Null),
            )),
            Command::CancelRun => Some(RunEnd::Canceled),
            _ => None,
        });
        let tenant = start.as_ref().and_then(|s| s.tenant_id.as_deref());
        let converted = match self.definitions.for_commands(tenant, &commands).await {
            Ok(children) => convert::commands(
                commands,
                &CommandContext {
                    task_queue: &self.task_queue,
                    namespace: &self.namespace,
                    start: start.as_deref(),
                    children: &children,
                    timeouts: self.timeouts,
                    action_queues: &self.action_queues,
                },
            ),
            Err(message) => Err(message),
        };
        let (variants, records) = match converted {
            Ok(converted) => converted,
            // Nothing of the activation is completed or projected: its retry makes it again.
            Err(message) => {
                tracing::error!(run_id, %message, "workflow task failed");
                return (
                    WorkflowActivationCompletion::fail(
                        run_id,
                        ApiFailure {
                            message,
                            source: "alga-wf".into(),
                            ..Default::default()
                        },
                        None,
                    ),
                    None,
                );
            }
        };
        let batch = start.as_ref().map(|start| Batch {
            run_id: start.run_id.clone(),
            at_ms,
            records,
            end,
            started,
            lineage,
        });
        (
            WorkflowActivationCompletion::from_cmds(run_id, variants),
            batch,
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
