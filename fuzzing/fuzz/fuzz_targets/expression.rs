//! Fuzz target `expression`: see `alga_wf_fuzzing::targets::expression`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alga_wf_fuzzing::targets::expression(data));
