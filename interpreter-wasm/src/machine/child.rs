//! `control.callWorkflow` (dsl-semantics §4.12): a child run of a pinned definition, with input
//! and output mappings, retried under the same child identity.

use serde_json::{Map, Value, json};

use super::protocol::*;
use super::run::{Flow, Run};
use super::state::Pending;
use super::steps::expression_failure;
use crate::definition::Assignments;
use crate::error::{Failure, category};
use crate::expr::Input;
use crate::scope::InterpreterTarget;

/// A `control.callWorkflow` step's fields.
pub(super) struct ChildCall<'a> {
    pub workflow_id: &'a str,
    pub workflow_version: u32,
    pub input_mapping: &'a Assignments,
    pub output_mapping: &'a Assignments,
}

impl Run {
    /// Evaluates every entry against one snapshot of the rich context (with `extra` fields).
    fn evaluate_snapshot(
        &mut self,
        entries: &Assignments,
        extra: &[(&str, &Value)],
        field: &str,
    ) -> Result<Vec<(String, Value)>, Failure> {
        let (exprs, now) = (&mut self.exprs, self.facts.now_ms);
        self.state
            .scopes
            .with_rich_context(extra, |input: Input<'_>| {
                entries
                    .iter()
                    .map(|(key, expr)| {
                        exprs
                            .evaluate_input(&expr.source, input, now)
                            .map(|v| (key.clone(), v))
                            .map_err(|e| {
                                expression_failure(e, &format!("{field}.{key}"), &expr.source)
                            })
                    })
                    .collect()
            })
    }

    /// Starts attempt `attempt` of the child. Every attempt of one step execution uses the
    /// same child key, so a retry reuses the child's identity.
    pub(super) fn start_child(
        &mut self,
        call: &ChildCall<'_>,
        path: &str,
        attempt: u32,
    ) -> Result<Flow, Failure> {
        let payload: Map<String, Value> = self
            .evaluate_snapshot(call.input_mapping, &[], "inputMapping")?
            .into_iter()
            .collect();
        let execution = self.state.executions.get(path).copied().unwrap_or(1);
        let seq = self.state.take_seq();
        self.out.push(Command::StartChild(ChildRequest {
            seq,
            step_path: path.to_owned(),
            workflow_id: call.workflow_id.to_owned(),
            workflow_version: call.workflow_version,
            payload: Value::Object(payload),
            child_key: format!("{}:{path}:{execution}", self.start.run_id),
        }));
        self.state.pending = Some(Pending::Child { seq, attempt });
        Ok(Flow::Blocked)
    }

    /// The child succeeded: map its result into the parent.
    pub(super) fn child_completed(
        &mut self,
        call: &ChildCall<'_>,
        path: &str,
        result: &Value,
    ) -> Result<(), Failure> {
        let system = self.child_system(call, path, result);
        // The reference's `childRun.meta` is the child's system fields; the child's own meta
        // (`state`) is kept beside them (D22).
        let mut meta = result
            .get("meta")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        meta.extend(system.clone());
        let child_run = json!({
            "payload": result.get("payload").cloned().unwrap_or_else(|| json!({})),
            "vars": result.get("vars").cloned().unwrap_or_else(|| json!({})),
            "local": {},
            "meta": meta,
            "system": system,
        });
        let values = self.evaluate_snapshot(
            call.output_mapping,
            &[("childRun", &child_run)],
            "outputMapping",
        )?;
        for (target, value) in values {
            let target = InterpreterTarget::parse(&target)
                .map_err(|e| Failure::new(category::VALIDATION, e.to_string()))?;
            self.state.scopes.assign(&target, value);
        }
        Ok(())
    }

    /// The child's system fields: those its host reported with its result (the worker and
    /// the simulator report them all), over those the parent knows itself (all but the
    /// child's definition hash).
    fn child_system(&self, call: &ChildCall<'_>, path: &str, result: &Value) -> Map<String, Value> {
        let execution = self.state.executions.get(path).copied().unwrap_or(1);
        let mut system = Map::new();
        system.insert(
            "runId".into(),
            json!(format!("{}:{path}:{execution}", self.start.run_id)),
        );
        system.insert("workflowId".into(), json!(call.workflow_id));
        system.insert("workflowVersion".into(), json!(call.workflow_version));
        system.insert("tenantId".into(), json!(self.start.tenant_id));
        system.insert("definitionHash".into(), Value::Null);
        system.insert(
            "runtimeSemanticsVersion".into(),
            json!(self.start.runtime_semantics_version),
        );
        if let Some(reported) = result.get(RESULT_SYSTEM_FIELDS).and_then(Value::as_object) {
            system.extend(reported.clone());
        }
        system
    }

    /// The failure a failed child becomes.
    pub(super) fn child_failure(
        &self,
        call: &ChildCall<'_>,
        path: &str,
        cause: Option<Failure>,
    ) -> Failure {
        let execution = self.state.executions.get(path).copied().unwrap_or(1);
        let (message, cause_json) = match &cause {
            Some(f) => (
                "Child workflow execution failed",
                json!({"category": f.category, "message": f.message, "code": f.code}),
            ),
            None => ("Child workflow was cancelled", Value::Null),
        };
        Failure::new(category::CHILD_WORKFLOW, message).with_details(json!({
            "workflowId": call.workflow_id,
            "workflowVersion": call.workflow_version,
            "childKey": format!("{}:{path}:{execution}", self.start.run_id),
            "cause": cause.as_ref().map(|f| f.message.clone()),
            "childError": cause_json,
        }))
    }
}
