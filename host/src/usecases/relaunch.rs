//! Starting a run again from another: **replay** launches a new run on the same pinned version
//! with the same (or a given) input; **redrive** does the same for a failed run but keeps its
//! action ledger keys, so every action the failed run completed is answered from the ledger
//! instead of running again, and hands it the events the failed run had received, so its
//! event waits are met again. The run then re-runs its pure steps deterministically and
//! carries on from the step that failed. A run is redriven at most once: asking again returns
//! the same redrive.

use serde_json::{Value, json};
use thiserror::Error;
use uuid::Uuid;

use crate::store::{RunAddress, StoreError};
use crate::usecases::ingress::Ingress;
use crate::usecases::launch::{Launch, LaunchError, Launched, launch};

/// Which kind of relaunch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relaunch {
    /// A fresh run of the same version.
    Replay,
    /// A failed run resumed with its ledger.
    Redrive,
}

/// Why a relaunch was refused.
#[derive(Debug, Error)]
pub enum RelaunchError {
    /// Only failed runs are redriven.
    #[error("run {run_id} is {status}; only FAILED runs can be redriven")]
    NotFailed {
        /// The run.
        run_id: Uuid,
        /// Its status.
        status: String,
    },
    /// The launch failed.
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl From<StoreError> for RelaunchError {
    fn from(error: StoreError) -> Self {
        RelaunchError::Launch(LaunchError::Store(error))
    }
}

/// Relaunches `run_id` of `tenant`; `payload` replaces the input when given.
pub async fn relaunch(
    ingress: &Ingress<'_>,
    tenant: Uuid,
    run_id: Uuid,
    kind: Relaunch,
    reason: &str,
    payload: Option<Value>,
) -> Result<Launched, RelaunchError> {
    let source = ingress.store.relaunch_source(tenant, run_id).await?;
    if kind == Relaunch::Redrive && source.status != "FAILED" {
        return Err(RelaunchError::NotFailed {
            run_id,
            status: source.status,
        });
    }
    let edited = payload.is_some();
    let workflow = source.workflow_id.to_string();
    let mut request = Launch::manual(
        Some(tenant),
        &workflow,
        Some(source.version),
        payload.unwrap_or(source.input),
    );
    request.trigger_metadata = Some(match kind {
        Relaunch::Replay => json!({"replayOfRunId": run_id, "reason": reason}),
        Relaunch::Redrive => json!({"redriveOfRunId": run_id, "reason": reason,
            "ledgerScope": source.ledger_scope, "inputEdited": edited}),
    });
    if kind == Relaunch::Redrive {
        request.ledger_scope = Some(source.ledger_scope);
        // A failed run is redriven once: a second redrive (a retried request, two operators)
        // returns the first one's run instead of running the rest of the work twice. A
        // redrive that fails is itself redriven to go on.
        request.fire_key = Some(format!("redrive:{run_id}"));
    }
    let launched = launch(ingress.store, ingress.client, ingress.task_queue, request).await?;
    if kind == Relaunch::Redrive {
        let events = ingress.store.delivered_events(tenant, run_id).await?;
        for failure in crate::usecases::ingress::redeliver(
            ingress.store,
            ingress.client,
            &events,
            &RunAddress {
                run_id: launched.run_id,
                temporal_workflow_id: launched.workflow_id.clone(),
            },
        )
        .await
        {
            tracing::warn!(%run_id, redrive = %launched.run_id, "handing over an event: {failure}");
        }
    }
    Ok(launched)
}
