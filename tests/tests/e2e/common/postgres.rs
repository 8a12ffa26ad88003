//! A private PostgreSQL cluster per test binary (the same cluster `alga-wf dev` runs), in a
//! temporary directory, stopped when dropped; tests may stop it and start it again on the same
//! data and port, as an outage would.

use std::sync::Mutex;

use alga_wf::dev::postgres::Cluster;
use alga_wf::dev::temporal::free_port;

/// A running cluster with one database, `alga_wf`.
pub struct Postgres {
    /// `postgres://alga@127.0.0.1:<port>/alga_wf`.
    pub url: String,
    port: u16,
    cluster: Mutex<Option<Cluster>>,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Initialises and starts a cluster, then creates the database.
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port().expect("a free port");
        let cluster = Cluster::start(dir.path(), port, "alga_wf")
            .unwrap_or_else(|e| panic!("PostgreSQL did not start: {e}"));
        Postgres {
            url: cluster.url.clone(),
            port,
            cluster: Mutex::new(Some(cluster)),
            dir,
        }
    }

    /// Stops the server (a fast shutdown: connections are cut).
    pub fn stop(&self) {
        let mut cluster = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        *cluster = None;
    }

    /// Starts the server again on the same data and port.
    pub fn start_again(&self) {
        let mut cluster = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        if cluster.is_none() {
            *cluster = Some(
                Cluster::start(self.dir.path(), self.port, "alga_wf")
                    .unwrap_or_else(|e| panic!("PostgreSQL did not start again: {e}")),
            );
        }
    }

    /// Runs SQL with `psql`; what it printed (unaligned, tuples only).
    pub fn sql(&self, sql: &str) -> String {
        let cluster = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        cluster
            .as_ref()
            .expect("the database is running")
            .sql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}
