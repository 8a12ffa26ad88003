//! Fuzz target `differential`: see `alga_wf_fuzzing::targets::differential`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alga_wf_fuzzing::targets::differential(data));
