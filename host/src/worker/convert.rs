//! Mapping between sdk-core's protos and the interpreter's protocol.

use std::time::Duration;

use alga_protocol::error::{Failure, RuntimeError, category};
use alga_protocol::protocol as p;
use serde_json::{Value, json};
use temporalio_common::protos::coresdk::activity_result::{self, activity_resolution};
use temporalio_common::protos::coresdk::child_workflow::{
    ParentClosePolicy, child_workflow_result,
};
use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, resolve_child_workflow_execution_start, workflow_activation_job,
};
use temporalio_common::protos::coresdk::workflow_commands::{
    self as wc, query_result, update_response, workflow_command,
};
use temporalio_common::protos::temporal::api::common::v1::RetryPolicy;
use temporalio_common::protos::temporal::api::failure::v1::{
    Failure as ApiFailure, failure::FailureInfo,
};

use super::{ACTION_ACTIVITY, HUMAN_TASK_ACTIVITY};
use crate::temporal::failures::{failure_from_api, failure_to_api};
use crate::temporal::payload;
use crate::temporal::{WORKFLOW_TYPE, run_id_of, workflow_id};

/// How long one activity attempt may run.
/// What the worker needs to turn commands into Temporal commands.
pub struct CommandContext<'a> {
    /// The worker's task queue.
    pub task_queue: &'a str,
    /// Namespace, for children.
    pub namespace: &'a str,
    /// The run's start input (children inherit its tenant and semantics).
    pub start: Option<&'a p::RunStart>,
    /// The pinned definitions of the children the commands start, read beforehand.
    pub children: &'a super::definitions::FoundDefinitions,
    /// Our activities' start-to-close and heartbeat timeouts.
    pub timeouts: super::ActivityTimeouts,
    /// Task queues of actions served elsewhere, by `id@version`.
    pub action_queues: &'a std::collections::BTreeMap<String, String>,
}

/// Where a child run sits, from the activation that starts it: Temporal names its parent and
/// root workflows, whose ids carry our run ids. `None` for a top-level run and later
/// activations.
pub fn lineage(activation: &WorkflowActivation) -> Option<crate::store::Lineage> {
    use workflow_activation_job::Variant as J;
    activation.jobs.iter().find_map(|job| match &job.variant {
        Some(J::InitializeWorkflow(init)) => {
            let parent = run_id_of(&init.parent_workflow_info.as_ref()?.workflow_id);
            let root = init
                .root_workflow
                .as_ref()
                .map(|root| run_id_of(&root.workflow_id));
            Some(crate::store::Lineage {
                parent_run_id: parent,
                root_run_id: root,
            })
        }
        _ => None,
    })
}

