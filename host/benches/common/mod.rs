//! What the benchmarks that drive a real worker share: a private Temporal dev server, a run's
//! start, the process's memory (resident and proportional), and the worker itself, in this process.

#![allow(dead_code)] // Each benchmark is its own crate and uses part of this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alga_protocol::protocol::RunStart;
use alga_wf::engine::EngineConfig;
use alga_wf::worker::{self, WorkerSettings};
use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

/// `temporal server start-dev` on free loopback ports, stopped when dropped.
pub struct DevServer {
    pub address: String,
    process: std::process::Child,
}

impl DevServer {
    pub fn start() -> Result<DevServer> {
        let free = || -> Result<u16> {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (port, ui) = (free()?, free()?);
        let binary = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".into());
        let process = std::process::Command::new(&binary)
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
            .args(["--log-level", "error", "--port", &port.to_string()])
            .args(["--ui-port", &ui.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting `{binary} server start-dev`"))?;
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(anyhow!("the dev server did not open port {port}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(DevServer {
            address: format!("http://127.0.0.1:{port}"),
            process,
        })
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Runs `measure` on a multi-threaded runtime against a dev server of its own, stopped after.
pub fn on_dev_server<F: std::future::Future<Output = Result<()>>>(
    measure: impl FnOnce(String) -> F,
) -> Result<()> {
    let server = DevServer::start()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // The port opens before the frontend answers: wait until a client connects.
        let settings = WorkerSettings::local(&server.address).temporal();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Err(e) = alga_wf::temporal::connect(&settings).await {
            if Instant::now() > deadline {
                return Err(e.context("the dev server never answered"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        measure(server.address.clone()).await
    })
}

/// The start of a run of a workflow made of `steps`, pinned to it.
pub fn run_start(run_id: &str, tenant: Option<&str>, steps: Value, payload: Value) -> RunStart {
    let definition = json!({"id": "bench", "version": 1, "name": "bench",
        "payloadSchemaRef": "payload.Bench.v1", "steps": steps});
    RunStart {
        tenant_id: tenant.map(str::to_owned),
        execution_key: run_id.into(),
        host_retries: true,
        ..RunStart::pinned(
            run_id,
            "bench",
            1,
            definition,
            payload,
            alga_interpreter::RUNTIME_SEMANTICS_VERSION,
        )
    }
}

/// This process's resident memory, KiB.
pub fn resident_kib() -> u64 {
    memory().rss_kib
}

/// This process's memory, two ways.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident set: every page mapped, a page mapped at several addresses counted at each. The
    /// module's image is mapped once per instance from one file, so this counts its shared
    /// pages once per run.
    pub rss_kib: u64,
    /// Proportional set: each physical page once (split among the processes that share it),
    /// what the process costs the machine.
    pub pss_kib: u64,
}

/// This process's memory, from `/proc/self/smaps_rollup` (zeros where there is none).
pub fn memory() -> Memory {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let field = |name: &str| {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("Rss"),
        pss_kib: field("Pss"),
    }
}

/// CPU time this process has used (user and system), from `/proc/self/stat` in clock ticks of
/// 10 ms (Linux's fixed `USER_HZ`).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis: utime and stime are 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<u64>() as f64 / 100.0
}

/// The machine the figures were measured on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `alga-wf worker`'s loop in this process, on `settings`, with an engine of `pool_instances`
/// instances; stopped (and awaited) by [`RunningWorker::stop`].
pub struct RunningWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningWorker {
    pub fn start(settings: WorkerSettings, pool_instances: u32) -> Result<RunningWorker> {
        let engine = Arc::new(
            alga_wf::locate::interpreter_source(None)
                .load(EngineConfig {
                    pool_instances,
                    ..EngineConfig::default()
                })
                .context("loading the interpreter (scripts/bench builds it)")?,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let lookup = worker::DefinitionLookup::default();
        let task = tokio::spawn(worker::run_worker(
            Arc::new(alga_wf::engine::modules::Modules::single(engine)),
            settings,
            lookup,
            None,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(RunningWorker { stop, task })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}
