//! The language's semantics (`docs/dsl-semantics.md`), scenario by scenario, in this process:
//! each scenario runs in the interpreter component (what the worker runs) and in this library
//! linked natively, and the two reports must be the same, so every test is also a differential
//! test of the two builds. `cargo test -p alga-interpreter` is the fast loop for anyone changing
//! the interpreter; the component is built first when it is missing.
//!
//! The command line's own checks (`alga-wf simulate` from a file, its exit statuses, `alga-wf
//! validate`) stay with the end-to-end tests in `tests/`.

mod common;

mod simulate_control;
mod simulate_email;
mod simulate_expressions;
mod simulate_steps;
mod simulate_tasks_and_children;
mod simulate_waits;
