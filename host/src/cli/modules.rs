//! The interpreter modules a command loads (the current build's, the older ones of
//! `--interpreters`), `alga-wf interpreters`, and what validation accepts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alga_interpreter::actions::BUILTIN_ACTIONS;
use alga_protocol::Issue;
use alga_protocol::KnownAction;
use serde_json::Value;

use super::{Cli, InterpretersAction, print_json, read_json};
use crate::engine::modules::Modules;
use crate::engine::{EngineConfig, InterpreterEngine};
use crate::locate;

/// Reads a definition and validates it as publishing does: the definition, its errors and its
/// warnings.
pub(super) fn check_definition(
    cli: &Cli,
    file: &Path,
) -> anyhow::Result<(Value, Vec<Issue>, Vec<Issue>)> {
    let definition = read_json(file)?;
    let engine = load_engine(cli)?;
    let known = known_actions(cli)?;
    let (errors, warnings) = crate::usecases::publish::check(&engine, &known, &definition)?;
    Ok((definition, errors, warnings))
}

pub(super) fn load_engine(cli: &Cli) -> anyhow::Result<InterpreterEngine> {
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
fn load_engine_for(cli: &Cli, instances: usize) -> anyhow::Result<InterpreterEngine> {
    let source = locate::interpreter_source(cli.interpreter.as_deref());
    source
        .load(engine_config(cli, instances, None))
        .map_err(|e| match source {
            locate::InterpreterSource::Embedded(_) => anyhow::Error::new(e),
            locate::InterpreterSource::File(_) => anyhow::anyhow!(
                "{e} (this binary has no module of its own: build one with `scripts/build`, or \
                 pass --interpreter)"
            ),
        })
}

/// `alga-wf interpreters add|list`.
pub(super) fn interpreters(cli: &Cli, action: &InterpretersAction) -> anyhow::Result<u8> {
    use crate::engine::modules::{Manifest, add_module};
    match action {
        InterpretersAction::Add { file, dir, replace } => {
            let source = locate::interpreter_source(file.as_deref().or(cli.interpreter.as_deref()));
            let config = engine_config(cli, 2, Some(source.cache_dir()));
            let bytes = source.bytes()?;
            let entry = add_module(&bytes, dir, *replace, &config)?;
            print_json(&serde_json::to_value(entry).unwrap_or_default());
            Ok(0)
        }
        InterpretersAction::List { dir } => {
            let manifest = Manifest::read(dir)?;
            let config = engine_config(cli, 2, Some(locate::cache_dir_in(dir)));
            let current = Arc::new(load_engine_for(cli, 2)?);
            Modules::load(current, Some(dir), &config)?;
            print_json(&serde_json::to_value(manifest).unwrap_or_default());
            Ok(0)
        }
    }
}

/// The current module and the older ones of `--interpreters`, each with slots for
/// `instances` runs.
pub(super) fn load_modules_for(cli: &Cli, instances: usize) -> anyhow::Result<Arc<Modules>> {
    let current = Arc::new(load_engine_for(cli, instances)?);
    let cache = cli.interpreters.as_deref().map(locate::cache_dir_in);
    let config = engine_config(cli, instances, cache);
    Modules::load(current, cli.interpreters.as_deref(), &config)
        .map(Arc::new)
        .map_err(anyhow::Error::new)
}

/// The actions validation accepts: the built-ins (the `test.*` doubles with `--test-actions`)
/// and the remote actions.
pub(super) fn known_actions(cli: &Cli) -> anyhow::Result<Vec<KnownAction>> {
    known_actions_with(cli, cli.test_actions)
}

pub(super) fn known_actions_with(
    cli: &Cli,
    test_actions: bool,
) -> anyhow::Result<Vec<KnownAction>> {
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
            anyhow::bail!("remote action `{entry}` is not ID@VERSION (e.g. email.send@1)");
        };
        known.push(KnownAction {
            id: id.to_owned(),
            version,
        });
    }
    Ok(known)
}
