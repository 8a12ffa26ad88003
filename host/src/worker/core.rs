//! The only module that talks to `temporalio-sdk-core` and `temporalio-client`: connecting,
//! the worker's two poll loops, shutdown, and the client calls the CLI makes.

use std::future::Future;
use std::sync::Arc;

use alga_interpreter::machine::protocol::RunStart;
use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use temporalio_client::errors::{WorkflowGetResultError, WorkflowStartError, WorkflowUpdateError};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, UntypedQuery, UntypedSignal,
    UntypedUpdate, WorkflowCancelOptions, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowQueryOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};
use temporalio_common::UntypedWorkflow;
use temporalio_common::data_converters::RawValue;
use temporalio_common::protos::coresdk::ActivityTaskCompletion;
use temporalio_common::protos::coresdk::activity_task::activity_task;
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    CoreRuntime, PollError, PollerBehavior, RuntimeOptions, Url, WorkerConfig,
    WorkerVersioningStrategy, init_worker,
};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::activities::{Activities, ActivitySettings};
use super::convert::run_error_from_api;
use super::payload;
use super::runs::{Decided, DefinitionLookup, Runs, Step};
use super::{WORKFLOW_TYPE, WorkerSettings, workflow_id};
use crate::engine::modules::Modules;
use crate::store::{Batch, Store, StoreError};

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
pub async fn connect(settings: &WorkerSettings) -> Result<Connected> {
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

/// Runs the worker until `shutdown` resolves, then drains it: every activation handed out is
/// completed, evictions included.
pub async fn run_worker(
    modules: Arc<Modules>,
    settings: WorkerSettings,
    definitions: DefinitionLookup,
    store: Option<Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let connected = connect(&settings).await?;
    // Every cached run holds an instance; a cache larger than the engine's pool would fail
    // workflow tasks once the pool ran out, so the cache is held to what the pool can serve.
    // 0 stays 0: core then evicts after every activation (the determinism audit).
    let max_cached_runs = settings
        .max_cached_runs
        .min(modules.capacity().saturating_sub(1));
    if max_cached_runs < settings.max_cached_runs {
        tracing::warn!(
            requested = settings.max_cached_runs,
            max_cached_runs,
            "the run cache is limited to the interpreter engine's instance pool"
        );
    }
    let config = WorkerConfig::builder()
        .namespace(settings.namespace.clone())
        .task_queue(settings.task_queue.clone())
        .task_types(WorkerTaskTypes::all())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: format!("alga-wf-{}", modules.current().semantics_version()),
        })
        .max_cached_workflows(max_cached_runs)
        .max_outstanding_workflow_tasks(100_usize)
        .max_outstanding_activities(100_usize)
        .max_outstanding_local_activities(10_usize)
        .workflow_task_poller_behavior(PollerBehavior::SimpleMaximum(4))
        .activity_task_poller_behavior(PollerBehavior::SimpleMaximum(4))
        .ignore_evicts_on_shutdown(true)
        // At a stop, activities in flight get this long to finish before core cancels them.
        .graceful_shutdown_period(settings.shutdown_grace)
        .build()
        .map_err(|e| anyhow!("worker configuration: {e}"))?;
    let worker = Arc::new(
        init_worker(&connected.runtime, config, connected.connection.clone())
            .context("starting the worker")?,
    );
    worker
        .validate()
        .await
        .context("the worker's namespace check failed")?;
    tracing::info!(task_queue = %settings.task_queue, "worker started");

    let workflows = {
        let (worker, store) = (worker.clone(), store.clone());
        let client = connected.client.clone();
        tracing::info!(semantics = ?modules.versions(), "interpreter modules loaded");
        // Activations run on blocking threads, one per core and a spare: a slow one (an
        // expression near its fuel limit) delays its own run, not the poll loop; the slots go
        // round the tenants, and no tenant takes the spare, so one tenant's backlog never
        // queues another's runs.
        let interpreters = super::fair::FairSlots::for_cores(settings.activation_threads);
        let runs = Arc::new(std::sync::Mutex::new(
            Runs::new(
                modules,
                &settings.task_queue,
                &settings.namespace,
                definitions,
                settings.activity_timeouts(),
                settings.action_queues.clone(),
            )
            .with_memory_budget(settings.cache_memory_budget, interpreters.slots()),
        ));
        let completer = lock(&runs).completer();
        let parked_evictions = settings
            .evict_parked_after
            .map(|after| tokio::spawn(evict_parked(runs.clone(), worker.clone(), after)));
        tokio::spawn(async move {
            let mut completions = JoinSet::new();
            loop {
                let activation = match worker.poll_workflow_activation().await {
                    Ok(activation) => activation,
                    Err(PollError::ShutDown) => break,
                    Err(e) => return Err(anyhow!("polling workflow activations: {e}")),
                };
                let step = lock(&runs).prepare(&activation);
                // A replayed activation's records were written when it first ran.
                let replaying = activation.is_replaying;
                let (worker, store, client) = (worker.clone(), store.clone(), client.clone());
                let (runs, interpreters) = (runs.clone(), interpreters.clone());
                let completer = completer.clone();
                completions.spawn(async move {
                    let (mut completion, batch) = match step {
                        Step::Done(completion, batch) => (completion, batch),
                        Step::Activate(prepared) => {
                            let run_id = prepared.run_id().to_owned();
                            let permit = interpreters.acquire(prepared.tenant()).await;
                            metrics::gauge!("alga_wf_interpreter_slots_free")
                                .set(interpreters.available() as f64);
                            let began = std::time::Instant::now();
                            let activated = tokio::task::spawn_blocking(move || {
                                let _permit = permit;
                                prepared.activate()
                            })
                            .await;
                            metrics::histogram!("alga_wf_activation_seconds")
                                .record(began.elapsed().as_secs_f64());
                            // The cache is held only to put the run back; converting the
                            // commands (which may look up a child's definition) happens
                            // without it.
                            let decided = match activated {
                                Ok(activated) => {
                                    let mut cache = lock(&runs);
                                    let decided = cache.finish_activation(activated);
                                    for victim in cache.over_budget() {
                                        tracing::info!(run_id = %victim, "evicting a cached run to keep within the memory budget");
                                        worker.request_workflow_eviction(&victim);
                                    }
                                    decided
                                }
                                Err(panicked) => {
                                    Decided::Failed(Runs::panicked(&run_id, &panicked.to_string()))
                                }
                            };
                            completer.complete(decided)
                        }
                    };
                    metrics::counter!("alga_wf_activations_total").increment(1);
                    metrics::gauge!("alga_wf_cached_runs").set(lock(&runs).cached() as f64);
                    if let Some(status) = &completion.status {
                        metrics::counter!("alga_wf_commands_total")
                            .increment(super::runs::command_count(status) as u64);
                    }
                    // The read model is written before the activation completes: a batch that
                    // cannot be written fails the workflow task, whose retry makes it again.
                    let mut projected = None;
                    if let (Some(store), Some(batch), false) = (store, batch, replaying) {
                        match project(&store, &batch).await {
                            Ok(tenant) => projected = tenant.map(|tenant| (store, tenant, batch)),
                            Err(e) => completion = Runs::projection_failure(&completion.run_id, &e),
                        }
                    }
                    if let Err(e) = worker.complete_workflow_activation(completion).await {
                        tracing::error!("completing an activation: {e}");
                    }
                    if let Some((store, tenant, batch)) = projected {
                        deliver_missed_events(&store, &client, tenant, &batch).await;
                    }
                });
                while completions.try_join_next().is_some() {}
            }
            while completions.join_next().await.is_some() {}
            if let Some(task) = parked_evictions {
                task.abort();
            }
            Ok(())
        })
    };
    let activities = {
        let worker = worker.clone();
        let timeouts = settings.activity_timeouts();
        let executor = Arc::new(Activities::new(
            store.clone(),
            ActivitySettings {
                scripted: settings.scripted_actions.clone(),
                secrets: settings.secrets.clone(),
                test_actions: settings.test_actions,
                identity: settings.identity.clone(),
                lease_ms: u64::try_from(timeouts.liveness.as_millis()).unwrap_or(u64::MAX),
                patience: settings.activity_timeout / 2,
            },
        ));
        tokio::spawn(async move {
            let mut running = JoinSet::new();
            loop {
                let task = match worker.poll_activity_task().await {
                    Ok(task) => task,
                    Err(PollError::ShutDown) => break,
                    Err(e) => return Err(anyhow!("polling activity tasks: {e}")),
                };
                let Some(activity_task::Variant::Start(start)) = task.variant else {
                    // Our activities finish promptly; a cancel request finds them done.
                    continue;
                };
                let (worker, executor, token) = (worker.clone(), executor.clone(), task.task_token);
                running.spawn(async move {
                    let beating = tokio::spawn(heartbeat(worker.clone(), token.clone(), timeouts));
                    let result = executor.execute(&start).await;
                    beating.abort();
                    let completion = ActivityTaskCompletion {
                        task_token: token,
                        result: Some(result),
                    };
                    if let Err(e) = worker.complete_activity_task(completion).await {
                        tracing::error!("completing an activity: {e}");
                    }
                });
                while running.try_join_next().is_some() {}
            }
            while running.join_next().await.is_some() {}
            Ok(())
        })
    };

    // Every worker with a database sweeps: deliveries that failed or were never made are
    // sent, events never routed are routed.
    let sweeper = store.clone().map(|store| {
        let client = connected.client.clone();
        let (task_queue, sweep) = (settings.task_queue.clone(), settings.sweep);
        tokio::spawn(async move {
            let ingress = crate::ingress::Ingress {
                store: &store,
                client: &client,
                task_queue: &task_queue,
            };
            ingress.sweep_forever(sweep).await;
        })
    });

    let (mut workflows, mut activities) = (workflows, activities);
    // A poll loop that ends before a stop was asked for leaves a process that serves nothing:
    // stop it all and exit non-zero, so a supervisor restarts it.
    let ended_early = tokio::select! {
        _ = shutdown => None,
        ended = &mut workflows => Some(("workflow", ended)),
        ended = &mut activities => Some(("activity", ended)),
    };
    tracing::info!("worker shutting down");
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    worker.initiate_shutdown();
    if let Some((which, ended)) = ended_early {
        let why = match ended {
            Ok(Ok(())) => "it stopped".to_owned(),
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => format!("it panicked: {e}"),
        };
        workflows.abort();
        activities.abort();
        return Err(anyhow!("the {which} poll loop ended on its own: {why}"));
    }
    let workflow_result = workflows.await.context("the workflow loop panicked")?;
    let activity_result = activities.await.context("the activity loop panicked")?;
    match Arc::try_unwrap(worker) {
        Ok(worker) => worker.finalize_shutdown().await,
        Err(_) => tracing::warn!("the worker was still shared at shutdown"),
    }
    workflow_result.and(activity_result)
}

