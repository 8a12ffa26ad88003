//! The grammar of secret names in `{"$secret": NAME}` (dsl-semantics §3.2), one rule for the
//! validator and the host's resolver.
//!
//! A run resolves secrets of its own tenant only, and a host may keep many tenants' secrets in
//! one flat namespace (the environment backend names them `ALGA_WF_SECRET_<TENANT>_<NAME>`). So a
//! name must never be able to spell another tenant's part of that namespace: it may not begin
//! with a tenant id (a UUID, with `-` or `_` between its groups) and may not contain the double
//! underscore a backend could use as a separator. The reference accepts any non-empty string.

/// The longest name accepted.
pub const MAX_SECRET_NAME_LEN: usize = 64;

/// Why `name` is not a valid secret name, or `None` when it is.
pub fn secret_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    if !matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') {
        return Some("a secret name starts with a letter or `_`");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Some("a secret name holds only letters, digits, `_`, `-` and `.`");
    }
    if name.len() > MAX_SECRET_NAME_LEN {
        return Some("a secret name is at most 64 characters");
    }
    if name.contains("__") {
        return Some("a secret name may not contain `__` (a tenant separator)");
    }
    if starts_with_tenant_id(name) {
        return Some(
            "a secret name may not begin with a tenant id: a run reads its own tenant's secrets only",
        );
    }
    None
}

/// Whether `name` begins with a UUID whose groups are joined by `-` or `_` (8-4-4-4-12 hex).
fn starts_with_tenant_id(name: &str) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = name.as_bytes();
    let mut at = 0;
    for (i, len) in GROUPS.iter().enumerate() {
        if i > 0 {
            if !matches!(bytes.get(at), Some(b'-' | b'_')) {
                return false;
            }
            at += 1;
        }
        let Some(group) = bytes.get(at..at + len) else {
            return false;
        };
        if !group.iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        at += len;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_reach_another_tenant() {
        for good in [
            "smtp",
            "SMTP_KEY",
            "_x",
            "smtp.password",
            "api-key-2",
            "deadbeef_key",
        ] {
            assert_eq!(secret_name_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "1key",
            "bbbbbbbb-0000-4000-8000-000000000002_smtp",
            "BBBBBBBB_0000_4000_8000_000000000002_SMTP",
            "bbbbbbbb-0000-4000-8000-000000000002",
            "a__b",
            "with space",
            "ünicode",
            &"k".repeat(65),
        ] {
            assert!(secret_name_problem(bad).is_some(), "{bad}");
        }
    }
}
