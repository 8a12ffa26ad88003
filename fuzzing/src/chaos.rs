//! A host that answers every command the interpreter issues, the way Temporal could: timers
//! fire, activities and children end (completed, failed, or cancelled once cancellation was
//! asked for), signals, queries, updates and cancellation arrive, in an order and with values
//! the fuzzer's bytes choose. It only ever sends what a real server might: it resolves only
//! outstanding sequence numbers, and stops sending once the run has ended.

use std::collections::{BTreeMap, BTreeSet};

use alga_interpreter::error::{Failure, category};
use alga_interpreter::machine::HUMAN_TASK_UPDATE;
use alga_interpreter::machine::protocol::{
    Activation, ActivityKind, ActivityOutcome, Command, Job, RunEvent, RunStart,
};
use alga_interpreter::machine::queries::{CURRENT_STEP, CURRENT_WAIT, INTERPRETER_SUMMARY, SCOPES};
use alga_interpreter::machine::signals::{EVENT_SIGNAL, HUMAN_TASK_SIGNAL};
use arbitrary::{Result, Unstructured};
use serde_json::{Value, json};

use crate::json;
use crate::seeds::Seed;

/// Activations after which a run is left alone (a looping workflow never ends by itself).
pub const MAX_ACTIVATIONS: usize = 200;

/// How many times a run may continue as new before the host stops following it.
const MAX_CONTINUATIONS: u32 = 3;

/// 2026-11-26T09:00:00Z: every run starts at the same workflow time.
const START_MS: i64 = 1_795_683_600_000;

const FAILURE_CATEGORIES: &[&str] = &[
    category::ACTION,
    category::TRANSIENT,
    category::TIMEOUT,
    category::VALIDATION,
    category::EXPRESSION,
    "SomethingElse",
];

/// What an outstanding activity is, and whether its cancellation was asked for.
struct Outstanding {
    human_task: bool,
    cancel_requested: bool,
}

/// The host's view of one run.
pub struct ChaosHost<'a, 's> {
    u: Unstructured<'a>,
    seed: &'s Seed,
    now_ms: i64,
    history_length: u32,
    activations: usize,
    continuations: u32,
    timers: BTreeSet<u32>,
    activities: BTreeMap<u32, Outstanding>,
    children: BTreeMap<u32, bool>,
    tasks: Vec<String>,
    event_names: Vec<String>,
    correlation_keys: Vec<String>,
    queries: u32,
    ended: bool,
    continued: Option<RunStart>,
}

impl<'a, 's> ChaosHost<'a, 's> {
    /// A host for a run of `seed`, choosing with `data`.
    pub fn new(seed: &'s Seed, data: &'a [u8]) -> Self {
        let mut event_names = Vec::new();
        let mut correlation_keys = Vec::new();
        harvest_waits(&seed.definition, &mut event_names, &mut correlation_keys);
        ChaosHost {
            u: Unstructured::new(data),
            seed,
            now_ms: START_MS,
            history_length: 3,
            activations: 0,
            continuations: 0,
            timers: BTreeSet::new(),
            activities: BTreeMap::new(),
            children: BTreeMap::new(),
            tasks: Vec::new(),
            event_names,
            correlation_keys,
            queries: 0,
            ended: false,
            continued: None,
        }
    }

    /// The run's first activation: its start job.
    pub fn start(&mut self) -> Result<Activation> {
        let definition = self.seed.definition.clone();
        let payload = if self.u.ratio(7, 8)? {
            self.seed.payload.clone()
        } else {
            Value::Object(json::object(&mut self.u, 3)?)
        };
        let start = RunStart {
            tenant_id: Some("fuzz-tenant".into()),
            execution_key: "fuzz-run".into(),
            continue_as_new_after_events: *self.u.choose(&[0, 0, 0, 8, 30])?,
            host_retries: self.u.ratio(1, 4)?,
            ..RunStart::pinned(
                "fuzz-run",
                definition["id"]
                    .as_str()
                    .unwrap_or("fuzz-workflow")
                    .to_owned(),
                definition["version"].as_u64().unwrap_or(1) as u32,
                definition,
                payload,
                alga_interpreter::RUNTIME_SEMANTICS_VERSION,
            )
        };
        Ok(self.activation(vec![Job::Start(Box::new(start))]))
    }

    /// The run continued as new: the start of the next run, in a fresh interpreter, if the
    /// host still follows it.
    pub fn take_continuation(&mut self) -> Option<Activation> {
        let next = self.continued.take()?;
        self.continuations += 1;
        if self.continuations > MAX_CONTINUATIONS {
            return None;
        }
        self.ended = false;
        self.history_length = 3;
        Some(self.activation(vec![Job::Start(Box::new(next))]))
    }

