//! The allocator of the binaries (`clip-art` and the benches include this
//! file). candle allocates a fresh buffer for every intermediate tensor, and
//! the system allocator hands large ones back to the kernel each time: the
//! page faults of getting them again took a third of each training step.
//!
//! Not part of the library: notebooks load the library into evcxr, one
//! shared object per cell, and mimalloc's thread-local storage there ran out
//! of the room the loader keeps for it ("dlopen failed").

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc itself hands freed memory back to the kernel after 10 ms, and
/// zeroing it again on reuse was 40% of a ViT-B/32 pass at batch 32. This
/// keeps freed memory for reuse instead, so the process stays at its peak
/// size. Call it first thing in `main`.
pub fn keep_freed_memory() {
    // mimalloc's `mi_option_purge_delay` (15 in mimalloc 2 and 3; -1: never purge).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: setting an option is a plain store that mimalloc allows at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}
