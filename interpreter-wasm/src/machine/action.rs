//! `action.call`: input mapping, idempotency key, inline pure actions or an activity, retry,
//! onError, saveAs.

use serde_json::{Map, Value, json};

use super::ActivationError;
use super::protocol::*;
use super::run::{Flow, Run};
use super::state::Pending;
use super::steps::expression_failure;
use crate::actions;
use crate::canonical::short_hash;
use crate::definition::{ActionCall, MappingValue, OnErrorPolicy, Step, StepKind};
use crate::error::{Failure, category};
use crate::expr::js_string;
use crate::scope::InterpreterTarget;

/// The result of one attempt.
enum Attempt {
    /// Running as an activity.
    Scheduled,
    /// Finished inside the interpreter (or failed before it could be scheduled).
    Finished(Result<Value, Failure>),
}

/// What follows a failed attempt.
enum AfterFailure {
    /// Run the next attempt now (no backoff).
    RetryNow,
    /// Done deciding.
    Flow(Flow),
}

impl Run {
    /// Runs attempts from `attempt` until one is scheduled, succeeds, or the failures end.
    pub(super) fn run_action(
        &mut self,
        step: &Step,
        call: &ActionCall,
        path: &str,
        mut attempt: u32,
    ) -> Flow {
        loop {
            match self.attempt_action(step, call, path, attempt) {
                Attempt::Scheduled => return Flow::Blocked,
                Attempt::Finished(Ok(output)) => {
                    return self.action_succeeded(call, output, attempt);
                }
                Attempt::Finished(Err(failure)) => {
                    match self.after_failure(step, call, attempt, failure) {
                        AfterFailure::RetryNow => attempt += 1,
                        AfterFailure::Flow(flow) => return flow,
                    }
                }
            }
        }
    }

    fn attempt_action(
        &mut self,
        step: &Step,
        call: &ActionCall,
        path: &str,
        attempt: u32,
    ) -> Attempt {
        let (input, key) = match self.action_input(call, path) {
            Ok(resolved) => resolved,
            Err(failure) => {
                self.record_attempt(
                    call,
                    path,
                    attempt,
                    Value::Null,
                    String::new(),
                    true,
                    Some(&failure),
                );
                return Attempt::Finished(Err(failure));
            }
        };
        if self.runs_inline(step, call) {
            let (exprs, scopes, now) = (&mut self.exprs, &self.state.scopes, self.facts.now_ms);
            let mut query = |expression: &str, source: &Value| {
                scopes
                    .with_rich_context(&[("source", source)], |input| {
                        exprs.evaluate_input(expression, input, now)
                    })
                    .map_err(|e| expression_failure(e, "input.expression", expression))
            };
            let result = actions::run_pure(&call.action_id, call.version, &input, &mut query)
                .unwrap_or_else(|| Err(Failure::new(category::ACTION, "not a pure action")));
            self.record_attempt(call, path, attempt, input, key, true, result.as_ref().err());
            return Attempt::Finished(result);
        }
        let seq = self.state.take_seq();
        self.out.push(Command::ScheduleActivity(ActivityRequest {
            seq,
            kind: ActivityKind::Action(ActionInvocation {
                step_path: path.to_owned(),
                step_id: step.id.clone(),
                action_id: call.action_id.clone(),
                action_version: call.version,
                attempt,
                input: input.clone(),
                idempotency_key: key.clone(),
                step_config: call.raw_config.clone(),
            }),
            retry: None,
        }));
        self.state.pending = Some(Pending::Action {
            seq,
            attempt,
            input,
            idempotency_key: key,
        });
        Attempt::Scheduled
    }

    /// Pure built-ins run inline unless the run's start input lists them as activities.
    fn runs_inline(&self, step: &Step, call: &ActionCall) -> bool {
        let forced = &self.start.activity_actions;
        let key = format!("{}@{}", call.action_id, call.version);
        actions::builtin(&call.action_id, call.version).is_some_and(|a| a.pure)
            && !forced.iter().any(|f| *f == key || *f == step.id)
    }

    /// Resolves the input mapping and the ledger key.
    fn action_input(&mut self, call: &ActionCall, path: &str) -> Result<(Value, String), Failure> {
        let mut input = Map::new();
        for (key, value) in &call.input_mapping {
            let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
            input.insert(key.clone(), self.resolve_mapping(value, &pointer)?);
        }
        let input = Value::Object(input);
        let tenant = self.start.tenant_id.clone();
        let key = match &call.idempotency_key {
            Some(expr) => {
                let value = self.eval_rich(&expr.source, "idempotencyKey")?;
                let key = js_string(&value);
                match &tenant {
                    Some(t) if !key.starts_with(&format!("{t}:")) => format!("{t}:{key}"),
                    _ => key,
                }
            }
            None => {
                let base = format!(
                    "{}:{path}:{}:{}:{}",
                    self.start.run_id,
                    call.action_id,
                    call.version,
                    short_hash(&input)
                );
                match &tenant {
                    Some(t) => format!("{t}:{base}"),
                    None => base,
                }
            }
        };
        Ok((input, key))
    }

