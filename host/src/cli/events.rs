//! Events from the command line: `alga-wf send-event`, and the options every command that
//! takes events in shares (how a key is read from a payload; the product's Redis stream).

use anyhow::Context;

use super::{DatabaseArgs, TemporalArgs, print_json};
use crate::usecases::ingress::CorrelationPaths;
use crate::usecases::ingress::stream::StreamSettings;

/// How an event without a correlation key gets one from its payload.
#[derive(Debug, Clone, clap::Args)]
pub struct CorrelationArgs {
    /// Payload paths read for an event's correlation key when it names none, by event name
    /// (exact, a `PREFIX_*`, or `*`), replacing the defaults: `{"TICKET_*": ["ticketId"],
    /// "INVOICE_*": ["invoiceId", "clientId"], "*": ["ticketId", "clientId", "invoiceId",
    /// "projectId", "paymentId"]}`.
    #[arg(long, env = "ALGA_WF_EVENT_CORRELATION_PATHS", value_name = "JSON")]
    event_correlation_paths: Option<String>,
}

impl CorrelationArgs {
    /// The paths given, or the defaults.
    pub fn paths(&self) -> anyhow::Result<CorrelationPaths> {
        match &self.event_correlation_paths {
            Some(json) => CorrelationPaths::from_json(json)
                .context("--event-correlation-paths (ALGA_WF_EVENT_CORRELATION_PATHS)"),
            None => Ok(CorrelationPaths::default()),
        }
    }
}

/// The product's event bus, which a worker consumes when given a Redis URL.
#[derive(Debug, Clone, clap::Args)]
pub struct EventStreamArgs {
    /// Redis holding the product's event stream, e.g. redis://127.0.0.1:6379 (none: the
    /// worker consumes no stream; events come through the API only).
    #[arg(long, env = "ALGA_WF_REDIS_URL")]
    redis_url: Option<String>,
    /// The stream's key; dead letters go to it with `:dlq` added.
    #[arg(
        long,
        env = "ALGA_WF_EVENT_STREAM",
        default_value = "workflow:events:global"
    )]
    event_stream: String,
    /// The consumer group every worker joins.
    #[arg(
        long,
        env = "ALGA_WF_EVENT_CONSUMER_GROUP",
        default_value = "workflow-runtime-v2"
    )]
    event_consumer_group: String,
    /// This worker's consumer name, stable across its restarts (default: the host name).
    #[arg(long, env = "ALGA_WF_EVENT_CONSUMER")]
    event_consumer: Option<String>,
    /// How long, in milliseconds, a message may stay pending with a consumer before another
    /// takes it over (a consumer that died).
    #[arg(long, env = "ALGA_WF_EVENT_CLAIM_IDLE_MS", default_value_t = 30_000)]
    event_claim_idle_ms: u64,
    /// Deliveries after which a message that cannot be handled moves to the dead letters.
    #[arg(long, env = "ALGA_WF_EVENT_MAX_DELIVERIES", default_value_t = 3)]
    event_max_deliveries: usize,
}

impl EventStreamArgs {
    /// The stream to consume, if a Redis URL was given.
    pub fn settings(&self) -> Option<StreamSettings> {
        let url = self.redis_url.as_ref()?;
        let consumer = self.event_consumer.clone().unwrap_or_else(host_name);
        let mut settings = StreamSettings::new(url, consumer);
        settings.stream = self.event_stream.clone();
        settings.group = self.event_consumer_group.clone();
        settings.claim_idle = std::time::Duration::from_millis(self.event_claim_idle_ms.max(1));
        settings.max_deliveries = self.event_max_deliveries.max(1);
        Some(settings)
    }
}

/// The machine's name (a pod's name under Kubernetes), else `alga-wf`.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "alga-wf".into())
}

/// `alga-wf send-event`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SendEventArgs {
    /// The tenant (uuid).
    #[arg(long)]
    tenant: String,
    /// Event name.
    #[arg(long)]
    event_name: String,
    /// Correlation key (none: read from the payload, see --event-correlation-paths).
    #[arg(long)]
    correlation_key: Option<String>,
    /// Event payload (a JSON object).
    #[arg(long, default_value = "{}")]
    payload: String,
    /// The event's id (dedupe key; generated when absent).
    #[arg(long)]
    event_id: Option<String>,
    #[command(flatten)]
    correlation: CorrelationArgs,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    temporal: TemporalArgs,
}

impl SendEventArgs {
    /// Ingress from the command line; prints where the event went.
    pub async fn run(&self) -> anyhow::Result<u8> {
        let tenant = uuid::Uuid::parse_str(&self.tenant)
            .with_context(|| format!("--tenant `{}` is not a uuid", self.tenant))?;
        let event_id = match &self.event_id {
            Some(id) => uuid::Uuid::parse_str(id)
                .with_context(|| format!("--event-id `{id}` is not a uuid"))?,
            None => uuid::Uuid::new_v4(),
        };
        let payload = super::parse_json_arg("--payload", &self.payload)?;
        if !payload.is_object() {
            anyhow::bail!("--payload must be a JSON object");
        }
        let correlation_key = self.correlation.paths()?.key_for(
            self.correlation_key.as_deref(),
            &self.event_name,
            &payload,
        );
        let connection = IngressConnection::open(&self.database, &self.temporal).await?;
        let routed = connection
            .ingress()
            .submit(crate::store::NewEvent {
                event_id,
                tenant,
                event_name: self.event_name.clone(),
                correlation_key,
                other_keys: Vec::new(),
                payload,
            })
            .await?;
        print_json(&serde_json::to_value(routed).unwrap_or_default());
        Ok(0)
    }
}

/// What a command needs to hand work to ingress: the database and a Temporal client on the
/// worker's task queue (kept open while the command runs).
pub(super) struct IngressConnection {
    store: crate::store::Store,
    connected: crate::temporal::Connected,
    task_queue: String,
}

impl IngressConnection {
    /// Connects to both.
    pub(super) async fn open(
        database: &DatabaseArgs,
        temporal: &TemporalArgs,
    ) -> anyhow::Result<IngressConnection> {
        let store = database.connect().await?;
        let settings = temporal.settings();
        let connected = crate::temporal::connect(&settings).await?;
        Ok(IngressConnection {
            store,
            connected,
            task_queue: settings.task_queue,
        })
    }

    /// Ingress over the connection.
    pub(super) fn ingress(&self) -> crate::usecases::ingress::Ingress<'_> {
        crate::usecases::ingress::Ingress {
            store: &self.store,
            client: &self.connected.client,
            task_queue: &self.task_queue,
        }
    }
}
