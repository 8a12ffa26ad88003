//! Parsing of the definition, its trigger and every step type.
//!
//! Over 600 lines: one short parser per step type, all over the same strict reader and read
//! side by side (a rule for one step type is usually checked against its neighbours').

use serde_json::Value;

use super::email::parse_email_node;
use super::model::*;
use super::reader::{Issue, Obj, SCHEMA, field, index, type_name};

pub(super) const INVALID_CONFIG: &str = "INVALID_CONFIG";
const INVALID_ACTION_CONFIG: &str = "INVALID_ACTION_CONFIG";

/// Node types this runtime executes, beside the dedicated control and wait types.
pub const NODE_TYPES: &[&str] = &[
    "action.call",
    "transform.assign",
    "state.set",
    "human.task",
    "email.parseBody",
    "email.renderCommentBlocks",
];

/// Step types with dedicated schemas.
pub const DEDICATED_TYPES: &[&str] = &[
    "control.if",
    "control.forEach",
    "control.tryCatch",
    "control.callWorkflow",
    "control.return",
    "event.wait",
    "time.wait",
];

pub(super) fn parse_definition(value: &Value, issues: &mut Vec<Issue>) -> Option<Definition> {
    let obj = Obj::new(value, "", SCHEMA, issues)?;
    obj.deny_unknown(
        &[
            "id",
            "version",
            "name",
            "description",
            "payloadSchemaRef",
            "trigger",
            "steps",
        ],
        issues,
    );
    let id = obj.required_str("id", issues);
    let version = obj.required_int("version", 1, issues);
    let name = obj.required_str("name", issues);
    let description = match obj.get("description") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            issues.push(Issue::error(
                SCHEMA,
                "description",
                format!("`description` must be a string, found {}", type_name(other)),
            ));
            None
        }
        None => None,
    };
    let payload_schema_ref = obj.required_str("payloadSchemaRef", issues);
    let trigger = obj.get("trigger").and_then(|t| parse_trigger(t, issues));
    let steps = match obj.get("steps") {
        Some(steps) => parse_block(steps, "steps", &BlockAddr::root(), issues),
        None => {
            issues.push(Issue::error(SCHEMA, "steps", "`steps` is required"));
            Vec::new()
        }
    };
    // Missing top-level fields are reported above; the rest of the model is still built so
    // the step-level checks can run on it.
    Some(Definition {
        id: id.unwrap_or_default(),
        version: version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        name: name.unwrap_or_default(),
        description,
        payload_schema_ref: payload_schema_ref.unwrap_or_default(),
        trigger,
        steps,
    })
}

fn parse_trigger(value: &Value, issues: &mut Vec<Issue>) -> Option<Trigger> {
    let obj = Obj::new(value, "trigger", SCHEMA, issues)?;
    match obj.get("type").and_then(Value::as_str) {
        Some("event") => {
            obj.deny_unknown(
                &[
                    "type",
                    "eventName",
                    "sourcePayloadSchemaRef",
                    "payloadMapping",
                ],
                issues,
            );
            let event_name = obj.required_str("eventName", issues);
            let source = obj.optional_str("sourcePayloadSchemaRef", issues);
            let mapping = obj
                .get("payloadMapping")
                .and_then(|m| parse_mapping(m, &obj.at("payloadMapping"), issues));
            Some(Trigger::Event {
                event_name: event_name?,
                source_payload_schema_ref: source,
                payload_mapping: mapping,
            })
        }
        Some("schedule") => {
            obj.deny_unknown(&["type", "runAt"], issues);
            Some(Trigger::Schedule {
                run_at: obj.required_str("runAt", issues)?,
            })
        }
        Some("recurring") => {
            obj.deny_unknown(&["type", "cron", "timezone"], issues);
            let cron = obj.required_str("cron", issues);
            let timezone = obj.required_str("timezone", issues);
            Some(Trigger::Recurring {
                cron: cron?,
                timezone: timezone?,
            })
        }
        _ => {
            issues.push(Issue::error(
                SCHEMA,
                "trigger.type",
                "`trigger.type` must be one of event, schedule, recurring",
            ));
            None
        }
    }
}

/// Parses a block of steps at field path `path` whose steps live at `addr`.
fn parse_block(value: &Value, path: &str, addr: &BlockAddr, issues: &mut Vec<Issue>) -> Vec<Step> {
    let Value::Array(items) = value else {
        issues.push(Issue::error(
            SCHEMA,
            path,
            format!("expected an array of steps, found {}", type_name(value)),
        ));
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_step(item, &index(path, i), addr, i, issues))
        .collect()
}

