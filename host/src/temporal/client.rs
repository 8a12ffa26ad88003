//! The client calls: start, signal, update, query, result, history and cancel of a run's
//! workflow, and the connection they (and the worker) share.

use alga_protocol::protocol::RunStart;
use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use temporalio_client::errors::{WorkflowGetResultError, WorkflowStartError, WorkflowUpdateError};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, UntypedQuery, UntypedSignal,
    UntypedUpdate, WorkflowCancelOptions, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowQueryOptions, WorkflowSignalOptions,
    WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::UntypedWorkflow;
use temporalio_common::data_converters::RawValue;
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_sdk_core::{CoreRuntime, RuntimeOptions, Url};

use super::TemporalSettings;
use super::failures::run_error_from_api;
use super::naming::{WORKFLOW_TYPE, workflow_id};
use super::payload;

/// A connection to Temporal and the runtime that owns it.
pub struct Connected {
    /// sdk-core's runtime (telemetry, worker heartbeats).
    pub runtime: CoreRuntime,
    /// The gRPC connection.
    pub connection: Connection,
    /// A client bound to the namespace.
    pub client: Client,
}

/// Connects to the Temporal frontend of `settings`.
pub async fn connect(settings: &TemporalSettings) -> Result<Connected> {
    // No logger of core's own: its events go to the process's subscriber (`ALGA_WF_LOG`,
    // which keeps core at `warn` by default). A console logger of core's filtered our own
    // `info` lines out once the runtime started.
    let telemetry = TelemetryOptions::builder().build();
    let runtime = CoreRuntime::new_assume_tokio(
        RuntimeOptions::builder()
            .telemetry_options(telemetry)
            .heartbeat_interval(None)
            .build()
            .map_err(|e| anyhow!("sdk-core runtime options: {e}"))?,
    )
    .context("starting the sdk-core runtime")?;
    let url = Url::parse(&settings.server).with_context(|| {
        format!(
            "`{}` is not a Temporal address (e.g. http://127.0.0.1:7233)",
            settings.server
        )
    })?;
    let connection = Connection::connect(
        ConnectionOptions::new(url)
            .identity(settings.identity.clone())
            .grpc_compression(temporalio_client::GrpcCompression::None)
            .build(),
    )
    .await
    .with_context(|| format!("connecting to Temporal at {}", settings.server))?;
    let client = Client::new(
        connection.clone(),
        ClientOptions::new(settings.namespace.clone()).build(),
    )
    .map_err(|e| anyhow!("creating the Temporal client: {e}"))?;
    Ok(Connected {
        runtime,
        connection,
        client,
    })
}

/// Starts the Temporal workflow of a run; returns Temporal's run id of the first execution.
/// A run's workflow id is its own and is never reused, so a start repeated after one that
/// happened (a launcher that died before recording it) finds that workflow instead of starting
/// another, whether it is still running or already closed.
pub async fn start_run(client: &Client, task_queue: &str, start: &RunStart) -> Result<String> {
    let id = workflow_id(&start.run_id);
    let input = RawValue::new(vec![payload::encode(&serde_json::to_value(start)?)]);
    let started = client
        .start_workflow(
            UntypedWorkflow::new(WORKFLOW_TYPE),
            input,
            WorkflowStartOptions::new(task_queue.to_owned(), id.clone())
                .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
                .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
                .memo(run_memo(start))
                .static_summary(format!(
                    "{} v{} ({})",
                    start.workflow_id,
                    start.workflow_version,
                    start.trigger_type.as_deref().unwrap_or("manual")
                ))
                .build(),
        )
        .await;
    match started {
        Ok(handle) => Ok(handle.run_id().unwrap_or_default().to_owned()),
        Err(WorkflowStartError::AlreadyStarted { run_id, .. }) => Ok(run_id.unwrap_or_default()),
        Err(e) => Err(e).with_context(|| format!("starting workflow {id}")),
    }
}

/// What the Temporal UI shows of a run: its tenant, workflow, version and trigger, so runs are
/// findable by what the product calls them.
fn run_memo(start: &RunStart) -> temporalio_common::MemoValues {
    let mut memo = temporalio_common::MemoValues::new();
    memo.insert("runId", start.run_id.clone())
        .insert("tenantId", start.tenant_id.clone().unwrap_or_default())
        .insert("workflowId", start.workflow_id.clone())
        .insert("workflowVersion", start.workflow_version)
        .insert(
            "triggerType",
            start
                .trigger_type
                .clone()
                .unwrap_or_else(|| "manual".into()),
        );
    memo
}

/// How a run ended, as Temporal reports it.
#[derive(Debug)]
pub enum RunOutcome {
    /// The final scopes.
    Succeeded(Value),
    /// The run's error, unwrapped: `{category, message, code?, details?, nodePath, at}`.
    Failed(Value),
    /// Cancelled.
    Canceled,
    /// Terminated or timed out.
    Ended(String),
}

