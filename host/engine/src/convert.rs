//! Conversions between the library's protocol types and the host-side WIT bindings (the
//! mirror image of the component's own conversions).

use alga_protocol::protocol as p;
use alga_protocol::{Failure, RuntimeError};
use alga_protocol::{Issue, RetryPolicy, Severity};
use serde_json::Value;

use super::alga::workflow::types as w;

/// Parses JSON text from the guest.
pub fn json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid JSON from the interpreter: {e}"))
}

fn failure_out(f: &Failure) -> w::Failure {
    w::Failure {
        category: f.category.clone(),
        message: f.message.clone(),
        code: f.code.clone(),
        details: f.details.as_deref().map(Value::to_string),
    }
}

fn failure_in(f: w::Failure) -> Result<Failure, String> {
    Ok(Failure {
        category: f.category,
        message: f.message,
        code: f.code,
        details: f.details.map(|d| json(&d).map(Box::new)).transpose()?,
    })
}

/// A located error from the guest.
pub fn runtime_error(e: w::RuntimeError) -> Result<RuntimeError, String> {
    Ok(RuntimeError {
        failure: failure_in(e.failure)?,
        node_path: e.node_path,
        at: e.at,
    })
}

fn run_start_out(s: &p::RunStart) -> w::RunStart {
    w::RunStart {
        run_id: s.run_id.clone(),
        tenant_id: s.tenant_id.clone(),
        workflow_id: s.workflow_id.clone(),
        workflow_version: s.workflow_version,
        definition: s.definition.to_string(),
        definition_hash: s.definition_hash.clone(),
        runtime_semantics_version: s.runtime_semantics_version.clone(),
        payload: s.payload.to_string(),
        trigger_type: s.trigger_type.clone(),
        execution_key: s.execution_key.clone(),
        meta: s.meta.as_ref().map(Value::to_string),
        activity_actions: s.activity_actions.clone(),
        checkpoint: s.checkpoint.as_ref().map(Value::to_string),
        continue_as_new_after_events: s.continue_as_new_after_events,
        continue_as_new_after_bytes: s.continue_as_new_after_bytes,
        host_retries: s.host_retries,
        ledger_scope: s.ledger_scope.clone(),
    }
}

/// A continue-as-new input from the guest.
pub fn run_start(s: w::RunStart) -> Result<p::RunStart, String> {
    Ok(p::RunStart {
        run_id: s.run_id,
        tenant_id: s.tenant_id,
        workflow_id: s.workflow_id,
        workflow_version: s.workflow_version,
        definition: json(&s.definition)?,
        definition_hash: s.definition_hash,
        runtime_semantics_version: s.runtime_semantics_version,
        payload: json(&s.payload)?,
        trigger_type: s.trigger_type,
        execution_key: s.execution_key,
        meta: s.meta.map(|m| json(&m)).transpose()?,
        activity_actions: s.activity_actions,
        checkpoint: s.checkpoint.map(|c| json(&c)).transpose()?,
        continue_as_new_after_events: s.continue_as_new_after_events,
        continue_as_new_after_bytes: s.continue_as_new_after_bytes,
        host_retries: s.host_retries,
        ledger_scope: s.ledger_scope,
    })
}

fn outcome_out(o: &p::ActivityOutcome) -> w::ActivityOutcome {
    match o {
        p::ActivityOutcome::Completed(v) => w::ActivityOutcome::Completed(v.to_string()),
        p::ActivityOutcome::Failed(f) => w::ActivityOutcome::Failed(failure_out(f)),
        p::ActivityOutcome::Cancelled => w::ActivityOutcome::Cancelled,
    }
}

fn child_outcome_out(o: &p::ActivityOutcome) -> w::ChildOutcome {
    match o {
        p::ActivityOutcome::Completed(v) => w::ChildOutcome::Completed(v.to_string()),
        p::ActivityOutcome::Failed(f) => w::ChildOutcome::Failed(failure_out(f)),
        p::ActivityOutcome::Cancelled => w::ChildOutcome::Cancelled,
    }
}

/// An activation for the guest.
pub fn activation(a: &p::Activation) -> w::Activation {
    w::Activation {
        workflow_time_ms: a.workflow_time_ms,
        is_replaying: a.is_replaying,
        history_length: a.history_length,
        history_size_bytes: a.history_size_bytes,
        continue_as_new_suggested: a.continue_as_new_suggested,
        jobs: a
            .jobs
            .iter()
            .map(|job| match job {
                p::Job::Start(s) => w::Job::Start(run_start_out(s)),
                p::Job::TimerFired(seq) => w::Job::TimerFired(*seq),
                p::Job::ActivityResolved {
                    seq,
                    outcome,
                    attempt,
                } => w::Job::ActivityResolved(w::ActivityResolution {
                    seq: *seq,
                    outcome: outcome_out(outcome),
                    attempt: *attempt,
                }),
                p::Job::ChildResolved { seq, outcome } => {
                    w::Job::ChildResolved(w::ChildResolution {
                        seq: *seq,
                        outcome: child_outcome_out(outcome),
                    })
                }
                p::Job::Signal { name, payload } => w::Job::Signal(w::Signal {
                    name: name.clone(),
                    payload: payload.to_string(),
                }),
                p::Job::Query { id, name, args } => w::Job::Query(w::Query {
                    id: id.clone(),
                    name: name.clone(),
                    args: args.to_string(),
                }),
                p::Job::Update {
                    id,
                    name,
                    args,
                    run_validator,
                } => w::Job::Update(w::Update {
                    id: id.clone(),
                    name: name.clone(),
                    args: args.to_string(),
                    run_validator: *run_validator,
                }),
                p::Job::CancelRequested(reason) => w::Job::CancelRequested(reason.clone()),
            })
            .collect(),
    }
}

