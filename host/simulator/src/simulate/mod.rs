//! `alga-wf simulate`: a run of the real interpreter component against a scripted world, with
//! a virtual clock, driven the way Temporal drives it (activations in, commands out).
//!
//! Slightly over 600 lines: the `Driver` is one object standing in for Temporal (commands
//! applied, the next jobs chosen, children run, stimuli delivered), and its methods share its
//! clock and queues; the scenario, the report and the scripted world are modules of their own.

#[cfg(test)]
mod audit_tests;
mod report;
mod scenario;
mod world;

pub use report::{ChildReport, Report, ReportError, RunStatus};
pub use scenario::{INVALID_SCENARIO, Scenario, parse_scripted_actions};

use std::collections::{BTreeMap, VecDeque};

use alga_interpreter::expr::now_iso;
use alga_protocol::error::{Failure, RuntimeError, category};
use alga_protocol::names as queries;
use alga_protocol::names::{EVENT_SIGNAL, HUMAN_TASK_COMPLETED, HUMAN_TASK_SIGNAL};
use alga_protocol::protocol::*;
use alga_protocol::{Issue, Severity};
use serde_json::{Value, json};

use crate::engine::EngineError;
use crate::runtime::{Interpreter, Runtime};
use scenario::{Stimulus, StimulusKind};
use world::World;

/// Why a simulation could not produce a run report.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The engine failed outside the run's own semantics.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The run needed more activations than the scenario allows.
    #[error("the run needed more than {0} activations (maxActivations)")]
    TooManyActivations(u64),
    /// Rebuilt from its activations, the run decided differently: the interpreter is not
    /// replay-pure.
    #[error(
        "replaying activation {activation} of {run_id} in a fresh instance gave other commands\n  first time: {expected}\n  on replay:  {actual}"
    )]
    Nondeterministic {
        /// The run.
        run_id: String,
        /// The activation's number in its execution (1-based).
        activation: usize,
        /// Its commands the first time (JSON).
        expected: String,
        /// Its commands on replay (JSON).
        actual: String,
    },
}

pub use alga_protocol::error::category::INTERPRETER_TRAP;

/// Child runs nest at most this deep (a workflow calling itself would otherwise never end).
const MAX_CHILD_DEPTH: usize = 16;

/// A finished simulation: the report, and each continue-as-new point the run went through.
pub struct Simulation {
    /// The report.
    pub report: Report,
    /// Every continue-as-new, in order.
    pub checkpoints: Vec<CheckpointAt>,
    /// The world as the run left it (a child's script consumption carries over to its parent).
    world: World,
    /// The run's system fields, which a parent reads with a finished child's scopes.
    system: Value,
}

/// A continue-as-new point: the next execution's input and the simulated world at that time,
/// enough to resume the scenario from there.
#[derive(Clone)]
pub struct CheckpointAt {
    /// The continued execution's start input (checkpoint included).
    pub start: RunStart,
    /// Stimuli delivered before it.
    pub stimuli_delivered: usize,
    /// Virtual time.
    pub clock_ms: i64,
    /// Steps the report had listed before it.
    pub steps_before: usize,
    /// Action attempts the report had listed before it.
    pub actions_before: usize,
    world: World,
}

/// Runs a scenario (already parsed) through `runtime`.
pub fn simulate<R: Runtime>(runtime: &R, scenario: &Scenario) -> Result<Report, SimulateError> {
    Ok(simulate_with_checkpoints(runtime, scenario)?.report)
}

/// Runs a scenario and also returns the continue-as-new checkpoints it went through.
pub fn simulate_with_checkpoints<R: Runtime>(
    runtime: &R,
    scenario: &Scenario,
) -> Result<Simulation, SimulateError> {
    simulate_run(runtime, scenario, RunSetup::root(scenario), 0)
}

/// Resumes a scenario from a continue-as-new point, as a fresh process would: the world as it
/// was then, the stimuli not yet delivered, the virtual clock where it stood.
pub fn simulate_from_checkpoint<R: Runtime>(
    runtime: &R,
    scenario: &Scenario,
    checkpoint: &CheckpointAt,
) -> Result<Simulation, SimulateError> {
    let mut setup = RunSetup::root(scenario);
    setup.start = Some(checkpoint.start.clone());
    setup.stimuli = scenario
        .stimuli
        .iter()
        .skip(checkpoint.stimuli_delivered)
        .cloned()
        .collect();
    setup.stimuli_offset = checkpoint.stimuli_delivered;
    setup.clock_ms = checkpoint.clock_ms;
    setup.world = Some(checkpoint.world.clone());
    simulate_run(runtime, scenario, setup, 0)
}

