//! The commands backed by PostgreSQL: `publish` (validate, hash, store an immutable version),
//! `start` (a run row, then the Temporal workflow with the pinned definition) and `show` (the
//! run's projections).

use alga_interpreter::machine::protocol::RunStart;
use serde_json::{Value, json};

use super::{Cli, DatabaseArgs, EXIT_INVALID, TemporalArgs, print_json};
use crate::store::{NewRun, Store, tenant_uuid};

/// `alga-wf publish FILE`.
pub async fn publish(
    cli: &Cli,
    file: &std::path::Path,
    database: &DatabaseArgs,
    tenant: Option<&str>,
) -> Result<u8, String> {
    let (definition, errors, warnings) = super::check_definition(cli, file)?;
    if !errors.is_empty() {
        print_json(&json!({"ok": false, "errors": errors, "warnings": warnings}));
        return Ok(EXIT_INVALID);
    }
    let tenant = tenant_uuid(tenant).map_err(|e| e.to_string())?;
    let store = database.connect().await?;
    let published = store
        .publish(tenant, &definition)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    print_json(&json!({
        "ok": true,
        "workflowId": published.workflow_id,
        "key": published.key,
        "version": published.version,
        "definitionHash": alga_interpreter::canonical::definition_hash(&definition),
        "created": published.created,
        "warnings": warnings,
    }));
    Ok(0)
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

/// `alga-wf start WORKFLOW`: the run row first, then the workflow (the reference launcher's
/// order); a workflow that cannot start leaves the row `FAILED` with `stage: launch`.
pub async fn start(
    request: StartRequest<'_>,
    database: &DatabaseArgs,
    temporal: &TemporalArgs,
) -> Result<u8, String> {
    let payload = super::parse_json_arg("--payload", request.payload)?;
    if !payload.is_object() {
        return Err("--payload must be a JSON object".into());
    }
    let tenant = tenant_uuid(request.tenant).map_err(|e| e.to_string())?;
    let store = database.connect().await?;
    let pinned = store
        .pinned(tenant, request.workflow, request.version)
        .await
        .map_err(|e| e.to_string())?;
    let run_id = uuid::Uuid::new_v4();
    let hash = alga_interpreter::canonical::definition_hash(&pinned.definition);
    let settings = temporal.settings();
    let workflow_id = crate::worker::workflow_id(&run_id.to_string());
    store
        .create_run(&NewRun {
            run_id,
            tenant,
            workflow_id: pinned.workflow_id,
            workflow_version: pinned.version,
            input: payload.clone(),
            definition_hash: hash.clone(),
            runtime_semantics_version: alga_interpreter::RUNTIME_SEMANTICS_VERSION.into(),
            trigger_type: None,
            temporal_workflow_id: workflow_id.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let start = RunStart {
        run_id: run_id.to_string(),
        tenant_id: tenant.map(|t| t.to_string()),
        workflow_id: pinned.workflow_id.to_string(),
        workflow_version: u32::try_from(pinned.version).unwrap_or(1),
        definition: pinned.definition,
        definition_hash: hash,
        runtime_semantics_version: alga_interpreter::RUNTIME_SEMANTICS_VERSION.into(),
        payload,
        trigger_type: None,
        execution_key: format!("manual:{run_id}"),
        meta: None,
        activity_actions: Vec::new(),
        checkpoint: None,
        continue_as_new_after_events: 0,
        continue_as_new_after_bytes: 0,
        host_retries: true,
    };
    let started = async {
        let connected = crate::worker::connect(&settings).await?;
        let temporal_run =
            crate::worker::start_run(&connected.client, &settings.task_queue, &start).await?;
        anyhow::Ok((connected, temporal_run))
    }
    .await;
    let (connected, temporal_run) = match started {
        Ok(started) => started,
        Err(e) => {
            let message = format!("{e:#}");
            if let Err(recorded) = store.launch_failed(run_id, &message).await {
                tracing::error!("recording the failed launch: {recorded}");
            }
            return Err(message);
        }
    };
    store
        .run_started(run_id, &temporal_run)
        .await
        .map_err(|e| e.to_string())?;
    let run = run_id.to_string();
    if !request.wait {
        print_json(
            &json!({"runId": run, "workflowId": workflow_id, "temporalRunId": temporal_run}),
        );
        return Ok(0);
    }
    let outcome = crate::worker::run_result(&connected.client, &run)
        .await
        .map_err(|e| format!("{e:#}"))?;
    print_json(&super::outcome_json(&run, &outcome));
    Ok(0)
}

/// `alga-wf show RUN`: the run as its projections have it.
pub async fn show(run: &str, database: &DatabaseArgs) -> Result<u8, String> {
    let store = database.connect().await?;
    let view = store.show_run(run).await.map_err(|e| e.to_string())?;
    print_json(&serde_json::to_value(view).unwrap_or(Value::Null));
    Ok(0)
}

impl DatabaseArgs {
    /// Connects and migrates.
    pub async fn connect(&self) -> Result<Store, String> {
        Store::connect(&self.database_url)
            .await
            .map_err(|e| e.to_string())
    }
}
