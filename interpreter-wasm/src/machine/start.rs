//! Starting a run from its start input: semantics and hash checks, the pinned definition, the
//! initial scopes.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::protocol::RunStart;
use super::run::Run;
use super::state::RunState;
use super::{ActivationError, ActivationFacts, RUNTIME_SEMANTICS_VERSION};
use crate::canonical::definition_hash;
use crate::definition;
use crate::error::{Failure, category};
use crate::expr::Evaluator;
use crate::scope::{Scopes, SystemFields};

impl Run {
    /// Starts a run. A start input for other semantics is refused (the host routed it to the
    /// wrong module); an unusable definition or payload fails the run at once.
    pub fn start(start: RunStart, facts: ActivationFacts) -> Result<Run, ActivationError> {
        if start.runtime_semantics_version != RUNTIME_SEMANTICS_VERSION {
            return Err(ActivationError::WrongSemantics {
                pinned: start.runtime_semantics_version,
                loaded: RUNTIME_SEMANTICS_VERSION,
            });
        }
        let system = SystemFields {
            run_id: start.run_id.clone(),
            workflow_id: start.workflow_id.clone(),
            workflow_version: start.workflow_version,
            tenant_id: start.tenant_id.clone(),
            definition_hash: start.definition_hash.clone(),
            runtime_semantics_version: start.runtime_semantics_version.clone(),
        };
        let mut run = Run {
            start,
            definition: None,
            state: RunState::new(Scopes::new(Map::new(), Map::new(), system)),
            finished: false,
            exprs: Evaluator::default(),
            facts,
            out: Vec::new(),
            steps_this_run: 0,
        };
        if let Err(failure) = run.prepare() {
            let error = failure.at("root", &run.now_iso());
            run.fail_run(error);
        }
        Ok(run)
    }

    fn prepare(&mut self) -> Result<(), Failure> {
        if self.start.definition.is_null() {
            return Err(Failure::new(
                category::VALIDATION,
                format!(
                    "Workflow definition {}@{} is not available",
                    self.start.workflow_id, self.start.workflow_version
                ),
            )
            .with_code("DEFINITION_NOT_FOUND"));
        }
        let actual = definition_hash(&self.start.definition);
        if actual != self.start.definition_hash {
            return Err(Failure::new(
                category::VALIDATION,
                format!(
                    "Pinned workflow definition hash mismatch: the run pinned {}, the definition hashes to {actual}",
                    self.start.definition_hash
                ),
            )
            .with_code("DEFINITION_HASH_MISMATCH"));
        }
        let (parsed, issues) = definition::parse(&self.start.definition);
        let Some(parsed) = parsed else {
            let first = issues
                .iter()
                .find(|i| i.severity == definition::Severity::Error)
                .map(|i| format!("{} at {}: {}", i.code, i.path, i.message))
                .unwrap_or_default();
            return Err(Failure::new(
                category::VALIDATION,
                format!("Pinned workflow definition is invalid: {first}"),
            )
            .with_code("INVALID_WORKFLOW_DEFINITION")
            .with_details(json!({"issues": issues})));
        };
        self.state.scopes.payload = match &self.start.payload {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => {
                return Err(Failure::new(
                    category::VALIDATION,
                    format!(
                        "the run payload must be a JSON object, found {}",
                        definition::json_type(other)
                    ),
                ));
            }
        };
        if let Some(Value::Object(meta)) = &self.start.meta {
            self.state.scopes.meta = meta.clone();
        }
        let parsed = Arc::new(parsed);
        self.definition = Some(parsed.clone());
        if let Some(checkpoint) = self.start.checkpoint.clone() {
            self.resume_checkpoint(&checkpoint, &parsed)?;
        }
        self.settle();
        Ok(())
    }
}