/// What one (root or child) run starts from.
#[derive(Clone)]
struct RunSetup {
    definition: Value,
    payload: Value,
    run_id: String,
    clock_ms: i64,
    stimuli: VecDeque<Stimulus>,
    /// Stimuli of the scenario delivered before this setup's first.
    stimuli_offset: usize,
    /// Resume from this input instead of starting fresh.
    start: Option<RunStart>,
    /// Resume with this world instead of a fresh one.
    world: Option<World>,
}

impl RunSetup {
    fn root(scenario: &Scenario) -> Self {
        RunSetup {
            definition: scenario.definition.clone(),
            payload: scenario.payload.clone(),
            run_id: scenario.run_id.clone(),
            clock_ms: scenario.start_ms,
            stimuli: scenario.stimuli.iter().cloned().collect(),
            stimuli_offset: 0,
            start: None,
            world: None,
        }
    }
}

fn simulate_run<R: Runtime>(
    runtime: &R,
    scenario: &Scenario,
    setup: RunSetup,
    depth: usize,
) -> Result<Simulation, SimulateError> {
    let issues = runtime.validate(&setup.definition, None)?;
    let (errors, warnings): (Vec<Issue>, Vec<Issue>) = issues
        .into_iter()
        .partition(|i| i.severity == Severity::Error);
    if !errors.is_empty() {
        return Ok(Simulation {
            report: Report::invalid(errors, warnings),
            checkpoints: Vec::new(),
            world: setup.world.unwrap_or_default(),
            system: Value::Null,
        });
    }
    Driver::new(runtime, scenario, setup, depth)?.run()
}

/// The simulated Temporal: timers on a virtual clock, activities executed by the world,
/// children run as nested simulations, stimuli delivered in order.
struct Driver<'a, R: Runtime> {
    runtime: &'a R,
    scenario: &'a Scenario,
    setup: RunSetup,
    depth: usize,
    instance: R::Instance,
    world: World,
    report: Report,
    checkpoints: Vec<CheckpointAt>,
    stimuli_delivered: usize,
    start_ms: i64,
    clock_ms: i64,
    timers: BTreeMap<u32, i64>,
    activities: Vec<ActivityRequest>,
    children: Vec<ChildRequest>,
    history_length: u32,
    terminal: bool,
    trapped: bool,
    /// This execution's activations and their commands, kept for the replay audit.
    replay_log: Vec<(Activation, Vec<Command>)>,
}

impl<'a, R: Runtime> Driver<'a, R> {
    fn new(
        runtime: &'a R,
        scenario: &'a Scenario,
        setup: RunSetup,
        depth: usize,
    ) -> Result<Self, SimulateError> {
        Ok(Driver {
            runtime,
            scenario,
            depth,
            instance: runtime.instantiate()?,
            world: setup.world.clone().unwrap_or_default(),
            report: Report::new(),
            checkpoints: Vec::new(),
            stimuli_delivered: setup.stimuli_offset,
            start_ms: setup.clock_ms,
            clock_ms: setup.clock_ms,
            setup,
            timers: BTreeMap::new(),
            activities: Vec::new(),
            children: Vec::new(),
            history_length: 0,
            terminal: false,
            trapped: false,
            replay_log: Vec::new(),
        })
    }

    fn start_input(&self) -> RunStart {
        if let Some(start) = &self.setup.start {
            return start.clone();
        }
        let definition = &self.setup.definition;
        let mut forced: Vec<String> = self.scenario.actions.keys().cloned().collect();
        forced.sort();
        RunStart {
            tenant_id: Some(self.scenario.tenant_id.clone()),
            execution_key: format!("simulate-{}", self.setup.run_id),
            activity_actions: forced,
            continue_as_new_after_events: self.scenario.continue_as_new_after_events,
            ..RunStart::pinned(
                self.setup.run_id.clone(),
                definition["id"].as_str().unwrap_or_default(),
                definition["version"].as_u64().unwrap_or(1) as u32,
                definition.clone(),
                self.setup.payload.clone(),
                &self.runtime.semantics_version(),
            )
        }
    }