/// The run cache, even after a panic elsewhere (its state stays consistent: each step either
/// finished or left the run out of the cache, which costs only a replay).
fn lock(runs: &std::sync::Mutex<Runs>) -> std::sync::MutexGuard<'_, Runs> {
    runs.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Delivers the events that arrived before the event waits this batch opened (ingress only
/// signals runs whose wait it can already see).
async fn deliver_missed_events(store: &Store, client: &Client, tenant: Uuid, batch: &Batch) {
    use alga_interpreter::machine::protocol::{RunEvent, WaitKind};
    let run_id = &batch.run_id;
    for record in &batch.records {
        if let RunEvent::WaitOpened {
            kind: WaitKind::Event,
            event_name: Some(event_name),
            correlation_key,
            ..
        } = record
            && let Err(e) = crate::ingress::deliver_to_new_wait(
                store,
                client,
                tenant,
                run_id,
                event_name,
                // The key as the read model stored it (a NUL escaped): events are rows too.
                correlation_key
                    .as_deref()
                    .map(crate::store::storable_text)
                    .as_deref(),
            )
            .await
        {
            tracing::warn!(run_id, "delivering events that came before the wait: {e}");
        }
    }
}

/// Evicts runs parked longer than `after`, looking a few times per `after`: a parked run's
/// instance (about 0.4 MiB) is worth keeping while its wait is likely to end soon, not for the
/// days a person or an event may take.
async fn evict_parked(
    runs: Arc<std::sync::Mutex<Runs>>,
    worker: Arc<temporalio_sdk_core::Worker>,
    after: std::time::Duration,
) {
    let every = (after / 4).clamp(
        std::time::Duration::from_millis(250),
        std::time::Duration::from_secs(30),
    );
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let victims = lock(&runs).parked_longer_than(after);
        for victim in victims {
            tracing::info!(run_id = %victim, "evicting a run parked longer than --evict-parked-secs");
            worker.request_workflow_eviction(&victim);
        }
    }
}

