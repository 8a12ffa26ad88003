//! Stand-ins for the product, for demos and tests of `alga-wf dev`: a simulator scenario's
//! scripted `actions` serve the product's actions, and its `taskTypes` become task types in the
//! system catalog, so a flow like the triage example runs end to end with no PSA behind it.
//! Never for production: the scripted results are the same for every run.

use std::collections::BTreeMap;
use std::path::Path;

use alga_protocol::KnownAction;
use serde_json::Value;

use crate::stand_ins::ScriptedResult;
use crate::store::{Store, StoreError};

/// Scripted actions and task types read from a scenario.
#[derive(Debug, Clone, Default)]
pub struct StandIns {
    /// Results by step id or `id@version`.
    pub actions: BTreeMap<String, Vec<ScriptedResult>>,
    /// Form schemas by task type.
    pub task_types: BTreeMap<String, Value>,
}

impl StandIns {
    /// Reads the `actions` and `taskTypes` of a scenario file.
    pub fn read(path: &Path) -> Result<StandIns, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let actions = match value.get("actions") {
            Some(actions) => {
                crate::simulate::parse_scripted_actions(actions).map_err(|issues| {
                    let first = issues
                        .first()
                        .map(|i| format!("{}: {}", i.path, i.message))
                        .unwrap_or_default();
                    format!("{}: {first}", path.display())
                })?
            }
            None => BTreeMap::new(),
        };
        let mut task_types = BTreeMap::new();
        if let Some(Value::Object(types)) = value.get("taskTypes") {
            for (name, task_type) in types {
                let schema = task_type.get("formSchema").cloned().ok_or_else(|| {
                    format!("{}: taskTypes.{name} has no formSchema", path.display())
                })?;
                task_types.insert(name.clone(), schema);
            }
        }
        Ok(StandIns {
            actions,
            task_types,
        })
    }

    /// The `id@version` actions the stand-ins serve, which definitions may then call.
    pub fn known_actions(&self) -> Vec<KnownAction> {
        self.actions
            .keys()
            .filter_map(|key| {
                let (id, version) = key.rsplit_once('@')?;
                Some(KnownAction {
                    id: id.to_owned(),
                    version: version.parse().ok()?,
                })
            })
            .collect()
    }

    /// Puts the task types in the system catalog (replacing forms of the same name).
    pub async fn register(&self, store: &Store) -> Result<(), StoreError> {
        for (task_type, schema) in &self.task_types {
            store.register_system_task_type(task_type, schema).await?;
        }
        Ok(())
    }
}
