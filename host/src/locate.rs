//! Finding the interpreter component and the compile cache.

use std::path::{Path, PathBuf};

/// Environment variable naming the interpreter component.
pub const INTERPRETER_ENV: &str = "ALGA_WF_INTERPRETER";

/// Relative location of the component in a build tree (`cargo run -p xtask -- build-interpreter`).
const BUILD_RELATIVE: &str = "wasm/alga_interpreter.component.wasm";

/// The component to load: the flag, else `$ALGA_WF_INTERPRETER`, else the build tree the
/// executable lives in (`target/<profile>/alga-wf` → `target/wasm/…`), else `./target/wasm/…`.
pub fn interpreter_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    if let Some(path) = std::env::var_os(INTERPRETER_ENV) {
        return PathBuf::from(path);
    }
    let beside_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .take(3)
            .map(|dir| dir.join(BUILD_RELATIVE))
            .find(|candidate| candidate.exists())
    });
    beside_exe.unwrap_or_else(|| Path::new("target").join(BUILD_RELATIVE))
}

/// Where compiled components are cached: `$ALGA_WF_CACHE_DIR`, else `cache/` beside the
/// component.
pub fn cache_dir(component: &Path) -> PathBuf {
    cache_dir_in(component.parent().unwrap_or_else(|| Path::new(".")))
}

/// Where compiled components of a directory of modules are cached: `$ALGA_WF_CACHE_DIR`,
/// else `DIR/cache`.
pub fn cache_dir_in(dir: &Path) -> PathBuf {
    match std::env::var_os("ALGA_WF_CACHE_DIR") {
        Some(cache) => PathBuf::from(cache),
        None => dir.join("cache"),
    }
}
