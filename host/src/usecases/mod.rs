//! What the product asks of the runtime, one module per use case, each called the same way by
//! the HTTP API (`api`), the command line (`cli`) and, for the background ones, the worker.
//!
//! Floors, from the bottom: `payload_schemas` checks a payload against its workflow's schema;
//! `launch` pins a version, writes the run's row and starts its workflow; `publish` checks and
//! stores a version and moves its workflow's schedules onto it (`schedules`, which also pauses,
//! resumes and repairs them); `ingress` stores an event once, delivers it to the runs waiting on
//! it and launches the workflows it triggers (from the API, the CLI or the Redis stream, with
//! its sweeper); `relaunch` replays or redrives a run through `launch` and `ingress`. None of
//! them knows which caller asked: each takes the store, a Temporal client and plain arguments,
//! and answers a typed result with a typed error.

pub mod ingress;
pub mod launch;
pub mod payload_schemas;
pub mod publish;
pub mod relaunch;
pub mod schedules;
