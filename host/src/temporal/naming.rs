//! How a run is named in Temporal: the workflow type every run has, and the workflow id made
//! from the run's own id (and back). The worker, the client calls and the read model's
//! lookups all name runs through these.

/// The task queue runs are started on and workers poll, unless configured otherwise.
pub const DEFAULT_TASK_QUEUE: &str = "workflow-runtime-v2";

/// Workflow type of every run.
pub const WORKFLOW_TYPE: &str = "workflowRuntimeV2RunWorkflow";

/// The Temporal workflow id of a run.
pub fn workflow_id(run_id: &str) -> String {
    format!("workflow-runtime-v2:run:{run_id}")
}

/// Our run id from a Temporal workflow id (the inverse of [`workflow_id`]).
pub fn run_id_of(temporal_workflow_id: &str) -> String {
    temporal_workflow_id
        .strip_prefix("workflow-runtime-v2:run:")
        .unwrap_or(temporal_workflow_id)
        .to_owned()
}
