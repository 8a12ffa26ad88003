//! The run's data: scopes, the contexts expressions see, and assignment (dsl-semantics §6).
//!
//! Unlike the reference engine, assignments never discard `meta` or `error` (§6.3).

mod assign;

pub use assign::{AssignError, InterpreterTarget, NodeTarget, ScopeName};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{Input, Node};

/// Identity of the run, visible as `system` and merged into `meta` in expressions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemFields {
    /// Run id.
    pub run_id: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Pinned version.
    pub workflow_version: u32,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Hash of the pinned definition.
    pub definition_hash: String,
    /// Semantics the run pinned.
    pub runtime_semantics_version: String,
}

impl SystemFields {
    /// The fields as expressions see them, borrowed (the names and order of the serialized
    /// form).
    fn fields(&self) -> [(&str, Node<'_>); 6] {
        [
            ("runId", Node::Str(&self.run_id)),
            ("workflowId", Node::Str(&self.workflow_id)),
            (
                "workflowVersion",
                Node::Number(f64::from(self.workflow_version)),
            ),
            (
                "tenantId",
                self.tenant_id.as_deref().map_or(Node::Null, Node::Str),
            ),
            ("definitionHash", Node::Str(&self.definition_hash)),
            (
                "runtimeSemanticsVersion",
                Node::Str(&self.runtime_semantics_version),
            ),
        ]
    }
}

/// The scope state of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scopes {
    /// The run's input, mutable by assignments.
    pub payload: Map<String, Value>,
    /// Workflow variables (`vars`).
    pub vars: Map<String, Value>,
    /// Loop scopes, innermost last.
    pub lexical: Vec<Map<String, Value>>,
    /// Run metadata (`meta.state`, ...).
    pub meta: Map<String, Value>,
    /// The last handled error, or null.
    pub error: Value,
    /// Run identity.
    pub system: SystemFields,
}

impl Scopes {
    /// Fresh scopes for a run.
    pub fn new(
        payload: Map<String, Value>,
        meta: Map<String, Value>,
        system: SystemFields,
    ) -> Self {
        Scopes {
            payload,
            vars: Map::new(),
            lexical: Vec::new(),
            meta,
            error: Value::Null,
            system,
        }
    }

    /// Calls `f` with the rich interpreter context (dsl-semantics §5.4): vars and the top loop
    /// scope spread as bare names, then `payload`, `vars`, `local`, `system`, `meta` (with the
    /// system fields) and `error`, and any `extra` fields last. Nothing is cloned: every field
    /// is borrowed, `meta` merged with the system fields included.
    pub fn with_rich_context<R>(
        &self,
        extra: &[(&str, &Value)],
        f: impl FnOnce(Input<'_>) -> R,
    ) -> R {
        let empty = Map::new();
        let local = self.lexical.last().unwrap_or(&empty);
        let system = self.system.fields();
        let mut meta: Vec<(&str, Node<'_>)> = Vec::with_capacity(self.meta.len() + system.len());
        meta.extend(self.meta.iter().map(|(k, v)| (k.as_str(), Node::Value(v))));
        meta.extend(system);
        let mut fields: Vec<(&str, Node<'_>)> =
            Vec::with_capacity(self.vars.len() + local.len() + 6 + extra.len());
        fields.extend(self.vars.iter().map(|(k, v)| (k.as_str(), Node::Value(v))));
        fields.extend(local.iter().map(|(k, v)| (k.as_str(), Node::Value(v))));
        fields.push(("payload", Node::Object(&self.payload)));
        fields.push(("vars", Node::Object(&self.vars)));
        fields.push(("local", Node::Object(local)));
        fields.push(("system", Node::Fields(&system)));
        fields.push(("meta", Node::Fields(&meta)));
        fields.push(("error", Node::Value(&self.error)));
        fields.extend(extra.iter().map(|(k, v)| (*k, Node::Value(v))));
        f(Input::Fields(&fields))
    }

    /// Calls `f` with the node-handler context: exactly `payload`, `vars`, `meta`, `error`.
    pub fn with_node_context<R>(&self, f: impl FnOnce(Input<'_>) -> R) -> R {
        let fields = [
            ("payload", Node::Object(&self.payload)),
            ("vars", Node::Object(&self.vars)),
            ("meta", Node::Object(&self.meta)),
            ("error", Node::Value(&self.error)),
        ];
        f(Input::Fields(&fields))
    }

    /// The snapshot reported as a run's result and in the simulator report.
    pub fn result(&self) -> Value {
        let mut result = Map::new();
        result.insert("payload".into(), Value::Object(self.payload.clone()));
        result.insert("vars".into(), Value::Object(self.vars.clone()));
        result.insert("meta".into(), Value::Object(self.meta.clone()));
        result.insert("error".into(), self.error.clone());
        Value::Object(result)
    }

    fn scope_mut(&mut self, scope: ScopeName) -> &mut Map<String, Value> {
        match scope {
            ScopeName::Payload => &mut self.payload,
            ScopeName::Vars => &mut self.vars,
            ScopeName::Meta => &mut self.meta,
            ScopeName::Local => match self.lexical.last_mut() {
                Some(top) => top,
                None => &mut self.vars,
            },
            ScopeName::Error => {
                if !self.error.is_object() {
                    self.error = Value::Object(Map::new());
                }
                match &mut self.error {
                    Value::Object(map) => map,
                    _ => unreachable!("error was just made an object"),
                }
            }
        }
    }

    /// Writes `value` at an interpreter-path target (saveAs, wait assigns, outputMapping, ...).
    pub fn assign(&mut self, target: &InterpreterTarget, value: Value) {
        let scope = self.scope_mut(target.scope);
        write_path(scope, &target.segments, value);
    }

    /// Reads the field at an interpreter-path target.
    pub fn read(&self, target: &InterpreterTarget) -> Option<Value> {
        let scope = match target.scope {
            ScopeName::Payload => &self.payload,
            ScopeName::Vars => &self.vars,
            ScopeName::Meta => &self.meta,
            ScopeName::Local => self.lexical.last().unwrap_or(&self.vars),
            ScopeName::Error => self.error.as_object()?,
        };
        let (first, rest) = target.segments.split_first()?;
        let mut current = scope.get(first)?;
        for segment in rest {
            current = current.as_object()?.get(segment)?;
        }
        Some(current.clone())
    }

    /// Removes the field at an interpreter-path target, if it exists.
    pub fn remove(&mut self, target: &InterpreterTarget) {
        let Some((last, parents)) = target.segments.split_last() else {
            return;
        };
        let mut current = self.scope_mut(target.scope);
        for segment in parents {
            match current.get_mut(segment) {
                Some(Value::Object(inner)) => current = inner,
                _ => return,
            }
        }
        current.shift_remove(last);
    }

    /// Writes `value` at a node-path target (`transform.assign`).
    pub fn assign_node(&mut self, target: &NodeTarget, value: Value) {
        let scope = self.scope_mut(target.scope);
        write_path(scope, &target.segments, value);
    }
}

/// Writes `value` at `segments` inside `map`, creating objects and replacing non-objects on the
/// way. Arrays are not indexed: `a.0` creates the key `"0"`.
fn write_path(map: &mut Map<String, Value>, segments: &[String], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut current = map;
    for segment in parents {
        let slot = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        current = match slot {
            Value::Object(inner) => inner,
            _ => unreachable!("slot was just made an object"),
        };
    }
    current.insert(last.clone(), value);
}
