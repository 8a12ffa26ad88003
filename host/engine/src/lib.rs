//! The wasm engine: wasmtime configured for deterministic execution, the interpreter component
//! compiled once (and cached as `.cwasm`), and one store per run instantiated from a
//! pre-instantiated component.

mod cache;
mod convert;
mod imports;
mod memory;
pub mod modules;

use std::path::{Path, PathBuf};

use alga_protocol::Issue;
use alga_protocol::KnownAction;
use alga_protocol::protocol::{Activation, Command};
use serde_json::Value;
use wasmtime::component::Linker;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use imports::HostState;
use memory::MemoryCap;
pub use memory::MemoryExhausted;

wasmtime::component::bindgen!({
    world: "interpreter",
    path: "../../wit",
});

/// Default fuel for one activation: a deterministic bound on the guest's work.
pub const DEFAULT_FUEL_PER_ACTIVATION: u64 = 2_000_000_000;

/// Default cap on one instance's linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// What keeping an instance costs beyond the memory it grew: the pages of its first memory
/// it has written (the stack as deep as its deepest activation, its statics, the heap inside
/// the first memory). The rest of the first memory is the module's image, mapped from one
/// file and shared by every instance until written, or never touched. `scripts/bench
/// interpreter` measures a parked instance's own pages (about 60 KiB for a run parked on an
/// event wait); the charge leaves room for a deeper stack. The host cannot count an
/// instance's written pages itself: a component keeps its memory to itself.
pub const INSTANCE_BASE_CHARGE: usize = 128 << 10;

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The component file could not be read.
    #[error("cannot read the interpreter component {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Wasmtime refused the configuration, the component, or an instantiation.
    #[error("wasm engine: {0:#}")]
    Wasmtime(wasmtime::Error),
    /// The guest used up its fuel: a runaway expression or loop.
    #[error("the activation exceeded its fuel budget of {0} units (a runaway expression or loop)")]
    OutOfFuel(u64),
    /// The guest reached its memory cap: a runaway expression or loop.
    #[error("the activation exceeded its memory limit ({0}; a runaway expression or loop)")]
    OutOfMemory(MemoryExhausted),
    /// The guest trapped.
    #[error("the interpreter trapped: {0}")]
    Trap(String),
    /// The guest refused the activation (host and interpreter disagree about the run).
    #[error("the interpreter refused the activation: {0}")]
    Refused(String),
    /// The guest sent something the host cannot read.
    #[error("the interpreter broke the protocol: {0}")]
    Protocol(String),
}

impl EngineError {
    /// Whether the guest itself stopped (fuel, memory cap, trap): deterministic, since the same
    /// history stops at the same point, so a run should fail rather than retry its task.
    pub fn is_guest_trap(&self) -> bool {
        matches!(
            self,
            EngineError::OutOfFuel(_) | EngineError::OutOfMemory(_) | EngineError::Trap(_)
        )
    }
}

impl From<wasmtime::Error> for EngineError {
    fn from(e: wasmtime::Error) -> Self {
        EngineError::Wasmtime(e)
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Fuel per activation.
    pub fuel_per_activation: u64,
    /// Linear-memory cap per instance.
    pub memory_limit: usize,
    /// Instances the pooling allocator keeps slots for.
    pub pool_instances: u32,
    /// Where compiled components are cached (none: compile every time).
    pub cache_dir: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fuel_per_activation: DEFAULT_FUEL_PER_ACTIVATION,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            pool_instances: 64,
            cache_dir: None,
        }
    }
}

/// A loaded interpreter module, ready to instantiate runs.
pub struct InterpreterEngine {
    engine: wasmtime::Engine,
    pre: InterpreterPre<HostState>,
    config: EngineConfig,
    semantics_version: String,
    component_hash: String,
}