fn retry_in(r: w::RetryPolicy) -> RetryPolicy {
    RetryPolicy {
        max_attempts: r.max_attempts,
        backoff_ms: r.backoff_ms,
        backoff_multiplier: r.backoff_multiplier,
        jitter: r.jitter,
        max_delay_ms: r.max_delay_ms,
        retry_on: r.retry_on,
    }
}

/// An activity request from the guest.
pub fn activity(r: w::ActivityRequest) -> Result<p::ActivityRequest, String> {
    let kind = match r.kind {
        w::ActivityKind::Action(a) => p::ActivityKind::Action(p::ActionInvocation {
            step_path: a.step_path,
            step_id: a.step_id,
            action_id: a.action_id,
            action_version: a.action_version,
            attempt: a.attempt,
            input: json(&a.input)?,
            idempotency_key: a.idempotency_key,
            step_config: json(&a.step_config)?,
        }),
        w::ActivityKind::CreateHumanTask(t) => {
            p::ActivityKind::CreateHumanTask(p::HumanTaskRequest {
                step_path: t.step_path,
                task_type: t.task_type,
                title: t.title,
                description: t.description,
                context_data: json(&t.context_data)?,
            })
        }
    };
    Ok(p::ActivityRequest {
        seq: r.seq,
        kind,
        retry: r.retry.map(retry_in),
    })
}

/// A child request from the guest.
pub fn child(c: w::ChildRequest) -> Result<p::ChildRequest, String> {
    Ok(p::ChildRequest {
        seq: c.seq,
        step_path: c.step_path,
        workflow_id: c.workflow_id,
        workflow_version: c.workflow_version,
        payload: json(&c.payload)?,
        child_key: c.child_key,
    })
}

/// An update response from the guest.
pub fn update_response(r: w::UpdateResponse) -> Result<p::UpdateResponse, String> {
    Ok(match r {
        w::UpdateResponse::Accepted => p::UpdateResponse::Accepted,
        w::UpdateResponse::Rejected(f) => p::UpdateResponse::Rejected(failure_in(f)?),
        w::UpdateResponse::Completed(v) => p::UpdateResponse::Completed(json(&v)?),
    })
}

/// A projection record from the guest.
pub fn run_event(e: w::RunEvent) -> Result<p::RunEvent, String> {
    Ok(match e {
        w::RunEvent::StepStarted(s) => p::RunEvent::StepStarted {
            path: s.path,
            execution: s.execution,
            step_id: s.step_id,
            step_type: s.step_type,
            attempt: s.attempt,
        },
        w::RunEvent::StepFinished(s) => p::RunEvent::StepFinished {
            path: s.path,
            execution: s.execution,
            status: match s.status {
                w::StepStatus::Started => p::StepStatus::Started,
                w::StepStatus::Succeeded => p::StepStatus::Succeeded,
                w::StepStatus::Failed => p::StepStatus::Failed,
                w::StepStatus::Canceled => p::StepStatus::Canceled,
                w::StepStatus::Waiting => p::StepStatus::Waiting,
            },
            attempt: s.attempt,
            error: s.error.map(runtime_error).transpose()?,
        },
        w::RunEvent::WaitOpened(o) => p::RunEvent::WaitOpened {
            path: o.path,
            execution: o.execution,
            kind: wait_kind(o.kind),
            event_name: o.event_name,
            correlation_key: o.correlation_key,
            due_at: o.due_at,
            task_id: o.task_id,
        },
        w::RunEvent::WaitClosed(c) => p::RunEvent::WaitClosed {
            path: c.path,
            execution: c.execution,
            kind: wait_kind(c.kind),
            status: match c.status {
                w::WaitStatus::Waiting => p::WaitStatus::Waiting,
                w::WaitStatus::Resolved => p::WaitStatus::Resolved,
                w::WaitStatus::Timeout => p::WaitStatus::Timeout,
                w::WaitStatus::Canceled => p::WaitStatus::Canceled,
            },
        },
        w::RunEvent::ActionAttempted(a) => p::RunEvent::ActionAttempted {
            step_path: a.step_path,
            action_id: a.action_id,
            action_version: a.action_version,
            attempt: a.attempt,
            input: json(&a.input)?,
            idempotency_key: a.idempotency_key,
            inline: a.inline,
            error: a.error.map(failure_in).transpose()?,
        },
    })
}

fn wait_kind(k: w::WaitKind) -> p::WaitKind {
    match k {
        w::WaitKind::Event => p::WaitKind::Event,
        w::WaitKind::Time => p::WaitKind::Time,
        w::WaitKind::Human => p::WaitKind::Human,
    }
}

/// A validation issue from the guest.
pub fn issue(i: w::ValidationIssue) -> Issue {
    let severity = match i.severity {
        w::Severity::Error => Severity::Error,
        w::Severity::Warning => Severity::Warning,
    };
    Issue {
        severity,
        code: i.code,
        path: i.path,
        message: i.message,
    }
}
