//! The first secret backend: the worker's environment, read once at start.
//!
//! A tenant's secret `NAME` is `ALGA_WF_SECRET_<TENANT>_<NAME>` (the tenant's uuid and the name
//! upper-cased, other characters `_`). There is no fallback to another variable: a name that
//! could spell another tenant's prefix is refused before the lookup, and tenant ids are uuids
//! of one length, so no two (tenant, name) pairs share a variable. Secrets every tenant may
//! read are an explicit list (`--shared-secret NAME`), found at `ALGA_WF_SECRET_<NAME>`; a
//! tenant's own value of a shared name wins.

use std::collections::{BTreeMap, BTreeSet};

use alga_interpreter::definition::secret_name_problem;

use super::{SecretStore, SecretStoreError};

/// Prefix of every secret variable.
pub const PREFIX: &str = "ALGA_WF_SECRET_";

/// Secrets from environment variables.
pub struct EnvironmentSecrets {
    values: BTreeMap<String, String>,
    shared: BTreeSet<String>,
}

impl std::fmt::Debug for EnvironmentSecrets {
    // Names only: a log or panic message must never carry a value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentSecrets")
            .field("variables", &self.values.keys().collect::<Vec<_>>())
            .field("shared", &self.shared)
            .finish()
    }
}

impl EnvironmentSecrets {
    /// No secrets at all.
    pub fn none() -> Self {
        EnvironmentSecrets {
            values: BTreeMap::new(),
            shared: BTreeSet::new(),
        }
    }

    /// The process's `ALGA_WF_SECRET_*` variables, with `shared` names readable by every
    /// tenant. A shared name must be a valid secret name.
    pub fn from_process(shared: &[String]) -> Result<Self, String> {
        Self::from_variables(std::env::vars(), shared)
    }

    /// Secrets from `variables` (name, value pairs; others than `ALGA_WF_SECRET_*` ignored).
    pub fn from_variables(
        variables: impl IntoIterator<Item = (String, String)>,
        shared: &[String],
    ) -> Result<Self, String> {
        for name in shared {
            if let Some(problem) = secret_name_problem(name) {
                return Err(format!("--shared-secret `{name}`: {problem}"));
            }
        }
        Ok(EnvironmentSecrets {
            values: variables
                .into_iter()
                .filter(|(name, _)| name.starts_with(PREFIX))
                .collect(),
            shared: shared.iter().cloned().collect(),
        })
    }
}

/// The variable for `name` of `tenant`, or the shared variable when `tenant` is `None`.
pub fn variable(tenant: Option<&str>, name: &str) -> String {
    match tenant {
        Some(tenant) => format!("{PREFIX}{}_{}", clean(tenant), clean(name)),
        None => format!("{PREFIX}{}", clean(name)),
    }
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl SecretStore for EnvironmentSecrets {
    fn lookup(&self, tenant: Option<&str>, name: &str) -> Result<Option<String>, SecretStoreError> {
        let own = tenant.and_then(|t| self.values.get(&variable(Some(t), name)));
        let shared = || {
            self.shared
                .contains(name)
                .then(|| self.values.get(&variable(None, name)))
                .flatten()
        };
        Ok(own.or_else(shared).cloned())
    }

    fn how_to_set(&self, tenant: Option<&str>, name: &str) -> String {
        match tenant {
            Some(tenant) => format!(
                "set {} in the worker's environment",
                variable(Some(tenant), name)
            ),
            None => format!(
                "a run without a tenant reads shared secrets only: set {} and pass --shared-secret {name}",
                variable(None, name)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";

    fn store(shared: &[&str]) -> EnvironmentSecrets {
        let vars = [
            (variable(Some(B), "smtp"), "hunter2"),
            (variable(Some(A), "own"), "a's own"),
            (variable(None, "global"), "everyone's"),
            (variable(None, "unlisted"), "nobody's"),
            ("PATH".to_owned(), "/bin"),
        ];
        let shared: Vec<String> = shared.iter().map(|s| s.to_string()).collect();
        EnvironmentSecrets::from_variables(
            vars.into_iter().map(|(k, v)| (k, v.to_owned())),
            &shared,
        )
        .unwrap()
    }

    #[test]
    fn a_tenant_reads_its_own_and_the_shared_set_only() {
        let store = store(&["global"]);
        assert_eq!(
            store.lookup(Some(A), "own").unwrap().as_deref(),
            Some("a's own")
        );
        assert_eq!(store.lookup(Some(A), "smtp").unwrap(), None);
        assert_eq!(
            store.lookup(Some(B), "smtp").unwrap().as_deref(),
            Some("hunter2")
        );
        assert_eq!(
            store.lookup(Some(A), "global").unwrap().as_deref(),
            Some("everyone's")
        );
        assert_eq!(
            store.lookup(None, "global").unwrap().as_deref(),
            Some("everyone's")
        );
        // Set in the environment but not listed: not a fallback.
        assert_eq!(store.lookup(Some(A), "unlisted").unwrap(), None);
        assert_eq!(store.lookup(None, "own").unwrap(), None);
        assert!(!format!("{store:?}").contains("hunter2"));
    }

    #[test]
    fn shared_names_obey_the_grammar() {
        let refused = EnvironmentSecrets::from_variables([], &[format!("{B}_smtp")]);
        assert!(refused.is_err());
    }
}
