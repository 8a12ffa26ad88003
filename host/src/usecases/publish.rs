//! Publishing a definition, the one way the API and the CLI both do it: a definition that
//! passes the checks `validate` makes is stored as an immutable version, and a new version moves
//! the workflow's schedules onto it. Each caller brings what it has: the API its Temporal
//! client, the CLI a connection it opens only when there are schedules to move.

use alga_protocol::KnownAction;
use alga_protocol::{Issue, Severity};
use serde_json::Value;
use uuid::Uuid;

use crate::engine::{EngineError, InterpreterEngine};
use crate::store::{Published, Store, StoreError};

/// A published version, with what came of moving its schedules.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The stored version (`created` false when this exact version was already published).
    pub published: Published,
    /// The definition's hash, as runs pin it.
    pub definition_hash: String,
    /// Warnings the checks raised (they do not stop publishing).
    pub warnings: Vec<Issue>,
    /// Schedules that could not move onto the new version (each is marked `failed`).
    pub schedule_problems: Vec<String>,
}

/// Why a definition was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The checks refused it: every error and warning, with its path.
    #[error("the definition is invalid ({} errors)", errors.len())]
    Invalid {
        /// What must change.
        errors: Vec<Issue>,
        /// What may.
        warnings: Vec<Issue>,
    },
    /// The interpreter could not check it.
    #[error("checking the definition: {0}")]
    Check(#[from] EngineError),
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The schedules could not be reached (Temporal away).
    #[error("moving the workflow's schedules: {0:#}")]
    Schedules(anyhow::Error),
}

/// The checks publishing makes (`alga-wf validate`, the API's validate and publish): the
/// definition's issues, split into errors and warnings.
pub fn check(
    checker: &InterpreterEngine,
    known_actions: &[KnownAction],
    definition: &Value,
) -> Result<(Vec<Issue>, Vec<Issue>), EngineError> {
    Ok(checker
        .validate(definition, Some(known_actions))?
        .into_iter()
        .partition(|issue| issue.severity == Severity::Error))
}

/// Checks `definition`, stores it for `tenant`, and on a new version calls `move_schedules`
/// with the tenant and the workflow (a tenant-less definition has no schedules).
pub async fn publish(
    checker: &InterpreterEngine,
    known_actions: &[KnownAction],
    store: &Store,
    tenant: Option<Uuid>,
    definition: &Value,
    move_schedules: impl AsyncFnOnce(Uuid, Uuid) -> anyhow::Result<Vec<String>>,
) -> Result<Publication, PublishError> {
    let (errors, mut warnings) = check(checker, known_actions, definition)?;
    if !errors.is_empty() {
        return Err(PublishError::Invalid { errors, warnings });
    }
    // Runs are checked against the registered schema; one nobody registered checks nothing.
    if let Some(schema_ref) = crate::usecases::payload_schemas::schema_ref(definition)
        && store.payload_schema(tenant, schema_ref).await?.is_none()
    {
        warnings.push(Issue::warning(
            "PAYLOAD_SCHEMA_REF_UNKNOWN",
            "payloadSchemaRef",
            format!(
                "no payload schema {schema_ref} is registered (PUT \
                 /api/workflow-payload-schemas/{schema_ref}): payloads of its runs are not checked"
            ),
        ));
    }
    let published = store.publish(tenant, definition).await?;
    let schedule_problems = match tenant {
        Some(tenant) if published.created => move_schedules(tenant, published.workflow_id)
            .await
            .map_err(PublishError::Schedules)?,
        _ => Vec::new(),
    };
    Ok(Publication {
        published,
        definition_hash: alga_protocol::canonical::definition_hash(definition),
        warnings,
        schedule_problems,
    })
}
