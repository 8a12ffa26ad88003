//! Human-task responses as Workflow Updates: validated before they are accepted, so the
//! submitter gets the form errors synchronously and the task stays open.

use crate::common;

use crate::common::activation;
use alga_interpreter::machine::protocol::*;
use serde_json::{Value, json};

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
        .activate(&activation(vec![Job::Start(Box::new(common::run_start(
            def,
            json!({}),
        )))]))
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
    // Before the run hears that the task exists, a response is turned away as "not open
    // yet", which the API retries (the task's row can be seen before that).
    let early = run
        .activate(&activation(vec![update("u0", json!({"approved": true}))]))
        .unwrap();
    match responses(&early).as_slice() {
        [UpdateResponse::Rejected(failure)] => assert_eq!(
            failure.code.as_deref(),
            Some(alga_interpreter::machine::HUMAN_TASK_NOT_OPEN_YET)
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let schema = json!({"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}});
    run.activate(&activation(vec![Job::ActivityResolved {
        seq,
        outcome: ActivityOutcome::Completed(json!({"taskId": "task-7", "formSchema": schema})),
        attempt: None,
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
