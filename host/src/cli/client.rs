//! The commands that act on one run's workflow through the Temporal client alone: send it an
//! event or a task's answer, query it, cancel it, wait for its result, fetch its history. None
//! needs the database or a worker's settings.

use std::path::Path;

use alga_interpreter::machine::signals;
use serde_json::json;
use temporalio_client::Client;

use super::{TemporalArgs, outcome_json, parse_json_arg, print_json};

/// A client error as the command line shows it: the whole chain of causes on one line.
pub(super) fn shown(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// A client of the Temporal the arguments name.
pub(super) async fn client(temporal: &TemporalArgs) -> Result<Client, String> {
    Ok(crate::temporal::connect(&temporal.settings())
        .await
        .map_err(shown)?
        .client)
}

/// `alga-wf signal-event`: an event signalled straight to a run, past ingress.
pub(super) async fn signal_event(
    temporal: &TemporalArgs,
    run: &str,
    event_name: &str,
    correlation_key: Option<&str>,
    payload: &str,
) -> Result<u8, String> {
    let argument = json!({
        "eventName": event_name,
        "correlationKey": correlation_key,
        "payload": parse_json_arg("--payload", payload)?,
    });
    let client = client(temporal).await?;
    crate::temporal::signal_run(&client, run, signals::EVENT_SIGNAL, &argument)
        .await
        .map_err(shown)?;
    Ok(0)
}

/// `alga-wf complete-task`: a human task's answer signalled to its run.
pub(super) async fn complete_task(
    temporal: &TemporalArgs,
    run: &str,
    task_id: &str,
    payload: &str,
) -> Result<u8, String> {
    let argument = json!({
        "taskId": task_id,
        "eventName": signals::HUMAN_TASK_COMPLETED,
        "payload": parse_json_arg("--payload", payload)?,
    });
    let client = client(temporal).await?;
    crate::temporal::signal_run(&client, run, signals::HUMAN_TASK_SIGNAL, &argument)
        .await
        .map_err(shown)?;
    Ok(0)
}

/// `alga-wf query`: a query's answer, printed.
pub(super) async fn query(temporal: &TemporalArgs, run: &str, name: &str) -> Result<u8, String> {
    let client = client(temporal).await?;
    let answer = crate::temporal::query_run(&client, run, name)
        .await
        .map_err(shown)?;
    print_json(&answer);
    Ok(0)
}

/// `alga-wf cancel`: asks the run to cancel.
pub(super) async fn cancel(temporal: &TemporalArgs, run: &str) -> Result<u8, String> {
    let client = client(temporal).await?;
    crate::temporal::cancel_run(&client, run, "cancelled from the command line")
        .await
        .map_err(shown)?;
    Ok(0)
}

/// `alga-wf result`: waits for the run to end and prints how.
pub(super) async fn result(temporal: &TemporalArgs, run: &str) -> Result<u8, String> {
    let client = client(temporal).await?;
    let outcome = crate::temporal::run_result(&client, run)
        .await
        .map_err(shown)?;
    print_json(&outcome_json(run, &outcome));
    Ok(0)
}

/// `alga-wf history`: the run's current execution's history, written to `out`.
pub(super) async fn history(temporal: &TemporalArgs, run: &str, out: &Path) -> Result<u8, String> {
    let client = client(temporal).await?;
    let json = crate::temporal::run_history(&client, run)
        .await
        .map_err(shown)?;
    std::fs::write(out, json).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(0)
}
