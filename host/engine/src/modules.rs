//! Interpreter modules by `runtime_semantics_version`. Every run pins the semantics it started
//! with; the host keeps one loaded module per version it can serve and routes each run's
//! activations to its own, so a new interpreter never changes a run in flight.
//!
//! The current build is the module new runs pin. Older modules live in a directory with a
//! `manifest.json` (`{"modules": [{"version", "file", "blake3"}]}`), written by
//! `alga-wf interpreters add`; each file's hash is checked when it is loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{EngineConfig, EngineError, InterpreterEngine};

/// The manifest's file name inside a modules directory.
pub const MANIFEST: &str = "manifest.json";

/// A modules directory's manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The modules, oldest first.
    pub modules: Vec<ModuleEntry>,
}

/// One module of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleEntry {
    /// The `runtime_semantics_version` it implements.
    pub version: String,
    /// Its file, relative to the directory.
    pub file: String,
    /// blake3 of the file (hex).
    pub blake3: String,
}

impl Manifest {
    /// Reads `dir/manifest.json` (an absent file is an empty manifest).
    pub fn read(dir: &Path) -> Result<Manifest, EngineError> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                EngineError::Protocol(format!("{} is not a module manifest: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(source) => Err(EngineError::Read { path, source }),
        }
    }

    /// Writes `dir/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<(), EngineError> {
        let path = dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text + "\n").map_err(|source| EngineError::Read { path, source })
    }
}

/// The loaded modules: the current one and the older ones runs may have pinned.
pub struct Modules {
    current: Arc<InterpreterEngine>,
    by_version: BTreeMap<String, Arc<InterpreterEngine>>,
}

impl Modules {
    /// Only the current module.
    pub fn single(current: Arc<InterpreterEngine>) -> Modules {
        let by_version =
            BTreeMap::from([(current.semantics_version().to_owned(), current.clone())]);
        Modules {
            current,
            by_version,
        }
    }

    /// The current module plus every module `dir`'s manifest lists, each checked against its
    /// hash and its own version. A module whose version is the current one's is skipped.
    pub fn load(
        current: Arc<InterpreterEngine>,
        dir: Option<&Path>,
        config: &EngineConfig,
    ) -> Result<Modules, EngineError> {
        let mut modules = Modules::single(current);
        let Some(dir) = dir else {
            return Ok(modules);
        };
        for entry in Manifest::read(dir)?.modules {
            if entry.version == modules.current.semantics_version() {
                continue;
            }
            let path: PathBuf = dir.join(&entry.file);
            let bytes = std::fs::read(&path).map_err(|source| EngineError::Read {
                path: path.clone(),
                source,
            })?;
            let hash = blake3::hash(&bytes).to_hex().to_string();
            if hash != entry.blake3 {
                return Err(EngineError::Protocol(format!(
                    "{} has blake3 {hash}, but the manifest says {}; refusing to load it",
                    path.display(),
                    entry.blake3
                )));
            }
            let engine = InterpreterEngine::load(&path, config.clone())?;
            if engine.semantics_version() != entry.version {
                return Err(EngineError::Protocol(format!(
                    "{} implements semantics {}, but the manifest says {}",
                    path.display(),
                    engine.semantics_version(),
                    entry.version
                )));
            }
            modules.by_version.insert(entry.version, Arc::new(engine));
        }
        Ok(modules)
    }

    /// The module new runs pin.
    pub fn current(&self) -> &Arc<InterpreterEngine> {
        &self.current
    }

    /// The module for a pinned version, if loaded.
    pub fn for_version(&self, version: &str) -> Option<&Arc<InterpreterEngine>> {
        self.by_version.get(version)
    }

    /// Every loaded version.
    pub fn versions(&self) -> Vec<&str> {
        self.by_version.keys().map(String::as_str).collect()
    }

    /// Instances every module can hold at once.
    pub fn capacity(&self) -> usize {
        self.by_version
            .values()
            .map(|m| m.capacity())
            .min()
            .unwrap_or(0)
    }
}

/// Adds the component `bytes` to the modules directory `dir` as `<version>.wasm`, with its
/// hash in the manifest. The same version with other bytes is refused unless `replace`.
pub fn add_module(
    bytes: &[u8],
    dir: &Path,
    replace: bool,
    config: &EngineConfig,
) -> Result<ModuleEntry, EngineError> {
    let engine = InterpreterEngine::from_bytes(bytes, config.clone())?;
    let version = engine.semantics_version().to_owned();
    let entry = ModuleEntry {
        file: format!("{version}.wasm"),
        blake3: blake3::hash(bytes).to_hex().to_string(),
        version,
    };
    std::fs::create_dir_all(dir).map_err(|source| EngineError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut manifest = Manifest::read(dir)?;
    match manifest
        .modules
        .iter_mut()
        .find(|m| m.version == entry.version)
    {
        Some(existing) if existing.blake3 == entry.blake3 => return Ok(entry),
        Some(existing) if replace => *existing = entry.clone(),
        Some(existing) => {
            return Err(EngineError::Protocol(format!(
                "{} already holds semantics {} with blake3 {}; a different module under the same version would change runs in flight (bump RUNTIME_SEMANTICS_VERSION, or pass --replace for a development build)",
                dir.display(),
                existing.version,
                existing.blake3
            )));
        }
        None => manifest.modules.push(entry.clone()),
    }
    let target = dir.join(&entry.file);
    std::fs::write(&target, bytes).map_err(|source| EngineError::Read {
        path: target,
        source,
    })?;
    manifest.write(dir)?;
    Ok(entry)
}