fn wasmtime_config(config: &EngineConfig) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false)
        .relaxed_simd_deterministic(true)
        .consume_fuel(true);
    let mut pool = PoolingAllocationConfig::default();
    // A component instance holds a few core instances (the module and its adapter shims).
    pool.total_component_instances(config.pool_instances)
        .total_core_instances(config.pool_instances * 4)
        .total_memories(config.pool_instances)
        .total_tables(config.pool_instances * 4)
        .max_memory_size(config.memory_limit);
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

impl InterpreterEngine {
    /// Loads the component at `path`, compiling it or reusing a cached compilation.
    pub fn load(path: &Path, config: EngineConfig) -> Result<Self, EngineError> {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, config)
    }

    /// Loads a component held in memory (the module embedded in the binary), compiling it or
    /// reusing a cached compilation keyed by its blake3.
    pub fn from_bytes(bytes: &[u8], config: EngineConfig) -> Result<Self, EngineError> {
        let engine = wasmtime::Engine::new(&wasmtime_config(&config))?;
        let component_hash = blake3::hash(bytes).to_hex().to_string();
        let component =
            cache::compile(&engine, bytes, &component_hash, config.cache_dir.as_deref())?;
        let mut linker = Linker::<HostState>::new(&engine);
        Interpreter::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )?;
        let pre = InterpreterPre::new(linker.instantiate_pre(&component)?)?;
        let mut this = InterpreterEngine {
            engine,
            pre,
            config,
            semantics_version: String::new(),
            component_hash,
        };
        let mut probe = this.instantiate()?;
        this.semantics_version = probe.semantics_version()?;
        Ok(this)
    }

    /// The `runtime_semantics_version` the module implements.
    pub fn semantics_version(&self) -> &str {
        &self.semantics_version
    }

    /// How many instances can exist at once (the pooling allocator's slots).
    pub fn capacity(&self) -> usize {
        self.config.pool_instances as usize
    }

    /// blake3 of the component bytes.
    pub fn component_hash(&self) -> &str {
        &self.component_hash
    }

    /// The interfaces the component imports, as wasmtime sees them.
    pub fn component_imports(&self) -> Vec<String> {
        let component = self.pre.instance_pre().component();
        component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// A fresh instance (one per run).
    pub fn instantiate(&self) -> Result<RunInstance, EngineError> {
        let memory = MemoryCap {
            limit: self.config.memory_limit,
            size: 0,
        };
        let mut store = Store::new(&self.engine, HostState::new(memory));
        store.limiter(|state| &mut state.memory);
        store.set_fuel(self.config.fuel_per_activation)?;
        let bindings = self.pre.instantiate(&mut store)?;
        let initial_memory = store.data().memory.size;
        Ok(RunInstance {
            store,
            bindings,
            fuel: self.config.fuel_per_activation,
            initial_memory,
        })
    }

    /// Validates a definition through the component.
    pub fn validate(
        &self,
        definition: &Value,
        known_actions: Option<&[KnownAction]>,
    ) -> Result<Vec<Issue>, EngineError> {
        self.instantiate()?.validate(definition, known_actions)
    }
}

/// One run's instance: its store and the component's exports.
pub struct RunInstance {
    store: Store<HostState>,
    bindings: Interpreter,
    fuel: u64,
    /// Bytes of linear memory at instantiation (the module's first memory).
    initial_memory: usize,
}

impl RunInstance {
    fn refuel(&mut self) -> Result<(), EngineError> {
        self.store.set_fuel(self.fuel)?;
        Ok(())
    }

    fn trap(&self, error: wasmtime::Error) -> EngineError {
        if let Some(exhausted) = error.downcast_ref::<MemoryExhausted>() {
            return EngineError::OutOfMemory(*exhausted);
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => EngineError::OutOfFuel(self.fuel),
            Some(trap) => EngineError::Trap(trap.to_string()),
            None => EngineError::Trap(format!("{error:#}")),
        }
    }

