//! The `alga-wf` command line.

mod client;
mod keys;
mod launch;
mod worker;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alga_interpreter::actions::BUILTIN_ACTIONS;
use alga_interpreter::definition::{Issue, Severity};
use alga_interpreter::validate::KnownAction;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::engine::{EngineConfig, InterpreterEngine};
use crate::locate;
use crate::simulate::{self, Report, Scenario, SimulateError};
use client::shown;

/// Exit status for an invalid definition or scenario.
const EXIT_INVALID: u8 = 2;
/// Exit status for anything else that went wrong.
const EXIT_ERROR: u8 = 1;

/// The Alga workflow runtime: a Temporal-native runner for Workflow Runtime V2 definitions.
#[derive(Debug, Parser)]
#[command(name = "alga-wf", version, about)]
pub struct Cli {
    /// Another interpreter component (default: $ALGA_WF_INTERPRETER, else the module built into
    /// this binary).
    #[arg(long, global = true, value_name = "WASM")]
    interpreter: Option<PathBuf>,
    /// A directory of older interpreter modules (`manifest.json`, `alga-wf interpreters add`)
    /// that runs pinned to their semantics still need (worker, replay, dev).
    #[arg(long, global = true, env = "ALGA_WF_INTERPRETERS", value_name = "DIR")]
    interpreters: Option<PathBuf>,
    /// An action served outside this process, as ID@VERSION (repeatable; also
    /// $ALGA_WF_REMOTE_ACTIONS, comma-separated). `validate` accepts these besides the built-ins.
    #[arg(long = "remote-action", global = true, value_name = "ID@VERSION")]
    remote_actions: Vec<String>,
    /// Fuel per activation (a deterministic bound on the interpreter's work).
    #[arg(long, global = true, value_name = "UNITS")]
    fuel: Option<u64>,
    /// Enable the `test.*` action doubles (development and tests; `dev` and `simulate` always
    /// have them). Elsewhere they are UNKNOWN_ACTION at validation and never run.
    #[arg(long, global = true, env = "ALGA_WF_TEST_ACTIONS")]
    test_actions: bool,
    /// A secret every tenant may read, from `ALGA_WF_SECRET_<NAME>` (repeatable; also
    /// $ALGA_WF_SHARED_SECRETS, comma-separated). Other secrets are per tenant only.
    #[arg(long = "shared-secret", global = true, value_name = "NAME")]
    shared_secrets: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a definition the way publishing does, without a database.
    Validate {
        /// A workflow definition (JSON).
        file: PathBuf,
    },
    /// Run a scenario through the real interpreter with a virtual clock.
    Simulate {
        /// A scenario (JSON): definition, payload, scripted actions, stimuli.
        file: PathBuf,
        /// After every activation, rebuild the run in a fresh instance from its activations
        /// (as a worker does after an eviction) and fail unless it gives the same commands.
        #[arg(long)]
        audit_replay: bool,
    },
    /// Serve workflow and activity tasks from Temporal until Ctrl-C.
    Worker(worker::WorkerArgs),
    /// Validate a definition and store it as an immutable published version.
    Publish {
        /// A workflow definition (JSON) with `id` (a uuid or a key) and `version`.
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Temporal, for moving the workflow's schedules onto the new version (only contacted
        /// when it has schedules).
        #[command(flatten)]
        temporal: TemporalArgs,
        /// Tenant (a uuid).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Start a run of a published workflow: the run row, then the Temporal workflow.
    Start {
        /// The workflow's uuid or key.
        workflow: String,
        /// The version to pin (default: the latest published).
        #[arg(long)]
        version: Option<i32>,
        /// The run's payload (a JSON object).
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Tenant (a uuid).
        #[arg(long)]
        tenant: Option<String>,
        /// Wait for the run's end and print it.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        temporal: TemporalArgs,
    },
    /// Serve the HTTP API (definitions, runs, events) until Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ALGA_WF_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        temporal: TemporalArgs,
        #[command(flatten)]
        limits: StartRateArgs,
        #[command(flatten)]
        pages: OperationsPagesArgs,
    },
    /// Print the HTTP API's OpenAPI document (generated from the routes, as `/openapi.json`).
    Openapi,
    /// Start a whole working system: a Temporal dev server and PostgreSQL (children, with
    /// their data in --data), the worker and the HTTP API; prints where everything is.
    Dev {
        /// The data folder (kept between starts).
        #[arg(long, default_value = ".alga-wf-dev")]
        data: PathBuf,
        /// The HTTP API's port.
        #[arg(long, default_value_t = 8080)]
        api_port: u16,
        /// The Temporal frontend's port.
        #[arg(long, default_value_t = 7233)]
        temporal_port: u16,
        /// PostgreSQL's port.
        #[arg(long, default_value_t = 55432)]
        postgres_port: u16,
        #[command(flatten)]
        limits: StartRateArgs,
        /// Stand-ins for the product (demos, tests; never production): a simulator
        /// scenario whose scripted `actions` serve the product's actions and whose
        /// `taskTypes` join the task catalog.
        #[arg(long)]
        stand_ins: Option<PathBuf>,
    },
    /// API keys: create, list, revoke.
    ApiKeys {
        #[command(subcommand)]
        action: keys::KeysAction,
    },
    /// Create an API key for a tenant; prints it (only its hash is stored). The same as
    /// `api-keys create`.
    CreateApiKey(keys::CreateKeyArgs),
    /// Print a run as the read model has it: status, steps, waits, action invocations.
    Show {
        /// The run id.
        run: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Start a run of a definition file on Temporal and wait for its end.
    Run {
        /// A workflow definition (JSON).
        file: PathBuf,
        #[command(flatten)]
        temporal: TemporalArgs,
        /// The run's payload (a JSON object).
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Run id (default: generated from the time).
        #[arg(long)]
        run_id: Option<String>,
        /// Tenant id.
        #[arg(long)]
        tenant: Option<String>,
        /// Start and print the run id without waiting for the end.
        #[arg(long)]
        no_wait: bool,
        /// Continue as new once an execution's history reaches this many events (0: never).
        #[arg(long, default_value_t = 0)]
        continue_as_new_after_events: u32,
        /// Pin these runtime semantics instead of the current build's (a module the worker
        /// loads from --interpreters).
        #[arg(long)]
        semantics_version: Option<String>,
    },
    /// May runs recorded on semantics FROM move to TO? Replays each history on both modules
    /// (current build and --interpreters) and reports "safe to move", or the first command
    /// that differs with its step and both sides.
    Certify {
        /// The semantics the histories' runs pinned.
        #[arg(long)]
        from: String,
        /// The semantics to move them to.
        #[arg(long)]
        to: String,
        /// Histories (`alga-wf history`, or `temporal workflow show -o json`).
        #[arg(required = true)]
        histories: Vec<PathBuf>,
    },
    /// Manage a directory of interpreter modules (one per runtime semantics version).
    Interpreters {
        #[command(subcommand)]
        action: InterpretersAction,
    },
    /// Submit an event through ingress, as `POST /api/workflow/events` does: stored once by
    /// id, delivered to the tenant's waiting runs, and starting the workflows it triggers.
    SendEvent {
        /// The tenant (uuid).
        #[arg(long)]
        tenant: String,
        /// Event name.
        #[arg(long)]
        event_name: String,
        /// Correlation key.
        #[arg(long)]
        correlation_key: Option<String>,
        /// Event payload (a JSON object).
        #[arg(long, default_value = "{}")]
        payload: String,
        /// The event's id (dedupe key; generated when absent).
        #[arg(long)]
        event_id: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        temporal: TemporalArgs,
    },
    /// Send an event straight to one run (the `workflowRuntimeV2Event` signal), bypassing
    /// ingress.
    SignalEvent {
        /// The run id.
        run: String,
        #[command(flatten)]
        temporal: TemporalArgs,
        /// Event name.
        #[arg(long)]
        event_name: String,
        /// Correlation key.
        #[arg(long)]
        correlation_key: Option<String>,
        /// Event payload (a JSON object).
        #[arg(long, default_value = "{}")]
        payload: String,
    },
    /// Answer a run's human task (the `workflowRuntimeV2HumanTask` signal); the run checks the
    /// response against the task's form.
    CompleteTask {
        /// The run id.
        run: String,
        #[command(flatten)]
        temporal: TemporalArgs,
        /// The task id (from `show`, or the `workflowRuntimeV2CurrentWait` query).
        #[arg(long)]
        task_id: String,
        /// The response (a JSON object).
        #[arg(long, default_value = "{}")]
        payload: String,
    },
    /// Ask a run a query (e.g. workflowRuntimeV2CurrentWait).
    Query {
        /// The run id.
        run: String,
        /// The query name.
        name: String,
        #[command(flatten)]
        temporal: TemporalArgs,
    },
    /// Wait for a run's end and print it.
    Result {
        /// The run id.
        run: String,
        #[command(flatten)]
        temporal: TemporalArgs,
    },
    /// Save a run's history (the SDK's JSON encoding) for `replay`.
    History {
        /// The run id.
        run: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        temporal: TemporalArgs,
    },
    /// Replay saved histories through the interpreter with no server: "ok" per history, or the
    /// first divergence with the step it happened at.
    Replay {
        /// History files written by `alga-wf history`.
        #[arg(required = true)]
        histories: Vec<PathBuf>,
    },
    /// Request cancellation of a run.
    Cancel {
        /// The run id.
        run: String,
        #[command(flatten)]
        temporal: TemporalArgs,
    },
}

/// Where PostgreSQL is.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://alga@127.0.0.1:5432/alga_wf.
    #[arg(long, env = "ALGA_WF_DATABASE_URL")]
    pub database_url: String,
}

