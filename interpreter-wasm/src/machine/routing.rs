//! Failure routing (dsl-semantics §7.4): after a step's own retry and onError, the innermost
//! enclosing tryCatch, then the nearest loop's `onItemError: continue`, else the run fails.
//! Cancellation and corruption are never caught.

use super::protocol::{Command, StepStatus};
use super::run::{Flow, Run};
use super::state::{Frame, FrameKind, Pending};
use crate::definition::{ItemErrorPolicy, OnErrorPolicy, Step, StepKind};
use crate::error::{Failure, RuntimeError};
use crate::scope::InterpreterTarget;

/// What follows a failed attempt.
pub(super) enum AfterFailure {
    /// Run this attempt now (the backoff is zero).
    RetryNow(u32),
    /// Done deciding.
    Flow(Flow),
}

impl Run {
    /// A step's own handling of a failure: its retry policy (exact delays, on a durable timer),
    /// then its `onError` (`legacy` is `action.call`'s `config.onError`), else the failure
    /// routes outward.
    pub(super) fn after_failure(
        &mut self,
        step: &Step,
        legacy: Option<OnErrorPolicy>,
        attempt: u32,
        failure: Failure,
    ) -> AfterFailure {
        let retry = match step.kind {
            StepKind::Action(_) | StepKind::CallWorkflow { .. } => step.retry.as_ref(),
            _ => None,
        };
        if let Some(policy) = retry
            && !failure.is_uncatchable()
            && policy.retries(&failure.category, attempt)
        {
            let delay = policy.delay_after(attempt);
            if delay == 0 {
                return AfterFailure::RetryNow(attempt + 1);
            }
            let seq = self.state.take_seq();
            self.out.push(Command::StartTimer {
                seq,
                duration_ms: delay,
            });
            self.state.pending = Some(Pending::RetryBackoff {
                seq,
                next_attempt: attempt + 1,
            });
            return AfterFailure::Flow(Flow::Blocked);
        }
        AfterFailure::Flow(self.on_error(step, legacy, attempt, failure))
    }

    /// A step's `onError` after its retries are spent (by the interpreter or by the host).
    pub(super) fn on_error(
        &mut self,
        step: &Step,
        legacy: Option<OnErrorPolicy>,
        attempt: u32,
        failure: Failure,
    ) -> Flow {
        let policy = step.on_error.or(legacy).unwrap_or(OnErrorPolicy::Fail);
        if policy == OnErrorPolicy::Continue && !failure.is_uncatchable() {
            let path = self.current_path().unwrap_or_default();
            let error = failure.at(&path, &self.now_iso());
            self.state.scopes.error = error.to_value();
            return Flow::Done {
                attempt,
                handled: Some(error),
            };
        }
        Flow::Failed(failure, attempt)
    }

    /// The flow of a step without retries: its result, or its onError handling of a failure.
    pub(super) fn settled(&mut self, step: &Step, result: Result<Flow, Failure>) -> Flow {
        match result {
            Ok(flow) => flow,
            Err(failure) => match self.after_failure(step, None, 1, failure) {
                AfterFailure::Flow(flow) => flow,
                AfterFailure::RetryNow(attempt) => Flow::Failed(
                    Failure::new(
                        crate::error::category::CORRUPTION,
                        "retry of a step without retries",
                    ),
                    attempt,
                ),
            },
        }
    }

    /// Routes a failed step's error.
    pub fn route_failure(&mut self, error: RuntimeError, attempt: u32) {
        let path = error.node_path.clone();
        self.finish_step(&path, StepStatus::Failed, attempt, Some(error.clone()));
        if error.failure.is_uncatchable() {
            self.fail_run(error);
            return;
        }
        if let Some(i) = self
            .state
            .frames
            .iter()
            .rposition(|f| matches!(f.kind, FrameKind::Try { .. }))
        {
            let FrameKind::Try {
                catch_block,
                capture_error_as,
                ..
            } = self.state.frames[i].kind.clone()
            else {
                return;
            };
            self.unwind_to(i);
            self.state.scopes.error = error.to_value();
            if let Some(target) = capture_error_as
                .as_deref()
                .and_then(|c| InterpreterTarget::parse(c).ok())
            {
                self.state.scopes.assign(&target, error.to_value());
            }
            self.state.step_count += 1;
            self.state.frames.push(Frame {
                block: catch_block,
                next: 0,
                kind: FrameKind::Plain,
            });
            self.settle();
            return;
        }
        let item_continue = self.state.frames.iter().rev().find_map(|f| match &f.kind {
            FrameKind::Loop(state) => Some(state.on_item_error == ItemErrorPolicy::Continue),
            _ => None,
        });
        if item_continue == Some(true) {
            self.state.scopes.error = error.to_value();
            self.state.step_count += 1;
            self.advance();
            return;
        }
        self.fail_run(error);
    }
}
