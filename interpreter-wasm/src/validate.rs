//! Publish-time checks that need no database (dsl-semantics §13): the schema, then duplicate
//! step ids across nesting, expressions, assignment paths, trigger rules and, when the host
//! lists them, unknown actions.

use std::collections::HashMap;

use serde_json::Value;

use crate::definition::{
    self, Assignments, BlockAddr, Definition, Expr, Issue, Mapping, MappingValue, Step, StepKind,
    TimeWaitMode, Trigger,
};
use crate::expr::{Evaluator, codes};
use crate::scope::{InterpreterTarget, NodeTarget};

pub use alga_protocol::issue::KnownAction;

/// Checks a definition. Errors and warnings come back together, errors first in document order.
pub fn validate(definition: &Value, known_actions: Option<&[KnownAction]>) -> Vec<Issue> {
    let (parsed, mut issues) = definition::parse_partial(definition);
    if let Some(parsed) = parsed {
        let mut checker = Checker {
            issues: &mut issues,
            exprs: Evaluator::default(),
            seen: HashMap::new(),
            known_actions,
        };
        checker.definition(&parsed);
    }
    issues
}

struct Checker<'a> {
    issues: &'a mut Vec<Issue>,
    exprs: Evaluator,
    seen: HashMap<String, String>,
    known_actions: Option<&'a [KnownAction]>,
}

