//! The fuzz targets' bodies. Each takes libFuzzer's bytes and panics when a property fails.

use alga_interpreter::definition::Severity;
use alga_interpreter::expr::{EvalEnv, Evaluator};
use alga_interpreter::machine::Machine;
use alga_interpreter::machine::protocol::{Activation, Command, Job};
use alga_interpreter::validate::{KnownAction, validate};
use alga_wf_engine::{EngineError, ExpressionOptions, RunInstance};
use serde_json::{Map, Value};

use std::borrow::Cow;

use arbitrary::Unstructured;

use crate::chaos::ChaosHost;
use crate::mutate;
use crate::seeds::{Seed, workflows};
use crate::wasm;

/// Workflow time of expression evaluations (2026-11-26T09:00:00Z).
const NOW_MS: i64 = 1_795_683_600_000;

/// What a differential input exercises: its first byte, modulo the number of modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The rest is a definition, validated by both.
    Validate = 0,
    /// The rest is an expression input (see [`expression`]), evaluated by both.
    Expression = 1,
    /// The rest is a run (see [`activations`]), driven through both in lockstep.
    Run = 2,
}

/// Definition parsing and validation: any JSON is validated without panicking, every issue
/// names its problem, and a definition the validator accepts starts a run.
pub fn definition(data: &[u8]) {
    let Ok(definition) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let known = [KnownAction {
        id: "test.echo".into(),
        version: 1,
    }];
    let _ = validate(&definition, Some(&known));
    let issues = validate(&definition, None);
    for issue in &issues {
        assert!(
            !issue.code.is_empty() && !issue.message.is_empty(),
            "an issue without a code or a message: {issue:?}"
        );
    }
    if issues.iter().any(|i| i.severity == Severity::Error) {
        return;
    }
    let seed = Seed {
        origin: "fuzz input".into(),
        definition,
        payload: Value::Object(Map::new()),
        outputs: Vec::new(),
    };
    let mut host = ChaosHost::new(&seed, data);
    let Ok(start) = host.start() else { return };
    if let Err(e) = Machine::new().activate(start) {
        panic!("a definition the validator accepts was refused at start: {e}");
    }
}

