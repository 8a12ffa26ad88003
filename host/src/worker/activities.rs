//! Activity tasks executed in the worker process: `action.call` attempts (built-in actions run
//! natively, behind the idempotency ledger when the worker has a database) and human-task
//! creation.

use std::collections::BTreeMap;
use std::sync::Mutex;

use alga_protocol::error::{Failure, category};
use alga_protocol::protocol::{ActionInvocation, HumanTaskRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::Start;

use super::{ACTION_ACTIVITY, HUMAN_TASK_ACTIVITY};
use crate::actions::BuiltinActions;
use crate::secrets::{self, Secrets};
use crate::stand_ins::ScriptedResult;
use crate::store::{Claim, LedgerEntry, NewTask, Store, tenant_uuid};
use crate::temporal::failures::activity_failure;
use crate::temporal::payload;

/// The run an activity belongs to (added to every activity argument by the worker).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunFacts {
    run_id: String,
    tenant_id: Option<String>,
    /// Present when Temporal runs the authored retries: the categories it may retry (empty:
    /// every category).
    #[serde(default)]
    retry_on: Option<Vec<String>>,
}

/// Why an activity failed.
enum ActivityError {
    /// The action (or the task's input) failed: Temporal retries it only under an authored
    /// policy that retries its category.
    Action(Failure),
    /// The worker could not do its part (the database, a live claim elsewhere): always
    /// retryable, never the action's fault.
    Infrastructure(Failure),
}

impl From<Failure> for ActivityError {
    fn from(failure: Failure) -> Self {
        ActivityError::Action(failure)
    }
}

/// Executes activities; holds the built-in actions' state, the secret store and the ledger.
pub struct Activities {
    builtins: Mutex<BuiltinActions>,
    test_actions: bool,
    scripted: BTreeMap<String, Vec<ScriptedResult>>,
    secrets: Secrets,
    store: Option<Store>,
    identity: String,
    lease_ms: u64,
    patience: std::time::Duration,
}

/// What an [`Activities`] executor runs with.
pub struct ActivitySettings {
    /// Scripted stand-ins for the product's actions.
    pub scripted: BTreeMap<String, Vec<ScriptedResult>>,
    /// Where `{"$secret": NAME}` values come from.
    pub secrets: Secrets,
    /// Whether the `test.*` doubles run.
    pub test_actions: bool,
    /// The worker's identity, recorded on ledger claims.
    pub identity: String,
    /// How long a ledger claim lasts unless renewed (renewed every third of it while the
    /// action runs, so a claim lapses soon after its worker died).
    pub lease_ms: u64,
    /// How long the worker's own failures are retried inside one attempt (half the
    /// activities' start-to-close timeout).
    pub patience: std::time::Duration,
}

impl Activities {
    /// An executor; with a store, action invocations go through its ledger.
    pub fn new(store: Option<Store>, settings: ActivitySettings) -> Self {
        Activities {
            builtins: Mutex::new(BuiltinActions::new(settings.test_actions)),
            test_actions: settings.test_actions,
            scripted: settings.scripted,
            secrets: settings.secrets,
            store,
            identity: settings.identity,
            lease_ms: settings.lease_ms,
            patience: settings.patience,
        }
    }

    /// Executes one activity task. Its outcome carries the interpreter's attempt number, and
    /// a failure is retryable by Temporal only under an authored policy that retries it (or
    /// when the worker, not the action, failed).
    pub async fn execute(&self, start: &Start) -> ActivityExecutionResult {
        let facts = Self::facts(start);
        let delegated = facts.as_ref().ok().and_then(|(_, f)| f.retry_on.clone());
        let argument = facts.as_ref().ok().map(|(argument, _)| argument);
        let attempt = Self::attempt(start, argument, delegated.is_some());
        let result = match &facts {
            Ok((argument, facts)) => self.run_patiently(start, argument, facts, attempt).await,
            Err(failure) => Err(ActivityError::Action(failure.clone())),
        };
        let outcome = match &result {
            Ok(_) => "completed",
            Err(ActivityError::Infrastructure(_)) => "infrastructure_failure",
            Err(ActivityError::Action(_)) => "failed",
        };
        metrics::counter!("alga_wf_activities_total", "outcome" => outcome).increment(1);
        match result {
            Ok(output) => {
                let mut result = payload::encode(&output);
                payload::stamp_attempt(&mut result, attempt);
                ActivityExecutionResult::ok(result)
            }
            Err(ActivityError::Infrastructure(failure)) => {
                tracing::warn!(message = %failure.message, "activity failed; Temporal retries it");
                ActivityExecutionResult::fail(activity_failure(&failure, true, attempt))
            }
            Err(ActivityError::Action(failure)) => {
                let retryable = delegated.is_some_and(|retry_on| {
                    !failure.is_uncatchable()
                        && (retry_on.is_empty() || retry_on.contains(&failure.category))
                });
                ActivityExecutionResult::fail(activity_failure(&failure, retryable, attempt))
            }
        }
    }

