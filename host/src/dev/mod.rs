//! `alga-wf dev`: a whole working system on one machine. A Temporal dev server, a private
//! PostgreSQL and a Redis for the product's event stream run as child processes with their
//! data in one folder; the worker and the HTTP
//! API run in this process. A tenant and an admin API key are made on first start and kept,
//! so starting again finds everything as it was. The test harness uses the same pieces.

pub mod postgres;
pub mod redis;
pub mod stand_ins;
pub mod temporal;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use thiserror::Error;

use crate::store::{Role, Store};
use crate::worker::{DefinitionDirectory, WorkerSettings};

/// Runs the dev system's worker keeps cached.
pub const CACHED_RUNS: usize = 1000;

/// What can stop the dev system.
#[derive(Debug, Error)]
pub enum DevError {
    /// A program it needs is not installed.
    #[error("missing {0}")]
    Missing(String),
    /// A child process or file operation failed.
    #[error("{0}")]
    Process(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Where `alga-wf dev` listens and keeps its data.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The data folder.
    pub data: PathBuf,
    /// The HTTP API's port.
    pub api_port: u16,
    /// The Temporal frontend's port.
    pub temporal_port: u16,
    /// The PostgreSQL port.
    pub postgres_port: u16,
    /// The Redis port (the event stream).
    pub redis_port: u16,
    /// Days an ended run is kept, in the store and in Temporal (0: for ever).
    pub retention_days: u32,
    /// Per-tenant start-rate limits of the API.
    pub start_rate: crate::api::StartRate,
    /// Stand-ins for the product's actions and task types (demos and tests).
    pub stand_ins: stand_ins::StandIns,
    /// Where the worker's `{"$secret": NAME}` values come from.
    pub secrets: crate::secrets::Secrets,
}

/// The tenant and key made on first start, kept in `dev.json`.
fn identity(data: &Path) -> Option<(uuid::Uuid, String)> {
    let text = std::fs::read_to_string(data.join("dev.json")).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    Some((
        uuid::Uuid::parse_str(value["tenant"].as_str()?).ok()?,
        value["apiKey"].as_str()?.to_owned(),
    ))
}

/// Runs the system until `shutdown` resolves; `started` receives what it printed.
pub async fn run(
    modules: Arc<crate::engine::modules::Modules>,
    options: DevOptions,
    known_actions: Vec<alga_protocol::KnownAction>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DevError> {
    crate::observability::metrics();
    let data = &options.data;
    std::fs::create_dir_all(data)
        .map_err(|e| DevError::Process(format!("{}: {e}", data.display())))?;
    // Temporal keeps a closed run's history as long as the store keeps its row, so the two
    // agree on what an ended run still has.
    let start_temporal = || {
        let server = temporal::DevServer::start(
            options.temporal_port,
            Some(&data.join("temporal.db")),
            false,
        )?;
        if options.retention_days > 0 {
            server.set_retention_days(options.retention_days)?;
        }
        Ok::<_, DevError>(server)
    };
    let start_postgres =
        || postgres::Cluster::start(&data.join("postgres"), options.postgres_port, "alga_wf");
    let start_redis = || redis::RedisServer::start(options.redis_port, &data.join("redis"));
    let mut temporal = start_temporal()?;
    let mut redis = start_redis()?;
    let first_cluster = start_postgres()?;
    let database_url = first_cluster.url.clone();
    let mut cluster = Some(first_cluster);
    let store = Store::connect(&database_url).await?;
    options.stand_ins.register(&store).await?;
    let mut known_actions = known_actions;
    known_actions.extend(options.stand_ins.known_actions());
    let (tenant, key) = match identity(data) {
        Some(known) => known,
        None => {
            let tenant = uuid::Uuid::new_v4();
            let key = store
                .create_api_key(tenant, "alga-wf dev", Role::Admin)
                .await?;
            let record = json!({"tenant": tenant, "apiKey": key});
            std::fs::write(data.join("dev.json"), record.to_string())
                .map_err(|e| DevError::Process(format!("writing dev.json: {e}")))?;
            (tenant, key)
        }
    };
    let mut settings = WorkerSettings::local(&temporal.address);
    settings.max_cached_runs = CACHED_RUNS;
    settings.activity_timeout = std::time::Duration::from_secs(60);
    settings.scripted_actions = options.stand_ins.actions.clone();
    settings.secrets = options.secrets.clone();
    // Development is where the `test.*` doubles belong.
    settings.test_actions = true;
    settings.sweep.retention_days = (options.retention_days > 0)
        .then(|| i32::try_from(options.retention_days).unwrap_or(i32::MAX));
    settings.event_stream = Some(crate::usecases::ingress::stream::StreamSettings::new(
        &redis.url,
        "alga-wf-dev",
    ));
    let connected = crate::temporal::connect(&settings.temporal())
        .await
        .map_err(|e| DevError::Process(format!("{e:#}")))?;
    let api_state = Arc::new(crate::api::ApiState {
        store: store.clone(),
        client: connected.client,
        task_queue: settings.task_queue.clone(),
        engine: modules.current().clone(),
        known_actions,
        start_limiter: crate::api::StartLimiter::new(options.start_rate),
        keyed_operations_pages: false,
        correlation: crate::usecases::ingress::CorrelationPaths::default(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.api_port))
        .await
        .map_err(|e| DevError::Process(format!("listening on port {}: {e}", options.api_port)))?;
    let api_url = format!("http://127.0.0.1:{}", options.api_port);
    println!(
        "{}",
        json!({
            "api": api_url,
            "apiKey": key,
            "openapi": format!("{api_url}/openapi.json"),
            "tenant": tenant,
            "temporal": temporal.address,
            "temporalUi": temporal.ui,
            "databaseUrl": database_url,
            "redis": redis.url,
            "eventStream": "workflow:events:global",
            "data": data,
        })
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait_for = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let lookup =
        crate::worker::definition_lookup(DefinitionDirectory::default(), Some(store.clone()));
    let worker = tokio::spawn(crate::worker::run_worker(
        modules,
        settings,
        lookup,
        Some(store),
        wait_for(stopped.clone()),
    ));
    let api = tokio::spawn(crate::api::serve(listener, api_state, wait_for(stopped)));
    // The children are watched: one that dies (killed, crashed) is started again on the same
    // data and port, and the worker and API reconnect by themselves; one that cannot be
    // started again stops the whole system with the reason.
    let supervised = async {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            ticks.tick().await;
            if let Some(status) = temporal.exited() {
                eprintln!("alga-wf dev: Temporal exited ({status}); starting it again");
                temporal = start_temporal().map_err(|e| {
                    DevError::Process(format!("Temporal exited and did not start again: {e}"))
                })?;
            }
            if let Some(status) = redis.exited() {
                eprintln!("alga-wf dev: Redis exited ({status}); starting it again");
                redis = start_redis().map_err(|e| {
                    DevError::Process(format!("Redis exited and did not start again: {e}"))
                })?;
            }
            if let Some(status) = cluster.as_mut().and_then(postgres::Cluster::exited) {
                eprintln!("alga-wf dev: PostgreSQL exited ({status}); starting it again");
                // The old handle's shutdown must run before the new server owns the data
                // directory, not after.
                drop(cluster.take());
                cluster = Some(start_postgres().map_err(|e| {
                    DevError::Process(format!("PostgreSQL exited and did not start again: {e}"))
                })?);
            }
        }
    };
    let outcome: Result<(), DevError> = tokio::select! {
        _ = shutdown => Ok(()),
        failed = supervised => failed,
    };
    tracing::info!("stopping the dev system");
    let _ = stop.send(true);
    let _ = api.await;
    match worker.await {
        Ok(Err(e)) => tracing::warn!("the worker stopped with: {e:#}"),
        Err(e) => tracing::warn!("the worker task failed: {e}"),
        Ok(Ok(())) => {}
    }
    drop(cluster);
    drop(redis);
    drop(temporal);
    outcome
}
