//! `time.wait` and `event.wait` (dsl-semantics §4.6, §4.7).

use serde_json::{Value, json};

use super::filters;
use super::protocol::{Command, RunEvent, WaitKind, WaitStatus};
use super::run::{Flow, Run};
use super::signals::EVENT_SIGNAL;
use super::state::{BufferedSignal, Pending};
use crate::definition::{Assignments, EventWait, TimeWait, TimeWaitMode};
use crate::error::{Failure, category};
use crate::expr::{js_string, now_iso};
use crate::scope::InterpreterTarget;

/// Parses a `time.wait` until value: RFC 3339, or a date (`YYYY-MM-DD`, midnight UTC), or a
/// date and time without an offset (read as UTC).
pub(super) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

impl Run {
    /// Applies wait and human-task `assign` entries in order, each seeing the earlier writes.
    pub(super) fn apply_assignments(
        &mut self,
        entries: &Assignments,
        field: &str,
    ) -> Result<(), Failure> {
        for (target, expr) in entries {
            let value = self.eval_rich(&expr.source, &format!("{field}.{target}"))?;
            let target = InterpreterTarget::parse(target)
                .map_err(|e| Failure::new(category::VALIDATION, e.to_string()))?;
            self.state.scopes.assign(&target, value);
        }
        Ok(())
    }

    pub(super) fn start_time_wait(&mut self, wait: &TimeWait, path: &str) -> Result<Flow, Failure> {
        let now = self.facts.now_ms;
        let (mode, due_ms) = match &wait.mode {
            TimeWaitMode::Duration(ms) => ("duration", now.saturating_add(*ms as i64)),
            TimeWaitMode::Until(expr) => {
                let value = self.eval_rich(&expr.source, "config.until")?;
                let text = js_string(&value);
                let due = parse_time(&text).ok_or_else(|| {
                    Failure::new(
                        category::VALIDATION,
                        format!("time.wait until expression did not resolve to a valid date/time (got `{text}`)"),
                    )
                })?;
                ("until", due)
            }
        };
        let due_at = now_iso(due_ms);
        self.record(RunEvent::WaitOpened {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Time,
            event_name: None,
            correlation_key: None,
            due_at: Some(due_at.clone()),
            task_id: None,
        });
        if due_ms <= now {
            return self.finish_time_wait(wait, path, mode, &due_at);
        }
        let seq = self.state.take_seq();
        self.out.push(Command::StartTimer {
            seq,
            duration_ms: (due_ms - now) as u64,
        });
        self.state.pending = Some(Pending::TimeWait {
            seq,
            mode: mode.to_owned(),
            due_at,
        });
        Ok(Flow::Blocked)
    }

    pub(super) fn finish_time_wait(
        &mut self,
        wait: &TimeWait,
        path: &str,
        mode: &str,
        due_at: &str,
    ) -> Result<Flow, Failure> {
        self.record(RunEvent::WaitClosed {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Time,
            status: WaitStatus::Resolved,
        });
        let resumed = json!({"mode": mode, "dueAt": due_at, "resumedAt": self.now_iso()});
        self.state.scopes.vars.insert("timeWait".into(), resumed);
        self.apply_assignments(&wait.assign, "config.assign")?;
        Ok(Flow::Done {
            attempt: 1,
            handled: None,
        })
    }

    pub(super) fn start_event_wait(
        &mut self,
        wait: &EventWait,
        path: &str,
    ) -> Result<Flow, Failure> {
        let key = match self.eval_rich(&wait.correlation_key.source, "config.correlationKey")? {
            Value::Null => None,
            other => Some(js_string(&other)),
        };
        let timeout = wait
            .timeout_ms
            .map(|ms| (ms, now_iso(self.facts.now_ms.saturating_add(ms as i64))));
        self.record(RunEvent::WaitOpened {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Event,
            event_name: Some(wait.event_name.clone()),
            correlation_key: key.clone(),
            due_at: timeout.as_ref().map(|(_, at)| at.clone()),
            task_id: None,
        });
        if let Some(signal) = self.take_matching_event(wait, key.as_deref()) {
            return self.finish_event_wait(wait, path, signal);
        }
        let timer = timeout.as_ref().map(|(ms, _)| {
            let seq = self.state.take_seq();
            self.out.push(Command::StartTimer {
                seq,
                duration_ms: *ms,
            });
            seq
        });
        self.state.pending = Some(Pending::EventWait {
            timer,
            correlation_key: key,
            timeout_at: timeout.map(|(_, at)| at),
        });
        Ok(Flow::Blocked)
    }

    /// Removes and returns the first buffered event signal the wait accepts.
    pub(super) fn take_matching_event(
        &mut self,
        wait: &EventWait,
        key: Option<&str>,
    ) -> Option<BufferedSignal> {
        let index = self.state.signals.iter().position(|signal| {
            let p = &signal.payload;
            signal.name == EVENT_SIGNAL
                && p["eventName"].as_str() == Some(wait.event_name.as_str())
                && key.is_none_or(|k| p["correlationKey"].as_str() == Some(k))
                && wait
                    .filters
                    .iter()
                    .all(|f| filters::passes(f, &p["payload"]))
        })?;
        Some(self.state.signals.remove(index))
    }

    pub(super) fn finish_event_wait(
        &mut self,
        wait: &EventWait,
        path: &str,
        signal: BufferedSignal,
    ) -> Result<Flow, Failure> {
        self.record(RunEvent::WaitClosed {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Event,
            status: WaitStatus::Resolved,
        });
        let vars = &mut self.state.scopes.vars;
        vars.insert("event".into(), signal.payload["payload"].clone());
        vars.insert("eventName".into(), signal.payload["eventName"].clone());
        self.apply_assignments(&wait.assign, "config.assign")?;
        Ok(Flow::Done {
            attempt: 1,
            handled: None,
        })
    }

    /// The timeout of an event wait: a catchable `TimeoutError`.
    pub(super) fn event_wait_timed_out(
        &mut self,
        wait: &EventWait,
        path: &str,
        correlation_key: Option<String>,
        timeout_at: Option<String>,
    ) -> Failure {
        self.record(RunEvent::WaitClosed {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Event,
            status: WaitStatus::Timeout,
        });
        Failure::new(
            category::TIMEOUT,
            format!("event.wait timed out waiting for {}", wait.event_name),
        )
        .with_details(json!({
            "eventName": wait.event_name,
            "correlationKey": correlation_key,
            "timeoutAt": timeout_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn until_accepts_rfc3339_and_dates() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("1970-01-01T00:00:02.5"), Some(2500));
        assert_eq!(parse_time("tomorrow"), None);
        assert_eq!(parse_time("1700000000000"), None);
    }
}
