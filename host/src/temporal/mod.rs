//! Temporal as a client sees it: the connection, the calls made on a run's workflow (start,
//! signal, update, query, result, history, cancel, describe), how runs are named there, and how
//! payloads and failures are encoded. The worker (`crate::worker`) polls through the same
//! connection; everything else (the CLI, the API, ingress, schedules, the sweeper) only needs
//! this module, never the worker.

mod client;
mod describe;
pub mod failures;
mod naming;
pub mod payload;

pub use client::{
    Connected, RunOutcome, cancel_run, cancel_workflow, connect, query_run, run_history,
    run_result, signal_run, signal_workflow, start_run, terminate_workflow, update_workflow,
};
pub use describe::{TemporalState, describe_run};
pub use naming::{DEFAULT_TASK_QUEUE, RunId, WORKFLOW_TYPE, run_id_of, workflow_id};

/// Where a client connects.
#[derive(Debug, Clone)]
pub struct TemporalSettings {
    /// Temporal frontend, e.g. `http://127.0.0.1:7233`.
    pub server: String,
    /// Namespace.
    pub namespace: String,
    /// The task queue runs are started on (the workers' queue).
    pub task_queue: String,
    /// The identity Temporal records for this process's calls and polls.
    pub identity: String,
}

impl TemporalSettings {
    /// A local dev server's default namespace at `server`.
    pub fn local(server: &str) -> Self {
        TemporalSettings {
            server: server.to_owned(),
            namespace: "default".into(),
            task_queue: DEFAULT_TASK_QUEUE.into(),
            identity: format!("alga-wf@{}", std::process::id()),
        }
    }
}
