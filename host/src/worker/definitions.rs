//! Child workflow definitions read from a directory of published definitions (one JSON file
//! per `id@version`); the PostgreSQL definition store takes its place later.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

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
