//! The inbound-email nodes' configs (dsl-semantics §4.5): `{text?, html?, saveAs?}`, strict.

use serde_json::Value;

use super::model::{EmailNode, EmailNodeKind};
use super::reader::{Issue, Obj};
use super::steps::{INVALID_CONFIG, optional_expr};

/// Reads an `email.parseBody` or `email.renderCommentBlocks` config.
pub(super) fn parse_email_node(
    kind: EmailNodeKind,
    config: &Value,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<EmailNode> {
    // The reference's config is optional as a whole: `{}` and a missing config read alike.
    let empty = Value::Object(serde_json::Map::new());
    let config = if config.is_null() { &empty } else { config };
    let obj = Obj::new(config, path, INVALID_CONFIG, issues)?;
    obj.deny_unknown(&["text", "html", "saveAs"], issues);
    let text = optional_expr(&obj, "text", issues);
    let html = optional_expr(&obj, "html", issues);
    let save_as = match obj.get("saveAs") {
        None => kind.default_save_as().to_owned(),
        Some(_) => scoped_save_as(&obj.optional_str("saveAs", issues)?),
    };
    Some(EmailNode {
        kind,
        text,
        html,
        save_as,
    })
}

/// The reference's `normalizeAssignmentPath`: the designer writes bare variable names, which
/// mean `vars.<name>`; scoped paths and JSON pointers stay as they are.
fn scoped_save_as(path: &str) -> String {
    let trimmed = path.trim();
    let scoped = ["payload.", "vars.", "meta.", "error.", "/"]
        .iter()
        .any(|prefix| trimmed.starts_with(prefix));
    if scoped {
        trimmed.to_owned()
    } else {
        format!("vars.{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(kind: EmailNodeKind, config: Value) -> (Option<EmailNode>, Vec<Issue>) {
        let mut issues = Vec::new();
        let node = parse_email_node(kind, &config, "root.steps[0].config", &mut issues);
        (node, issues)
    }

    #[test]
    fn a_bare_name_is_a_variable_and_the_default_target_is_the_payload() {
        let (node, issues) = parse(EmailNodeKind::ParseBody, json!({"saveAs": " parsed "}));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(node.map(|n| n.save_as).as_deref(), Some("vars.parsed"));
        let (node, _) = parse(EmailNodeKind::RenderCommentBlocks, Value::Null);
        assert_eq!(
            node.map(|n| n.save_as).as_deref(),
            Some("payload.commentBlocks")
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused_with_their_path() {
        let (_, issues) = parse(EmailNodeKind::ParseBody, json!({"body": "x"}));
        assert_eq!(issues[0].code, "INVALID_CONFIG");
        let (node, issues) = parse(EmailNodeKind::ParseBody, json!({"saveAs": 3}));
        assert!(node.is_none());
        assert_eq!(issues[0].path, "root.steps[0].config.saveAs");
    }
}
