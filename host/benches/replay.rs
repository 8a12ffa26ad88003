//! Replay throughput: the history corpus (`tests/histories/`, histories a real Temporal server
//! recorded) replayed through the worker's replay path with no server, many times over, and the
//! rate printed as history events per second of wall time and per second of this process's CPU
//! time (replay runs one history at a time, so the second is the rate per core). The short
//! histories show what each history costs; the long one (a loop of 100 actions, 605 events)
//! what each event costs. This is what rebuilding evicted runs and `alga-wf replay` cost. Run
//! it with `scripts/bench replay`.

mod common;

use std::sync::Arc;
use std::time::Instant;

use alga_wf::engine::EngineConfig;
use alga_wf::engine::modules::Modules;
use alga_wf::worker::{ReplayVerdict, read_history, replay};
use temporalio_common::protos::temporal::api::history::v1::History;

/// How many times each set is replayed (enough for a second or more of work).
const ROUNDS: usize = 20;

/// The corpus's long history.
const LONG: &str = "long.history.json";

fn main() -> anyhow::Result<()> {
    let engine = Arc::new(alga_wf::locate::interpreter_source(None).load(EngineConfig::default())?);
    let modules = Arc::new(Modules::single(engine));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/histories");
    let (mut short, mut long) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        // The probe's history needs the probe module; every other pins this build's semantics.
        if path.to_string_lossy().contains("probe") {
            continue;
        }
        let history = read_history(&std::fs::read(&path)?)?;
        if path.ends_with(LONG) {
            long.push(history);
        } else {
            short.push(history);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "replay benchmark: each set replayed {ROUNDS} times, {} cores",
        common::cores()
    );
    for (label, set) in [("short histories", short), ("the long history", long)] {
        let events_per_round: usize = set.iter().map(|h| h.events.len()).sum();
        let count = set.len();
        let all: Vec<History> = (0..ROUNDS).flat_map(|_| set.clone()).collect();
        let (began, cpu) = (Instant::now(), common::cpu_seconds());
        let verdicts = runtime.block_on(replay(modules.clone(), all))?;
        let (elapsed, cpu) = (began.elapsed().as_secs_f64(), common::cpu_seconds() - cpu);
        let failed: Vec<_> = verdicts
            .iter()
            .filter(|v| !matches!(v, ReplayVerdict::Ok))
            .collect();
        assert!(failed.is_empty(), "every history replays: {failed:?}");
        let events = (events_per_round * ROUNDS) as f64;
        println!(
            "  {label:>16}: {count:2} of {:5.0} events each on average: {:8.0} events/s, \
             {:8.0} events per CPU second",
            events_per_round as f64 / count as f64,
            events / elapsed,
            events / cpu.max(0.01),
        );
    }
    Ok(())
}