/// Where Temporal is.
#[derive(Debug, clap::Args)]
struct TemporalArgs {
    /// Temporal frontend address.
    #[arg(
        long,
        env = "ALGA_WF_TEMPORAL",
        default_value = "http://127.0.0.1:7233"
    )]
    server: String,
    /// Namespace.
    #[arg(long, env = "ALGA_WF_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Task queue.
    #[arg(long, env = "ALGA_WF_TASK_QUEUE", default_value = crate::temporal::DEFAULT_TASK_QUEUE)]
    task_queue: String,
}

/// Who may read the API's `/metrics` and `/openapi.json`.
#[derive(Debug, Clone, clap::Args)]
pub struct OperationsPagesArgs {
    /// `/metrics` and `/openapi.json` need an API key (any role).
    #[arg(long, env = "ALGA_WF_KEYED_OPERATIONS_PAGES")]
    keyed_operations_pages: bool,
    /// Also serve Prometheus metrics on this address (e.g. a private interface), apart from
    /// the API.
    #[arg(long, env = "ALGA_WF_METRICS_LISTEN")]
    metrics_listen: Option<String>,
}

/// Per-tenant limits on starting runs through the API.
#[derive(Debug, Clone, clap::Args)]
pub struct StartRateArgs {
    /// Runs a tenant may start per second through the API (starts, events, replays,
    /// redrives); 0 turns the limit off. Past it the API answers 429 with Retry-After.
    #[arg(long, env = "ALGA_WF_START_RATE", default_value_t = 20)]
    start_rate_per_tenant: u32,
    /// How many starts a tenant may make at once before the rate applies.
    #[arg(long, env = "ALGA_WF_START_BURST", default_value_t = 40)]
    start_burst_per_tenant: u32,
}

