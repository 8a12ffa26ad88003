//! The interpreter as a state machine: activations in, commands out.
//!
//! [`Machine::activate`] applies an activation's jobs in order, runs the workflow until it
//! blocks (on an activity, a timer, a signal, a child) or ends, then answers queries. It reads
//! no clock and no randomness: the same jobs always give the same commands.

mod action;
mod checkpoint;
mod child;
mod email;
mod filters;
mod human;
pub mod queries;
mod resume;
mod routing;
mod run;
pub mod signals;
mod start;
mod state;
mod steps;
mod waits;

pub use alga_protocol::names::{HUMAN_TASK_NOT_OPEN_YET, HUMAN_TASK_UPDATE};
pub use alga_protocol::protocol;
pub use checkpoint::{Checkpoint, STEPS_PER_EXECUTION};
pub use protocol::*;
pub use state::{Frame, FrameKind, Pending, RunState};

use run::Run;

/// The semantics this build implements. Runs pin it at launch.
#[cfg(not(feature = "probe-semantics"))]
pub const RUNTIME_SEMANTICS_VERSION: &str = "2026-11-26.wasm.v1";

/// A deliberately different semantics (`state.set` appends `!` to the state), built only to test
/// that runs stay on the module they pinned (`probe-semantics` feature; never released).
#[cfg(feature = "probe-semantics")]
pub const RUNTIME_SEMANTICS_VERSION: &str = "2026-11-26.wasm.probe";

/// Why an activation could not be applied: host and interpreter disagree about the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// A job arrived before the run's start job.
    #[error("job `{0}` arrived before the run was started")]
    NotStarted(&'static str),
    /// A second start job.
    #[error("the run was already started")]
    AlreadyStarted,
    /// The run pinned other semantics than this module implements.
    #[error("the run pinned runtime semantics {pinned}, but this interpreter implements {loaded}")]
    WrongSemantics {
        /// What the run pinned.
        pinned: String,
        /// What this build implements.
        loaded: &'static str,
    },
    /// A resolution for a command this run never issued (nondeterminism).
    #[error("{kind} {seq} resolved, but the run is not waiting for it (nondeterminism?)")]
    UnknownSeq {
        /// timer, activity or child.
        kind: &'static str,
        /// The sequence number.
        seq: u32,
    },
}

/// One run's interpreter.
#[derive(Default)]
pub struct Machine {
    run: Option<Run>,
}

impl Machine {
    /// A machine waiting for its start job.
    pub fn new() -> Self {
        Machine::default()
    }

    /// Applies one activation and returns the commands it produced, in order.
    pub fn activate(&mut self, activation: Activation) -> Result<Vec<Command>, ActivationError> {
        let mut queries = Vec::new();
        let facts = activation_facts(&activation);
        if let Some(run) = &mut self.run {
            run.begin_activation(facts);
        }
        for job in activation.jobs {
            match job {
                Job::Start(start) => {
                    if self.run.is_some() {
                        return Err(ActivationError::AlreadyStarted);
                    }
                    self.run = Some(Run::start(*start, facts)?);
                }
                Job::Query { id, name, args } => queries.push((id, name, args)),
                other => {
                    let run = self
                        .run
                        .as_mut()
                        .ok_or(ActivationError::NotStarted(job_name(&other)))?;
                    run.apply(other)?;
                }
            }
        }
        let Some(run) = &mut self.run else {
            return Err(ActivationError::NotStarted("query"));
        };
        run.drive();
        for (id, name, args) in queries {
            run.answer_query(id, &name, &args);
        }
        Ok(run.take_commands())
    }

    /// The run's state, for inspection and checkpoints.
    pub fn state(&self) -> Option<&RunState> {
        self.run.as_ref().map(Run::state)
    }
}

/// The facts of an activation the run keeps between jobs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActivationFacts {
    pub now_ms: i64,
    pub history_length: u32,
    pub history_size_bytes: u64,
    pub continue_as_new_suggested: bool,
}

fn activation_facts(a: &Activation) -> ActivationFacts {
    ActivationFacts {
        now_ms: a.workflow_time_ms,
        history_length: a.history_length,
        history_size_bytes: a.history_size_bytes,
        continue_as_new_suggested: a.continue_as_new_suggested,
    }
}

fn job_name(job: &Job) -> &'static str {
    match job {
        Job::Start(_) => "start",
        Job::TimerFired(_) => "timer-fired",
        Job::ActivityResolved { .. } => "activity-resolved",
        Job::ChildResolved { .. } => "child-resolved",
        Job::Signal { .. } => "signal",
        Job::Query { .. } => "query",
        Job::Update { .. } => "update",
        Job::CancelRequested(_) => "cancel-requested",
    }
}
