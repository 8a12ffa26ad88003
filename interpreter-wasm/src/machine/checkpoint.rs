//! Continue-as-new (dsl-semantics §9.5, fixed): at a step boundary, once history is large, the
//! run ends this execution with a checkpoint that the next execution resumes from exactly.
//! Unlike the reference engine, it never fails the run, and buffered signals travel with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::protocol::{Command, RunStart};
use super::run::Run;
use super::state::{BufferedSignal, Frame, FrameKind};
use crate::definition::Definition;
use crate::error::{Failure, category};
use crate::scope::Scopes;

/// What a continued run carries over: everything but in-flight operations and sequence numbers
/// (which restart with each execution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Blocks being executed.
    pub frames: Vec<Frame>,
    /// The run's data.
    pub scopes: Scopes,
    /// Completed steps so far.
    pub step_count: u64,
    /// Signals not yet consumed.
    pub signals: Vec<BufferedSignal>,
    /// Buffered signals dropped so far.
    #[serde(default)]
    pub signals_dropped: u64,
    /// The ids of the most recent events received.
    #[serde(default)]
    pub event_ids: std::collections::VecDeque<String>,
    /// Step executions so far, by path.
    pub executions: BTreeMap<String, u32>,
    /// Executions of this run so far, the first one included.
    pub continued: u32,
}

/// Steps one execution runs before it continues as new, whatever its history holds. Steps that
/// wait for nothing (a loop of assignments) add no history, so without this bound a long loop
/// ran in one activation until the activation's fuel ran out and the run failed; and a worker
/// that lost the run from its cache would replay every step of the execution to rebuild it.
/// With it, an activation runs at most this many steps (about a second of a core inside wasm,
/// well inside the default fuel) and a replay re-runs at most as many. Continuing as new, not a
/// short timer, because it also bounds what a replay re-runs, at the same few history events.
pub const STEPS_PER_EXECUTION: u64 = 10_000;

impl Run {
    /// At a step boundary: has this execution's history grown past the threshold (or does
    /// Temporal suggest it, or has it run [`STEPS_PER_EXECUTION`] steps), after the run made
    /// progress in this execution?
    pub(super) fn should_continue_as_new(&self) -> bool {
        let events = self.start.continue_as_new_after_events;
        let bytes = self.start.continue_as_new_after_bytes;
        self.steps_this_run > 0
            && self.state.pending.is_none()
            && (self.facts.continue_as_new_suggested
                || self.steps_this_run >= STEPS_PER_EXECUTION
                || events > 0 && self.facts.history_length >= events
                || bytes > 0 && self.facts.history_size_bytes >= bytes)
    }

    pub(super) fn continue_as_new(&mut self) {
        let continued = self
            .start
            .checkpoint
            .as_ref()
            .and_then(|c| c.get("continued"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1) as u32;
        let checkpoint = Checkpoint {
            frames: self.state.frames.clone(),
            scopes: self.state.scopes.clone(),
            step_count: self.state.step_count,
            signals: self.state.signals.clone(),
            signals_dropped: self.state.signals_dropped,
            event_ids: self.state.event_ids.clone(),
            executions: self.state.executions.clone(),
            continued: continued + 1,
        };
        let mut next: RunStart = self.start.clone();
        next.checkpoint = serde_json::to_value(&checkpoint).ok();
        self.out.push(Command::ContinueAsNew(Box::new(next)));
        self.finished = true;
    }

    /// Restores a checkpoint, checking that it fits the definition.
    pub(super) fn resume_checkpoint(
        &mut self,
        checkpoint: &serde_json::Value,
        definition: &Definition,
    ) -> Result<(), Failure> {
        let corrupt = |why: String| Failure::new(category::CORRUPTION, why);
        let checkpoint: Checkpoint = serde_json::from_value(checkpoint.clone())
            .map_err(|e| corrupt(format!("the continue-as-new checkpoint is unreadable: {e}")))?;
        for frame in &checkpoint.frames {
            let fits = definition
                .block(&frame.block)
                .is_some_and(|steps| frame.next <= steps.len());
            if !fits {
                return Err(corrupt(format!(
                    "the checkpoint's frame {} does not fit the definition",
                    frame.block.path()
                )));
            }
            if let FrameKind::Loop(state) = &frame.kind
                && state.index >= state.items.len()
            {
                return Err(corrupt(format!(
                    "the checkpoint's loop {} is past its end",
                    state.step_path
                )));
            }
        }
        self.state.frames = checkpoint.frames;
        self.state.scopes = checkpoint.scopes;
        self.state.step_count = checkpoint.step_count;
        self.state.signals = checkpoint.signals;
        self.state.signals_dropped = checkpoint.signals_dropped;
        self.state.event_ids = checkpoint.event_ids;
        self.state.executions = checkpoint.executions;
        Ok(())
    }
}