impl StartRateArgs {
    fn rate(&self) -> crate::api::StartRate {
        crate::api::StartRate {
            per_second: self.start_rate_per_tenant,
            burst: self.start_burst_per_tenant,
        }
    }
}

impl TemporalArgs {
    /// Where a client connects and starts runs.
    fn settings(&self) -> crate::temporal::TemporalSettings {
        let mut settings = crate::temporal::TemporalSettings::local(&self.server);
        settings.namespace = self.namespace.clone();
        settings.task_queue = self.task_queue.clone();
        settings
    }

    /// A worker's settings, before its own options.
    fn worker_settings(&self) -> crate::worker::WorkerSettings {
        let mut settings = crate::worker::WorkerSettings::local(&self.server);
        settings.namespace = self.namespace.clone();
        settings.task_queue = self.task_queue.clone();
        settings
    }
}

/// What `alga-wf interpreters` does.
#[derive(Debug, Subcommand)]
pub enum InterpretersAction {
    /// Add a component to DIR as `<version>.wasm`, its version and blake3 in the manifest.
    Add {
        /// The component (default: this binary's own module).
        file: Option<PathBuf>,
        /// The modules directory.
        #[arg(long)]
        dir: PathBuf,
        /// Replace a module of the same version with other bytes (development builds only).
        #[arg(long)]
        replace: bool,
    },
    /// List DIR's modules, loading each and checking its hash and version.
    List {
        /// The modules directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::observability::init_logging();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("alga-wf: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: &Cli) -> Result<u8, String> {
    match &cli.command {
        Command::Interpreters { action } => interpreters(cli, action),
        Command::Openapi => {
            print_json(&serde_json::to_value(crate::api::openapi()).unwrap_or_default());
            Ok(0)
        }
        Command::Validate { file } => {
            let (_, errors, warnings) = check_definition(cli, file)?;
            let ok = errors.is_empty();
            print_json(&json!({"ok": ok, "errors": errors, "warnings": warnings}));
            Ok(if ok { 0 } else { EXIT_INVALID })
        }
        Command::Simulate { file, audit_replay } => {
            let value = read_json(file)?;
            let scenario = match Scenario::parse(&value) {
                Ok(mut scenario) => {
                    scenario.audit_replay = *audit_replay;
                    scenario
                }
                Err(errors) => {
                    print_json(&to_json(&Report::invalid(errors, Vec::new())));
                    return Ok(EXIT_INVALID);
                }
            };
            let engine = load_engine(cli)?;
            let report = simulate::simulate(&engine, &scenario).map_err(|e| match e {
                SimulateError::Engine(e) => e.to_string(),
                other => other.to_string(),
            })?;
            print_json(&to_json(&report));
            Ok(if report.status == simulate::RunStatus::Invalid {
                EXIT_INVALID
            } else {
                0
            })
        }
        _ => temporal_command(cli),
    }
}

fn parse_json_arg(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn temporal_command(cli: &Cli) -> Result<u8, String> {
    let runtime = tokio_runtime()?;
    runtime.block_on(async {
        match &cli.command {
            Command::Worker(args) => args.run(cli).await,
            Command::Publish { file, database, temporal, tenant } => {
                launch::publish(cli, file, database, temporal, tenant.as_deref()).await
            }
            Command::Start { workflow, version, payload, tenant, wait, database, temporal } => {
                let request = launch::StartRequest {
                    workflow,
                    version: *version,
                    payload,
                    tenant: tenant.as_deref(),
                    wait: *wait,
                };
                launch::start(request, database, temporal).await
            }
            Command::Show { run, database } => launch::show(run, database).await,
            Command::Dev { data, api_port, temporal_port, postgres_port, limits, stand_ins } => {
                let modules = load_modules_for(cli, crate::dev::CACHED_RUNS + 1)?;
                let options = crate::dev::DevOptions {
                    data: data.clone(),
                    api_port: *api_port,
                    temporal_port: *temporal_port,
                    postgres_port: *postgres_port,
                    start_rate: limits.rate(),
                    stand_ins: match stand_ins {
                        Some(file) => crate::dev::stand_ins::StandIns::read(file)?,
                        None => crate::dev::stand_ins::StandIns::default(),
                    },
                    secrets: secrets(cli)?,
                };
                crate::dev::run(modules, options, known_actions_with(cli, true)?, crate::termination::requested())
                .await
                .map_err(|e| e.to_string())?;
                Ok(0)
            }
            Command::Serve { listen, database, temporal, limits, pages } => {
                launch::serve(cli, listen, database, temporal, limits, pages).await
            }
            Command::CreateApiKey(args) => keys::create(args).await,
            Command::ApiKeys { action } => keys::run(action).await,
            Command::Run {
                file,
                temporal,
                payload,
                run_id,
                tenant,
                no_wait,
                continue_as_new_after_events,
                semantics_version,
            } => {
                let definition = read_json(file)?;
                let payload = parse_json_arg("--payload", payload)?;
                let run_id = run_id.clone().unwrap_or_else(|| {
                    format!("run-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"))
                });
                let pinned = alga_interpreter::machine::protocol::RunStart::pinned(
                    run_id.clone(),
                    definition["id"].as_str().unwrap_or_default().to_owned(),
                    definition["version"].as_u64().unwrap_or(1) as u32,
                    definition,
                    payload,
                );
                let start = alga_interpreter::machine::protocol::RunStart {
                    tenant_id: tenant.clone(),
                    runtime_semantics_version: semantics_version
                        .clone()
                        .unwrap_or_else(|| pinned.runtime_semantics_version.clone()),
                    execution_key: format!("cli-{run_id}"),
                    continue_as_new_after_events: *continue_as_new_after_events,
                    host_retries: true,
                    ..pinned
                };
                let settings = temporal.settings();
                let connected = crate::temporal::connect(&settings).await.map_err(shown)?;
                crate::temporal::start_run(&connected.client, &settings.task_queue, &start)
                    .await
                    .map_err(shown)?;
                if *no_wait {
                    print_json(&json!({"runId": run_id, "workflowId": crate::temporal::workflow_id(&run_id)}));
                    return Ok(0);
                }
                let outcome = crate::temporal::run_result(&connected.client, &run_id)
                    .await
                    .map_err(shown)?;
                print_json(&outcome_json(&run_id, &outcome));
                Ok(0)
            }
            Command::SendEvent {
                tenant,
                event_name,
                correlation_key,
                payload,
                event_id,
                database,
                temporal,
            } => {
                let event = launch::EventArgs {
                    tenant,
                    event_name,
                    correlation_key: correlation_key.as_deref(),
                    payload,
                    event_id: event_id.as_deref(),
                };
                launch::send_event(event, database, temporal).await
            }
            Command::SignalEvent { run, temporal, event_name, correlation_key, payload } => {
                client::signal_event(temporal, run, event_name, correlation_key.as_deref(), payload).await
            }
            Command::CompleteTask { run, temporal, task_id, payload } => {
                client::complete_task(temporal, run, task_id, payload).await
            }
            Command::Query { run, name, temporal } => client::query(temporal, run, name).await,
            Command::Cancel { run, temporal } => client::cancel(temporal, run).await,
            Command::Result { run, temporal } => client::result(temporal, run).await,
            Command::History { run, out, temporal } => client::history(temporal, run, out).await,
            Command::Replay { histories } => {
                let modules = load_modules_for(cli, 8)?;
                let mut loaded = Vec::new();
                for file in histories {
                    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                    loaded.push(
                        crate::worker::read_history(&bytes).map_err(|e| format!("{}: {e:#}", file.display()))?,
                    );
                }
                let verdicts = crate::worker::replay(modules, loaded)
                    .await
                    .map_err(shown)?;
                let mut diverged = false;
                let results: Vec<Value> = histories
                    .iter()
                    .zip(verdicts.iter().map(Some).chain(std::iter::repeat(None)))
                    .map(|(file, verdict)| match verdict {
                        Some(crate::worker::ReplayVerdict::Ok) => json!({"history": file, "result": "ok"}),
                        Some(crate::worker::ReplayVerdict::Diverged { message, step_path }) => {
                            diverged = true;
                            json!({"history": file, "result": "diverged", "message": message, "stepPath": step_path})
                        }
                        None => {
                            diverged = true;
                            json!({"history": file, "result": "not replayed"})
                        }
                    })
                    .collect();
                print_json(&Value::Array(results));
                Ok(if diverged { EXIT_INVALID } else { 0 })
            }
            Command::Certify { from, to, histories } => {
                let modules = load_modules_for(cli, 4)?;
                let module = |version: &str| {
                    modules.for_version(version).cloned().ok_or_else(|| {
                        format!(
                            "no interpreter module for semantics {version} (loaded: {}; add older ones with --interpreters)",
                            modules.versions().join(", ")
                        )
                    })
                };
                let (from_module, to_module) = (module(from)?, module(to)?);
                let mut loaded = Vec::new();
                for file in histories {
                    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                    loaded.push(
                        crate::worker::read_history(&bytes).map_err(|e| format!("{}: {e:#}", file.display()))?,
                    );
                }
                let certificates = crate::certify::certify(from_module, to_module, loaded)
                    .await
                    .map_err(shown)?;
                let mut safe = true;
                let results: Vec<Value> = histories
                    .iter()
                    .zip(certificates)
                    .map(|(file, certificate)| {
                        safe &= certificate == crate::certify::Certificate::Safe;
                        let mut entry = serde_json::to_value(&certificate).unwrap_or_default();
                        entry["history"] = json!(file);
                        entry
                    })
                    .collect();
                print_json(&Value::Array(results));
                Ok(if safe { 0 } else { EXIT_INVALID })
            }
            Command::Validate { .. }
            | Command::Simulate { .. }
            | Command::Openapi
            | Command::Interpreters { .. } => Ok(0),
        }
    })
}

/// A run's end as JSON: `{runId, status, scopes | error}`.
pub fn outcome_json(run_id: &str, outcome: &crate::temporal::RunOutcome) -> Value {
    use crate::temporal::RunOutcome;
    match outcome {
        RunOutcome::Succeeded(scopes) => {
            json!({"runId": run_id, "status": "SUCCEEDED", "scopes": scopes})
        }
        RunOutcome::Failed(failure) => {
            json!({"runId": run_id, "status": "FAILED", "error": failure})
        }
        RunOutcome::Canceled => json!({"runId": run_id, "status": "CANCELED"}),
        RunOutcome::Ended(why) => json!({"runId": run_id, "status": "ENDED", "reason": why}),
    }
}

fn to_json(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("alga-wf: cannot print the result: {e}"),
    }
}

