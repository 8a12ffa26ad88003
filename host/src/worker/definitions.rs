//! Where children's pinned definitions come from: the PostgreSQL store of published versions,
//! then a directory of definition files (one per `id@version`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use alga_protocol::protocol::Command;
use serde_json::Value;

use crate::store::{Store, StoreError, tenant_uuid};

/// Where the worker reads children's pinned definitions from (shared by its tasks).
pub type DefinitionLookup = Arc<ChildDefinitions>;

/// Children's pinned definitions an activation's commands need, by `(workflow id, version)`:
/// read before its commands are converted, so converting does no IO. A child whose definition
/// is missing is absent (it starts with none and fails as the interpreter says).
pub type FoundDefinitions = HashMap<(String, u32), Value>;

/// The store of published versions (by the parent's tenant), then a directory of definition
/// files. With neither (replay, the benchmarks), no child has a definition.
#[derive(Default)]
pub struct ChildDefinitions {
    directory: DefinitionDirectory,
    store: Option<Store>,
}

impl ChildDefinitions {
    /// Finds a pinned definition by tenant, workflow id and version: `Ok(None)` when there is
    /// none, `Err` when it cannot be known now (the database is away), so the workflow task
    /// fails and is retried instead of a child starting without its definition.
    pub async fn find(
        &self,
        tenant: Option<&str>,
        id: &str,
        version: u32,
    ) -> Result<Option<Value>, String> {
        if let Some(store) = &self.store
            && let Ok(tenant) = tenant_uuid(tenant)
        {
            let found = async {
                fail::fail_point!("child-definition", |_| Err(StoreError::Database {
                    context: "the child-definition failpoint".into(),
                    source: sqlx::Error::PoolTimedOut,
                }));
                store.pinned(tenant, id, i32::try_from(version).ok()).await
            }
            .await;
            match found {
                Ok(pinned) => return Ok(Some(pinned.definition)),
                Err(StoreError::NotFound(_)) => {}
                // Unknown now, not missing: a directory copy serves, else the task is retried.
                Err(e) => {
                    return self
                        .directory
                        .get(id, version)
                        .map(Some)
                        .ok_or_else(|| e.to_string());
                }
            }
        }
        Ok(self.directory.get(id, version))
    }

    /// The definitions of the children `commands` start, for a run of `tenant`.
    pub async fn for_commands(
        &self,
        tenant: Option<&str>,
        commands: &[Command],
    ) -> Result<FoundDefinitions, String> {
        let mut found = FoundDefinitions::new();
        for command in commands {
            let Command::StartChild(request) = command else {
                continue;
            };
            let key = (request.workflow_id.clone(), request.workflow_version);
            if found.contains_key(&key) {
                continue;
            }
            let definition = self
                .find(tenant, &request.workflow_id, request.workflow_version)
                .await
                .map_err(|e| format!("reading child workflow `{}`: {e}", request.workflow_id))?;
            if let Some(definition) = definition {
                found.insert(key, definition);
            }
        }
        Ok(found)
    }
}

/// Definitions by `(workflow id, version)`.
#[derive(Debug, Default, Clone)]
pub struct DefinitionDirectory {
    definitions: HashMap<(String, u32), Value>,
}

impl DefinitionDirectory {
    /// Reads every `*.json` file in `dir` that holds a definition with `id` and `version`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let mut definitions = HashMap::new();
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
            if let (Some(id), Some(version)) = (value["id"].as_str(), value["version"].as_u64()) {
                definitions.insert((id.to_owned(), version as u32), value.clone());
            }
        }
        Ok(DefinitionDirectory { definitions })
    }

    /// The definition of `id@version`.
    pub fn get(&self, id: &str, version: u32) -> Option<Value> {
        self.definitions.get(&(id.to_owned(), version)).cloned()
    }
}

/// The lookup the worker uses for children: the store first (by workflow uuid or key, for the
/// parent's tenant), then the directory.
pub fn definition_lookup(directory: DefinitionDirectory, store: Option<Store>) -> DefinitionLookup {
    Arc::new(ChildDefinitions { directory, store })
}
