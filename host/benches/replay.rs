//! Replay throughput: the history corpus (`tests/histories/`, histories a real Temporal server
//! recorded) replayed through the worker's replay path with no server, many times over, and the
//! rate printed as history events per second. This is what rebuilding evicted runs and
//! `alga-wf replay` cost. Run it with `scripts/bench replay`.

use std::sync::Arc;
use std::time::Instant;

use alga_wf::engine::EngineConfig;
use alga_wf::engine::modules::Modules;
use alga_wf::worker::{ReplayVerdict, read_history, replay};

/// How many times the corpus is replayed (enough for a second or more of work).
const ROUNDS: usize = 20;

fn main() -> anyhow::Result<()> {
    let engine = Arc::new(alga_wf::locate::interpreter_source(None).load(EngineConfig::default())?);
    let modules = Arc::new(Modules::single(engine));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/histories");
    let mut histories = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        // The probe's history needs the probe module; every other pins this build's semantics.
        if path.to_string_lossy().contains("probe") {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        histories.push(read_history(&bytes)?);
    }
    let events_per_round: usize = histories.iter().map(|h| h.events.len()).sum();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let all: Vec<_> = (0..ROUNDS).flat_map(|_| histories.clone()).collect();
    let began = Instant::now();
    let verdicts = runtime.block_on(replay(modules, all))?;
    let elapsed = began.elapsed();
    let failed = verdicts
        .iter()
        .filter(|v| !matches!(v, ReplayVerdict::Ok))
        .count();
    assert_eq!(failed, 0, "every history replays: {verdicts:?}");
    let events = events_per_round * ROUNDS;
    println!(
        "replay benchmark: {} histories ({events_per_round} events) x {ROUNDS}, {} cores",
        histories.len(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "  {events} history events in {:.2} s: {:.0} events/s",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
