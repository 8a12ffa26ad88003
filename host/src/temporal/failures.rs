//! Our failures in Temporal's failure shape and back: an application failure whose type is
//! `WorkflowRuntimeV2.<category>` and whose details carry the failure whole, so a run's error,
//! an activity's and a child's survive Temporal's wrapping (dsl-semantics §7.6, fixed).

use alga_protocol::error::{Failure, category};
use serde_json::{Value, json};
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::failure::v1::{
    ApplicationFailureInfo, Failure as ApiFailure, failure::FailureInfo,
};

use super::payload;

/// The failure type prefix of run failures (`WorkflowRuntimeV2.<category>`).
const FAILURE_TYPE_PREFIX: &str = "WorkflowRuntimeV2.";

/// The details we put on a failure, found anywhere in Temporal's cause chain.
fn our_details(failure: Option<&ApiFailure>) -> Option<Value> {
    let mut current = failure;
    while let Some(f) = current {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
            && let Some(details) = info.details.as_ref().and_then(|d| d.payloads.first())
            && let Ok(value) = payload::decode(details)
            && value.get("category").is_some_and(Value::is_string)
        {
            return Some(value);
        }
        current = f.cause.as_deref();
    }
    None
}

/// Recovers our failure from Temporal's wrapping: the first application failure in the cause
/// chain whose details carry `{category, message, ...}` (dsl-semantics §7.6, fixed). Anything
/// else keeps Temporal's innermost message as an `ActionError`.
pub fn failure_from_api(failure: Option<&ApiFailure>) -> Failure {
    if let Some(ours) = our_details(failure).and_then(|v| serde_json::from_value::<Failure>(v).ok())
    {
        return ours;
    }
    let message = failure.map_or_else(|| "unknown failure".to_owned(), innermost_message);
    Failure::new(category::ACTION, message)
}

/// A run's failure as JSON: `{category, message, code?, details?, nodePath, at}` as the
/// interpreter reported it, or Temporal's own message.
pub fn run_error_from_api(failure: &ApiFailure) -> Value {
    our_details(Some(failure)).unwrap_or_else(|| {
        serde_json::to_value(Failure::new(category::ACTION, innermost_message(failure)))
            .unwrap_or(Value::Null)
    })
}

fn innermost_message(f: &ApiFailure) -> String {
    match f.cause.as_deref() {
        Some(cause) => innermost_message(cause),
        None => f.message.clone(),
    }
}

/// Our failure as a Temporal application failure that carries it whole in its details.
pub fn failure_to_api(failure: &Failure, extra: Option<(&str, &str)>) -> ApiFailure {
    let mut details = serde_json::to_value(failure).unwrap_or(Value::Null);
    if let (Some((node_path, at)), Value::Object(map)) = (extra, &mut details) {
        map.insert("nodePath".into(), json!(node_path));
        map.insert("at".into(), json!(at));
    }
    ApiFailure {
        message: failure.message.clone(),
        source: "alga-wf".into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: format!("{FAILURE_TYPE_PREFIX}{}", failure.category),
                non_retryable: true,
                details: Some(Payloads {
                    payloads: vec![payload::encode(&details)],
                }),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// An activity's failure: retryable by Temporal only when `retryable`, and stamped with the
/// attempt that produced it.
pub fn activity_failure(failure: &Failure, retryable: bool, attempt: u32) -> ApiFailure {
    let mut api = failure_to_api(failure, None);
    if let Some(FailureInfo::ApplicationFailureInfo(info)) = &mut api.failure_info {
        info.non_retryable = !retryable;
        if let Some(details) = info.details.as_mut().and_then(|d| d.payloads.first_mut()) {
            payload::stamp_attempt(details, attempt);
        }
    }
    api
}
