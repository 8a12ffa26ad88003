//! The delivery sweeper: what ingress could not finish is finished later, by whichever worker
//! looks first. Every few seconds it routes events stored but never routed (the process died
//! in between) and sends deliveries that should have happened and did not (a signal that
//! failed and gave its claim back; a worker that died before delivering the events that came
//! before a run's new wait). Deliveries are claimed per (event, run), so any number of workers
//! may sweep at once and a run still hears each event once. It also reconciles the read model
//! with Temporal: a run whose row has not changed for a while is looked up, and one Temporal
//! closed without an activation (terminated, timed out) has its row, waits and tasks closed.
//! And it finishes launches: a run whose row was written but whose workflow is not known to
//! have started (the launcher died, or Temporal was away) is started if a trigger made it (the
//! event was accepted, so its run must happen) and failed with the reason if a caller asked
//! for it (that caller was answered with an error and may have tried again). Less often, it
//! matches schedule rows with Temporal Schedules both ways (`crate::usecases::schedules`). And it holds
//! runs to their deadline: a run still open past its execution timeout (its workflow's own, else
//! the deployment's) is terminated in Temporal and its row ended `FAILED` with a `TimeoutError`.

use std::time::Duration;

use super::{Ingress, delivery};
use crate::store::StoreError;
use crate::temporal::TemporalState;

/// How many events or deliveries one pass takes on (the rest wait for the next pass).
const BATCH: i64 = 500;

/// How many runs one pass asks Temporal about.
const RECONCILE_BATCH: i64 = 50;

/// When the sweeper works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Time between passes.
    pub interval: Duration,
    /// How long a run's row may stay unchanged before Temporal is asked about it.
    pub reconcile_idle: Duration,
    /// How long before a run found open is asked about again.
    pub reconcile_recheck: Duration,
    /// How long a run's workflow (or a schedule's Temporal Schedule) may take to start before
    /// the sweeper finishes it (longer than any start takes, so one in progress is left alone).
    pub launch_grace: Duration,
    /// Time between reconciliations of schedule rows with Temporal Schedules.
    pub schedule_interval: Duration,
    /// How long a run may stay open, unless its workflow says otherwise.
    pub execution_timeout: Duration,
    /// Days ended runs (and routed events) are kept, unless their workflow says otherwise
    /// (none: kept until purged by hand).
    pub retention_days: Option<i32>,
}

/// The reference's execution timeout: 30 days.
pub const DEFAULT_EXECUTION_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            interval: Duration::from_secs(5),
            reconcile_idle: Duration::from_secs(60),
            reconcile_recheck: Duration::from_secs(300),
            launch_grace: Duration::from_secs(60),
            schedule_interval: Duration::from_secs(60),
            execution_timeout: DEFAULT_EXECUTION_TIMEOUT,
            retention_days: None,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Events routed that had never been.
    pub routed: usize,
    /// Deliveries sent that had been missed.
    pub delivered: usize,
    /// Deliveries that failed again (the next pass retries them).
    pub failed: usize,
    /// Runs Temporal had closed without telling the worker, whose rows were closed.
    pub reconciled: usize,
    /// Triggered runs whose workflow the sweeper started (their launch had failed).
    pub launched: usize,
    /// Manual runs whose launch had stopped before the workflow started, now failed.
    pub abandoned: usize,
    /// Runs ended for passing their execution timeout.
    pub timed_out: usize,
}

