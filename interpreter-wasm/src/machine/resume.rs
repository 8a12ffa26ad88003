//! Resuming the blocked step when the job it waits for arrives: timers, activity and child
//! resolutions, signals and updates.

use std::sync::Arc;

use serde_json::{Value, json};

use super::ActivationError;
use super::child::ChildCall;
use super::protocol::*;
use super::routing::AfterFailure;
use super::run::{Flow, Run};
use super::signals;
use super::state::Pending;
use crate::definition::{Definition, Step, StepKind};
use crate::error::{Failure, category};
use alga_protocol::names::{HUMAN_TASK_NOT_OPEN_YET, HUMAN_TASK_UPDATE};

impl Run {
    /// The step the run is blocked on, with its path.
    fn blocked_step(
        &self,
    ) -> Option<(
        Arc<Definition>,
        String,
        (crate::definition::BlockAddr, usize),
    )> {
        let (block, index) = self.position()?;
        let definition = self.definition.clone()?;
        definition.block(&block)?.get(index)?;
        Some((definition, block.step_path(index), (block, index)))
    }

    /// Runs `f` with the blocked step, then follows the flow it returns.
    fn resume_with(&mut self, f: impl FnOnce(&mut Run, &Step, &str) -> Flow) -> bool {
        let Some((definition, path, (block, index))) = self.blocked_step() else {
            return false;
        };
        let Some(step) = definition.block(&block).and_then(|b| b.get(index)) else {
            return false;
        };
        let flow = f(self, step, &path);
        self.follow(flow, &path);
        true
    }

    pub(super) fn timer_fired(&mut self, seq: u32) -> Result<(), ActivationError> {
        let pending = self.state.pending.clone();
        let fired = match &pending {
            Some(Pending::RetryBackoff { seq: s, .. })
            | Some(Pending::TimeWait { seq: s, .. })
            | Some(Pending::EventWait { timer: Some(s), .. }) => *s == seq,
            _ => false,
        };
        if !fired {
            // A timer this run no longer waits for (cancelled in the same activation it fired).
            return Ok(());
        }
        self.state.pending = None;
        self.resume_with(|run, step, path| match (pending, &step.kind) {
            (Some(Pending::RetryBackoff { next_attempt, .. }), StepKind::Action(call)) => {
                run.run_action(step, call, path, next_attempt)
            }
            (Some(Pending::RetryBackoff { next_attempt, .. }), StepKind::CallWorkflow { .. }) => {
                run.retry_child(step, path, next_attempt)
            }
            (Some(Pending::TimeWait { mode, due_at, .. }), StepKind::TimeWait(wait)) => {
                let result = run.finish_time_wait(wait, path, &mode, &due_at);
                run.settled(step, result)
            }
            (
                Some(Pending::EventWait {
                    correlation_key,
                    timeout_at,
                    ..
                }),
                StepKind::EventWait(wait),
            ) => {
                let failure = run.event_wait_timed_out(wait, path, correlation_key, timeout_at);
                run.settled(step, Err(failure))
            }
            _ => corrupt(path),
        });
        Ok(())
    }

    pub(super) fn activity_resolved(
        &mut self,
        seq: u32,
        outcome: ActivityOutcome,
        host_attempt: Option<u32>,
    ) -> Result<(), ActivationError> {
        let unknown = ActivationError::UnknownSeq {
            kind: "activity",
            seq,
        };
        let pending = self.state.pending.clone();
        match &pending {
            Some(Pending::Action { seq: s, .. }) | Some(Pending::HumanTaskCreation { seq: s })
                if *s == seq => {}
            _ if outcome == ActivityOutcome::Cancelled => return Ok(()),
            _ => return Err(unknown),
        }
        self.state.pending = None;
        self.resume_with(|run, step, path| match (pending, &step.kind) {
            (
                Some(Pending::Action {
                    attempt,
                    input,
                    idempotency_key,
                    host_retries,
                    ..
                }),
                StepKind::Action(call),
            ) => {
                // The host numbers its own attempts from the one the interpreter scheduled.
                let attempt = match (host_retries, host_attempt) {
                    (true, Some(last)) => last.max(attempt),
                    _ => attempt,
                };
                let result = match outcome {
                    ActivityOutcome::Completed(output) => Ok(output),
                    ActivityOutcome::Failed(failure) => Err(failure),
                    ActivityOutcome::Cancelled => Err(Failure::new(
                        category::ACTION,
                        "the action's activity was cancelled",
                    )),
                };
                run.record_attempt(
                    (&call.action_id, call.version),
                    path,
                    attempt,
                    input,
                    idempotency_key,
                    false,
                    result.as_ref().err(),
                );
                match result {
                    Ok(output) => run.action_succeeded(call, output, attempt),
                    // Temporal ran every retry the policy allows: only onError is left.
                    Err(failure) if host_retries => {
                        run.on_error(step, call.on_error, attempt, failure)
                    }
                    Err(failure) => {
                        match run.after_failure(step, call.on_error, attempt, failure) {
                            AfterFailure::RetryNow(next) => run.run_action(step, call, path, next),
                            AfterFailure::Flow(flow) => flow,
                        }
                    }
                }
            }
            (
                Some(Pending::Action {
                    attempt,
                    input,
                    idempotency_key,
                    email: Some(bodies),
                    ..
                }),
                StepKind::Email(node),
            ) => {
                let attempted = (input, idempotency_key, attempt);
                run.email_action_resolved(step, node, path, attempted, &bodies, outcome)
            }
            (Some(Pending::HumanTaskCreation { .. }), StepKind::HumanTask(task)) => {
                let result = match outcome {
                    ActivityOutcome::Completed(created) => {
                        run.human_task_created(task, path, created)
                    }
                    ActivityOutcome::Failed(failure) => Err(failure),
                    ActivityOutcome::Cancelled => Err(Failure::new(
                        category::ACTION,
                        "creating the human task was cancelled",
                    )),
                };
                run.settled(step, result)
            }
            _ => corrupt(path),
        });
        Ok(())
    }