    /// Takes note of what the interpreter asked for.
    pub fn observe(&mut self, commands: &[Command]) {
        self.history_length += commands.len() as u32 + 1;
        for command in commands {
            match command {
                Command::StartTimer { seq, .. } => {
                    self.timers.insert(*seq);
                }
                Command::CancelTimer { seq } => {
                    self.timers.remove(seq);
                }
                Command::ScheduleActivity(request) => {
                    let human_task = matches!(request.kind, ActivityKind::CreateHumanTask(_));
                    self.activities.insert(
                        request.seq,
                        Outstanding {
                            human_task,
                            cancel_requested: false,
                        },
                    );
                }
                Command::RequestCancelActivity { seq } => {
                    if let Some(activity) = self.activities.get_mut(seq) {
                        activity.cancel_requested = true;
                    }
                }
                Command::StartChild(request) => {
                    self.children.insert(request.seq, false);
                }
                Command::CancelChild { seq } => {
                    if let Some(cancelled) = self.children.get_mut(seq) {
                        *cancelled = true;
                    }
                }
                Command::CompleteRun { .. } | Command::FailRun { .. } | Command::CancelRun => {
                    self.end();
                }
                Command::ContinueAsNew(next) => {
                    self.end();
                    self.continued = Some((**next).clone());
                }
                Command::Record(RunEvent::WaitOpened {
                    event_name,
                    correlation_key,
                    ..
                }) => {
                    self.event_names.extend(event_name.clone());
                    self.correlation_keys.extend(correlation_key.clone());
                }
                _ => {}
            }
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.timers.clear();
        self.activities.clear();
        self.children.clear();
    }

    /// The next activation, or none once the run ended or the bytes ran out.
    pub fn next_activation(&mut self) -> Option<Activation> {
        if self.ended || self.u.is_empty() || self.activations >= MAX_ACTIVATIONS {
            return None;
        }
        let jobs = self.jobs().ok()?;
        Some(self.activation(jobs))
    }

    fn activation(&mut self, jobs: Vec<Job>) -> Activation {
        self.activations += 1;
        Activation {
            workflow_time_ms: self.now_ms,
            is_replaying: false,
            history_length: self.history_length,
            history_size_bytes: u64::from(self.history_length) * 512,
            continue_as_new_suggested: false,
            jobs,
        }
    }

    fn jobs(&mut self) -> Result<Vec<Job>> {
        self.now_ms += i64::from(self.u.int_in_range(0..=3_600_000u32)?);
        let count = self.u.int_in_range(1..=3)?;
        let mut jobs = Vec::new();
        for _ in 0..count {
            if let Some(job) = self.job()? {
                jobs.push(job);
            }
        }
        if jobs.is_empty() {
            jobs.push(self.query()?);
        }
        Ok(jobs)
    }

    fn job(&mut self) -> Result<Option<Job>> {
        Ok(match self.u.int_in_range(0..=19)? {
            0..=9 => self.resolution()?,
            10..=12 => Some(self.event()?),
            13 | 14 => self.task_response(false)?,
            15 => self.task_response(true)?,
            16 | 17 => Some(self.query()?),
            18 => Some(Job::Signal {
                name: json::string(&mut self.u)?,
                payload: json::value(&mut self.u, 2)?,
            }),
            _ => self
                .u
                .ratio(1, 4)?
                .then(|| Job::CancelRequested("fuzz".into())),
        })
    }

    /// Ends one outstanding timer, activity or child.
    fn resolution(&mut self) -> Result<Option<Job>> {
        let mut outstanding: Vec<(u8, u32)> = self.timers.iter().map(|s| (0, *s)).collect();
        outstanding.extend(self.activities.keys().map(|s| (1, *s)));
        outstanding.extend(self.children.keys().map(|s| (2, *s)));
        if outstanding.is_empty() {
            return Ok(None);
        }
        let (kind, seq) = *self.u.choose(&outstanding)?;
        Ok(Some(match kind {
            0 => {
                self.timers.remove(&seq);
                Job::TimerFired(seq)
            }
            1 => {
                let activity = self.activities.remove(&seq).expect("listed above");
                let outcome = self.activity_outcome(&activity)?;
                Job::ActivityResolved {
                    seq,
                    outcome,
                    attempt: self.u.ratio(1, 4)?.then_some(self.u.int_in_range(1..=5)?),
                }
            }
            _ => {
                let cancelled = self.children.remove(&seq).expect("listed above");
                let outcome = if cancelled && self.u.ratio(3, 4)? {
                    ActivityOutcome::Cancelled
                } else if self.u.ratio(2, 3)? {
                    ActivityOutcome::Completed(json!({
                        "payload": json::value(&mut self.u, 2)?,
                        "vars": json::value(&mut self.u, 2)?,
                        "meta": {},
                    }))
                } else {
                    ActivityOutcome::Failed(self.failure()?)
                };
                Job::ChildResolved { seq, outcome }
            }
        }))
    }

    fn activity_outcome(&mut self, activity: &Outstanding) -> Result<ActivityOutcome> {
        if activity.cancel_requested && self.u.ratio(3, 4)? {
            return Ok(ActivityOutcome::Cancelled);
        }
        if self.u.ratio(1, 4)? {
            return Ok(ActivityOutcome::Failed(self.failure()?));
        }
        if activity.human_task {
            let task_id = format!("task-{}", self.tasks.len() + 1);
            self.tasks.push(task_id.clone());
            let form_schema = if self.u.ratio(1, 2)? {
                Value::Null
            } else {
                json!({"type": "object", "required": ["answer"],
                       "properties": {"answer": {"type": "string"}}})
            };
            return Ok(ActivityOutcome::Completed(
                json!({"taskId": task_id, "formSchema": form_schema}),
            ));
        }
        let output = if !self.seed.outputs.is_empty() && self.u.ratio(1, 2)? {
            self.u.choose(&self.seed.outputs)?.clone()
        } else {
            json::value(&mut self.u, 3)?
        };
        Ok(ActivityOutcome::Completed(output))
    }

    fn failure(&mut self) -> Result<Failure> {
        let mut failure = Failure::new(
            self.u.choose(FAILURE_CATEGORIES)?,
            json::string(&mut self.u)?,
        );
        if self.u.ratio(1, 2)? {
            failure = failure.with_code(json::string(&mut self.u)?);
        }
        Ok(failure)
    }

    fn event(&mut self) -> Result<Job> {
        let name = if !self.event_names.is_empty() && self.u.ratio(4, 5)? {
            self.u.choose(&self.event_names)?.clone()
        } else {
            json::string(&mut self.u)?
        };
        let key = if !self.correlation_keys.is_empty() && self.u.ratio(4, 5)? {
            Value::String(self.u.choose(&self.correlation_keys)?.clone())
        } else {
            json::value(&mut self.u, 0)?
        };
        Ok(Job::Signal {
            name: EVENT_SIGNAL.into(),
            payload: json!([{
                "eventId": format!("event-{}", self.history_length),
                "eventName": name,
                "correlationKey": key,
                "payload": json::object(&mut self.u, 2)?,
            }]),
        })
    }

    /// A human task's answer, as a signal or as a validated update.
    fn task_response(&mut self, as_update: bool) -> Result<Option<Job>> {
        let task_id = if !self.tasks.is_empty() && self.u.ratio(7, 8)? {
            self.u.choose(&self.tasks)?.clone()
        } else {
            json::string(&mut self.u)?
        };
        let payload = if self.u.ratio(1, 2)? {
            json!({"answer": json::string(&mut self.u)?})
        } else {
            Value::Object(json::object(&mut self.u, 2)?)
        };
        let response = json!({"taskId": task_id, "payload": payload});
        Ok(Some(if as_update {
            self.queries += 1;
            Job::Update {
                id: format!("update-{}", self.queries),
                name: HUMAN_TASK_UPDATE.into(),
                args: json!([response]),
                run_validator: true,
            }
        } else {
            Job::Signal {
                name: HUMAN_TASK_SIGNAL.into(),
                payload: json!([response]),
            }
        }))
    }

    fn query(&mut self) -> Result<Job> {
        self.queries += 1;
        let name = *self.u.choose(&[
            CURRENT_STEP,
            CURRENT_WAIT,
            SCOPES,
            INTERPRETER_SUMMARY,
            "unknownQuery",
        ])?;
        Ok(Job::Query {
            id: format!("query-{}", self.queries),
            name: name.into(),
            args: json!([]),
        })
    }
}

/// Event names and correlation keys written literally in a definition's waits.
fn harvest_waits(definition: &Value, names: &mut Vec<String>, keys: &mut Vec<String>) {
    match definition {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("eventName", Value::String(name)) => names.push(name.clone()),
                    ("correlationKey", Value::String(k)) => keys.push(k.clone()),
                    _ => harvest_waits(value, names, keys),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| harvest_waits(item, names, keys)),
        _ => {}
    }
}
