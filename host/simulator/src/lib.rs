//! The interpreter against a scripted world, in process: what `alga-wf simulate` runs, what the
//! interpreter's semantics suites run on both the component and the native library, and the
//! pieces the worker shares with it (the built-in actions and the stand-ins for the product's).
//!
//! It needs no Temporal, no database and no network, so it is its own crate: the interpreter's
//! tests depend on it without building the worker.

pub mod actions;
pub mod runtime;
pub mod simulate;
pub mod stand_ins;

pub use alga_wf_engine as engine;
