//! The commands that act on one run's workflow through the Temporal client alone: start a
//! definition file, send it an event or a task's answer, query it, cancel it, wait for its
//! result, fetch its history. None needs the database or a worker's settings.

use anyhow::Context;
use std::path::{Path, PathBuf};

use alga_protocol::names as signals;
use alga_protocol::protocol::RunStart;
use serde_json::json;
use temporalio_client::Client;

use super::{TemporalArgs, outcome_json, parse_json_arg, print_json, read_json};

/// A client of the Temporal the arguments name.
pub(super) async fn client(temporal: &TemporalArgs) -> anyhow::Result<Client> {
    Ok(crate::temporal::connect(&temporal.settings()).await?.client)
}

/// `alga-wf signal-event`: an event signalled straight to a run, past ingress.
pub(super) async fn signal_event(
    temporal: &TemporalArgs,
    run: &str,
    event_name: &str,
    correlation_key: Option<&str>,
    payload: &str,
) -> anyhow::Result<u8> {
    let argument = json!({
        "eventName": event_name,
        "correlationKey": correlation_key,
        "payload": parse_json_arg("--payload", payload)?,
    });
    let client = client(temporal).await?;
    crate::temporal::signal_run(&client, run, signals::EVENT_SIGNAL, &argument).await?;
    Ok(0)
}

/// `alga-wf complete-task`: a human task's answer signalled to its run.
pub(super) async fn complete_task(
    temporal: &TemporalArgs,
    run: &str,
    task_id: &str,
    payload: &str,
) -> anyhow::Result<u8> {
    let argument = json!({
        "taskId": task_id,
        "eventName": signals::HUMAN_TASK_COMPLETED,
        "payload": parse_json_arg("--payload", payload)?,
    });
    let client = client(temporal).await?;
    crate::temporal::signal_run(&client, run, signals::HUMAN_TASK_SIGNAL, &argument).await?;
    Ok(0)
}

/// `alga-wf query`: a query's answer, printed.
pub(super) async fn query(temporal: &TemporalArgs, run: &str, name: &str) -> anyhow::Result<u8> {
    let client = client(temporal).await?;
    let answer = crate::temporal::query_run(&client, run, name).await?;
    print_json(&answer);
    Ok(0)
}

/// `alga-wf cancel`: asks the run to cancel.
pub(super) async fn cancel(temporal: &TemporalArgs, run: &str) -> anyhow::Result<u8> {
    let client = client(temporal).await?;
    crate::temporal::cancel_run(&client, run, "cancelled from the command line").await?;
    Ok(0)
}

/// `alga-wf result`: waits for the run to end and prints how.
pub(super) async fn result(temporal: &TemporalArgs, run: &str) -> anyhow::Result<u8> {
    let client = client(temporal).await?;
    let outcome = crate::temporal::run_result(&client, run).await?;
    print_json(&outcome_json(run, &outcome));
    Ok(0)
}

/// `alga-wf history`: the run's current execution's history, written to `out`.
pub(super) async fn history(temporal: &TemporalArgs, run: &str, out: &Path) -> anyhow::Result<u8> {
    let client = client(temporal).await?;
    let json = crate::temporal::run_history(&client, run).await?;
    std::fs::write(out, json).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(0)
}

/// `alga-wf run`: a definition file started on Temporal, pinned to it, with no database.
#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// A workflow definition (JSON).
    pub(super) file: PathBuf,
    #[command(flatten)]
    pub(super) temporal: TemporalArgs,
    /// The run's payload (a JSON object).
    #[arg(long, default_value = "{}")]
    pub(super) payload: String,
    /// Run id (default: generated from the time).
    #[arg(long)]
    pub(super) run_id: Option<String>,
    /// Tenant id.
    #[arg(long)]
    pub(super) tenant: Option<String>,
    /// Start and print the run id without waiting for the end.
    #[arg(long)]
    pub(super) no_wait: bool,
    /// Continue as new once an execution's history reaches this many events (0: never).
    #[arg(long, default_value_t = 0)]
    pub(super) continue_as_new_after_events: u32,
    /// Pin these runtime semantics instead of the current build's (a module the worker
    /// loads from --interpreters).
    #[arg(long)]
    pub(super) semantics_version: Option<String>,
}

impl RunArgs {
    /// Starts the run and, unless `--no-wait`, waits for its end.
    pub(super) async fn run(&self) -> anyhow::Result<u8> {
        let definition = read_json(&self.file)?;
        let payload = parse_json_arg("--payload", &self.payload)?;
        let run_id = self
            .run_id
            .clone()
            .unwrap_or_else(|| format!("run-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f")));
        let pinned = RunStart::pinned(
            run_id.clone(),
            definition["id"].as_str().unwrap_or_default().to_owned(),
            definition["version"].as_u64().unwrap_or(1) as u32,
            definition,
            payload,
            alga_interpreter::RUNTIME_SEMANTICS_VERSION,
        );
        let start = RunStart {
            tenant_id: self.tenant.clone(),
            runtime_semantics_version: self
                .semantics_version
                .clone()
                .unwrap_or_else(|| pinned.runtime_semantics_version.clone()),
            execution_key: format!("cli-{run_id}"),
            continue_as_new_after_events: self.continue_as_new_after_events,
            host_retries: true,
            ..pinned
        };
        let settings = self.temporal.settings();
        let connected = crate::temporal::connect(&settings).await?;
        crate::temporal::start_run(&connected.client, &settings.task_queue, &start).await?;
        if self.no_wait {
            let workflow_id = crate::temporal::workflow_id(&run_id);
            print_json(&json!({"runId": run_id, "workflowId": workflow_id}));
            return Ok(0);
        }
        let outcome = crate::temporal::run_result(&connected.client, &run_id).await?;
        print_json(&outcome_json(&run_id, &outcome));
        Ok(0)
    }
}
