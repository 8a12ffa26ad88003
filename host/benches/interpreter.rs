//! The interpreter's cost per step inside the wasm component against the same library compiled
//! natively, measured in one run and printed as a ratio, plus the cost of instantiating a run,
//! and how the cost of a step grows with the data: fuel per step (deterministic, so exact on a
//! noisy machine) at 100, 1,000 and 10,000 loop items and beside payloads of 10 KiB to 10 MiB;
//! and what a parked instance costs in memory.
//! Run it with `scripts/bench`; times are noisy on shared machines, ratios less so.

mod common;

use std::time::{Duration, Instant};

use alga_interpreter::Machine;
use alga_protocol::protocol::{Activation, Command, Job, RunEvent, RunStart};
use alga_wf::engine::EngineConfig;
use serde_json::{Value, json};

const ITEMS: usize = 200;
const ROUNDS: usize = 20;

fn definition() -> Value {
    json!({
        "id": "bench", "version": 1, "name": "bench", "payloadSchemaRef": "payload.Bench.v1",
        "steps": [
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "payload.items"}, "itemVar": "it", "body": [
                {"id": "calc", "type": "transform.assign", "config": {"assign": {
                    "vars.sum": {"$expr": "coalesce(vars.sum, 0) + vars.it.n"},
                    "vars.label": {"$expr": "'item-' & toString(vars.it.n)"}}}},
                {"id": "check", "type": "control.if", "condition": {"$expr": "it.n % 2 = 0"},
                    "then": [{"id": "even", "type": "state.set", "config": {"state": "EVEN"}}],
                    "else": [{"id": "odd", "type": "state.set", "config": {"state": "ODD"}}]},
                {"id": "text", "type": "action.call", "config": {"actionId": "transform.concat_text", "version": 1,
                    "inputMapping": {"values": {"$expr": "[vars.label, it.tag]"}, "separator": "/"}, "saveAs": "vars.text"}}
            ]}
        ]
    })
}

fn start() -> Activation {
    let items: Vec<Value> = (0..ITEMS)
        .map(|n| json!({"n": n, "tag": format!("t{n}")}))
        .collect();
    activation(definition(), json!({"items": items}))
}

/// The loop: one `transform.assign` per item, over `items` items, beside a payload
/// field of `blob` bytes that no expression reads.
fn summing(items: usize, blob: usize) -> Activation {
    let definition = json!({
        "id": "sum", "version": 1, "name": "sum", "payloadSchemaRef": "payload.Sum.v1",
        "steps": [
            {"id": "init", "type": "transform.assign", "config": {"assign": {"vars.sum": {"$expr": "0"}}}},
            {"id": "loop", "type": "control.forEach", "items": {"$expr": "payload.items"}, "itemVar": "it", "body": [
                {"id": "add", "type": "transform.assign", "config": {"assign": {
                    "vars.sum": {"$expr": "vars.sum + vars.it.n"}}}}
            ]}
        ]
    });
    let items: Vec<Value> = (0..items).map(|n| json!({"n": n})).collect();
    activation(
        definition,
        json!({"items": items, "blob": "x".repeat(blob)}),
    )
}

fn activation(definition: Value, payload: Value) -> Activation {
    Activation {
        workflow_time_ms: 1_767_225_600_000,
        is_replaying: false,
        history_length: 3,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs: vec![Job::Start(Box::new(RunStart {
            tenant_id: Some("t".into()),
            execution_key: "bench".into(),
            ..RunStart::pinned(
                "bench",
                "bench",
                1,
                definition,
                payload,
                alga_interpreter::RUNTIME_SEMANTICS_VERSION,
            )
        }))],
    }
}

fn steps_in(commands: &[Command]) -> usize {
    let completed = commands
        .iter()
        .any(|c| matches!(c, Command::CompleteRun { .. }));
    assert!(
        completed,
        "the benchmark run must complete in one activation"
    );
    commands
        .iter()
        .filter(|c| matches!(c, Command::Record(RunEvent::StepStarted { .. })))
        .count()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let engine = alga_wf::locate::interpreter_source(None)
        .load(EngineConfig::default())
        .expect("build the component first: scripts/build");
    let activation = start();
    let mut native = Vec::new();
    let mut wasm = Vec::new();
    let mut instantiate = Vec::new();
    let (mut reset, mut after_wasm) = (Vec::new(), Vec::new());
    let mut steps = 0;
    let mut fuel = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let commands = Machine::new()
            .activate(activation.clone())
            .expect("native run");
        native.push(t.elapsed());
        steps = steps_in(&commands);

        let t = Instant::now();
        let mut instance = engine.instantiate().expect("instance");
        instantiate.push(t.elapsed());
        let t = Instant::now();
        let commands = instance.activate(&activation).expect("wasm run");
        wasm.push(t.elapsed());
        fuel = instance.fuel_used();
        assert_eq!(steps_in(&commands), steps);
        // The slot's reset (decommitting what the run wrote) and the next run's instantiation
        // straight after, with no native run between to cool the caches.
        let t = Instant::now();
        drop(instance);
        reset.push(t.elapsed());
        let t = Instant::now();
        let next = engine.instantiate().expect("instance");
        after_wasm.push(t.elapsed());
        drop(next);
    }
    let per_step = |d: Duration| d.as_nanos() as f64 / steps as f64;
    let (native, wasm) = (median(native), median(wasm));
    println!("interpreter benchmark: {steps} steps per run, median of {ROUNDS} rounds");
    println!("  native:      {:>10.0} ns/step", per_step(native));
    println!("  wasm:        {:>10.0} ns/step", per_step(wasm));
    println!(
        "  ratio:       {:>10.2} x (wasm / native)",
        wasm.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "  fuel:        {:>10.0} units/step",
        fuel as f64 / steps as f64
    );
    let micros = |d: Duration| d.as_nanos() as f64 / 1000.0;
    println!(
        "  instantiate: {:>10.1} us per run (pre-instantiated component, pooling allocator; \
         after the native run has cooled the caches)",
        micros(median(instantiate))
    );
    println!(
        "               {:>10.1} us per run straight after a wasm run's instance is dropped",
        micros(median(after_wasm))
    );
    println!(
        "  drop:        {:>10.1} us per run (the pool slot's reset: decommitting the pages the \
         run wrote)",
        micros(median(reset))
    );
    // Back to back the slot's memory image and the caches are warm: the pool's floor.
    const BACK_TO_BACK: u32 = 2_000;
    let t = Instant::now();
    for _ in 0..BACK_TO_BACK {
        drop(engine.instantiate().expect("instance"));
    }
    println!(
        "               {:>10.1} us per instance made and dropped, {BACK_TO_BACK} back to back",
        micros(t.elapsed() / BACK_TO_BACK)
    );
    slopes(&engine);
    parked_instances();
}

