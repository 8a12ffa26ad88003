//! A private PostgreSQL cluster per test binary: `initdb` in a temporary directory, `postgres`
//! on a free loopback port, stopped by its process id when dropped. Running as root, both run
//! as Debian's `postgres` user (PostgreSQL refuses root).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::temporal::{Process, free_port};

/// A running cluster with one database, `alga_wf`.
pub struct Postgres {
    /// `postgres://alga@127.0.0.1:<port>/alga_wf`.
    pub url: String,
    bin: PathBuf,
    _process: Process,
    _dir: tempfile::TempDir,
}

/// The directory of PostgreSQL's server programs (the newest installed major version).
fn server_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("ALGA_WF_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("PostgreSQL's server programs are not installed: run scripts/setup")
}

/// The uid and gid to run the server as: ours, or `postgres`'s when we are root.
fn server_identity() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd is readable");
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

fn command(program: PathBuf, identity: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(program);
    if let Some((uid, gid)) = identity {
        command.uid(uid).gid(gid);
    }
    command
}

impl Postgres {
    /// Runs SQL with `psql`; what it printed (unaligned, tuples only).
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
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
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Initialises and starts a cluster, then creates the database.
    pub fn start() -> Postgres {
        let bin = server_bin();
        let identity = server_identity();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        if let Some((uid, gid)) = identity {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let status = command(bin.join("initdb"), identity)
            .args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "alga",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .arg("--no-sync")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed");
        let port = free_port();
        let child = command(bin.join("postgres"), identity)
            .args(["-D", data.to_str().unwrap(), "-p", &port.to_string()])
            .args(["-k", dir.path().to_str().unwrap()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let process = Process(child);
        let createdb = bin.join("createdb");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let created = Command::new(&createdb)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "alga",
                    "alga_wf",
                ])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if created {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Postgres {
            url: format!("postgres://alga@127.0.0.1:{port}/alga_wf"),
            bin,
            _process: process,
            _dir: dir,
        }
    }
}
