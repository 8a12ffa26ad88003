//! How a run is named outside itself: the workflow type every run has, and [`RunId`], which
//! turns the run's own id into its Temporal workflow id and its rows' uuid (and back). The
//! worker, the client calls and the read model's lookups all name runs through these.

use std::fmt;

use uuid::Uuid;

use crate::ids::derived_uuid;

/// The task queue runs are started on and workers poll, unless configured otherwise.
pub const DEFAULT_TASK_QUEUE: &str = "workflow-runtime-v2";

/// Workflow type of every run.
pub const WORKFLOW_TYPE: &str = "workflowRuntimeV2RunWorkflow";

/// What every run's Temporal workflow id starts with.
const WORKFLOW_ID_PREFIX: &str = "workflow-runtime-v2:run:";

/// A run's own id: a uuid for a run the store launched, a child's key for a child, any name for
/// `alga-wf run`. It has two names outside the run, and this is where both are made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// The run called `id`.
    pub fn new(id: impl Into<String>) -> RunId {
        RunId(id.into())
    }

    /// The run a Temporal workflow id names (an id without our prefix is taken as it is).
    pub fn of_workflow(temporal_workflow_id: &str) -> RunId {
        RunId::new(
            temporal_workflow_id
                .strip_prefix(WORKFLOW_ID_PREFIX)
                .unwrap_or(temporal_workflow_id),
        )
    }

    /// The id as the run knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its Temporal workflow id, never reused: `workflow-runtime-v2:run:<id>`.
    pub fn workflow_id(&self) -> String {
        format!("{WORKFLOW_ID_PREFIX}{}", self.0)
    }

    /// Its rows' uuid in the read model: the id itself when it is a uuid, else one derived from
    /// it (a child's key, a name given to `alga-wf run`), the same every time.
    pub fn row_uuid(&self) -> Uuid {
        Uuid::parse_str(&self.0).unwrap_or_else(|_| derived_uuid(&["run", &self.0]))
    }
}

impl From<Uuid> for RunId {
    fn from(id: Uuid) -> RunId {
        RunId(id.to_string())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Temporal workflow id of the run `run_id` ([`RunId::workflow_id`]).
pub fn workflow_id(run_id: &str) -> String {
    RunId::new(run_id).workflow_id()
}

/// Our run id from a Temporal workflow id ([`RunId::of_workflow`]).
pub fn run_id_of(temporal_workflow_id: &str) -> String {
    RunId::of_workflow(temporal_workflow_id).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_names_its_workflow_and_its_rows() {
        let uuid = Uuid::new_v4();
        let run = RunId::from(uuid);
        assert_eq!(run.workflow_id(), format!("workflow-runtime-v2:run:{uuid}"));
        assert_eq!(RunId::of_workflow(&run.workflow_id()), run);
        assert_eq!(run.row_uuid(), uuid);
        let child = RunId::new("parent-run:root.steps[0]:1");
        assert_eq!(child.row_uuid(), RunId::new(child.as_str()).row_uuid());
        assert_ne!(child.row_uuid(), RunId::new("another").row_uuid());
        assert_eq!(RunId::of_workflow("sched-1-2026").as_str(), "sched-1-2026");
    }
}
