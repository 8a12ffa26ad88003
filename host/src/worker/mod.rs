//! The Temporal worker: workflow activations run through the wasm interpreter, activities run
//! natively in the same process.
//!
//! `core` is the only module that talks to `temporalio-sdk-core` (its API is unstable by
//! declaration, so upgrades touch one file); `convert` maps between its protos and the
//! interpreter's protocol; `runs` keeps one interpreter instance per cached run, exactly as
//! core's sticky cache does; `activities` executes activity tasks.

mod activities;
pub mod certify;
mod convert;
mod core;
mod definitions;
mod fair;
mod replay;
mod runs;

pub use self::core::run_worker;
pub use definitions::{ChildDefinitions, DefinitionLookup};
pub use definitions::{DefinitionDirectory, definition_lookup};
pub use replay::{
    ReplayVerdict, Replayed, TracedCommand, history_json, read_history, replay, replay_traced,
};

/// Activity type that executes an `action.call` attempt.
pub const ACTION_ACTIVITY: &str = "executeWorkflowRuntimeV2ActionStep";
/// Activity type that creates a human task.
pub const HUMAN_TASK_ACTIVITY: &str = "startWorkflowRuntimeV2HumanTaskWait";

/// Where the worker connects and what it serves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Temporal frontend, e.g. `http://127.0.0.1:7233`.
    pub server: String,
    /// Namespace.
    pub namespace: String,
    /// Workflow and activity task queue.
    pub task_queue: String,
    /// Runs whose interpreter instance stays cached (Temporal's sticky cache).
    pub max_cached_runs: usize,
    /// Bytes of linear memory the cached runs may hold together; past it the least recently
    /// used are evicted (0: no budget).
    pub cache_memory_budget: usize,
    /// Worker identity shown in Temporal.
    pub identity: String,
    /// Start-to-close timeout of activities.
    pub activity_timeout: std::time::Duration,
    /// How long one of our own activities may go without a heartbeat before Temporal retries
    /// it (so a dead worker's attempt is retried this soon), and how long its ledger claim
    /// holds unless renewed (at most the start-to-close timeout; see [`ActivityTimeouts`]).
    pub heartbeat_timeout: std::time::Duration,
    /// Actions served on other task queues (by activity workers in other languages, or other
    /// `alga-wf worker`s), by `id@version`.
    pub action_queues: std::collections::BTreeMap<String, String>,
    /// Stand-ins for the product's actions: scripted results by step id or `id@version`,
    /// picked by attempt number (the last one repeats).
    pub scripted_actions: std::collections::BTreeMap<String, Vec<crate::stand_ins::ScriptedResult>>,
    /// Where `{"$secret": NAME}` values come from (default: none at all).
    pub secrets: crate::secrets::Secrets,
    /// Whether the `test.*` doubles run (development and tests only).
    pub test_actions: bool,
    /// How often the sweeper looks for missed deliveries, unrouted events and runs to
    /// reconcile.
    pub sweep: crate::usecases::ingress::SweepSettings,
    /// The product's event stream to consume (with a database), if any.
    pub event_stream: Option<crate::usecases::ingress::stream::StreamSettings>,
    /// How events from the stream without a key get one from their payload.
    pub correlation: crate::usecases::ingress::CorrelationPaths,
    /// At a stop, how long activities in flight may take to finish.
    pub shutdown_grace: std::time::Duration,
    /// How long a run may stay parked with its instance cached before it is evicted (and
    /// rebuilt by replay when it next runs); `None`: until the cache needs the room.
    pub evict_parked_after: Option<std::time::Duration>,
    /// Cores the activations may keep busy (default: all); each runs on a blocking thread, and
    /// one more slot is kept for a tenant other than one that fills these.
    pub activation_threads: usize,
}

impl WorkerSettings {
    /// Defaults for a local dev server at `server`.
    pub fn local(server: &str) -> Self {
        WorkerSettings {
            server: server.to_owned(),
            namespace: "default".into(),
            task_queue: crate::temporal::DEFAULT_TASK_QUEUE.into(),
            max_cached_runs: 1000,
            cache_memory_budget: 2 << 30,
            identity: format!("alga-wf@{}", std::process::id()),
            activity_timeout: std::time::Duration::from_secs(600),
            heartbeat_timeout: std::time::Duration::from_secs(30),
            evict_parked_after: None,
            action_queues: std::collections::BTreeMap::new(),
            scripted_actions: std::collections::BTreeMap::new(),
            secrets: std::sync::Arc::new(crate::secrets::EnvironmentSecrets::none()),
            test_actions: false,
            sweep: crate::usecases::ingress::SweepSettings::default(),
            event_stream: None,
            correlation: crate::usecases::ingress::CorrelationPaths::default(),
            shutdown_grace: std::time::Duration::from_secs(20),
            activation_threads: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

impl WorkerSettings {
    /// Where the worker connects.
    pub fn temporal(&self) -> crate::temporal::TemporalSettings {
        crate::temporal::TemporalSettings {
            server: self.server.clone(),
            namespace: self.namespace.clone(),
            task_queue: self.task_queue.clone(),
            identity: self.identity.clone(),
        }
    }

    /// The activities' timeouts these settings make.
    pub fn activity_timeouts(&self) -> ActivityTimeouts {
        ActivityTimeouts {
            start_to_close: self.activity_timeout,
            liveness: self.heartbeat_timeout.min(self.activity_timeout),
        }
    }
}

/// How long our activities may run, and how long one may go silent: one window serves as the
/// heartbeat timeout Temporal enforces and as the lease of the action's ledger claim, and a
/// running activity heartbeats and renews its claim three times in each.
#[derive(Debug, Clone, Copy)]
pub struct ActivityTimeouts {
    /// Start-to-close timeout of every activity.
    pub start_to_close: std::time::Duration,
    /// Heartbeat timeout and ledger lease (at most `start_to_close`).
    pub liveness: std::time::Duration,
}

impl ActivityTimeouts {
    /// How often a running activity heartbeats and renews its claim.
    pub fn beat(&self) -> std::time::Duration {
        (self.liveness / 3).max(std::time::Duration::from_millis(100))
    }
}
