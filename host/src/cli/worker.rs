//! `alga-wf worker`: its options, and the worker they make.

use std::path::PathBuf;

use super::modules::load_modules_for;
use super::{Cli, TemporalArgs, parse_action_queues, read_json, secrets};
use crate::simulate;

/// What `alga-wf worker` is given.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    temporal: TemporalArgs,
    /// A folder of published definitions (`*.json`), for `control.callWorkflow` children.
    #[arg(long, value_name = "DIR")]
    definitions: Option<PathBuf>,
    /// Runs kept cached (Temporal's sticky cache); evicted runs are rebuilt by replay. 0
    /// evicts every run after every activation, so each workflow task rebuilds the run
    /// from its history: a determinism audit, and slow.
    #[arg(long, env = "ALGA_WF_MAX_CACHED_RUNS", default_value_t = 1000)]
    max_cached_runs: usize,
    /// MiB of interpreter memory the cached runs may cost together (each the memory its
    /// instance grew and 128 KiB for the pages of the module's memory it wrote); past it the
    /// least recently used runs are evicted (and rebuilt by replay when they next run). 0: no
    /// budget, only the count.
    #[arg(long, env = "ALGA_WF_CACHE_MEMORY_MIB", default_value_t = 2048)]
    cache_memory_mib: usize,
    /// PostgreSQL for the read model, the idempotency ledger and published definitions
    /// (none: no projections, no ledger, children from --definitions only).
    #[arg(long, env = "ALGA_WF_DATABASE_URL")]
    database_url: Option<String>,
    /// Start-to-close timeout of activities, in seconds: an attempt lost with its worker
    /// is retried after it (and its ledger claim lapses).
    #[arg(long, env = "ALGA_WF_ACTIVITY_TIMEOUT_SECS", default_value_t = 600)]
    activity_timeout_secs: u64,
    /// How long one of the worker's own activities may go without a heartbeat before
    /// Temporal retries it, in seconds: a dead worker's action is retried this soon. Also
    /// how long its ledger claim holds unless renewed. It heartbeats three times in each.
    #[arg(long, env = "ALGA_WF_HEARTBEAT_TIMEOUT_SECS", default_value_t = 30)]
    heartbeat_timeout_secs: u64,
    /// How long a run may stay parked (waiting on a timer, an event or a person) with its
    /// interpreter instance cached, in seconds; after that its instance is dropped and the
    /// run is rebuilt by replay when it next runs (0: keep it until the cache needs room).
    #[arg(long, env = "ALGA_WF_EVICT_PARKED_SECS", default_value_t = 600)]
    evict_parked_secs: u64,
    /// How often, in seconds, the worker sends deliveries that failed or were never made
    /// and routes events that were never routed (with a database).
    #[arg(long, env = "ALGA_WF_SWEEP_INTERVAL_SECS", default_value_t = 5)]
    sweep_interval_secs: u64,
    /// How long, in seconds, a run's row may stay unchanged before the sweeper asks
    /// Temporal whether the run is still open (a terminated or timed-out run's row is then
    /// closed); each run is asked about at most every five minutes.
    #[arg(long, env = "ALGA_WF_RECONCILE_IDLE_SECS", default_value_t = 60)]
    reconcile_idle_secs: u64,
    /// How long, in seconds, a run's workflow may take to start before the sweeper
    /// finishes its launch: a run an event triggered is started, a manual one is failed
    /// with the reason (its caller was told the start failed).
    #[arg(long, env = "ALGA_WF_LAUNCH_GRACE_SECS", default_value_t = 60)]
    launch_grace_secs: u64,
    /// How often, in seconds, the sweeper matches schedule rows with Temporal Schedules: a
    /// row whose Schedule is missing gets it again, a Schedule whose row is gone is deleted.
    #[arg(long, env = "ALGA_WF_SCHEDULE_SWEEP_SECS", default_value_t = 60)]
    schedule_sweep_secs: u64,
    /// How long, in seconds, a run may stay open before it is ended `FAILED` with a
    /// `TimeoutError` (default 30 days, as in the reference); a workflow's own
    /// `executionTimeoutSecs` (its metadata) wins.
    #[arg(long, env = "ALGA_WF_RUN_TIMEOUT_SECS", default_value_t = 30 * 24 * 3600)]
    run_timeout_secs: u64,
    /// Days ended runs (with their steps, waits, actions, logs, tasks and deliveries) and
    /// routed events are kept before the sweeper purges them; a workflow's own `retentionDays`
    /// wins for its runs. 0: kept for ever.
    #[arg(long, env = "ALGA_WF_RETENTION_DAYS", default_value_t = 0)]
    retention_days: u32,
    /// An action served on another task queue, as ID@VERSION=QUEUE (repeatable; also
    /// $ALGA_WF_ACTION_QUEUES, comma-separated).
    #[arg(long = "action-queue", value_name = "ID@VERSION=QUEUE")]
    action_queues: Vec<String>,
    /// Serve actions from scripted results (a simulator scenario's `actions`), picked by
    /// attempt: a stand-in for the product's action workers in development and tests.
    #[arg(long, value_name = "FILE")]
    scripted_actions: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (activations, their latency,
    /// commands, activities by outcome, ledger hits, cached runs).
    #[arg(long, env = "ALGA_WF_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    #[command(flatten)]
    event_stream: super::events::EventStreamArgs,
    #[command(flatten)]
    correlation: super::events::CorrelationArgs,
}

