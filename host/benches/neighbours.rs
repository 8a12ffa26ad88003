//! Noisy neighbours on one worker: how long a quiet tenant's one-step run takes while another
//! tenant keeps 20 runs of a catastrophically backtracking regular expression going, against
//! the same run on the idle worker, measured in one run on a private Temporal dev server.
//!
//! What keeps the ratio down: the regular-expression transforms stop at their backtracking
//! budget with a catchable error (a noisy activation lasts about a tenth of a second, not the
//! whole fuel), and the interpreter slots go round the tenants (`worker/fair.rs`), so the
//! quiet tenant's activation waits for at most one activation per busy tenant however many
//! the noisy one has queued. What remains is the machine: the noisy work and the quiet run
//! share its cores with the Temporal server.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alga_wf::temporal::{self, RunOutcome};
use alga_wf::worker::WorkerSettings;
use anyhow::{Result, anyhow};
use common::{RunningWorker, run_start};
use serde_json::{Value, json};

/// Noisy runs kept in flight at once.
const NOISY_RUNS: usize = 20;
/// Quiet runs timed, one after another, on the idle and on the busy worker.
const SAMPLES: usize = 15;
const QUEUE: &str = "bench-neighbours";

/// One step and done: the quiet tenant's run.
fn quiet_steps() -> Value {
    json!([{"id": "note", "type": "transform.assign",
        "config": {"assign": {"vars.seen": {"$expr": "payload.name"}}}}])
}

/// Two catastrophic matches, each caught: the heaviest run that still succeeds within one
/// activation's fuel.
fn noisy_steps() -> Value {
    json!([{"id": "loop", "type": "control.forEach", "items": {"$expr": "payload.items"},
        "itemVar": "it", "body": [{"id": "guard", "type": "control.tryCatch",
        "try": [{"id": "match", "type": "action.call", "config": {
            "actionId": "transform.regex_match", "version": 1,
            "inputMapping": {"text": {"$expr": "payload.text"}, "pattern": "^(a+)+$"},
            "saveAs": "vars.match"}}],
        "catch": [{"id": "caught", "type": "state.set", "config": {"state": "CAUGHT"}}],
        "captureErrorAs": "vars.error"}]}])
}

async fn finish(client: &temporalio_client::Client, run_id: &str) -> Result<()> {
    match temporal::run_result(client, run_id).await? {
        RunOutcome::Succeeded(_) => Ok(()),
        other => Err(anyhow!("run {run_id} ended {other:?}")),
    }
}

/// The quiet tenant's run, start to result.
async fn quiet_run(client: &temporalio_client::Client, run_id: &str) -> Result<Duration> {
    let start = run_start(run_id, Some("quiet"), quiet_steps(), json!({"name": "q"}));
    let began = Instant::now();
    temporal::start_run(client, QUEUE, &start).await?;
    finish(client, run_id).await?;
    Ok(began.elapsed())
}

async fn quiet_runs(client: &temporalio_client::Client, tag: &str) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    for i in 0..SAMPLES {
        times.push(quiet_run(client, &format!("{tag}-{i}")).await?);
    }
    times.sort();
    Ok(times)
}

/// Keeps `NOISY_RUNS` noisy runs in flight until `stop`; counts the runs finished.
async fn noise(
    client: temporalio_client::Client,
    stop: Arc<AtomicBool>,
    finished: Arc<AtomicUsize>,
) -> Result<()> {
    let payload = json!({"text": format!("{}!", "a".repeat(40)), "items": [1, 2]});
    let mut runs = tokio::task::JoinSet::new();
    let mut started = 0;
    while !stop.load(Ordering::Relaxed) || !runs.is_empty() {
        while !stop.load(Ordering::Relaxed) && runs.len() < NOISY_RUNS {
            let (client, run_id) = (client.clone(), format!("noisy-{started}"));
            let start = run_start(&run_id, Some("noisy"), noisy_steps(), payload.clone());
            started += 1;
            runs.spawn(async move {
                temporal::start_run(&client, QUEUE, &start).await?;
                finish(&client, &run_id).await
            });
        }
        if let Some(done) = runs.join_next().await {
            done??;
            finished.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(address: String) -> Result<()> {
    let mut settings = WorkerSettings::local(&address);
    settings.task_queue = QUEUE.into();
    settings.max_cached_runs = 200;
    let our_worker = RunningWorker::start(settings.clone(), 201)?;
    let client = temporal::connect(&settings.temporal()).await?.client;

    // Warm up (the component's compilation, connections, sticky queues) with both kinds.
    quiet_runs(&client, "warm").await?;
    let payload = json!({"text": format!("{}!", "a".repeat(40)), "items": [1, 2]});
    let warm = run_start("noisy-warm", Some("noisy"), noisy_steps(), payload);
    let began = Instant::now();
    temporal::start_run(&client, QUEUE, &warm).await?;
    finish(&client, "noisy-warm").await?;
    let noisy_alone = began.elapsed();

    let idle = quiet_runs(&client, "idle").await?;
    let (stop, finished) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let noisy = tokio::spawn(noise(client.clone(), stop.clone(), finished.clone()));
    // Let the noisy tenant fill every slot and its queue before timing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let noise_began = (Instant::now(), finished.load(Ordering::Relaxed));
    let busy = quiet_runs(&client, "busy").await?;
    let noise_rate = (finished.load(Ordering::Relaxed) - noise_began.1) as f64
        / noise_began.0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    noisy.await??;

    let median = |v: &[Duration]| v[v.len() / 2];
    let worst = |v: &[Duration]| v[v.len() - 1];
    println!(
        "noisy neighbours ({} cores): tenant `noisy` keeps {NOISY_RUNS} runs of `^(a+)+$` going \
         (two caught catastrophic matches each, {:.0} ms alone, {noise_rate:.1} runs/s under load); \
         tenant `quiet` runs one step, {SAMPLES} times in a row:",
        common::cores(),
        millis(noisy_alone)
    );
    println!(
        "  quiet run, idle worker      median {:7.1} ms   worst {:7.1} ms",
        millis(median(&idle)),
        millis(worst(&idle))
    );
    println!(
        "  quiet run, noisy neighbour  median {:7.1} ms   worst {:7.1} ms",
        millis(median(&busy)),
        millis(worst(&busy))
    );
    println!(
        "  ratio (busy / idle, medians)      {:7.2}x (target: at most 2)",
        median(&busy).as_secs_f64() / median(&idle).as_secs_f64()
    );
    our_worker.stop().await;
    Ok(())
}

fn main() -> Result<()> {
    common::on_dev_server(measure)
}