fn parse_step(
    value: &Value,
    path: &str,
    addr: &BlockAddr,
    position: usize,
    issues: &mut Vec<Issue>,
) -> Option<Step> {
    let obj = Obj::new(value, path, SCHEMA, issues)?;
    let Some(step_type) = obj.get("type").and_then(Value::as_str).map(str::to_owned) else {
        issues.push(Issue::error(
            SCHEMA,
            obj.at("type"),
            "Step must have a type field",
        ));
        return None;
    };
    let id = obj.required_str("id", issues);
    let child = |branch: Branch| addr.child(position, branch);
    let block = |key: &str, branch: Branch, issues: &mut Vec<Issue>| match obj.get(key) {
        Some(v) => parse_block(v, &obj.at(key), &child(branch), issues),
        None => Vec::new(),
    };
    let (kind, retry, on_error, name) = match step_type.as_str() {
        "control.if" => {
            obj.deny_unknown(&["id", "type", "condition", "then", "else"], issues);
            let condition = required_expr(&obj, "condition", issues);
            require(&obj, "then", issues);
            let then = block("then", Branch::Then, issues);
            let otherwise = block("else", Branch::Else, issues);
            (
                StepKind::If {
                    condition: condition?,
                    then,
                    otherwise,
                },
                None,
                None,
                None,
            )
        }
        "control.forEach" => {
            obj.deny_unknown(
                &[
                    "id",
                    "type",
                    "items",
                    "itemVar",
                    "concurrency",
                    "body",
                    "onItemError",
                ],
                issues,
            );
            let items = required_expr(&obj, "items", issues);
            let item_var = obj.required_str("itemVar", issues);
            if let Some(c) = obj.optional_int("concurrency", 1, issues)
                && c > 1
            {
                issues.push(Issue::error(
                    SCHEMA,
                    obj.at("concurrency"),
                    "control.forEach concurrency > 1 is not supported in Temporal-native runtime v1",
                ));
            }
            require(&obj, "body", issues);
            let body = block("body", Branch::Body, issues);
            let on_item_error = match obj
                .optional_choice("onItemError", &["continue", "fail"], issues)
                .as_deref()
            {
                Some("continue") => ItemErrorPolicy::Continue,
                _ => ItemErrorPolicy::Fail,
            };
            (
                StepKind::ForEach {
                    items: items?,
                    item_var: item_var?,
                    body,
                    on_item_error,
                },
                None,
                None,
                None,
            )
        }
        "control.tryCatch" => {
            obj.deny_unknown(&["id", "type", "try", "catch", "captureErrorAs"], issues);
            require(&obj, "try", issues);
            require(&obj, "catch", issues);
            let try_steps = block("try", Branch::Try, issues);
            let catch_steps = block("catch", Branch::Catch, issues);
            let capture_error_as = obj.optional_str("captureErrorAs", issues);
            (
                StepKind::TryCatch {
                    try_steps,
                    catch_steps,
                    capture_error_as,
                },
                None,
                None,
                None,
            )
        }
        "control.callWorkflow" => {
            obj.deny_unknown(
                &[
                    "id",
                    "type",
                    "workflowId",
                    "workflowVersion",
                    "inputMapping",
                    "outputMapping",
                    "retry",
                    "onError",
                ],
                issues,
            );
            let workflow_id = obj.required_str("workflowId", issues);
            let workflow_version = obj.required_int("workflowVersion", 1, issues);
            let input_mapping = expr_map(&obj, "inputMapping", issues);
            let output_mapping = expr_map(&obj, "outputMapping", issues);
            let retry = parse_retry(&obj, issues);
            let on_error = parse_on_error(&obj, "onError", issues);
            (
                StepKind::CallWorkflow {
                    workflow_id: workflow_id?,
                    workflow_version: u32::try_from(workflow_version?).ok()?,
                    input_mapping,
                    output_mapping,
                },
                retry,
                on_error,
                None,
            )
        }
        "control.return" => {
            obj.deny_unknown(&["id", "type"], issues);
            (StepKind::Return, None, None, None)
        }
        "event.wait" | "time.wait" => {
            obj.deny_unknown(
                &["id", "type", "name", "config", "retry", "onError"],
                issues,
            );
            let name = obj.optional_str("name", issues);
            let retry = parse_retry(&obj, issues);
            let on_error = parse_on_error(&obj, "onError", issues);
            let config_path = obj.at("config");
            let kind = match obj.get("config") {
                None => {
                    issues.push(Issue::error(SCHEMA, &config_path, "`config` is required"));
                    None
                }
                Some(config) if step_type == "event.wait" => {
                    parse_event_wait(config, &config_path, issues).map(StepKind::EventWait)
                }
                Some(config) => {
                    parse_time_wait(config, &config_path, issues).map(StepKind::TimeWait)
                }
            };
            (kind?, retry, on_error, name)
        }
        // The reference's schema refuses these as node steps; its validator then reports them
        // as unknown node types, with a suggestion, and so does this one.
        other if other.starts_with("control.") => {
            let suggestion = suggest(other)
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            issues.push(Issue::error(
                "UNKNOWN_NODE_TYPE",
                obj.at("type"),
                format!("Unknown node type `{other}`: no control step has that name.{suggestion}"),
            ));
            return None;
        }
        _ => {
            obj.deny_unknown(
                &["id", "type", "name", "config", "retry", "onError"],
                issues,
            );
            let name = obj.optional_str("name", issues);
            let retry = parse_retry(&obj, issues);
            let on_error = parse_on_error(&obj, "onError", issues);
            let config = obj.get("config").cloned().unwrap_or(Value::Null);
            let kind = parse_node(&step_type, &config, &obj.at("config"), issues);
            (kind?, retry, on_error, name)
        }
    };
    Some(Step {
        id: id?,
        step_type,
        name,
        retry,
        on_error,
        kind,
    })
}

