//! The cap on an instance's linear memory. Reaching it traps with [`MemoryExhausted`], so the
//! host can say what happened; a failed allocation inside the guest would otherwise abort it
//! with nothing but "unreachable executed".

use wasmtime::ResourceLimiter;

/// The instance asked for more linear memory than its cap.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the instance needed {desired} bytes of memory, over its limit of {limit}")]
pub struct MemoryExhausted {
    /// Bytes the instance asked for.
    pub desired: usize,
    /// The cap.
    pub limit: usize,
}

/// A [`ResourceLimiter`] that traps at the memory cap.
#[derive(Debug, Clone, Copy)]
pub struct MemoryCap {
    /// Bytes of linear memory an instance may have.
    pub limit: usize,
    /// Bytes of linear memory the instance has (linear memory never shrinks), so a worker can
    /// keep its cached runs within a memory budget.
    pub size: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryExhausted {
                desired,
                limit: self.limit,
            }));
        }
        self.size = self.size.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}
