//! Launching a run of a published workflow, the way the reference launcher orders it: pin the
//! version, insert the run row, start the Temporal workflow with the pinned definition, record
//! Temporal's run id; a start that fails leaves the row `FAILED` with `stage: launch`.
//! The CLI's `start` and the HTTP API's `POST /api/workflow-runs` share it.

use alga_protocol::protocol::RunStart;
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
    /// The payload breaks the workflow's payload schema (nothing was stored).
    #[error(transparent)]
    Payload(#[from] crate::usecases::payload_schemas::PayloadError),
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
        tenant_id: tenant.map(|t| t.to_string()),
        trigger_type,
        host_retries: true,
        ..RunStart::pinned(
            run_id,
            pinned.workflow_id.to_string(),
            u32::try_from(pinned.version).unwrap_or(1),
            pinned.definition,
            payload,
            alga_interpreter::RUNTIME_SEMANTICS_VERSION,
        )
    }
}

/// The constraint that keeps a fire key to one run.
const FIRE_KEY_UNIQUE: &str = "workflow_runs_trigger_fire_key_unique";

/// The run a fire key launched before, its workflow started first if its launcher never did.
async fn launched_before(
    store: &Store,
    client: &temporalio_client::Client,
    task_queue: &str,
    tenant: Option<Uuid>,
    fired: crate::store::FiredRun,
) -> Result<Launched, LaunchError> {
    let mut existing = Launched {
        run_id: fired.run_id,
        workflow_id: fired.temporal_workflow_id,
        temporal_run_id: fired.temporal_run_id,
        version: fired.version,
        created: false,
    };
    if let Some(start) = fired.pending_start {
        existing.temporal_run_id =
            start_pending(store, client, task_queue, tenant, existing.run_id, start).await?;
    }
    Ok(existing)
}

/// Launches a run. A fire key names at most one run: a launch with a key already used returns
/// that run, and starts its workflow first if it never started (its launcher died, or Temporal
/// was away), so an event's launch is never blocked by a row that never ran.
pub async fn launch(
    store: &Store,
    client: &temporalio_client::Client,
    task_queue: &str,
    request: Launch<'_>,
) -> Result<Launched, LaunchError> {
    if !request.payload.is_object() {
        return Err(LaunchError::PayloadNotObject);
    }
    if let Some(key) = &request.fire_key
        && let Some(fired) = store.run_by_fire_key(request.tenant, key).await?
    {
        return launched_before(store, client, task_queue, request.tenant, fired).await;
    }
    let pinned = store
        .pinned(request.tenant, request.workflow, request.version)
        .await?;
    crate::usecases::payload_schemas::check(
        store,
        request.tenant,
        &pinned.definition,
        &request.payload,
    )
    .await?;
    let run_id = Uuid::new_v4();
    let workflow_id = crate::temporal::RunId::from(run_id).workflow_id();
    let (pinned_workflow, version) = (pinned.workflow_id, pinned.version);
    let start = RunStart {
        execution_key: format!("launch:{run_id}"),
        meta: request.meta,
        ledger_scope: request.ledger_scope,
        ..pinned_start(
            run_id.to_string(),
            request.tenant,
            pinned,
            request.payload.clone(),
            request.trigger_type.clone(),
        )
    };
    // A test's fault point: a slow launcher, so another launch of the same fire key can store
    // its run between this one's lookup and its insert.
    fail::fail_point!("launch-before-insert");
    let created = store
        .create_run(&NewRun {
            run_id,
            tenant: request.tenant,
            workflow_id: pinned_workflow,
            workflow_version: version,
            input: request.payload,
            definition_hash: start.definition_hash.clone(),
            runtime_semantics_version: start.runtime_semantics_version.clone(),
            trigger_type: request.trigger_type,
            trigger_metadata: request.trigger_metadata,
            fire_key: request.fire_key.clone(),
            temporal_workflow_id: workflow_id.clone(),
            start: serde_json::to_value(&start).map_err(|e| {
                StoreError::Invalid(format!("encoding the start of run {run_id}: {e}"))
            })?,
        })
        .await;
    match (created, &request.fire_key) {
        (Ok(()), _) => {}
        // Another launcher of the same fire key (the sweeper routing the event this request
        // is routing) stored its run between our lookup and our insert: that run is the
        // launch, as if the lookup had found it.
        (Err(e), Some(key)) if e.violates(FIRE_KEY_UNIQUE) => {
            let fired = store.run_by_fire_key(request.tenant, key).await?;
            return match fired {
                Some(fired) => {
                    launched_before(store, client, task_queue, request.tenant, fired).await
                }
                None => Err(e.into()),
            };
        }
        (Err(e), _) => return Err(e.into()),
    }
    let started = match injected_start_failure() {
        Some(failure) => Err(anyhow::anyhow!(failure)),
        None => crate::temporal::start_run(client, task_queue, &start).await,
    };
    let temporal_run_id = match started {
        Ok(id) => id,
        Err(e) if request.fire_key.is_some() => {
            // A trigger's launch belongs to the event that fired it, which was accepted: the
            // row keeps the start and the sweeper starts it once Temporal answers.
            let message = format!("{e:#}");
            tracing::warn!(%run_id, "starting a triggered run failed; the sweeper retries it: {message}");
            return Err(LaunchError::Temporal(format!(
                "{message} (run {run_id} is started once Temporal answers)"
            )));
        }
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

/// Starts the workflow of a run whose row holds its start input (its launcher died, or
/// Temporal was away) and records the start; returns Temporal's run id. Safe to repeat: a
/// workflow that did start is found, not started again.
pub async fn start_pending(
    store: &Store,
    client: &temporalio_client::Client,
    task_queue: &str,
    tenant: Option<Uuid>,
    run_id: Uuid,
    start: Value,
) -> Result<String, LaunchError> {
    let start: RunStart = serde_json::from_value(start).map_err(|e| {
        StoreError::Invalid(format!(
            "the stored start of run {run_id} is unreadable: {e}"
        ))
    })?;
    let temporal_run_id = crate::temporal::start_run(client, task_queue, &start)
        .await
        .map_err(|e| LaunchError::Temporal(format!("{e:#}")))?;
    store.run_started(tenant, run_id, &temporal_run_id).await?;
    metrics::counter!("alga_wf_runs_started_total").increment(1);
    Ok(temporal_run_id)
}

/// The `launch-start` failpoint (`FAILPOINTS=launch-start=1*return`): a workflow start that
/// fails after the run row is written, as a launcher that died or a Temporal outage leaves it.
fn injected_start_failure() -> Option<String> {
    fail::fail_point!("launch-start", |_| Some(
        "the launch-start failpoint failed this start".to_owned()
    ));
    None
}