/// An activation's jobs in the interpreter's terms. `Ok(None)` for an eviction.
pub fn activation(activation: &WorkflowActivation) -> Result<Option<p::Activation>, String> {
    use workflow_activation_job::Variant as J;
    let mut jobs = Vec::new();
    for job in &activation.jobs {
        let Some(variant) = &job.variant else {
            continue;
        };
        match variant {
            J::RemoveFromCache(_) => return Ok(None),
            J::InitializeWorkflow(init) => {
                let mut start: p::RunStart =
                    serde_json::from_value(payload::first(&init.arguments)?)
                        .map_err(|e| format!("the workflow input is not a run start: {e}"))?;
                if start.run_id.is_empty() {
                    // A schedule's fires share one input; each is told apart by the workflow
                    // id Temporal gave it, which is in the history and so replays the same.
                    start.run_id = run_id_of(&init.workflow_id);
                }
                jobs.push(p::Job::Start(Box::new(start)));
            }
            J::FireTimer(t) => jobs.push(p::Job::TimerFired(t.seq)),
            J::ResolveActivity(r) => jobs.push(p::Job::ActivityResolved {
                seq: r.seq,
                outcome: activity_outcome(r.result.as_ref())?,
                attempt: stamped_attempt(r.result.as_ref()),
            }),
            J::ResolveChildWorkflowExecutionStart(r) => {
                use resolve_child_workflow_execution_start::Status;
                match &r.status {
                    Some(Status::Failed(f)) => jobs.push(p::Job::ChildResolved {
                        seq: r.seq,
                        outcome: p::ActivityOutcome::Failed(Failure::new(
                            category::CHILD_WORKFLOW,
                            format!(
                                "the child workflow {} could not start (cause {})",
                                f.workflow_id, f.cause
                            ),
                        )),
                    }),
                    Some(Status::Cancelled(_)) => jobs.push(p::Job::ChildResolved {
                        seq: r.seq,
                        outcome: p::ActivityOutcome::Cancelled,
                    }),
                    _ => {}
                }
            }
            J::ResolveChildWorkflowExecution(r) => {
                use child_workflow_result::Status;
                let outcome = match r.result.as_ref().and_then(|r| r.status.as_ref()) {
                    Some(Status::Completed(s)) => {
                        p::ActivityOutcome::Completed(payload::optional(s.result.as_ref())?)
                    }
                    Some(Status::Failed(f)) => {
                        p::ActivityOutcome::Failed(failure_from_api(f.failure.as_ref()))
                    }
                    Some(Status::Cancelled(_)) | None => p::ActivityOutcome::Cancelled,
                };
                jobs.push(p::Job::ChildResolved {
                    seq: r.seq,
                    outcome,
                });
            }
            J::SignalWorkflow(s) => jobs.push(p::Job::Signal {
                name: s.signal_name.clone(),
                payload: payload::first(&s.input)?,
            }),
            J::QueryWorkflow(q) => jobs.push(p::Job::Query {
                id: q.query_id.clone(),
                name: q.query_type.clone(),
                args: Value::Array(
                    q.arguments
                        .iter()
                        .map(payload::decode)
                        .collect::<Result<_, _>>()?,
                ),
            }),
            J::DoUpdate(u) => jobs.push(p::Job::Update {
                id: u.protocol_instance_id.clone(),
                name: u.name.clone(),
                args: Value::Array(
                    u.input
                        .iter()
                        .map(payload::decode)
                        .collect::<Result<_, _>>()?,
                ),
                run_validator: u.run_validator,
            }),
            J::CancelWorkflow(c) => jobs.push(p::Job::CancelRequested(c.reason.clone())),
            // Patches, seeds, external signals and Nexus play no part in these runs.
            _ => {}
        }
    }
    let now_ms = activation
        .timestamp
        .as_ref()
        .map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
    Ok(Some(p::Activation {
        workflow_time_ms: now_ms,
        is_replaying: activation.is_replaying,
        history_length: activation.history_length,
        history_size_bytes: activation.history_size_bytes,
        continue_as_new_suggested: activation.continue_as_new_suggested,
        jobs,
    }))
}

fn activity_outcome(
    result: Option<&activity_result::ActivityResolution>,
) -> Result<p::ActivityOutcome, String> {
    use activity_resolution::Status;
    Ok(match result.and_then(|r| r.status.as_ref()) {
        Some(Status::Completed(s)) => {
            p::ActivityOutcome::Completed(payload::optional(s.result.as_ref())?)
        }
        Some(Status::Failed(f)) => p::ActivityOutcome::Failed(failure_from_api(f.failure.as_ref())),
        Some(Status::Cancelled(_)) => p::ActivityOutcome::Cancelled,
        Some(Status::Backoff(_)) | None => {
            return Err(
                "activity resolution without a final status (local-activity backoff)".into(),
            );
        }
    })
}

/// The attempt stamped on an activity outcome's payload, anywhere in the failure chain.
fn stamped_attempt(result: Option<&activity_result::ActivityResolution>) -> Option<u32> {
    use activity_resolution::Status;
    match result.and_then(|r| r.status.as_ref())? {
        Status::Completed(s) => s.result.as_ref().and_then(payload::attempt),
        Status::Failed(f) => {
            let mut current = f.failure.as_ref();
            while let Some(failure) = current {
                if let Some(FailureInfo::ApplicationFailureInfo(info)) = &failure.failure_info
                    && let Some(attempt) = info
                        .details
                        .as_ref()
                        .and_then(|d| d.payloads.first())
                        .and_then(payload::attempt)
                {
                    return Some(attempt);
                }
                current = failure.cause.as_deref();
            }
            None
        }
        _ => None,
    }
}

fn run_failure(error: &RuntimeError) -> ApiFailure {
    failure_to_api(&error.failure, Some((&error.node_path, &error.at)))
}

/// The command that fails a run's workflow with `error`, outside the interpreter's commands
/// (a fire the host refused before the run did anything).
pub fn fail_run(error: &RuntimeError) -> workflow_command::Variant {
    workflow_command::Variant::FailWorkflowExecution(wc::FailWorkflowExecution {
        failure: Some(run_failure(error)),
    })
}

fn duration(ms: u64) -> Option<prost_wkt_types::Duration> {
    Duration::from_millis(ms.max(1)).try_into().ok()
}

