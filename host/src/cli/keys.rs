//! `alga-wf api-keys create|list|revoke`: the key lifecycle from the command line, for an
//! operator with the database (the API's `/api/api-keys` does the same for a tenant's admin).

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{DatabaseArgs, print_json};
use crate::store::Role;

/// The key `api-keys create` (and `create-api-key`) makes.
#[derive(Debug, clap::Args)]
pub struct CreateKeyArgs {
    /// The tenant (a uuid).
    #[arg(long)]
    tenant: String,
    /// read, manage, publish or admin.
    #[arg(long, default_value = "admin")]
    role: String,
    /// A name to recognise the key by.
    #[arg(long, default_value = "alga-wf")]
    name: String,
    /// When the key stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z).
    #[arg(long)]
    expires_at: Option<DateTime<Utc>>,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// What `alga-wf api-keys` does.
#[derive(Debug, clap::Subcommand)]
pub enum KeysAction {
    /// Create a key for a tenant; prints it once (only its hash is stored).
    Create(CreateKeyArgs),
    /// List a tenant's keys: name, role, created, last used, expires, revoked.
    List {
        /// The tenant (a uuid).
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key at once.
    Revoke {
        /// The tenant (a uuid).
        #[arg(long)]
        tenant: String,
        /// The key's id (`keyId` in `list`).
        key_id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn uuid(flag: &str, value: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(value).with_context(|| format!("{flag} `{value}` is not a uuid"))
}

/// Runs `alga-wf api-keys ACTION`.
pub async fn run(action: &KeysAction) -> anyhow::Result<u8> {
    match action {
        KeysAction::Create(args) => create(args).await,
        KeysAction::List { tenant, database } => {
            let tenant = uuid("--tenant", tenant)?;
            let store = database.connect().await?;
            let keys = store.list_api_keys(tenant).await?;
            let keys: Vec<_> = keys
                .into_iter()
                .map(|k| {
                    json!({"keyId": k.key_id, "name": k.name, "role": k.role,
                        "createdAt": k.created_at, "lastUsedAt": k.last_used_at,
                        "expiresAt": k.expires_at, "revokedAt": k.revoked_at})
                })
                .collect();
            print_json(&json!({"keys": keys}));
            Ok(0)
        }
        KeysAction::Revoke {
            tenant,
            key_id,
            database,
        } => {
            let (tenant, key_id) = (uuid("--tenant", tenant)?, uuid("key id", key_id)?);
            let store = database.connect().await?;
            store.revoke_api_key(tenant, key_id).await?;
            print_json(&json!({"keyId": key_id, "revoked": true}));
            Ok(0)
        }
    }
}

/// `alga-wf api-keys create` (and its older spelling, `create-api-key`).
pub async fn create(args: &CreateKeyArgs) -> anyhow::Result<u8> {
    let CreateKeyArgs {
        tenant,
        role,
        name,
        expires_at,
        database,
    } = args;
    let expires_at = *expires_at;
    let tenant = uuid("--tenant", tenant)?;
    let role = Role::parse(role).ok_or_else(|| {
        anyhow::anyhow!("--role `{role}` is not one of read, manage, publish, admin")
    })?;
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        anyhow::bail!("--expires-at must be in the future");
    }
    let store = database.connect().await?;
    let made = store
        .create_expiring_api_key(tenant, name, role, expires_at)
        .await?;
    print_json(
        &json!({"key": made.key, "keyId": made.key_id, "tenant": tenant,
        "role": role.as_str(), "expiresAt": expires_at}),
    );
    Ok(0)
}
