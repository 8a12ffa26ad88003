//! A started run: the drive loop, frame navigation and the run's end.

use std::sync::Arc;

use serde_json::Value;

use super::protocol::*;
use super::state::{Frame, FrameKind, LoopState, Pending, RunState};
use super::{ActivationError, ActivationFacts};
use crate::definition::{BlockAddr, Definition, Step};
use crate::error::{Failure, RuntimeError, category};
use crate::expr::{Evaluator, now_iso};
use crate::scope::{InterpreterTarget, Scopes};

/// What a step did.
pub(super) enum Flow {
    /// The step completed; `handled` is an error onError-continue absorbed.
    Done {
        attempt: u32,
        handled: Option<RuntimeError>,
    },
    /// The step completed and its child block runs next.
    Enter(Frame),
    /// The step waits for a job (`state.pending` is set).
    Blocked,
    /// The step failed after its own retries and onError.
    Failed(Failure, u32),
    /// `control.return`: the run ends successfully.
    Return,
}

/// A started run.
pub(crate) struct Run {
    pub start: RunStart,
    /// None when the start input was unusable (the run failed at once).
    pub definition: Option<Arc<Definition>>,
    pub state: RunState,
    pub finished: bool,
    pub exprs: Evaluator,
    pub facts: ActivationFacts,
    pub out: Vec<Command>,
    /// Steps started since this execution began (a continued run must progress before it
    /// may continue as new again).
    pub steps_this_run: u64,
}

impl Run {
    pub fn state(&self) -> &RunState {
        &self.state
    }

