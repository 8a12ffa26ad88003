//! The only module that talks to `temporalio-sdk-core`: the worker's two poll loops and their
//! shutdown, on the connection `crate::temporal` makes.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use temporalio_client::Client;
use temporalio_common::protos::coresdk::ActivityTaskCompletion;
use temporalio_common::protos::coresdk::activity_task::activity_task;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    PollError, PollerBehavior, WorkerConfig, WorkerVersioningStrategy, init_worker,
};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::WorkerSettings;
use super::activities::{Activities, ActivitySettings};
use super::definitions::DefinitionLookup;
use super::runs::{Decided, Runs, Step};
use crate::engine::modules::Modules;
use crate::store::{Batch, Store, StoreError};
use crate::temporal::connect;

/// Runs the worker until `shutdown` resolves, then drains it: every activation handed out is
/// completed, evictions included.
pub async fn run_worker(
    modules: Arc<Modules>,
    settings: WorkerSettings,
    definitions: DefinitionLookup,
    store: Option<Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let connected = connect(&settings.temporal()).await?;
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
        let task_queue = settings.task_queue.clone();
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
                let task_queue = task_queue.clone();
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
                            // The cache is held only to put the run back; reading children's
                            // definitions and converting the commands happen without it.
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
                            completer.complete(decided).await
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
                            Err(StoreError::AtLimit(reason)) => {
                                completion = Runs::refused_at_limit(&completion.run_id, &reason, batch.at_ms);
                            }
                            Err(e) => completion = Runs::projection_failure(&completion.run_id, &e),
                        }
                    }
                    if let Err(e) = worker.complete_workflow_activation(completion).await {
                        tracing::error!("completing an activation: {e}");
                    }
                    if let Some((store, tenant, batch)) = projected {
                        deliver_missed_events(&store, &client, tenant, &batch).await;
                        if matches!(batch.end, Some(crate::store::RunEnd::Failed(_))) {
                            pause_if_failing(&store, &client, &task_queue, tenant, &batch).await;
                        }
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
            let ingress = crate::usecases::ingress::Ingress {
                store: &store,
                client: &client,
                task_queue: &task_queue,
            };
            ingress.sweep_forever(sweep).await;
        })
    });

    // A worker given the product's event stream consumes it beside the sweeper; at a stop it
    // finishes the message in hand (one not acknowledged is read again by the next consumer).
    let (stop_stream, stream_stopped) = tokio::sync::watch::channel(false);
    let stream = match (&settings.event_stream, &store) {
        (Some(stream), Some(store)) => {
            stream.check()?;
            let (store, client) = (store.clone(), connected.client.clone());
            let (task_queue, stream, correlation) = (
                settings.task_queue.clone(),
                stream.clone(),
                settings.correlation.clone(),
            );
            let mut stopped = stream_stopped;
            Some(tokio::spawn(async move {
                let ingress = crate::usecases::ingress::Ingress {
                    store: &store,
                    client: &client,
                    task_queue: &task_queue,
                };
                let stop = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                crate::usecases::ingress::stream::consume(ingress, &correlation, &stream, stop)
                    .await
            }))
        }
        (Some(_), None) => return Err(anyhow!("consuming the event stream needs a database")),
        (None, _) => None,
    };

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
    let _ = stop_stream.send(true);
    if let Some(stream) = stream {
        match stream.await {
            Ok(Err(e)) if ended_early.is_none() => return Err(e.into()),
            Ok(Err(e)) => tracing::warn!("the event stream consumer failed: {e}"),
            Err(e) => tracing::warn!("the event stream consumer panicked: {e}"),
            Ok(Ok(())) => {}
        }
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
    use alga_protocol::protocol::{RunEvent, WaitKind};
    let run_id = &batch.run_id;
    for record in &batch.records {
        if let RunEvent::WaitOpened {
            kind: WaitKind::Event,
            event_name: Some(event_name),
            correlation_key,
            ..
        } = record
            && let Err(e) = crate::usecases::ingress::deliver_to_new_wait(
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
/// instance (about 0.1 MiB with its sdk-core state) is worth keeping while its wait is likely
/// to end soon, not for the days a person or an event may take.
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

/// A failed run's workflow pauses itself when its runs keep failing (its settings say how),
/// its schedules with it. Best effort: the next failure judges again.
async fn pause_if_failing(
    store: &Store,
    client: &Client,
    task_queue: &str,
    tenant: Uuid,
    batch: &Batch,
) {
    let run = crate::store::run_uuid(&batch.run_id);
    match store.pause_if_failing(tenant, run).await {
        Ok(Some(workflow_id)) => {
            tracing::warn!(%workflow_id, "paused a workflow whose runs keep failing");
            let scheduler = crate::usecases::schedules::Scheduler {
                store,
                client,
                task_queue,
            };
            for problem in scheduler.reconcile(tenant, workflow_id).await {
                tracing::warn!(%workflow_id, "pausing its schedules: {problem}");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(run_id = %batch.run_id, "judging its workflow's failures: {e}"),
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
            // A refusal is an answer, not a failure to retry.
            Err(e @ StoreError::AtLimit(_)) => return Err(e),
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
