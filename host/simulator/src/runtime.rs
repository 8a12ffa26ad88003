//! An interpreter the host can drive: the wasm component (what production runs) or the same
//! library linked natively (for property tests, fuzzing and differential checks).

use alga_interpreter::Machine;
use alga_interpreter::validate::validate;
use alga_protocol::Issue;
use alga_protocol::KnownAction;
use alga_protocol::protocol::{Activation, Command};
use serde_json::Value;

use crate::engine::{EngineError, InterpreterEngine, RunInstance};

/// One run's interpreter.
pub trait Interpreter {
    /// Applies one activation.
    fn activate(&mut self, activation: &Activation) -> Result<Vec<Command>, EngineError>;
}

/// Makes interpreters and validates definitions.
pub trait Runtime {
    /// The per-run interpreter.
    type Instance: Interpreter;
    /// A fresh interpreter for one run.
    fn instantiate(&self) -> Result<Self::Instance, EngineError>;
    /// The semantics version runs pin.
    fn semantics_version(&self) -> String;
    /// Checks a definition.
    fn validate(
        &self,
        definition: &Value,
        known_actions: Option<&[KnownAction]>,
    ) -> Result<Vec<Issue>, EngineError>;
}

impl Interpreter for RunInstance {
    fn activate(&mut self, activation: &Activation) -> Result<Vec<Command>, EngineError> {
        RunInstance::activate(self, activation)
    }
}

impl Runtime for InterpreterEngine {
    type Instance = RunInstance;

    fn instantiate(&self) -> Result<RunInstance, EngineError> {
        InterpreterEngine::instantiate(self)
    }

    fn semantics_version(&self) -> String {
        InterpreterEngine::semantics_version(self).to_owned()
    }

    fn validate(
        &self,
        definition: &Value,
        known_actions: Option<&[KnownAction]>,
    ) -> Result<Vec<Issue>, EngineError> {
        InterpreterEngine::validate(self, definition, known_actions)
    }
}

/// The interpreter library linked into the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeRuntime;

/// A native run.
#[derive(Default)]
pub struct NativeInstance(Machine);

impl Interpreter for NativeInstance {
    fn activate(&mut self, activation: &Activation) -> Result<Vec<Command>, EngineError> {
        self.0
            .activate(activation.clone())
            .map_err(|e| EngineError::Refused(e.to_string()))
    }
}

impl Runtime for NativeRuntime {
    type Instance = NativeInstance;

    fn instantiate(&self) -> Result<NativeInstance, EngineError> {
        Ok(NativeInstance::default())
    }

    fn semantics_version(&self) -> String {
        alga_interpreter::RUNTIME_SEMANTICS_VERSION.to_owned()
    }

    fn validate(
        &self,
        definition: &Value,
        known_actions: Option<&[KnownAction]>,
    ) -> Result<Vec<Issue>, EngineError> {
        Ok(validate(definition, known_actions))
    }
}