impl Ingress<'_> {
    /// One pass of the sweeper.
    pub async fn sweep(&self, settings: &SweepSettings) -> Result<Swept, StoreError> {
        let routed = self.route_unrouted().await?;
        let mut swept = Swept {
            routed,
            ..Swept::default()
        };
        for (run, event) in self.store.stranded_deliveries(BATCH).await? {
            match delivery::deliver(self.store, self.client, &event, &run).await {
                Ok(true) => swept.delivered += 1,
                Ok(false) => {}
                Err(e) => {
                    swept.failed += 1;
                    tracing::warn!(event_id = %event.event_id, "a missed delivery failed again: {e}");
                }
            }
        }
        (swept.launched, swept.abandoned) = self.finish_launches(settings).await?;
        swept.reconciled = self.reconcile(settings).await?;
        swept.timed_out = self.time_out(settings).await?;
        if swept.delivered > 0 {
            metrics::counter!("alga_wf_swept_deliveries_total").increment(swept.delivered as u64);
        }
        Ok(swept)
    }

    /// Finishes launches that stopped between the run's row and its workflow's start: starts
    /// triggered runs, fails manual ones. `(started, failed)`.
    async fn finish_launches(
        &self,
        settings: &SweepSettings,
    ) -> Result<(usize, usize), StoreError> {
        let pending = self
            .store
            .pending_starts(settings.launch_grace.as_secs_f64(), RECONCILE_BATCH)
            .await?;
        let (mut started, mut failed) = (0, 0);
        for run in pending {
            let run_id = run.run_id;
            if !run.fired {
                let reason = "the launch stopped before the workflow started; start the run again";
                self.store.launch_failed(run.tenant, run_id, reason).await?;
                failed += 1;
                continue;
            }
            match crate::usecases::launch::start_pending(
                self.store,
                self.client,
                self.task_queue,
                run.tenant,
                run_id,
                run.start,
            )
            .await
            {
                Ok(_) => {
                    tracing::info!(%run_id, "started a triggered run whose launch had failed");
                    started += 1;
                }
                Err(e) => tracing::warn!(%run_id, "starting a triggered run failed again: {e}"),
            }
        }
        Ok((started, failed))
    }

    /// Closes the rows of idle-looking runs that Temporal has closed (terminated, timed out):
    /// their waits stop receiving events and their tasks leave the inbox. How many.
    async fn reconcile(&self, settings: &SweepSettings) -> Result<usize, StoreError> {
        let runs = self
            .store
            .runs_to_reconcile(
                settings.reconcile_idle.as_secs_f64(),
                settings.reconcile_recheck.as_secs_f64(),
                RECONCILE_BATCH,
            )
            .await?;
        let mut closed = 0;
        for run in runs {
            match crate::temporal::describe_run(self.client, &run.temporal_workflow_id).await {
                Ok(TemporalState::Closed { status, error, at }) => {
                    if self
                        .store
                        .close_run_from_temporal(run.run_id, status, error.as_ref(), at)
                        .await?
                    {
                        tracing::info!(run_id = %run.run_id, status, "closed a run Temporal had closed");
                        closed += 1;
                    }
                }
                // Open, or never started (the launch sweep's concern): ask again later.
                Ok(TemporalState::Open | TemporalState::Missing) => {
                    self.store.run_reconciled(run.run_id).await?;
                }
                Err(e) => {
                    tracing::warn!(run_id = %run.run_id, "asking Temporal about a run: {e:#}")
                }
            }
        }
        Ok(closed)
    }

    /// Ends the runs past their execution timeout: terminated in Temporal (their children are
    /// asked to cancel), their rows, waits and tasks closed with a `TimeoutError`. How many.
    async fn time_out(&self, settings: &SweepSettings) -> Result<usize, StoreError> {
        let default_secs = i64::try_from(settings.execution_timeout.as_secs()).unwrap_or(i64::MAX);
        let overdue = self
            .store
            .overdue_runs(default_secs, RECONCILE_BATCH)
            .await?;
        let mut ended = 0;
        for (run, secs) in overdue {
            let message = format!("the run passed its execution timeout of {secs} s");
            if let Err(e) = crate::temporal::terminate_workflow(
                self.client,
                &run.temporal_workflow_id,
                &message,
            )
            .await
            {
                // Already closed, or Temporal away: reconciliation or the next pass sees to it.
                tracing::warn!(run_id = %run.run_id, "ending a run past its deadline: {e:#}");
                continue;
            }
            let error = serde_json::json!({"category": "TimeoutError", "message": message});
            if self
                .store
                .close_run_from_temporal(run.run_id, "FAILED", Some(&error), chrono::Utc::now())
                .await?
            {
                tracing::info!(run_id = %run.run_id, secs, "ended a run past its execution timeout");
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Sweeps every `settings.interval` for as long as the task runs. A database or Temporal
    /// outage only delays the next pass.
    pub async fn sweep_forever(self, settings: SweepSettings) {
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut schedules_swept: Option<tokio::time::Instant> = None;
        loop {
            ticks.tick().await;
            if schedules_swept.is_none_or(|at| at.elapsed() >= settings.schedule_interval) {
                schedules_swept = Some(tokio::time::Instant::now());
                let scheduler = crate::usecases::schedules::Scheduler {
                    store: self.store,
                    client: self.client,
                    task_queue: self.task_queue,
                };
                match scheduler.sweep(settings.launch_grace).await {
                    Ok(swept) if swept != crate::usecases::schedules::SchedulesSwept::default() => {
                        tracing::info!(?swept, "the sweeper matched schedules with Temporal");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("matching schedules with Temporal: {e}"),
                }
                // Retention at the same slower pace, a bounded batch at a time.
                match self
                    .store
                    .purge_expired(settings.retention_days, BATCH)
                    .await
                {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "purged runs past their retention"),
                    Err(e) => tracing::warn!("purging runs past their retention: {e}"),
                }
            }
            match self.sweep(&settings).await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(?swept, "the sweeper finished what ingress could not");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("sweeping deliveries: {e}"),
            }
        }
    }
}
