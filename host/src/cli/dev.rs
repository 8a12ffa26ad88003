//! `alga-wf dev`: the whole system on one machine for development, with its data kept
//! between starts.

use std::path::PathBuf;

use super::modules::{known_actions_with, load_modules_for};
use super::{Cli, StartRateArgs, secrets};
use crate::dev::DevOptions;
use crate::dev::stand_ins::StandIns;

/// `alga-wf dev`'s arguments.
#[derive(Debug, clap::Args)]
pub(super) struct DevArgs {
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
    /// Redis's port (the product's event stream, `workflow:events:global`).
    #[arg(long, default_value_t = 56379)]
    redis_port: u16,
    /// Days an ended run is kept, in PostgreSQL (the worker's purge) and in Temporal (the
    /// namespace's history retention) alike; 0 keeps runs for ever and leaves Temporal's
    /// retention as it is.
    #[arg(long, default_value_t = 30, env = "ALGA_WF_RETENTION_DAYS")]
    retention_days: u32,
    #[command(flatten)]
    limits: StartRateArgs,
    /// Stand-ins for the product (demos, tests; never production): a simulator
    /// scenario whose scripted `actions` serve the product's actions and whose
    /// `taskTypes` join the task catalog.
    #[arg(long)]
    stand_ins: Option<PathBuf>,
}

impl DevArgs {
    /// Starts PostgreSQL, Temporal, the worker and the API, until SIGTERM or Ctrl-C.
    pub(super) async fn run(&self, cli: &Cli) -> anyhow::Result<u8> {
        let modules = load_modules_for(cli, crate::dev::CACHED_RUNS + 1)?;
        let options = DevOptions {
            data: self.data.clone(),
            api_port: self.api_port,
            temporal_port: self.temporal_port,
            postgres_port: self.postgres_port,
            redis_port: self.redis_port,
            retention_days: self.retention_days,
            start_rate: self.limits.rate(),
            stand_ins: match &self.stand_ins {
                Some(file) => StandIns::read(file).map_err(anyhow::Error::msg)?,
                None => StandIns::default(),
            },
            secrets: secrets(cli)?,
        };
        crate::dev::run(
            modules,
            options,
            known_actions_with(cli, true)?,
            crate::termination::requested(),
        )
        .await?;
        Ok(0)
    }
}
