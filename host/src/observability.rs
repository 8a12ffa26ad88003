//! Logs and metrics. Logs are `tracing` events on stderr, filtered by `ALGA_WF_LOG` (default
//! `info`, Temporal's SDK at `warn`), as text or, with `ALGA_WF_LOG_FORMAT=json`, one JSON object per line. Metrics are
//! recorded with the `metrics` facade and rendered in Prometheus' text format at `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Our `info`, and Temporal's SDK at `warn` (it is chatty at `info`).
const DEFAULT_FILTER: &str =
    "info,temporalio_sdk_core=warn,temporalio_client=warn,temporalio_common=warn";

/// Installs the process's log subscriber.
pub fn init_logging() {
    let filter = || {
        EnvFilter::try_from_env("ALGA_WF_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
    };
    let json = std::env::var("ALGA_WF_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

/// The process's metrics recorder, installed on first use.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("alga_wf_activations_total", "workflow activations answered");
    describe_histogram!(
        "alga_wf_activation_seconds",
        "time to answer one activation in the interpreter"
    );
    describe_counter!("alga_wf_commands_total", "commands sent to Temporal");
    describe_gauge!(
        "alga_wf_cached_runs",
        "runs holding an interpreter instance"
    );
    describe_counter!("alga_wf_activities_total", "activities by outcome");
    describe_counter!(
        "alga_wf_ledger_hits_total",
        "actions answered from the idempotency ledger"
    );
    describe_counter!("alga_wf_events_ingested_total", "events submitted");
    describe_counter!("alga_wf_events_delivered_total", "event deliveries to runs");
    describe_counter!(
        "alga_wf_event_launches_total",
        "runs started by event triggers"
    );
    describe_counter!("alga_wf_runs_started_total", "runs launched");
    describe_counter!(
        "alga_wf_rate_limited_total",
        "starts refused by the tenant rate limit"
    );
}

/// Serves `/metrics` on `listen` in the background (for processes without the API).
pub async fn serve_metrics(listen: &str) -> Result<(), String> {
    // Installed now, or what happens before the first scrape is not counted.
    metrics();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} for metrics: {e}"))?;
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { metrics().render() }),
    );
    tracing::info!("serving metrics on http://{listen}/metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("the metrics endpoint stopped: {e}");
        }
    });
    Ok(())
}
