//! Stand-ins for the product's actions: scripted results by step id or `id@version`, picked by
//! attempt number (the last one repeats). The simulator plays them, a worker serves them
//! (`--scripted-actions`, `alga-wf dev --stand-ins`) in place of the product's action workers;
//! the scenario file is where both read them (`simulate::parse_scripted_actions`).

use alga_protocol::error::Failure;
use serde_json::Value;

/// One scripted attempt result.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptedResult {
    /// The attempt succeeds with this output.
    Output(Value),
    /// The attempt fails.
    Error(Failure),
    /// Cancellation of the run arrives while the attempt runs (the simulator's; a worker
    /// fails the attempt).
    Cancel,
}
