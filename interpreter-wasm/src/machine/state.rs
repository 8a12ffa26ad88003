//! The run's interpreter state: frames, scopes and what the run is blocked on. All of it is
//! serialisable, because it is exactly what a continue-as-new checkpoint carries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{BlockAddr, ItemErrorPolicy};
use crate::scope::Scopes;

/// A block being executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    /// Which block.
    pub block: BlockAddr,
    /// Index of the step to run next.
    pub next: usize,
    /// What the block belongs to.
    pub kind: FrameKind,
}

/// What a frame's block belongs to, for routing and loop bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FrameKind {
    /// The root block, a branch of `control.if`, or a catch block.
    Plain,
    /// The `try` block of a `control.tryCatch`.
    #[serde(rename_all = "camelCase")]
    Try {
        /// The tryCatch step's path.
        step_path: String,
        /// Its catch block.
        catch_block: BlockAddr,
        /// Where the caught error is stored.
        capture_error_as: Option<String>,
    },
    /// The body of a `control.forEach`, with the loop's bookkeeping.
    #[serde(rename_all = "camelCase")]
    Loop(Box<LoopState>),
}

/// A running loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoopState {
    /// The forEach step's path.
    pub step_path: String,
    /// The forEach step's id.
    pub step_id: String,
    /// Where each item goes.
    pub item_var: String,
    /// The items, evaluated once at loop start.
    pub items: Vec<Value>,
    /// Current item.
    pub index: usize,
    /// The item variable's value before the loop (restored after it), if it had one.
    pub previous: Option<Value>,
    /// What a failed item does.
    pub on_item_error: ItemErrorPolicy,
}

/// A buffered `workflowRuntimeV2Event` or `workflowRuntimeV2HumanTask` signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BufferedSignal {
    /// Signal name.
    pub name: String,
    /// Normalised payload.
    pub payload: Value,
}

/// What the run waits for before it can go on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Pending {
    /// An action attempt running as an activity.
    #[serde(rename_all = "camelCase")]
    Action {
        /// Activity sequence number.
        seq: u32,
        /// Attempt number.
        attempt: u32,
        /// The resolved input.
        input: Value,
        /// The ledger key.
        idempotency_key: String,
        /// The host runs the retries (`RunStart::host_retries`).
        #[serde(default)]
        host_retries: bool,
        /// An email node's bodies, which its fallback is made of when the action fails.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<super::email::EmailBodies>,
    },
    /// The backoff before the next attempt of a step (action or child).
    #[serde(rename_all = "camelCase")]
    RetryBackoff {
        /// Timer sequence number.
        seq: u32,
        /// The attempt that runs when it fires.
        next_attempt: u32,
    },
    /// A `time.wait` timer.
    #[serde(rename_all = "camelCase")]
    TimeWait {
        /// Timer sequence number.
        seq: u32,
        /// `duration` or `until`.
        mode: String,
        /// When it ends (ISO-8601).
        due_at: String,
    },
    /// An `event.wait` waiting for a matching signal.
    #[serde(rename_all = "camelCase")]
    EventWait {
        /// Timeout timer, if the wait has a timeout.
        timer: Option<u32>,
        /// The correlation key evaluated at wait start (none matches any key).
        correlation_key: Option<String>,
        /// When the wait times out (ISO-8601).
        timeout_at: Option<String>,
    },
    /// The activity creating a human task.
    #[serde(rename_all = "camelCase")]
    HumanTaskCreation {
        /// Activity sequence number.
        seq: u32,
    },
    /// A human task waiting for its response.
    #[serde(rename_all = "camelCase")]
    HumanTask {
        /// The task.
        task_id: String,
        /// The response's form schema, as the task's creation reported it.
        form_schema: Option<Value>,
    },
    /// A child workflow.
    #[serde(rename_all = "camelCase")]
    Child {
        /// Child sequence number.
        seq: u32,
        /// Attempt number.
        attempt: u32,
    },
}

impl Pending {
    /// The query descriptor type of a wait (`workflowRuntimeV2CurrentWait`), if this is one.
    pub fn wait_type(&self) -> Option<&'static str> {
        match self {
            Pending::TimeWait { .. } => Some("time.wait"),
            Pending::EventWait { .. } => Some("event.wait"),
            Pending::HumanTaskCreation { .. } | Pending::HumanTask { .. } => Some("human.task"),
            _ => None,
        }
    }
}

/// The whole interpreter state of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    /// Blocks being executed, innermost last. Empty when the run is done.
    pub frames: Vec<Frame>,
    /// The run's data.
    pub scopes: Scopes,
    /// Completed steps plus routed failures (dsl-semantics §9.3).
    pub step_count: u64,
    /// Signals not yet consumed, first in first out (at most
    /// [`MAX_BUFFERED_SIGNALS`](super::signals::MAX_BUFFERED_SIGNALS)).
    pub signals: Vec<BufferedSignal>,
    /// Buffered signals dropped, oldest first, to keep the buffer bounded.
    #[serde(default)]
    pub signals_dropped: u64,
    /// The ids of the events this run received, most recent last (at most
    /// [`REMEMBERED_EVENT_IDS`](super::signals::REMEMBERED_EVENT_IDS)).
    #[serde(default)]
    pub event_ids: std::collections::VecDeque<String>,
    /// What the current step waits for.
    pub pending: Option<Pending>,
    /// The next sequence number for timers, activities and children.
    pub next_seq: u32,
    /// Times each step path started, for stable per-execution identities (child runs).
    pub executions: BTreeMap<String, u32>,
}

impl RunState {
    /// Fresh state positioned at the first root step.
    pub fn new(scopes: Scopes) -> Self {
        RunState {
            frames: vec![Frame {
                block: BlockAddr::root(),
                next: 0,
                kind: FrameKind::Plain,
            }],
            scopes,
            step_count: 0,
            signals: Vec::new(),
            signals_dropped: 0,
            event_ids: std::collections::VecDeque::new(),
            pending: None,
            next_seq: 1,
            executions: BTreeMap::new(),
        }
    }

    /// Takes a sequence number.
    pub fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}
