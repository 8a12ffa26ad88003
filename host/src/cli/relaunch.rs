//! `alga-wf relaunch`: a replay or a redrive from the command line, through the same use case
//! as `POST /api/workflow-runs/{runId}/replay` and `/redrive`.

use anyhow::Context;

use super::events::IngressConnection;
use super::{DatabaseArgs, TemporalArgs, print_json};
use crate::usecases::relaunch::{Relaunch, relaunch};

/// Which relaunch.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// A new run of the same pinned version, from the same (or the given) input.
    Replay,
    /// A failed run resumed with its action ledger and the events it had received.
    Redrive,
}

/// `alga-wf relaunch`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RelaunchArgs {
    /// The run to relaunch (its uuid).
    run: String,
    /// `replay` or `redrive`.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The run's tenant (uuid).
    #[arg(long)]
    tenant: String,
    /// Why (kept on the new run's trigger metadata; at least 3 characters).
    #[arg(long)]
    reason: String,
    /// A new input (a JSON object) instead of the run's own.
    #[arg(long)]
    payload: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    temporal: TemporalArgs,
}

impl RelaunchArgs {
    /// Relaunches the run; prints the new run (or, for a run redriven before, that redrive).
    pub async fn run(&self) -> anyhow::Result<u8> {
        let parse = |flag: &str, text: &str| {
            uuid::Uuid::parse_str(text).with_context(|| format!("{flag} `{text}` is not a uuid"))
        };
        let tenant = parse("--tenant", &self.tenant)?;
        let run_id = parse("the run", &self.run)?;
        if self.reason.trim().len() < 3 {
            anyhow::bail!("--reason needs at least 3 characters");
        }
        let payload = match &self.payload {
            Some(text) => Some(super::parse_json_arg("--payload", text)?),
            None => None,
        };
        if payload.as_ref().is_some_and(|p| !p.is_object()) {
            anyhow::bail!("--payload must be a JSON object");
        }
        let kind = match self.kind {
            Kind::Replay => Relaunch::Replay,
            Kind::Redrive => Relaunch::Redrive,
        };
        let connection = IngressConnection::open(&self.database, &self.temporal).await?;
        let ingress = connection.ingress();
        let launched = relaunch(&ingress, tenant, run_id, kind, &self.reason, payload).await?;
        print_json(&serde_json::json!({
            "runId": launched.run_id,
            "workflowVersion": launched.version,
            "created": launched.created,
        }));
        Ok(0)
    }
}
