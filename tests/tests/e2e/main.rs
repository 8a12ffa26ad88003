//! End-to-end tests, one binary: every module drives the real `alga-wf` binary, the real
//! interpreter component, and (in `worker`) a real Temporal dev server. One binary keeps the
//! wasmtime + sdk-core link to a single step.

mod common;

mod api;
mod audit;
mod authorization;
mod chaos;
mod component;
mod corpus;

mod determinism;
mod dev;
mod docs;
mod examples;
mod faults;
mod ingress_bench;
mod install;
mod jsonata_suite;
mod ledger;
mod lineage;
mod modules;
mod payload_schemas;
mod property;
mod schedule_faults;
mod simulate_cli;
mod stream;
mod task_types;
mod updates;
mod validate;
mod worker;
mod workflow_settings;
