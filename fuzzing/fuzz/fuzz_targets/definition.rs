//! Fuzz target `definition`: see `alga_wf_fuzzing::targets::definition`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alga_wf_fuzzing::targets::definition(data));
