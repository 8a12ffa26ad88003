//! The contract between the interpreter, the wasm engine and the host, in Rust.
//!
//! `wit/interpreter.wit` is the standard: these are its native mirror (`protocol`), with the
//! same names and meanings, plus what every side must agree on without crossing the WIT: the
//! failure categories and their shape (`error`), the issues a definition check reports
//! (`issue`), authored retry policies (`retry`), the canonical JSON a run's pinned definition is
//! hashed by (`canonical`), and the names of the signals, update and queries a run answers
//! (`names`). It holds no behaviour of the language: the interpreter (`alga-interpreter`)
//! produces and consumes these types; the engine converts them to and from the component's; the
//! host builds run starts and reads commands with them without linking the interpreter.

pub mod canonical;
pub mod error;
pub mod issue;
pub mod names;
pub mod protocol;
pub mod retry;

pub use canonical::definition_hash;
pub use error::{Failure, RuntimeError, category};
pub use issue::{Issue, KnownAction, Severity};
pub use retry::RetryPolicy;
