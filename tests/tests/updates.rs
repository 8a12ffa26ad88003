//! Human-task responses as Workflow Updates: validated before they are accepted, so the
//! submitter gets the form errors synchronously and the task stays open.

mod common;

use alga_interpreter::canonical::definition_hash;
use alga_interpreter::machine::protocol::*;
use serde_json::{Value, json};

fn activation(jobs: Vec<Job>) -> Activation {
    Activation {
        workflow_time_ms: 1_767_225_600_000,
        is_replaying: false,
        history_length: 3,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs,
    }
}

fn update(id: &str, response: Value) -> Job {
    Job::Update {
        id: id.into(),
        name: alga_interpreter::machine::HUMAN_TASK_UPDATE.into(),
        args: json!([{"taskId": "task-7", "payload": response}]),
        run_validator: true,
    }
}

fn responses(commands: &[Command]) -> Vec<UpdateResponse> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::RespondUpdate { response, .. } => Some(response.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_invalid_update_is_rejected_and_the_task_stays_open() {
    let def = common::definition(json!([
        {"id": "ask", "type": "human.task", "config": {"taskType": "approval", "title": {"$expr": "'Approve?'"},
            "assign": {"vars.approved": {"$expr": "vars.event.approved"}}}}
    ]));
    let mut run = common::engine().instantiate().unwrap();
    let first = run
        .activate(&activation(vec![Job::Start(Box::new(RunStart {
            run_id: "run-u".into(),
            tenant_id: None,
            workflow_id: "wf-test".into(),
            workflow_version: 1,
            definition_hash: definition_hash(&def),
            definition: def,
            runtime_semantics_version: alga_interpreter::RUNTIME_SEMANTICS_VERSION.into(),
            payload: json!({}),
            trigger_type: None,
            execution_key: "u".into(),
            meta: None,
            activity_actions: vec![],
            checkpoint: None,
            continue_as_new_after_events: 0,
            continue_as_new_after_bytes: 0,
        }))]))
        .unwrap();
    let seq = first
        .iter()
        .find_map(|c| match c {
            Command::ScheduleActivity(ActivityRequest {
                seq,
                kind: ActivityKind::CreateHumanTask(task),
                ..
            }) => {
                assert_eq!(task.title, "Approve?");
                Some(*seq)
            }
            _ => None,
        })
        .expect("the task is created by an activity");
    let schema = json!({"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}});
    run.activate(&activation(vec![Job::ActivityResolved {
        seq,
        outcome: ActivityOutcome::Completed(json!({"taskId": "task-7", "formSchema": schema})),
    }]))
    .unwrap();

    let rejected = run
        .activate(&activation(vec![update(
            "u1",
            json!({"approved": "maybe"}),
        )]))
        .unwrap();
    match responses(&rejected).as_slice() {
        [UpdateResponse::Rejected(failure)] => {
            assert_eq!(failure.category, "ValidationError");
            assert!(failure.message.contains("/approved"), "{}", failure.message);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(
        !rejected
            .iter()
            .any(|c| matches!(c, Command::CompleteRun { .. }))
    );

    let accepted = run
        .activate(&activation(vec![update("u2", json!({"approved": true}))]))
        .unwrap();
    let answers = responses(&accepted);
    assert_eq!(answers.first(), Some(&UpdateResponse::Accepted));
    assert!(matches!(answers.last(), Some(UpdateResponse::Completed(_))));
    let result = accepted
        .iter()
        .find_map(|c| match c {
            Command::CompleteRun { result } => Some(result.clone()),
            _ => None,
        })
        .expect("the run completes");
    assert_eq!(result["vars"]["approved"], true);
}
