//! How Temporal says a run stands, for the sweeper's reconciliation of the read model with runs
//! Temporal closed without an activation (terminate, execution timeout).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowDescribeOptions};
use temporalio_common::UntypedWorkflow;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;

/// A run's state in Temporal.
#[derive(Debug, Clone, PartialEq)]
pub enum TemporalState {
    /// Still running (or continued as new, or paused).
    Open,
    /// Closed: the read model's status, its error, and when.
    Closed {
        /// `SUCCEEDED`, `FAILED` or `CANCELED`.
        status: &'static str,
        /// The error the row records.
        error: Option<Value>,
        /// When Temporal closed it.
        at: DateTime<Utc>,
    },
    /// Temporal has no such workflow (never started, or past its retention).
    Missing,
}

/// Asks Temporal about the workflow `temporal_workflow_id` (its latest run).
pub async fn describe_run(client: &Client, temporal_workflow_id: &str) -> Result<TemporalState> {
    let described = client
        .get_workflow_handle::<UntypedWorkflow>(temporal_workflow_id.to_owned())
        .describe(WorkflowDescribeOptions::default())
        .await;
    let description = match described {
        Ok(description) => description,
        Err(WorkflowInteractionError::NotFound(_)) => return Ok(TemporalState::Missing),
        Err(e) => {
            return Err(e).with_context(|| format!("describing {temporal_workflow_id}"));
        }
    };
    let info = description
        .raw_description
        .workflow_execution_info
        .unwrap_or_default();
    let at = info
        .close_time
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .unwrap_or_else(Utc::now);
    let closed = |status, error: Option<(&str, &str)>| TemporalState::Closed {
        status,
        error: error.map(|(category, message)| json!({"category": category, "message": message})),
        at,
    };
    Ok(match WorkflowExecutionStatus::try_from(info.status) {
        Ok(WorkflowExecutionStatus::Completed) => closed("SUCCEEDED", None),
        Ok(WorkflowExecutionStatus::Canceled) => closed("CANCELED", None),
        Ok(WorkflowExecutionStatus::Failed) => closed(
            "FAILED",
            Some(("ActionError", "Temporal recorded the run as failed")),
        ),
        Ok(WorkflowExecutionStatus::Terminated) => closed(
            "FAILED",
            Some(("TerminatedError", "the run was terminated in Temporal")),
        ),
        Ok(WorkflowExecutionStatus::TimedOut) => closed(
            "FAILED",
            Some((
                "TimeoutError",
                "the run passed its execution timeout in Temporal",
            )),
        ),
        _ => TemporalState::Open,
    })
}
