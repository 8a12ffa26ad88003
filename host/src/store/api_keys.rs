//! API keys: a key is shown once when created and stored only as its blake3 hash, bound to a
//! tenant and a role.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Context, Store, StoreError};

/// What a key may do (persistence-and-api.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read definitions, runs, events.
    Read,
    /// Also start, cancel, submit events, complete tasks.
    Manage,
    /// Read and publish.
    Publish,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Manage => "manage",
            Role::Publish => "publish",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Role> {
        Some(match name {
            "read" => Role::Read,
            "manage" => Role::Manage,
            "publish" => Role::Publish,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    /// Whether this role satisfies `needed` (read by any; manage by manage or admin; publish
    /// by publish or admin; admin by admin).
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed || needed == Role::Read
    }
}

/// Who a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The key's id (who claimed or completed a task).
    pub key_id: Uuid,
    /// The key's tenant.
    pub tenant: Uuid,
    /// The key's role.
    pub role: Role,
}

fn hash(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

/// A key as its tenant's admin sees it: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyInfo {
    /// The key's id.
    pub key_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role (`read`, `manage`, `publish`, `admin`).
    pub role: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just made: the only time its plaintext exists outside the caller.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The key's id.
    pub key_id: Uuid,
    /// The key to present.
    pub key: String,
}

/// How stale `last_used_at` may get before a request refreshes it.
const LAST_USED_PRECISION_SECS: f64 = 60.0;

impl Store {
    /// Creates a key for `tenant`, valid until `expires_at` when given.
    pub async fn create_api_key(
        &self,
        tenant: Uuid,
        name: &str,
        role: Role,
    ) -> Result<String, StoreError> {
        Ok(self
            .create_expiring_api_key(tenant, name, role, None)
            .await?
            .key)
    }

    /// Creates a key for `tenant` that stops working at `expires_at`, when given.
    pub async fn create_expiring_api_key(
        &self,
        tenant: Uuid,
        name: &str,
        role: Role,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewApiKey, StoreError> {
        let key = format!("awf_{}", Uuid::new_v4().simple());
        let key_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO workflow_api_keys (key_id, tenant, name, key_hash, role, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key_id)
        .bind(tenant)
        .bind(name)
        .bind(hash(&key))
        .bind(role.as_str())
        .bind(expires_at)
        .execute(self.pool())
        .await
        .context(format!("creating API key `{name}`"))?;
        Ok(NewApiKey { key_id, key })
    }

    /// The tenant's keys, newest first (revoked and expired ones included, so an admin sees
    /// what stopped working and when).
    pub async fn list_api_keys(&self, tenant: Uuid) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let keys = sqlx::query_as(
            "SELECT key_id, name, role, created_at, last_used_at, expires_at, revoked_at
             FROM workflow_api_keys WHERE tenant = $1 ORDER BY created_at DESC, key_id",
        )
        .bind(tenant)
        .fetch_all(self.pool())
        .await
        .context("listing API keys")?;
        Ok(keys)
    }

    /// Revokes the tenant's key `key_id` at once (revoking twice changes nothing).
    pub async fn revoke_api_key(&self, tenant: Uuid, key_id: Uuid) -> Result<(), StoreError> {
        let found = sqlx::query(
            "UPDATE workflow_api_keys SET revoked_at = coalesce(revoked_at, now())
             WHERE key_id = $1 AND tenant = $2",
        )
        .bind(key_id)
        .bind(tenant)
        .execute(self.pool())
        .await
        .context("revoking an API key")?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no API key {key_id}")));
        }
        Ok(())
    }

    /// The principal of a presented key, if it is live: not revoked, not expired. Nothing is
    /// cached, so a revocation or expiry holds from the next request on.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<(Uuid, Uuid, String, bool)> = sqlx::query_as(
            "SELECT key_id, tenant, role,
                    last_used_at IS NULL
                      OR last_used_at < now() - make_interval(secs => $2)
             FROM workflow_api_keys
             WHERE key_hash = $1 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > now())",
        )
        .bind(hash(key))
        .bind(LAST_USED_PRECISION_SECS)
        .fetch_optional(self.pool())
        .await
        .context("checking an API key")?;
        let Some((key_id, tenant, role, stale)) = row else {
            return Ok(None);
        };
        if stale {
            sqlx::query("UPDATE workflow_api_keys SET last_used_at = now() WHERE key_id = $1")
                .bind(key_id)
                .execute(self.pool())
                .await
                .context("recording an API key's use")?;
        }
        Ok(Role::parse(&role).map(|role| Principal {
            key_id,
            tenant,
            role,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_follow_the_reference_rule() {
        assert!(Role::Manage.allows(Role::Read));
        assert!(!Role::Read.allows(Role::Manage));
        assert!(!Role::Publish.allows(Role::Manage));
        assert!(!Role::Manage.allows(Role::Publish));
        assert!(Role::Admin.allows(Role::Publish));
        assert!(!Role::Manage.allows(Role::Admin));
    }
}