fn require(obj: &Obj<'_>, key: &str, issues: &mut Vec<Issue>) {
    if obj.get(key).is_none() {
        issues.push(Issue::error(
            obj.code,
            obj.at(key),
            format!("`{key}` is required"),
        ));
    }
}

/// Reads `{"$expr": "..."}`, normalised to its source (extra keys dropped, a missing value is `""`).
pub fn parse_expr(value: &Value, path: &str, code: &str, issues: &mut Vec<Issue>) -> Option<Expr> {
    match value {
        Value::Object(map) if map.contains_key("$expr") => match map.get("$expr") {
            Some(Value::String(source)) => Some(Expr {
                source: source.clone(),
            }),
            Some(Value::Null) => Some(Expr {
                source: String::new(),
            }),
            Some(other) => {
                issues.push(Issue::error(
                    code,
                    field(path, "$expr"),
                    format!("`$expr` must be a string, found {}", type_name(other)),
                ));
                None
            }
            None => None,
        },
        other => {
            issues.push(Issue::error(
                code,
                path,
                format!(
                    "expected an expression object {{\"$expr\": \"...\"}}, found {}",
                    type_name(other)
                ),
            ));
            None
        }
    }
}

fn required_expr(obj: &Obj<'_>, key: &str, issues: &mut Vec<Issue>) -> Option<Expr> {
    match obj.get(key) {
        Some(value) => parse_expr(value, &obj.at(key), obj.code, issues),
        None => {
            issues.push(Issue::error(
                obj.code,
                obj.at(key),
                format!("`{key}` is required"),
            ));
            None
        }
    }
}

pub(super) fn optional_expr(obj: &Obj<'_>, key: &str, issues: &mut Vec<Issue>) -> Option<Expr> {
    obj.get(key)
        .and_then(|value| parse_expr(value, &obj.at(key), obj.code, issues))
}

/// A `Record<string, Expr>` such as an `assign` map or a callWorkflow mapping.
fn expr_map(obj: &Obj<'_>, key: &str, issues: &mut Vec<Issue>) -> Assignments {
    let Some(value) = obj.get(key) else {
        return Vec::new();
    };
    let path = obj.at(key);
    let Some(map) = Obj::new(value, &path, obj.code, issues) else {
        return Vec::new();
    };
    map.map
        .iter()
        .filter_map(|(target, v)| {
            parse_expr(v, &field(&path, target), obj.code, issues).map(|e| (target.clone(), e))
        })
        .collect()
}

