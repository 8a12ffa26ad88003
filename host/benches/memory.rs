//! The worker's memory budget under runs that each hold 50 MiB of variables: 1,000 of them
//! parked on an event wait, with the budget (`--cache-memory-mib`) at 1 GiB. Past the budget
//! the least recently used cached runs are evicted (their instances dropped, the pooling
//! allocator giving their pages back), so the process's resident memory stays near its
//! baseline plus the budget, however many runs are parked; an evicted run is rebuilt by replay
//! when its event comes, and the benchmark times that and checks the run ends as it should.
//!
//! `ALGA_WF_BENCH_PARKED_RUNS` overrides the number of runs (for a quick look).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alga_protocol::names::EVENT_SIGNAL;
use alga_wf::temporal::{self, RunOutcome};
use alga_wf::worker::WorkerSettings;
use anyhow::{Result, anyhow};
use common::{RunningWorker, resident_kib, run_start};
use serde_json::{Map, Value, json};

const QUEUE: &str = "bench-memory";
const BUDGET_MIB: usize = 1024;
/// Variables of 245,760 characters each (15 doubled 14 times: under the 256 KiB an expression
/// may build), copied into 214 variables: 50.2 MiB per run.
const SEED_CHARS: usize = 15;
const DOUBLINGS: usize = 14;
const COPIES: usize = 214;
/// Runs started at once while filling.
const STARTING: usize = 8;
/// Evicted runs resumed at the end.
const RESUMED: usize = 10;

/// Characters each run holds in its variables.
const HELD_CHARS: usize = (COPIES * SEED_CHARS) << DOUBLINGS;

fn steps() -> Value {
    let copies: Map<String, Value> = (0..COPIES)
        .map(|i| (format!("vars.c{i}"), json!({"$expr": "vars.s"})))
        .collect();
    let dropped: Map<String, Value> = (0..COPIES)
        .map(|i| (format!("vars.c{i}"), json!({"$expr": "null"})))
        .chain([("vars.s".to_owned(), json!({"$expr": "null"}))])
        .collect();
    json!([
        {"id": "seed", "type": "transform.assign",
            "config": {"assign": {"vars.s": {"$expr": "payload.seed"}}}},
        {"id": "grow", "type": "control.forEach", "items": {"$expr": "payload.doublings"},
            "itemVar": "d", "body": [{"id": "double", "type": "transform.assign",
                "config": {"assign": {"vars.s": {"$expr": "vars.s & vars.s"}}}}]},
        {"id": "copy", "type": "transform.assign", "config": {"assign": copies}},
        {"id": "wait", "type": "event.wait",
            "config": {"eventName": "GO", "correlationKey": {"$expr": "'k'"}}},
        {"id": "size", "type": "transform.assign",
            "config": {"assign": {"vars.kept": {"$expr": format!("$len(vars.c0) * {COPIES}")}}}},
        // The run's result carries its scopes; without this it would be 50 MiB.
        {"id": "drop", "type": "transform.assign", "config": {"assign": dropped}}
    ])
}

fn payload() -> Value {
    json!({"seed": "x".repeat(SEED_CHARS), "doublings": (0..DOUBLINGS).collect::<Vec<_>>()})
}