    fn run(mut self) -> Result<Simulation, SimulateError> {
        let mut jobs = vec![Job::Start(Box::new(self.start_input()))];
        loop {
            if self.report.activations >= self.scenario.max_activations {
                return Err(SimulateError::TooManyActivations(
                    self.scenario.max_activations,
                ));
            }
            let next_start = self.activate(jobs)?;
            if let Some(next) = next_start {
                self.continue_as_new(&next)?;
                jobs = vec![Job::Start(Box::new(next))];
                continue;
            }
            if self.terminal {
                break;
            }
            jobs = self.next_jobs()?;
            if jobs.is_empty() {
                self.report.status = RunStatus::Waiting;
                self.report.close_open_steps();
                break;
            }
        }
        if !self.trapped && self.report.scopes.is_null() {
            self.report.scopes = self.query_scopes()?;
        }
        self.report.virtual_elapsed_ms = (self.clock_ms - self.start_ms).max(0) as u64;
        let system = self.start_input().system_fields();
        Ok(Simulation {
            report: self.report,
            checkpoints: self.checkpoints,
            world: self.world,
            system,
        })
    }

    /// A new execution of the run from a checkpoint, as Temporal's continue-as-new does.
    fn continue_as_new(&mut self, next: &RunStart) -> Result<(), SimulateError> {
        self.checkpoints.push(CheckpointAt {
            start: next.clone(),
            stimuli_delivered: self.stimuli_delivered,
            clock_ms: self.clock_ms,
            steps_before: self.report.steps.len(),
            actions_before: self.report.actions.len(),
            world: self.world.clone(),
        });
        self.report.continued_as_new += 1;
        self.instance = self.runtime.instantiate()?;
        self.timers.clear();
        self.activities.clear();
        self.children.clear();
        self.history_length = 0;
        self.replay_log.clear();
        Ok(())
    }

    /// An activation at the virtual clock's time.
    fn activation(&self, jobs: Vec<Job>) -> Activation {
        Activation {
            workflow_time_ms: self.clock_ms,
            is_replaying: false,
            history_length: self.history_length,
            history_size_bytes: 0,
            continue_as_new_suggested: false,
            jobs,
        }
    }