    pub(super) fn child_resolved(
        &mut self,
        seq: u32,
        outcome: ChildOutcome,
    ) -> Result<(), ActivationError> {
        let Some(Pending::Child { seq: s, attempt }) = self.state.pending.clone() else {
            if outcome == ActivityOutcome::Cancelled {
                return Ok(());
            }
            return Err(ActivationError::UnknownSeq { kind: "child", seq });
        };
        if s != seq {
            return Err(ActivationError::UnknownSeq { kind: "child", seq });
        }
        self.state.pending = None;
        self.resume_with(|run, step, path| {
            let Some(call) = child_call(step) else {
                return corrupt(path);
            };
            let failure = match outcome {
                ActivityOutcome::Completed(result) => {
                    match run.child_completed(&call, path, &result) {
                        Ok(()) => {
                            return Flow::Done {
                                attempt,
                                handled: None,
                            };
                        }
                        Err(failure) => failure,
                    }
                }
                ActivityOutcome::Failed(cause) => run.child_failure(&call, path, Some(cause)),
                ActivityOutcome::Cancelled => run.child_failure(&call, path, None),
            };
            match run.after_failure(step, None, attempt, failure) {
                AfterFailure::RetryNow(next) => run.retry_child(step, path, next),
                AfterFailure::Flow(flow) => flow,
            }
        });
        Ok(())
    }

    /// Starts attempt `attempt` of a child step, looping over zero-delay retries.
    pub(super) fn retry_child(&mut self, step: &Step, path: &str, mut attempt: u32) -> Flow {
        let Some(call) = child_call(step) else {
            return corrupt(path);
        };
        loop {
            match self.start_child(&call, path, attempt) {
                Ok(flow) => return flow,
                Err(failure) => match self.after_failure(step, None, attempt, failure) {
                    AfterFailure::RetryNow(next) => attempt = next,
                    AfterFailure::Flow(flow) => return flow,
                },
            }
        }
    }

    /// Buffers a signal, lets the blocked wait take it if it matches, then keeps the buffer
    /// within its bound by dropping the oldest signals no wait took.
    /// An event delivered twice (same `eventId`) is taken once.
    pub(super) fn signal_received(&mut self, name: String, payload: Value) {
        let signal = signals::normalize(&name, &payload, &self.now_iso());
        if let Some(id) = signal.payload["eventId"]
            .as_str()
            .filter(|_| name == signals::EVENT_SIGNAL)
        {
            if self.state.event_ids.iter().any(|seen| seen == id) {
                return;
            }
            self.state.event_ids.push_back(id.to_owned());
            if self.state.event_ids.len() > signals::REMEMBERED_EVENT_IDS {
                self.state.event_ids.pop_front();
            }
        }
        self.state.signals.push(signal);
        self.take_signal();
        let excess = self
            .state
            .signals
            .len()
            .saturating_sub(signals::MAX_BUFFERED_SIGNALS);
        if excess > 0 {
            self.state.signals.drain(..excess);
            self.state.signals_dropped += excess as u64;
        }
    }

