//! The shipped examples run as documented.

use crate::common;

use serde_json::Value;

fn example(path: &str) -> Value {
    let file = common::root().join(path);
    let out = common::alga_wf(&["simulate", file.to_str().unwrap(), "--audit-replay"]);
    assert_eq!(out.code, 0, "{path}: {}\n{}", out.stdout, out.stderr);
    out.json()
}

/// A JSON file of the repository.
fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(common::root().join(path))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

fn step_status(report: &Value, id: &str) -> (String, u64) {
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stepId"] == id)
        .unwrap_or_else(|| panic!("step {id} did not run: {report:#}"));
    (
        step["status"].as_str().unwrap().to_owned(),
        step["attempt"].as_u64().unwrap(),
    )
}

#[test]
fn triage_scenarios_embed_the_published_definition() {
    let definition = read("examples/triage/definition.json");
    for scenario in [
        "examples/triage/scenario.json",
        "examples/triage/reply.scenario.json",
    ] {
        let scenario = read(scenario);
        assert_eq!(
            scenario["definition"], definition,
            "{scenario} drifted from definition.json"
        );
    }
}

#[test]
fn triage_new_email_retries_creation_and_survives_optional_failures() {
    let report = example("examples/triage/scenario.json");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["meta"]["state"], "TICKET_CREATED");
    assert_eq!(
        step_status(&report, "create-ticket"),
        ("SUCCEEDED".into(), 2)
    );
    assert_eq!(report["virtualElapsedMs"], 2000, "one 2 s backoff");
    assert_eq!(
        step_status(&report, "attachments").0,
        "SUCCEEDED",
        "onError: continue"
    );
    assert_eq!(report["scopes"]["error"]["code"], "QUOTA");
    let ack = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actionId"] == "email.send")
        .unwrap();
    assert_eq!(
        ack["idempotencyKey"],
        "tenant-acme:email-ack:<m-1001@example.com>"
    );
    assert_eq!(
        ack["input"]["provider_id"],
        serde_json::json!({"$secret": "SMTP_PROVIDER"})
    );
    assert_eq!(ack["input"]["subject"], "[TICKET-900] Printer on fire");
}

#[test]
fn triage_reply_comments_on_the_existing_ticket() {
    let report = example("examples/triage/reply.scenario.json");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["meta"]["state"], "COMMENTED");
    let comment = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actionId"] == "tickets.add_comment")
        .unwrap();
    assert_eq!(comment["input"]["ticket_id"], "900");
    // The reply's quoted thread is stripped (email.parseBody) and its HTML becomes comment
    // blocks (email.renderCommentBlocks), both through the built-in actions.
    assert_eq!(comment["input"]["body"], "It is out now.", "{comment:#}");
    assert_eq!(
        comment["input"]["blocks"][0]["content"][1],
        serde_json::json!({"type": "text", "text": "out", "styles": {"bold": true}})
    );
    assert!(
        !comment["input"]["blocks"]
            .to_string()
            .contains("still on fire"),
        "{comment:#}"
    );
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["stepId"] != "create-ticket")
    );
}

#[test]
fn hello_example_runs() {
    let definition = read("examples/hello/definition.json");
    let scenario = read("examples/hello/scenario.json");
    assert_eq!(
        scenario["definition"], definition,
        "scenario drifted from definition.json"
    );
    let report = example("examples/hello/scenario.json");
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(report["scopes"]["vars"]["loud"]["text"], "HELLO, ADA");
}

#[test]
fn approval_flow_uses_loops_tasks_children_and_waits() {
    let definition = read("examples/approval/definition.json");
    let child = read("examples/approval/notify-requester.json");
    let scenario = read("examples/approval/scenario.json");
    assert_eq!(
        scenario["definition"], definition,
        "scenario drifted from definition.json"
    );
    assert_eq!(scenario["workflows"]["notify-requester@1"], child);

    let report = example("examples/approval/scenario.json");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["meta"]["state"], "ORDERED");
    assert_eq!(
        report["scopes"]["vars"]["po"], "PO-1",
        "the draft event was filtered out"
    );
    assert_eq!(
        report["scopes"]["error"]["code"], "SKU_UNKNOWN",
        "onItemError: continue kept going"
    );
    assert_eq!(report["scopes"]["vars"]["decision"]["approved"], true);
    assert_eq!(report["virtualElapsedMs"], 12_600_000);
    assert!(report["scopes"]["vars"].get("line").is_none());
}

#[test]
fn triage_asks_a_person_about_an_unknown_sender() {
    let report = example("examples/triage/stand-ins.json");
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(report["scopes"]["vars"]["assignedClient"], "client-42");
    let created = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|a| a["actionId"] == "tickets.create")
        .unwrap();
    assert_eq!(created["input"]["client_id"], "client-42", "{created:#}");
    assert_eq!(
        read("examples/triage/event.json")["payload"],
        read("examples/triage/stand-ins.json")["payload"],
        "the tour's event is the stand-ins scenario's payload"
    );
    assert_eq!(
        read("examples/triage/stand-ins.json")["definition"],
        read("examples/triage/definition.json")
    );
}
