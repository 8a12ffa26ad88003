//! One-to-one conversions between the WIT types and the library's protocol types.

use alga_protocol::protocol as p;
use alga_protocol::{Failure, RuntimeError};
use alga_protocol::{Issue, RetryPolicy, Severity};
use serde_json::Value;

use crate::guest::alga::workflow::host;
use crate::guest::alga::workflow::types as w;

fn json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

fn failure_in(f: w::Failure) -> Result<Failure, String> {
    Ok(Failure {
        category: f.category,
        message: f.message,
        code: f.code,
        details: f
            .details
            .map(|d| json(&d, "failure details").map(Box::new))
            .transpose()?,
    })
}

fn failure_out(f: Failure) -> w::Failure {
    w::Failure {
        category: f.category,
        message: f.message,
        code: f.code,
        details: f.details.map(|d| d.to_string()),
    }
}

fn runtime_error_out(e: RuntimeError) -> w::RuntimeError {
    w::RuntimeError {
        failure: failure_out(e.failure),
        node_path: e.node_path,
        at: e.at,
    }
}

fn outcome(o: w::ActivityOutcome) -> Result<p::ActivityOutcome, String> {
    Ok(match o {
        w::ActivityOutcome::Completed(v) => {
            p::ActivityOutcome::Completed(json(&v, "activity result")?)
        }
        w::ActivityOutcome::Failed(f) => p::ActivityOutcome::Failed(failure_in(f)?),
        w::ActivityOutcome::Cancelled => p::ActivityOutcome::Cancelled,
    })
}

fn child_outcome(o: w::ChildOutcome) -> Result<p::ActivityOutcome, String> {
    Ok(match o {
        w::ChildOutcome::Completed(v) => p::ActivityOutcome::Completed(json(&v, "child result")?),
        w::ChildOutcome::Failed(f) => p::ActivityOutcome::Failed(failure_in(f)?),
        w::ChildOutcome::Cancelled => p::ActivityOutcome::Cancelled,
    })
}

/// The run start record.
pub fn run_start_in(s: w::RunStart) -> Result<p::RunStart, String> {
    Ok(p::RunStart {
        run_id: s.run_id,
        tenant_id: s.tenant_id,
        workflow_id: s.workflow_id,
        workflow_version: s.workflow_version,
        definition: json(&s.definition, "definition")?,
        definition_hash: s.definition_hash,
        runtime_semantics_version: s.runtime_semantics_version,
        payload: json(&s.payload, "payload")?,
        trigger_type: s.trigger_type,
        execution_key: s.execution_key,
        meta: s.meta.map(|m| json(&m, "meta")).transpose()?,
        activity_actions: s.activity_actions,
        checkpoint: s.checkpoint.map(|c| json(&c, "checkpoint")).transpose()?,
        continue_as_new_after_events: s.continue_as_new_after_events,
        continue_as_new_after_bytes: s.continue_as_new_after_bytes,
        host_retries: s.host_retries,
        ledger_scope: s.ledger_scope,
    })
}

fn run_start_out(s: p::RunStart) -> w::RunStart {
    w::RunStart {
        run_id: s.run_id,
        tenant_id: s.tenant_id,
        workflow_id: s.workflow_id,
        workflow_version: s.workflow_version,
        definition: s.definition.to_string(),
        definition_hash: s.definition_hash,
        runtime_semantics_version: s.runtime_semantics_version,
        payload: s.payload.to_string(),
        trigger_type: s.trigger_type,
        execution_key: s.execution_key,
        meta: s.meta.map(|m| m.to_string()),
        activity_actions: s.activity_actions,
        checkpoint: s.checkpoint.map(|c| c.to_string()),
        continue_as_new_after_events: s.continue_as_new_after_events,
        continue_as_new_after_bytes: s.continue_as_new_after_bytes,
        host_retries: s.host_retries,
        ledger_scope: s.ledger_scope,
    }
}