/// Instances parked on an event wait for the memory figure.
const PARKED: usize = 1_000;

/// What a parked instance costs in memory: the process's proportional set (each physical page
/// once) against its resident set (a page counted at each address it is mapped at), beside
/// what the run cache charges it.
fn parked_instances() {
    let engine = alga_wf::locate::interpreter_source(None)
        .load(EngineConfig {
            pool_instances: PARKED as u32 + 1,
            ..EngineConfig::default()
        })
        .expect("build the component first: scripts/build");
    let wait = json!({"id": "p", "version": 1, "name": "p", "payloadSchemaRef": "payload.P.v1",
        "steps": [{"id": "wait", "type": "event.wait",
            "config": {"eventName": "GO", "correlationKey": {"$expr": "'k'"}}}]});
    let start = activation(wait, json!({}));
    let before = common::memory();
    let mut parked = Vec::with_capacity(PARKED);
    for _ in 0..PARKED {
        let mut instance = engine.instantiate().expect("instance");
        let commands = instance.activate(&start).expect("the run parks");
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, Command::CompleteRun { .. }))
        );
        parked.push(instance);
    }
    let after = common::memory();
    let each = |before: u64, after: u64| after.saturating_sub(before) as f64 / PARKED as f64;
    println!("a run parked on an event wait, {PARKED} instances:");
    println!(
        "  own memory:  {:>10.1} KiB each (proportional set: shared pages once)",
        each(before.pss_kib, after.pss_kib)
    );
    println!(
        "  resident:    {:>10.1} KiB each (resident set: the module's image, mapped from one \
         file into every instance, counted once per instance)",
        each(before.rss_kib, after.rss_kib)
    );
    println!(
        "  charged:     {:>10.1} KiB each by the run cache ({:.0} KiB of linear memory)",
        parked[0].footprint_bytes() as f64 / 1024.0,
        parked[0].memory_bytes() as f64 / 1024.0
    );
}

/// Fuel one activation of `activation` uses inside wasm, and the steps it ran.
fn fuel_of(engine: &alga_wf::engine::InterpreterEngine, activation: &Activation) -> (u64, usize) {
    let mut instance = engine.instantiate().expect("instance");
    let commands = instance.activate(activation).expect("wasm run");
    (instance.fuel_used(), steps_in(&commands))
}

/// The marginal fuel of a step: two runs that differ only in their loop's length, so what
/// every activation pays once (the definition, the payload) cancels out.
fn fuel_per_step(engine: &alga_wf::engine::InterpreterEngine, items: usize, blob: usize) -> f64 {
    let (long, long_steps) = fuel_of(engine, &summing(items, blob));
    let (short, short_steps) = fuel_of(engine, &summing(items / 2, blob));
    (long - short) as f64 / (long_steps - short_steps) as f64
}

fn slopes(engine: &alga_wf::engine::InterpreterEngine) {
    println!("step cost against data size (fuel per step, a loop of one transform.assign):");
    let at_100 = fuel_per_step(engine, 100, 0);
    // The longest loop one execution runs to its end: after `STEPS_PER_EXECUTION` steps a run
    // continues as new (the two steps besides the loop's and a margin leave 9,990 items).
    let longest = alga_interpreter::machine::STEPS_PER_EXECUTION as usize - 10;
    for items in [100, 1_000, longest] {
        let fuel = fuel_per_step(engine, items, 0);
        println!(
            "  {items:>6} items:         {fuel:>10.0} units/step  {:>5.2} x the 100-item step",
            fuel / at_100
        );
    }
    let small = fuel_per_step(engine, 200, 10 << 10);
    for (label, blob) in [
        ("10 KiB", 10 << 10),
        ("1 MiB", 1 << 20),
        ("10 MiB", 10 << 20),
    ] {
        let fuel = fuel_per_step(engine, 200, blob);
        println!(
            "  {label:>6} payload:       {fuel:>10.0} units/step  {:>5.2} x the 10 KiB step",
            fuel / small
        );
    }
}
