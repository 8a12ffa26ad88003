//! When a long-running command (`worker`, `serve`, `dev`) should stop: Ctrl-C (SIGINT) or
//! SIGTERM, which is what a container runtime or systemd sends first. Either starts a graceful
//! stop: no new work is taken, work in flight finishes within its grace period, and the process
//! exits 0.

/// Resolves on the first SIGINT or SIGTERM.
pub async fn requested() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let sigterm = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping gracefully"),
        _ = sigterm => tracing::info!("terminated: stopping gracefully"),
    }
}
