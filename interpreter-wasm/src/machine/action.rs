//! `action.call`: input mapping, idempotency key, inline pure actions or an activity, retry,
//! onError, saveAs.

use serde_json::{Map, Value};

use super::protocol::*;
use super::routing::AfterFailure;
use super::run::{Flow, Run};
use super::state::Pending;
use super::steps::expression_failure;
use crate::actions;
use crate::canonical::short_hash;
use crate::definition::{ActionCall, MappingPath, MappingValue, Step};
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
                    match self.after_failure(step, call.on_error, attempt, failure) {
                        AfterFailure::RetryNow(next) => attempt = next,
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
                    (&call.action_id, call.version),
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
            let action = (call.action_id.as_str(), call.version);
            self.record_attempt(
                action,
                path,
                attempt,
                input,
                key,
                true,
                result.as_ref().err(),
            );
            return Attempt::Finished(result);
        }
        let host_retry = step
            .retry
            .as_ref()
            .filter(|policy| self.start.host_retries && policy.maps_onto_temporal())
            .filter(|policy| attempt < policy.max_attempts)
            .cloned();
        let invocation = ActionInvocation {
            step_path: path.to_owned(),
            step_id: step.id.clone(),
            action_id: call.action_id.clone(),
            action_version: call.version,
            attempt,
            input,
            idempotency_key: key,
            step_config: call.raw_config.clone(),
        };
        self.schedule_action(invocation, host_retry, None);
        Attempt::Scheduled
    }

    /// Schedules an action attempt as an activity and waits for it. `email` keeps an email
    /// node's bodies for its fallback.
    pub(super) fn schedule_action(
        &mut self,
        invocation: ActionInvocation,
        host_retry: Option<crate::definition::RetryPolicy>,
        email: Option<super::email::EmailBodies>,
    ) {
        let seq = self.state.take_seq();
        let pending = Pending::Action {
            seq,
            attempt: invocation.attempt,
            input: invocation.input.clone(),
            idempotency_key: invocation.idempotency_key.clone(),
            host_retries: host_retry.is_some(),
            email,
        };
        self.out.push(Command::ScheduleActivity(ActivityRequest {
            seq,
            kind: ActivityKind::Action(invocation),
            retry: host_retry,
        }));
        self.state.pending = Some(pending);
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
            None => self.engine_ledger_key(path, &call.action_id, call.version, &input),
        };
        Ok((input, key))
    }

    /// The ledger key the engine provides when the step names none: the run (or the run a
    /// redrive keeps the keys of), the step, the action and its input.
    pub(super) fn engine_ledger_key(
        &self,
        path: &str,
        action_id: &str,
        version: u32,
        input: &Value,
    ) -> String {
        let base = format!(
            "{}:{path}:{action_id}:{version}:{}",
            self.start
                .ledger_scope
                .as_ref()
                .unwrap_or(&self.start.run_id),
            short_hash(input)
        );
        match &self.start.tenant_id {
            Some(t) => format!("{t}:{base}"),
            None => base,
        }
    }

    fn resolve_mapping(&mut self, value: &MappingValue, pointer: &str) -> Result<Value, Failure> {
        let (exprs, now, scopes) = (&mut self.exprs, self.facts.now_ms, &self.state.scopes);
        value.resolve(pointer, MappingPath::Pointer, &mut |expr, at| {
            scopes
                .with_rich_context(&[], |input| exprs.evaluate_input(&expr.source, input, now))
                .map_err(|e| {
                    let mut failure = expression_failure(e, "inputMapping", &expr.source);
                    if let Some(Value::Object(details)) = failure.details.as_deref_mut() {
                        details.insert("path".into(), Value::String(at.to_owned()));
                    }
                    failure
                })
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_attempt(
        &mut self,
        (action_id, action_version): (&str, u32),
        path: &str,
        attempt: u32,
        input: Value,
        idempotency_key: String,
        inline: bool,
        error: Option<&Failure>,
    ) {
        self.record(RunEvent::ActionAttempted {
            step_path: path.to_owned(),
            action_id: action_id.to_owned(),
            action_version,
            attempt,
            input,
            idempotency_key,
            inline,
            error: error.cloned(),
        });
    }

    pub(super) fn action_succeeded(
        &mut self,
        call: &ActionCall,
        output: Value,
        attempt: u32,
    ) -> Flow {
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
}
