//! API keys: a key is shown once when created and stored only as its blake3 hash, bound to a
//! tenant and a role.

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

impl Store {
    /// Creates a key; the only time its plaintext exists outside the caller.
    pub async fn create_api_key(
        &self,
        tenant: Uuid,
        name: &str,
        role: Role,
    ) -> Result<String, StoreError> {
        let key = format!("awf_{}", Uuid::new_v4().simple());
        sqlx::query(
            "INSERT INTO workflow_api_keys (key_id, tenant, name, key_hash, role)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(tenant)
        .bind(name)
        .bind(hash(&key))
        .bind(role.as_str())
        .execute(self.pool())
        .await
        .context(format!("creating API key `{name}`"))?;
        Ok(key)
    }

    /// The principal of a presented key, if it is a live one.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT key_id, tenant, role FROM workflow_api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash(key))
        .fetch_optional(self.pool())
        .await
        .context("checking an API key")?;
        Ok(row.and_then(|(key_id, tenant, role)| {
            Role::parse(&role).map(|role| Principal {
                key_id,
                tenant,
                role,
            })
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
