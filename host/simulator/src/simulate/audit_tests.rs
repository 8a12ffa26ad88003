//! The replay audit catches an interpreter that decides differently when rebuilt.

use std::cell::Cell;

use alga_protocol::Issue;
use alga_protocol::KnownAction;
use alga_protocol::protocol::{Activation, Command};
use serde_json::{Value, json};

use super::{Scenario, SimulateError, simulate};
use crate::engine::EngineError;
use crate::runtime::{Interpreter, Runtime};

/// Each instance completes the run with its own serial number: fine once, wrong on replay.
struct Forgetful {
    made: Cell<u64>,
}

struct ForgetfulInstance(u64);

impl Interpreter for ForgetfulInstance {
    fn activate(&mut self, _: &Activation) -> Result<Vec<Command>, EngineError> {
        Ok(vec![Command::CompleteRun {
            result: json!({"instance": self.0}),
        }])
    }
}

impl Runtime for Forgetful {
    type Instance = ForgetfulInstance;

    fn instantiate(&self) -> Result<ForgetfulInstance, EngineError> {
        self.made.set(self.made.get() + 1);
        Ok(ForgetfulInstance(self.made.get()))
    }

    fn semantics_version(&self) -> String {
        "forgetful".into()
    }

    fn validate(&self, _: &Value, _: Option<&[KnownAction]>) -> Result<Vec<Issue>, EngineError> {
        Ok(Vec::new())
    }
}

fn scenario(audit_replay: bool) -> Scenario {
    let mut scenario = Scenario::parse(&json!({"definition": {"id": "w", "version": 1,
        "name": "w", "payloadSchemaRef": "payload.W.v1", "steps": []}}))
    .expect("a valid scenario");
    scenario.audit_replay = audit_replay;
    scenario
}

#[test]
fn a_run_that_decides_differently_on_replay_is_reported() {
    let runtime = Forgetful { made: Cell::new(0) };
    assert!(simulate(&runtime, &scenario(false)).is_ok());
    match simulate(&runtime, &scenario(true)) {
        Err(SimulateError::Nondeterministic { activation, .. }) => assert_eq!(activation, 1),
        other => panic!(
            "expected a replay divergence, got {:?}",
            other.map(|r| r.status)
        ),
    }
}
