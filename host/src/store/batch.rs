//! One activation's records for one run, as the read model takes them: what the worker hands
//! the store after each activation (projections and the run's log are both written from it).

use alga_protocol::protocol::{RunEvent, RunStart};
use serde_json::Value;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// Completed.
    Succeeded,
    /// Failed with this error (`{category, message, nodePath, at, ...}`).
    Failed(Value),
    /// Cancelled.
    Canceled,
}

/// One activation's records for one run.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Our run id (a uuid, or an id the tables' uuid derives from).
    pub run_id: String,
    /// Workflow time of the activation, milliseconds since the epoch.
    pub at_ms: i64,
    /// The records, in the order the interpreter made them.
    pub records: Vec<RunEvent>,
    /// The run's end, when this activation ended it.
    pub end: Option<RunEnd>,
    /// The run's start input, on an activation that starts it: a run nobody created a row
    /// for (a child) gets one from it.
    pub started: Option<RunStart>,
    /// Where a child run sits, on the activation that starts it.
    pub lineage: Option<Lineage>,
}

/// A child run's parent and the run at the top of its tree (our run ids), as Temporal tells
/// the child when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The run that started it.
    pub parent_run_id: String,
    /// The run at the root of its tree, when Temporal names it (servers before 1.27 do not:
    /// the parent's row then says).
    pub root_run_id: Option<String>,
}