/// An activation.
pub fn activation(a: w::Activation) -> Result<p::Activation, String> {
    let jobs = a
        .jobs
        .into_iter()
        .map(|job| {
            Ok(match job {
                w::Job::Start(s) => p::Job::Start(Box::new(run_start_in(s)?)),
                w::Job::TimerFired(seq) => p::Job::TimerFired(seq),
                w::Job::ActivityResolved(r) => p::Job::ActivityResolved {
                    seq: r.seq,
                    outcome: outcome(r.outcome)?,
                    attempt: r.attempt,
                },
                w::Job::ChildResolved(r) => p::Job::ChildResolved {
                    seq: r.seq,
                    outcome: child_outcome(r.outcome)?,
                },
                w::Job::Signal(s) => p::Job::Signal {
                    name: s.name,
                    payload: json(&s.payload, "signal payload")?,
                },
                w::Job::Query(q) => p::Job::Query {
                    id: q.id,
                    name: q.name,
                    args: json(&q.args, "query arguments")?,
                },
                w::Job::Update(u) => p::Job::Update {
                    id: u.id,
                    name: u.name,
                    args: json(&u.args, "update arguments")?,
                    run_validator: u.run_validator,
                },
                w::Job::CancelRequested(reason) => p::Job::CancelRequested(reason),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(p::Activation {
        workflow_time_ms: a.workflow_time_ms,
        is_replaying: a.is_replaying,
        history_length: a.history_length,
        history_size_bytes: a.history_size_bytes,
        continue_as_new_suggested: a.continue_as_new_suggested,
        jobs,
    })
}

fn retry_out(r: RetryPolicy) -> w::RetryPolicy {
    w::RetryPolicy {
        max_attempts: r.max_attempts,
        backoff_ms: r.backoff_ms,
        backoff_multiplier: r.backoff_multiplier,
        jitter: r.jitter,
        max_delay_ms: r.max_delay_ms,
        retry_on: r.retry_on,
    }
}

fn activity_out(r: p::ActivityRequest) -> w::ActivityRequest {
    let kind = match r.kind {
        p::ActivityKind::Action(a) => w::ActivityKind::Action(w::ActionInvocation {
            step_path: a.step_path,
            step_id: a.step_id,
            action_id: a.action_id,
            action_version: a.action_version,
            attempt: a.attempt,
            input: a.input.to_string(),
            idempotency_key: a.idempotency_key,
            step_config: a.step_config.to_string(),
        }),
        p::ActivityKind::CreateHumanTask(t) => {
            w::ActivityKind::CreateHumanTask(w::HumanTaskRequest {
                step_path: t.step_path,
                task_type: t.task_type,
                title: t.title,
                description: t.description,
                context_data: t.context_data.to_string(),
            })
        }
    };
    w::ActivityRequest {
        seq: r.seq,
        kind,
        retry: r.retry.map(retry_out),
    }
}

fn step_status(s: p::StepStatus) -> w::StepStatus {
    match s {
        p::StepStatus::Started => w::StepStatus::Started,
        p::StepStatus::Succeeded => w::StepStatus::Succeeded,
        p::StepStatus::Failed => w::StepStatus::Failed,
        p::StepStatus::Canceled => w::StepStatus::Canceled,
        p::StepStatus::Waiting => w::StepStatus::Waiting,
    }
}

fn wait_kind(k: p::WaitKind) -> w::WaitKind {
    match k {
        p::WaitKind::Event => w::WaitKind::Event,
        p::WaitKind::Time => w::WaitKind::Time,
        p::WaitKind::Human => w::WaitKind::Human,
    }
}

fn wait_status(s: p::WaitStatus) -> w::WaitStatus {
    match s {
        p::WaitStatus::Waiting => w::WaitStatus::Waiting,
        p::WaitStatus::Resolved => w::WaitStatus::Resolved,
        p::WaitStatus::Timeout => w::WaitStatus::Timeout,
        p::WaitStatus::Canceled => w::WaitStatus::Canceled,
    }
}

fn event_out(e: p::RunEvent) -> w::RunEvent {
    match e {
        p::RunEvent::StepStarted {
            path,
            execution,
            step_id,
            step_type,
            attempt,
        } => w::RunEvent::StepStarted(w::StepStarted {
            path,
            execution,
            step_id,
            step_type,
            attempt,
        }),
        p::RunEvent::StepFinished {
            path,
            execution,
            status,
            attempt,
            error,
        } => w::RunEvent::StepFinished(w::StepFinished {
            path,
            execution,
            status: step_status(status),
            attempt,
            error: error.map(runtime_error_out),
        }),
        p::RunEvent::WaitOpened {
            path,
            execution,
            kind,
            event_name,
            correlation_key,
            due_at,
            task_id,
        } => w::RunEvent::WaitOpened(w::WaitOpened {
            path,
            execution,
            kind: wait_kind(kind),
            event_name,
            correlation_key,
            due_at,
            task_id,
        }),
        p::RunEvent::WaitClosed {
            path,
            execution,
            kind,
            status,
        } => w::RunEvent::WaitClosed(w::WaitClosed {
            path,
            execution,
            kind: wait_kind(kind),
            status: wait_status(status),
        }),
        p::RunEvent::ActionAttempted {
            step_path,
            action_id,
            action_version,
            attempt,
            input,
            idempotency_key,
            inline,
            error,
        } => w::RunEvent::ActionAttempted(w::ActionAttempted {
            step_path,
            action_id,
            action_version,
            attempt,
            input: input.to_string(),
            idempotency_key,
            inline,
            error: error.map(failure_out),
        }),
    }
}

/// Sends one command through the host's imports.
pub fn send(command: p::Command) {
    match command {
        p::Command::StartTimer { seq, duration_ms } => host::start_timer(seq, duration_ms),
        p::Command::CancelTimer { seq } => host::cancel_timer(seq),
        p::Command::ScheduleActivity(r) => host::schedule_activity(&activity_out(r)),
        p::Command::RequestCancelActivity { seq } => host::request_cancel_activity(seq),
        p::Command::StartChild(c) => host::start_child(&w::ChildRequest {
            seq: c.seq,
            step_path: c.step_path,
            workflow_id: c.workflow_id,
            workflow_version: c.workflow_version,
            payload: c.payload.to_string(),
            child_key: c.child_key,
        }),
        p::Command::CancelChild { seq } => host::cancel_child(seq),
        p::Command::RespondQuery { id, answer } => {
            let answer = answer.map(|v| v.to_string());
            host::respond_query(
                &id,
                answer.as_ref().map(String::as_str).map_err(String::as_str),
            );
        }
        p::Command::RespondUpdate { id, response } => {
            let response = match response {
                p::UpdateResponse::Accepted => w::UpdateResponse::Accepted,
                p::UpdateResponse::Rejected(f) => w::UpdateResponse::Rejected(failure_out(f)),
                p::UpdateResponse::Completed(v) => w::UpdateResponse::Completed(v.to_string()),
            };
            host::respond_update(&id, &response);
        }
        p::Command::CompleteRun { result } => host::complete_run(&result.to_string()),
        p::Command::FailRun { error } => host::fail_run(&runtime_error_out(error)),
        p::Command::CancelRun => host::cancel_run(),
        p::Command::ContinueAsNew(next) => host::continue_as_new(&run_start_out(*next)),
        p::Command::Record(event) => host::record_event(&event_out(event)),
    }
}

/// A validation issue.
pub fn issue(i: Issue) -> w::ValidationIssue {
    w::ValidationIssue {
        severity: match i.severity {
            Severity::Error => w::Severity::Error,
            Severity::Warning => w::Severity::Warning,
        },
        code: i.code,
        path: i.path,
        message: i.message,
    }
}
