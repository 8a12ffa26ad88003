//! The Alga Workflow Runtime V2 interpreter.
//!
//! A deterministic interpreter for the workflow DSL: the definition model and its validation,
//! JSONata expressions under the language's rules, scopes, and a frame-stack state machine that
//! turns activations into commands. It does no I/O and reads no clock or randomness, so it
//! compiles to a WebAssembly component (`component/`) whose every decision replays exactly. The
//! same library builds natively for tests, fuzzing and the host's pure built-in actions.

pub mod actions;
pub mod definition;
pub mod expr;
pub mod form;
pub mod machine;
pub mod scope;
pub mod trigger;
pub mod validate;

pub use machine::{Machine, RUNTIME_SEMANTICS_VERSION};

// The contract the host and the engine share with the interpreter lives in its own crate;
// these keep the interpreter's own paths (`crate::error`, `crate::canonical`) to it.
pub use alga_protocol::{canonical, error};
