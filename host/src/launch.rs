//! Launching a run of a published workflow, the way the reference launcher orders it: pin the
//! version, insert the run row, start the Temporal workflow with the pinned definition, record
//! Temporal's run id; a start that fails leaves the row `FAILED` with `stage: launch`.
//! The CLI's `start` and the HTTP API's `POST /api/workflow-runs` share it.

use alga_interpreter::machine::protocol::RunStart;
use serde_json::Value;
use thiserror::Error;
use uuid::Uuid;

use crate::store::{NewRun, PinnedDefinition, Store, StoreError};

/// What to launch.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// Tenant.
    pub tenant: Option<Uuid>,
    /// Workflow uuid or key.
    pub workflow: &'a str,
    /// Version to pin (default: the latest published).
    pub version: Option<i32>,
    /// The payload (a JSON object).
    pub payload: Value,
    /// `event`, `schedule`, `recurring`, or none.
    pub trigger_type: Option<String>,
    /// Where the run came from: `{eventId, ...}`, `{replayOfRunId, reason}`, ...
    pub trigger_metadata: Option<Value>,
    /// Launches with the same fire key start one run: the second returns the first.
    pub fire_key: Option<String>,
    /// The run's initial `meta` scope.
    pub meta: Option<Value>,
    /// The run whose ledger keys this run's actions reuse (redrive).
    pub ledger_scope: Option<String>,
}

impl<'a> Launch<'a> {
    /// A manual launch: no trigger, no provenance.
    pub fn manual(
        tenant: Option<Uuid>,
        workflow: &'a str,
        version: Option<i32>,
        payload: Value,
    ) -> Self {
        Launch {
            tenant,
            workflow,
            version,
            payload,
            trigger_type: None,
            trigger_metadata: None,
            fire_key: None,
            meta: None,
            ledger_scope: None,
        }
    }
}

/// A launched run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// Our run id.
    pub run_id: Uuid,
    /// The Temporal workflow id.
    pub workflow_id: String,
    /// Temporal's run id of the first execution.
    pub temporal_run_id: String,
    /// The pinned version.
    pub version: i32,
    /// False when the fire key named a run launched before, which is returned instead.
    pub created: bool,
}

/// Why a launch failed.
#[derive(Debug, Error)]
pub enum LaunchError {
    /// The payload is not a JSON object.
    #[error("the payload must be a JSON object")]
    PayloadNotObject,
    /// The store refused (no such workflow or version, or a database failure).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Temporal refused the start; the run row says so.
    #[error("starting the workflow: {0}")]
    Temporal(String),
}

/// The start input of a run of a pinned version: what every launcher (manual, event,
/// schedule) shares; callers set the execution key, meta and ledger scope.
pub fn pinned_start(
    run_id: String,
    tenant: Option<Uuid>,
    pinned: PinnedDefinition,
    payload: Value,
    trigger_type: Option<String>,
) -> RunStart {
    RunStart {
        run_id,
        tenant_id: tenant.map(|t| t.to_string()),
        workflow_id: pinned.workflow_id.to_string(),
        workflow_version: u32::try_from(pinned.version).unwrap_or(1),
        definition_hash: alga_interpreter::canonical::definition_hash(&pinned.definition),
        definition: pinned.definition,
        runtime_semantics_version: alga_interpreter::RUNTIME_SEMANTICS_VERSION.into(),
        payload,
        trigger_type,
        execution_key: String::new(),
        meta: None,
        activity_actions: Vec::new(),
        checkpoint: None,
        continue_as_new_after_events: 0,
        continue_as_new_after_bytes: 0,
        host_retries: true,
        ledger_scope: None,
    }
}

/// Launches a run.
pub async fn launch(
    store: &Store,
    client: &temporalio_client::Client,
    task_queue: &str,
    request: Launch<'_>,
) -> Result<Launched, LaunchError> {
    if !request.payload.is_object() {
        return Err(LaunchError::PayloadNotObject);
    }
    if let Some(existing) = match &request.fire_key {
        Some(key) => store.run_by_fire_key(request.tenant, key).await?,
        None => None,
    } {
        return Ok(existing);
    }
    let pinned = store
        .pinned(request.tenant, request.workflow, request.version)
        .await?;
    let run_id = Uuid::new_v4();
    let hash = alga_interpreter::canonical::definition_hash(&pinned.definition);
    let workflow_id = crate::worker::workflow_id(&run_id.to_string());
    store
        .create_run(&NewRun {
            run_id,
            tenant: request.tenant,
            workflow_id: pinned.workflow_id,
            workflow_version: pinned.version,
            input: request.payload.clone(),
            definition_hash: hash.clone(),
            runtime_semantics_version: alga_interpreter::RUNTIME_SEMANTICS_VERSION.into(),
            trigger_type: request.trigger_type.clone(),
            trigger_metadata: request.trigger_metadata.clone(),
            fire_key: request.fire_key.clone(),
            temporal_workflow_id: workflow_id.clone(),
        })
        .await?;
    let version = pinned.version;
    let start = RunStart {
        execution_key: format!("launch:{run_id}"),
        meta: request.meta,
        ledger_scope: request.ledger_scope,
        ..pinned_start(
            run_id.to_string(),
            request.tenant,
            pinned,
            request.payload,
            request.trigger_type,
        )
    };
    let temporal_run_id = match crate::worker::start_run(client, task_queue, &start).await {
        Ok(id) => id,
        Err(e) => {
            let message = format!("{e:#}");
            if let Err(recorded) = store.launch_failed(request.tenant, run_id, &message).await {
                tracing::error!("recording the failed launch of run {run_id}: {recorded}");
            }
            return Err(LaunchError::Temporal(message));
        }
    };
    store
        .run_started(request.tenant, run_id, &temporal_run_id)
        .await?;
    metrics::counter!("alga_wf_runs_started_total").increment(1);
    Ok(Launched {
        run_id,
        workflow_id,
        temporal_run_id,
        version,
        created: true,
    })
}
