//! A private Temporal dev server per test binary, and an `alga-wf worker` process serving it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// A free loopback port.
pub fn free_port() -> u16 {
    alga_wf::dev::temporal::free_port().expect("a free port")
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `temporal server start-dev` on free ports (the same server `alga-wf dev` runs): in memory,
/// or kept in a file so that it can be killed and started again as an outage would.
pub struct DevServer {
    /// The frontend address, `http://127.0.0.1:<port>`.
    pub address: String,
    port: u16,
    /// The database file of a server that survives restarts.
    db_file: Option<tempfile::TempDir>,
    server: Mutex<Option<alga_wf::dev::temporal::DevServer>>,
}

impl DevServer {
    /// Starts a dev server in memory and waits until it accepts connections.
    pub fn start() -> DevServer {
        DevServer::start_with(None)
    }

    /// Starts a dev server that keeps its state in a file, so [`DevServer::restart`] keeps it.
    pub fn start_durable() -> DevServer {
        DevServer::start_with(Some(tempfile::tempdir().expect("a temporary directory")))
    }

    fn start_with(db_file: Option<tempfile::TempDir>) -> DevServer {
        let port = free_port();
        let file = db_file.as_ref().map(|dir| dir.path().join("temporal.db"));
        let server = alga_wf::dev::temporal::DevServer::start(port, file.as_deref(), true)
            .unwrap_or_else(|e| panic!("{e}"));
        DevServer {
            address: server.address.clone(),
            port,
            db_file,
            server: Mutex::new(Some(server)),
        }
    }

    /// Kills the server (SIGKILL), waits `down`, and starts it again on the same port and
    /// file. Only a durable server keeps its workflows.
    pub fn restart(&self, down: std::time::Duration) {
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        *server = None;
        std::thread::sleep(down);
        let file = self
            .db_file
            .as_ref()
            .map(|dir| dir.path().join("temporal.db"));
        *server = Some(
            alga_wf::dev::temporal::DevServer::start(self.port, file.as_deref(), true)
                .unwrap_or_else(|e| panic!("Temporal did not start again: {e}")),
        );
    }
}

/// A dev server, a PostgreSQL cluster and one worker on them; all stop when this is dropped.
pub struct System {
    /// The dev server.
    pub server: DevServer,
    /// The database the worker projects into.
    pub database: super::postgres::Postgres,
    /// The task queue the worker serves.
    pub task_queue: String,
    worker: Mutex<Option<Process>>,
    /// Everything the main worker logged (at `info`), across restarts.
    worker_log: tempfile::NamedTempFile,
    /// A second worker, serving the remote queue's activities.
    _remote: Process,
}

/// A secret the main worker's environment provides (`{"$secret": "test-token"}`).
pub const SECRET_VARIABLE: &str = "ALGA_WF_SECRET_TEST_TOKEN";
/// Its value.
pub const SECRET_VALUE: &str = "s3cr3t-value";

/// A tenant's own secret the main worker's environment provides: tenant `SECRET_TENANT`'s
/// `smtp`, which no other tenant may read.
pub const TENANT_SECRET_VARIABLE: &str = "ALGA_WF_SECRET_6A1C1D5E_2A4B_4C4E_9F00_000000000002_SMTP";
/// The tenant that owns it.
pub const SECRET_TENANT: &str = "6a1c1d5e-2a4b-4c4e-9f00-000000000002";
/// Its value.
pub const TENANT_SECRET_VALUE: &str = "hunter2-b64+/?";

/// The action the main worker routes to the remote queue (`remote_queue`).
pub const REMOTE_ACTION: &str = "test.actionProvided@1";

/// The activities' start-to-close timeout the test worker uses: an attempt lost with a killed
/// worker is retried this soon.
pub const ACTIVITY_TIMEOUT_SECS: u64 = 4;

impl System {
    /// `alga-wf ARGS...` against this system's Temporal server.
    pub fn cli(&self, args: &[&str]) -> super::Output {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(self.args());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        super::alga_wf(&refs)
    }

    /// Starts a dev server, a database and a worker serving both, with the definition files
    /// in `definitions`.
    pub fn start(definitions: &Path) -> System {
        System::start_on(DevServer::start(), definitions, &[])
    }

    /// The same, with extra environment for the worker (failpoints, settings).
    pub fn start_with_worker_env(definitions: &Path, env: &[(&str, &str)]) -> System {
        System::start_on(DevServer::start(), definitions, env)
    }

    /// The same, on a given dev server (a durable one, to restart Temporal).
    pub fn start_on(server: DevServer, definitions: &Path, worker_env: &[(&str, &str)]) -> System {
        let database = super::postgres::Postgres::start();
        let task_queue = format!("alga-wf-test-{}", std::process::id());
        let remote_queue = format!("{task_queue}-remote");
        let remote = Command::new(super::binary())
            .env("ALGA_WF_TEST_ACTIONS", "true")
            .args([
                "worker",
                "--server",
                &server.address,
                "--task-queue",
                &remote_queue,
            ])
            .args(["--database-url", &database.url])
            .env("ALGA_WF_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the remote alga-wf worker starts");
        let system = System {
            server,
            database,
            task_queue,
            worker: Mutex::new(None),
            worker_log: tempfile::NamedTempFile::new().expect("a log file"),
            _remote: Process(remote),
        };
        system.start_worker_with(definitions, worker_env);
        system
    }

    /// The queue the second worker serves.
    pub fn remote_queue(&self) -> String {
        format!("{}-remote", self.task_queue)
    }

    /// The `--database-url` argument for CLI calls.
    pub fn database_args(&self) -> Vec<String> {
        vec!["--database-url".into(), self.database.url.clone()]
    }

    /// The `--server`/`--task-queue` arguments for CLI calls.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--server".into(),
            self.server.address.clone(),
            "--task-queue".into(),
            self.task_queue.clone(),
        ]
    }

    /// Starts (or restarts) the worker process.
    pub fn start_worker(&self, definitions: &Path) {
        self.start_worker_with(definitions, &[]);
    }

    /// Starts (or restarts) the worker process with extra environment (e.g. FAILPOINTS).
    pub fn start_worker_with(&self, definitions: &Path, env: &[(&str, &str)]) {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        *worker = None;
        let child = Command::new(super::binary())
            .env("ALGA_WF_TEST_ACTIONS", "true")
            .arg("worker")
            .args(self.args())
            .args(self.database_args())
            // A test may give its own timeout in the environment.
            .args(
                [
                    "--activity-timeout-secs",
                    &ACTIVITY_TIMEOUT_SECS.to_string(),
                ]
                .into_iter()
                .filter(|_| {
                    !env.iter()
                        .any(|(k, _)| *k == "ALGA_WF_ACTIVITY_TIMEOUT_SECS")
                }),
            )
            .args([
                "--action-queue",
                &format!("{REMOTE_ACTION}={}", self.remote_queue()),
            ])
            .arg("--scripted-actions")
            .arg(super::root().join("examples/triage/scenario.json"))
            .arg("--definitions")
            .arg(definitions)
            .envs(env.iter().copied())
            .args(["--shared-secret", "test-token"])
            .env(SECRET_VARIABLE, SECRET_VALUE)
            .env(TENANT_SECRET_VARIABLE, TENANT_SECRET_VALUE)
            .env("ALGA_WF_LOG", "info")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(self.worker_log.path())
                    .expect("the worker's log file opens"),
            )
            .spawn()
            .expect("alga-wf worker starts");
        *worker = Some(Process(child));
    }

    /// What the main worker has logged so far.
    pub fn worker_log(&self) -> String {
        std::fs::read_to_string(self.worker_log.path()).unwrap_or_default()
    }

    /// Asks the worker to stop with SIGTERM and waits for it (60 s at most): its exit status.
    pub fn terminate_worker(&self) -> std::process::ExitStatus {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        let mut process = worker.take().expect("a worker is running");
        let pid = process.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = process.0.try_wait().expect("the worker's status") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker did not stop within 60 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Whether the worker process has exited (a supervisor would start it again).
    pub fn worker_exited(&self) -> bool {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        worker
            .as_mut()
            .is_none_or(|process| matches!(process.0.try_wait(), Ok(Some(_))))
    }

    /// Runs the Temporal CLI against this system's server: what it printed (it must succeed).
    pub fn temporal_cli(&self, args: &[&str]) -> String {
        let temporal = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".into());
        let out = Command::new(temporal)
            .args(args)
            .args([
                "--address",
                self.server.address.trim_start_matches("http://"),
            ])
            .output()
            .expect("the Temporal CLI runs");
        assert!(
            out.status.success(),
            "temporal {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A workflow's history as the Temporal CLI exports it (proto-JSON).
    pub fn history_json(&self, workflow_id: &str) -> String {
        self.temporal_cli(&[
            "workflow",
            "show",
            "--output",
            "json",
            "--workflow-id",
            workflow_id,
        ])
    }

    /// Kills the worker process with SIGKILL (no shutdown at all).
    pub fn kill_worker(&self) {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut process) = worker.take() {
            let _ = process.0.kill();
            let _ = process.0.wait();
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.kill_worker();
        if std::thread::panicking() {
            let log = self.worker_log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- the worker's last log lines ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
