//! The interpreter as a WebAssembly component: a thin layer that converts between the WIT
//! types of `wit/interpreter.wit` and the library's own, and sends each command through the
//! host's imports. Each component instance serves one run.
//!
//! Everything here exists only in the `wasm32` build: natively, the workspace's interpreter is
//! the `alga-interpreter` library itself.

#[cfg(target_arch = "wasm32")]
mod allocator;
#[cfg(target_arch = "wasm32")]
mod compare;
#[cfg(target_arch = "wasm32")]
mod convert;
#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(target_arch = "wasm32")]
mod seed;