/// An input mapping: literals, expressions and secret references at any depth.
pub fn parse_mapping(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<Mapping> {
    let Value::Object(map) = value else {
        issues.push(Issue::error(
            SCHEMA,
            path,
            format!(
                "an input mapping must be an object, found {}",
                type_name(value)
            ),
        ));
        return None;
    };
    Some(
        map.iter()
            .map(|(k, v)| (k.clone(), mapping_value(v, &field(path, k), issues)))
            .collect(),
    )
}

fn mapping_value(value: &Value, path: &str, issues: &mut Vec<Issue>) -> MappingValue {
    match value {
        Value::Object(map) if map.contains_key("$expr") => parse_expr(value, path, SCHEMA, issues)
            .map(MappingValue::Expr)
            .unwrap_or(MappingValue::Literal(Value::Null)),
        Value::Object(map) if map.contains_key("$secret") => {
            if map.len() > 1 {
                issues.push(Issue::error(
                    SCHEMA,
                    path,
                    "a secret reference has exactly one key, `$secret`",
                ));
            }
            let problem = match map.get("$secret") {
                Some(Value::String(name)) => match super::secret_name_problem(name) {
                    None => return MappingValue::Secret(name.clone()),
                    Some(problem) => problem,
                },
                _ => "a secret name is a string",
            };
            let found = map.get("$secret").map(Value::to_string).unwrap_or_default();
            issues.push(Issue::error(
                "INVALID_SECRET_NAME",
                field(path, "$secret"),
                format!("{problem}; found {found}"),
            ));
            MappingValue::Literal(Value::Null)
        }
        Value::Object(map) => {
            for key in map.keys().filter(|k| k.starts_with('$')) {
                issues.push(Issue::error(
                    "UNKNOWN_SPECIAL_KEY",
                    field(path, key),
                    format!("`{key}` is not a special key (use `$expr` or `$secret`)"),
                ));
            }
            MappingValue::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), mapping_value(v, &field(path, k), issues)))
                    .collect(),
            )
        }
        Value::Array(items) => MappingValue::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| mapping_value(v, &index(path, i), issues))
                .collect(),
        ),
        literal => MappingValue::Literal(literal.clone()),
    }
}

fn parse_retry(obj: &Obj<'_>, issues: &mut Vec<Issue>) -> Option<RetryPolicy> {
    let value = obj.get("retry")?;
    let retry = Obj::new(value, &obj.at("retry"), SCHEMA, issues)?;
    retry.deny_unknown(
        &[
            "maxAttempts",
            "backoffMs",
            "backoffMultiplier",
            "jitter",
            "maxDelayMs",
            "retryOn",
        ],
        issues,
    );
    let max_attempts = retry.required_int("maxAttempts", 1, issues);
    let backoff_ms = retry.required_int("backoffMs", 0, issues);
    let backoff_multiplier = match retry.get("backoffMultiplier") {
        None => Some(2.0),
        Some(v) => match v.as_f64() {
            Some(m) if m > 0.0 && m.is_finite() => Some(m),
            _ => {
                issues.push(Issue::error(
                    SCHEMA,
                    retry.at("backoffMultiplier"),
                    format!("`backoffMultiplier` must be a number > 0, found {v}"),
                ));
                None
            }
        },
    };
    let jitter = retry.optional_bool("jitter", issues).unwrap_or(true);
    let max_delay_ms = retry.optional_int("maxDelayMs", 1, issues);
    let retry_on = strings(&retry, "retryOn", issues);
    Some(RetryPolicy {
        max_attempts: u32::try_from(max_attempts?).unwrap_or(u32::MAX),
        backoff_ms: backoff_ms?,
        backoff_multiplier: backoff_multiplier?,
        jitter,
        max_delay_ms,
        retry_on,
    })
}

fn strings(obj: &Obj<'_>, key: &str, issues: &mut Vec<Issue>) -> Vec<String> {
    let Some(items) = obj.optional_array(key, issues) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            Value::String(s) => Some(s.clone()),
            other => {
                issues.push(Issue::error(
                    obj.code,
                    index(&obj.at(key), i),
                    format!("expected a string, found {}", type_name(other)),
                ));
                None
            }
        })
        .collect()
}

