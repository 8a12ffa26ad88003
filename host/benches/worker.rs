//! The worker on a real Temporal dev server, against a minimal hand-written sdk-core workflow
//! doing the same activities on the same server in the same run:
//!
//! - workflows per second through each (the ratio is the interpreter's overhead);
//! - history events per action step (ours, the hand-written floor, and the reference engine's
//!   as modelled from its activity layout: three activities per action step);
//! - the process's CPU time per workflow, ours against the hand-written one's;
//! - memory per cached run at 1,000 and 10,000 runs parked on an event wait (one wasm instance
//!   each) under the default memory budget, and how long a signal takes to resume one of them
//!   to its end.
//!
//! Run it with `scripts/bench`; it starts its own dev server. Numbers are noisy on shared
//! machines; ratios measured in one run less so.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alga_protocol::names::EVENT_SIGNAL;
use alga_wf::temporal::{self, RunOutcome};
use alga_wf::worker::WorkerSettings;
use anyhow::{Result, anyhow};

use common::{RunningWorker, memory};
use serde_json::{Value, json};
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::activity_task;
use temporalio_common::protos::coresdk::workflow_activation::workflow_activation_job::Variant as Job;
use temporalio_common::protos::coresdk::workflow_commands::{
    self as wc, workflow_command::Variant as Cmd,
};
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::{ActivityTaskCompletion, AsJsonPayloadExt};
use temporalio_common::protos::temporal::api::common::v1::RetryPolicy;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    PollError, PollerBehavior, WorkerConfig, WorkerVersioningStrategy, init_worker,
};

/// Action steps per workflow.
const STEPS: u32 = 5;
/// Workflows per measured batch.
const WORKFLOWS: usize = 40;
/// Runs parked at once for the memory figures: the first count, then the second in all.
const PARKED: [usize; 2] = [1_000, 10_000];
/// Parked runs resumed by a signal for the latency figure.
const RESUMED: usize = 200;
/// History events of one activity round trip: ActivityTaskScheduled/Started/Completed and the
/// workflow task that follows (Scheduled/Started/Completed).
const EVENTS_PER_ACTIVITY: u32 = 6;
/// Events every workflow has besides its activities: started, the first workflow task (3),
/// completed.
const EVENTS_PER_WORKFLOW: u32 = 5;

/// The reference engine's history for `steps` action steps, modelled from its activity layout
/// (persistence-and-api.md §5.2): one activity to load the pinned definition, three per action
/// step (step start, the action, step end), one to complete the run.
fn reference_events(steps: u32) -> u32 {
    EVENTS_PER_WORKFLOW + EVENTS_PER_ACTIVITY * (1 + 3 * steps + 1)
}

const WASM_QUEUE: &str = "bench-wasm";
const NATIVE_QUEUE: &str = "bench-native";

fn action_steps() -> Value {
    let steps: Vec<Value> = (0..STEPS)
        .map(|i| {
            json!({"id": format!("echo{i}"), "type": "action.call", "config": {
                "actionId": "test.echo", "version": 1,
                "inputMapping": {"value": {"$expr": format!("'step {i} of ' & payload.name")}},
                "saveAs": format!("vars.echo{i}")}})
        })
        .collect();
    Value::Array(steps)
}

fn run_start(run_id: &str, steps: Value) -> alga_protocol::protocol::RunStart {
    common::run_start(run_id, None, steps, json!({"name": "bench"}))
}

