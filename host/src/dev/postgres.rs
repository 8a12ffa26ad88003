//! A private PostgreSQL cluster: `initdb` in a data directory (once), `postgres` on a loopback
//! port, a database for the runtime, and a fast shutdown when dropped. Running as root, the
//! server runs as Debian's `postgres` user (PostgreSQL refuses root).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::DevError;

/// A running cluster.
pub struct Cluster {
    /// `postgres://alga@127.0.0.1:<port>/<database>`.
    pub url: String,
    bin: PathBuf,
    data: PathBuf,
    identity: Option<(u32, u32)>,
    process: Child,
}

/// The directory of PostgreSQL's server programs: `ALGA_WF_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout).
pub fn server_bin() -> Result<PathBuf, DevError> {
    if let Ok(dir) = std::env::var("ALGA_WF_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").exists().then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        DevError::Missing(
            "PostgreSQL's server programs (run scripts/setup, or set ALGA_WF_PG_BIN)".into(),
        )
    })
}

/// The uid and gid the server runs as: ours, or `postgres`'s when we are root.
fn server_identity() -> Result<Option<(u32, u32)>, DevError> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if me != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&"postgres") {
                return None;
            }
            Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
        })
        .map(Some)
        .ok_or_else(|| {
            DevError::Missing("the `postgres` user (Debian's postgresql package)".into())
        })
}

fn as_server(program: PathBuf, identity: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(program);
    if let Some((uid, gid)) = identity {
        command.uid(uid).gid(gid);
    }
    command
}

fn run(command: &mut Command, what: &str) -> Result<(), DevError> {
    let output = command
        .output()
        .map_err(|e| DevError::Process(format!("{what}: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(DevError::Process(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

impl Cluster {
    /// Starts the cluster in `dir` (initialising it the first time) on `port`, with database
    /// `database`.
    pub fn start(dir: &Path, port: u16, database: &str) -> Result<Cluster, DevError> {
        let bin = server_bin()?;
        let identity = server_identity()?;
        std::fs::create_dir_all(dir)
            .map_err(|e| DevError::Process(format!("{}: {e}", dir.display())))?;
        if let Some((uid, gid)) = identity {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| DevError::Process(format!("chown {}: {e}", dir.display())))?;
        }
        let data = dir.join("data");
        if !data.join("PG_VERSION").exists() {
            run(
                as_server(bin.join("initdb"), identity)
                    .args(["-D", &data.to_string_lossy(), "-U", "alga", "--auth=trust"])
                    .args(["-E", "UTF8", "--no-sync"]),
                "initdb",
            )?;
        }
        let process = as_server(bin.join("postgres"), identity)
            .args(["-D", &data.to_string_lossy(), "-p", &port.to_string()])
            .args([
                "-k",
                &dir.to_string_lossy(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| DevError::Process(format!("starting postgres: {e}")))?;
        let mut cluster = Cluster {
            url: format!("postgres://alga@127.0.0.1:{port}/{database}"),
            bin,
            data,
            identity,
            process,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(cluster.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            // A server that cannot start (its port taken, say) exits at once: no use waiting.
            if let Ok(Some(status)) = cluster.process.try_wait() {
                return Err(DevError::Process(format!(
                    "PostgreSQL exited ({status}) before accepting connections on port {port}"
                )));
            }
            if Instant::now() > deadline {
                return Err(DevError::Process(format!(
                    "PostgreSQL did not accept connections on port {port}"
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // `createdb` fails when the database exists; that is the normal restart.
        let _ = Command::new(cluster.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "alga",
                database,
            ])
            .stderr(Stdio::null())
            .status();
        Ok(cluster)
    }

    /// Runs SQL with `psql` and returns what it printed (unaligned, tuples only).
    pub fn sql(&self, sql: &str) -> Result<String, DevError> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                self.url.as_str(),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .map_err(|e| DevError::Process(format!("psql: {e}")))?;
        if !output.status.success() {
            return Err(DevError::Process(format!(
                "psql: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

impl Cluster {
    /// How the server process ended, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A fast shutdown keeps the data directory clean for the next start.
        let stopped = as_server(self.bin.join("pg_ctl"), self.identity)
            .args([
                "stop",
                "-D",
                &self.data.to_string_lossy(),
                "-m",
                "fast",
                "-w",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.process.kill();
        }
        let _ = self.process.wait();
    }
}