fn parse_on_error(obj: &Obj<'_>, key: &str, issues: &mut Vec<Issue>) -> Option<OnErrorPolicy> {
    let value = obj.get(key)?;
    let on_error = Obj::new(value, &obj.at(key), obj.code, issues)?;
    on_error.deny_unknown(&["policy"], issues);
    match on_error
        .optional_choice("policy", &["fail", "continue"], issues)
        .as_deref()
    {
        Some("continue") => Some(OnErrorPolicy::Continue),
        Some(_) => Some(OnErrorPolicy::Fail),
        None => {
            if on_error.get("policy").is_none() {
                issues.push(Issue::error(
                    obj.code,
                    on_error.at("policy"),
                    "`policy` is required",
                ));
            }
            None
        }
    }
}

fn parse_event_wait(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<EventWait> {
    let obj = Obj::new(value, path, SCHEMA, issues)?;
    obj.deny_unknown(
        &[
            "eventName",
            "correlationKey",
            "filters",
            "timeoutMs",
            "assign",
        ],
        issues,
    );
    let event_name = obj.required_str("eventName", issues);
    let correlation_key = required_expr(&obj, "correlationKey", issues);
    let timeout_ms = obj.optional_int("timeoutMs", 1, issues);
    let assign = expr_map(&obj, "assign", issues);
    let filters = obj
        .optional_array("filters", issues)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, f)| parse_filter(f, &index(&obj.at("filters"), i), issues))
                .collect()
        })
        .unwrap_or_default();
    Some(EventWait {
        event_name: event_name?,
        correlation_key: correlation_key?,
        filters,
        timeout_ms,
        assign,
    })
}

const FILTER_OPS: &[&str] = &[
    "=",
    "!=",
    "in",
    "not_in",
    "exists",
    "not_exists",
    ">",
    ">=",
    "<",
    "<=",
    "contains",
    "starts_with",
    "ends_with",
];

