//! The interpreter's fuzz harness.
//!
//! Each public function of [`targets`] takes the bytes libFuzzer generates and panics when a
//! property fails; the cargo-fuzz crate in `fuzz/` only forwards to them, and
//! `tests/regressions.rs` replays the inputs saved in `regressions/` through the same functions.
//!
//! - [`seeds`]: definitions and payloads from `examples/` and `tests/histories/`, expressions from
//!   them and from the JSONata suite: the starting corpus and the definitions runs are drawn from.
//! - [`chaos`]: a host that answers every command the interpreter issues, in an order and with
//!   outcomes the fuzzer's bytes choose, the way Temporal could.
//! - [`mutate`]: small edits to a seed definition, so runs meet definitions nobody wrote.
//! - [`wasm`]: the `.wasm` component loaded once in wasmtime, for the differential target.

pub mod chaos;
pub mod json;
pub mod mutate;
pub mod seeds;
pub mod targets;
pub mod wasm;
