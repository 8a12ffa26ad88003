//! Compile the component once: a `.cwasm` keyed by the component's hash and the engine's
//! version is reused on later starts (deserialising takes about a millisecond, compiling about
//! a second).

use std::path::Path;

use wasmtime::component::Component;

use super::EngineError;

/// Wasmtime's version: compiled artifacts are only valid for the version that made them.
const WASMTIME_VERSION: &str = "48.0.8";

/// Returns the compiled component, from `cache_dir` when a compatible compilation is there.
pub fn compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    component_hash: &str,
    cache_dir: Option<&Path>,
) -> Result<Component, EngineError> {
    let Some(dir) = cache_dir else {
        return Ok(Component::new(engine, bytes)?);
    };
    let file = dir.join(format!(
        "{component_hash}-wasmtime-{WASMTIME_VERSION}.cwasm"
    ));
    if file.exists() {
        // SAFETY: the file was written by `Component::serialize` of this wasmtime version
        // (its name carries the component hash and the version); wasmtime also checks the
        // engine configuration's compatibility and refuses a mismatch, which recompiles below.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &file) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, bytes)?;
    if std::fs::create_dir_all(dir).is_ok() {
        let temporary = file.with_extension(format!("{}.tmp", std::process::id()));
        if let Ok(serialized) = component.serialize()
            && std::fs::write(&temporary, serialized).is_ok()
        {
            // A rename is atomic, so a concurrent start never reads half a file.
            let _ = std::fs::rename(&temporary, &file);
        }
    }
    Ok(component)
}