fn parse_filter(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<EventFilter> {
    let obj = Obj::new(value, path, SCHEMA, issues)?;
    obj.deny_unknown(&["path", "op", "value"], issues);
    let filter_path = obj.required_str("path", issues);
    let op = match obj.get("op") {
        None => {
            issues.push(Issue::error(SCHEMA, obj.at("op"), "`op` is required"));
            None
        }
        Some(_) => obj.optional_choice("op", FILTER_OPS, issues),
    };
    let operand = obj.get("value").cloned();
    let op = op?;
    let problem = match (op.as_str(), &operand) {
        ("in" | "not_in", Some(Value::Array(_))) => None,
        ("in" | "not_in", _) => Some("requires an array `value`"),
        ("exists" | "not_exists", None) => None,
        ("exists" | "not_exists", Some(_)) => Some("must not have a `value`"),
        ("contains" | "starts_with" | "ends_with", Some(Value::String(_))) => None,
        ("contains" | "starts_with" | "ends_with", _) => Some("requires a string `value`"),
        (_, Some(Value::Array(_) | Value::Object(_)) | None) => {
            Some("requires a scalar `value` (string, number, boolean or null)")
        }
        _ => None,
    };
    if let Some(problem) = problem {
        issues.push(Issue::error(
            SCHEMA,
            obj.at("value"),
            format!("filter operator `{op}` {problem}"),
        ));
        return None;
    }
    Some(EventFilter {
        path: filter_path?,
        op,
        value: operand,
    })
}

fn parse_time_wait(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<TimeWait> {
    let obj = Obj::new(value, path, SCHEMA, issues)?;
    obj.deny_unknown(&["mode", "durationMs", "until", "assign"], issues);
    let mode = match obj.get("mode") {
        None => {
            issues.push(Issue::error(SCHEMA, obj.at("mode"), "`mode` is required"));
            None
        }
        Some(_) => obj.optional_choice("mode", &["duration", "until"], issues),
    };
    let duration = obj.optional_int("durationMs", 1, issues);
    let until = optional_expr(&obj, "until", issues);
    let assign = expr_map(&obj, "assign", issues);
    let mode = match mode?.as_str() {
        "duration" => match duration {
            Some(ms) => TimeWaitMode::Duration(ms),
            None => {
                issues.push(Issue::error(
                    SCHEMA,
                    obj.at("durationMs"),
                    "`durationMs` is required when mode is duration",
                ));
                return None;
            }
        },
        _ => match until {
            Some(expr) => TimeWaitMode::Until(expr),
            None => {
                issues.push(Issue::error(
                    SCHEMA,
                    obj.at("until"),
                    "`until` is required when mode is until",
                ));
                return None;
            }
        },
    };
    Some(TimeWait { mode, assign })
}

fn parse_node(
    node_type: &str,
    config: &Value,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<StepKind> {
    match node_type {
        "action.call" => parse_action_call(config, path, issues).map(StepKind::Action),
        "transform.assign" => {
            let obj = Obj::new(config, path, INVALID_CONFIG, issues)?;
            obj.deny_unknown(&["assign"], issues);
            require(&obj, "assign", issues);
            Some(StepKind::Assign(expr_map(&obj, "assign", issues)))
        }
        "state.set" => {
            let obj = Obj::new(config, path, INVALID_CONFIG, issues)?;
            obj.deny_unknown(&["state"], issues);
            obj.required_str("state", issues).map(StepKind::StateSet)
        }
        "human.task" => {
            let obj = Obj::new(config, path, INVALID_CONFIG, issues)?;
            obj.deny_unknown(
                &["taskType", "title", "description", "contextData", "assign"],
                issues,
            );
            let task_type = obj.required_str("taskType", issues);
            let title = required_expr(&obj, "title", issues);
            let description = optional_expr(&obj, "description", issues);
            let context_data = expr_map(&obj, "contextData", issues);
            let assign = expr_map(&obj, "assign", issues);
            Some(StepKind::HumanTask(HumanTask {
                task_type: task_type?,
                title: title?,
                description,
                context_data,
                assign,
            }))
        }
        "email.parseBody" => {
            parse_email_node(EmailNodeKind::ParseBody, config, path, issues).map(StepKind::Email)
        }
        "email.renderCommentBlocks" => {
            parse_email_node(EmailNodeKind::RenderCommentBlocks, config, path, issues)
                .map(StepKind::Email)
        }
        unknown => {
            let suggestion = suggest(unknown)
                .map(|s| format!(" Did you mean `{s}`?"))
                .unwrap_or_default();
            issues.push(Issue::error(
                "UNKNOWN_NODE_TYPE",
                field(path.trim_end_matches(".config"), "type"),
                format!("Unknown node type `{unknown}`.{suggestion}"),
            ));
            None
        }
    }
}

fn parse_action_call(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<ActionCall> {
    let obj = Obj::new(value, path, INVALID_CONFIG, issues)?;
    obj.deny_unknown(
        &[
            "actionId",
            "version",
            "inputMapping",
            "saveAs",
            "onError",
            "idempotencyKey",
            "outputs",
            "designerGroupKey",
            "designerTileKind",
            "designerAppKey",
            "aiOutputSchemaMode",
            "aiOutputSchema",
            "aiOutputSchemaText",
        ],
        issues,
    );
    let action = Obj {
        code: INVALID_ACTION_CONFIG,
        ..Obj::new(value, path, INVALID_CONFIG, issues)?
    };
    let action_id = action.required_str("actionId", issues);
    let version = action.required_int("version", 1, issues);
    let input_mapping = obj
        .get("inputMapping")
        .and_then(|m| parse_mapping(m, &obj.at("inputMapping"), issues))
        .unwrap_or_default();
    let save_as = match obj.get("saveAs") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            issues.push(Issue::error(
                INVALID_CONFIG,
                obj.at("saveAs"),
                format!("`saveAs` must be a string, found {}", type_name(other)),
            ));
            None
        }
        None => None,
    };
    let on_error = parse_on_error(&obj, "onError", issues);
    let idempotency_key = optional_expr(&obj, "idempotencyKey", issues);
    if let Some(kind) = obj.get("designerTileKind")
        && !matches!(
            kind.as_str(),
            Some("core-object" | "transform" | "app" | "ai")
        )
    {
        issues.push(Issue::error(
            INVALID_CONFIG,
            obj.at("designerTileKind"),
            "`designerTileKind` must be one of core-object, transform, app, ai",
        ));
    }
    Some(ActionCall {
        action_id: action_id?,
        version: u32::try_from(version?).ok()?,
        input_mapping,
        save_as,
        on_error,
        idempotency_key,
        raw_config: value.clone(),
    })
}

/// The closest known step type, for "Did you mean" hints.
fn suggest(unknown: &str) -> Option<&'static str> {
    NODE_TYPES
        .iter()
        .chain(DEDICATED_TYPES)
        .map(|known| (strsim::levenshtein(unknown, known), *known))
        .filter(|(d, known)| *d <= known.len() / 3 + 1)
        .min()
        .map(|(_, known)| known)
}