/// Waits for a run to end (following continue-as-new).
pub async fn run_result(client: &Client, run_id: &str) -> Result<RunOutcome> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id(run_id));
    match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(raw) => {
            let mut scopes =
                payload::first(&raw.payloads).map_err(|e| anyhow!("the run's result: {e}"))?;
            if let Value::Object(fields) = &mut scopes {
                fields.remove(alga_protocol::protocol::RESULT_SYSTEM_FIELDS);
            }
            Ok(RunOutcome::Succeeded(scopes))
        }
        Err(WorkflowGetResultError::Failed(failure)) => {
            Ok(RunOutcome::Failed(run_error_from_api(failure.failure())))
        }
        Err(WorkflowGetResultError::Cancelled { .. }) => Ok(RunOutcome::Canceled),
        Err(other) => Ok(RunOutcome::Ended(other.to_string())),
    }
}

/// Sends a signal to a run the interpreter knows by `run_id`.
pub async fn signal_run(client: &Client, run_id: &str, name: &str, argument: &Value) -> Result<()> {
    signal_workflow(client, &workflow_id(run_id), name, argument).await
}

/// Sends a signal to the Temporal workflow `temporal_workflow_id`.
pub async fn signal_workflow(
    client: &Client,
    temporal_workflow_id: &str,
    name: &str,
    argument: &Value,
) -> Result<()> {
    client
        .get_workflow_handle::<UntypedWorkflow>(temporal_workflow_id.to_owned())
        .signal(
            UntypedSignal::new(name),
            RawValue::new(vec![payload::encode(argument)]),
            WorkflowSignalOptions::default(),
        )
        .await
        .with_context(|| format!("signalling {temporal_workflow_id}"))
}

/// Sends a Workflow Update to the Temporal workflow `temporal_workflow_id` and waits for its
/// outcome: `Ok(Ok(result))` when accepted and completed, `Ok(Err(failure))` (the run's error
/// shape) when the run's validator rejected it or its handler failed. Repeating an
/// `update_id` returns the first outcome.
pub async fn update_workflow(
    client: &Client,
    temporal_workflow_id: &str,
    name: &str,
    argument: &Value,
    update_id: &str,
) -> Result<std::result::Result<Value, Value>> {
    let outcome = client
        .get_workflow_handle::<UntypedWorkflow>(temporal_workflow_id.to_owned())
        .execute_update(
            UntypedUpdate::<UntypedWorkflow>::new(name),
            RawValue::new(vec![payload::encode(argument)]),
            WorkflowExecuteUpdateOptions::builder()
                .update_id(update_id.to_owned())
                .build(),
        )
        .await;
    match outcome {
        Ok(raw) => Ok(Ok(payload::first(&raw.payloads).unwrap_or(Value::Null))),
        Err(WorkflowUpdateError::Failed(failure)) => Ok(Err(run_error_from_api(&failure))),
        Err(e) => Err(anyhow!("updating {temporal_workflow_id}: {e}")),
    }
}

/// Asks a run a query.
pub async fn query_run(client: &Client, run_id: &str, name: &str) -> Result<Value> {
    let raw = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id(run_id))
        .query(
            UntypedQuery::new(name),
            RawValue::empty(),
            WorkflowQueryOptions::default(),
        )
        .await
        .with_context(|| format!("querying run {run_id}"))?;
    payload::first(&raw.payloads).map_err(|e| anyhow!("the query answer: {e}"))
}

/// Fetches a run's history (the current execution) as the SDK's JSON.
pub async fn run_history(client: &Client, run_id: &str) -> Result<Vec<u8>> {
    let history = client
        .get_workflow_handle::<UntypedWorkflow>(workflow_id(run_id))
        .fetch_history(Default::default());
    history
        .to_json()
        .await
        .map_err(|e| anyhow!("fetching the history of run {run_id}: {e}"))
}

/// Requests cancellation of a run the interpreter knows by `run_id`.
pub async fn cancel_run(client: &Client, run_id: &str, reason: &str) -> Result<()> {
    cancel_workflow(client, &workflow_id(run_id), reason).await
}

/// Ends the Temporal workflow `temporal_workflow_id` at once, with `reason` (no code of the
/// run's runs again; its children are asked to cancel by their parent-close policy).
pub async fn terminate_workflow(
    client: &Client,
    temporal_workflow_id: &str,
    reason: &str,
) -> Result<()> {
    client
        .get_workflow_handle::<UntypedWorkflow>(temporal_workflow_id.to_owned())
        .terminate(
            WorkflowTerminateOptions::builder()
                .reason(reason.to_owned())
                .build(),
        )
        .await
        .with_context(|| format!("terminating {temporal_workflow_id}"))
}

/// Asks a run's workflow to cancel (it cancels its own steps and children, and ends
/// `CANCELED`).
pub async fn cancel_workflow(
    client: &Client,
    temporal_workflow_id: &str,
    reason: &str,
) -> Result<()> {
    client
        .get_workflow_handle::<UntypedWorkflow>(temporal_workflow_id.to_owned())
        .cancel(
            WorkflowCancelOptions::builder()
                .reason(reason.to_owned())
                .build(),
        )
        .await
        .with_context(|| format!("cancelling {temporal_workflow_id}"))
}
