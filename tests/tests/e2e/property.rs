//! Property test: random definitions drawn from a grammar of every step type, with random
//! scripted actions and stimuli. For each: the simulator never panics or traps, the run ends in
//! a terminal status or WAITING, resuming from every continue-as-new checkpoint reaches the same
//! end, and (for a sample) the wasm component and the native library report identically.
//!
//! `PROPERTY_CASES` sets how many seeds run (default 2000); a failure prints its seed and the
//! scenario so it can be replayed with `alga-wf simulate`.

use crate::common;

use alga_wf::runtime::NativeRuntime;
use alga_wf::simulate::{self, Report, RunStatus, Scenario};
use serde_json::{Value, json};

struct Grammar {
    rng: fastrand::Rng,
    next_id: usize,
}

impl Grammar {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.usize(..items.len())]
    }

    fn expr(&mut self) -> Value {
        let source = self.pick(&[
            "coalesce(vars.count, 0) + 1",
            "payload.n * 2",
            "toString(payload.n) & '-' & coalesce(vars.tag, 'none')",
            "len(append(vars.list, 1))",
            "nowIso()",
            "payload.missing",
            "vars.event",
            "[1, 2, 3][$ > 1]",
        ]);
        json!({"$expr": source})
    }

    fn condition(&mut self) -> Value {
        let source = self.pick(&[
            "payload.n > 2",
            "coalesce(vars.count, 0) < 2",
            "true",
            "false",
            "payload.n",
            "vars.flag = true",
        ]);
        json!({"$expr": source})
    }

    fn block(&mut self, depth: usize) -> Value {
        let len = self.rng.usize(0..=if depth == 0 { 5 } else { 3 });
        Value::Array((0..len).map(|_| self.step(depth)).collect())
    }

    fn maybe_retry(&mut self) -> Option<Value> {
        self.rng.bool().then(|| {
            json!({"maxAttempts": self.rng.u32(1..=3), "backoffMs": self.rng.u64(0..=200),
                   "retryOn": if self.rng.bool() { json!([]) } else { json!(["TransientError", "ChildWorkflowError"]) }})
        })
    }

    fn step(&mut self, depth: usize) -> Value {
        let nested = depth < 3;
        let choice = self.rng.usize(0..if nested { 13 } else { 9 });
        let mut step = match choice {
            0 | 1 => {
                let action = self.pick(&[
                    "x.ok@1",
                    "x.flaky@1",
                    "test.echo@1",
                    "test.fail@1",
                    "transform.concat_text@1",
                    "x.slow@1",
                ]);
                let (id, version) = action.split_once('@').unwrap();
                let mut config = json!({"actionId": id, "version": version.parse::<u32>().unwrap(),
                    "inputMapping": {"value": self.expr(), "values": [1, {"$expr": "payload.n"}], "secret": {"$secret": "S"}}});
                if self.rng.bool() {
                    config["saveAs"] = json!(self.pick(&[
                        "vars.out",
                        "payload.out",
                        "local.out",
                        "meta.x",
                        "vars.list"
                    ]));
                }
                if self.rng.u8(..4) == 0 {
                    config["idempotencyKey"] = json!({"$expr": "'key-' & toString(payload.n)"});
                }
                let mut step =
                    json!({"id": self.id("act"), "type": "action.call", "config": config});
                if let Some(retry) = self.maybe_retry() {
                    step["retry"] = retry;
                }
                step
            }
            2 => json!({"id": self.id("asg"), "type": "transform.assign", "config": {"assign": {
                self.pick(&["vars.count", "vars.tag", "payload.extra", "meta.note", "vars.list"]): self.expr()}}}),
            3 => {
                json!({"id": self.id("state"), "type": "state.set", "config": {"state": self.pick(&["A", "B"])}})
            }
            4 => json!({"id": self.id("time"), "type": "time.wait", "config": if self.rng.bool() {
                json!({"mode": "duration", "durationMs": self.rng.u64(1..=500)})
            } else {
                json!({"mode": "until", "until": {"$expr": self.pick(&["'2026-01-01T00:00:01Z'", "'2025-01-01'", "'soon'"])}})
            }}),
            5 | 6 => {
                let mut config = json!({"eventName": self.pick(&["A", "B"]), "correlationKey": {"$expr": self.pick(&["'k'", "null", "payload.key"])},
                    "assign": {"vars.got": {"$expr": "vars.event"}}});
                if self.rng.bool() {
                    config["timeoutMs"] = json!(self.rng.u64(1..=1000));
                }
                if self.rng.u8(..3) == 0 {
                    config["filters"] = json!([{"path": "v", "op": self.pick(&["=", "!=", ">", "exists"]), "value": 1}]);
                    if config["filters"][0]["op"] == "exists" {
                        config["filters"][0]
                            .as_object_mut()
                            .unwrap()
                            .remove("value");
                    }
                }
                json!({"id": self.id("evt"), "type": "event.wait", "config": config})
            }
            7 => {
                json!({"id": self.id("task"), "type": "human.task", "config": {"taskType": self.pick(&["form", "unknownForm"]),
                "title": {"$expr": "'Task ' & toString(payload.n)"}, "assign": {"vars.answer": {"$expr": "vars.event"}}}})
            }
            8 => {
                if self.rng.u8(..6) == 0 {
                    json!({"id": self.id("ret"), "type": "control.return"})
                } else {
                    let mut step = json!({"id": self.id("kid"), "type": "control.callWorkflow", "workflowId": "kid",
                        "workflowVersion": self.pick(&["1", "2"]).parse::<u32>().unwrap(),
                        "inputMapping": {"n": {"$expr": "payload.n"}},
                        "outputMapping": {"vars.kid": {"$expr": "childRun.vars"}}});
                    if let Some(retry) = self.maybe_retry() {
                        step["retry"] = retry;
                    }
                    step
                }
            }
            9 | 10 => {
                json!({"id": self.id("if"), "type": "control.if", "condition": self.condition(),
                "then": self.block(depth + 1), "else": self.block(depth + 1)})
            }
            11 => {
                let mut step = json!({"id": self.id("loop"), "type": "control.forEach",
                    "items": {"$expr": self.pick(&["[1..3]", "[]", "payload.items", "[payload.n]", "payload.n"])},
                    "itemVar": self.pick(&["item", "it", "n"]), "body": self.block(depth + 1)});
                if self.rng.bool() {
                    step["onItemError"] = json!(self.pick(&["continue", "fail"]));
                }
                step
            }
            _ => {
                let mut step = json!({"id": self.id("try"), "type": "control.tryCatch",
                    "try": self.block(depth + 1), "catch": self.block(depth + 1)});
                if self.rng.bool() {
                    step["captureErrorAs"] = json!("caught");
                }
                step
            }
        };
        if matches!(choice, 2..=7) && self.rng.u8(..4) == 0 {
            step["onError"] = json!({"policy": self.pick(&["continue", "fail"])});
        }
        step
    }

    fn stimuli(&mut self) -> Value {
        let count = self.rng.usize(0..=6);
        Value::Array(
            (0..count)
                .map(|_| {
                    let mut stimulus = match self.rng.u8(..10) {
                        0 => json!({"cancel": true}),
                        1..=3 => json!({"humanTask": {"response": if self.rng.bool() { json!({"ok": true}) } else { json!({"ok": "no"}) }}}),
                        _ => json!({"event": {"eventName": self.pick(&["A", "B"]), "correlationKey": self.pick(&["k", "other"]),
                            "payload": {"v": self.rng.u8(0..3)}}}),
                    };
                    if self.rng.bool() {
                        stimulus["atMs"] = json!(self.rng.u64(0..=2000));
                    }
                    stimulus
                })
                .collect(),
        )
    }

    fn scenario(seed: u64) -> Value {
        let mut g = Grammar {
            rng: fastrand::Rng::with_seed(seed),
            next_id: 0,
        };
        let steps = g.block(0);
        let kid = json!({"id": "kid", "version": 1, "name": "kid", "payloadSchemaRef": "p", "steps": [
            {"id": "k1", "type": "transform.assign", "config": {"assign": {"vars.double": {"$expr": "payload.n * 2"}}}},
            {"id": "k2", "type": "action.call", "config": {"actionId": "x.flaky", "version": 1}}
        ]});
        let threshold = [0, 8, 15][g.rng.usize(..3)];
        json!({
            "definition": {"id": "prop", "version": 1, "name": "property", "payloadSchemaRef": "p", "steps": steps},
            "payload": {"n": g.rng.u8(0..5), "items": [1, 2], "key": "k"},
            "actions": {
                "x.ok@1": [{"output": {"v": 1}}],
                "x.flaky@1": [{"error": {"category": "TransientError", "message": "flaky"}}, {"output": {"v": 2}}],
                "x.slow@1": [{"output": 1}, {"cancel": true}, {"output": 2}]
            },
            "stimuli": g.stimuli(),
            "workflows": {"kid@1": kid},
            "taskTypes": {"form": {"formSchema": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}},
            "continueAsNewAfterEvents": threshold,
            "maxActivations": 3000
        })
    }
}

