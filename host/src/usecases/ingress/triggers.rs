//! Launching the workflows an event triggers: the latest published version of each unpaused
//! workflow of the tenant whose event trigger names the event, with the trigger's
//! `payloadMapping` applied. Each launch has the fire key `event:<eventId>:<workflowId>`, so
//! routing an event again never starts a second run. A workflow whose mapping fails or whose
//! launch fails is reported and skipped; the others still start (the reference stops at the
//! first launch failure).

use alga_interpreter::trigger::{TriggerEvent, map_event_payload};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Ingress;
use crate::store::{StoreError, StoredEvent};
use crate::usecases::launch::{Launch, launch};

/// A run an event started.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedRun {
    /// The workflow.
    pub workflow_id: Uuid,
    /// Its pinned version.
    pub workflow_version: i32,
    /// The new run.
    pub run_id: Uuid,
}

/// Launches every workflow `event` triggers; problems go to `errors`.
pub(super) async fn launch_triggered(
    ingress: &Ingress<'_>,
    tenant: Uuid,
    event: &StoredEvent,
    errors: &mut Vec<String>,
) -> Result<Vec<StartedRun>, StoreError> {
    let candidates = ingress
        .store
        .triggered_by(tenant, &event.event_name)
        .await?;
    let mut started = Vec::new();
    for candidate in candidates {
        let workflow = candidate.workflow_id.to_string();
        let (parsed, _) = alga_interpreter::definition::parse(&candidate.definition);
        let trigger = parsed.and_then(|d| d.trigger);
        let trigger_event = TriggerEvent {
            name: &event.event_name,
            correlation_key: event.correlation_key.as_deref(),
            payload: &event.payload,
            payload_schema_ref: None,
        };
        let mapping_applied = matches!(
            &trigger,
            Some(alga_interpreter::definition::Trigger::Event {
                payload_mapping: Some(_),
                ..
            })
        );
        let payload = match map_event_payload(
            trigger.as_ref(),
            &trigger_event,
            event.received_at.timestamp_millis(),
        ) {
            Some(Ok(payload)) if payload.is_object() => payload,
            Some(Ok(other)) => {
                errors.push(format!(
                    "workflow {workflow} v{}: the mapped payload must be an object, found {}",
                    candidate.version,
                    alga_interpreter::definition::json_type(&other)
                ));
                continue;
            }
            Some(Err(e)) => {
                errors.push(format!(
                    "workflow {workflow} v{}: {e} ({})",
                    candidate.version, e.code
                ));
                continue;
            }
            None => continue,
        };
        let request = Launch {
            trigger_type: Some("event".into()),
            trigger_metadata: Some(json!({
                "eventId": event.event_id,
                "eventType": event.event_name,
                "triggerMappingApplied": mapping_applied,
            })),
            fire_key: Some(format!("event:{}:{workflow}", event.event_id)),
            meta: Some(json!({"triggerMappingApplied": mapping_applied})),
            ..Launch::manual(Some(tenant), &workflow, Some(candidate.version), payload)
        };
        match launch(ingress.store, ingress.client, ingress.task_queue, request).await {
            Ok(launched) => {
                metrics::counter!("alga_wf_event_launches_total").increment(1);
                started.push(StartedRun {
                    workflow_id: candidate.workflow_id,
                    workflow_version: launched.version,
                    run_id: launched.run_id,
                });
            }
            Err(e) => errors.push(format!("workflow {workflow} v{}: {e}", candidate.version)),
        }
    }
    Ok(started)
}