    /// The interpreter's attempt number: the one it scheduled, plus Temporal's retries when
    /// Temporal runs the authored policy (retries after a lost worker are not attempts).
    fn attempt(start: &Start, argument: Option<&Value>, delegated: bool) -> u32 {
        let scheduled = argument
            .and_then(|a| a.get("attempt").and_then(Value::as_u64))
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(1);
        if delegated {
            scheduled + start.attempt.saturating_sub(1)
        } else {
            scheduled
        }
    }

    fn facts(start: &Start) -> Result<(Value, RunFacts), Failure> {
        let argument = payload::first(&start.input)
            .map_err(|e| Failure::new(category::VALIDATION, format!("activity input: {e}")))?;
        let facts = serde_json::from_value(argument.clone())
            .map_err(|e| Failure::new(category::VALIDATION, format!("activity input: {e}")))?;
        Ok((argument, facts))
    }

    async fn run(
        &self,
        start: &Start,
        argument: &Value,
        facts: &RunFacts,
        attempt: u32,
    ) -> Result<Value, ActivityError> {
        match start.activity_type.as_str() {
            ACTION_ACTIVITY => {
                let mut invocation: ActionInvocation = serde_json::from_value(argument.clone())
                    .map_err(|e| {
                        Failure::new(category::VALIDATION, format!("action invocation: {e}"))
                    })?;
                invocation.attempt = attempt;
                self.invoke(start, &invocation, facts).await
            }
            HUMAN_TASK_ACTIVITY => {
                let task: HumanTaskRequest = serde_json::from_value(argument.clone())
                    .map_err(|e| Failure::new(category::VALIDATION, format!("human task: {e}")))?;
                self.open_task(start, &task, facts).await
            }
            other => Err(Failure::new(
                category::ACTION,
                format!("unknown activity type `{other}`"),
            )
            .into()),
        }
    }

    /// [`Activities::run`], with the worker's own failures (the database away, a claim held
    /// elsewhere) retried inside this attempt for up to half its start-to-close timeout, with
    /// backoff: under an authored policy Temporal counts every failed attempt, and the
    /// worker's failures must not use up the action's attempts.
    async fn run_patiently(
        &self,
        start: &Start,
        argument: &Value,
        facts: &RunFacts,
        attempt: u32,
    ) -> Result<Value, ActivityError> {
        let mut backoff = Backoff::new(self.patience, 250, 30_000);
        loop {
            let result = self.run(start, argument, facts, attempt).await;
            let Err(ActivityError::Infrastructure(failure)) = &result else {
                return result;
            };
            if backoff.exhausted() {
                return result;
            }
            tracing::warn!(message = %failure.message, delay = ?backoff.delay, "the worker failed an activity; trying again");
            metrics::counter!("alga_wf_activity_infrastructure_retries_total").increment(1);
            backoff.sleep().await;
        }
    }

    /// Opens a human task: its `workflow_tasks` row and form schema when there is a store,
    /// else only an id (and no form: any response is accepted).
    async fn open_task(
        &self,
        start: &Start,
        task: &HumanTaskRequest,
        facts: &RunFacts,
    ) -> Result<Value, ActivityError> {
        // Activity ids restart with each execution of a run (continue-as-new); the
        // execution's Temporal run id keeps task ids apart.
        let execution = start
            .workflow_execution
            .as_ref()
            .map_or("", |w| w.run_id.as_str());
        let identity = format!("{execution}:{}:{}", task.step_path, start.activity_id);
        let tenant = tenant_uuid(facts.tenant_id.as_deref());
        let (Some(store), Ok(tenant)) = (&self.store, tenant) else {
            let task_id = crate::store::derived_uuid(&["task", &facts.run_id, &identity]);
            return Ok(json!({"taskId": task_id, "formSchema": null}));
        };
        let opened = store
            .open_task(&NewTask {
                tenant,
                run_id: &facts.run_id,
                identity: &identity,
                task_type: &task.task_type,
                title: &task.title,
                description: task.description.as_deref(),
                context_data: &task.context_data,
            })
            .await
            .map_err(|e| {
                ActivityError::Infrastructure(Failure::new(category::TRANSIENT, e.to_string()))
            })?;
        Ok(json!({"taskId": opened.task_id, "formSchema": opened.form_schema}))
    }

