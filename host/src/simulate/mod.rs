//! `alga-wf simulate`: a run of the real interpreter component against a scripted world, with
//! a virtual clock, driven the way Temporal drives it (activations in, commands out).

mod report;
mod scenario;
mod world;

pub use report::{Report, ReportError, RunStatus};
pub use scenario::{INVALID_SCENARIO, Scenario};

use std::collections::{BTreeMap, VecDeque};

use alga_interpreter::canonical::definition_hash;
use alga_interpreter::definition::{Issue, Severity};
use alga_interpreter::error::{Failure, RuntimeError};
use alga_interpreter::expr::now_iso;
use alga_interpreter::machine::protocol::*;
use alga_interpreter::machine::queries;
use serde_json::{Value, json};

use crate::engine::{EngineError, InterpreterEngine, RunInstance};
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
}

/// Category of a run ended by a trap or fuel exhaustion inside the interpreter.
pub const INTERPRETER_TRAP: &str = "InterpreterTrap";

/// Runs a scenario (already parsed) through `engine`.
pub fn simulate(engine: &InterpreterEngine, scenario: &Scenario) -> Result<Report, SimulateError> {
    let issues = engine.validate(&scenario.definition, None)?;
    let (errors, warnings): (Vec<Issue>, Vec<Issue>) = issues
        .into_iter()
        .partition(|i| i.severity == Severity::Error);
    if !errors.is_empty() {
        return Ok(Report::invalid(errors, warnings));
    }
    Driver::new(engine, scenario)?.run()
}

/// The simulated Temporal: timers on a virtual clock, activities executed by the world,
/// stimuli delivered in order.
struct Driver<'a> {
    scenario: &'a Scenario,
    instance: RunInstance,
    world: World<'a>,
    report: Report,
    clock_ms: i64,
    timers: BTreeMap<u32, i64>,
    activities: Vec<ActivityRequest>,
    stimuli: VecDeque<Stimulus>,
    history_length: u32,
    terminal: bool,
    trapped: bool,
}

impl<'a> Driver<'a> {
    fn new(engine: &InterpreterEngine, scenario: &'a Scenario) -> Result<Self, SimulateError> {
        Ok(Driver {
            scenario,
            instance: engine.instantiate()?,
            world: World::new(scenario),
            report: Report::new(),
            clock_ms: scenario.start_ms,
            timers: BTreeMap::new(),
            activities: Vec::new(),
            stimuli: scenario.stimuli.iter().cloned().collect(),
            history_length: 0,
            terminal: false,
            trapped: false,
        })
    }

    fn start_job(&self, engine_version: String) -> Job {
        let definition = &self.scenario.definition;
        Job::Start(Box::new(RunStart {
            run_id: self.scenario.run_id.clone(),
            tenant_id: Some(self.scenario.tenant_id.clone()),
            workflow_id: definition["id"].as_str().unwrap_or_default().to_owned(),
            workflow_version: definition["version"].as_u64().unwrap_or(1) as u32,
            definition: definition.clone(),
            definition_hash: definition_hash(definition),
            runtime_semantics_version: engine_version,
            payload: self.scenario.payload.clone(),
            trigger_type: None,
            execution_key: format!("simulate-{}", self.scenario.run_id),
            meta: None,
            activity_actions: self.scenario.actions.keys().cloned().collect(),
            checkpoint: None,
            continue_as_new_after_events: 0,
        }))
    }

    fn run(mut self) -> Result<Report, SimulateError> {
        let version = self.instance.semantics_version()?;
        let mut jobs = vec![self.start_job(version)];
        loop {
            if self.report.activations >= self.scenario.max_activations {
                return Err(SimulateError::TooManyActivations(
                    self.scenario.max_activations,
                ));
            }
            if !self.activate(jobs)? || self.terminal {
                break;
            }
            jobs = self.next_jobs();
            if jobs.is_empty() {
                self.report.status = RunStatus::Waiting;
                self.report.close_open_steps();
                break;
            }
        }
        if !self.trapped && self.report.scopes.is_null() {
            self.report.scopes = self.query_scopes()?;
        }
        self.report.virtual_elapsed_ms = (self.clock_ms - self.scenario.start_ms).max(0) as u64;
        Ok(self.report)
    }

