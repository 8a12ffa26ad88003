//! The commands backed by PostgreSQL: `publish` (validate, hash, store an immutable version),
//! `start` (a run row, then the Temporal workflow with the pinned definition), `show` (the
//! run's projections), `send-event` (ingress, as the API's) and `serve` (the HTTP API).

use anyhow::Context;
use serde_json::{Value, json};

use super::{Cli, DatabaseArgs, EXIT_INVALID, TemporalArgs, print_json};
use crate::store::{Store, tenant_uuid};
use crate::usecases::launch::{Launch, launch};
use crate::usecases::publish::PublishError;

/// `alga-wf publish FILE`: the API's publish (`crate::usecases::publish`), schedules included (a new
/// version moves the workflow's schedules onto it).
pub async fn publish(
    cli: &Cli,
    file: &std::path::Path,
    database: &DatabaseArgs,
    temporal: &TemporalArgs,
    tenant: Option<&str>,
) -> anyhow::Result<u8> {
    let definition = super::read_json(file)?;
    let engine = super::modules::load_engine(cli)?;
    let known_actions = super::modules::known_actions(cli)?;
    let tenant = tenant_uuid(tenant)?;
    let store = database.connect().await?;
    let published = crate::usecases::publish::publish(
        &engine,
        &known_actions,
        &store,
        tenant,
        &definition,
        async |tenant, workflow_id| move_schedules(&store, temporal, tenant, workflow_id).await,
    )
    .await;
    let publication = match published {
        Err(PublishError::Invalid { errors, warnings }) => {
            print_json(&json!({"ok": false, "errors": errors, "warnings": warnings}));
            return Ok(EXIT_INVALID);
        }
        other => other.with_context(|| file.display().to_string())?,
    };
    let published = &publication.published;
    print_json(&json!({
        "ok": true,
        "scheduleProblems": publication.schedule_problems,
        "workflowId": published.workflow_id,
        "key": published.key,
        "version": published.version,
        "definitionHash": publication.definition_hash,
        "created": published.created,
        "warnings": publication.warnings,
    }));
    Ok(0)
}

/// Moves a newly published workflow's schedules onto its new version, as the API's publish
/// does; Temporal is contacted only when there are schedules to move.
async fn move_schedules(
    store: &Store,
    temporal: &TemporalArgs,
    tenant: uuid::Uuid,
    workflow_id: uuid::Uuid,
) -> anyhow::Result<Vec<String>> {
    let schedules = store.list_schedules(tenant, Some(workflow_id)).await?;
    if schedules.is_empty() {
        return Ok(Vec::new());
    }
    let settings = temporal.settings();
    let connected = crate::temporal::connect(&settings)
        .await
        .context("moving the workflow's schedules")?;
    let scheduler = crate::usecases::schedules::Scheduler {
        store,
        client: &connected.client,
        task_queue: &settings.task_queue,
    };
    Ok(scheduler.reconcile(tenant, workflow_id).await)
}

/// What `alga-wf start` was asked.
pub struct StartRequest<'a> {
    /// Workflow uuid or key.
    pub workflow: &'a str,
    /// Version to pin (default: the latest published).
    pub version: Option<i32>,
    /// The payload (JSON text).
    pub payload: &'a str,
    /// Tenant.
    pub tenant: Option<&'a str>,
    /// Wait for the end.
    pub wait: bool,
}

/// `alga-wf start WORKFLOW`: the run row first, then the workflow (`crate::usecases::launch`).
pub async fn start(
    request: StartRequest<'_>,
    database: &DatabaseArgs,
    temporal: &TemporalArgs,
) -> anyhow::Result<u8> {
    let payload = super::parse_json_arg("--payload", request.payload)?;
    let tenant = tenant_uuid(request.tenant)?;
    let store = database.connect().await?;
    let settings = temporal.settings();
    let connected = crate::temporal::connect(&settings).await?;
    let launched = launch(
        &store,
        &connected.client,
        &settings.task_queue,
        Launch::manual(tenant, request.workflow, request.version, payload),
    )
    .await?;
    let run = launched.run_id.to_string();
    if !request.wait {
        print_json(&json!({"runId": run, "workflowId": launched.workflow_id,
            "temporalRunId": launched.temporal_run_id, "version": launched.version}));
        return Ok(0);
    }
    let outcome = crate::temporal::run_result(&connected.client, &run).await?;
    print_json(&super::outcome_json(&run, &outcome));
    Ok(0)
}

/// `alga-wf serve`: the HTTP API until Ctrl-C.
pub async fn serve(
    cli: &Cli,
    listen: &str,
    database: &DatabaseArgs,
    temporal: &TemporalArgs,
    limits: &super::StartRateArgs,
    pages: &super::OperationsPagesArgs,
    correlation: crate::usecases::ingress::CorrelationPaths,
) -> anyhow::Result<u8> {
    // Fault injection for the tests: FAILPOINTS names the points to trigger.
    let _faults = fail::FailScenario::setup();
    let store = database.connect().await?;
    let settings = temporal.settings();
    let connected = crate::temporal::connect(&settings).await?;
    let state = std::sync::Arc::new(crate::api::ApiState {
        store,
        client: connected.client,
        task_queue: settings.task_queue,
        engine: std::sync::Arc::new(super::modules::load_engine(cli)?),
        known_actions: super::modules::known_actions(cli)?,
        start_limiter: crate::api::StartLimiter::new(limits.rate()),
        keyed_operations_pages: pages.keyed_operations_pages,
        correlation,
    });
    if let Some(listen) = &pages.metrics_listen {
        crate::observability::serve_metrics(listen)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!("serving the API on http://{listen}");
    crate::api::serve(listener, state, crate::termination::requested())
        .await
        .context("serving the API")?;
    Ok(0)
}

/// `alga-wf show RUN`: the run as its projections have it.
pub async fn show(run: &str, database: &DatabaseArgs) -> anyhow::Result<u8> {
    let store = database.connect().await?;
    let view = store.show_run(run, None).await?;
    print_json(&serde_json::to_value(view).unwrap_or(Value::Null));
    Ok(0)
}

impl DatabaseArgs {
    /// Connects and migrates.
    pub async fn connect(&self) -> anyhow::Result<Store> {
        Ok(Store::connect(&self.database_url).await?)
    }
}
