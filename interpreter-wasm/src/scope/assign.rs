//! Assignment targets: where an authored path writes (dsl-semantics §6.2 and §6.4).

/// A scope a target writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeName {
    /// `payload`.
    Payload,
    /// `vars`.
    Vars,
    /// The top loop scope (or vars outside loops).
    Local,
    /// `meta` (node paths only).
    Meta,
    /// `error` (node paths only).
    Error,
}

/// Why a path cannot be assigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    /// `__proto__`, `prototype` or `constructor`.
    #[error("assignment path `{0}` uses a forbidden segment (__proto__, prototype, constructor)")]
    Forbidden(String),
    /// Not scoped where a scope is required.
    #[error(
        "assignment path `{0}` must be scoped: start with payload., vars., meta., error. or a /json/pointer"
    )]
    Unscoped(String),
    /// Names a scope but no field in it.
    #[error("assignment path `{0}` names no field")]
    Empty(String),
}

const FORBIDDEN: &[&str] = &["__proto__", "prototype", "constructor"];

/// Splits a path into segments: a JSON pointer (`/a/b~1c`) or a dotted path (`a.b`).
fn segments(path: &str) -> Vec<String> {
    match path.strip_prefix('/') {
        Some(pointer) => pointer
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
        None => path.split('.').map(str::to_owned).collect(),
    }
}

fn check_forbidden(path: &str, segments: &[String]) -> Result<(), AssignError> {
    if segments.iter().any(|s| FORBIDDEN.contains(&s.as_str())) {
        return Err(AssignError::Forbidden(path.to_owned()));
    }
    Ok(())
}

/// A target of the interpreter's assignment path: `saveAs`, wait and human-task `assign`,
/// callWorkflow `outputMapping`, `captureErrorAs`, loop variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterTarget {
    /// Scope written.
    pub scope: ScopeName,
    /// Field path inside the scope.
    pub segments: Vec<String>,
}

impl InterpreterTarget {
    /// Resolves `path`: `vars.a`, `payload.a`, `local.a`; `meta.a` → vars.a and `error.a` →
    /// vars.error.a as in the reference engine; anything else lands in vars; `""` is `vars.vars`.
    pub fn parse(path: &str) -> Result<Self, AssignError> {
        let mut segs = if path.is_empty() {
            vec!["vars".to_owned()]
        } else {
            segments(path)
        };
        check_forbidden(path, &segs)?;
        let (scope, rest) = match segs.first().map(String::as_str) {
            Some("vars") if path.is_empty() => (ScopeName::Vars, segs),
            Some("vars" | "meta") => (ScopeName::Vars, segs.split_off(1)),
            Some("payload") => (ScopeName::Payload, segs.split_off(1)),
            Some("local") => (ScopeName::Local, segs.split_off(1)),
            _ => (ScopeName::Vars, segs),
        };
        if rest.is_empty() || rest.iter().any(String::is_empty) {
            return Err(AssignError::Empty(path.to_owned()));
        }
        Ok(InterpreterTarget {
            scope,
            segments: rest,
        })
    }
}

/// A target of a node handler's assignment (`transform.assign`): scoped paths only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTarget {
    /// Scope written.
    pub scope: ScopeName,
    /// Field path inside the scope.
    pub segments: Vec<String>,
}

impl NodeTarget {
    /// Resolves `payload.a`, `vars.a`, `meta.a`, `error.a`, or a JSON pointer into payload.
    pub fn parse(path: &str) -> Result<Self, AssignError> {
        let mut segs = segments(path);
        check_forbidden(path, &segs)?;
        let scope = if path.starts_with('/') {
            ScopeName::Payload
        } else {
            let scope = match segs.first().map(String::as_str) {
                Some("payload") => ScopeName::Payload,
                Some("vars") => ScopeName::Vars,
                Some("meta") => ScopeName::Meta,
                Some("error") => ScopeName::Error,
                _ => return Err(AssignError::Unscoped(path.to_owned())),
            };
            segs.remove(0);
            scope
        };
        if segs.is_empty() || segs.iter().any(String::is_empty) {
            return Err(AssignError::Empty(path.to_owned()));
        }
        Ok(NodeTarget {
            scope,
            segments: segs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(path: &str) -> (ScopeName, Vec<String>) {
        let t = InterpreterTarget::parse(path).unwrap();
        (t.scope, t.segments)
    }

    #[test]
    fn interpreter_paths_follow_the_reference_rules() {
        use ScopeName::*;
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(it("vars.a.b"), (Vars, s(&["a", "b"])));
        assert_eq!(it("payload.a"), (Payload, s(&["a"])));
        assert_eq!(it("local.a"), (Local, s(&["a"])));
        assert_eq!(it("meta.a"), (Vars, s(&["a"])));
        assert_eq!(it("error.a"), (Vars, s(&["error", "a"])));
        assert_eq!(it("a.b"), (Vars, s(&["a", "b"])));
        assert_eq!(it("/x/y~1z"), (Vars, s(&["x", "y/z"])));
        assert_eq!(it("/payload/x"), (Payload, s(&["x"])));
        assert_eq!(it(""), (Vars, s(&["vars"])));
        assert!(InterpreterTarget::parse("a.__proto__").is_err());
    }

    #[test]
    fn node_paths_must_be_scoped() {
        assert_eq!(NodeTarget::parse("meta.x").unwrap().scope, ScopeName::Meta);
        assert_eq!(NodeTarget::parse("/a").unwrap().scope, ScopeName::Payload);
        assert!(matches!(
            NodeTarget::parse("x.y"),
            Err(AssignError::Unscoped(_))
        ));
        assert!(matches!(
            NodeTarget::parse("vars."),
            Err(AssignError::Empty(_))
        ));
    }
}
