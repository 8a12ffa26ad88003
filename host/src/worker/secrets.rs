//! `{"$secret": NAME}` references in an action's input, resolved inside the activity just
//! before the action runs, so plaintext never enters the run's history or the ledger.
//!
//! The provider is the worker's environment: `ALGA_WF_SECRET_<TENANT>_<NAME>` for a tenant's
//! own value, else `ALGA_WF_SECRET_<NAME>` (names upper-cased, other characters `_`).

use alga_interpreter::error::{Failure, category};
use serde_json::{Map, Value, json};

/// The environment variable that holds `name` (for `tenant`, when given).
fn variable(tenant: Option<&str>, name: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    match tenant {
        Some(tenant) => format!("ALGA_WF_SECRET_{}_{}", clean(tenant), clean(name)),
        None => format!("ALGA_WF_SECRET_{}", clean(name)),
    }
}

fn lookup(tenant: Option<&str>, name: &str) -> Option<String> {
    tenant
        .and_then(|t| std::env::var(variable(Some(t), name)).ok())
        .or_else(|| std::env::var(variable(None, name)).ok())
}

/// `input` with every secret reference replaced by its value; a missing secret is a
/// `ValidationError` naming it and where it is in the input.
pub fn resolve(input: &Value, tenant: Option<&str>) -> Result<Value, Failure> {
    resolve_at(input, tenant, "")
}

fn resolve_at(value: &Value, tenant: Option<&str>, pointer: &str) -> Result<Value, Failure> {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(name)) = map.get("$secret")
            {
                return lookup(tenant, name).map(Value::String).ok_or_else(|| {
                    Failure::new(
                        category::VALIDATION,
                        format!(
                            "secret `{name}` (at input{pointer}) is not configured: set {}",
                            variable(None, name)
                        ),
                    )
                    .with_code("SECRET_NOT_FOUND")
                    .with_details(json!({"secret": name, "path": pointer}))
                });
            }
            let mut out = Map::new();
            for (key, item) in map {
                let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.insert(key.clone(), resolve_at(item, tenant, &child)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| resolve_at(item, tenant, &format!("{pointer}/{i}")))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_and_missing_ones_name_their_place() {
        // SAFETY: this test is the only one in the crate that touches these variables.
        unsafe {
            std::env::set_var("ALGA_WF_SECRET_SMTP_KEY", "shared");
            std::env::set_var("ALGA_WF_SECRET_T1_SMTP_KEY", "tenant's own");
        }
        let input = json!({"auth": {"$secret": "smtp-key"}, "list": [{"$secret": "smtp-key"}]});
        assert_eq!(
            resolve(&input, None).unwrap(),
            json!({"auth": "shared", "list": ["shared"]})
        );
        assert_eq!(resolve(&input, Some("t1")).unwrap()["auth"], "tenant's own");
        let missing = resolve(&json!({"a": [{"$secret": "nope"}]}), None).unwrap_err();
        assert_eq!(missing.code.as_deref(), Some("SECRET_NOT_FOUND"));
        assert!(missing.message.contains("input/a/0"), "{}", missing.message);
    }
}
