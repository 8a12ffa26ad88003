//! The Alga workflow runtime host (`alga-wf`): the wasm engine that runs the interpreter
//! component, the simulator and validator, and the command line.

pub mod api;
pub mod cli;
pub mod dev;
pub use alga_wf_engine as engine;
pub use alga_wf_simulator::{actions, runtime, simulate, stand_ins};
pub mod ids;
pub mod locate;
pub mod observability;
pub mod secrets;
pub mod store;
pub mod temporal;
pub mod termination;
pub mod usecases;
pub mod worker;