impl WorkerArgs {
    /// Runs the worker until SIGTERM or Ctrl-C, then drains it.
    pub(super) async fn run(&self, cli: &Cli) -> anyhow::Result<u8> {
        let WorkerArgs {
            temporal,
            definitions,
            max_cached_runs,
            cache_memory_mib,
            database_url,
            activity_timeout_secs,
            heartbeat_timeout_secs,
            evict_parked_secs,
            sweep_interval_secs,
            reconcile_idle_secs,
            launch_grace_secs,
            schedule_sweep_secs,
            run_timeout_secs,
            retention_days,
            action_queues,
            scripted_actions,
            metrics_listen,
            event_stream,
            correlation,
        } = self;
        if let Some(listen) = metrics_listen {
            crate::observability::serve_metrics(listen)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        // Fault injection for crash tests: FAILPOINTS names the points to trigger.
        let _faults = fail::FailScenario::setup();
        // One instance per cached run, and spares for runs being rebuilt (with no
        // cache, other runs' activations may come before a run's eviction).
        let modules = load_modules_for(cli, max_cached_runs + 4)?;
        let directory = match definitions {
            Some(dir) => {
                crate::worker::DefinitionDirectory::load(dir).map_err(anyhow::Error::msg)?
            }
            None => crate::worker::DefinitionDirectory::default(),
        };
        let store = match database_url {
            Some(url) => Some(crate::store::Store::connect(url).await?),
            None => None,
        };
        let lookup = crate::worker::definition_lookup(directory, store.clone());
        let mut settings = temporal.worker_settings();
        settings.max_cached_runs = *max_cached_runs;
        settings.cache_memory_budget = cache_memory_mib.saturating_mul(1 << 20);
        settings.activity_timeout = std::time::Duration::from_secs((*activity_timeout_secs).max(1));
        settings.heartbeat_timeout =
            std::time::Duration::from_secs((*heartbeat_timeout_secs).max(1));
        settings.evict_parked_after =
            (*evict_parked_secs > 0).then(|| std::time::Duration::from_secs(*evict_parked_secs));
        settings.sweep.interval = std::time::Duration::from_secs((*sweep_interval_secs).max(1));
        settings.sweep.reconcile_idle = std::time::Duration::from_secs(*reconcile_idle_secs);
        settings.sweep.launch_grace = std::time::Duration::from_secs(*launch_grace_secs);
        settings.sweep.schedule_interval =
            std::time::Duration::from_secs((*schedule_sweep_secs).max(1));
        settings.sweep.execution_timeout =
            std::time::Duration::from_secs((*run_timeout_secs).max(1));
        settings.sweep.retention_days =
            (*retention_days > 0).then(|| i32::try_from(*retention_days).unwrap_or(i32::MAX));
        settings.action_queues = parse_action_queues(action_queues)?;
        settings.event_stream = event_stream.settings();
        settings.correlation = correlation.paths()?;
        if let Some(file) = scripted_actions {
            let value = read_json(file)?;
            let actions = value.get("actions").unwrap_or(&value);
            settings.scripted_actions =
                simulate::parse_scripted_actions(actions).map_err(|issues| {
                    let first = issues
                        .first()
                        .map(|i| format!("{}: {}", i.path, i.message))
                        .unwrap_or_default();
                    anyhow::anyhow!("{}: {first}", file.display())
                })?;
        }
        let shutdown = crate::termination::requested();
        settings.secrets = secrets(cli)?;
        settings.test_actions = cli.test_actions;
        crate::worker::run_worker(modules, settings, lookup, store, shutdown).await?;
        Ok(0)
    }
}
