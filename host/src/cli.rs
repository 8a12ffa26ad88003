//! The `alga-wf` command line.

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

/// Exit status for an invalid definition or scenario.
const EXIT_INVALID: u8 = 2;
/// Exit status for anything else that went wrong.
const EXIT_ERROR: u8 = 1;

/// The Alga workflow runtime: a Temporal-native runner for Workflow Runtime V2 definitions.
#[derive(Debug, Parser)]
#[command(name = "alga-wf", version, about)]
pub struct Cli {
    /// The interpreter component (default: $ALGA_WF_INTERPRETER, then the build tree).
    #[arg(long, global = true, value_name = "WASM")]
    interpreter: Option<PathBuf>,
    /// An action served outside this process, as ID@VERSION (repeatable; also
    /// $ALGA_WF_REMOTE_ACTIONS, comma-separated). `validate` accepts these besides the built-ins.
    #[arg(long = "remote-action", global = true, value_name = "ID@VERSION")]
    remote_actions: Vec<String>,
    /// Fuel per activation (a deterministic bound on the interpreter's work).
    #[arg(long, global = true, value_name = "UNITS")]
    fuel: Option<u64>,
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
    },
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Validate { file } => {
            let definition = read_json(file)?;
            let engine = load_engine(cli)?;
            let known = known_actions(cli)?;
            let issues = engine
                .validate(&definition, Some(&known))
                .map_err(|e| e.to_string())?;
            let (errors, warnings): (Vec<Issue>, Vec<Issue>) = issues
                .into_iter()
                .partition(|i| i.severity == Severity::Error);
            let ok = errors.is_empty();
            print_json(&json!({"ok": ok, "errors": errors, "warnings": warnings}));
            Ok(if ok { 0 } else { EXIT_INVALID })
        }
        Command::Simulate { file } => {
            let value = read_json(file)?;
            let scenario = match Scenario::parse(&value) {
                Ok(scenario) => scenario,
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

fn load_engine(cli: &Cli) -> Result<InterpreterEngine, String> {
    let path = locate::interpreter_path(cli.interpreter.as_deref());
    let mut config = EngineConfig {
        cache_dir: Some(locate::cache_dir(&path)),
        pool_instances: 8,
        ..EngineConfig::default()
    };
    if let Some(fuel) = cli.fuel {
        config.fuel_per_activation = fuel;
    }
    InterpreterEngine::load(&path, config).map_err(|e| {
        format!(
            "{e} (build it with `cargo run -p xtask -- build-interpreter`, or pass --interpreter)"
        )
    })
}

fn known_actions(cli: &Cli) -> Result<Vec<KnownAction>, String> {
    let mut known: Vec<KnownAction> = BUILTIN_ACTIONS
        .iter()
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
