//! The `.wasm` interpreter component in wasmtime, loaded once per fuzzing process.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::OnceLock;

use alga_wf_engine::{EngineConfig, EngineError, InterpreterEngine, RunInstance};

use crate::seeds::project_root;

/// The component: `$ALGA_WF_INTERPRETER`, else the build's `target/wasm/…` (`scripts/build`).
pub fn component_path() -> PathBuf {
    std::env::var_os("ALGA_WF_INTERPRETER").map_or_else(
        || project_root().join("target/wasm/alga_interpreter.component.wasm"),
        PathBuf::from,
    )
}

/// The loaded component. Panics, naming the file, when it cannot be loaded: a differential
/// run without the component would compare nothing.
pub fn engine() -> &'static InterpreterEngine {
    static ENGINE: OnceLock<InterpreterEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = component_path();
        // Compiling the component takes seconds (more in an instrumented fuzzing build); the
        // cache makes every later fuzzing process start at once.
        let config = EngineConfig {
            pool_instances: 4,
            cache_dir: Some(project_root().join("target/fuzz-cache")),
            ..EngineConfig::default()
        };
        InterpreterEngine::load(&path, config).unwrap_or_else(|e| {
            panic!(
                "cannot load the interpreter component {} (run scripts/build): {e}",
                path.display()
            )
        })
    })
}

/// A fresh instance, for one run.
pub fn instantiate() -> RunInstance {
    engine()
        .instantiate()
        .unwrap_or_else(|e| panic!("cannot instantiate the interpreter component: {e}"))
}

/// Runs `f` on a shared instance for stateless calls (validation, expressions), replacing the
/// instance after a trap, which leaves it unusable.
pub fn with_shared<T>(
    f: impl FnOnce(&mut RunInstance) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    thread_local! {
        static SHARED: RefCell<Option<RunInstance>> = const { RefCell::new(None) };
    }
    SHARED.with(|shared| {
        let mut shared = shared.borrow_mut();
        let instance = shared.get_or_insert_with(instantiate);
        let result = f(instance);
        if result.is_err() {
            *shared = None;
        }
        result
    })
}

/// Whether an engine error is a resource limit (fuel, memory or stack) rather than a difference in
/// behaviour: the native library has no such limits, so these end a comparison.
pub fn is_resource_limit(error: &EngineError) -> bool {
    match error {
        EngineError::OutOfFuel(_) | EngineError::OutOfMemory(_) => true,
        EngineError::Trap(message) => message.contains("call stack exhausted"),
        _ => false,
    }
}