/// Splits an expression input: the source up to the first NUL, then the input as JSON (absent
/// or not JSON: no input).
fn expression_parts(data: &[u8]) -> Option<(&str, Option<Value>)> {
    let (source, input) = match data.iter().position(|b| *b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    let source = std::str::from_utf8(source).ok()?;
    let input = input.and_then(|bytes| serde_json::from_slice(bytes).ok());
    Some((source, input))
}

type Outcome = Result<Option<Value>, (String, String)>;

fn native_expression(source: &str, input: Option<&Value>, workflow_rules: bool) -> Outcome {
    let mut evaluator = Evaluator::default();
    let result = if workflow_rules {
        evaluator
            .evaluate(source, input.unwrap_or(&Value::Null), NOW_MS)
            .map(Some)
    } else {
        let env = EvalEnv {
            now_ms: NOW_MS,
            workflow_functions: false,
            max_depth: None,
        };
        evaluator.evaluate_plain(source, input, &Map::new(), &env)
    };
    result.map_err(|e| (e.code, e.message))
}

/// Expression evaluation, with and without the workflow rules: no panic, and the same answer
/// twice from fresh evaluators (no hidden state, no hash-order leaks).
pub fn expression(data: &[u8]) {
    let Some((source, input)) = expression_parts(data) else {
        return;
    };
    for workflow_rules in [true, false] {
        let first = native_expression(source, input.as_ref(), workflow_rules);
        let second = native_expression(source, input.as_ref(), workflow_rules);
        assert_eq!(
            first, second,
            "{source:?} gave two answers (workflow rules: {workflow_rules})"
        );
    }
}

/// The workflow a run input names: its first byte picks a seed, and when that byte is 128 or
/// more the seed's definition is first edited (`mutate`) with the bytes that follow. The rest
/// are the host's choices.
fn run_parts(data: &[u8]) -> Option<(Cow<'static, Seed>, &[u8])> {
    let (index, rest) = data.split_first()?;
    let seeds = workflows();
    let seed = &seeds[usize::from(*index) % seeds.len()];
    if *index < 128 {
        return Some((Cow::Borrowed(seed), rest));
    }
    let mut u = Unstructured::new(rest);
    let definition = mutate::definition(&mut u, seed.definition.clone()).ok()?;
    let used = rest.len() - u.len();
    let edited = Seed {
        origin: format!("{} (edited)", seed.origin),
        definition,
        ..seed.clone()
    };
    Some((Cow::Owned(edited), &rest[used..]))
}

/// Checks one activation's commands against the protocol.
fn check_commands(activation: &Activation, commands: &[Command]) {
    let terminal = commands
        .iter()
        .filter(|c| {
            matches!(
                c,
                Command::CompleteRun { .. }
                    | Command::FailRun { .. }
                    | Command::CancelRun
                    | Command::ContinueAsNew(_)
            )
        })
        .count();
    assert!(
        terminal <= 1,
        "{terminal} terminal commands in one activation: {commands:?}"
    );
    for job in &activation.jobs {
        if let Job::Query { id, .. } = job {
            let answers = commands
                .iter()
                .filter(
                    |c| matches!(c, Command::RespondQuery { id: answered, .. } if answered == id),
                )
                .count();
            assert_eq!(
                answers, 1,
                "query {id} answered {answers} times: {commands:?}"
            );
        }
    }
}

/// Replays `segment` (one interpreter's activations) in a fresh interpreter, marked as replay,
/// and requires the same commands: the determinism audit.
fn check_replay(segment: &[(Activation, Vec<Command>)]) {
    let mut machine = Machine::new();
    for (i, (activation, commands)) in segment.iter().enumerate() {
        let mut replayed = activation.clone();
        replayed.is_replaying = true;
        let again = machine
            .activate(replayed)
            .unwrap_or_else(|e| panic!("replay refused activation {i}: {e}"));
        assert_eq!(
            &again, commands,
            "replay of activation {i} gave other commands"
        );
    }
}

/// The interpreter side of a chaos-driven run.
trait Interpreters {
    /// Answers one activation; `None` ends the run without a verdict.
    fn activate(&mut self, activation: &Activation) -> Option<Vec<Command>>;
    /// One interpreter's part of the run is over (the run ended or continued as new).
    fn part_ended(&mut self) {}
    /// The run continued as new: fresh interpreters take the next part.
    fn restart(&mut self);
}

/// Drives a run of `seed`, the chaos host choosing with `choices`, following continue-as-new.
fn drive(seed: &Seed, choices: &[u8], interpreters: &mut impl Interpreters) {
    let mut host = ChaosHost::new(seed, choices);
    let Ok(mut next) = host.start() else { return };
    loop {
        let Some(commands) = interpreters.activate(&next) else {
            return;
        };
        host.observe(&commands);
        if let Some(activation) = host.next_activation() {
            next = activation;
            continue;
        }
        interpreters.part_ended();
        let Some(start) = host.take_continuation() else {
            return;
        };
        interpreters.restart();
        next = start;
    }
}

/// The native interpreter, its commands checked against the protocol, each part replayed.
struct Audited<'s> {
    origin: &'s str,
    machine: Machine,
    part: Vec<(Activation, Vec<Command>)>,
}

impl Interpreters for Audited<'_> {
    fn activate(&mut self, activation: &Activation) -> Option<Vec<Command>> {
        let commands = self
            .machine
            .activate(activation.clone())
            .unwrap_or_else(|e| panic!("{}: a valid activation was refused: {e}", self.origin));
        check_commands(activation, &commands);
        self.part.push((activation.clone(), commands.clone()));
        Some(commands)
    }

    fn part_ended(&mut self) {
        check_replay(&self.part);
        self.part.clear();
    }

    fn restart(&mut self) {
        self.machine = Machine::new();
    }
}