    /// Lets the blocked wait take a buffered signal, if one matches.
    fn take_signal(&mut self) {
        match self.state.pending.clone() {
            Some(Pending::EventWait {
                timer,
                correlation_key,
                ..
            }) => {
                self.resume_if(|run, step, path| {
                    let StepKind::EventWait(wait) = &step.kind else {
                        return None;
                    };
                    let signal = run.take_matching_event(wait, correlation_key.as_deref())?;
                    if let Some(seq) = timer {
                        run.out.push(Command::CancelTimer { seq });
                    }
                    run.state.pending = None;
                    let result = run.finish_event_wait(wait, path, signal);
                    Some(run.settled(step, result))
                });
            }
            Some(Pending::HumanTask {
                task_id,
                form_schema,
            }) => {
                self.resume_if(|run, step, path| {
                    let StepKind::HumanTask(task) = &step.kind else {
                        return None;
                    };
                    let response = run.take_task_response(&task_id)?;
                    run.state.pending = None;
                    let result =
                        run.finish_human_task(task, path, &response.payload, form_schema.as_ref());
                    Some(run.settled(step, result))
                });
            }
            _ => {}
        }
    }

    /// Like `resume_with`, for resumptions that may not apply (`f` returns `None`).
    fn resume_if(&mut self, f: impl FnOnce(&mut Run, &Step, &str) -> Option<Flow>) {
        let Some((definition, path, (block, index))) = self.blocked_step() else {
            return;
        };
        let Some(step) = definition.block(&block).and_then(|b| b.get(index)) else {
            return;
        };
        if let Some(flow) = f(self, step, &path) {
            self.follow(flow, &path);
        }
    }

    /// A Workflow Update: a human-task response validated before it is accepted.
    pub(super) fn update_received(
        &mut self,
        id: String,
        name: &str,
        args: &Value,
        run_validator: bool,
    ) {
        let reject =
            |message: String| UpdateResponse::Rejected(Failure::new(category::VALIDATION, message));
        if name != HUMAN_TASK_UPDATE {
            let response = reject(format!(
                "unknown update `{name}` (known: {HUMAN_TASK_UPDATE})"
            ));
            self.out.push(Command::RespondUpdate { id, response });
            return;
        }
        let (task_id, form_schema) = match self.state.pending.clone() {
            Some(Pending::HumanTask {
                task_id,
                form_schema,
            }) => (task_id, form_schema),
            // The task's row can be seen before the run hears that the task exists: the
            // caller may try again in a moment (the API does).
            Some(Pending::HumanTaskCreation { .. }) => {
                let response = UpdateResponse::Rejected(
                    Failure::new(
                        category::VALIDATION,
                        "the human task is still being created; try again in a moment",
                    )
                    .with_code(HUMAN_TASK_NOT_OPEN_YET),
                );
                self.out.push(Command::RespondUpdate { id, response });
                return;
            }
            _ => {
                let response = reject("no human task is waiting for a response".into());
                self.out.push(Command::RespondUpdate { id, response });
                return;
            }
        };
        let arg = match args {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let response =
            signals::normalize(signals::HUMAN_TASK_SIGNAL, &arg, &self.now_iso()).payload;
        let requested = response["taskId"].as_str().unwrap_or_default();
        if !requested.is_empty() && requested != task_id {
            let response = reject(format!(
                "task {requested} is not open (the run waits for task {task_id})"
            ));
            self.out.push(Command::RespondUpdate { id, response });
            return;
        }
        let Some((definition, path, (block, index))) = self.blocked_step() else {
            return;
        };
        let Some(step) = definition.block(&block).and_then(|b| b.get(index)) else {
            return;
        };
        let StepKind::HumanTask(task) = &step.kind else {
            return;
        };
        if run_validator
            && let Err(failure) = Self::check_task_response(task, &response, form_schema.as_ref())
        {
            self.out.push(Command::RespondUpdate {
                id,
                response: UpdateResponse::Rejected(failure),
            });
            return;
        }
        self.out.push(Command::RespondUpdate {
            id: id.clone(),
            response: UpdateResponse::Accepted,
        });
        self.state.pending = None;
        let result = self.finish_human_task(task, &path, &response, form_schema.as_ref());
        let flow = self.settled(step, result);
        self.follow(flow, &path);
        self.out.push(Command::RespondUpdate {
            id,
            response: UpdateResponse::Completed(json!({"taskId": task_id, "status": "RESOLVED"})),
        });
    }
}

fn child_call(step: &Step) -> Option<ChildCall<'_>> {
    match &step.kind {
        StepKind::CallWorkflow {
            workflow_id,
            workflow_version,
            input_mapping,
            output_mapping,
        } => Some(ChildCall {
            workflow_id,
            workflow_version: *workflow_version,
            input_mapping,
            output_mapping,
        }),
        _ => None,
    }
}

/// The pending operation and the step disagree: the state does not fit the definition.
fn corrupt(path: &str) -> Flow {
    Flow::Failed(
        Failure::new(
            category::CORRUPTION,
            format!("the run's pending operation does not fit the step at {path}"),
        ),
        1,
    )
}
