//! Executing the control and data steps; each returns a [`Flow`].

use serde_json::{Value, json};

use super::run::{Flow, Run};
use super::state::{Frame, FrameKind, LoopState};
use crate::definition::{Assignments, BlockAddr, Branch, Step, StepKind};
use crate::error::{Failure, category};
use crate::expr::ExprError;
use crate::scope::{InterpreterTarget, NodeTarget};

/// An `ExpressionError` failure that keeps JSONata's code and text.
pub(super) fn expression_failure(err: ExprError, field: &str, source: &str) -> Failure {
    Failure::new(category::EXPRESSION, err.message)
        .with_code(err.code)
        .with_details(json!({"field": field, "expression": source, "position": err.position}))
}

fn done() -> Flow {
    Flow::Done {
        attempt: 1,
        handled: None,
    }
}

impl Run {
    /// Evaluates with the rich interpreter context.
    pub(super) fn eval_rich(&mut self, source: &str, field: &str) -> Result<Value, Failure> {
        let (exprs, now) = (&mut self.exprs, self.facts.now_ms);
        self.state
            .scopes
            .with_rich_context(&[], |input| exprs.evaluate_input(source, input, now))
            .map_err(|e| expression_failure(e, field, source))
    }

    pub(super) fn run_step(
        &mut self,
        step: &Step,
        block: &BlockAddr,
        index: usize,
        path: &str,
    ) -> Flow {
        match &step.kind {
            StepKind::Return => Flow::Return,
            StepKind::StateSet(state) => {
                #[cfg(feature = "probe-semantics")]
                let state = &format!("{state}!");
                self.state
                    .scopes
                    .meta
                    .insert("state".into(), Value::String(state.clone()));
                done()
            }
            StepKind::Assign(entries) => {
                let result = self.transform_assign(entries).map(|()| done());
                self.settled(step, result)
            }
            StepKind::If {
                condition,
                then,
                otherwise,
            } => {
                let value = match self.eval_rich(&condition.source, "condition") {
                    Ok(v) => v,
                    Err(failure) => return Flow::Failed(failure, 1),
                };
                let Value::Bool(chosen) = value else {
                    return Flow::Failed(
                        Failure::new(
                            category::EXPRESSION,
                            format!(
                                "control.if condition must evaluate to a boolean, got {}",
                                crate::definition::json_type(&value)
                            ),
                        ),
                        1,
                    );
                };
                let (branch, steps) = if chosen {
                    (Branch::Then, then)
                } else {
                    (Branch::Else, otherwise)
                };
                enter(block, index, branch, steps.is_empty(), FrameKind::Plain)
            }
            StepKind::TryCatch {
                try_steps,
                capture_error_as,
                ..
            } => {
                let kind = FrameKind::Try {
                    step_path: path.to_owned(),
                    catch_block: block.child(index, Branch::Catch),
                    capture_error_as: capture_error_as.clone(),
                };
                enter(block, index, Branch::Try, try_steps.is_empty(), kind)
            }
            StepKind::ForEach {
                items,
                item_var,
                body,
                on_item_error,
            } => {
                let value = match self.eval_rich(&items.source, "items") {
                    Ok(v) => v,
                    Err(failure) => return Flow::Failed(failure, 1),
                };
                let Value::Array(items) = value else {
                    return Flow::Failed(
                        Failure::new(
                            category::EXPRESSION,
                            format!(
                                "control.forEach items did not evaluate to an array (got {}); wrap a single match as [ ... ]",
                                crate::definition::json_type(&value)
                            ),
                        ),
                        1,
                    );
                };
                if items.is_empty() || body.is_empty() {
                    return done();
                }
                let previous = InterpreterTarget::parse(item_var)
                    .ok()
                    .and_then(|t| self.state.scopes.read(&t));
                let state = LoopState {
                    step_path: path.to_owned(),
                    step_id: step.id.clone(),
                    item_var: item_var.clone(),
                    items,
                    index: 0,
                    previous,
                    on_item_error: *on_item_error,
                };
                self.enter_item(&state, false);
                Flow::Enter(Frame {
                    block: block.child(index, Branch::Body),
                    next: 0,
                    kind: FrameKind::Loop(Box::new(state)),
                })
            }
            StepKind::Action(call) => self.run_action(step, call, path, 1),
            StepKind::Email(node) => self.run_email(step, node, path),
            StepKind::TimeWait(wait) => {
                let result = self.start_time_wait(wait, path);
                self.settled(step, result)
            }
            StepKind::EventWait(wait) => {
                let result = self.start_event_wait(wait, path);
                self.settled(step, result)
            }
            StepKind::HumanTask(task) => {
                let result = self.start_human_task(task, path);
                self.settled(step, result)
            }
            StepKind::CallWorkflow { .. } => self.retry_child(step, path, 1),
        }
    }

    /// `transform.assign`: entries in order, each seeing the earlier writes, with the node
    /// context; every path is checked before anything is written.
    fn transform_assign(&mut self, entries: &Assignments) -> Result<(), Failure> {
        let targets = entries
            .iter()
            .map(|(path, _)| NodeTarget::parse(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::new(category::VALIDATION, e.to_string()))?;
        for ((path, expr), target) in entries.iter().zip(targets) {
            let (exprs, now) = (&mut self.exprs, self.facts.now_ms);
            let value = self
                .state
                .scopes
                .with_node_context(|input| exprs.evaluate_input(&expr.source, input, now))
                .map_err(|e| expression_failure(e, &format!("assign.{path}"), &expr.source))?;
            self.state.scopes.assign_node(&target, value);
        }
        Ok(())
    }
}

fn enter(block: &BlockAddr, index: usize, branch: Branch, empty: bool, kind: FrameKind) -> Flow {
    if empty {
        return done();
    }
    Flow::Enter(Frame {
        block: block.child(index, branch),
        next: 0,
        kind,
    })
}
