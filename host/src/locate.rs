//! Finding the interpreter module and the compile cache.
//!
//! A release binary carries its own module (embedded by `build.rs` from the component that
//! `scripts/build` made), so an installed `alga-wf` works from any directory with no flag;
//! `--interpreter` and `$ALGA_WF_INTERPRETER` name another module, and a binary built without
//! one falls back to the build tree it lives in.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::engine::{EngineConfig, EngineError, InterpreterEngine};

/// Environment variable naming the interpreter component.
pub const INTERPRETER_ENV: &str = "ALGA_WF_INTERPRETER";

/// Environment variable naming the compile cache.
pub const CACHE_ENV: &str = "ALGA_WF_CACHE_DIR";

/// Relative location of the component in a build tree (`cargo run -p xtask -- build-interpreter`).
const BUILD_RELATIVE: &str = "wasm/alga_interpreter.component.wasm";

/// The module this binary was built with, if `build.rs` found one.
#[cfg(alga_wf_embedded)]
pub const EMBEDDED: Option<&[u8]> = Some(include_bytes!(concat!(
    env!("OUT_DIR"),
    "/embedded_component.wasm"
)));
/// The module this binary was built with, if `build.rs` found one.
#[cfg(not(alga_wf_embedded))]
pub const EMBEDDED: Option<&[u8]> = None;

/// Where the interpreter module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpreterSource {
    /// A component file.
    File(PathBuf),
    /// The module built into this binary.
    Embedded(&'static [u8]),
}

impl InterpreterSource {
    /// The component's bytes.
    pub fn bytes(&self) -> Result<Cow<'static, [u8]>, EngineError> {
        match self {
            InterpreterSource::Embedded(bytes) => Ok(Cow::Borrowed(bytes)),
            InterpreterSource::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|source| EngineError::Read {
                        path: path.clone(),
                        source,
                    })
            }
        }
    }

    /// Where its compiled form is cached: `$ALGA_WF_CACHE_DIR`, else `cache/` beside a file, or
    /// the user's cache directory for the embedded module (an installed binary's directory is
    /// often not writable).
    pub fn cache_dir(&self) -> PathBuf {
        match self {
            InterpreterSource::File(path) => {
                cache_dir_in(path.parent().unwrap_or_else(|| Path::new(".")))
            }
            InterpreterSource::Embedded(_) => cache_dir_or(user_cache_dir),
        }
    }

    /// Loads the module with `config`, its compile cache filled in.
    pub fn load(&self, mut config: EngineConfig) -> Result<InterpreterEngine, EngineError> {
        config.cache_dir = Some(self.cache_dir());
        InterpreterEngine::from_bytes(&self.bytes()?, config)
    }
}

impl std::fmt::Display for InterpreterSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpreterSource::File(path) => write!(f, "{}", path.display()),
            InterpreterSource::Embedded(_) => f.write_str("the module built into alga-wf"),
        }
    }
}

/// The module to load: the flag, else `$ALGA_WF_INTERPRETER`, else the embedded module, else
/// the build tree the executable lives in (`target/<profile>/alga-wf` → `target/wasm/…`),
/// else `./target/wasm/…`.
pub fn interpreter_source(flag: Option<&Path>) -> InterpreterSource {
    if let Some(path) = flag {
        return InterpreterSource::File(path.to_owned());
    }
    if let Some(path) = std::env::var_os(INTERPRETER_ENV) {
        return InterpreterSource::File(PathBuf::from(path));
    }
    if let Some(bytes) = EMBEDDED {
        return InterpreterSource::Embedded(bytes);
    }
    let beside_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .take(3)
            .map(|dir| dir.join(BUILD_RELATIVE))
            .find(|candidate| candidate.exists())
    });
    InterpreterSource::File(beside_exe.unwrap_or_else(|| Path::new("target").join(BUILD_RELATIVE)))
}

/// Where compiled components of a directory of modules are cached: `$ALGA_WF_CACHE_DIR`,
/// else `DIR/cache`.
pub fn cache_dir_in(dir: &Path) -> PathBuf {
    cache_dir_or(|| dir.join("cache"))
}

/// `$ALGA_WF_CACHE_DIR`, else `default`.
fn cache_dir_or(default: impl FnOnce() -> PathBuf) -> PathBuf {
    std::env::var_os(CACHE_ENV).map_or_else(default, PathBuf::from)
}

/// `alga-wf` under the user's cache directory (`$XDG_CACHE_HOME`, `~/.cache` on Linux), or
/// under the temporary directory for a user without a home.
fn user_cache_dir() -> PathBuf {
    use etcetera::BaseStrategy;
    match etcetera::choose_base_strategy() {
        Ok(strategy) => strategy.cache_dir().join("alga-wf"),
        Err(_) => std::env::temp_dir().join("alga-wf-cache"),
    }
}
