//! The component's only "randomness": a fixed seed.
//!
//! Hash maps inside dependencies (the JSON Schema validator's, through `ahash`) ask `getrandom`
//! for seeds. The component has no entropy source and must not have one, so `.cargo/config.toml`
//! selects getrandom's `custom` backend for wasm32 and this function answers with a fixed
//! pattern: every instance, on every replay, hashes identically.

/// getrandom's custom-backend hook.
///
/// # Safety
/// Called by getrandom with a writable buffer of `len` bytes at `dest`.
#[unsafe(no_mangle)]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> Result<(), getrandom::Error> {
    for i in 0..len {
        // SAFETY: getrandom passes a buffer of `len` writable bytes.
        unsafe {
            dest.add(i)
                .write((i as u8).wrapping_mul(151).wrapping_add(7))
        };
    }
    Ok(())
}
