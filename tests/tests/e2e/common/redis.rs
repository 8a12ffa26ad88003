//! A private Redis per test (the same server `alga-wf dev` runs), with its data in a temporary
//! directory so it can be stopped and started again on the same port as an outage would; and
//! the product's side of the event stream: messages published with its event bus's layout.

use std::sync::Mutex;

use alga_wf::dev::redis::RedisServer;
use alga_wf::dev::temporal::free_port;

/// The stream the product publishes on and the worker consumes by default.
pub const STREAM: &str = "workflow:events:global";
/// Its dead letters.
pub const DEAD_LETTERS: &str = "workflow:events:global:dlq";
/// The worker's consumer group.
pub const GROUP: &str = "workflow-runtime-v2";

/// A running Redis.
pub struct Redis {
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    server: Mutex<Option<RedisServer>>,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a server on a free port.
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port().expect("a free port");
        let server = RedisServer::start(port, dir.path())
            .unwrap_or_else(|e| panic!("Redis did not start: {e}"));
        Redis {
            url: server.url.clone(),
            port,
            server: Mutex::new(Some(server)),
            dir,
        }
    }

    /// Kills the server (SIGKILL).
    pub fn stop(&self) {
        *self.server.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Starts it again on the same port and data.
    pub fn start_again(&self) {
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        *server = Some(
            RedisServer::start(self.port, self.dir.path())
                .unwrap_or_else(|e| panic!("Redis did not start again: {e}")),
        );
    }

    /// A connection.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url))
    }

    /// Publishes messages on the stream at once (one transaction, so a consumer reads them in
    /// one batch), each a flat hash as the product's event bus writes it.
    pub fn publish(&self, messages: &[Vec<(&str, String)>]) {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for fields in messages {
            pipe.xadd(STREAM, "*", fields).ignore();
        }
        pipe.query::<()>(&mut self.connection())
            .unwrap_or_else(|e| panic!("publishing: {e}"));
    }

    /// How many messages the worker's group holds read but not acknowledged.
    pub fn pending(&self) -> usize {
        let reply: redis::Value = redis::cmd("XPENDING")
            .arg(STREAM)
            .arg(GROUP)
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("XPENDING: {e}"));
        match reply {
            redis::Value::Array(items) => match items.first() {
                Some(redis::Value::Int(n)) => *n as usize,
                other => panic!("XPENDING answered {other:?}"),
            },
            other => panic!("XPENDING answered {other:?}"),
        }
    }

    /// The messages on a stream, each as its fields.
    pub fn messages(&self, stream: &str) -> Vec<std::collections::HashMap<String, String>> {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("XRANGE {stream}: {e}"));
        reply
            .ids
            .into_iter()
            .map(|entry| {
                entry
                    .map
                    .iter()
                    .map(|(k, v)| {
                        let text: String = redis::from_redis_value_ref(v).unwrap_or_default();
                        (k.clone(), text)
                    })
                    .collect()
            })
            .collect()
    }
}

/// An event as the product's event bus publishes it (`packages/event-bus`): the bus's own
/// fields beside the payload, which is JSON text.
pub fn bus_message(
    tenant: &str,
    event_type: &str,
    event_id: &str,
    payload: &serde_json::Value,
) -> Vec<(&'static str, String)> {
    vec![
        ("event_id", event_id.to_owned()),
        ("execution_id", String::new()),
        ("event_name", event_type.to_lowercase()),
        ("event_type", event_type.to_owned()),
        ("tenant", tenant.to_owned()),
        ("timestamp", "2026-11-30T12:00:00.000Z".to_owned()),
        ("user_id", "4b7d0000-0000-4000-8000-0000000000aa".to_owned()),
        ("payload_json", payload.to_string()),
    ]
}