/// Heartbeats an activity until aborted (it finished), three times per heartbeat timeout, so a
/// dead worker's attempt is retried within that window instead of at the start-to-close
/// timeout.
async fn heartbeat(
    worker: Arc<temporalio_sdk_core::Worker>,
    task_token: Vec<u8>,
    timeouts: super::ActivityTimeouts,
) {
    let mut ticks = tokio::time::interval(timeouts.beat());
    ticks.tick().await;
    loop {
        ticks.tick().await;
        worker.record_activity_heartbeat(temporalio_common::protos::coresdk::ActivityHeartbeat {
            task_token: task_token.clone(),
            details: Vec::new(),
        });
    }
}

/// Writes one batch, retrying briefly: a database hiccup should not cost a workflow task.
/// Returns the run's tenant when it has a read model.
async fn project(store: &Store, batch: &Batch) -> Result<Option<Uuid>, StoreError> {
    let apply = || async {
        match injected_projection_failure() {
            Some(failure) => Err(failure),
            None => store.apply(batch).await,
        }
    };
    let mut delay = std::time::Duration::from_millis(100);
    for _ in 0..3 {
        match apply().await {
            Ok(tenant) => return Ok(tenant),
            Err(e) => {
                tracing::warn!(run_id = %batch.run_id, "projection failed, retrying: {e}");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
    apply().await
}

/// The `projection` failpoint (`FAILPOINTS=projection=4*return`): writing the read model fails
/// as it would with the database away.
fn injected_projection_failure() -> Option<StoreError> {
    fail::fail_point!("projection", |_| Some(StoreError::Database {
        context: "the projection failpoint".into(),
        source: sqlx::Error::PoolTimedOut,
    }));
    None
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
        Ok(raw) => Ok(RunOutcome::Succeeded(
            payload::first(&raw.payloads).map_err(|e| anyhow!("the run's result: {e}"))?,
        )),
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
    super::replay::history_json(history)
        .await
        .with_context(|| format!("fetching the history of run {run_id}"))
}

/// Requests cancellation of a run the interpreter knows by `run_id`.
pub async fn cancel_run(client: &Client, run_id: &str, reason: &str) -> Result<()> {
    cancel_workflow(client, &workflow_id(run_id), reason).await
}

/// Requests cancellation of the Temporal workflow `temporal_workflow_id`.
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