    /// One action invocation, through the ledger when there is one.
    async fn invoke(
        &self,
        start: &Start,
        invocation: &ActionInvocation,
        facts: &RunFacts,
    ) -> Result<Value, ActivityError> {
        // Runs whose tenant is no uuid were not started through the store: no ledger rows.
        let tenant = tenant_uuid(facts.tenant_id.as_deref());
        let (Some(store), Ok(tenant)) = (&self.store, tenant) else {
            return self.run_action(invocation, facts).await.map_err(Into::into);
        };
        let infrastructure = |e: crate::store::StoreError| {
            ActivityError::Infrastructure(Failure::new(category::TRANSIENT, e.to_string()))
        };
        let entry = LedgerEntry {
            tenant,
            run_id: facts.run_id.clone(),
            step_path: invocation.step_path.clone(),
            action_id: invocation.action_id.clone(),
            action_version: invocation.action_version,
            idempotency_key: invocation.idempotency_key.clone(),
            input: invocation.input.clone(),
            owner: format!("{}:{}:{}", self.identity, start.activity_id, start.attempt),
            lease_ms: self.lease_ms,
        };
        // A test's fault point: the database fails the claim, as in an outage.
        fail::fail_point!("ledger-claim", |_| Err(ActivityError::Infrastructure(
            Failure::new(
                category::TRANSIENT,
                "the ledger-claim failpoint failed the claim"
            )
        )));
        match store.claim(&entry).await.map_err(infrastructure)? {
            Claim::Reuse(output) => {
                metrics::counter!("alga_wf_ledger_hits_total").increment(1);
                Ok(output)
            }
            Claim::Unledgered => self.run_action(invocation, facts).await.map_err(Into::into),
            Claim::Busy { owner } => Err(ActivityError::Infrastructure(Failure::new(
                category::TRANSIENT,
                format!(
                    "invocation `{}` is held by {owner}; retrying once its claim lapses",
                    invocation.idempotency_key
                ),
            ))),
            Claim::Run { .. } => {
                let renewing = tokio::spawn(renew_while_running(store.clone(), entry.clone()));
                let result = self.run_action(invocation, facts).await;
                let error = result
                    .as_ref()
                    .err()
                    .map(|failure| serde_json::to_value(failure).unwrap_or(Value::Null));
                let outcome = match (&result, &error) {
                    (Ok(output), _) => Ok(output),
                    (Err(_), error) => Err(error.as_ref().unwrap_or(&Value::Null)),
                };
                let recorded = self.settle_patiently(store, &entry, outcome).await;
                renewing.abort();
                if !recorded.map_err(infrastructure)? {
                    // The action outlived its claim and another attempt owns the invocation
                    // now: this attempt's outcome is not the ledger's, so it is not reported
                    // as the invocation's either (Temporal has already given up on it).
                    metrics::counter!("alga_wf_ledger_lost_claims_total").increment(1);
                    return Err(ActivityError::Infrastructure(Failure::new(
                        category::TRANSIENT,
                        format!(
                            "invocation `{}` outlived its claim and was taken over",
                            invocation.idempotency_key
                        ),
                    )));
                }
                // A crash test's fault point: the side effect is recorded, Temporal has not
                // heard of it yet.
                fail::fail_point!("ledger-after-settle", |_| std::process::abort());
                result.map_err(Into::into)
            }
        }
    }