fn comparable(report: &Report) -> Value {
    let mut value = serde_json::to_value(report).unwrap();
    let map = value.as_object_mut().unwrap();
    map.remove("activations");
    value
}

fn tail(report: &Report, field: &str, from: usize) -> Value {
    let value = serde_json::to_value(report).unwrap();
    Value::Array(
        value[field]
            .as_array()
            .unwrap()
            .iter()
            .skip(from)
            .cloned()
            .collect(),
    )
}

fn check_seed(seed: u64, wasm: bool) {
    let value = Grammar::scenario(seed);
    let context = || {
        format!(
            "seed {seed}; scenario:\n{}",
            serde_json::to_string(&value).unwrap()
        )
    };
    let mut scenario =
        Scenario::parse(&value).unwrap_or_else(|e| panic!("invalid scenario {e:?}; {}", context()));
    // Every generated run is also rebuilt from its activations after each one, as a worker
    // does after an eviction, and must decide the same (the replay audit).
    scenario.audit_replay = true;
    let simulation = simulate::simulate_with_checkpoints(&NativeRuntime, &scenario)
        .unwrap_or_else(|e| panic!("simulator error {e}; {}", context()));
    let report = &simulation.report;
    assert!(
        matches!(
            report.status,
            RunStatus::Succeeded
                | RunStatus::Failed
                | RunStatus::Canceled
                | RunStatus::Waiting
                | RunStatus::Invalid
        ),
        "{}",
        context()
    );
    if let Some(error) = &report.error {
        assert_ne!(error.category, simulate::INTERPRETER_TRAP, "{}", context());
        assert_ne!(
            error.category,
            "InterpreterCorruption",
            "{error:?}; {}",
            context()
        );
    }
    let end_ms = scenario.start_ms + report.virtual_elapsed_ms as i64;
    for checkpoint in &simulation.checkpoints {
        let resumed = simulate::simulate_from_checkpoint(&NativeRuntime, &scenario, checkpoint)
            .unwrap_or_else(|e| panic!("resume error {e}; {}", context()))
            .report;
        assert_eq!(resumed.status, report.status, "{}", context());
        assert_eq!(resumed.error, report.error, "{}", context());
        assert_eq!(resumed.scopes, report.scopes, "{}", context());
        assert_eq!(
            tail(&resumed, "steps", 0),
            tail(report, "steps", checkpoint.steps_before),
            "{}",
            context()
        );
        assert_eq!(
            tail(&resumed, "actions", 0),
            tail(report, "actions", checkpoint.actions_before),
            "{}",
            context()
        );
        assert_eq!(
            checkpoint.clock_ms + resumed.virtual_elapsed_ms as i64,
            end_ms,
            "{}",
            context()
        );
    }
    if wasm {
        let through_wasm = simulate::simulate(common::engine(), &scenario)
            .unwrap_or_else(|e| panic!("wasm simulator error {e}; {}", context()));
        assert_eq!(
            comparable(&through_wasm),
            comparable(report),
            "native and wasm differ; {}",
            context()
        );
    }
}

#[test]
fn random_definitions_run_to_an_end_and_resume_from_every_checkpoint() {
    let cases: u64 = std::env::var("PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut checkpoints = 0;
    let mut statuses = std::collections::BTreeMap::new();
    for seed in 0..cases {
        check_seed(seed, seed % 10 == 0);
        let scenario = Scenario::parse(&Grammar::scenario(seed)).unwrap();
        let simulation = simulate::simulate_with_checkpoints(&NativeRuntime, &scenario).unwrap();
        checkpoints += simulation.checkpoints.len();
        *statuses
            .entry(format!("{:?}", simulation.report.status))
            .or_insert(0) += 1;
    }
    println!("{cases} random runs, {checkpoints} checkpoints resumed, statuses {statuses:?}");
    assert!(checkpoints > 0, "the grammar must exercise continue-as-new");
    assert!(
        statuses.len() >= 4,
        "the grammar must reach several outcomes: {statuses:?}"
    );
}
