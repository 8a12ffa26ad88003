//! The delivery sweeper: what ingress could not finish is finished later, by whichever worker
//! looks first. Every few seconds it routes events stored but never routed (the process died
//! in between) and sends deliveries that should have happened and did not (a signal that
//! failed and gave its claim back; a worker that died before delivering the events that came
//! before a run's new wait). Deliveries are claimed per (event, run), so any number of workers
//! may sweep at once and a run still hears each event once.

use std::time::Duration;

use super::{Ingress, delivery};
use crate::store::StoreError;

/// How many events or deliveries one pass takes on (the rest wait for the next pass).
const BATCH: i64 = 500;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Events routed that had never been.
    pub routed: usize,
    /// Deliveries sent that had been missed.
    pub delivered: usize,
    /// Deliveries that failed again (the next pass retries them).
    pub failed: usize,
}

impl Ingress<'_> {
    /// One pass of the sweeper.
    pub async fn sweep(&self) -> Result<Swept, StoreError> {
        let routed = self.route_unrouted().await?;
        let mut swept = Swept {
            routed,
            ..Swept::default()
        };
        for (run, tenant, event) in self.store.stranded_deliveries(BATCH).await? {
            match delivery::deliver(self.store, self.client, Some(tenant), &event, &run).await {
                Ok(true) => swept.delivered += 1,
                Ok(false) => {}
                Err(e) => {
                    swept.failed += 1;
                    tracing::warn!(event_id = %event.event_id, "a missed delivery failed again: {e}");
                }
            }
        }
        if swept.delivered > 0 {
            metrics::counter!("alga_wf_swept_deliveries_total").increment(swept.delivered as u64);
        }
        Ok(swept)
    }

    /// Sweeps every `interval` for as long as the task runs. A database or Temporal outage
    /// only delays the next pass.
    pub async fn sweep_forever(self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.sweep().await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(?swept, "the sweeper finished what ingress could not");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("sweeping deliveries: {e}"),
            }
        }
    }
}