/// Reads a JSON file; the error is one line naming the file and, for bad JSON, the line and
/// column.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

/// Reads a definition and validates it as publishing does: the definition, its errors and its
/// warnings.
fn check_definition(cli: &Cli, file: &Path) -> Result<(Value, Vec<Issue>, Vec<Issue>), String> {
    let definition = read_json(file)?;
    let engine = load_engine(cli)?;
    let known = known_actions(cli)?;
    let issues = engine
        .validate(&definition, Some(&known))
        .map_err(|e| e.to_string())?;
    let (errors, warnings) = issues
        .into_iter()
        .partition(|i| i.severity == Severity::Error);
    Ok((definition, errors, warnings))
}

fn load_engine(cli: &Cli) -> Result<InterpreterEngine, String> {
    load_engine_for(cli, 8)
}

/// Engine settings: the fuel of `--fuel`, slots for `instances` runs.
fn engine_config(cli: &Cli, instances: usize, cache_dir: Option<PathBuf>) -> EngineConfig {
    let mut config = EngineConfig {
        cache_dir,
        pool_instances: u32::try_from(instances).unwrap_or(u32::MAX),
        ..EngineConfig::default()
    };
    if let Some(fuel) = cli.fuel {
        config.fuel_per_activation = fuel;
    }
    config
}