    /// The module's semantics version.
    pub fn semantics_version(&mut self) -> Result<String, EngineError> {
        self.refuel()?;
        self.bindings
            .alga_workflow_runtime()
            .call_runtime_semantics_version(&mut self.store)
            .map_err(|e| self.trap(e))
    }

    /// Applies one activation and returns the commands it produced, in order.
    pub fn activate(&mut self, activation: &Activation) -> Result<Vec<Command>, EngineError> {
        self.refuel()?;
        let wit = convert::activation(activation);
        let result = self
            .bindings
            .alga_workflow_runtime()
            .call_activate(&mut self.store, &wit);
        let state = self.store.data_mut();
        let commands = std::mem::take(&mut state.commands);
        let protocol = state.protocol_error.take();
        match result {
            Err(e) => Err(self.trap(e)),
            Ok(Err(refusal)) => Err(EngineError::Refused(refusal)),
            Ok(Ok(())) => match protocol {
                Some(problem) => Err(EngineError::Protocol(problem)),
                None => Ok(commands),
            },
        }
    }

    /// Bytes of linear memory the instance has (most of it, for a small run, the module's
    /// shared image or pages never touched).
    pub fn memory_bytes(&self) -> usize {
        self.store.data().memory.size
    }

    /// What keeping the instance costs, for a cache's memory budget: the memory it grew
    /// beyond the module's first memory (written as it was grown) and
    /// [`INSTANCE_BASE_CHARGE`] for the pages of the first memory it wrote.
    pub fn footprint_bytes(&self) -> usize {
        self.memory_bytes().saturating_sub(self.initial_memory) + INSTANCE_BASE_CHARGE
    }

    /// Fuel the last call used.
    pub fn fuel_used(&self) -> u64 {
        self.fuel.saturating_sub(self.store.get_fuel().unwrap_or(0))
    }

    /// Validates a definition.
    pub fn validate(
        &mut self,
        definition: &Value,
        known_actions: Option<&[KnownAction]>,
    ) -> Result<Vec<Issue>, EngineError> {
        self.refuel()?;
        let known: Option<Vec<alga::workflow::types::ActionRef>> = known_actions.map(|list| {
            list.iter()
                .map(|a| alga::workflow::types::ActionRef {
                    action_id: a.id.clone(),
                    action_version: a.version,
                })
                .collect()
        });
        let issues = self
            .bindings
            .alga_workflow_runtime()
            .call_validate(&mut self.store, &definition.to_string(), known.as_deref())
            .map_err(|e| self.trap(e))?;
        Ok(issues.into_iter().map(convert::issue).collect())
    }

    /// Evaluates an expression through the component.
    pub fn evaluate(
        &mut self,
        source: &str,
        input: Option<&Value>,
        bindings: &Value,
        options: ExpressionOptions,
    ) -> Result<Result<Option<Value>, (String, String)>, EngineError> {
        self.refuel()?;
        let input = input.map(Value::to_string);
        let options = exports::alga::workflow::expressions::EvalOptions {
            workflow_rules: options.workflow_rules,
            now_ms: options.now_ms,
            max_depth: options.max_depth,
        };
        let result = self
            .bindings
            .alga_workflow_expressions()
            .call_evaluate(
                &mut self.store,
                source,
                input.as_ref(),
                &bindings.to_string(),
                options,
            )
            .map_err(|e| self.trap(e))?;
        Ok(match result {
            Ok(Some(text)) => Ok(Some(
                serde_json::from_str(&text).map_err(|e| EngineError::Protocol(e.to_string()))?,
            )),
            Ok(None) => Ok(None),
            Err(e) => Err((e.code, e.message)),
        })
    }
}

/// Options for [`RunInstance::evaluate`].
#[derive(Debug, Clone, Copy)]
pub struct ExpressionOptions {
    /// Workflow rules on.
    pub workflow_rules: bool,
    /// Clock for `nowIso()`/`$now()`.
    pub now_ms: i64,
    /// Depth limit.
    pub max_depth: Option<u32>,
}