    fn resolve_mapping(&mut self, value: &MappingValue, pointer: &str) -> Result<Value, Failure> {
        Ok(match value {
            MappingValue::Expr(expr) => {
                let (exprs, now) = (&mut self.exprs, self.facts.now_ms);
                self.state
                    .scopes
                    .with_rich_context(&[], |input| exprs.evaluate_input(&expr.source, input, now))
                    .map_err(|e| {
                        let mut failure = expression_failure(e, "inputMapping", &expr.source);
                        if let Some(Value::Object(details)) = failure.details.as_deref_mut() {
                            details.insert("path".into(), Value::String(pointer.to_owned()));
                        }
                        failure
                    })?
            }
            MappingValue::Secret(name) => json!({"$secret": name}),
            MappingValue::Literal(v) => v.clone(),
            MappingValue::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.resolve_mapping(item, &format!("{pointer}/{i}")))
                    .collect::<Result<_, _>>()?,
            ),
            MappingValue::Object(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    map.insert(k.clone(), self.resolve_mapping(v, &child)?);
                }
                Value::Object(map)
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn record_attempt(
        &mut self,
        call: &ActionCall,
        path: &str,
        attempt: u32,
        input: Value,
        idempotency_key: String,
        inline: bool,
        error: Option<&Failure>,
    ) {
        self.record(RunEvent::ActionAttempted {
            step_path: path.to_owned(),
            action_id: call.action_id.clone(),
            action_version: call.version,
            attempt,
            input,
            idempotency_key,
            inline,
            error: error.cloned(),
        });
    }

    fn action_succeeded(&mut self, call: &ActionCall, output: Value, attempt: u32) -> Flow {
        if let Some(save_as) = &call.save_as {
            match InterpreterTarget::parse(save_as) {
                Ok(target) => self.state.scopes.assign(&target, output),
                Err(e) => {
                    return Flow::Failed(
                        Failure::new(category::VALIDATION, e.to_string()),
                        attempt,
                    );
                }
            }
        }
        Flow::Done {
            attempt,
            handled: None,
        }
    }

    /// Retry (authored policy, exact delays), then onError continue, else the failure routes.
    fn after_failure(
        &mut self,
        step: &Step,
        call: &ActionCall,
        attempt: u32,
        failure: Failure,
    ) -> AfterFailure {
        if let Some(policy) = &step.retry
            && !failure.is_uncatchable()
            && policy.retries(&failure.category, attempt)
        {
            let delay = policy.delay_after(attempt);
            if delay == 0 {
                return AfterFailure::RetryNow;
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
        let policy = step
            .on_error
            .or(call.on_error)
            .unwrap_or(OnErrorPolicy::Fail);
        if policy == OnErrorPolicy::Continue && !failure.is_uncatchable() {
            let path = self.current_path().unwrap_or_default();
            let error = failure.at(&path, &self.now_iso());
            self.state.scopes.error = error.to_value();
            return AfterFailure::Flow(Flow::Done {
                attempt,
                handled: Some(error),
            });
        }
        AfterFailure::Flow(Flow::Failed(failure, attempt))
    }

    /// The current step, which must be an `action.call`.
    fn current_action(&self) -> Option<(Step, String)> {
        let (block, index) = self.position()?;
        let definition = self.definition.clone()?;
        let step = definition.block(&block)?.get(index)?.clone();
        matches!(step.kind, StepKind::Action(_)).then(|| (step, block.step_path(index)))
    }

    pub(super) fn activity_resolved(
        &mut self,
        seq: u32,
        outcome: ActivityOutcome,
    ) -> Result<(), ActivationError> {
        let Some(Pending::Action {
            seq: expected,
            attempt,
            input,
            idempotency_key,
        }) = self.state.pending.clone()
        else {
            return Err(ActivationError::UnknownSeq {
                kind: "activity",
                seq,
            });
        };
        if seq != expected {
            return Err(ActivationError::UnknownSeq {
                kind: "activity",
                seq,
            });
        }
        let Some((step, path)) = self.current_action() else {
            return Err(ActivationError::UnknownSeq {
                kind: "activity",
                seq,
            });
        };
        let StepKind::Action(call) = &step.kind else {
            return Err(ActivationError::UnknownSeq {
                kind: "activity",
                seq,
            });
        };
        self.state.pending = None;
        let result = match outcome {
            ActivityOutcome::Completed(output) => Ok(output),
            ActivityOutcome::Failed(failure) => Err(failure),
            ActivityOutcome::Cancelled => Err(Failure::new(
                category::ACTION,
                "the action's activity was cancelled",
            )),
        };
        self.record_attempt(
            call,
            &path,
            attempt,
            input,
            idempotency_key,
            false,
            result.as_ref().err(),
        );
        let flow = match result {
            Ok(output) => self.action_succeeded(call, output, attempt),
            Err(failure) => match self.after_failure(&step, call, attempt, failure) {
                AfterFailure::RetryNow => self.run_action(&step, call, &path, attempt + 1),
                AfterFailure::Flow(flow) => flow,
            },
        };
        self.follow(flow, &path);
        Ok(())
    }

    pub(super) fn timer_fired(&mut self, seq: u32) -> Result<(), ActivationError> {
        let Some(Pending::RetryBackoff {
            seq: expected,
            next_attempt,
        }) = self.state.pending.clone()
        else {
            return Err(ActivationError::UnknownSeq { kind: "timer", seq });
        };
        if seq != expected {
            return Err(ActivationError::UnknownSeq { kind: "timer", seq });
        }
        self.state.pending = None;
        let Some((step, path)) = self.current_action() else {
            return Err(ActivationError::UnknownSeq { kind: "timer", seq });
        };
        let StepKind::Action(call) = &step.kind else {
            return Err(ActivationError::UnknownSeq { kind: "timer", seq });
        };
        let flow = self.run_action(&step, call, &path, next_attempt);
        self.follow(flow, &path);
        Ok(())
    }
}