/// Waits until the run's first workflow task completed: it is parked on its wait (or failed,
/// which the history also shows).
async fn parked(client: &temporalio_client::Client, run_id: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let history: Value = serde_json::from_slice(&temporal::run_history(client, run_id).await?)?;
        // Each event names its kind by its one attribute.
        let kinds: Vec<String> = history["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["attributes"].as_object()?.keys().next().cloned())
            .collect();
        if kinds
            .iter()
            .any(|k| k.starts_with("WorkflowExecutionFailed"))
        {
            return Err(anyhow!("run {run_id} failed: {history}"));
        }
        if kinds.iter().any(|k| k.starts_with("WorkflowTaskCompleted")) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(anyhow!("run {run_id} never parked: {kinds:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends the run its event and waits for its result; the time that took.
async fn resume(client: &temporalio_client::Client, run_id: &str) -> Result<Duration> {
    let began = Instant::now();
    let event = json!({"eventName": "GO", "correlationKey": "k", "payload": {}});
    temporal::signal_run(client, run_id, EVENT_SIGNAL, &event).await?;
    match temporal::run_result(client, run_id).await? {
        RunOutcome::Succeeded(result) => {
            let kept = &result["vars"]["kept"];
            let expected = HELD_CHARS;
            if kept.as_u64() != Some(expected as u64) {
                return Err(anyhow!(
                    "run {run_id} held {kept} characters, not {expected}"
                ));
            }
            Ok(began.elapsed())
        }
        other => Err(anyhow!("run {run_id} ended {other:?}")),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn measure(address: String) -> Result<()> {
    let runs: usize = std::env::var("ALGA_WF_BENCH_PARKED_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let mut settings = WorkerSettings::local(&address);
    settings.task_queue = QUEUE.into();
    settings.max_cached_runs = runs + 1;
    settings.cache_memory_budget = BUDGET_MIB << 20;
    let our_worker = RunningWorker::start(settings.clone(), (runs + 2) as u32)?;
    let client = temporal::connect(&settings.temporal()).await?.client;

    // Warm up (the component's compilation, connections), then take the baseline.
    let warm = run_start("warm", Some("memory"), steps(), payload());
    temporal::start_run(&client, QUEUE, &warm).await?;
    parked(&client, "warm").await?;
    resume(&client, "warm").await?;
    let baseline = resident_kib();

    let (peak, sampling) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(resident_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let began = Instant::now();
    let mut starting = tokio::task::JoinSet::new();
    for i in 0..runs {
        if starting.len() == STARTING
            && let Some(done) = starting.join_next().await
        {
            done??;
        }
        let (client, run_id) = (client.clone(), format!("parked-{i}"));
        starting.spawn(async move {
            let start = run_start(&run_id, Some("memory"), steps(), payload());
            temporal::start_run(&client, QUEUE, &start).await?;
            parked(&client, &run_id).await
        });
    }
    while let Some(done) = starting.join_next().await {
        done??;
    }
    let filled = began.elapsed();
    let settled = resident_kib();

    // The first runs parked are the least recently used: long evicted.
    let mut resumed = Vec::new();
    for i in 0..RESUMED.min(runs) {
        resumed.push(resume(&client, &format!("parked-{i}")).await?);
    }
    resumed.sort();
    let last = resume(&client, &format!("parked-{}", runs - 1)).await?;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let peak = peak.load(Ordering::Relaxed);

    let held_mib = HELD_CHARS as f64 / f64::from(1 << 20);
    println!(
        "memory budget ({} cores): {runs} runs parked on an event wait, each holding \
         {held_mib:.1} MiB of variables ({:.0} GiB in all), budget {BUDGET_MIB} MiB, \
         filled in {:.0} s:",
        common::cores(),
        runs as f64 * held_mib / 1024.0,
        filled.as_secs_f64()
    );
    println!(
        "  resident before the runs            {:8.0} MiB",
        mib(baseline)
    );
    println!(
        "  resident with every run parked      {:8.0} MiB  (baseline + {:.0} MiB)",
        mib(settled),
        mib(settled.saturating_sub(baseline))
    );
    println!(
        "  peak resident while filling         {:8.0} MiB  (baseline + {:.0} MiB; budget {BUDGET_MIB} MiB)",
        mib(peak),
        mib(peak.saturating_sub(baseline))
    );
    println!(
        "  evicted run resumed by its event    median {:6.0} ms  worst {:6.0} ms  ({} runs, rebuilt by replay)",
        resumed[resumed.len() / 2].as_secs_f64() * 1000.0,
        resumed[resumed.len() - 1].as_secs_f64() * 1000.0,
        resumed.len()
    );
    println!(
        "  most recent run resumed (cached)           {:6.0} ms",
        last.as_secs_f64() * 1000.0
    );
    our_worker.stop().await;
    Ok(())
}

fn main() -> Result<()> {
    common::on_dev_server(measure)
}