    /// Sends one activation; returns the continue-as-new input if the run continued as new.
    fn activate(&mut self, jobs: Vec<Job>) -> Result<Option<RunStart>, SimulateError> {
        self.report.activations += 1;
        let activation = self.activation(jobs);
        self.history_length += 3;
        let commands = match self.instance.activate(&activation) {
            Ok(commands) => commands,
            Err(e) if e.is_guest_trap() => {
                self.trapped(&e);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if self.scenario.audit_replay {
            self.replay_log.push((activation, commands.clone()));
            self.audit_replay()?;
        }
        let mut next = None;
        for command in commands {
            if let Command::ContinueAsNew(start) = command {
                next = Some(*start);
            } else {
                self.apply(command);
            }
        }
        Ok(next)
    }

    /// Rebuilds the run in a fresh instance from this execution's activations (all but the
    /// last marked as replaying) and requires each to give the commands it gave first.
    fn audit_replay(&self) -> Result<(), SimulateError> {
        let mut fresh = self.runtime.instantiate()?;
        let last = self.replay_log.len();
        for (i, (activation, expected)) in self.replay_log.iter().enumerate() {
            let mut replayed = activation.clone();
            replayed.is_replaying = i + 1 < last;
            let actual = fresh.activate(&replayed)?;
            if actual != *expected {
                let text =
                    |commands: &[Command]| serde_json::to_string(commands).unwrap_or_default();
                return Err(SimulateError::Nondeterministic {
                    run_id: self.setup.run_id.clone(),
                    activation: i + 1,
                    expected: text(expected),
                    actual: text(&actual),
                });
            }
        }
        Ok(())
    }

    fn trapped(&mut self, error: &EngineError) {
        self.report.status = RunStatus::Failed;
        let node_path = self.report.last_step_path(StepStatus::Started);
        self.report.close_open_steps();
        self.report.error = Some(ReportError {
            category: INTERPRETER_TRAP.into(),
            message: error.to_string(),
            node_path,
            code: None,
            details: None,
        });
        self.trapped = true;
        self.terminal = true;
    }

    fn apply(&mut self, command: Command) {
        if !matches!(command, Command::Record(_)) {
            self.history_length += 1;
        }
        match command {
            Command::Record(event) => self.report.record(event),
            Command::StartTimer { seq, duration_ms } => {
                self.timers.insert(seq, self.clock_ms + duration_ms as i64);
            }
            Command::CancelTimer { seq } => {
                self.timers.remove(&seq);
            }
            Command::ScheduleActivity(request) => self.activities.push(request),
            Command::RequestCancelActivity { seq } => self.activities.retain(|a| a.seq != seq),
            Command::StartChild(request) => self.children.push(request),
            Command::CancelChild { seq } => self.children.retain(|c| c.seq != seq),
            Command::RespondQuery { .. } | Command::RespondUpdate { .. } => {}
            Command::CompleteRun { result } => {
                self.report.status = RunStatus::Succeeded;
                self.report.scopes = result;
                self.terminal = true;
            }
            Command::FailRun { error } => {
                self.report.status = RunStatus::Failed;
                self.report.error = Some(ReportError::from(&error));
                self.terminal = true;
            }
            Command::CancelRun => {
                self.report.status = RunStatus::Canceled;
                self.report.error = Some(self.cancellation_error());
                self.terminal = true;
            }
            Command::ContinueAsNew(_) => {}
        }
    }

    fn cancellation_error(&self) -> ReportError {
        let node_path = self.report.last_step_path(StepStatus::Canceled);
        ReportError::from(&RuntimeError {
            failure: Failure::new(category::CANCELLATION, "Workflow run was cancelled"),
            node_path,
            at: now_iso(self.clock_ms),
        })
    }

    /// What happens next: activities finish, children run, then stimuli and timers in
    /// virtual-time order.
    fn next_jobs(&mut self) -> Result<Vec<Job>, SimulateError> {
        if !self.activities.is_empty() {
            let activities = std::mem::take(&mut self.activities);
            let mut jobs = Vec::new();
            for request in activities {
                match self.world.execute(self.scenario, &request, self.clock_ms) {
                    Some(outcome) => jobs.push(Job::ActivityResolved {
                        seq: request.seq,
                        outcome,
                        attempt: None,
                    }),
                    None => {
                        // The attempt was under way when the request came: it is in the
                        // report, cancelled, as an activity Temporal cancelled would be.
                        if let ActivityKind::Action(invocation) = &request.kind {
                            self.report.actions.push(report::ActionEntry {
                                step_path: invocation.step_path.clone(),
                                action_id: invocation.action_id.clone(),
                                version: invocation.action_version,
                                attempt: invocation.attempt,
                                input: invocation.input.clone(),
                                idempotency_key: invocation.idempotency_key.clone(),
                                outcome: "cancelled",
                                inline: false,
                                error: None,
                            });
                        }
                        return Ok(vec![Job::CancelRequested(
                            "cancelled by the scenario".into(),
                        )]);
                    }
                }
            }
            return Ok(jobs);
        }
        if let Some(request) = self.children.first().cloned()
            && let Some(outcome) = self.run_child(&request)?
        {
            self.children.remove(0);
            // Only the scenario's cancellation request cancels a child, and that request is the
            // run's: cancelling a run cancels its children (the worker asks them to), so the
            // parent is cancelled too rather than told its child failed.
            if outcome == ActivityOutcome::Cancelled {
                return Ok(vec![Job::CancelRequested(
                    "cancelled by the scenario".into(),
                )]);
            }
            return Ok(vec![Job::ChildResolved {
                seq: request.seq,
                outcome,
            }]);
        }
        let next_timer = self.timers.iter().map(|(seq, due)| (*due, *seq)).min();
        match self.setup.stimuli.front().map(|s| s.at_ms) {
            Some(None) => {
                let stimulus = self.setup.stimuli.pop_front();
                self.stimuli_delivered += 1;
                return Ok(stimulus.map(|s| vec![self.deliver(s)]).unwrap_or_default());
            }
            Some(Some(at_ms)) => {
                let due = self.scenario.start_ms + at_ms as i64;
                if next_timer.is_none_or(|(timer_due, _)| timer_due > due) {
                    self.clock_ms = self.clock_ms.max(due);
                    let stimulus = self.setup.stimuli.pop_front();
                    self.stimuli_delivered += 1;
                    return Ok(stimulus.map(|s| vec![self.deliver(s)]).unwrap_or_default());
                }
            }
            None => {}
        }
        let Some((due, _)) = next_timer else {
            return Ok(Vec::new());
        };
        self.clock_ms = self.clock_ms.max(due);
        let fired: Vec<u32> = self
            .timers
            .iter()
            .filter(|(_, d)| **d <= due)
            .map(|(seq, _)| *seq)
            .collect();
        Ok(fired
            .into_iter()
            .map(|seq| {
                self.timers.remove(&seq);
                Job::TimerFired(seq)
            })
            .collect())
    }

    /// Runs a child to its end as a nested simulation. `None` while the child waits (it needs
    /// stimuli a child never gets, so the parent waits too).
    fn run_child(&mut self, request: &ChildRequest) -> Result<Option<ChildOutcome>, SimulateError> {
        let key = format!("{}@{}", request.workflow_id, request.workflow_version);
        let Some(definition) = self.scenario.workflows.get(&key) else {
            return Ok(Some(ActivityOutcome::Failed(Failure::new(
                category::VALIDATION,
                format!(
                    "Child workflow definition not found: {key} (add it to the scenario's `workflows`)"
                ),
            ))));
        };
        if self.depth >= MAX_CHILD_DEPTH {
            return Ok(Some(ActivityOutcome::Failed(Failure::new(
                category::CHILD_WORKFLOW,
                format!("child runs nest deeper than {MAX_CHILD_DEPTH}"),
            ))));
        }
        let setup = RunSetup {
            definition: definition.clone(),
            payload: request.payload.clone(),
            run_id: request.child_key.clone(),
            clock_ms: self.clock_ms,
            stimuli: VecDeque::new(),
            stimuli_offset: 0,
            start: None,
            world: Some(self.world.clone()),
        };
        let simulation = simulate_run(self.runtime, self.scenario, setup, self.depth + 1)?;
        self.world = simulation.world;
        let child = simulation.report;
        let outcome = match child.status {
            RunStatus::Succeeded => {
                let mut result = child.scopes.clone();
                if let Value::Object(fields) = &mut result {
                    fields.insert(
                        alga_protocol::protocol::RESULT_SYSTEM_FIELDS.into(),
                        simulation.system,
                    );
                }
                Some(ActivityOutcome::Completed(result))
            }
            RunStatus::Canceled => Some(ActivityOutcome::Cancelled),
            RunStatus::Waiting => None,
            RunStatus::Failed | RunStatus::Invalid => {
                Some(ActivityOutcome::Failed(match &child.error {
                    Some(e) => Failure {
                        category: e.category.clone(),
                        message: e.message.clone(),
                        code: e.code.clone(),
                        details: e.details.clone().map(Box::new),
                    },
                    None => Failure::new(
                        category::VALIDATION,
                        "the child workflow definition is invalid",
                    ),
                }))
            }
        };
        if outcome.is_some() {
            self.clock_ms += child.virtual_elapsed_ms as i64;
        }
        self.report.children.push(ChildReport {
            step_path: request.step_path.clone(),
            workflow_id: request.workflow_id.clone(),
            workflow_version: request.workflow_version,
            child_key: request.child_key.clone(),
            report: Box::new(child),
        });
        Ok(outcome)
    }

    fn deliver(&mut self, stimulus: Stimulus) -> Job {
        match stimulus.kind {
            StimulusKind::Event {
                event_name,
                correlation_key,
                payload,
                event_id,
            } => Job::Signal {
                name: EVENT_SIGNAL.into(),
                payload: json!({
                    "eventId": event_id,
                    "eventName": event_name,
                    "correlationKey": correlation_key,
                    "payload": payload,
                    "receivedAt": now_iso(self.clock_ms),
                }),
            },
            StimulusKind::HumanTask { task_id, response } => Job::Signal {
                name: HUMAN_TASK_SIGNAL.into(),
                payload: json!({
                    "taskId": task_id.or_else(|| self.open_task()).unwrap_or_default(),
                    "eventName": HUMAN_TASK_COMPLETED,
                    "payload": response,
                }),
            },
            StimulusKind::Cancel => Job::CancelRequested("cancelled by the scenario".into()),
        }
    }

    fn open_task(&self) -> Option<String> {
        self.report
            .waits
            .iter()
            .rev()
            .find(|w| w.kind == WaitKind::Human && w.status == WaitStatus::Waiting)
            .and_then(|w| w.task_id.clone())
    }

    fn query_scopes(&mut self) -> Result<Value, SimulateError> {
        let activation = self.activation(vec![Job::Query {
            id: "scopes".into(),
            name: queries::SCOPES.into(),
            args: json!([]),
        }]);
        let commands = match self.instance.activate(&activation) {
            Ok(commands) => commands,
            Err(e) if e.is_guest_trap() => return Ok(Value::Null),
            Err(e) => return Err(e.into()),
        };
        Ok(commands
            .into_iter()
            .find_map(|c| match c {
                Command::RespondQuery { answer: Ok(v), .. } => Some(v),
                _ => None,
            })
            .unwrap_or(Value::Null))
    }
}
