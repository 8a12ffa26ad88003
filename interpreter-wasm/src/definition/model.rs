//! Types of the parsed definition.

use serde_json::Value;

/// An authored retry policy (dsl-semantics §3.4): part of the contract, since the host may hand
/// its retries to Temporal.
pub use alga_protocol::retry::RetryPolicy;

/// A published (or draft) workflow definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Workflow id (overwritten with the record id at publish).
    pub id: String,
    /// Version number.
    pub version: u32,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Schema reference of the run payload, e.g. `payload.TicketCreated.v1`.
    pub payload_schema_ref: String,
    /// How runs start, if not manually.
    pub trigger: Option<Trigger>,
    /// The root block.
    pub steps: Vec<Step>,
}

/// A definition's trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Started by an inbound event.
    Event {
        /// Event name to match.
        event_name: String,
        /// Schema of the event's payload, when it differs from the workflow's.
        source_payload_schema_ref: Option<String>,
        /// Maps the event into the run payload.
        payload_mapping: Option<Mapping>,
    },
    /// One run at a fixed time.
    Schedule {
        /// ISO-8601 time.
        run_at: String,
    },
    /// Runs on a cron schedule.
    Recurring {
        /// Five-field cron expression.
        cron: String,
        /// IANA timezone.
        timezone: String,
    },
}

/// A JSONata expression, normalised to its source text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Expr {
    /// The JSONata source as authored.
    pub source: String,
}

/// One value of an input mapping: an expression, a secret reference, or a literal that may
/// contain either at any depth.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingValue {
    /// `{"$expr": "..."}`.
    Expr(Expr),
    /// `{"$secret": "NAME"}`: resolved inside the activity, never in the interpreter.
    Secret(String),
    /// An array walked for nested expressions and secrets.
    Array(Vec<MappingValue>),
    /// An object walked for nested expressions and secrets.
    Object(Vec<(String, MappingValue)>),
    /// Any other JSON value.
    Literal(Value),
}

/// An ordered input mapping.
pub type Mapping = Vec<(String, MappingValue)>;

/// How a location inside a mapping is written in messages: the JSON pointer of an action's
/// input (`/files/0`) or the dotted path of a trigger mapping (`ticket.files[0]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingPath {
    /// `/a/0`, with `~` and `/` escaped.
    Pointer,
    /// `a.b[0]`.
    Dotted,
}

impl MappingPath {
    fn index(self, at: &str, i: usize) -> String {
        match self {
            MappingPath::Pointer => format!("{at}/{i}"),
            MappingPath::Dotted => format!("{at}[{i}]"),
        }
    }

    fn key(self, at: &str, key: &str) -> String {
        match self {
            MappingPath::Pointer => format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
            MappingPath::Dotted => format!("{at}.{key}"),
        }
    }
}

