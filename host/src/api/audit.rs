//! The tenant's audit trail: every change a caller makes through the API is recorded with the
//! key that made it (`crate::store` keeps it in `workflow_audit_logs`; one that touches a run
//! goes into the run's log too), and admins read it back.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::ApiState;
use super::auth::{Caller, ToAdmin};
use super::body::Params;
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, Unauthorized};
use crate::store::{AuditEntry, Principal};

impl ApiState {
    /// Records that `principal` did `action` to `target_type` `target_id`. The change is already
    /// made, so a trail that cannot be written is logged and counted
    /// (`alga_wf_audit_failures_total`), not answered as a failure of the change.
    pub async fn audit(
        &self,
        principal: &Principal,
        action: &str,
        target: (&str, String),
        details: Value,
        run: Option<Uuid>,
    ) {
        let entry = AuditEntry {
            tenant: principal.tenant,
            key_id: Some(principal.key_id),
            action,
            target_type: target.0,
            target_id: target.1,
            details,
        };
        if let Err(e) = self.store.audit(&entry, run).await {
            metrics::counter!("alga_wf_audit_failures_total").increment(1);
            tracing::error!(action, "recording an audit entry failed: {e}");
        }
    }
}

impl ApiState {
    /// Records a change to a schedule.
    pub async fn audit_schedule(&self, principal: &Principal, action: &str, schedule: Uuid) {
        self.audit(
            principal,
            action,
            ("schedule", schedule.to_string()),
            Value::Null,
            None,
        )
        .await;
    }
}

/// `GET /api/workflow-audit` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `workflow`, `run`, `schedule`, `api_key` or `task`.
    target_type: Option<String>,
    /// The target's id (a workflow's uuid, a run's, ...).
    target_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<i64>,
}

/// An entry of the trail.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    audit_id: Uuid,
    /// The key that acted; null when the runtime did (a workflow pausing itself).
    key_id: Option<Uuid>,
    /// `workflow.published`, `workflow.settings_changed`, `workflow.auto_paused`,
    /// `api_key.created`, `run.cancel_requested`, `task.answered`, ...
    action: String,
    /// `workflow`, `run`, `schedule`, `api_key`, `task`, `payload_schema`, `task_type`.
    target_type: String,
    target_id: String,
    /// The particulars (a version, the settings, a reason).
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    at: chrono::DateTime<chrono::Utc>,
}

/// A page of the trail.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    entries: Vec<AuditEntryView>,
    /// The `cursor` of the next page; absent on the last.
    next_cursor: Option<i64>,
}

/// The tenant's audit trail, newest first.
#[utoipa::path(
    get,
    path = "/api/workflow-audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Success", body = AuditPage),
        BadRequest,
        Unauthorized,
        Forbidden,
    ),
    security(("api_key" = ["admin"])),
)]
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller<ToAdmin>,
    Params(query): Params<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let (limit, cursor) = super::page(query.limit, query.cursor);
    let entries = state
        .store
        .audit_entries(
            caller.0.tenant,
            query.target_type.as_deref(),
            query.target_id.as_deref(),
            limit,
            cursor,
        )
        .await?;
    let next = super::next_cursor(entries.len(), limit, cursor);
    Ok(Json(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditEntryView {
                audit_id: e.audit_id,
                key_id: e.key_id,
                action: e.action,
                target_type: e.target_type,
                target_id: e.target_id,
                details: e.details.map(|d| d.0),
                at: e.created_at,
            })
            .collect(),
        next_cursor: next,
    }))
}
