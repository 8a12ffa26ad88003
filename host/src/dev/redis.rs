//! `redis-server` (Debian's `redis-server`) on a loopback port, for the product's event stream
//! in development and tests; killed when dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::DevError;

/// A running Redis.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    process: Child,
}

impl RedisServer {
    /// Starts Redis on `port`, keeping its data (an append-only file) in `dir` so a restart
    /// finds the stream as it was.
    pub fn start(port: u16, dir: &Path) -> Result<RedisServer, DevError> {
        let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        std::fs::create_dir_all(dir)
            .map_err(|e| DevError::Process(format!("{}: {e}", dir.display())))?;
        let process = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                DevError::Missing(format!(
                    "Redis `{binary}` ({e}); run scripts/setup or set REDIS_SERVER_BIN"
                ))
            })?;
        let mut server = RedisServer {
            url: format!("redis://127.0.0.1:{port}"),
            process,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.exited() {
                return Err(DevError::Process(format!(
                    "Redis exited at start ({status})"
                )));
            }
            if Instant::now() > deadline {
                return Err(DevError::Process(format!("Redis did not open port {port}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
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

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
