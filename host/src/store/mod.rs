//! PostgreSQL: the product's read model (definitions, runs, steps, waits, tasks) and the
//! idempotency ledger, with the product's table and column names
//! (`persistence-and-api.md` §1). Temporal stays the only authority over what a run does; the
//! tables converge from the worker's projection batches.
//!
//! `definitions` publishes and pins versions, `runs` creates and reads run rows, `projections`
//! applies the interpreter's records, `ledger` guards side-effecting actions, `tasks` opens
//! human tasks; `crate::ids` derives the stable row ids that make every write safe to repeat.

mod api_keys;
mod batch;
mod definitions;
mod drafts;
mod events;
mod ledger;
mod logs;
mod payload_schemas;
mod projections;
mod reconcile;
mod run_rows;
mod runs;
mod schedules;
mod storable;
mod task_types;
mod tasks;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use thiserror::Error;

pub use crate::ids::derived_uuid;
pub use api_keys::{ApiKeyInfo, NewApiKey, Principal, Role};
pub use batch::{Batch, Lineage, RunEnd};
pub use definitions::{PinnedDefinition, Published};
pub use drafts::{Definition, DefinitionVersion, SavedDraft, SettingsChange, WorkflowSettings};
pub use events::{EventRecord, NewEvent, Recorded, RunAddress, StoredEvent};
pub use ledger::{Claim, LedgerEntry};
pub use logs::{AuditEntry, AuditRecord, RunLogLine};
pub use payload_schemas::PayloadSchema;
pub use run_rows::{ActionInvocation, Run, RunStep, RunView, RunWait};
pub use runs::{FiredRun, NewRun, PendingStart, RelaunchSource, run_uuid};
pub use schedules::ScheduleRow;
pub use storable::storable_text;
pub use task_types::TaskType;
pub use tasks::{NewTask, OpenedTask, TaskFilter, TaskRow, TaskView};

/// How long a request waits for a connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The longest any one statement may run.
const STATEMENT_TIMEOUT: &str = "15s";

/// What can go wrong talking to the database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("{context}: {source}")]
    Database {
        /// What we were doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the migrations failed.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Input that cannot be stored (names the field).
    #[error("{0}")]
    Invalid(String),
    /// A row the operation needs is not there.
    #[error("{0}")]
    NotFound(String),
    /// A limit the operator set refuses it (a workflow's `concurrencyLimit`).
    #[error("{0}")]
    AtLimit(String),
}

/// Whether a database failure is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The database is unreachable, busy or failed (connection refused or reset, pool timeout,
    /// serialization failure): the same request may succeed later.
    Transient,
    /// PostgreSQL refused a value (SQLSTATE class 22: a NUL in text, a string too long, a
    /// malformed number): the same request fails the same way forever.
    RejectedValue,
    /// The data breaks a constraint (SQLSTATE class 23): also permanent.
    Constraint,
}

impl StoreError {
    /// Whether the database refused the operation for breaking the constraint `name`.
    pub fn violates(&self, name: &str) -> bool {
        matches!(self, StoreError::Database { source: sqlx::Error::Database(db), .. }
            if db.constraint() == Some(name))
    }

    /// Classifies the failure once, for every caller (API status, retry decisions).
    pub fn class(&self) -> FailureClass {
        if let StoreError::AtLimit(_) = self {
            return FailureClass::Constraint;
        }
        let StoreError::Database {
            source: sqlx::Error::Database(db),
            ..
        } = self
        else {
            return FailureClass::Transient;
        };
        match db.code().as_deref().map(|code| code.get(..2)) {
            Some(Some("22")) => FailureClass::RejectedValue,
            Some(Some("23")) => FailureClass::Constraint,
            _ => FailureClass::Transient,
        }
    }
}

/// Adds context to a driver error.
pub(crate) trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, context: impl Into<String>) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database {
            context: context.into(),
            source,
        })
    }
}

/// The database: a connection pool on a migrated schema.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects to `url` and applies the migrations in `migrations/`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let context = || format!("connecting to PostgreSQL at {}", redact_url(url));
        let options: PgConnectOptions = url.parse().context(context())?;
        // No statement may hold a connection for long, so a stuck database frees the pool.
        let options = options.options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // While the database is away, callers hear so in seconds (the API's 503, a
            // workflow task that fails and is retried) instead of sqlx's default 30 s.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .context(context())?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .context("pinging the database")?;
        Ok(())
    }

    /// The pool, for the modules of this one.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Parses an optional tenant id (the tables key tenants by uuid).
pub fn tenant_uuid(tenant: Option<&str>) -> Result<Option<uuid::Uuid>, StoreError> {
    tenant
        .map(|t| {
            uuid::Uuid::parse_str(t)
                .map_err(|_| StoreError::Invalid(format!("tenant `{t}` is not a uuid")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact_url("postgres://alga:secret@127.0.0.1:5432/db"),
            "postgres://alga:***@127.0.0.1:5432/db"
        );
        assert_eq!(
            redact_url("postgres://127.0.0.1/db"),
            "postgres://127.0.0.1/db"
        );
    }
}
