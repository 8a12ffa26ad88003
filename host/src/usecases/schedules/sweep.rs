//! Matching schedule rows and Temporal Schedules both ways, for what a process that died (or a
//! Temporal outage) left between the two writes: a row whose Schedule is missing has it created
//! again, and a Schedule (`alga-wf-schedule:<id>`) whose row is gone is deleted, so nothing
//! fires unseen and nothing the API lists is silently dead.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use temporalio_client::schedules::ListSchedulesOptions;

use super::{ScheduleError, Scheduler, TEMPORAL_SCHEDULE_PREFIX};

/// What one reconciliation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulesSwept {
    /// Temporal Schedules created again for rows that had lost theirs.
    pub recreated: usize,
    /// Temporal Schedules deleted because their row was gone.
    pub removed: usize,
}

impl Scheduler<'_> {
    /// Reconciles every tenant's rows with Temporal's Schedules. Rows changed within `grace`
    /// are left alone (their own request may still be registering them).
    pub async fn sweep(&self, grace: Duration) -> Result<SchedulesSwept, ScheduleError> {
        // Temporal first, rows second: a row is written before its Schedule, so every Schedule
        // listed here has its row unless that row was deleted.
        let mut listed = HashSet::new();
        let mut schedules = self.client.list_schedules(ListSchedulesOptions::default());
        while let Some(summary) = schedules.next().await {
            let summary = summary?;
            if let Some(id) = summary.schedule_id().strip_prefix(TEMPORAL_SCHEDULE_PREFIX) {
                listed.insert(id.to_owned());
            }
        }
        let rows = self.store.all_schedules().await?;
        let known: HashSet<String> = rows.iter().map(|row| row.id.to_string()).collect();
        let mut swept = SchedulesSwept::default();
        for orphan in listed.difference(&known) {
            let Ok(id) = orphan.parse() else { continue };
            if self.delete_temporal_schedule(id).await? {
                tracing::info!(%id, "deleted a Temporal Schedule whose row was gone");
                swept.removed += 1;
            }
        }
        let settled =
            chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let now = chrono::Utc::now();
        for row in rows {
            let missing = !listed.contains(&row.id.to_string());
            // A failed row keeps the Schedule it had; a one-time schedule in the past has
            // nothing left to fire.
            let worth_it = row.status != "failed"
                && row.updated_at < settled
                && !(row.trigger_type == "schedule" && row.run_at.is_some_and(|at| at < now));
            if !(missing && worth_it) {
                continue;
            }
            match self.register(&row, true).await {
                Ok(()) => {
                    tracing::info!(id = %row.id, "created the Temporal Schedule a row had lost");
                    swept.recreated += 1;
                }
                // Listing is eventually consistent: it was there after all.
                Err(ScheduleError::AlreadyExists(_)) => {}
                Err(e) => tracing::warn!(id = %row.id, "recreating a Temporal Schedule: {e}"),
            }
        }
        Ok(swept)
    }
}
