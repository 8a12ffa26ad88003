//! The scenario file of `alga-wf simulate` (docs/simulator.md), read strictly: every problem
//! is reported with the field it is in.

use std::collections::BTreeMap;

use alga_protocol::Issue;
use alga_protocol::error::Failure;
use serde_json::{Map, Value};

use crate::stand_ins::ScriptedResult;

/// Code for scenario problems.
pub const INVALID_SCENARIO: &str = "INVALID_SCENARIO";

/// Default virtual start time.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00.000Z";

/// A stimulus from the outside world.
#[derive(Debug, Clone, PartialEq)]
pub enum StimulusKind {
    /// An inbound event.
    Event {
        /// Name.
        event_name: String,
        /// Correlation key.
        correlation_key: Option<String>,
        /// Payload.
        payload: Value,
        /// Event id.
        event_id: Option<String>,
    },
    /// A human-task response.
    HumanTask {
        /// Task id (none: the open task).
        task_id: Option<String>,
        /// The response.
        response: Value,
    },
    /// Cancellation of the run.
    Cancel,
}

/// A stimulus and when it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct Stimulus {
    /// Virtual ms since start, or none: as soon as the run is blocked.
    pub at_ms: Option<u64>,
    /// What arrives.
    pub kind: StimulusKind,
}

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The definition to run.
    pub definition: Value,
    /// The payload.
    pub payload: Value,
    /// Virtual start, ms since the epoch.
    pub start_ms: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Run id.
    pub run_id: String,
    /// Scripted action results by step id or `actionId@version`.
    pub actions: BTreeMap<String, Vec<ScriptedResult>>,
    /// Stimuli in delivery order.
    pub stimuli: Vec<Stimulus>,
    /// Child definitions by `workflowId@version`.
    pub workflows: BTreeMap<String, Value>,
    /// Human-task form schemas by task type.
    pub task_types: BTreeMap<String, Value>,
    /// Safety bound on activations.
    pub max_activations: u64,
    /// Continue as new once an execution's history reaches this many events (0: never).
    pub continue_as_new_after_events: u32,
    /// After every activation, rebuild the run in a fresh instance from the activations so
    /// far (as a worker does after an eviction) and require the same commands (`--audit-replay`).
    pub audit_replay: bool,
}

fn issue(path: &str, message: impl Into<String>) -> Issue {
    Issue::error(INVALID_SCENARIO, path, message)
}

fn object<'a>(
    value: &'a Value,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<&'a Map<String, Value>> {
    match value.as_object() {
        Some(map) => Some(map),
        None => {
            issues.push(issue(path, "expected an object"));
            None
        }
    }
}

fn deny_unknown(map: &Map<String, Value>, path: &str, allowed: &[&str], issues: &mut Vec<Issue>) {
    for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
        let at = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        issues.push(issue(
            &at,
            format!("unknown field `{key}` (allowed: {})", allowed.join(", ")),
        ));
    }
}

fn string_field(
    map: &Map<String, Value>,
    key: &str,
    default: &str,
    issues: &mut Vec<Issue>,
) -> String {
    match map.get(key) {
        None => default.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            issues.push(issue(key, "expected a string"));
            default.to_owned()
        }
    }
}

impl Scenario {
    /// Reads a scenario, or returns every problem found.
    pub fn parse(value: &Value) -> Result<Scenario, Vec<Issue>> {
        let mut issues = Vec::new();
        let Some(map) = object(value, "", &mut issues) else {
            return Err(issues);
        };
        deny_unknown(
            map,
            "",
            &[
                "definition",
                "payload",
                "startTime",
                "tenantId",
                "runId",
                "actions",
                "stimuli",
                "workflows",
                "taskTypes",
                "maxActivations",
                "continueAsNewAfterEvents",
            ],
            &mut issues,
        );
        let definition = match map.get("definition") {
            Some(d) => d.clone(),
            None => {
                issues.push(issue("definition", "`definition` is required"));
                Value::Null
            }
        };
        let payload = match map.get("payload") {
            None => Value::Object(Map::new()),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => {
                issues.push(issue("payload", "`payload` must be an object"));
                Value::Null
            }
        };
        let start_text = string_field(map, "startTime", DEFAULT_START, &mut issues);
        let start_ms = match chrono::DateTime::parse_from_rfc3339(&start_text) {
            Ok(t) => t.timestamp_millis(),
            Err(e) => {
                issues.push(issue(
                    "startTime",
                    format!("`{start_text}` is not an ISO-8601 time: {e}"),
                ));
                0
            }
        };
        let tenant_id = string_field(map, "tenantId", "tenant-sim", &mut issues);
        let run_id = string_field(map, "runId", "run-sim", &mut issues);
        let actions = map
            .get("actions")
            .map(|a| parse_actions(a, &mut issues))
            .unwrap_or_default();
        let stimuli = match map.get("stimuli") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, s)| parse_stimulus(s, &format!("stimuli[{i}]"), &mut issues))
                .collect(),
            Some(_) => {
                issues.push(issue("stimuli", "`stimuli` must be an array"));
                Vec::new()
            }
        };
        let keyed = |key: &str, issues: &mut Vec<Issue>| -> BTreeMap<String, Value> {
            map.get(key)
                .and_then(|v| object(v, key, issues))
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        };
        let workflows = keyed("workflows", &mut issues);
        let task_types = keyed("taskTypes", &mut issues);
        let max_activations = match map.get("maxActivations") {
            None => 10_000,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => n,
                _ => {
                    issues.push(issue(
                        "maxActivations",
                        "`maxActivations` must be a positive integer",
                    ));
                    10_000
                }
            },
        };
        let continue_as_new_after_events = match map.get("continueAsNewAfterEvents") {
            None => 0,
            Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => n,
                None => {
                    issues.push(issue(
                        "continueAsNewAfterEvents",
                        "`continueAsNewAfterEvents` must be a non-negative integer",
                    ));
                    0
                }
            },
        };
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(Scenario {
            continue_as_new_after_events,
            audit_replay: false,
            definition,
            payload,
            start_ms,
            tenant_id,
            run_id,
            actions,
            stimuli,
            workflows,
            task_types,
            max_activations,
        })
    }
}

