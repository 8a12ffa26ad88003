//! `memcmp` and `bcmp` a word at a time.
//!
//! Why: on wasm32 the standard library's comparisons come from `compiler_builtins`, which
//! compares byte by byte, and the interpreter compares many long, mostly equal strings (step
//! paths share their prefixes: `root.steps[0].body[1]`, keys of the run's ordered maps). A
//! profile of `scripts/bench interpreter` put a twentieth of a step inside `memcmp`. These
//! compare eight bytes per load and fall back to bytes only inside the first word that
//! differs. `compiler_builtins` defines its versions weakly, so these take their place.

/// Compares `n` bytes: negative, zero or positive as the first differing byte of `a` is
/// below, equal to or above `b`'s.
///
/// # Safety
/// `a` and `b` are readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's guarantee.
    let start = unsafe { first_different_word(a, b, n) };
    for i in start..n {
        // SAFETY: `i < n`.
        let (x, y) = unsafe { (a.add(i).read(), b.add(i).read()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// Zero when the `n` bytes are equal, non-zero otherwise.
///
/// # Safety
/// `a` and `b` are readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's guarantee.
    unsafe { memcmp(a, b, n) }
}

/// The offset of the first eight-byte word at which `a` and `b` differ, or of the tail shorter
/// than a word.
///
/// # Safety
/// `a` and `b` are readable for `n` bytes.
unsafe fn first_different_word(a: *const u8, b: *const u8, n: usize) -> usize {
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: `i + 8 <= n`; unaligned loads are allowed.
        let (x, y) = unsafe {
            (
                a.add(i).cast::<u64>().read_unaligned(),
                b.add(i).cast::<u64>().read_unaligned(),
            )
        };
        if x != y {
            break;
        }
        i += 8;
    }
    i
}
