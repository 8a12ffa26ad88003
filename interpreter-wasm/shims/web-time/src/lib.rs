//! Re-exports `std::time` under the `web-time` crate name (see the workspace `[patch]`).
pub use std::time::*;
