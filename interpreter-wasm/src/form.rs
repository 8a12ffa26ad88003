//! Human-task responses checked against the task type's form schema (JSON Schema, by `boon`),
//! inside the interpreter so the decision is part of the run's deterministic history.

use serde_json::Value;

/// Where the schema is registered while it is compiled (no file or network is ever read).
const SCHEMA_LOCATION: &str = "urn:alga:task-form";

/// Validates `response` against `schema`. `Ok` carries the problems found (empty when the
/// response is valid), each naming where it is; `Err` means the schema itself is unusable.
pub fn check(schema: &Value, response: &Value) -> Result<Vec<String>, String> {
    let mut compiler = boon::Compiler::new();
    let mut schemas = boon::Schemas::new();
    compiler
        .add_resource(SCHEMA_LOCATION, schema.clone())
        .map_err(|e| format!("invalid form schema: {e}"))?;
    let index = compiler
        .compile(SCHEMA_LOCATION, &mut schemas)
        .map_err(|e| format!("invalid form schema: {e}"))?;
    let Err(error) = schemas.validate(response, index) else {
        return Ok(Vec::new());
    };
    let mut problems = Vec::new();
    collect(&error, &mut problems);
    problems.sort();
    problems.dedup();
    Ok(problems)
}

fn collect(error: &boon::ValidationError<'_, '_>, problems: &mut Vec<String>) {
    if error.causes.is_empty() {
        let at = error.instance_location.to_string();
        let at = if at.is_empty() { "/".to_owned() } else { at };
        problems.push(format!("{at}: {}", error.kind));
    }
    for cause in &error.causes {
        collect(cause, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    #[test]
    fn reports_each_problem_with_its_location() {
        let schema = json!({"type": "object", "required": ["approved"],
            "properties": {"approved": {"type": "boolean"}, "note": {"type": "string", "maxLength": 3}}});
        assert!(
            check(&schema, &json!({"approved": true}))
                .unwrap()
                .is_empty()
        );
        let problems = check(&schema, &json!({"note": "toolong"})).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("/note")),
            "{problems:?}"
        );
        assert!(check(&json!({"type": 7}), &json!({})).is_err());
    }
}
