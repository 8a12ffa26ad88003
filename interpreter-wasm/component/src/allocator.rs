//! The component's global allocator: a free list per small size in front of the standard
//! library's dlmalloc.
//!
//! Why: one interpreter step makes and drops a few hundred small blocks (scope entries, paths,
//! expression values, the events it records). Inside wasm, dlmalloc's `malloc`, `free` and
//! `unlink_chunk` (splitting, coalescing, bin bookkeeping, all fuel-metered) were a sixth of a
//! step's time (a perf profile of `scripts/bench interpreter`). Here a freed block of up to
//! [`LARGEST_SMALL`] bytes goes onto the list of its size and the next request of that size
//! takes it back in a few instructions.
//!
//! What it costs in memory: each list keeps at most [`LIST_BYTES`]; past that a freed block
//! goes back to dlmalloc, so memory one size has freed can still serve another (a run whose
//! data changes shape holds at most `CLASSES × LIST_BYTES` more than dlmalloc alone would).
//! Linear memory never shrinks anyway, so a parked instance's pages are the same.
//!
//! The component is single-threaded (wasm32 without threads): the lists need no lock. The
//! order of allocations is a function of the activations alone, so the allocator is as
//! deterministic as the rest of the guest (replay and fuel agree).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Size classes are multiples of this (dlmalloc's own alignment on wasm32).
const GRANULE: usize = 8;
/// Number of size classes: 8, 16, ..., 512 bytes.
const CLASSES: usize = 64;
/// The largest block served from the lists.
const LARGEST_SMALL: usize = GRANULE * CLASSES;
/// At most this many bytes wait on one list.
const LIST_BYTES: usize = 64 << 10;

struct Lists {
    /// The first free block of each class; each free block's first word points to the next.
    heads: [*mut u8; CLASSES],
    /// Bytes waiting on each list.
    bytes: [usize; CLASSES],
}

/// The allocator (see the module's documentation).
pub struct SmallBlockLists {
    lists: UnsafeCell<Lists>,
}

// SAFETY: the component runs on one thread (wasm32 without the threads proposal), so the
// lists are never touched concurrently.
unsafe impl Sync for SmallBlockLists {}

#[global_allocator]
static ALLOCATOR: SmallBlockLists = SmallBlockLists {
    lists: UnsafeCell::new(Lists {
        heads: [ptr::null_mut(); CLASSES],
        bytes: [0; CLASSES],
    }),
};

/// The class of a layout served from the lists, if it is small enough.
fn class_of(size: usize, align: usize) -> Option<usize> {
    (align <= GRANULE && size <= LARGEST_SMALL).then(|| size.max(1).div_ceil(GRANULE) - 1)
}

/// The layout dlmalloc gives and takes for a class's blocks.
fn class_layout(class: usize) -> Layout {
    // SAFETY: a non-zero multiple of the granule with the granule's (power of two) alignment.
    unsafe { Layout::from_size_align_unchecked((class + 1) * GRANULE, GRANULE) }
}

unsafe impl GlobalAlloc for SmallBlockLists {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout.size(), layout.align()) else {
            // SAFETY: forwarded unchanged.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (see `Sync` above); no other borrow of the lists is live.
        let lists = unsafe { &mut *self.lists.get() };
        let head = lists.heads[class];
        if head.is_null() {
            // SAFETY: a valid non-zero layout.
            return unsafe { System.alloc(class_layout(class)) };
        }
        // SAFETY: `head` is a free block of this class whose first word links the next one.
        lists.heads[class] = unsafe { head.cast::<*mut u8>().read() };
        lists.bytes[class] -= class_layout(class).size();
        head
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if class_of(layout.size(), layout.align()).is_none() {
            // SAFETY: forwarded unchanged (dlmalloc knows fresh memory is already zero).
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: as `alloc`; the block is at least `layout.size()` bytes.
        unsafe {
            let block = self.alloc(layout);
            if !block.is_null() {
                ptr::write_bytes(block, 0, layout.size());
            }
            block
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout.size(), layout.align()) else {
            // SAFETY: the block came from `System` with this layout.
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: single-threaded; no other borrow of the lists is live.
        let lists = unsafe { &mut *self.lists.get() };
        let size = class_layout(class).size();
        if lists.bytes[class] + size > LIST_BYTES {
            // SAFETY: small blocks come from `System` with their class's layout.
            return unsafe { System.dealloc(block, class_layout(class)) };
        }
        // SAFETY: the block is ours again, at least one aligned word long.
        unsafe { block.cast::<*mut u8>().write(lists.heads[class]) };
        lists.heads[class] = block;
        lists.bytes[class] += size;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class_of(layout.size(), layout.align());
        let new = class_of(new_size, layout.align());
        match (old, new) {
            // SAFETY: forwarded unchanged: the block came from `System` with this layout.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            // The block already has room for the new size.
            (Some(a), Some(b)) if a == b => block,
            _ => {
                // SAFETY: the caller guarantees `new_size` with this alignment is a valid
                // layout; the old block holds `layout.size()` initialised bytes.
                unsafe {
                    let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}