impl Checker<'_> {
    fn definition(&mut self, definition: &Definition) {
        if let Some(trigger) = &definition.trigger {
            self.trigger(trigger, &definition.payload_schema_ref);
        }
        self.block(&definition.steps, &BlockAddr::root());
    }

    fn block(&mut self, steps: &[Step], addr: &BlockAddr) {
        for (index, step) in steps.iter().enumerate() {
            let path = addr.step_path(index);
            self.step(step, &path);
            for (branch, child) in step.blocks() {
                self.block(child, &addr.child(index, branch));
            }
        }
    }

    fn step(&mut self, step: &Step, path: &str) {
        if let Some(first) = self.seen.get(&step.id) {
            self.issues.push(Issue::error(
                "DUPLICATE_STEP_ID",
                path,
                format!("step id `{}` is already used at {first}", step.id),
            ));
        } else {
            self.seen.insert(step.id.clone(), path.to_owned());
        }
        match &step.kind {
            StepKind::If { condition, .. } => self.expr(condition, path, "condition"),
            StepKind::ForEach {
                items, item_var, ..
            } => {
                self.expr(items, path, "items");
                self.interpreter_path(item_var, path, "itemVar");
            }
            StepKind::TryCatch {
                capture_error_as, ..
            } => {
                if let Some(target) = capture_error_as {
                    self.interpreter_path(target, path, "captureErrorAs");
                }
            }
            StepKind::CallWorkflow {
                input_mapping,
                output_mapping,
                ..
            } => {
                for (key, expr) in input_mapping {
                    self.expr(expr, path, &format!("inputMapping.{key}"));
                }
                self.interpreter_assign(output_mapping, path, "outputMapping");
            }
            StepKind::Return | StepKind::StateSet(_) => {}
            StepKind::EventWait(wait) => {
                self.expr(&wait.correlation_key, path, "config.correlationKey");
                self.scoped_paths(&wait.assign, path, "config.assign");
                self.interpreter_assign(&wait.assign, path, "config.assign");
            }
            StepKind::TimeWait(wait) => {
                if let TimeWaitMode::Until(expr) = &wait.mode {
                    self.expr(expr, path, "config.until");
                }
                self.scoped_paths(&wait.assign, path, "config.assign");
                self.interpreter_assign(&wait.assign, path, "config.assign");
            }
            StepKind::HumanTask(task) => {
                self.expr(&task.title, path, "config.title");
                if let Some(description) = &task.description {
                    self.expr(description, path, "config.description");
                }
                for (key, expr) in &task.context_data {
                    self.expr(expr, path, &format!("config.contextData.{key}"));
                }
                self.interpreter_assign(&task.assign, path, "config.assign");
            }
            StepKind::Email(node) => {
                if let Err(e) = NodeTarget::parse(&node.save_as) {
                    self.issues.push(Issue::error(
                        "INVALID_ASSIGN_PATH",
                        path,
                        format!("config.saveAs: {e}"),
                    ));
                }
                for (field, expr) in [("text", &node.text), ("html", &node.html)] {
                    if let Some(expr) = expr {
                        self.expr(expr, path, &format!("config.{field}"));
                    }
                }
            }
            StepKind::Assign(entries) => {
                for (target, expr) in entries {
                    if let Err(e) = NodeTarget::parse(target) {
                        self.issues.push(Issue::error(
                            "INVALID_ASSIGN_PATH",
                            path,
                            format!("config.assign: {e}"),
                        ));
                    }
                    self.expr(expr, path, &format!("config.assign.{target}"));
                }
            }
            StepKind::Action(call) => {
                self.mapping(&call.input_mapping, path, "config.inputMapping");
                if let Some(key) = &call.idempotency_key {
                    self.expr(key, path, "config.idempotencyKey");
                }
                if let Some(save_as) = &call.save_as {
                    self.interpreter_path(save_as, path, "config.saveAs");
                }
                if let Some(builtin) = crate::actions::builtin(&call.action_id, call.version) {
                    for field in builtin.required {
                        if !call.input_mapping.iter().any(|(key, _)| key == field) {
                            self.issues.push(Issue::error(
                                "MISSING_REQUIRED_MAPPING",
                                path,
                                format!(
                                    "config.inputMapping: {}@{} requires `{field}`",
                                    call.action_id, call.version
                                ),
                            ));
                        }
                    }
                }
                if let Some(known) = self.known_actions
                    && !known
                        .iter()
                        .any(|a| a.id == call.action_id && a.version == call.version)
                {
                    let versions: Vec<String> = known
                        .iter()
                        .filter(|a| a.id == call.action_id)
                        .map(|a| a.version.to_string())
                        .collect();
                    let hint = if versions.is_empty() {
                        String::new()
                    } else {
                        format!(" (existing versions: {})", versions.join(", "))
                    };
                    self.issues.push(Issue::error(
                        "UNKNOWN_ACTION",
                        path,
                        format!("unknown action {}@{}{hint}", call.action_id, call.version),
                    ));
                }
            }
        }
    }

    fn expr(&mut self, expr: &Expr, path: &str, field: &str) {
        if let Err(e) = self.exprs.compile(&expr.source) {
            self.issues.push(Issue::error(
                "INVALID_EXPR",
                path,
                format!("{field}: {} (expression `{}`)", e.message, expr.source),
            ));
        }
    }

    fn mapping(&mut self, mapping: &Mapping, path: &str, field: &str) {
        for (key, value) in mapping {
            self.mapping_value(value, path, &format!("{field}.{key}"));
        }
    }

    fn mapping_value(&mut self, value: &MappingValue, path: &str, field: &str) {
        match value {
            MappingValue::Expr(expr) => match self.exprs.compile(&expr.source) {
                Err(e) if e.code == codes::EMPTY => self.issues.push(Issue::error(
                    "EMPTY_EXPRESSION",
                    path,
                    format!("{field}: expression is empty"),
                )),
                Err(e) => self.issues.push(Issue::error(
                    "INVALID_EXPR",
                    path,
                    format!("{field}: {} (expression `{}`)", e.message, expr.source),
                )),
                Ok(_) => {}
            },
            MappingValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.mapping_value(item, path, &format!("{field}[{i}]"));
                }
            }
            MappingValue::Object(entries) => {
                for (k, v) in entries {
                    self.mapping_value(v, path, &format!("{field}.{k}"));
                }
            }
            MappingValue::Secret(_) | MappingValue::Literal(_) => {}
        }
    }

    fn interpreter_path(&mut self, target: &str, path: &str, field: &str) {
        if let Err(e) = InterpreterTarget::parse(target) {
            self.issues.push(Issue::error(
                "INVALID_ASSIGN_PATH",
                path,
                format!("{field}: {e}"),
            ));
        }
    }

    /// The reference's publish check on wait assigns: a target names its scope (`bad.path`
    /// would land in `vars.bad.path` at run time, which is almost always a typo for a scope).
    fn scoped_paths(&mut self, entries: &Assignments, path: &str, field: &str) {
        const SCOPES: [&str; 6] = ["payload.", "vars.", "meta.", "error.", "local.", "/"];
        for (target, _) in entries {
            if !SCOPES.iter().any(|scope| target.starts_with(scope)) {
                self.issues.push(Issue::error(
                    "INVALID_ASSIGN_PATH",
                    path,
                    format!(
                        "{field}: `{target}` must start with payload., vars., meta., error., local. or /"
                    ),
                ));
            }
        }
    }

    fn interpreter_assign(&mut self, entries: &Assignments, path: &str, field: &str) {
        for (target, expr) in entries {
            self.interpreter_path(target, path, field);
            self.expr(expr, path, &format!("{field}.{target}"));
        }
    }

    fn trigger(&mut self, trigger: &Trigger, payload_schema_ref: &str) {
        match trigger {
            Trigger::Event {
                source_payload_schema_ref,
                payload_mapping,
                ..
            } => {
                let differs = source_payload_schema_ref
                    .as_deref()
                    .is_some_and(|s| s != payload_schema_ref);
                if differs && payload_mapping.is_none() {
                    self.issues.push(Issue::error(
                        "TRIGGER_MAPPING_REQUIRED",
                        "trigger.payloadMapping",
                        "the trigger's sourcePayloadSchemaRef differs from payloadSchemaRef, so a payloadMapping is required",
                    ));
                }
                if let Some(mapping) = payload_mapping {
                    for (key, value) in mapping {
                        self.trigger_mapping_value(value, &format!("trigger.payloadMapping.{key}"));
                    }
                }
            }
            Trigger::Schedule { run_at } => {
                if chrono::DateTime::parse_from_rfc3339(run_at).is_err() {
                    self.issues.push(Issue::error(
                        "TIME_TRIGGER_INVALID_RUN_AT",
                        "trigger.runAt",
                        format!("`{run_at}` is not an ISO-8601 timestamp with a timezone"),
                    ));
                }
            }
            Trigger::Recurring { cron, timezone } => {
                if cron.split_whitespace().count() != 5 {
                    self.issues.push(Issue::error(
                        "TIME_TRIGGER_INVALID_CRON",
                        "trigger.cron",
                        format!("`{cron}` is not a five-field cron expression"),
                    ));
                }
                let plausible = timezone == "UTC"
                    || timezone.split('/').count() >= 2
                        && timezone
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
                if !plausible {
                    self.issues.push(Issue::error(
                        "TIME_TRIGGER_INVALID_TIMEZONE",
                        "trigger.timezone",
                        format!("`{timezone}` is not an IANA timezone name"),
                    ));
                }
            }
        }
    }

    fn trigger_mapping_value(&mut self, value: &MappingValue, field: &str) {
        match value {
            MappingValue::Expr(expr) => {
                let source = expr.source.trim_start();
                if source.starts_with("payload.") || source == "payload" {
                    self.issues.push(Issue::error(
                        "TRIGGER_MAPPING_INVALID_ROOT",
                        field,
                        "trigger mappings read the event: use `event.payload.*`, not `payload.*`",
                    ));
                }
                self.mapping_value(value, field, field);
            }
            other => self.mapping_value(other, field, field),
        }
    }
}
