//! Failure routing (dsl-semantics §7.4): after a step's own retry and onError, the innermost
//! enclosing tryCatch, then the nearest loop's `onItemError: continue`, else the run fails.
//! Cancellation and corruption are never caught.

use super::protocol::StepStatus;
use super::run::Run;
use super::state::{Frame, FrameKind};
use crate::definition::ItemErrorPolicy;
use crate::error::RuntimeError;
use crate::scope::InterpreterTarget;

impl Run {
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