/// The engine with slots for `instances` runs at once (a worker caches one per run).
fn load_engine_for(cli: &Cli, instances: usize) -> Result<InterpreterEngine, String> {
    let source = locate::interpreter_source(cli.interpreter.as_deref());
    source
        .load(engine_config(cli, instances, None))
        .map_err(|e| match source {
            locate::InterpreterSource::Embedded(_) => format!("{e}"),
            locate::InterpreterSource::File(_) => format!(
                "{e} (this binary has no module of its own: build one with `scripts/build`, or \
                 pass --interpreter)"
            ),
        })
}

/// `alga-wf interpreters add|list`.
fn interpreters(cli: &Cli, action: &InterpretersAction) -> Result<u8, String> {
    use crate::engine::modules::{Manifest, Modules, add_module};
    match action {
        InterpretersAction::Add { file, dir, replace } => {
            let source = locate::interpreter_source(file.as_deref().or(cli.interpreter.as_deref()));
            let config = engine_config(cli, 2, Some(source.cache_dir()));
            let bytes = source.bytes().map_err(|e| e.to_string())?;
            let entry = add_module(&bytes, dir, *replace, &config).map_err(|e| e.to_string())?;
            print_json(&serde_json::to_value(entry).unwrap_or_default());
            Ok(0)
        }
        InterpretersAction::List { dir } => {
            let manifest = Manifest::read(dir).map_err(|e| e.to_string())?;
            let config = engine_config(cli, 2, Some(locate::cache_dir_in(dir)));
            let current = std::sync::Arc::new(load_engine_for(cli, 2)?);
            Modules::load(current, Some(dir), &config).map_err(|e| e.to_string())?;
            print_json(&serde_json::to_value(manifest).unwrap_or_default());
            Ok(0)
        }
    }
}

