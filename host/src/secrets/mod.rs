//! `{"$secret": NAME}` references in an action's input: resolved inside the activity just
//! before the action runs, for the run's own tenant only, and scrubbed from whatever the action
//! returns, so plaintext never enters the run's history, the ledger, the read model or a log.
//!
//! Where values come from is a [`SecretStore`]; the first backend is the worker's environment
//! ([`EnvironmentSecrets`]). A secrets manager plugs in by implementing the trait.

mod environment;
mod redact;

use std::sync::Arc;

use alga_interpreter::definition::secret_name_problem;
use alga_protocol::error::{Failure, category};
use serde_json::{Map, Value, json};

pub use environment::EnvironmentSecrets;
pub use redact::Redactor;

/// Why a backend could not answer (as opposed to "no such secret").
#[derive(Debug, thiserror::Error)]
#[error("the secret store is unavailable: {0}")]
pub struct SecretStoreError(pub String);

/// Where secret values come from.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The value of `name` for a run of `tenant` (`None`: a run without a tenant). `name` has
    /// passed [`secret_name_problem`]. A backend answers only from `tenant`'s own secrets and
    /// the set an operator shares on purpose, never from another tenant's.
    fn lookup(&self, tenant: Option<&str>, name: &str) -> Result<Option<String>, SecretStoreError>;

    /// How an operator provides `name` for `tenant`, for the error that says it is missing.
    fn how_to_set(&self, tenant: Option<&str>, name: &str) -> String;
}

/// A shared handle to the worker's secret store.
pub type Secrets = Arc<dyn SecretStore>;

/// An action input with its secrets resolved, and the redactor for what the action returns.
#[derive(Debug)]
pub struct Resolved {
    /// The input, references replaced by values.
    pub input: Value,
    /// Replaces every value resolved here (and its common encodings) by `[secret:NAME]`.
    pub redactor: Redactor,
}

/// `input` with every secret reference replaced by `tenant`'s value. A missing or invalid name
/// is a `ValidationError` (`SECRET_NOT_FOUND`) naming it and where it is in the input; a backend
/// that cannot answer is a `TransientError`.
pub fn resolve(
    store: &dyn SecretStore,
    input: &Value,
    tenant: Option<&str>,
) -> Result<Resolved, Failure> {
    let mut redactor = Redactor::default();
    let input = resolve_at(store, input, tenant, "", &mut redactor)?;
    Ok(Resolved { input, redactor })
}

fn resolve_at(
    store: &dyn SecretStore,
    value: &Value,
    tenant: Option<&str>,
    pointer: &str,
    redactor: &mut Redactor,
) -> Result<Value, Failure> {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(name)) = map.get("$secret")
            {
                let secret = lookup(store, tenant, name, pointer)?;
                redactor.add(name, &secret);
                return Ok(Value::String(secret));
            }
            let mut out = Map::new();
            for (key, item) in map {
                let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.insert(
                    key.clone(),
                    resolve_at(store, item, tenant, &child, redactor)?,
                );
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| resolve_at(store, item, tenant, &format!("{pointer}/{i}"), redactor))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn lookup(
    store: &dyn SecretStore,
    tenant: Option<&str>,
    name: &str,
    pointer: &str,
) -> Result<String, Failure> {
    let not_found = |why: String| {
        Failure::new(
            category::VALIDATION,
            format!("secret `{name}` (at input{pointer}) {why}"),
        )
        .with_code("SECRET_NOT_FOUND")
        .with_details(json!({"secret": name, "path": pointer}))
    };
    // A definition stored before the validator knew this rule still cannot reach across.
    if let Some(problem) = secret_name_problem(name) {
        return Err(not_found(format!("is not a valid name: {problem}")));
    }
    match store.lookup(tenant, name) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(not_found(format!(
            "is not configured: {}",
            store.how_to_set(tenant, name)
        ))),
        Err(e) => Err(Failure::new(category::TRANSIENT, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed;

    impl SecretStore for Fixed {
        fn lookup(
            &self,
            tenant: Option<&str>,
            name: &str,
        ) -> Result<Option<String>, SecretStoreError> {
            Ok((tenant == Some("t1") && name == "smtp-key").then(|| "tenant's own".to_owned()))
        }
        fn how_to_set(&self, _: Option<&str>, name: &str) -> String {
            format!("set {name}")
        }
    }

    #[test]
    fn references_resolve_and_missing_ones_name_their_place() {
        let input = json!({"auth": {"$secret": "smtp-key"}, "list": [{"$secret": "smtp-key"}]});
        let resolved = resolve(&Fixed, &input, Some("t1")).unwrap();
        assert_eq!(
            resolved.input,
            json!({"auth": "tenant's own", "list": ["tenant's own"]})
        );
        let missing = resolve(&Fixed, &input, Some("t2")).unwrap_err();
        assert_eq!(missing.code.as_deref(), Some("SECRET_NOT_FOUND"));
        assert!(
            missing.message.contains("input/auth"),
            "{}",
            missing.message
        );
        let spelled = json!({"a": [{"$secret": "bbbbbbbb-0000-4000-8000-000000000002_smtp"}]});
        let refused = resolve(&Fixed, &spelled, Some("t1")).unwrap_err();
        assert_eq!(refused.code.as_deref(), Some("SECRET_NOT_FOUND"));
        assert!(refused.message.contains("input/a/0"), "{}", refused.message);
    }
}