    /// Runs an action ([`Activities::run_builtin`]); the `test.sleep` double (where the
    /// doubles are on) first waits for real, a long action whose attempt must outlive its
    /// heartbeat timeout and ledger lease.
    async fn run_action(
        &self,
        invocation: &ActionInvocation,
        facts: &RunFacts,
    ) -> Result<Value, Failure> {
        if self.test_actions
            && invocation.action_id == "test.sleep"
            && invocation.action_version == 1
        {
            let ms = alga_interpreter::actions::test_sleep_ms(&invocation.input);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        // A built-in is CPU work (an email's HTML parsed, a bounded regex search): the runtime
        // moves this thread's other tasks (heartbeats, polls) elsewhere while it runs.
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.run_builtin(invocation, facts))
            }
            _ => self.run_builtin(invocation, facts),
        }
    }

    /// Records an action's outcome, retrying the database for up to this attempt's patience
    /// (the claim is still renewed meanwhile): once the action has run, failing the attempt
    /// would run it again.
    async fn settle_patiently(
        &self,
        store: &Store,
        entry: &LedgerEntry,
        outcome: Result<&Value, &Value>,
    ) -> Result<bool, crate::store::StoreError> {
        let mut backoff = Backoff::new(self.patience, 100, 5_000);
        loop {
            let settled = match injected_settle_failure() {
                Some(failure) => Err(failure),
                None => store.settle(entry, outcome).await,
            };
            let Err(e) = &settled else {
                return settled;
            };
            if backoff.exhausted() {
                return settled;
            }
            tracing::warn!(key = %entry.idempotency_key, delay = ?backoff.delay, "recording an action's outcome failed; trying again: {e}");
            backoff.sleep().await;
        }
    }

    /// Runs an action (a scripted stand-in, else a built-in) with its secret references
    /// resolved.
    fn run_builtin(
        &self,
        invocation: &ActionInvocation,
        facts: &RunFacts,
    ) -> Result<Value, Failure> {
        let version_key = format!("{}@{}", invocation.action_id, invocation.action_version);
        if let Some(results) = [invocation.step_id.as_str(), version_key.as_str()]
            .into_iter()
            .find_map(|key| self.scripted.get(key))
            .filter(|results| !results.is_empty())
        {
            let index = (invocation.attempt.max(1) as usize - 1).min(results.len() - 1);
            return match &results[index] {
                ScriptedResult::Output(output) => Ok(output.clone()),
                ScriptedResult::Error(failure) => Err(failure.clone()),
                ScriptedResult::Cancel => Err(Failure::new(
                    category::ACTION,
                    "a scripted cancellation only means something to the simulator",
                )),
            };
        }
        let secrets::Resolved { input, redactor } = secrets::resolve(
            self.secrets.as_ref(),
            &invocation.input,
            facts.tenant_id.as_deref(),
        )?;
        let mut resolved = invocation.clone();
        resolved.input = input;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut builtins = self.builtins.lock().map_err(|_| {
            Failure::new(
                category::ACTION,
                "the built-in actions are unusable after a panic",
            )
        })?;
        // Nothing the action returns may carry a value it was given: the ledger, history and
        // read model only ever see `[secret:NAME]`.
        builtins
            .run(&resolved, facts.tenant_id.as_deref(), &facts.run_id, now_ms)
            .map(|output| redactor.value(output))
            .map_err(|failure| redactor.failure(failure))
    }
}

/// Renews a ledger claim every third of its lease until aborted (the action finished).
async fn renew_while_running(store: Store, entry: LedgerEntry) {
    let every = std::time::Duration::from_millis((entry.lease_ms / 3).max(1));
    loop {
        tokio::time::sleep(every).await;
        match store.renew(&entry).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(key = %entry.idempotency_key, "a running action's ledger claim was taken over");
                return;
            }
            Err(e) => tracing::warn!(key = %entry.idempotency_key, "renewing a ledger claim: {e}"),
        }
    }
}

/// The `ledger-settle` failpoint (`FAILPOINTS=ledger-settle=2*return`): recording an action's
/// outcome fails as it would with the database away, after the action ran.
fn injected_settle_failure() -> Option<crate::store::StoreError> {
    fail::fail_point!("ledger-settle", |_| Some(
        crate::store::StoreError::Database {
            context: "the ledger-settle failpoint".into(),
            source: sqlx::Error::PoolTimedOut,
        }
    ));
    None
}

/// Doubling delays between tries of the worker's own work, within a patience that starts when
/// the backoff is made.
struct Backoff {
    began: std::time::Instant,
    patience: std::time::Duration,
    delay: std::time::Duration,
    cap: std::time::Duration,
}

impl Backoff {
    fn new(patience: std::time::Duration, first_ms: u64, cap_ms: u64) -> Self {
        Backoff {
            began: std::time::Instant::now(),
            patience,
            delay: std::time::Duration::from_millis(first_ms),
            cap: std::time::Duration::from_millis(cap_ms),
        }
    }

    /// Whether the next delay would end past the patience.
    fn exhausted(&self) -> bool {
        self.began.elapsed() + self.delay > self.patience
    }

    /// Sleeps the next delay, and doubles it up to the cap.
    async fn sleep(&mut self) {
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(self.cap);
    }
}