/// The current module and the older ones of `--interpreters`, each with slots for
/// `instances` runs.
fn load_modules_for(
    cli: &Cli,
    instances: usize,
) -> Result<std::sync::Arc<crate::engine::modules::Modules>, String> {
    let current = std::sync::Arc::new(load_engine_for(cli, instances)?);
    let cache = cli.interpreters.as_deref().map(locate::cache_dir_in);
    let config = engine_config(cli, instances, cache);
    crate::engine::modules::Modules::load(current, cli.interpreters.as_deref(), &config)
        .map(std::sync::Arc::new)
        .map_err(|e| e.to_string())
}

/// `ID@VERSION=QUEUE` pairs from the flags and `ALGA_WF_ACTION_QUEUES`.
fn parse_action_queues(
    flags: &[String],
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let from_env = std::env::var("ALGA_WF_ACTION_QUEUES").unwrap_or_default();
    let mut queues = std::collections::BTreeMap::new();
    for entry in flags
        .iter()
        .map(String::as_str)
        .chain(from_env.split(',').map(str::trim).filter(|e| !e.is_empty()))
    {
        let (action, queue) = entry
            .split_once('=')
            .filter(|(action, queue)| action.contains('@') && !queue.is_empty())
            .ok_or_else(|| format!("--action-queue `{entry}` is not ID@VERSION=QUEUE"))?;
        queues.insert(action.to_owned(), queue.to_owned());
    }
    Ok(queues)
}

