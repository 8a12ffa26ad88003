//! The `alga-wf` command line.

mod client;
mod database;
mod dev;
mod events;
mod histories;
mod keys;
mod modules;
mod relaunch;
mod schemas;
mod worker;

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::simulate::{self, Report, Scenario, SimulateError};
use modules::{check_definition, interpreters, load_engine};

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
        #[command(flatten)]
        correlation: events::CorrelationArgs,
    },
    /// Print the HTTP API's OpenAPI document (generated from the routes, as `/openapi.json`).
    Openapi,
    /// Start a whole working system: a Temporal dev server and PostgreSQL (children, with
    /// their data in --data), the worker and the HTTP API; prints where everything is.
    Dev(dev::DevArgs),
    /// Payload schemas (JSON Schema by `payloadSchemaRef`): set, list, delete.
    PayloadSchemas {
        #[command(subcommand)]
        action: schemas::SchemasAction,
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
    Run(client::RunArgs),
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
    SendEvent(events::SendEventArgs),
    /// Replay a run (a new run of its pinned version) or redrive a failed one (resumed with its
    /// action ledger), as the API's `/replay` and `/redrive` do.
    Relaunch(relaunch::RelaunchArgs),
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
        // One line: what failed, then each cause after a colon.
        Err(error) => {
            eprintln!("alga-wf: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
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
                SimulateError::Engine(e) => anyhow::Error::new(e),
                other => anyhow::Error::new(other),
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

fn parse_json_arg(what: &str, text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not valid JSON"))
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn temporal_command(cli: &Cli) -> anyhow::Result<u8> {
    let runtime = tokio_runtime()?;
    runtime.block_on(async {
        match &cli.command {
            Command::Worker(args) => args.run(cli).await,
            Command::Publish {
                file,
                database,
                temporal,
                tenant,
            } => database::publish(cli, file, database, temporal, tenant.as_deref()).await,
            Command::Start {
                workflow,
                version,
                payload,
                tenant,
                wait,
                database,
                temporal,
            } => {
                let request = database::StartRequest {
                    workflow,
                    version: *version,
                    payload,
                    tenant: tenant.as_deref(),
                    wait: *wait,
                };
                database::start(request, database, temporal).await
            }
            Command::Show { run, database } => database::show(run, database).await,
            Command::Dev(args) => args.run(cli).await,
            Command::Serve {
                listen,
                database,
                temporal,
                limits,
                pages,
                correlation,
            } => {
                let correlation = correlation.paths()?;
                database::serve(cli, listen, database, temporal, limits, pages, correlation).await
            }
            Command::CreateApiKey(args) => keys::create(args).await,
            Command::ApiKeys { action } => keys::run(action).await,
            Command::PayloadSchemas { action } => schemas::run(action).await,
            Command::Run(args) => args.run().await,
            Command::SendEvent(args) => args.run().await,
            Command::Relaunch(args) => args.run().await,
            Command::SignalEvent {
                run,
                temporal,
                event_name,
                correlation_key,
                payload,
            } => {
                client::signal_event(
                    temporal,
                    run,
                    event_name,
                    correlation_key.as_deref(),
                    payload,
                )
                .await
            }
            Command::CompleteTask {
                run,
                temporal,
                task_id,
                payload,
            } => client::complete_task(temporal, run, task_id, payload).await,
            Command::Query {
                run,
                name,
                temporal,
            } => client::query(temporal, run, name).await,
            Command::Cancel { run, temporal } => client::cancel(temporal, run).await,
            Command::Result { run, temporal } => client::result(temporal, run).await,
            Command::History { run, out, temporal } => client::history(temporal, run, out).await,
            Command::Replay { histories } => histories::replay(cli, histories).await,
            Command::Certify {
                from,
                to,
                histories,
            } => histories::certify(cli, from, to, histories).await,
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
pub fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// `ID@VERSION=QUEUE` pairs from the flags and `ALGA_WF_ACTION_QUEUES`.
fn parse_action_queues(
    flags: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
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
            .ok_or_else(|| anyhow::anyhow!("--action-queue `{entry}` is not ID@VERSION=QUEUE"))?;
        queues.insert(action.to_owned(), queue.to_owned());
    }
    Ok(queues)
}

/// The secret store of `worker` and `dev`: the process's environment, with the shared names
/// of `--shared-secret` and `$ALGA_WF_SHARED_SECRETS`.
fn secrets(cli: &Cli) -> anyhow::Result<crate::secrets::Secrets> {
    let from_env = std::env::var("ALGA_WF_SHARED_SECRETS").unwrap_or_default();
    let shared: Vec<String> = cli
        .shared_secrets
        .iter()
        .map(String::as_str)
        .chain(from_env.split(',').map(str::trim).filter(|s| !s.is_empty()))
        .map(str::to_owned)
        .collect();
    let store =
        crate::secrets::EnvironmentSecrets::from_process(&shared).map_err(anyhow::Error::msg)?;
    Ok(std::sync::Arc::new(store))
}
