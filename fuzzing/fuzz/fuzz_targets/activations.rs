//! Fuzz target `activations`: see `alga_wf_fuzzing::targets::activations`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alga_wf_fuzzing::targets::activations(data));