/// Activation sequences: a seed workflow driven by the chaos host. Every activation a real
/// server could send is accepted, the commands obey the protocol, and replaying the recorded
/// activations in a fresh interpreter gives the same commands.
pub fn activations(data: &[u8]) {
    let Some((seed, choices)) = run_parts(data) else {
        return;
    };
    let mut audited = Audited {
        origin: &seed.origin,
        machine: Machine::new(),
        part: Vec::new(),
    };
    drive(&seed, choices, &mut audited);
}

/// The same inputs through the native library and the `.wasm` component: validation issues,
/// expression results, and every activation's commands must be identical. The component's
/// fuel and stack limits, which the native library lacks, end a comparison without a verdict.
pub fn differential(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => differential_validate(rest),
        1 => differential_expression(rest),
        _ => differential_run(rest),
    }
}

fn wasm_or_limit<T>(result: Result<T, EngineError>, what: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) if wasm::is_resource_limit(&e) => None,
        Err(e) => panic!("the component failed {what} where the library did not: {e}"),
    }
}

fn differential_validate(data: &[u8]) {
    let Ok(definition) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let native = validate(&definition, None);
    let Some(wasm) = wasm_or_limit(
        wasm::with_shared(|instance| instance.validate(&definition, None)),
        "validation",
    ) else {
        return;
    };
    let key =
        |issues: &[alga_interpreter::definition::Issue]| -> Vec<(bool, String, String, String)> {
            issues
                .iter()
                .map(|i| {
                    (
                        i.severity == Severity::Error,
                        i.code.clone(),
                        i.path.clone(),
                        i.message.clone(),
                    )
                })
                .collect()
        };
    assert_eq!(key(&native), key(&wasm), "validation differs");
}

fn differential_expression(data: &[u8]) {
    let Some((source, input)) = expression_parts(data) else {
        return;
    };
    for workflow_rules in [true, false] {
        let native = native_expression(source, input.as_ref(), workflow_rules);
        let options = ExpressionOptions {
            workflow_rules,
            now_ms: NOW_MS,
            max_depth: None,
        };
        let evaluated = wasm::with_shared(|instance| {
            instance.evaluate(source, input.as_ref(), &Value::Object(Map::new()), options)
        });
        let Some(wasm) = wasm_or_limit(evaluated, "an expression") else {
            return;
        };
        assert_eq!(
            native, wasm,
            "{source:?} evaluates differently (workflow rules: {workflow_rules})"
        );
    }
}

/// The native library and the component in lockstep: the same commands for every activation.
struct Lockstep<'s> {
    origin: &'s str,
    machine: Machine,
    instance: RunInstance,
    index: usize,
}

impl Interpreters for Lockstep<'_> {
    fn activate(&mut self, activation: &Activation) -> Option<Vec<Command>> {
        let (origin, index) = (self.origin, self.index);
        self.index += 1;
        let native = self.machine.activate(activation.clone());
        let wasm = match self.instance.activate(activation) {
            Err(e) if wasm::is_resource_limit(&e) => return None,
            other => other,
        };
        match (native, wasm) {
            (Ok(native), Ok(wasm)) => {
                assert_eq!(
                    native, wasm,
                    "{origin}: activation {index} gave other commands in wasm"
                );
                Some(native)
            }
            (Err(native), Err(EngineError::Refused(wasm))) => {
                assert_eq!(native.to_string(), wasm, "refused for other reasons");
                None
            }
            (native, wasm) => {
                panic!("{origin}: activation {index}: library {native:?}, component {wasm:?}")
            }
        }
    }

    fn restart(&mut self) {
        self.machine = Machine::new();
        self.instance = wasm::instantiate();
    }
}

fn differential_run(data: &[u8]) {
    let Some((seed, choices)) = run_parts(data) else {
        return;
    };
    let mut lockstep = Lockstep {
        origin: &seed.origin,
        machine: Machine::new(),
        instance: wasm::instantiate(),
        index: 0,
    };
    drive(&seed, choices, &mut lockstep);
}