impl MappingValue {
    /// The value with each expression evaluated by `eval` (given the expression and where it
    /// is); secrets stay `{"$secret": NAME}` references, literals are kept, and arrays and
    /// objects are walked in order.
    pub fn resolve<E>(
        &self,
        at: &str,
        path: MappingPath,
        eval: &mut dyn FnMut(&Expr, &str) -> Result<Value, E>,
    ) -> Result<Value, E> {
        Ok(match self {
            MappingValue::Expr(expr) => eval(expr, at)?,
            MappingValue::Secret(name) => serde_json::json!({"$secret": name}),
            MappingValue::Literal(v) => v.clone(),
            MappingValue::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| item.resolve(&path.index(at, i), path, eval))
                    .collect::<Result<_, _>>()?,
            ),
            MappingValue::Object(entries) => {
                let mut map = serde_json::Map::new();
                for (key, value) in entries {
                    map.insert(key.clone(), value.resolve(&path.key(at, key), path, eval)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// An ordered map of assignment targets to expressions.
pub type Assignments = Vec<(String, Expr)>;

/// What happens when a step fails after its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnErrorPolicy {
    /// The failure propagates.
    Fail,
    /// The failure is recorded in `error` and the run goes on.
    Continue,
}

/// A step: common fields plus what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique id within the definition.
    pub id: String,
    /// The `type` as authored.
    pub step_type: String,
    /// Descriptive name.
    pub name: Option<String>,
    /// Authored retry policy.
    pub retry: Option<RetryPolicy>,
    /// Step-level onError.
    pub on_error: Option<OnErrorPolicy>,
    /// The behaviour.
    pub kind: StepKind,
}

/// The step types.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `control.if`.
    If {
        /// Must evaluate to a boolean.
        condition: Expr,
        /// Runs when true.
        then: Vec<Step>,
        /// Runs when false.
        otherwise: Vec<Step>,
    },
    /// `control.forEach`.
    ForEach {
        /// Must evaluate to an array.
        items: Expr,
        /// The variable each item is bound to.
        item_var: String,
        /// The loop body.
        body: Vec<Step>,
        /// What a failed item does.
        on_item_error: ItemErrorPolicy,
    },
    /// `control.tryCatch`.
    TryCatch {
        /// The protected block.
        try_steps: Vec<Step>,
        /// Runs when the try block fails.
        catch_steps: Vec<Step>,
        /// Where to store the caught error.
        capture_error_as: Option<String>,
    },
    /// `control.callWorkflow`.
    CallWorkflow {
        /// Child workflow id.
        workflow_id: String,
        /// Pinned child version.
        workflow_version: u32,
        /// The child's payload.
        input_mapping: Assignments,
        /// Writes from the child's result.
        output_mapping: Assignments,
    },
    /// `control.return`.
    Return,
    /// `event.wait`.
    EventWait(EventWait),
    /// `time.wait`.
    TimeWait(TimeWait),
    /// `action.call`.
    Action(ActionCall),
    /// `transform.assign`.
    Assign(Assignments),
    /// `state.set`.
    StateSet(String),
    /// `human.task`.
    HumanTask(HumanTask),
    /// `email.parseBody` or `email.renderCommentBlocks`.
    Email(EmailNode),
}

/// The inbound-email nodes (dsl-semantics §4.5): an action of the product's called through the
/// action path (ledger, routing to the product's queue), whose outcome is shaped, or replaced
/// by the reference's fallback when the action fails, before it is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailNode {
    /// Which of the two nodes.
    pub kind: EmailNodeKind,
    /// The plain-text body.
    pub text: Option<Expr>,
    /// The HTML body.
    pub html: Option<Expr>,
    /// Where the result goes: a scoped path (an unscoped name is read as `vars.<name>`).
    pub save_as: String,
}

/// Which inbound-email node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailNodeKind {
    /// `email.parseBody`: `parse_email_reply@1`, saved to `payload.parsedEmail` by default.
    ParseBody,
    /// `email.renderCommentBlocks`: `convert_html_to_blocks@1`, saved to
    /// `payload.commentBlocks` by default.
    RenderCommentBlocks,
}

impl EmailNodeKind {
    /// The step type.
    pub fn step_type(self) -> &'static str {
        match self {
            EmailNodeKind::ParseBody => "email.parseBody",
            EmailNodeKind::RenderCommentBlocks => "email.renderCommentBlocks",
        }
    }

    /// The action the node calls (version 1).
    pub fn action_id(self) -> &'static str {
        match self {
            EmailNodeKind::ParseBody => "parse_email_reply",
            EmailNodeKind::RenderCommentBlocks => "convert_html_to_blocks",
        }
    }

    /// Where the result goes when `saveAs` is absent.
    pub fn default_save_as(self) -> &'static str {
        match self {
            EmailNodeKind::ParseBody => "payload.parsedEmail",
            EmailNodeKind::RenderCommentBlocks => "payload.commentBlocks",
        }
    }
}

/// forEach `onItemError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemErrorPolicy {
    /// The failure propagates.
    Fail,
    /// Record the error and go on with the next step of the same item.
    Continue,
}

/// `action.call` config.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionCall {
    /// Action id.
    pub action_id: String,
    /// Exact version.
    pub version: u32,
    /// The action's input.
    pub input_mapping: Mapping,
    /// Where the output goes.
    pub save_as: Option<String>,
    /// Legacy onError location (the step-level one wins).
    pub on_error: Option<OnErrorPolicy>,
    /// Explicit ledger key.
    pub idempotency_key: Option<Expr>,
    /// The config as authored, handed to the action.
    pub raw_config: Value,
}

/// `event.wait` config.
#[derive(Debug, Clone, PartialEq)]
pub struct EventWait {
    /// Event name to match.
    pub event_name: String,
    /// Evaluated once when the wait starts.
    pub correlation_key: Expr,
    /// Payload filters.
    pub filters: Vec<EventFilter>,
    /// Optional timeout.
    pub timeout_ms: Option<u64>,
    /// Applied after resume.
    pub assign: Assignments,
}

/// One `event.wait` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    /// Dotted path into the event payload.
    pub path: String,
    /// Operator (`=`, `!=`, `in`, ...).
    pub op: String,
    /// Operand, absent for `exists`/`not_exists`.
    pub value: Option<Value>,
}

