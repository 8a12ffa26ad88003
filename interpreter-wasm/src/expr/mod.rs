//! Expressions: JSONata under the workflow language's rules (dsl-semantics §5).
//!
//! [`Engine`] is the small seam between the language rules and a JSONata implementation;
//! [`Evaluator`] applies the rules (source normalisation, the five-function allow-list, no
//! lambdas, undefined results are errors, the output-size guard) and caches compiled
//! expressions.

mod functions;
mod input;
mod jlens;
mod normalize;

pub use functions::{js_string, now_iso};
pub use input::{Input, Node};
pub use jlens::JlensEngine;
pub use normalize::normalize;

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::Value;

/// The five functions an expression may call, without `$`.
pub const ALLOWED_FUNCTIONS: &[&str] = &["nowIso", "coalesce", "len", "toString", "append"];

/// Largest result, as compact JSON text, an expression may produce.
pub const MAX_OUTPUT_BYTES: usize = 262_144;

/// Evaluation steps one expression may take before it fails with `U1006`. Deterministic: the
/// same expression and input stop at the same step on every machine.
pub const MAX_STEPS: u64 = 1_000_000;

/// Nesting depth (function calls, sub-expressions) an expression may reach before it fails
/// with `D1011`, unless [`EvalEnv::max_depth`] says otherwise. jlens defaults to 500 in
/// WebAssembly but 50,000 natively; setting it on every target makes the native library decide
/// exactly as the component does (the differential fuzz target found the difference).
pub const MAX_DEPTH: usize = 500;

/// Bytes a string built during an evaluation, or the arguments of a workflow function, may
/// take (`U1001` beyond). jlens allows 256 MiB, all of the component's memory, where a string
/// that large would end the activation out of memory instead of failing the expression.
pub const MAX_BUILT_BYTES: usize = 16 << 20;

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// JSONata's code (`S0201`, `T2010`, ...) or one of ours (`ALGA_*`).
    pub code: String,
    /// JSONata's own message, or ours.
    pub message: String,
    /// Offset in the source (UTF-16 units), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl ExprError {
    /// An error with our own code.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ExprError {
            code: code.to_owned(),
            message: message.into(),
            position: None,
        }
    }
}

/// Codes for the workflow language's own expression errors.
pub mod codes {
    /// A lambda (`function($x){...}`).
    pub const LAMBDA: &str = "ALGA_LAMBDA";
    /// A function outside the allow-list.
    pub const DISALLOWED_FUNCTION: &str = "ALGA_DISALLOWED_FUNCTION";
    /// The result was undefined.
    pub const UNDEFINED_RESULT: &str = "ALGA_UNDEFINED_RESULT";
    /// The result exceeded [`super::MAX_OUTPUT_BYTES`].
    pub const OUTPUT_TOO_LARGE: &str = "ALGA_OUTPUT_TOO_LARGE";
    /// The source was empty.
    pub const EMPTY: &str = "ALGA_EMPTY_EXPRESSION";
}

/// How an evaluation runs.
#[derive(Debug, Clone, Copy)]
pub struct EvalEnv {
    /// Workflow time for `nowIso()`, milliseconds since the epoch.
    pub now_ms: i64,
    /// Bind the five workflow functions (off for plain JSONata).
    pub workflow_functions: bool,
    /// JSONata depth limit override.
    pub max_depth: Option<usize>,
}

/// A JSONata implementation behind the workflow rules.
pub trait Engine {
    /// A compiled expression.
    type Compiled;

    /// Parses `source` (already normalised).
    fn compile(&self, source: &str) -> Result<Self::Compiled, ExprError>;

    /// Checks the workflow rules that need the syntax tree: no lambdas, only allow-listed
    /// functions called by name.
    fn check_rules(&self, compiled: &Self::Compiled) -> Result<(), ExprError>;

    /// Evaluates against `input` with extra variable `bindings`. `Ok(None)` is undefined.
    fn evaluate(
        &self,
        compiled: &Self::Compiled,
        input: Input<'_>,
        bindings: &serde_json::Map<String, Value>,
        env: &EvalEnv,
    ) -> Result<Option<Value>, ExprError>;
}

/// Compiles under the workflow rules, caches, and evaluates with the guards.
pub struct Evaluator<E: Engine = JlensEngine> {
    engine: E,
    /// Keyed by source text. Fx rather than the standard SipHash: every evaluation hashes its
    /// source, the keys come from the run's own definition, and nothing iterates the map.
    cache: FxHashMap<String, Arc<E::Compiled>>,
}

impl Default for Evaluator<JlensEngine> {
    fn default() -> Self {
        Evaluator::new(JlensEngine::default())
    }
}

impl<E: Engine> Evaluator<E> {
    /// An evaluator over `engine`.
    pub fn new(engine: E) -> Self {
        Evaluator {
            engine,
            cache: FxHashMap::default(),
        }
    }

    /// Compiles `source` under the workflow rules (cached by source text).
    pub fn compile(&mut self, source: &str) -> Result<Arc<E::Compiled>, ExprError> {
        if let Some(compiled) = self.cache.get(source) {
            return Ok(compiled.clone());
        }
        if source.trim().is_empty() {
            return Err(ExprError::new(codes::EMPTY, "Expression is empty"));
        }
        let compiled = self.engine.compile(&normalize(source))?;
        self.engine.check_rules(&compiled)?;
        let compiled = Arc::new(compiled);
        self.cache.insert(source.to_owned(), compiled.clone());
        Ok(compiled)
    }

    /// Evaluates `source` against a JSON `context`, requiring a defined result of bounded size.
    pub fn evaluate(
        &mut self,
        source: &str,
        context: &Value,
        now_ms: i64,
    ) -> Result<Value, ExprError> {
        self.evaluate_input(source, Input::Json(context), now_ms)
    }

    /// Evaluates `source` against `input`, requiring a defined result of bounded size.
    pub fn evaluate_input(
        &mut self,
        source: &str,
        input: Input<'_>,
        now_ms: i64,
    ) -> Result<Value, ExprError> {
        let compiled = self.compile(source)?;
        let env = EvalEnv {
            now_ms,
            workflow_functions: true,
            max_depth: None,
        };
        let result = self
            .engine
            .evaluate(&compiled, input, &serde_json::Map::new(), &env)?
            .ok_or_else(|| {
                ExprError::new(
                    codes::UNDEFINED_RESULT,
                    "Expression result is not JSON-serializable (it evaluated to undefined, e.g. a missing path)",
                )
            })?;
        if json_size(&result) > MAX_OUTPUT_BYTES {
            return Err(ExprError::new(
                codes::OUTPUT_TOO_LARGE,
                format!("Expression result exceeded max output size ({MAX_OUTPUT_BYTES} bytes)"),
            ));
        }
        Ok(result)
    }

    /// Plain JSONata (no workflow rules), for the conformance suite and expression testing.
    pub fn evaluate_plain(
        &self,
        source: &str,
        input: Option<&Value>,
        bindings: &serde_json::Map<String, Value>,
        env: &EvalEnv,
    ) -> Result<Option<Value>, ExprError> {
        let compiled = self.engine.compile(source)?;
        let input = input.map_or(Input::Undefined, Input::Json);
        self.engine.evaluate(&compiled, input, bindings, env)
    }
}

/// Length of `value` as compact JSON text, without building the text.
pub fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to an infallible sink cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}