    /// Sends one activation; false when the interpreter trapped (the run failed).
    fn activate(&mut self, jobs: Vec<Job>) -> Result<bool, SimulateError> {
        self.report.activations += 1;
        let activation = Activation {
            workflow_time_ms: self.clock_ms,
            is_replaying: false,
            history_length: self.history_length,
            history_size_bytes: 0,
            continue_as_new_suggested: false,
            jobs,
        };
        self.history_length += 3;
        let commands = match self.instance.activate(&activation) {
            Ok(commands) => commands,
            Err(e @ (EngineError::OutOfFuel(_) | EngineError::Trap(_))) => {
                self.trapped(&e);
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        for command in commands {
            self.apply(command);
        }
        Ok(true)
    }

    fn trapped(&mut self, error: &EngineError) {
        self.report.status = RunStatus::Failed;
        let node_path = self
            .report
            .steps
            .iter()
            .rev()
            .find(|s| s.status == StepStatus::Started)
            .map(|s| s.path.clone())
            .unwrap_or_else(|| "root".into());
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
            Command::StartChild(_) | Command::CancelChild { .. } => {}
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
        let node_path = self
            .report
            .steps
            .iter()
            .rev()
            .find(|s| s.status == StepStatus::Canceled)
            .map(|s| s.path.clone())
            .unwrap_or_else(|| "root".into());
        ReportError::from(&RuntimeError {
            failure: Failure::new(
                alga_interpreter::error::category::CANCELLATION,
                "Workflow run was cancelled",
            ),
            node_path,
            at: now_iso(self.clock_ms),
        })
    }

    /// What happens next: activities finish, then stimuli and timers in virtual-time order.
    fn next_jobs(&mut self) -> Vec<Job> {
        if !self.activities.is_empty() {
            let activities = std::mem::take(&mut self.activities);
            let mut jobs = Vec::new();
            for request in activities {
                match self.world.execute(&request, self.clock_ms) {
                    Some(outcome) => jobs.push(Job::ActivityResolved {
                        seq: request.seq,
                        outcome,
                    }),
                    None => return vec![Job::CancelRequested("cancelled by the scenario".into())],
                }
            }
            return jobs;
        }
        let next_timer = self.timers.iter().map(|(seq, due)| (*due, *seq)).min();
        match self.stimuli.front().map(|s| s.at_ms) {
            Some(None) => {
                let stimulus = self.stimuli.pop_front();
                return stimulus.map(|s| vec![self.deliver(s)]).unwrap_or_default();
            }
            Some(Some(at_ms)) => {
                let due = self.scenario.start_ms + at_ms as i64;
                if next_timer.is_none_or(|(timer_due, _)| timer_due > due) {
                    self.clock_ms = self.clock_ms.max(due);
                    let stimulus = self.stimuli.pop_front();
                    return stimulus.map(|s| vec![self.deliver(s)]).unwrap_or_default();
                }
            }
            None => {}
        }
        let Some((due, _)) = next_timer else {
            return Vec::new();
        };
        self.clock_ms = self.clock_ms.max(due);
        let fired: Vec<u32> = self
            .timers
            .iter()
            .filter(|(_, d)| **d <= due)
            .map(|(seq, _)| *seq)
            .collect();
        fired
            .into_iter()
            .map(|seq| {
                self.timers.remove(&seq);
                Job::TimerFired(seq)
            })
            .collect()
    }

    fn deliver(&mut self, stimulus: Stimulus) -> Job {
        match stimulus.kind {
            StimulusKind::Event {
                event_name,
                correlation_key,
                payload,
                event_id,
            } => Job::Signal {
                name: "workflowRuntimeV2Event".into(),
                payload: json!({
                    "eventId": event_id,
                    "eventName": event_name,
                    "correlationKey": correlation_key,
                    "payload": payload,
                    "receivedAt": now_iso(self.clock_ms),
                }),
            },
            StimulusKind::HumanTask { task_id, response } => Job::Signal {
                name: "workflowRuntimeV2HumanTask".into(),
                payload: json!({
                    "taskId": task_id.or_else(|| self.open_task()).unwrap_or_default(),
                    "eventName": "HUMAN_TASK_COMPLETED",
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
        let activation = Activation {
            workflow_time_ms: self.clock_ms,
            is_replaying: false,
            history_length: self.history_length,
            history_size_bytes: 0,
            continue_as_new_suggested: false,
            jobs: vec![Job::Query {
                id: "scopes".into(),
                name: queries::SCOPES.into(),
                args: json!([]),
            }],
        };
        let commands = match self.instance.activate(&activation) {
            Ok(commands) => commands,
            Err(EngineError::OutOfFuel(_) | EngineError::Trap(_)) => return Ok(Value::Null),
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