/// The hand-written workflow: `STEPS` echo activities in sequence, then complete. The same
/// activity type and argument shape as ours, executed by the same process.
async fn native_worker(settings: WorkerSettings) -> Result<()> {
    let connected = temporal::connect(&settings.temporal()).await?;
    let config = WorkerConfig::builder()
        .namespace(settings.namespace.clone())
        .task_queue(NATIVE_QUEUE)
        .task_types(WorkerTaskTypes::all())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: "bench-native".into(),
        })
        .max_cached_workflows(1000_usize)
        .max_outstanding_workflow_tasks(100_usize)
        .max_outstanding_activities(100_usize)
        .max_outstanding_local_activities(10_usize)
        .workflow_task_poller_behavior(PollerBehavior::SimpleMaximum(4))
        .activity_task_poller_behavior(PollerBehavior::SimpleMaximum(4))
        .build()
        .map_err(|e| anyhow!("native worker configuration: {e}"))?;
    let core = Arc::new(init_worker(
        &connected.runtime,
        config,
        connected.connection.clone(),
    )?);
    let activities = {
        let core = core.clone();
        tokio::spawn(async move {
            loop {
                let task = match core.poll_activity_task().await {
                    Ok(task) => task,
                    Err(PollError::ShutDown) => return,
                    Err(e) => panic!("native activity poll: {e}"),
                };
                let Some(activity_task::Variant::Start(start)) = task.variant else {
                    continue;
                };
                let input = start.input.first().cloned().unwrap_or_default();
                let value: Value = serde_json::from_slice(&input.data).unwrap_or(Value::Null);
                let output = json!({"value": value["input"]["value"]});
                let result =
                    ActivityExecutionResult::ok(output.as_json_payload().unwrap_or_default());
                let _ = core
                    .complete_activity_task(ActivityTaskCompletion {
                        task_token: task.task_token,
                        result: Some(result),
                    })
                    .await;
            }
        })
    };
    loop {
        let activation = match core.poll_workflow_activation().await {
            Ok(activation) => activation,
            Err(PollError::ShutDown) => break,
            Err(e) => return Err(anyhow!("native workflow poll: {e}")),
        };
        let mut commands = Vec::new();
        for job in activation.jobs.iter().filter_map(|j| j.variant.as_ref()) {
            let next = match job {
                Job::InitializeWorkflow(_) => Some(1),
                Job::ResolveActivity(r) => Some(r.seq + 1),
                _ => None,
            };
            match next {
                Some(seq) if seq <= STEPS => {
                    let argument = json!({"input": {"value": format!("step {seq} of bench")},
                        "runId": activation.run_id});
                    commands.push(Cmd::ScheduleActivity(wc::ScheduleActivity {
                        seq,
                        activity_id: seq.to_string(),
                        activity_type: "executeWorkflowRuntimeV2ActionStep".into(),
                        task_queue: NATIVE_QUEUE.into(),
                        arguments: vec![argument.as_json_payload().unwrap_or_default()],
                        start_to_close_timeout: Duration::from_secs(60).try_into().ok(),
                        retry_policy: Some(RetryPolicy {
                            maximum_attempts: 1,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }));
                }
                Some(_) => commands.push(Cmd::CompleteWorkflowExecution(
                    wc::CompleteWorkflowExecution {
                        result: json!({"done": true}).as_json_payload().ok(),
                    },
                )),
                None => {}
            }
        }
        let completion = WorkflowActivationCompletion::from_cmds(activation.run_id, commands);
        core.complete_workflow_activation(completion).await?;
    }
    activities.abort();
    Ok(())
}

/// A batch's throughput and the process's CPU time per workflow.
struct Batch {
    per_second: f64,
    cpu_ms_per_run: f64,
}

/// Starts `WORKFLOWS` runs on `queue` at once and waits for all.
async fn batch(client: &temporalio_client::Client, queue: &str, tag: &str) -> Result<Batch> {
    let started = Instant::now();
    let cpu = common::cpu_seconds();
    let mut runs = tokio::task::JoinSet::new();
    for i in 0..WORKFLOWS {
        let client = client.clone();
        let (queue, run_id) = (queue.to_owned(), format!("{tag}-{i}"));
        runs.spawn(async move {
            temporal::start_run(&client, &queue, &run_start(&run_id, action_steps())).await?;
            match temporal::run_result(&client, &run_id).await? {
                RunOutcome::Succeeded(_) => Ok(()),
                other => Err(anyhow!("run {run_id} ended {other:?}")),
            }
        });
    }
    while let Some(done) = runs.join_next().await {
        done??;
    }
    Ok(Batch {
        per_second: WORKFLOWS as f64 / started.elapsed().as_secs_f64(),
        cpu_ms_per_run: (common::cpu_seconds() - cpu) * 1000.0 / WORKFLOWS as f64,
    })
}

/// Starts runs `parked-{from}` to `parked-{to - 1}`, each waiting for an event, and returns
/// once every one of them is cached and waiting.
async fn park(client: &temporalio_client::Client, from: usize, to: usize) -> Result<()> {
    let steps = json!([{"id": "wait", "type": "event.wait",
        "config": {"eventName": "GO", "correlationKey": {"$expr": "'k'"}}}]);
    let mut starting = tokio::task::JoinSet::new();
    for i in from..to {
        if starting.len() == 64
            && let Some(done) = starting.join_next().await
        {
            done??;
        }
        let (client, run) = (client.clone(), format!("parked-{i}"));
        let start = run_start(&run, steps.clone());
        starting.spawn(async move {
            temporal::start_run(&client, WASM_QUEUE, &start).await?;
            // A query is answered from the cached instance once the run has been activated.
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                match temporal::query_run(&client, &run, "workflowRuntimeV2CurrentWait").await {
                    Ok(w) if !w.is_null() => return Ok(()),
                    Ok(_) => return Err(anyhow!("run {run} is not waiting (did it fail?)")),
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => return Err(e.context(format!("run {run} never answered"))),
                }
            }
        });
    }
    while let Some(done) = starting.join_next().await {
        done??;
    }
    Ok(())
}

async fn history_events(client: &temporalio_client::Client, run_id: &str) -> Result<usize> {
    let history: Value = serde_json::from_slice(&temporal::run_history(client, run_id).await?)?;
    Ok(history["events"].as_array().map_or(0, Vec::len))
}