/// Scripted actions alone (a scenario's `actions`, keyed by step id or `id@version`), for a
/// worker that stands in for the product's action workers.
pub fn parse_scripted_actions(
    value: &Value,
) -> Result<BTreeMap<String, Vec<ScriptedResult>>, Vec<Issue>> {
    let mut issues = Vec::new();
    let actions = parse_actions(value, &mut issues);
    if issues.is_empty() {
        Ok(actions)
    } else {
        Err(issues)
    }
}

fn parse_actions(value: &Value, issues: &mut Vec<Issue>) -> BTreeMap<String, Vec<ScriptedResult>> {
    let Some(map) = object(value, "actions", issues) else {
        return BTreeMap::new();
    };
    let mut actions = BTreeMap::new();
    for (key, results) in map {
        let path = format!("actions.{key}");
        let Some(list) = results.as_array().filter(|l| !l.is_empty()) else {
            issues.push(issue(&path, "expected a non-empty list of results"));
            continue;
        };
        let parsed: Vec<ScriptedResult> = list
            .iter()
            .enumerate()
            .filter_map(|(i, r)| parse_result(r, &format!("{path}[{i}]"), issues))
            .collect();
        actions.insert(key.clone(), parsed);
    }
    actions
}

fn parse_result(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<ScriptedResult> {
    let map = object(value, path, issues)?;
    deny_unknown(map, path, &["output", "error", "cancel"], issues);
    if map.len() != 1 {
        issues.push(issue(
            path,
            "a result has exactly one of `output`, `error`, `cancel`",
        ));
        return None;
    }
    if let Some(output) = map.get("output") {
        return Some(ScriptedResult::Output(output.clone()));
    }
    if let Some(cancel) = map.get("cancel") {
        if cancel != &Value::Bool(true) {
            issues.push(issue(&format!("{path}.cancel"), "`cancel` must be true"));
            return None;
        }
        return Some(ScriptedResult::Cancel);
    }
    let error_path = format!("{path}.error");
    let error = object(map.get("error")?, &error_path, issues)?;
    deny_unknown(
        error,
        &error_path,
        &["category", "message", "code", "details"],
        issues,
    );
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(category), Some(message)) = (text("category"), text("message")) else {
        issues.push(issue(
            &error_path,
            "an error needs string `category` and `message`",
        ));
        return None;
    };
    Some(ScriptedResult::Error(Failure {
        category,
        message,
        code: text("code"),
        details: error
            .get("details")
            .filter(|d| !d.is_null())
            .cloned()
            .map(Box::new),
    }))
}

fn parse_stimulus(value: &Value, path: &str, issues: &mut Vec<Issue>) -> Option<Stimulus> {
    let map = object(value, path, issues)?;
    deny_unknown(map, path, &["event", "humanTask", "cancel", "atMs"], issues);
    let at_ms = match map.get("atMs") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(ms) => Some(ms),
            None => {
                issues.push(issue(
                    &format!("{path}.atMs"),
                    "`atMs` must be a non-negative integer",
                ));
                return None;
            }
        },
    };
    let kinds = ["event", "humanTask", "cancel"]
        .iter()
        .filter(|k| map.contains_key(**k))
        .count();
    if kinds != 1 {
        issues.push(issue(
            path,
            "a stimulus has exactly one of `event`, `humanTask`, `cancel`",
        ));
        return None;
    }
    let kind = if let Some(event) = map.get("event") {
        let at = format!("{path}.event");
        let event = object(event, &at, issues)?;
        deny_unknown(
            event,
            &at,
            &["eventName", "correlationKey", "payload", "eventId"],
            issues,
        );
        let Some(event_name) = event.get("eventName").and_then(Value::as_str) else {
            issues.push(issue(&format!("{at}.eventName"), "`eventName` is required"));
            return None;
        };
        StimulusKind::Event {
            event_name: event_name.to_owned(),
            correlation_key: event
                .get("correlationKey")
                .and_then(Value::as_str)
                .map(str::to_owned),
            payload: event
                .get("payload")
                .cloned()
                .unwrap_or(Value::Object(Map::new())),
            event_id: event
                .get("eventId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    } else if let Some(task) = map.get("humanTask") {
        let at = format!("{path}.humanTask");
        let task = object(task, &at, issues)?;
        deny_unknown(task, &at, &["taskId", "response"], issues);
        StimulusKind::HumanTask {
            task_id: task
                .get("taskId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            response: task
                .get("response")
                .cloned()
                .unwrap_or(Value::Object(Map::new())),
        }
    } else {
        if map.get("cancel") != Some(&Value::Bool(true)) {
            issues.push(issue(&format!("{path}.cancel"), "`cancel` must be true"));
            return None;
        }
        StimulusKind::Cancel
    };
    Some(Stimulus { at_ms, kind })
}
