//! The host side of the interpreter's imports: each call records one command.

use alga_protocol::protocol::Command;

use super::alga::workflow::{host, types};
use super::convert;
use super::memory::MemoryCap;

/// Per-instance state: the commands of the current activation.
pub struct HostState {
    /// Commands recorded so far in this activation.
    pub commands: Vec<Command>,
    /// A protocol problem seen while recording (invalid JSON from the guest).
    pub protocol_error: Option<String>,
    /// The linear-memory cap.
    pub memory: MemoryCap,
}

impl HostState {
    /// Empty state.
    pub fn new(memory: MemoryCap) -> Self {
        HostState {
            commands: Vec::new(),
            protocol_error: None,
            memory,
        }
    }

    fn push(&mut self, command: Result<Command, String>) {
        match command {
            Ok(command) => self.commands.push(command),
            Err(problem) => {
                self.protocol_error.get_or_insert(problem);
            }
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn start_timer(&mut self, seq: u32, duration_ms: u64) {
        self.push(Ok(Command::StartTimer { seq, duration_ms }));
    }

    fn cancel_timer(&mut self, seq: u32) {
        self.push(Ok(Command::CancelTimer { seq }));
    }

    fn schedule_activity(&mut self, request: types::ActivityRequest) {
        self.push(convert::activity(request).map(Command::ScheduleActivity));
    }

    fn request_cancel_activity(&mut self, seq: u32) {
        self.push(Ok(Command::RequestCancelActivity { seq }));
    }

    fn start_child(&mut self, request: types::ChildRequest) {
        self.push(convert::child(request).map(Command::StartChild));
    }

    fn cancel_child(&mut self, seq: u32) {
        self.push(Ok(Command::CancelChild { seq }));
    }

    fn respond_query(&mut self, id: String, answer: Result<String, String>) {
        let answer = match answer {
            Ok(text) => convert::json(&text).map(Ok),
            Err(message) => Ok(Err(message)),
        };
        self.push(answer.map(|answer| Command::RespondQuery { id, answer }));
    }

    fn respond_update(&mut self, id: String, response: types::UpdateResponse) {
        self.push(
            convert::update_response(response)
                .map(|response| Command::RespondUpdate { id, response }),
        );
    }

    fn complete_run(&mut self, scopes: String) {
        self.push(convert::json(&scopes).map(|result| Command::CompleteRun { result }));
    }

    fn fail_run(&mut self, error: types::RuntimeError) {
        self.push(convert::runtime_error(error).map(|error| Command::FailRun { error }));
    }

    fn cancel_run(&mut self) {
        self.push(Ok(Command::CancelRun));
    }

    fn continue_as_new(&mut self, next: types::RunStart) {
        self.push(convert::run_start(next).map(|s| Command::ContinueAsNew(Box::new(s))));
    }

    fn record_event(&mut self, event: types::RunEvent) {
        self.push(convert::run_event(event).map(Command::Record));
    }
}
