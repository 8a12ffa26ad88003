//! `human.task` (dsl-semantics §4.8): the task goes out as an activity, the response comes back
//! as a signal or, better, a Workflow Update validated before it is accepted, and is checked
//! against the task type's form schema inside the interpreter.

use serde_json::{Map, Value, json};

use super::protocol::*;
use super::run::{Flow, Run};
use super::signals::{HUMAN_TASK_COMPLETED, HUMAN_TASK_SIGNAL};
use super::state::{BufferedSignal, Pending};
use crate::definition::HumanTask;
use crate::error::{Failure, category};
use crate::expr::js_string;
use crate::form;

/// The event name that resumes a task without validation.
const ADMIN_RESUME: &str = "ADMIN_RESUME";

impl Run {
    pub(super) fn start_human_task(
        &mut self,
        task: &HumanTask,
        path: &str,
    ) -> Result<Flow, Failure> {
        let title = match self.eval_rich(&task.title.source, "config.title")? {
            Value::Null => String::new(),
            other => js_string(&other),
        };
        let description = match &task.description {
            Some(expr) => match self.eval_rich(&expr.source, "config.description")? {
                Value::Null => None,
                other => Some(js_string(&other)),
            },
            None => None,
        };
        let mut context_data = Map::new();
        for (key, expr) in &task.context_data {
            let value = self.eval_rich(&expr.source, &format!("config.contextData.{key}"))?;
            context_data.insert(key.clone(), value);
        }
        let seq = self.state.take_seq();
        self.out.push(Command::ScheduleActivity(ActivityRequest {
            seq,
            kind: ActivityKind::CreateHumanTask(HumanTaskRequest {
                step_path: path.to_owned(),
                task_type: task.task_type.clone(),
                title,
                description,
                context_data: Value::Object(context_data),
            }),
            retry: None,
        }));
        self.state.pending = Some(Pending::HumanTaskCreation { seq });
        Ok(Flow::Blocked)
    }

    /// The task exists: open the wait, and take a response that arrived early.
    pub(super) fn human_task_created(
        &mut self,
        task: &HumanTask,
        path: &str,
        created: Value,
    ) -> Result<Flow, Failure> {
        let task_id = created
            .get("taskId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::new(
                    category::ACTION,
                    "creating the human task returned no `taskId`",
                )
            })?;
        let form_schema = created.get("formSchema").filter(|s| !s.is_null()).cloned();
        self.record(RunEvent::WaitOpened {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Human,
            event_name: Some(HUMAN_TASK_COMPLETED.to_owned()),
            correlation_key: Some(task_id.clone()),
            due_at: None,
            task_id: Some(task_id.clone()),
        });
        if let Some(response) = self.take_task_response(&task_id) {
            return self.finish_human_task(task, path, &response.payload, form_schema.as_ref());
        }
        self.state.pending = Some(Pending::HumanTask {
            task_id,
            form_schema,
        });
        Ok(Flow::Blocked)
    }

    pub(super) fn take_task_response(&mut self, task_id: &str) -> Option<BufferedSignal> {
        let index = self.state.signals.iter().position(|s| {
            s.name == HUMAN_TASK_SIGNAL && s.payload["taskId"].as_str() == Some(task_id)
        })?;
        Some(self.state.signals.remove(index))
    }

    /// Checks a response (`{taskId, eventName, payload}`) against the form, unless an admin
    /// resumes the task. The problems come back as a `ValidationError`.
    pub(super) fn check_task_response(
        task: &HumanTask,
        response: &Value,
        form_schema: Option<&Value>,
    ) -> Result<(), Failure> {
        let event_name = response["eventName"]
            .as_str()
            .unwrap_or(HUMAN_TASK_COMPLETED);
        let payload = &response["payload"];
        if event_name == ADMIN_RESUME || payload.get("__admin_override") == Some(&Value::Bool(true))
        {
            return Ok(());
        }
        let Some(schema) = form_schema else {
            return Err(Failure::new(
                category::VALIDATION,
                format!("Missing form schema for task type {}", task.task_type),
            ));
        };
        let problems =
            form::check(schema, payload).map_err(|e| Failure::new(category::VALIDATION, e))?;
        if problems.is_empty() {
            return Ok(());
        }
        Err(Failure::new(
            category::VALIDATION,
            format!(
                "Human task response validation failed: {}",
                problems.join("; ")
            ),
        )
        .with_code("HUMAN_TASK_RESPONSE_INVALID")
        .with_details(json!({"errors": problems, "taskType": task.task_type})))
    }

    pub(super) fn finish_human_task(
        &mut self,
        task: &HumanTask,
        path: &str,
        response: &Value,
        form_schema: Option<&Value>,
    ) -> Result<Flow, Failure> {
        if let Err(failure) = Self::check_task_response(task, response, form_schema) {
            self.record(RunEvent::WaitClosed {
                path: path.to_owned(),
                execution: self.execution(path),
                kind: WaitKind::Human,
                status: WaitStatus::Canceled,
            });
            return Err(failure);
        }
        self.record(RunEvent::WaitClosed {
            path: path.to_owned(),
            execution: self.execution(path),
            kind: WaitKind::Human,
            status: WaitStatus::Resolved,
        });
        let vars = &mut self.state.scopes.vars;
        vars.insert("event".into(), response["payload"].clone());
        vars.insert(
            "eventName".into(),
            response
                .get("eventName")
                .cloned()
                .unwrap_or_else(|| json!(HUMAN_TASK_COMPLETED)),
        );
        self.apply_assignments(&task.assign, "config.assign")?;
        Ok(Flow::Done {
            attempt: 1,
            handled: None,
        })
    }
}