/// `time.wait` config.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeWait {
    /// `duration` or `until`.
    pub mode: TimeWaitMode,
    /// Applied after the wait.
    pub assign: Assignments,
}

/// How long a `time.wait` waits.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeWaitMode {
    /// A fixed duration.
    Duration(u64),
    /// Until the time an expression gives.
    Until(Expr),
}

/// `human.task` config.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanTask {
    /// Selects the form.
    pub task_type: String,
    /// Task title.
    pub title: Expr,
    /// Task description.
    pub description: Option<Expr>,
    /// Data shown with the task.
    pub context_data: Assignments,
    /// Applied after the response.
    pub assign: Assignments,
}

/// Where a block of steps sits: the chain of (step index, branch) from the root.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BlockAddr(pub Vec<(usize, Branch)>);

/// A child block of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Branch {
    /// `control.if` then.
    Then,
    /// `control.if` else.
    Else,
    /// `control.tryCatch` try.
    Try,
    /// `control.tryCatch` catch.
    Catch,
    /// `control.forEach` body.
    Body,
}

impl Branch {
    /// The path segment, e.g. `then`.
    pub fn as_str(self) -> &'static str {
        match self {
            Branch::Then => "then",
            Branch::Else => "else",
            Branch::Try => "try",
            Branch::Catch => "catch",
            Branch::Body => "body",
        }
    }
}

impl BlockAddr {
    /// The root block.
    pub fn root() -> Self {
        BlockAddr(Vec::new())
    }

    /// The block `branch` of step `index` in this block.
    pub fn child(&self, index: usize, branch: Branch) -> Self {
        let mut chain = self.0.clone();
        chain.push((index, branch));
        BlockAddr(chain)
    }

    /// The block's path, e.g. `root.steps[0].then.steps`.
    pub fn path(&self) -> String {
        let mut path = String::with_capacity(16 + 24 * self.0.len());
        self.write_path(&mut path);
        path
    }

    /// The path of step `index` in this block, e.g. `root.steps[0].then.steps[1]`.
    pub fn step_path(&self, index: usize) -> String {
        let mut path = String::with_capacity(24 + 24 * self.0.len());
        self.write_path(&mut path);
        push_index(&mut path, index);
        path
    }

    /// Every step builds its path, so it is pushed piece by piece rather than formatted.
    fn write_path(&self, path: &mut String) {
        path.push_str("root.steps");
        for (index, branch) in &self.0 {
            push_index(path, *index);
            path.push('.');
            path.push_str(branch.as_str());
            path.push_str(".steps");
        }
    }

    /// The path of the step this block belongs to (`None` for the root block).
    pub fn owner_path(&self) -> Option<String> {
        let (last, parents) = self.0.split_last()?;
        Some(BlockAddr(parents.to_vec()).step_path(last.0))
    }
}

/// Appends `[index]`.
fn push_index(path: &mut String, index: usize) {
    path.push('[');
    path.push_str(itoa::Buffer::new().format(index));
    path.push(']');
}

impl Definition {
    /// The steps of a block, or `None` when the address does not fit this definition.
    pub fn block(&self, addr: &BlockAddr) -> Option<&[Step]> {
        let mut steps: &[Step] = &self.steps;
        for (index, branch) in &addr.0 {
            steps = steps.get(*index)?.branch(*branch)?;
        }
        Some(steps)
    }
}

impl Step {
    /// The child block `branch`, if this step has it.
    pub fn branch(&self, branch: Branch) -> Option<&[Step]> {
        match (&self.kind, branch) {
            (StepKind::If { then, .. }, Branch::Then) => Some(then),
            (StepKind::If { otherwise, .. }, Branch::Else) => Some(otherwise),
            (StepKind::TryCatch { try_steps, .. }, Branch::Try) => Some(try_steps),
            (StepKind::TryCatch { catch_steps, .. }, Branch::Catch) => Some(catch_steps),
            (StepKind::ForEach { body, .. }, Branch::Body) => Some(body),
            _ => None,
        }
    }

    /// Every child block with its branch, in authored order.
    pub fn blocks(&self) -> Vec<(Branch, &[Step])> {
        match &self.kind {
            StepKind::If {
                then, otherwise, ..
            } => vec![(Branch::Then, then), (Branch::Else, otherwise)],
            StepKind::TryCatch {
                try_steps,
                catch_steps,
                ..
            } => vec![(Branch::Try, try_steps), (Branch::Catch, catch_steps)],
            StepKind::ForEach { body, .. } => vec![(Branch::Body, body)],
            _ => Vec::new(),
        }
    }
}