    pub fn begin_activation(&mut self, facts: ActivationFacts) {
        self.facts = facts;
    }

    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.out)
    }

    /// Workflow time as ISO-8601.
    pub fn now_iso(&self) -> String {
        now_iso(self.facts.now_ms)
    }

    pub fn record(&mut self, event: RunEvent) {
        self.out.push(Command::Record(event));
    }

    /// How many times `path` has started in this run (0 before its first start).
    pub fn execution(&self, path: &str) -> u32 {
        self.state.executions.get(path).copied().unwrap_or(0)
    }

    /// Applies a non-start, non-query job.
    pub fn apply(&mut self, job: Job) -> Result<(), ActivationError> {
        if self.finished {
            return Ok(());
        }
        match job {
            Job::TimerFired(seq) => self.timer_fired(seq),
            Job::ActivityResolved {
                seq,
                outcome,
                attempt,
            } => self.activity_resolved(seq, outcome, attempt),
            Job::ChildResolved { seq, outcome } => self.child_resolved(seq, outcome),
            Job::Signal { name, payload } => {
                self.signal_received(name, payload);
                Ok(())
            }
            Job::Update {
                id,
                name,
                args,
                run_validator,
            } => {
                self.update_received(id, &name, &args, run_validator);
                Ok(())
            }
            Job::CancelRequested(_) => {
                self.cancel();
                Ok(())
            }
            Job::Start(_) | Job::Query { .. } => Ok(()),
        }
    }

    /// Runs steps until the run blocks or ends, continuing as new at a step boundary when the
    /// history has grown past the run's threshold.
    pub fn drive(&mut self) {
        while !self.finished && self.state.pending.is_none() {
            match self.position() {
                None => self.complete(),
                Some(_) if self.should_continue_as_new() => self.continue_as_new(),
                Some((block, index)) => self.execute(block, index),
            }
        }
    }

    /// The block and index of the step to run next, if any.
    pub fn position(&self) -> Option<(BlockAddr, usize)> {
        self.state
            .frames
            .last()
            .map(|frame| (frame.block.clone(), frame.next))
    }

    /// The current step's path.
    pub fn current_path(&self) -> Option<String> {
        self.position().map(|(block, index)| block.step_path(index))
    }

    fn definition(&self) -> Arc<Definition> {
        self.definition.clone().unwrap_or_else(|| {
            Arc::new(Definition {
                id: String::new(),
                version: 0,
                name: String::new(),
                description: None,
                payload_schema_ref: String::new(),
                trigger: None,
                steps: Vec::new(),
            })
        })
    }

    fn execute(&mut self, block: BlockAddr, index: usize) {
        let definition = self.definition();
        let path = block.step_path(index);
        let Some(step) = definition.block(&block).and_then(|steps| steps.get(index)) else {
            let error = Failure::new(
                category::CORRUPTION,
                format!("no step at {path}: the interpreter state does not fit the definition"),
            )
            .at(&path, &self.now_iso());
            self.fail_run(error);
            return;
        };
        let execution = match self.state.executions.get_mut(&path) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => {
                self.state.executions.insert(path.clone(), 1);
                1
            }
        };
        self.steps_this_run += 1;
        self.record(RunEvent::StepStarted {
            path: path.clone(),
            execution,
            step_id: step.id.clone(),
            step_type: step.step_type.clone(),
            attempt: 1,
        });
        let flow = self.run_step(step, &block, index, &path);
        self.follow(flow, &path);
    }

    /// Carries out what a step did.
    pub fn follow(&mut self, flow: Flow, path: &str) {
        match flow {
            Flow::Blocked => {}
            Flow::Done { attempt, handled } => {
                self.finish_step(path, StepStatus::Succeeded, attempt, handled);
                self.state.step_count += 1;
                self.advance();
            }
            Flow::Enter(frame) => {
                self.finish_step(path, StepStatus::Succeeded, 1, None);
                self.state.step_count += 1;
                if let Some(top) = self.state.frames.last_mut() {
                    top.next += 1;
                }
                self.state.frames.push(frame);
                self.settle();
            }
            Flow::Failed(failure, attempt) => {
                let error = failure.at(path, &self.now_iso());
                self.route_failure(error, attempt);
            }
            Flow::Return => {
                self.finish_step(path, StepStatus::Succeeded, 1, None);
                self.unwind_to(0);
                self.complete();
            }
        }
    }

    pub fn finish_step(
        &mut self,
        path: &str,
        status: StepStatus,
        attempt: u32,
        error: Option<RuntimeError>,
    ) {
        self.record(RunEvent::StepFinished {
            path: path.to_owned(),
            execution: self.execution(path),
            status,
            attempt,
            error,
        });
    }

    /// Moves past the current step.
    pub fn advance(&mut self) {
        if let Some(top) = self.state.frames.last_mut() {
            top.next += 1;
        }
        self.settle();
    }

    /// Pops exhausted frames, moving loops to their next item or finishing them.
    pub fn settle(&mut self) {
        let definition = self.definition();
        while let Some(top) = self.state.frames.last_mut() {
            let len = definition.block(&top.block).map_or(0, <[Step]>::len);
            if top.next < len {
                return;
            }
            if let FrameKind::Loop(state) = &mut top.kind
                && state.index + 1 < state.items.len()
            {
                state.index += 1;
                top.next = 0;
                // Borrowed, not cloned: the items are the loop's whole input, and copying them
                // per iteration made a loop quadratic in its length.
                bind_item(&mut self.state.scopes, state, true);
                return;
            }
            if let Some(Frame {
                kind: FrameKind::Loop(state),
                ..
            }) = self.state.frames.pop()
            {
                self.finish_loop(&state);
            }
        }
    }

    /// Pops frames until `len` remain, finishing any loops on the way (abnormal exits clean up
    /// too).
    pub fn unwind_to(&mut self, len: usize) {
        while self.state.frames.len() > len {
            if let Some(Frame {
                kind: FrameKind::Loop(state),
                ..
            }) = self.state.frames.pop()
            {
                self.finish_loop(&state);
            }
        }
    }

    /// Binds the loop's current item: `vars.<itemVar>` and the loop scope.
    pub fn enter_item(&mut self, state: &LoopState, replace_scope: bool) {
        bind_item(&mut self.state.scopes, state, replace_scope);
    }

    /// Restores the item variable and drops the loop scope.
    fn finish_loop(&mut self, state: &LoopState) {
        if let Ok(target) = InterpreterTarget::parse(&state.item_var) {
            match &state.previous {
                Some(previous) => self.state.scopes.assign(&target, previous.clone()),
                None => self.state.scopes.remove(&target),
            }
        }
        self.state.scopes.lexical.pop();
    }

    pub fn complete(&mut self) {
        self.out.push(Command::CompleteRun {
            result: self.state.scopes.result(),
        });
        self.finished = true;
    }

    pub fn fail_run(&mut self, error: RuntimeError) {
        self.unwind_to(0);
        self.out.push(Command::FailRun { error });
        self.finished = true;
    }

    /// A genuine cancellation request: cancel what is in flight, close the open wait, mark the
    /// step CANCELED and end the run CANCELED. Nothing catches it.
    fn cancel(&mut self) {
        let path = self.current_path();
        let mut attempt = 1;
        let closed_wait = match self.state.pending.take() {
            Some(Pending::Action {
                seq, attempt: a, ..
            }) => {
                attempt = a;
                self.out.push(Command::RequestCancelActivity { seq });
                None
            }
            Some(Pending::RetryBackoff { seq, next_attempt }) => {
                attempt = next_attempt.saturating_sub(1);
                self.out.push(Command::CancelTimer { seq });
                None
            }
            Some(Pending::TimeWait { seq, .. }) => {
                self.out.push(Command::CancelTimer { seq });
                Some(WaitKind::Time)
            }
            Some(Pending::EventWait { timer, .. }) => {
                if let Some(seq) = timer {
                    self.out.push(Command::CancelTimer { seq });
                }
                Some(WaitKind::Event)
            }
            Some(Pending::HumanTaskCreation { seq }) => {
                self.out.push(Command::RequestCancelActivity { seq });
                None
            }
            Some(Pending::HumanTask { .. }) => Some(WaitKind::Human),
            Some(Pending::Child { seq, attempt: a }) => {
                attempt = a;
                self.out.push(Command::CancelChild { seq });
                None
            }
            None => None,
        };
        if let Some(path) = path {
            if let Some(kind) = closed_wait {
                self.record(RunEvent::WaitClosed {
                    path: path.clone(),
                    execution: self.execution(&path),
                    kind,
                    status: WaitStatus::Canceled,
                });
            }
            let error = Failure::new(category::CANCELLATION, "Workflow run was cancelled")
                .at(&path, &self.now_iso());
            self.finish_step(&path, StepStatus::Canceled, attempt, Some(error));
        }
        // The steps whose blocks were running (an if, a loop, a tryCatch) were projected
        // SUCCEEDED when entered, as in the reference; they did not finish either, and an
        // operator reading the run must not see the tryCatch it was cancelled in as succeeded.
        let containers: Vec<String> = self
            .state
            .frames
            .iter()
            .rev()
            .filter_map(|frame| frame.block.owner_path())
            .collect();
        for container in containers {
            self.finish_step(&container, StepStatus::Canceled, 1, None);
        }
        self.unwind_to(0);
        self.out.push(Command::CancelRun);
        self.finished = true;
    }
}

/// Binds the loop's current item in `scopes`: `vars.<itemVar>` and the loop scope (a new one,
/// or in place of the previous item's).
fn bind_item(scopes: &mut Scopes, state: &LoopState, replace_scope: bool) {
    let item = state.items.get(state.index).cloned().unwrap_or(Value::Null);
    if let Ok(target) = InterpreterTarget::parse(&state.item_var) {
        scopes.assign(&target, item.clone());
    }
    let mut local = serde_json::Map::new();
    local.insert("__loopId".into(), Value::String(state.step_id.clone()));
    local.insert(state.item_var.clone(), item.clone());
    local.insert("item".into(), item);
    local.insert("index".into(), Value::from(state.index));
    local.insert("length".into(), Value::from(state.items.len()));
    local.insert("isFirst".into(), Value::Bool(state.index == 0));
    local.insert(
        "isLast".into(),
        Value::Bool(state.index + 1 == state.items.len()),
    );
    if replace_scope {
        scopes.lexical.pop();
    }
    scopes.lexical.push(local);
}