/// The interpreter's commands as Temporal commands. Projection records are returned apart.
pub fn commands(
    commands: Vec<p::Command>,
    ctx: &CommandContext<'_>,
) -> Result<(Vec<workflow_command::Variant>, Vec<p::RunEvent>), String> {
    use workflow_command::Variant as C;
    let mut out = Vec::new();
    let mut records = Vec::new();
    for command in commands {
        match command {
            p::Command::Record(event) => records.push(event),
            p::Command::StartTimer { seq, duration_ms } => {
                out.push(C::StartTimer(wc::StartTimer {
                    seq,
                    start_to_fire_timeout: duration(duration_ms),
                }))
            }
            p::Command::CancelTimer { seq } => out.push(C::CancelTimer(wc::CancelTimer { seq })),
            p::Command::ScheduleActivity(request) => {
                out.push(C::ScheduleActivity(schedule_activity(request, ctx)))
            }
            p::Command::RequestCancelActivity { seq } => {
                out.push(C::RequestCancelActivity(wc::RequestCancelActivity { seq }))
            }
            p::Command::StartChild(request) => {
                out.push(C::StartChildWorkflowExecution(start_child(request, ctx)))
            }
            p::Command::CancelChild { seq } => out.push(C::CancelChildWorkflowExecution(
                wc::CancelChildWorkflowExecution {
                    child_workflow_seq: seq,
                    reason: "the parent run was cancelled".into(),
                },
            )),
            p::Command::RespondQuery { id, answer } => {
                out.push(C::RespondToQuery(wc::QueryResult {
                    query_id: id,
                    variant: Some(match answer {
                        Ok(value) => query_result::Variant::Succeeded(wc::QuerySuccess {
                            response: Some(payload::encode(&value)),
                        }),
                        Err(message) => query_result::Variant::Failed(ApiFailure {
                            message,
                            ..Default::default()
                        }),
                    }),
                }))
            }
            p::Command::RespondUpdate { id, response } => {
                out.push(C::UpdateResponse(wc::UpdateResponse {
                    protocol_instance_id: id,
                    response: Some(match response {
                        p::UpdateResponse::Accepted => update_response::Response::Accepted(()),
                        p::UpdateResponse::Rejected(f) => {
                            update_response::Response::Rejected(failure_to_api(&f, None))
                        }
                        p::UpdateResponse::Completed(v) => {
                            update_response::Response::Completed(payload::encode(&v))
                        }
                    }),
                }))
            }
            p::Command::CompleteRun { mut result } => {
                // A parent reads its child's system fields from the child's result
                // (`childRun.system`, `childRun.meta`); callers of `run_result` get the scopes
                // alone.
                if let (Some(start), Value::Object(scopes)) = (ctx.start, &mut result) {
                    scopes.insert(p::RESULT_SYSTEM_FIELDS.into(), start.system_fields());
                }
                out.push(C::CompleteWorkflowExecution(
                    wc::CompleteWorkflowExecution {
                        result: Some(payload::encode(&result)),
                    },
                ))
            }
            p::Command::FailRun { error } => {
                out.push(C::FailWorkflowExecution(wc::FailWorkflowExecution {
                    failure: Some(run_failure(&error)),
                }))
            }
            p::Command::CancelRun => out.push(C::CancelWorkflowExecution(
                wc::CancelWorkflowExecution::default(),
            )),
            p::Command::ContinueAsNew(next) => out.push(C::ContinueAsNewWorkflowExecution(
                wc::ContinueAsNewWorkflowExecution {
                    workflow_type: WORKFLOW_TYPE.into(),
                    task_queue: ctx.task_queue.into(),
                    arguments: vec![payload::encode(
                        &serde_json::to_value(&*next).unwrap_or(Value::Null),
                    )],
                    ..Default::default()
                },
            )),
        }
    }
    Ok((out, records))
}

fn schedule_activity(
    request: p::ActivityRequest,
    ctx: &CommandContext<'_>,
) -> wc::ScheduleActivity {
    let (activity_type, argument) = match &request.kind {
        p::ActivityKind::Action(invocation) => (ACTION_ACTIVITY, serde_json::to_value(invocation)),
        p::ActivityKind::CreateHumanTask(task) => (HUMAN_TASK_ACTIVITY, serde_json::to_value(task)),
    };
    // A remote action's activity goes to the queue its workers poll; the same activity type
    // and argument, so a worker in another language implements one activity.
    let task_queue = match &request.kind {
        p::ActivityKind::Action(invocation) => ctx
            .action_queues
            .get(&format!(
                "{}@{}",
                invocation.action_id, invocation.action_version
            ))
            .map_or(ctx.task_queue, String::as_str),
        p::ActivityKind::CreateHumanTask(_) => ctx.task_queue,
    };
    let mut argument = argument.unwrap_or(Value::Null);
    if let Value::Object(map) = &mut argument {
        if let Some(start) = ctx.start {
            map.insert("runId".into(), json!(start.run_id));
            map.insert("tenantId".into(), json!(start.tenant_id));
        }
        // The activity decides which failures Temporal may retry (the authored `retryOn`).
        if let Some(policy) = &request.retry {
            map.insert("retryOn".into(), json!(policy.retry_on));
        }
    }
    wc::ScheduleActivity {
        seq: request.seq,
        activity_id: request.seq.to_string(),
        activity_type: activity_type.into(),
        task_queue: task_queue.into(),
        arguments: vec![payload::encode(&argument)],
        start_to_close_timeout: ctx.timeouts.start_to_close.try_into().ok(),
        // Only our own activities heartbeat; a product's worker on its own queue may not.
        heartbeat_timeout: (task_queue == ctx.task_queue)
            .then(|| ctx.timeouts.liveness.try_into().ok())
            .flatten(),
        retry_policy: Some(retry_policy(request.retry.as_ref())),
        ..Default::default()
    }
}