/// The secret store of `worker` and `dev`: the process's environment, with the shared names
/// of `--shared-secret` and `$ALGA_WF_SHARED_SECRETS`.
fn secrets(cli: &Cli) -> Result<crate::secrets::Secrets, String> {
    let from_env = std::env::var("ALGA_WF_SHARED_SECRETS").unwrap_or_default();
    let shared: Vec<String> = cli
        .shared_secrets
        .iter()
        .map(String::as_str)
        .chain(from_env.split(',').map(str::trim).filter(|s| !s.is_empty()))
        .map(str::to_owned)
        .collect();
    let store = crate::secrets::EnvironmentSecrets::from_process(&shared)?;
    Ok(std::sync::Arc::new(store))
}

/// The actions validation accepts: the built-ins (the `test.*` doubles with `--test-actions`)
/// and the remote actions.
fn known_actions(cli: &Cli) -> Result<Vec<KnownAction>, String> {
    known_actions_with(cli, cli.test_actions)
}

fn known_actions_with(cli: &Cli, test_actions: bool) -> Result<Vec<KnownAction>, String> {
    let mut known: Vec<KnownAction> = BUILTIN_ACTIONS
        .iter()
        .filter(|a| test_actions || !crate::actions::is_test_action(a.id))
        .map(|a| KnownAction {
            id: a.id.to_owned(),
            version: a.version,
        })
        .collect();
    let from_env = std::env::var("ALGA_WF_REMOTE_ACTIONS").unwrap_or_default();
    let configured = cli
        .remote_actions
        .iter()
        .map(String::as_str)
        .chain(from_env.split(',').map(str::trim).filter(|s| !s.is_empty()));
    for entry in configured {
        let parsed = entry
            .rsplit_once('@')
            .and_then(|(id, v)| Some((id, v.parse::<u32>().ok()?)))
            .filter(|(id, _)| !id.is_empty());
        let Some((id, version)) = parsed else {
            return Err(format!(
                "remote action `{entry}` is not ID@VERSION (e.g. email.send@1)"
            ));
        };
        known.push(KnownAction {
            id: id.to_owned(),
            version,
        });
    }
    Ok(known)
}
