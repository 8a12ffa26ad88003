//! Where children's pinned definitions come from: the PostgreSQL store of published versions,
//! then a directory of definition files (one per `id@version`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::store::{Store, StoreError, tenant_uuid};

/// Resolves a child's pinned definition by tenant, workflow id and version.
pub type DefinitionLookup = Arc<FindDefinition>;

/// Finds a pinned definition by tenant, workflow id and version: `Ok(None)` when there is none,
/// `Err` when it cannot be known now (the database is away), so the workflow task fails and is
/// retried instead of a child starting without its definition.
pub type FindDefinition =
    dyn Fn(Option<&str>, &str, u32) -> Result<Option<Value>, String> + Send + Sync;

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
    std::sync::Arc::new(move |tenant: Option<&str>, id: &str, version: u32| {
        if let Some(store) = &store
            && let Ok(tenant) = tenant_uuid(tenant)
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let pinned_version = i32::try_from(version).ok();
            // Building a command is synchronous; the lookup is one indexed read.
            let found = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    fail::fail_point!("child-definition", |_| Err(StoreError::Database {
                        context: "the child-definition failpoint".into(),
                        source: sqlx::Error::PoolTimedOut,
                    }));
                    store.pinned(tenant, id, pinned_version).await
                })
            });
            match found {
                Ok(pinned) => return Ok(Some(pinned.definition)),
                Err(StoreError::NotFound(_)) => {}
                // Unknown now, not missing: a directory copy serves, else the task is retried.
                Err(e) => {
                    return directory
                        .get(id, version)
                        .map(Some)
                        .ok_or_else(|| e.to_string());
                }
            }
        }
        Ok(directory.get(id, version))
    })
}
