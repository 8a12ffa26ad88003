//! Payloads checked against their schema: a run's payload must satisfy the JSON Schema its
//! pinned definition's `payloadSchemaRef` names in the registry (the tenant's own, else the
//! system's), at every start, whichever way it comes (the API, the CLI, an event's trigger after
//! its mapping, replay and redrive), and a schedule's payload when it is made and when a new
//! version of its workflow is published. A ref nobody registered is not checked: publishing
//! warns about it (`PAYLOAD_SCHEMA_REF_UNKNOWN`).

use serde_json::Value;
use thiserror::Error;
use uuid::Uuid;

use crate::store::{Store, StoreError};

/// Why a payload or a schema was refused.
#[derive(Debug, Error)]
pub enum PayloadError {
    /// The payload breaks its schema: every problem, each with its path (`/email/from: ...`).
    #[error("the payload does not match {schema_ref}: {}", problems.join("; "))]
    Invalid {
        /// The schema's ref.
        schema_ref: String,
        /// Every problem, with where it is.
        problems: Vec<String>,
    },
    /// A registered schema cannot be compiled (it was stored before it could be checked).
    #[error("payload schema {schema_ref} is unusable: {reason}")]
    Unusable {
        /// The schema's ref.
        schema_ref: String,
        /// What the compiler said.
        reason: String,
    },
    /// The registry could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ref a definition names, if any.
pub fn schema_ref(definition: &Value) -> Option<&str> {
    definition.get("payloadSchemaRef").and_then(Value::as_str)
}

/// Checks `payload` against the schema `definition` names for `tenant`; a ref with no schema
/// registered passes.
pub async fn check(
    store: &Store,
    tenant: Option<Uuid>,
    definition: &Value,
    payload: &Value,
) -> Result<(), PayloadError> {
    let Some(schema_ref) = schema_ref(definition) else {
        return Ok(());
    };
    let Some(registered) = store.payload_schema(tenant, schema_ref).await? else {
        return Ok(());
    };
    let problems =
        alga_interpreter::form::check(&registered.schema, payload).map_err(|reason| {
            PayloadError::Unusable {
                schema_ref: schema_ref.to_owned(),
                reason,
            }
        })?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PayloadError::Invalid {
            schema_ref: schema_ref.to_owned(),
            problems,
        })
    }
}

/// Whether `schema` is a JSON Schema document this runtime can check payloads with.
pub fn usable(schema: &Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("a schema must be a JSON object".into());
    }
    alga_interpreter::form::check(schema, &Value::Null).map(drop)
}