async fn measure(address: String) -> Result<()> {
    let mut settings = WorkerSettings::local(&address);
    settings.task_queue = WASM_QUEUE.into();
    settings.max_cached_runs = PARKED[1] + 2 * WORKFLOWS;
    // The runs' actions are the `test.echo` double.
    settings.test_actions = true;
    // The default memory budget: the parked runs must fit in it (the bench counts evictions).
    let budget_mib = settings.cache_memory_budget >> 20;
    let metrics = alga_wf::observability::metrics();
    // Every parked run stays cached with its own instance.
    let our_worker =
        RunningWorker::start(settings.clone(), (PARKED[1] + 2 * WORKFLOWS + 1) as u32)?;
    tokio::spawn(native_worker(settings.clone()));
    let client = temporal::connect(&settings.temporal()).await?.client;

    // Warm both up (the component's compilation, connections, sticky queues), then alternate.
    batch(&client, WASM_QUEUE, "warm-wasm").await?;
    batch(&client, NATIVE_QUEUE, "warm-native").await?;
    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    for round in 0..3 {
        wasm.push(batch(&client, WASM_QUEUE, &format!("wasm{round}")).await?);
        native.push(batch(&client, NATIVE_QUEUE, &format!("native{round}")).await?);
    }
    let median = |batches: &[Batch], figure: fn(&Batch) -> f64| {
        let mut v: Vec<f64> = batches.iter().map(figure).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (wasm_cpu, native_cpu) = (
        median(&wasm, |b| b.cpu_ms_per_run),
        median(&native, |b| b.cpu_ms_per_run),
    );
    let (wasm, native) = (
        median(&wasm, |b| b.per_second),
        median(&native, |b| b.per_second),
    );
    println!("workflows of {STEPS} action steps, {WORKFLOWS} at a time, median of 3 batches:");
    println!("  alga-wf worker (wasm interpreter)  {wasm:8.1} workflows/s");
    println!("  hand-written sdk-core workflow     {native:8.1} workflows/s");
    println!(
        "  ratio (hand-written / ours)        {:8.2}x",
        native / wasm
    );

    let ours = history_events(&client, "wasm0-0").await?;
    let floor = history_events(&client, "native0-0").await?;
    let reference = reference_events(STEPS) as usize;
    let per_step = |events: usize| events as f64 / f64::from(STEPS);
    println!("history events of a workflow of {STEPS} action steps (per step):");
    println!(
        "  alga-wf                            {ours:5} ({:5.1})",
        per_step(ours)
    );
    println!(
        "  hand-written (one activity each)   {floor:5} ({:5.1})",
        per_step(floor)
    );
    println!(
        "  reference engine (modelled)        {reference:5} ({:5.1})",
        per_step(reference)
    );
    println!(
        "  ours / reference                   {:8.2} (target: at most 0.33)",
        ours as f64 / reference as f64
    );

    println!("worker CPU per workflow (this process: worker and client, not the server):");
    println!("  alga-wf worker (wasm interpreter)  {:8.2} ms", wasm_cpu);
    println!("  hand-written sdk-core workflow     {:8.2} ms", native_cpu);
    println!(
        "  ratio (ours / hand-written)        {:8.2}x",
        wasm_cpu / native_cpu
    );

    let before = memory();
    let mut parked = 0;
    for target in PARKED {
        park(&client, parked, target).await?;
        parked = target;
        let after = memory();
        let each = |before: u64, after: u64| after.saturating_sub(before) as f64 / target as f64;
        println!(
            "parked runs: {target:6} on an event wait, {:6.1} KiB each ({} MiB -> {} MiB for the \
             whole process, proportional set); {:6.1} KiB each by the resident set (which counts \
             the module's shared image once per run)",
            each(before.pss_kib, after.pss_kib),
            before.pss_kib / 1024,
            after.pss_kib / 1024,
            each(before.rss_kib, after.rss_kib),
        );
    }
    let rendered = metrics.render();
    let metric = |name: &str| {
        rendered
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    println!(
        "  under the default memory budget ({budget_mib} MiB): {} runs cached, {} evicted for \
         memory",
        metric("alga_wf_cached_runs"),
        metric("alga_wf_memory_evictions_total"),
    );
    let mut resumed = Vec::new();
    for i in 0..RESUMED {
        let run = format!("parked-{}", i * parked / RESUMED);
        let began = Instant::now();
        let event = json!({"eventName": "GO", "correlationKey": "k", "payload": {}});
        temporal::signal_run(&client, &run, EVENT_SIGNAL, &event).await?;
        match temporal::run_result(&client, &run).await? {
            RunOutcome::Succeeded(_) => resumed.push(began.elapsed()),
            other => return Err(anyhow!("run {run} ended {other:?}")),
        }
    }
    resumed.sort();
    println!(
        "  a signal resumes one of {parked} parked runs to its end: p50 {:.1} ms, p99 {:.1} ms, \
         worst {:.1} ms ({RESUMED} runs)",
        resumed[RESUMED / 2].as_secs_f64() * 1000.0,
        resumed[RESUMED * 99 / 100].as_secs_f64() * 1000.0,
        resumed[RESUMED - 1].as_secs_f64() * 1000.0
    );
    our_worker.stop().await;
    Ok(())
}

fn main() -> Result<()> {
    common::on_dev_server(measure)
}