/// The authored policy as Temporal's (the interpreter only hands over policies that map
/// exactly: `RetryPolicy::maps_onto_temporal`), or a single attempt when the interpreter runs
/// the retries itself on durable timers.
fn retry_policy(authored: Option<&alga_protocol::RetryPolicy>) -> RetryPolicy {
    let Some(policy) = authored else {
        // The action's own failures are non-retryable (the activity says so); what Temporal
        // retries here is a lost worker's timed-out attempt, which the ledger makes safe.
        return RetryPolicy {
            initial_interval: duration(1000),
            backoff_coefficient: 2.0,
            maximum_interval: duration(60_000),
            maximum_attempts: 0,
            non_retryable_error_types: Vec::new(),
        };
    };
    RetryPolicy {
        initial_interval: duration(policy.backoff_ms),
        backoff_coefficient: policy.backoff_multiplier,
        // Temporal's default cap is 100 initial intervals; ours is none, so the cap is the
        // longest delay the policy reaches (delays never shrink with a coefficient >= 1).
        maximum_interval: duration(policy.delay_after(policy.max_attempts.saturating_sub(1))),
        maximum_attempts: i32::try_from(policy.max_attempts).unwrap_or(i32::MAX),
        non_retryable_error_types: Vec::new(),
    }
}

/// The child's start command, with its pinned definition (none when it is missing: the child
/// then fails as the interpreter says).
fn start_child(
    request: p::ChildRequest,
    ctx: &CommandContext<'_>,
) -> wc::StartChildWorkflowExecution {
    let definition = ctx
        .children
        .get(&(request.workflow_id.clone(), request.workflow_version))
        .cloned();
    let parent = ctx.start;
    let start = p::RunStart {
        run_id: request.child_key.clone(),
        tenant_id: parent.and_then(|s| s.tenant_id.clone()),
        workflow_id: request.workflow_id.clone(),
        workflow_version: request.workflow_version,
        definition_hash: definition
            .as_ref()
            .map(alga_protocol::canonical::definition_hash)
            .unwrap_or_default(),
        definition: definition.unwrap_or(Value::Null),
        runtime_semantics_version: parent
            .map(|s| s.runtime_semantics_version.clone())
            .unwrap_or_else(|| alga_interpreter::RUNTIME_SEMANTICS_VERSION.into()),
        payload: request.payload.clone(),
        trigger_type: None,
        execution_key: format!(
            "{}:child:{}",
            parent.map(|s| s.execution_key.as_str()).unwrap_or_default(),
            request.child_key
        ),
        meta: None,
        activity_actions: Vec::new(),
        checkpoint: None,
        continue_as_new_after_events: parent.map_or(0, |s| s.continue_as_new_after_events),
        continue_as_new_after_bytes: parent.map_or(0, |s| s.continue_as_new_after_bytes),
        host_retries: parent.is_none_or(|s| s.host_retries),
        // A redriven parent's children keep the keys they had under the original run.
        ledger_scope: parent.and_then(|s| {
            let scope = s.ledger_scope.as_ref()?;
            Some(request.child_key.replacen(&s.run_id, scope, 1))
        }),
    };
    wc::StartChildWorkflowExecution {
        seq: request.seq,
        namespace: ctx.namespace.into(),
        workflow_id: workflow_id(&request.child_key),
        workflow_type: WORKFLOW_TYPE.into(),
        task_queue: ctx.task_queue.into(),
        input: vec![payload::encode(
            &serde_json::to_value(&start).unwrap_or(Value::Null),
        )],
        // A parent that closes with its child open (cancelled, failed) asks the child to
        // cancel, so the child ends `CANCELED` by its own hand (cancelling its own children in
        // turn) instead of being terminated with no record of why.
        parent_close_policy: ParentClosePolicy::RequestCancel as i32,
        ..Default::default()
    }
}
