//! A private PostgreSQL cluster per test binary (the same cluster `alga-wf dev` runs), in a
//! temporary directory, stopped when dropped.

use alga_wf::dev::postgres::Cluster;
use alga_wf::dev::temporal::free_port;

/// A running cluster with one database, `alga_wf`.
pub struct Postgres {
    /// `postgres://alga@127.0.0.1:<port>/alga_wf`.
    pub url: String,
    cluster: Cluster,
    _dir: tempfile::TempDir,
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
            cluster,
            _dir: dir,
        }
    }

    /// Runs SQL with `psql`; what it printed (unaligned, tuples only).
    pub fn sql(&self, sql: &str) -> String {
        self.cluster
            .sql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}
