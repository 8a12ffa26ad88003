//! `alga-wf payload-schemas set|list|delete`: the payload schema registry from the command
//! line, for an operator with the database (the API's `/api/workflow-payload-schemas` does the
//! same for a tenant's publishers).

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use super::{DatabaseArgs, print_json, read_json};

/// What `alga-wf payload-schemas` does.
#[derive(Debug, clap::Subcommand)]
pub enum SchemasAction {
    /// Register (or replace) the tenant's JSON Schema for a `payloadSchemaRef`.
    Set {
        /// The tenant (a uuid).
        #[arg(long)]
        tenant: String,
        /// The ref definitions name, e.g. payload.TicketCreated.v1.
        schema_ref: String,
        /// A file holding the JSON Schema document.
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the schemas a tenant sees (its own and the system's).
    List {
        /// The tenant (a uuid).
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove the tenant's own schema for a ref.
    Delete {
        /// The tenant (a uuid).
        #[arg(long)]
        tenant: String,
        /// The ref.
        schema_ref: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn tenant(value: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(value).with_context(|| format!("--tenant `{value}` is not a uuid"))
}

/// Runs `alga-wf payload-schemas ACTION`.
pub async fn run(action: &SchemasAction) -> anyhow::Result<u8> {
    match action {
        SchemasAction::Set {
            tenant: t,
            schema_ref,
            file,
            database,
        } => {
            let tenant = tenant(t)?;
            let schema = read_json(file)?;
            crate::usecases::payload_schemas::usable(&schema)
                .map_err(|reason| anyhow::anyhow!("{}: {reason}", file.display()))?;
            let store = database.connect().await?;
            let created = store
                .save_payload_schema(tenant, schema_ref, &schema)
                .await?;
            print_json(&json!({"schemaRef": schema_ref, "created": created}));
        }
        SchemasAction::List {
            tenant: t,
            database,
        } => {
            let store = database.connect().await?;
            let schemas = store.payload_schemas(tenant(t)?).await?;
            let listed: Vec<_> = schemas
                .into_iter()
                .map(|s| json!({"schemaRef": s.schema_ref, "scope": s.scope, "updatedAt": s.updated_at}))
                .collect();
            print_json(&json!({"schemas": listed}));
        }
        SchemasAction::Delete {
            tenant: t,
            schema_ref,
            database,
        } => {
            let store = database.connect().await?;
            store.delete_payload_schema(tenant(t)?, schema_ref).await?;
            print_json(&json!({"ok": true}));
        }
    }
    Ok(0)
}
